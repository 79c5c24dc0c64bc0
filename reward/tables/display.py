"""What pages and terminals show of texts and tables: shortened text, previews and histograms."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported where it is used, so `import reward` stays light
    import pandas as pd


def empty_note(count: int, unit: str) -> str:
    """"; 2 rows with an empty response (scored as the model card's code scores them)", or "" for none."""
    if not count:
        return ""
    what = "an empty response" if unit == "rows" else "an empty chosen or rejected response"
    return f"; {count:,} {unit if count != 1 else unit[:-1]} with {what} (scored as the model card's code scores it)"


def figure(value: float | None, spec: str, missing: str = "n/a") -> str:
    """A figure formatted with ``spec`` (``".1%"``, ``"+.3f"``, ...), or ``missing`` where it is undefined (None)."""
    return missing if value is None else format(value, spec)


def shorten(text: str, width: int) -> str:
    """``text`` on one line (runs of white space become one space), cut to ``width`` characters with "…"."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def preview_frame(df: pd.DataFrame, rows: int = 20, width: int = 160) -> pd.DataFrame:
    """The first ``rows`` rows, with long text cut to ``width`` characters, for showing on a page."""
    head = df.head(rows).copy()
    for col in head.columns:
        if head[col].dtype == object or str(head[col].dtype) in ("str", "string"):
            head[col] = [_cell_text(v, width) for v in head[col].tolist()]
    return head


def _cell_text(value: object, width: int) -> object:
    """Text shortened; lists, objects and arrays as shortened JSON text (never a Python or NumPy repr)."""
    if isinstance(value, str):
        return shorten(value, width)
    if isinstance(value, (list, tuple, dict)) or type(value).__name__ == "ndarray":
        from .writing import json_text

        try:
            return shorten(json_text(value), width)
        except (TypeError, ValueError):
            return shorten(type(value).__name__, width)
    return value


def histogram_frame(values: Sequence[float], bins: int = 30) -> pd.DataFrame:
    """Counts of ``values`` in ``bins`` equal-width bins, for a bar chart; NaN values are left out.

    Returns:
        Columns ``bin`` (a unique label such as "-1.50 to -1.00"), ``start``, ``end``, ``count``.
    """
    import numpy as np
    import pandas as pd

    data = np.asarray([v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))],
                      dtype=float)
    if data.size == 0:
        return pd.DataFrame({"bin": [], "start": [], "end": [], "count": []})
    low, high = float(data.min()), float(data.max())
    if low == high:  # one value: one bin around it
        low, high = low - 0.5, high + 0.5
    counts, edges = np.histogram(data, bins=bins, range=(low, high))
    return pd.DataFrame({
        "bin": [f"{a:+.2f} to {b:+.2f}" for a, b in itertools.pairwise(edges)],
        "start": edges[:-1],
        "end": edges[1:],
        "count": counts,
    })
