"""Turn scores into a ranking, and the ranking into the records, table and chart data that are shown.

Pure Python and pandas: no model and no UI here, so it is tested with made-up scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from reward.config import TABLE_TEXT_WIDTH
from reward.model.reward_model import PairScore
from reward.tables.display import shorten

TEXT_WIDTH = TABLE_TEXT_WIDTH


@dataclass(frozen=True)
class RankedResponse:
    """One candidate response, placed in the ranking."""

    rank: int
    """1 is the best."""
    index: int
    """Position in the list the caller gave, from 0."""
    response: str
    score: float
    tokens: int
    truncated: bool
    chance_vs_best: float
    """sigmoid(score - best score): the model-implied chance this response is preferred over the top one."""

    def record(self) -> dict:
        """The API's view: everything but the derived chance."""
        data = asdict(self)
        del data["chance_vs_best"]
        return data


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def win_matrix(ranked: Sequence[RankedResponse]) -> list[list[float]]:
    """The model-implied chance that row ``i``'s response is preferred over column ``j``'s,
    ``sigmoid(score_i - score_j)`` (Bradley-Terry), in the order given (rank order for a ranking).

    The diagonal is 0.5 (a response against itself); ``m[i][j] + m[j][i]`` is 1. The sigmoid is computed
    without overflow for any gap; a NaN score gives NaN in its row and column.
    """
    return [[sigmoid(a.score - b.score) for b in ranked] for a in ranked]


def _sort_key(item: tuple[int, PairScore]) -> tuple[bool, float, int]:
    position, scored = item
    broken = math.isnan(scored.score)
    # NaN (a broken model) sorts last; equal scores keep their input order.
    return broken, 0.0 if broken else -scored.score, position


def rank_responses(responses: Sequence[str], scores: Sequence[PairScore],
                   indices: Sequence[int] | None = None) -> list[RankedResponse]:
    """Rank responses best first; equal scores keep input order.

    Args:
        responses: the responses that were scored.
        scores: one :class:`PairScore` per response, in the same order.
        indices: each response's position in the caller's original list (for when
            blank ones were dropped before scoring); defaults to 0, 1, 2, ...
    """
    if len(responses) != len(scores):
        raise ValueError(f"{len(responses)} responses but {len(scores)} scores.")
    indices = list(range(len(responses))) if indices is None else list(indices)
    ordered = sorted(enumerate(scores), key=_sort_key)
    best = ordered[0][1].score if ordered else 0.0
    return [
        RankedResponse(rank=rank, index=indices[pos], response=responses[pos], score=s.score,
                       tokens=s.tokens, truncated=s.truncated, chance_vs_best=sigmoid(s.score - best)
                       if not math.isnan(s.score) else float("nan"))
        for rank, (pos, s) in enumerate(ordered, start=1)
    ]


def response_label(index: int) -> str:
    """How the page names the response at ``index`` (0-based): "Response 1", ..."""
    return f"Response {index + 1}"


TABLE_COLUMNS = ["Rank", "Response", "Reward", "Chance preferred over #1", "Tokens read", "Text"]


def ranking_table(ranked: Sequence[RankedResponse], max_length: int):
    """The ranked table the page shows, as a pandas DataFrame (rank order)."""
    import pandas as pd

    rows = [
        {
            "Rank": r.rank,
            "Response": response_label(r.index),
            "Reward": round(r.score, 3),
            "Chance preferred over #1": percent(r.chance_vs_best) if r.rank > 1 else "— (top)",
            "Tokens read": f"{r.tokens} ✂ cut at {max_length}" if r.truncated else str(r.tokens),
            "Text": shorten(r.response, TEXT_WIDTH),
        }
        for r in ranked
    ]
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def ranked_label(r: RankedResponse) -> str:
    """A ranked response's name on the charts: "#1 · Response 2"."""
    return f"#{r.rank} · {response_label(r.index)}"


def percent(chance: float) -> str:
    """A chance as a whole percentage that never rounds to a certainty: ">99%" above 0.99, "<1%" below 0.01,
    so a chance and its complement always read as a pair (">99%" with "<1%", "73%" with "27%"); "n/a" for NaN
    (a broken score)."""
    if math.isnan(chance):
        return "n/a"
    if chance > 0.99:
        return ">99%"
    if chance < 0.01:
        return "<1%"
    return f"{min(max(round(chance * 100), 1), 99)}%"


def win_matrix_frame(ranked: Sequence[RankedResponse]):
    """The win matrix in long form for a heatmap, rows and columns in rank order: ``Row``, ``Column`` (chart
    labels), ``Chance`` (the row's chance against the column, 0.5 on the diagonal; None for NaN) and ``Label``
    (:func:`percent`; "—" on the diagonal)."""
    import pandas as pd

    matrix = win_matrix(ranked)
    rows = []
    for i, a in enumerate(ranked):
        for j, b in enumerate(ranked):
            chance = matrix[i][j]
            known = not math.isnan(chance)
            rows.append({"Row": ranked_label(a), "Column": ranked_label(b), "Chance": chance if known else None,
                         "Label": "—" if i == j else (percent(chance) if known else "n/a")})
    return pd.DataFrame(rows, columns=["Row", "Column", "Chance", "Label"])


def plot_frame(ranked: Sequence[RankedResponse]):
    """Bar-chart data: one uniquely labelled bar per response, in rank order."""
    import pandas as pd

    return pd.DataFrame(
        {
            "Response": [ranked_label(r) for r in ranked],
            "Reward": [r.score for r in ranked],
            "Verdict": ["higher than 0" if r.score >= 0 else "below 0" for r in ranked],
        }
    )
