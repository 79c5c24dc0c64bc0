"""Labels on evaluated pairs: the labels file round-trips exactly (CSV and JSONL), bad ones are refused in one line
naming the row and column, and ``evaluate --labels`` reports the accuracy without the "label wrong" pairs."""

import json
import math

import numpy as np
import pytest

from reward.cli import EXIT_BAD_INPUT, main
from reward.config import SAMPLE_PAIRS
from reward.jobs.evaluate import evaluate_pairs
from reward.jobs.labels import (
    LABEL_COLUMNS,
    LABEL_WRONG,
    LABELS,
    label_record,
    labels_bytes,
    read_labels,
    summarize_labels,
    write_labels,
)
from reward.jobs.pairs import read_pairs
from reward.tables.formats import FileProblem
from reward.tables.reading import read_table

HOSTILE = ["", " leading and trailing ", "a,b,,c", 'say "hi", then ""bye""', "line one\nline two\n", "crlf\r\nend",
           "lone\rcarriage", "=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1:A9)", "\ttabbed", "Café naïve 東京 🙂 Привет",
           "NA", "null", "007", "[1, 2]", '{"a": 1}', "line\u2028separator", "back\\slash"]
FLOATS = [0.1 + 0.2, -1 / 3, 1e-300, 5e-324, 1.7976931348623157e308, -0.0, 123456.78901234567, -7.0]


def hostile_records() -> list[dict]:
    """Label records on pairs of hostile texts, with floats that need every digit, made as a page would make them
    (from a per-pair result row, NumPy values included)."""
    records = []
    for i, text in enumerate(HOSTILE):
        pair = {"row": np.int64(i + 1), "prompt": text, "chosen": HOSTILE[-1 - i], "rejected": text + "!",
                "score_chosen": np.float64(FLOATS[i % len(FLOATS)]), "score_rejected": FLOATS[(i + 3) % len(FLOATS)],
                "margin": FLOATS[(i + 5) % len(FLOATS)], "correct": np.bool_(i % 2 == 0), "tie": False,
                "slice": f"slice {i % 3}"}
        records.append(label_record(pair, LABELS[i % len(LABELS)], note=HOSTILE[(i + 7) % len(HOSTILE)]))
    return records


def same(a: object, b: object) -> bool:
    """Equal, of the same type, and floats to the last bit (the sign of zero too)."""
    if type(a) is not type(b):
        return False
    return repr(a) == repr(b) if isinstance(a, float) else a == b


def assert_same_records(got: list[dict], expected: list[dict]) -> None:
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert list(g) == list(e), f"record {i}: keys {list(g)} != {list(e)}"
        wrong = {k: (g[k], e[k]) for k in e if not same(g[k], e[k])}
        assert not wrong, f"record {i}: {wrong}"


def test_a_label_record_is_the_pair_its_scores_and_the_label_in_order():
    record = hostile_records()[0]
    assert list(record) == [*LABEL_COLUMNS, "tie", "slice"], "the record's own keys first, the pair's others after"
    assert type(record["row"]) is int and type(record["score_chosen"]) is float and type(record["correct"]) is bool
    assert record["label"] == LABELS[0]
    with pytest.raises(FileProblem, match=r"column 'label': 'wrong' is not a label: use one of \"model right\""):
        label_record(record, "wrong")


@pytest.mark.parametrize("suffix", ["csv", "jsonl", "csv.gz"])
def test_the_labels_file_round_trips_exactly(tmp_path, suffix):
    records = hostile_records()
    path = write_labels(records, tmp_path / f"labels.{suffix}")
    back = read_labels(path)
    assert back.name == f"labels.{suffix}"
    assert_same_records(back.records, records)
    assert read_table(path).columns.tolist() == [*LABEL_COLUMNS, "tie", "slice"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_labels_as_bytes_read_back_as_bytes(fmt):
    records = hostile_records()
    data = labels_bytes(records, fmt)
    assert data.startswith(b"row,prompt," if fmt == "csv" else b'{"row":1,')
    assert_same_records(read_labels(data).records, records)  # the format told by the bytes themselves
    assert_same_records(read_labels(data, name=f"mine.{fmt}").records, records)


def test_jsonl_keeps_the_types_of_other_columns_and_csv_gives_them_as_text(tmp_path):
    pair = {"row": 3, "prompt": "p", "chosen": "c", "rejected": "r", "score_chosen": 5, "score_rejected": None,
            "margin": None, "correct": None, "n": 12, "tags": ["a", {"b": 1.5}], "weight": 0.30000000000000004}
    record = label_record(pair, LABEL_WRONG, note=None)
    assert record["score_chosen"] == 5.0 and type(record["score_chosen"]) is float, "a score JSON wrote as 5"
    back = read_labels(write_labels([record], tmp_path / "l.jsonl")).records
    assert_same_records(back, [record])
    text = read_labels(write_labels([record], tmp_path / "l.csv")).records[0]
    assert (text["n"], text["tags"], text["weight"]) == ("12", '["a", {"b": 1.5}]', "0.30000000000000004")
    assert text["score_rejected"] is None and text["correct"] is None and text["note"] == ""


def write_csv(path, header: list[str], rows: list[list[str]]) -> None:
    import csv

    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *rows])


@pytest.mark.parametrize("header, rows, says", [
    (["row", "prompt", "chosen", "rejected", "label"], [["1", "p", "c", "r", "unsure"], ["2", "p", "c", "r", "Wrong"]],
     r"^bad\.csv, row 2, column 'label': 'Wrong' is not a label: use one of \"model right\", \"model wrong\", "
     r"\"label wrong\", \"unsure\"\.$"),
    (["row", "prompt", "chosen", "rejected", "label"], [["1", "p", "c", "r", ""]], r"row 1, column 'label': ''"),
    (["row", "prompt", "chosen", "label"], [["1", "p", "c", "unsure"]],
     r"^bad\.csv has no column 'rejected' \(its columns are: 'row', 'prompt', 'chosen', 'label'\)\. A labels file "
     r"needs row, prompt, chosen, rejected and label columns"),
    (["prompt", "chosen", "rejected"], [["p", "c", "r"]], r"has no columns 'row', 'label'"),
    (["row", "prompt", "chosen", "rejected", "label"], [["x", "p", "c", "r", "unsure"]],
     r"row 1, column 'row': 'x' is not a pair's row number"),
    (["row", "prompt", "chosen", "rejected", "label"], [["0", "p", "c", "r", "unsure"]], r"column 'row': 0 is not a pair's row number"),
    (["row", "prompt", "chosen", "rejected", "label", "margin"], [["1", "p", "c", "r", "unsure", "big"]],
     r"row 1, column 'margin': 'big' is not a number"),
    (["row", "prompt", "chosen", "rejected", "label", "correct"], [["1", "p", "c", "r", "unsure", "yes"]],
     r"row 1, column 'correct': 'yes' is not true or false"),
    (["row", "prompt", "chosen", "rejected", "label"], [["4", "p", "c", "r", "unsure"], ["4", "p", "c", "r", "unsure"]],
     r"^bad\.csv: rows 1 and 2 both label pair row 4; keep one label per pair\.$"),
])
def test_a_bad_labels_file_is_refused_in_one_line_naming_the_row_and_column(tmp_path, header, rows, says):
    path = tmp_path / "bad.csv"
    write_csv(path, header, rows)
    with pytest.raises(FileProblem, match=says) as info:
        read_labels(path)
    assert "\n" not in str(info.value)


def test_bad_jsonl_values_and_bad_records_are_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"row": 1, "prompt": None, "chosen": "c", "rejected": "r", "label": "unsure"}) + "\n")
    with pytest.raises(FileProblem, match=r"^bad\.jsonl, row 1, column 'prompt': null is not text\.$"):
        read_labels(path)
    target = tmp_path / "out.csv"
    good = label_record({"row": 1, "prompt": "p", "chosen": "c", "rejected": "r"}, "unsure")
    with pytest.raises(FileProblem, match=r"^out\.csv, row 2, column 'label': 'nope' is not a label"):
        write_labels([good, {**good, "row": 2, "label": "nope"}], target)
    assert not target.exists()
    with pytest.raises(FileProblem, match=r"a labels file is \.csv or \.jsonl, not \.parquet"):
        write_labels([good], tmp_path / "labels.parquet")


# -- the labels against an evaluation -------------------------------------------------------------------------------


def sample_labels(results) -> list[dict]:
    """Labels on some pairs of the sample file's results: several "label wrong", right and wrong pairs among them."""
    chosen = [0, 1, 2, 4, 7, 9, 12, 20, 30, 35]
    return [label_record(results.iloc[i].to_dict(), LABELS[k % len(LABELS)], note=f"pair {i + 1}")
            for k, i in enumerate(chosen)]


def expected_figures(results, records) -> dict:
    """What the labels report, counted here with plain loops from the written scores."""
    left_out = [r["row"] for r in records if r["label"] == LABEL_WRONG]
    n = correct = 0
    for row, sc, sr in zip(results["row"], results["score_chosen"], results["score_rejected"]):
        if row not in left_out:
            n += 1
            correct += 1 if sc > sr else 0
    by_label = {label: 0 for label in LABELS}
    for r in records:
        by_label[r["label"]] += 1
    return {"count": len(records), "label_wrong": len(left_out), "n_without_label_wrong": n,
            "correct_without_label_wrong": correct, "accuracy_without_label_wrong": correct / n, "by_label": by_label}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_evaluate_with_labels_reports_the_accuracy_without_the_label_wrong_pairs(tmp_path, tiny_model, tiny_model_dir,
                                                                                 capsys, fmt):
    results = evaluate_pairs(tiny_model, read_pairs(SAMPLE_PAIRS)).results
    records = sample_labels(results)
    labels = write_labels(records, tmp_path / f"labels.{fmt}")
    written = tmp_path / "per_pair.jsonl"
    code = main(["evaluate", str(SAMPLE_PAIRS), "--model", str(tiny_model_dir), "--device", "cpu", "-q", "--json",
                 "-o", str(written), "--labels", str(labels)])
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads(out)
    truth = expected_figures(read_table(written), records)
    got = data["labels"]
    assert got["accuracy_without_label_wrong"] == pytest.approx(truth.pop("accuracy_without_label_wrong"))
    assert {k: got[k] for k in truth} == truth
    assert got["file"] == f"labels.{fmt}" and got["label_wrong"] == 2
    assert data["accuracy"] == pytest.approx(sum(results["correct"]) / len(results)), "the raw figure stays beside"
    assert 0 < truth["correct_without_label_wrong"] < truth["n_without_label_wrong"]

    code = main(["evaluate", str(SAMPLE_PAIRS), "--model", str(tiny_model_dir), "--device", "cpu", "-q", "--worst",
                 "0", "--labels", str(labels)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and lines[-1].startswith(f"labels (labels.{fmt}): 10 pairs labelled (")
    assert f"without the 2 pairs labelled \"label wrong\": accuracy {got['accuracy_without_label_wrong']:.2%}" in lines[-1]


def test_without_labels_the_json_says_none(tiny_model_dir, capsys):
    assert main(["evaluate", str(SAMPLE_PAIRS), "--model", str(tiny_model_dir), "-q", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["labels"] is None


def test_summarize_labels_on_results_as_the_page_holds_them(tiny_model):
    results = evaluate_pairs(tiny_model, read_pairs(SAMPLE_PAIRS)).results
    records = sample_labels(results)
    summary = summarize_labels(results, records, labels_name="session labels").as_dict()
    truth = expected_figures(results, records)
    assert summary["accuracy_without_label_wrong"] == pytest.approx(truth.pop("accuracy_without_label_wrong"))
    assert {k: summary[k] for k in truth} == truth
    everything_wrong = [label_record(results.iloc[i].to_dict(), LABEL_WRONG) for i in range(len(results))]
    empty = summarize_labels(results, everything_wrong)
    assert empty.n_without_label_wrong == 0 and empty.accuracy_without_label_wrong is None
    assert "no pair is left" in empty.line()


@pytest.mark.parametrize("change, says", [
    (lambda r: {**r, "chosen": r["chosen"] + " "}, r"row 2, column 'chosen': the chosen of pair row 2 in "
                                                   r"sample_pairs\.jsonl differs from the label's"),
    (lambda r: {**r, "prompt": "Another question?"}, r"row 2, column 'prompt'"),
    (lambda r: {**r, "row": 999}, r"row 2, column 'row': sample_pairs\.jsonl has no pair row 999 \(it has 36 pairs\)"),
])
def test_labels_of_another_file_are_refused_before_any_scoring(tmp_path, tiny_model, capsys, change, says):
    results = evaluate_pairs(tiny_model, read_pairs(SAMPLE_PAIRS)).results
    records = sample_labels(results)
    records[1] = change(records[1])
    labels = write_labels(records, tmp_path / "labels.csv")
    output = tmp_path / "per_pair.csv"
    # A model that cannot load: the refusal comes before the model is asked for, so nothing is scored or written.
    code = main(["evaluate", str(SAMPLE_PAIRS), "--model", str(tmp_path / "no-model"), "-q", "-o", str(output),
                 "--labels", str(labels)])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT and err.count("\n") == 1, err
    assert err.startswith("error: labels.csv, ") and "belong to another file" in err
    import re

    assert re.search(says, err), err
    assert not output.exists()


def test_a_nan_score_is_written_as_missing(tmp_path):
    record = label_record({"row": 1, "prompt": "p", "chosen": "c", "rejected": "r", "margin": math.nan}, "unsure")
    assert record["margin"] is None
    assert read_labels(write_labels([record], tmp_path / "l.csv")).records[0]["margin"] is None
