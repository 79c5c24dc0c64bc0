"""Check an output before a job starts, and keep a finished result somewhere when its output cannot be written."""

from __future__ import annotations

import stat
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from .formats import FileProblem, file_format, scored_name
from .writing import write_table

if TYPE_CHECKING:
    import pandas as pd

RESCUE_SUFFIXES = (".rescue.jsonl", ".rescue.parquet")
"""JSON lines first (any tool reads them); Parquet holds what JSON cannot (bytes that are not text)."""


class ResultRescued(FileProblem):
    """The job finished, but its output could not be written; the complete result was saved elsewhere.

    Attributes:
        rescue: where the complete result is, as JSON lines.
        result: what the job returns when all goes well (set by the pipeline), with the rescue as its output.
    """

    def __init__(self, message: str, rescue: Path) -> None:
        super().__init__(message)
        self.rescue = rescue
        self.result = None


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def check_output_path(destination: str | Path, source: str | Path | None = None) -> Path:
    """Check before any work that ``destination`` can be written, in a format we know.

    Writing is tried for real (a hidden probe file is created in the folder and
    removed), so a read-only folder or file system is found now, not after an
    hour of scoring.

    Raises:
        FileProblem: unknown extension; a missing or unwritable folder; a folder, device, pipe or
            socket where the file should be; or the same file as the input.
    """
    destination = Path(destination)
    file_format(destination)
    folder = destination.parent
    if not folder.is_dir():
        raise FileProblem(f"{destination}: the folder {str(folder)!r} does not exist. Create it, or "
                          "write somewhere else.")
    if destination.is_dir():
        raise FileProblem(f"{destination} is a folder: give a file name inside it, e.g. "
                          f"{destination / (scored_name(source) if source else 'scored.csv')}.")
    if destination.exists() and not destination.is_file():
        raise FileProblem(f"{destination} is {_kind(destination.stat().st_mode)}, not a file: write to a file.")
    if source is not None and destination.exists() and destination.resolve() == Path(source).resolve():
        raise FileProblem(f"{destination} is the input file: write the scored copy to another file, e.g. "
                          f"{scored_name(source)}.")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{destination.name}.", suffix=".probe"):
            pass
    except OSError as err:
        raise FileProblem(f"{destination}: cannot write in the folder {str(folder)!r} "
                          f"({err.strerror or err}). Write somewhere else.") from None
    return destination


def rescue_places(destination: Path) -> list[Path]:
    """Where a result is kept when ``destination`` cannot take it: beside it, here, then the temp folder;
    as JSON lines, then (for what JSON cannot hold) as Parquet."""
    places = []
    for suffix in RESCUE_SUFFIXES:
        name = destination.name + suffix
        places += [destination.with_name(name), Path.cwd() / name, Path(tempfile.gettempdir()) / name]
    return list(dict.fromkeys(places))


def keep(df: pd.DataFrame, destination: Path, *, neutralize_formulas: bool = False) -> tuple[Path, FileProblem | None]:
    """Write ``df`` to ``destination``, or failing that to the first rescue place that takes it (as JSON lines:
    ``neutralize_formulas``, see :func:`~reward.tables.writing.write_table`, applies to a CSV or TSV destination).

    Returns:
        Where it was written, and the problem with ``destination`` (None when it was written there).

    Raises:
        FileProblem: nowhere could take it (the message names every place tried).
    """
    try:
        return write_table(df, destination, neutralize_formulas=neutralize_formulas), None
    except FileProblem as err:
        problem = err
    tried = []
    for place in rescue_places(destination):
        try:
            return write_table(df, place), problem
        except FileProblem as err:
            tried.append(str(err))
    raise FileProblem(f"{problem} Saving it elsewhere failed too: {' '.join(tried)}")


def save_or_rescue(df: pd.DataFrame, destination: Path, *, neutralize_formulas: bool = False) -> Path:
    """Write a finished result; if that fails, keep it in a rescue place (see :func:`rescue_places`) so no
    scoring is lost.

    Raises:
        ResultRescued: the write failed; the message says where the complete result went.
    """
    where, problem = keep(df, destination, neutralize_formulas=neutralize_formulas)
    if problem is not None:
        raise ResultRescued(f"{problem} The complete result was saved as {where} instead.", where)
    return where
