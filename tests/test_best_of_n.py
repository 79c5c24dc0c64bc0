"""Best-of-N sets: every set and summary figure recounted here with plain loops from the scores written to the
output file, the written scores checked against the model card's code, ties, and the refusals of bad lists."""

import csv
import json
import math

import pandas as pd
import pytest
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from reward.cli import main
from reward.config import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, SAMPLE_BEST_OF_N
from reward.insight.slices import SLICE_KEYS, bootstrap_accuracy_interval
from reward.jobs.evaluate import RESULT_COLUMNS, evaluate_file
from reward.jobs.pairs import LAYOUT_NAMES
from reward.jobs.scoring import ScoringInterrupted
from reward.jobs.sets import BEST_OF_N, SET_COLUMNS
from reward.tables.formats import FileProblem
from reward.tables.reading import read_table
from reward.tables.writing import write_table
from tests.reference import assert_scores_close, card_score
from tests.test_slices import plain_ece


@pytest.fixture(scope="module")
def card_parts(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir).eval()
    return tokenizer, model


def jsonl(path, rows: list[dict]):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def chosen_scores(row: dict) -> list[float]:
    return row["scores_chosen"] if "scores_chosen" in row else [row["score_chosen"]]


def plain_set(row: dict, source: dict) -> dict:
    """One set's verdict, counted here from its written scores."""
    chosen, rejected = chosen_scores(row), row["scores_rejected"]
    chosen_texts = source["chosen"] if isinstance(source["chosen"], list) else [source["chosen"]]
    correct = True
    for c in chosen:
        for r in rejected:
            if not c > r:
                correct = False
    lowest = min(chosen)
    rank = 1
    for r in rejected:
        if r >= lowest:
            rank += 1
    wins = sum(1 for c in chosen for r in rejected if c > r)
    longer = all(len(c) > len(r) for c in chosen_texts for r in source["rejected"])
    return {"correct": correct, "rank": rank, "margin": lowest - max(rejected), "score_chosen": lowest, "wins": wins,
            "pairs": len(chosen) * len(rejected), "longer": longer}


def plain_spearman(xs: list[float], ys: list[float]) -> float:
    def ranks(values):
        order = sorted(range(len(values)), key=lambda i: values[i])
        out = [0.0] * len(values)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
                j += 1
            for k in range(i, j + 1):
                out[order[k]] = (i + j) / 2 + 1
            i = j + 1
        return out

    rx, ry = ranks(xs), ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    top = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    return top / math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))


def test_the_sample_sets_every_figure_recounted_from_the_written_scores(tiny_model, card_parts, score_scale, tmp_path):
    out = tmp_path / "sets.evaluated.jsonl"
    evaluation = evaluate_file(tiny_model, SAMPLE_BEST_OF_N, out, slice_column="subset")
    source, rows = lines(SAMPLE_BEST_OF_N), lines(out)
    assert len(source) == len(rows) == 8
    for s, r in zip(source, rows):  # every input column exactly, in order, then the added ones
        assert list(r)[:len(s)] == list(s) and {k: r[k] for k in s} == s
        assert list(r)[len(s):] == list(SET_COLUMNS)
        assert len(r["scores_chosen"]) == len(s["chosen"]) == 1 and len(r["scores_rejected"]) == len(s["rejected"]) == 3
        card_c = [card_score(*card_parts, s["prompt"], a)[0] for a in s["chosen"]]
        card_r = [card_score(*card_parts, s["prompt"], a)[0] for a in s["rejected"]]
        assert_scores_close(r["scores_chosen"] + r["scores_rejected"], card_c + card_r, scale=score_scale)

    truth = [plain_set(r, s) for r, s in zip(rows, source)]
    for r, t in zip(rows, truth):
        assert (r["correct"], r["rank_chosen"], r["score_chosen"]) == (t["correct"], t["rank"], t["score_chosen"])
        assert r["margin"] == t["margin"]
        assert (r["rank_chosen"] == 1) == r["correct"]
    s = evaluation.summary
    assert (s.layout, s.sets, LAYOUT_NAMES[s.layout]) == (BEST_OF_N, 8, LAYOUT_NAMES["best_of_n"])
    outcomes = [t["correct"] for t in truth]
    assert s.best_of_n_accuracy == pytest.approx(sum(outcomes) / 8)
    assert (s.best_of_n_ci_low, s.best_of_n_ci_high) == bootstrap_accuracy_interval(
        outcomes, resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED)
    # The pair figures: every (chosen, rejected) pair of every set.
    pairs = [(c, x, ct, xt) for r, src in zip(rows, source) for c, ct in zip(chosen_scores(r), src["chosen"])
             for x, xt in zip(r["scores_rejected"], src["rejected"])]
    assert s.n == len(pairs) == 24 and s.responses == 32
    assert s.pairwise_accuracy == s.accuracy == pytest.approx(sum(1 for c, x, _, _ in pairs if c > x) / 24)
    assert s.ties == sum(1 for c, x, _, _ in pairs if c == x)
    assert s.mean_margin == pytest.approx(sum(c - x for c, x, _, _ in pairs) / 24, rel=1e-9)
    assert s.longer_baseline_accuracy == pytest.approx(sum(1 for *_, ct, xt in pairs if len(ct) > len(xt)) / 24)
    assert s.ece == pytest.approx(plain_ece([c - x for c, x, _, _ in pairs]), rel=1e-9)
    answers = [(score, len(text)) for r, src in zip(rows, source)
               for score, text in zip(chosen_scores(r) + r["scores_rejected"], src["chosen"] + src["rejected"])]
    assert s.score_length_spearman == pytest.approx(plain_spearman(*map(list, zip(*answers))), rel=1e-9)
    results = evaluation.results
    assert list(results.columns) == [*RESULT_COLUMNS, "subset"] and len(results) == 24
    assert results["row"].tolist() == [i for i in range(1, 9) for _ in range(3)]
    assert results["score_rejected"].tolist() == [x for r in rows for x in r["scores_rejected"]]

    # Per subset, per set: the same keys as a pair file's slices.
    by_subset: dict[str, list[int]] = {}
    for i, src in enumerate(source):
        by_subset.setdefault(src["subset"], []).append(i)
    assert [r["slice"] for r in s.slices] == sorted(by_subset, key=lambda k: (-len(by_subset[k]), k))
    for record in s.slices:
        members = [truth[i] for i in by_subset[record["slice"]]]
        n = len(members)
        assert list(record) == list(SLICE_KEYS) and record["n"] == n
        assert record["accuracy"] == pytest.approx(sum(t["correct"] for t in members) / n)
        assert (record["ci_low"], record["ci_high"]) == bootstrap_accuracy_interval(
            [t["correct"] for t in members], resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED)
        assert record["longer_baseline_accuracy"] == pytest.approx(sum(t["longer"] for t in members) / n)
        assert record["mean_margin"] == pytest.approx(sum(t["margin"] for t in members) / n, rel=1e-9)
        assert record["ece"] is None
        assert record["pairs"] == sum(t["pairs"] for t in members)
        assert record["pairwise_accuracy"] == pytest.approx(sum(t["wins"] for t in members) / record["pairs"])
    json.dumps(s.as_dict(), allow_nan=False)


def test_ties_several_chosen_answers_and_a_text_chosen_column(tiny_model, card_parts, score_scale, tmp_path):
    rows = [
        # A rejected answer identical to the chosen one: an exact tie, not correct, and it counts against the rank.
        {"prompt": "Capital of France?", "chosen": "Paris.", "rejected": ["Paris.", "Lyon.", "Nice is the capital."]},
        # Every answer the same: rank 4, margin 0.
        {"prompt": "Say hi.", "chosen": "Hi!", "rejected": ["Hi!", "Hi!", "Hi!"]},
        {"prompt": "Name a prime.", "chosen": "Seven.", "rejected": ["Eight.", "Nine, which is odd."]},
    ]
    out = tmp_path / "ties.evaluated.jsonl"
    evaluation = evaluate_file(tiny_model, jsonl(tmp_path / "ties.jsonl", rows), out)
    back = lines(out)
    assert "scores_chosen" not in back[0], "a chosen column of text gets one score_chosen a row"
    assert back[0]["scores_rejected"][0] == back[0]["score_chosen"], "identical texts tie exactly"
    for r, s in zip(back, rows):
        t = plain_set(r, s)
        assert (r["correct"], r["rank_chosen"], r["margin"]) == (t["correct"], t["rank"], t["margin"])
        assert_scores_close([r["score_chosen"], *r["scores_rejected"]],
                            [card_score(*card_parts, s["prompt"], a)[0] for a in [s["chosen"], *s["rejected"]]],
                            scale=score_scale)
    assert not back[0]["correct"] and back[0]["rank_chosen"] >= 2
    assert (back[1]["correct"], back[1]["rank_chosen"], back[1]["margin"]) == (False, 4, 0.0)
    assert evaluation.summary.ties >= 4

    # RewardBench 2's "Ties": several chosen answers; correct only when each beats every rejected one.
    several = [{"prompt": "Name a colour.", "chosen": ["Red.", "Blue.", "Red."], "rejected": ["Seven.", "A chair."]},
               {"prompt": "Name a fruit.", "chosen": ["Apple."], "rejected": ["Carrot.", "Apple."]}]
    out = tmp_path / "several.evaluated.parquet"
    evaluation = evaluate_file(tiny_model, jsonl(tmp_path / "several.jsonl", several), out)
    back = read_table(out).to_dict("records")
    for r, s in zip(back, several):
        t = plain_set(r, s)
        assert (bool(r["correct"]), int(r["rank_chosen"]), r["score_chosen"]) == (t["correct"], t["rank"],
                                                                                  t["score_chosen"])
    assert back[0]["scores_chosen"][0] == back[0]["scores_chosen"][2], "one text, one score"
    assert evaluation.summary.n == 3 * 2 + 1 * 2 and evaluation.summary.responses == 5 + 3
    assert back[1]["rank_chosen"] >= 2 and not back[1]["correct"]


def test_a_csv_output_holds_the_score_lists_as_json_text_exactly(tiny_model, tmp_path):
    evaluation = evaluate_file(tiny_model, SAMPLE_BEST_OF_N, tmp_path / "sets.csv")
    with open(tmp_path / "sets.csv", encoding="utf-8", newline="") as f:
        written = list(csv.DictReader(f))
    for cell, kept in zip(written, evaluation.set_results.to_dict("records")):
        assert json.loads(cell["scores_rejected"]) == kept["scores_rejected"]
        assert json.loads(cell["scores_chosen"]) == kept["scores_chosen"]
        assert json.loads(cell["chosen"]) == kept["chosen"] and float(cell["score_chosen"]) == kept["score_chosen"]
        assert cell["correct"] in ("True", "False") and int(cell["rank_chosen"]) == kept["rank_chosen"]


def test_each_distinct_answer_is_scored_once(tiny_model, tmp_path):
    class Counting:
        """The real model, with a record of what it was asked to score."""

        def __init__(self, model):
            self.model, self.asked = model, []

        def score_pairs(self, prompts, responses, progress=None):
            self.asked += list(zip(prompts, responses))
            return self.model.score_pairs(prompts, responses, progress=progress)

    rows = [{"prompt": "Say hi.", "chosen": "Hi!", "rejected": ["Hi!", "Hello.", "Hi!"]},
            {"prompt": "Say hi.", "chosen": "Hello.", "rejected": ["Hi!"]}]
    counting = Counting(tiny_model)
    evaluate_file(counting, jsonl(tmp_path / "repeats.jsonl", rows))
    assert sorted(counting.asked) == [("Say hi.", "Hello."), ("Say hi.", "Hi!")]


BAD_CELLS = [
    ("rejected", "Lyon.", "holds lists of rejected answers (a best-of-N file), but not in row 2, which holds text."),
    ("rejected", None, "but not in row 2, which holds null (no value)."),
    ("rejected", [], "column 'rejected' holds an empty list in row 2"),
    ("rejected", ["Lyon.", 3], "answer that is not text in row 2 (item 2 is a number)"),
    ("rejected", ["Lyon.", None], "answer that is not text in row 2 (item 2 is null (no value))"),
    ("rejected", [{"text": "Lyon."}], "answer that is not text in row 2 (item 1 is an object)"),
    ("chosen", [], "column 'chosen' holds an empty list in row 2"),
    ("chosen", [7], "column 'chosen' holds a list with an answer that is not text in row 2 (item 1 is a number)"),
]


@pytest.mark.parametrize("column, bad, says", BAD_CELLS)
@pytest.mark.parametrize("ext", ["jsonl", "parquet"])
def test_bad_lists_are_refused_naming_the_row_and_the_column(tiny_model, tmp_path, column, bad, says, ext):
    rows = [{"prompt": f"Capital of France, take {i}?", "chosen": ["Paris."], "rejected": ["Lyon.", "Nice."]}
            for i in range(3)]
    rows[1][column] = bad
    source = jsonl(tmp_path / "bad.jsonl", rows)
    if ext == "parquet":
        try:
            write_table(read_table(source), tmp_path / "bad.parquet")
        except FileProblem:
            pytest.skip("Parquet cannot store this mix of types in one column")
        source = tmp_path / "bad.parquet"
    with pytest.raises(FileProblem) as info:
        evaluate_file(tiny_model, source, tmp_path / "out.jsonl")
    message = str(info.value)
    assert message.startswith(f"bad.{ext}: column {column!r}") and says in message, message
    assert "\n" not in message and "nothing was scored" in message
    assert not (tmp_path / "out.jsonl").exists()


def test_bad_lists_are_counted_over_every_row(tiny_model, tmp_path):
    rows = [{"prompt": "q", "chosen": "a", "rejected": ["b"]} for _ in range(12)]
    for i in (3, 5, 11):
        rows[i]["rejected"] = []
    with pytest.raises(FileProblem, match=r"empty list in rows 4, 6 and 12: a set needs at least one rejected"):
        evaluate_file(tiny_model, jsonl(tmp_path / "many.jsonl", rows))
    for i in (3, 5, 11):
        rows[i]["rejected"] = ["b", 1.5] if i > 3 else "b"
    with pytest.raises(FileProblem, match=r"but not in row 4, which holds text\."):
        evaluate_file(tiny_model, jsonl(tmp_path / "many.jsonl", rows))
    rows[3]["rejected"] = ["b"]
    with pytest.raises(FileProblem, match=r"not text in rows 6 and 12 \(row 6's item 2 is a number\)"):
        evaluate_file(tiny_model, jsonl(tmp_path / "many.jsonl", rows))


def test_other_set_refusals(tiny_model, tmp_path):
    rows = [{"question": "q", "chosen": "a", "rejected": ["b"]}]
    with pytest.raises(FileProblem, match="no column 'prompt' for the prompts.*--prompt-column"):
        evaluate_file(tiny_model, jsonl(tmp_path / "noprompt.jsonl", rows))
    rows = [{"prompt": "q", "chosen": "a", "rejected": ["b"], "rank_chosen": 1}]
    with pytest.raises(FileProblem, match="already has a column 'rank_chosen', which the per-set results add"):
        evaluate_file(tiny_model, jsonl(tmp_path / "taken.jsonl", rows))
    rows = [{"prompt": None, "chosen": "a", "rejected": ["b"]}, {"prompt": "q", "chosen": "a", "rejected": ["b"]}]
    with pytest.raises(FileProblem, match="column 'prompt' has no value .* in row 1"):
        evaluate_file(tiny_model, jsonl(tmp_path / "gap.jsonl", rows))


def test_a_text_prompt_that_is_a_number_is_scored_as_text_and_written_as_a_number(tiny_model, tmp_path):
    rows = [{"prompt": 42, "chosen": "The answer.", "rejected": ["A question."]}]
    out = tmp_path / "n.evaluated.jsonl"
    evaluate_file(tiny_model, jsonl(tmp_path / "n.jsonl", rows), out)
    written = lines(out)[0]
    assert written["prompt"] == 42
    assert written["score_chosen"] == tiny_model.score_pairs(["42"], ["The answer."])[0].score


def test_an_interrupted_run_writes_the_sets_scored_so_far(tiny_model, tmp_path):
    out = tmp_path / "partial.jsonl"

    def stop(done, total):
        if done > 2:
            raise KeyboardInterrupt

    with pytest.raises(ScoringInterrupted) as info:
        evaluate_file(tiny_model, SAMPLE_BEST_OF_N, out, progress=stop, chunk_rows=8)  # two sets of 4 a chunk
    assert info.value.done == 2 and info.value.output == out and "2 of 8 sets" in str(info.value)
    back, source = lines(out), lines(SAMPLE_BEST_OF_N)
    assert [{k: r[k] for k in source[0]} for r in back] == source[:2]
    assert all(len(r["scores_rejected"]) == 3 for r in back)


def test_the_command_line_reads_sets(tiny_model_dir, tiny_model, capsys, tmp_path):
    out = tmp_path / "sets.parquet"
    code = main(["evaluate", str(SAMPLE_BEST_OF_N), "--slice-column", "subset", "--json", "-o", str(out), "--model",
                 str(tiny_model_dir), "--device", "cpu", "-q"])
    data = json.loads(capsys.readouterr().out)
    here = evaluate_file(tiny_model, SAMPLE_BEST_OF_N, slice_column="subset").summary
    assert code == 0 and data["layout"] == "best_of_n" and data["sets"] == 8 and data["n"] == 24
    assert data["best_of_n_accuracy"] == pytest.approx(here.best_of_n_accuracy)
    assert data["pairwise_accuracy"] == pytest.approx(here.pairwise_accuracy)
    assert [(r["slice"], r["n"]) for r in data["slices"]] == [(r["slice"], r["n"]) for r in here.slices]
    assert list(read_table(out).columns) == [*lines(SAMPLE_BEST_OF_N)[0], *SET_COLUMNS]

    code = main(["evaluate", str(SAMPLE_BEST_OF_N), "--model", str(tiny_model_dir), "--device", "cpu", "-q"])
    text = capsys.readouterr().out
    assert code == 0 and "read as best-of-N sets" in text and "over 32 responses" in text
    assert "\nbest-of-N: " in text and "of 8 sets had the chosen answer scored strictly above every rejected" in text


def test_a_file_of_chat_messages_is_still_read_as_pairs(tmp_path, tiny_model):
    chat = [{"role": "user", "content": "Capital of Italy?"}, {"role": "assistant", "content": "Rome."}]
    wrong = [chat[0], {"role": "assistant", "content": "Milan."}]
    evaluation = evaluate_file(tiny_model, jsonl(tmp_path / "chat.jsonl", [{"chosen": chat, "rejected": wrong}]))
    assert evaluation.summary.layout == "messages" and evaluation.set_results is None
    assert evaluation.summary.sets is None and evaluation.summary.best_of_n_accuracy is None
    assert isinstance(evaluation.written, pd.DataFrame) and list(evaluation.written.columns) == RESULT_COLUMNS
