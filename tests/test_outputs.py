"""Outputs: refused before scoring when they cannot be written; a finished result is never lost; modes kept."""

import io
import json
import os
import tempfile
from pathlib import Path

import pandas as pd
import pytest

from reward.cli import EXIT_BAD_INPUT, EXIT_KEPT, main
from reward.jobs.scoring import score_file
from reward.tables.formats import FileProblem
from reward.tables.outputs import ResultRescued, check_output_path, rescue_places
from reward.tables.reading import read_table
from reward.tables.writing import write_table

ROWS = pd.DataFrame({"prompt": ["Why?", "What is 2+2?", "Capital of France?"],
                     "response": ["Because.", "4", "Paris."], "id": [1, 2, 3]})


def run(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def source(tmp_path) -> Path:
    path = tmp_path / "rows.csv"
    write_table(ROWS, path)
    return path


def unwritable_targets(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "a-folder.csv"
    folder.mkdir()
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    targets = {"missing folder": tmp_path / "no" / "such" / "out.csv", "a folder": folder, "a named pipe": fifo}
    try:  # a read-only file system (root ignores permission bits, so a chmod would prove nothing)
        with tempfile.NamedTemporaryFile(dir="/sys"):
            pass
    except OSError:
        targets["read-only file system"] = Path("/sys/out.csv")
    return targets


def test_an_unwritable_output_is_refused_before_the_model_is_even_loaded(tmp_path, source):
    # The model folder does not exist: reaching the model load would say so instead.
    for what, target in unwritable_targets(tmp_path).items():
        code, out, err = run("score", str(source), "-o", str(target), "--model", str(tmp_path / "no-model"), "-q")
        assert code == EXIT_BAD_INPUT, (what, err)
        assert err.startswith("error: ") and str(target) in err, (what, err)
        assert "model" not in err.lower() or "no-model" not in err, (what, err)
        assert not list(tmp_path.glob("*.rescue.jsonl")), what


def test_the_evaluate_output_is_checked_too(tmp_path, tiny_model_dir):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({"prompt": "p", "chosen": "good", "rejected": "bad"}) + "\n")
    for what, target in unwritable_targets(tmp_path).items():
        code, _, err = run("evaluate", str(pairs), "-o", str(target), "--model", str(tmp_path / "no-model"), "-q")
        assert code == EXIT_BAD_INPUT and str(target) in err, (what, err)


def test_check_output_path_accepts_a_new_file_and_leaves_no_probe(tmp_path):
    assert check_output_path(tmp_path / "new.csv") == tmp_path / "new.csv"
    assert list(tmp_path.iterdir()) == []


def test_a_write_that_fails_at_the_end_keeps_everything_and_says_so(tmp_path, tiny_model_dir):
    # A JSON column holding numbers and text cannot go to Parquet: found only when writing.
    source = tmp_path / "mixed.jsonl"
    source.write_text('{"prompt": "p", "response": "r", "id": 1}\n{"prompt": "q", "response": "s", "id": "x"}\n')
    target = tmp_path / "out.parquet"
    code, out, err = run("score", str(source), "-o", str(target), "--model", str(tiny_model_dir), "-q")
    rescue = tmp_path / "out.parquet.rescue.jsonl"
    assert code == EXIT_KEPT, err
    assert str(rescue) in err and "scored 2 rows" in out and str(rescue) in out
    back = read_table(rescue)
    assert back["score"].notna().all() and back["id"].tolist() == [1, "x"]


def test_when_the_output_folder_vanishes_the_rescue_goes_elsewhere(tmp_path, tiny_model, source, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    folder = tmp_path / "out"
    folder.mkdir()
    destination = folder / "rows.scored.csv"

    def remove_the_folder(done, total):
        if folder.exists():
            folder.rmdir()

    with pytest.raises(ResultRescued) as info:
        score_file(tiny_model, source, destination, progress=remove_the_folder)
    kept = info.value
    assert kept.rescue == here / "rows.scored.csv.rescue.jsonl" == rescue_places(destination)[1]
    assert str(kept.rescue) in str(kept)
    back = read_table(kept.rescue)
    assert back["id"].tolist() == ["1", "2", "3"] and back["score"].notna().all()  # CSV cells are text
    assert kept.result.summary.rows == 3 and kept.result.output == kept.rescue
    assert isinstance(kept, FileProblem)


def test_an_evaluation_whose_output_fails_still_prints_its_verdict(tmp_path, tiny_model_dir, monkeypatch):
    import reward.tables.outputs

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join(json.dumps({"prompt": "p", "chosen": f"good {i}", "rejected": "bad"}) for i in range(3)))
    target = tmp_path / "per_pair.csv"
    real_write = reward.tables.outputs.write_table

    def disk_full_at_the_target(df, destination, **kwargs):
        if Path(destination) == target:
            raise FileProblem(f"{destination}: cannot be written (No space left on device).")
        return real_write(df, destination, **kwargs)

    monkeypatch.setattr(reward.tables.outputs, "write_table", disk_full_at_the_target)
    code, out, err = run("evaluate", str(pairs), "-o", str(target), "--model", str(tiny_model_dir), "-q", "--json")
    data = json.loads(out)
    rescue = tmp_path / "per_pair.csv.rescue.jsonl"
    assert code == EXIT_KEPT and data["n"] == 3 and "No space left" in err
    assert data["output"] == str(rescue) and str(rescue) in err
    assert len(read_table(rescue)) == 3


def test_a_table_that_json_cannot_hold_is_rescued_as_parquet(tmp_path, tiny_model_dir):
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = tmp_path / "blobs.parquet"
    pq.write_table(pa.table({"prompt": ["p", "q"], "response": ["r", "s"], "blob": [b"\x00\xff", b"\x89PNG"]}),
                   source)
    target = tmp_path / "out.jsonl"
    code, out, err = run("score", str(source), "-o", str(target), "--model", str(tiny_model_dir), "-q")
    rescue = tmp_path / "out.jsonl.rescue.parquet"
    assert code == EXIT_KEPT and str(rescue) in err and "scored 2 rows" in out, err
    back = pq.read_table(rescue).to_pydict()
    assert back["blob"] == [b"\x00\xff", b"\x89PNG"] and all(s is not None for s in back["score"])
