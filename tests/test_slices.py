"""Evaluate by slice: every per-slice figure recounted here with plain loops from the scores written to the output
file, the written scores checked against the model card's code, and the slice column's refusals."""

import json
import math

import pandas as pd
import pytest
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from reward.cli import EXIT_BAD_INPUT, main
from reward.config import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, MISSING_SLICE, SAMPLE_SLICED_PAIRS
from reward.insight.slices import SLICE_KEYS, bootstrap_accuracy_interval, slice_name
from reward.jobs.evaluate import RESULT_COLUMNS, evaluate_file
from reward.tables.columns import suggest_slice_column
from reward.tables.formats import FileProblem
from reward.tables.reading import read_table
from reward.tables.writing import write_table
from tests.reference import assert_scores_close, card_score


@pytest.fixture(scope="module")
def card_parts(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir).eval()
    return tokenizer, model


def plain_ece(margins: list[float]) -> float:
    """Expected calibration error, counted here: confidence 1/(1+e^-|m|) in 10 bins of width 0.05 from 0.5."""
    bins = [[] for _ in range(10)]
    for m in margins:
        confidence = 1 / (1 + math.exp(-abs(m)))
        i = 9
        for j in range(10):
            if confidence < 0.5 + (j + 1) * 0.05:
                i = j
                break
        bins[i].append((confidence, m > 0))
    total = 0.0
    for members in bins:
        if members:
            right = sum(1 for _, ok in members if ok) / len(members)
            sure = sum(c for c, _ in members) / len(members)
            total += len(members) / len(margins) * abs(right - sure)
    return total


def plain_slices(rows: list[dict], column: str) -> dict[str, dict]:
    """Per slice, from written rows: n, accuracy, longer-answer baseline, mean margin, ECE, and the outcomes."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        value = row[column]
        name = MISSING_SLICE if value is None or (isinstance(value, str) and not value.strip()) else str(value)
        groups.setdefault(name, []).append(row)
    out = {}
    for name, members in groups.items():
        outcomes, margins, longer = [], [], 0
        for row in members:
            outcomes.append(row["score_chosen"] > row["score_rejected"])
            margins.append(row["score_chosen"] - row["score_rejected"])
            if len(row["chosen"]) > len(row["rejected"]):
                longer += 1
        n = len(members)
        out[name] = {"n": n, "accuracy": sum(outcomes) / n, "longer": longer / n, "mean_margin": sum(margins) / n,
                     "ece": plain_ece(margins), "outcomes": outcomes}
    return out


def test_every_slice_figure_matches_a_plain_recount_of_the_written_scores(tiny_model, card_parts, score_scale,
                                                                          tmp_path):
    out = tmp_path / "sliced.evaluated.jsonl"
    evaluation = evaluate_file(tiny_model, SAMPLE_SLICED_PAIRS, out, slice_column="category")
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    source = [json.loads(line) for line in SAMPLE_SLICED_PAIRS.read_text(encoding="utf-8").splitlines()]
    # The output: the per-pair results, then the slice column exactly as it came in (a null stays null).
    assert [list(r) for r in rows] == [[*RESULT_COLUMNS, "category"]] * len(source)
    assert [r["category"] for r in rows] == [s["category"] for s in source]
    assert None in [r["category"] for r in rows]
    # The written scores are the card's.
    card = [[card_score(*card_parts, s["prompt"], s[side])[0] for side in ("chosen", "rejected")] for s in source]
    assert_scores_close([[r["score_chosen"], r["score_rejected"]] for r in rows], card, scale=score_scale)

    truth = plain_slices(rows, "category")
    records = evaluation.summary.slices
    assert evaluation.summary.slice_column == "category"
    assert [r["slice"] for r in records] == sorted(truth, key=lambda name: (-truth[name]["n"], name))
    assert records[-1]["slice"] == MISSING_SLICE and records[-1]["n"] == 1, "the pair with no category: its own slice"
    assert len(records) >= 4
    for record in records:
        expected = truth[record["slice"]]
        assert list(record) == list(SLICE_KEYS)
        assert record["n"] == record["pairs"] == expected["n"]
        assert record["accuracy"] == record["pairwise_accuracy"] == pytest.approx(expected["accuracy"])
        assert record["longer_baseline_accuracy"] == pytest.approx(expected["longer"])
        assert record["mean_margin"] == pytest.approx(expected["mean_margin"], rel=1e-9, abs=1e-12)
        assert record["ece"] == pytest.approx(expected["ece"], rel=1e-9, abs=1e-12)
        low, high = bootstrap_accuracy_interval(expected["outcomes"], resamples=BOOTSTRAP_RESAMPLES,
                                                seed=BOOTSTRAP_SEED)
        assert (record["ci_low"], record["ci_high"]) == (low, high)
        assert record["ci_low"] <= record["accuracy"] <= record["ci_high"]
    # A slice of one pair: its interval is its one outcome, its ECE that pair's gap.
    one = records[-1]
    assert one["ci_low"] == one["ci_high"] == one["accuracy"] in (0.0, 1.0)
    # The slices are not all alike, or the per-slice figures would not be tested.
    assert len({r["accuracy"] for r in records}) > 1
    json.dumps(evaluation.summary.as_dict(), allow_nan=False)


def test_slice_values_that_are_not_text_are_named_as_text_and_written_unchanged(tiny_model, tmp_path):
    rows = [{"prompt": "What is 2+2?", "chosen": "4", "rejected": "5", "level": 1},
            {"prompt": "What is 3+3?", "chosen": "6", "rejected": "7", "level": 2},
            {"prompt": "What is 4+4?", "chosen": "8", "rejected": "9", "level": 2},
            {"prompt": "What is 5+5?", "chosen": "10", "rejected": "11"},
            {"prompt": "What is 6+6?", "chosen": "12", "rejected": "13", "level": None}]
    source = tmp_path / "levels.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    for out_name in ("out.jsonl", "out.parquet"):
        evaluation = evaluate_file(tiny_model, source, tmp_path / out_name, slice_column="level")
        assert {r["slice"]: r["n"] for r in evaluation.summary.slices} == {"2": 2, MISSING_SLICE: 2, "1": 1}
        back = read_table(tmp_path / out_name)
        assert back["level"].tolist()[:3] == [1, 2, 2] and back["level"].isna().tolist() == [False] * 3 + [True] * 2
        assert str(back["level"].dtype) == "Int64", "whole numbers with gaps stay whole numbers"


def test_slice_names():
    import numpy as np

    assert [slice_name(v) for v in ("math", 3, 2.5, True, np.int64(7), None, float("nan"), pd.NA, "", "  ")] == \
        ["math", "3", "2.5", "True", "7", *[MISSING_SLICE] * 5]
    assert slice_name(["a", 1]) == '["a", 1]'


@pytest.mark.parametrize("columns, expected", [
    (["prompt", "chosen", "rejected", "subset"], "subset"),
    (["prompt", "Category", "source"], "Category"),
    (["prompt", "source", "subset"], "subset"),  # an exact name, in the order category, subset, source, domain
    (["prompt", "resource", "task_category"], "task_category"),  # a word of the name; "resource" is not "source"
    (["prompt", "dataSource"], "dataSource"),
    (["prompt", "Subsets"], "Subsets"),
    (["prompt", "chosen", "rejected", "id"], None),
])
def test_suggest_slice_column(columns, expected):
    assert suggest_slice_column(columns) == expected


def test_a_missing_slice_column_is_one_line_naming_the_columns(tiny_model, tmp_path):
    with pytest.raises(FileProblem) as info:
        evaluate_file(tiny_model, SAMPLE_SLICED_PAIRS, slice_column="Category ")
    message = str(info.value)
    assert "\n" not in message and "'Category '" in message and "--slice-column" in message
    assert "'prompt', 'chosen', 'rejected', 'category'" in message and "did you mean 'category'" in message


def test_a_slice_column_named_like_a_result_column_is_refused(tiny_model, tmp_path):
    source = tmp_path / "p.jsonl"
    write_table(pd.DataFrame({"prompt": ["q"], "chosen": ["a"], "rejected": ["b"], "margin": ["wide"]}), source)
    with pytest.raises(FileProblem, match="slice column 'margin' has the name of a column of the per-pair results"):
        evaluate_file(tiny_model, source, tmp_path / "o.jsonl", slice_column="margin")
    assert not (tmp_path / "o.jsonl").exists()


def test_the_command_line_flag(tiny_model_dir, tiny_model, capsys):
    code = main(["evaluate", str(SAMPLE_SLICED_PAIRS), "--slice-column", "category", "--json", "--model",
                 str(tiny_model_dir), "--device", "cpu", "-q"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["slice_column"] == "category"
    here = evaluate_file(tiny_model, SAMPLE_SLICED_PAIRS, slice_column="category").summary.slices
    assert [r["slice"] for r in data["slices"]] == [r["slice"] for r in here]
    assert [(r["n"], r["accuracy"]) for r in data["slices"]] == [(r["n"], r["accuracy"]) for r in here]

    code = main(["evaluate", str(SAMPLE_SLICED_PAIRS), "--slice-column", "category", "--model", str(tiny_model_dir),
                 "--device", "cpu", "-q", "--worst", "0"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    at = next(i for i, line in enumerate(lines) if line.startswith("by category ("))
    assert len(lines) == at + 2 + len(here) and lines[-1].lstrip().startswith(MISSING_SLICE)

    code = main(["evaluate", str(SAMPLE_SLICED_PAIRS), "--slice-column", "topic", "--model", str(tiny_model_dir)])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT and err.startswith("error: sample_pairs_sliced.jsonl has no column 'topic'")
    assert err.count("\n") == 1
