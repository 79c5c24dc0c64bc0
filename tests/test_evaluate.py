"""Evaluation on preference pairs: layouts, accuracy and ties against an independent count, the bootstrap."""

import json

import numpy as np
import pandas as pd
import pytest
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from reward.config import SAMPLE_PAIRS
from reward.jobs.evaluate import RESULT_COLUMNS, bootstrap_accuracy_interval, evaluate_file, evaluate_pairs, worst_pairs
from reward.jobs.pairs import prepare_pairs, read_pairs, split_dialogues
from reward.jobs.scoring import ScoringInterrupted
from reward.tables.formats import FileProblem
from reward.tables.reading import read_table
from reward.tables.writing import write_table
from tests.reference import assert_scores_close, card_score


@pytest.fixture(scope="module")
def card_parts(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir).eval()
    return tokenizer, model


def independent_verdict(card_parts, pairs: pd.DataFrame) -> dict:
    """Accuracy, ties and margins counted here, from the card's one-pair-at-a-time scores."""
    chosen = np.array([card_score(*card_parts, p, c)[0] for p, c in zip(pairs["prompt"], pairs["chosen"])])
    rejected = np.array([card_score(*card_parts, p, r)[0] for p, r in zip(pairs["prompt"], pairs["rejected"])])
    margins = chosen - rejected
    wins = sum(1 for c, r in zip(chosen, rejected) if c > r)
    ties = sum(1 for c, r in zip(chosen, rejected) if c == r)
    return {"margins": margins, "accuracy": wins / len(margins), "correct": wins, "ties": ties,
            "scores": [*chosen, *rejected]}


# -- the sample file -----------------------------------------------------------------------------


def test_the_sample_file_is_a_few_dozen_clear_pairs():
    rows = [json.loads(line) for line in SAMPLE_PAIRS.read_text(encoding="utf-8").splitlines()]
    assert 30 <= len(rows) <= 40
    for row in rows:
        assert set(row) == {"prompt", "chosen", "rejected"}
        assert all(row[k].strip() for k in row) and row["chosen"] != row["rejected"]
    assert len({row["prompt"] for row in rows}) == len(rows)
    pairs = read_pairs(SAMPLE_PAIRS)
    assert pairs.layout == "columns" and len(pairs.frame) == len(rows)


def test_accuracy_ties_and_margins_match_an_independent_count(tiny_model, card_parts):
    pairs = read_table(SAMPLE_PAIRS).head(12)
    # Two ties by construction: the same response on both sides reads the same input.
    pairs.loc[3, "rejected"] = pairs.loc[3, "chosen"]
    pairs.loc[7, "chosen"] = pairs.loc[7, "rejected"]
    evaluation = evaluate_pairs(tiny_model, pairs, chunk_rows=6)  # several chunks
    truth = independent_verdict(card_parts, pairs)
    s = evaluation.summary
    assert (s.n, s.correct, s.ties) == (12, truth["correct"], truth["ties"])
    assert s.ties == 2
    assert s.accuracy == pytest.approx(truth["accuracy"])
    assert_scores_close(s.mean_margin, truth["margins"].mean(), scale=truth["scores"])
    results = evaluation.results
    assert list(results.columns) == RESULT_COLUMNS
    assert results["row"].tolist() == list(range(1, 13))
    assert_scores_close(results["margin"].to_numpy(), truth["margins"], scale=truth["scores"])
    assert results["tie"].tolist() == [i in (3, 7) for i in range(12)]
    assert not results["correct"][3] and not results["correct"][7], "a tie is not a win"
    assert s.ci_low <= s.accuracy <= s.ci_high
    # Not all one way, or accuracy would not be tested.
    assert 0 < s.correct < 10


def test_worst_pairs_are_the_most_negative_margins(tiny_model):
    evaluation = evaluate_pairs(tiny_model, read_pairs(SAMPLE_PAIRS))
    worst = worst_pairs(evaluation.results, 5)
    margins = evaluation.results["margin"].to_numpy()
    assert worst["margin"].tolist() == pytest.approx(sorted(margins)[:5])
    assert worst["row"].tolist() == [int(i) + 1 for i in np.argsort(margins, kind="stable")[:5]]
    assert len(worst_pairs(evaluation.results, 1000)) == len(margins)


# -- the bootstrap -------------------------------------------------------------------------------


def explicit_bootstrap(correct: np.ndarray, resamples: int, seed: int) -> tuple[float, float]:
    """The textbook way: resample the outcomes themselves."""
    rng = np.random.default_rng(seed)
    means = [rng.choice(correct, size=len(correct), replace=True).mean() for _ in range(resamples)]
    return tuple(np.percentile(means, [2.5, 97.5]))


@pytest.mark.parametrize("wins, n", [(7, 12), (30, 40), (52, 100)])
def test_bootstrap_interval_agrees_with_resampling_the_outcomes(wins, n):
    correct = np.array([1] * wins + [0] * (n - wins))
    low, high = bootstrap_accuracy_interval(correct, resamples=20_000, seed=1)
    ref_low, ref_high = explicit_bootstrap(correct, 20_000, seed=2)
    assert low == pytest.approx(ref_low, abs=1.5 / n) and high == pytest.approx(ref_high, abs=1.5 / n)
    assert low < wins / n < high


def test_bootstrap_is_seeded_and_degenerate_cases_are_exact():
    correct = np.array([1, 0, 1, 1, 0, 1, 0, 1])
    assert bootstrap_accuracy_interval(correct, seed=3) == bootstrap_accuracy_interval(correct, seed=3)
    assert bootstrap_accuracy_interval(np.ones(9)) == (1.0, 1.0)
    assert bootstrap_accuracy_interval(np.zeros(9)) == (0.0, 0.0)
    assert all(np.isnan(bootstrap_accuracy_interval(np.array([]))))


# -- layouts -------------------------------------------------------------------------------------


def test_split_dialogues_at_the_last_shared_assistant_turn():
    chosen = "\n\nHuman: Hi!\n\nAssistant: Hello.\n\nHuman: What is 2+2?\n\nAssistant: It is 4."
    rejected = "\n\nHuman: Hi!\n\nAssistant: Hello.\n\nHuman: What is 2+2?\n\nAssistant: It is 5."
    assert split_dialogues(chosen, rejected) == (
        "Human: Hi!\n\nAssistant: Hello.\n\nHuman: What is 2+2?", "It is 4.", "It is 5.")
    # Sides that part earlier are split where they last agree: each response runs to its end.
    early = "\n\nHuman: Hi!\n\nAssistant: Hey.\n\nHuman: What is 2+2?\n\nAssistant: 4."
    assert split_dialogues(chosen, early) == (
        "Human: Hi!", "Hello.\n\nHuman: What is 2+2?\n\nAssistant: It is 4.",
        "Hey.\n\nHuman: What is 2+2?\n\nAssistant: 4.")
    assert split_dialogues("\n\nHuman: A\n\nAssistant: x", "\n\nHuman: B\n\nAssistant: x") is None
    assert split_dialogues("\n\nHuman: A\n\nAssistant:", "\n\nHuman: A\n\nAssistant: y") == ("Human: A", "", "y")


def hh_frame() -> pd.DataFrame:
    head = "\n\nHuman: How do I keep basil alive?\n\nAssistant: Water it regularly.\n\nHuman: How often?"
    return pd.DataFrame({
        "chosen": [head + "\n\nAssistant: Water it when the top of the soil feels dry, about every other day.",
                   "\n\nHuman: What is 3+4?\n\nAssistant: 3+4 is 7."],
        "rejected": [head + "\n\nAssistant: Never water it.", "\n\nHuman: What is 3+4?\n\nAssistant: 3+4 is 9."],
    })


def test_hh_rlhf_dialogues_are_detected_and_split(tiny_model, card_parts, tmp_path):
    path = tmp_path / "hh.jsonl"
    write_table(hh_frame(), path)
    pairs = read_pairs(path)
    assert pairs.layout == "dialogues"
    assert pairs.frame["prompt"][1] == "Human: What is 3+4?"
    assert pairs.frame["chosen"][1] == "3+4 is 7." and pairs.frame["rejected"][1] == "3+4 is 9."
    assert pairs.frame["prompt"][0].endswith("Human: How often?")
    evaluation = evaluate_pairs(tiny_model, pairs)
    truth = independent_verdict(card_parts, pairs.frame)
    assert evaluation.summary.correct == truth["correct"]
    assert evaluation.summary.layout == "dialogues"


def test_chat_message_lists_are_read(tmp_path):
    def chat(*turns):
        return [{"role": role, "content": text} for role, text in turns]

    rows = [{"chosen": chat(("user", "Capital of Italy?"), ("assistant", "Rome.")),
             "rejected": chat(("user", "Capital of Italy?"), ("assistant", "Milan."))},
            {"chosen": chat(("user", "Hi"), ("assistant", "Hello!"), ("user", "2+2?"), ("assistant", "4")),
             "rejected": chat(("user", "Hi"), ("assistant", "Hello!"), ("user", "2+2?"), ("assistant", "5"))}]
    path = tmp_path / "chat.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    pairs = read_pairs(path)
    assert pairs.layout == "messages"
    assert pairs.frame["prompt"].tolist() == ["Capital of Italy?", "Human: Hi\n\nAssistant: Hello!\n\nHuman: 2+2?"]
    assert pairs.frame["chosen"].tolist() == ["Rome.", "4"] and pairs.frame["rejected"].tolist() == ["Milan.", "5"]
    # With a prompt column, as in UltraFeedback, the prompt comes from it.
    for row in rows:
        row["prompt"] = "Given prompt"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert read_pairs(path).frame["prompt"].tolist() == ["Given prompt"] * 2
    # Parquet stores the messages as arrays of structs: read the same.
    write_table(read_table(path), tmp_path / "chat.parquet")
    assert read_pairs(tmp_path / "chat.parquet").frame["chosen"].tolist() == ["Rome.", "4"]


@pytest.mark.parametrize("bad", [None, 12, 3.5, {"text": "Rome."}, ["Rome."], True])
@pytest.mark.parametrize("ext", ["jsonl", "parquet"])
def test_chat_contents_that_are_not_text_are_refused_with_the_row(tmp_path, bad, ext):
    def chat(answer, role="assistant"):
        return [{"role": "user", "content": "Capital of Italy?"}, {"role": role, "content": answer}]

    rows = [{"chosen": chat("Rome."), "rejected": chat("Milan.")},
            {"chosen": chat(bad), "rejected": chat("Milan.")}]
    source = tmp_path / "chat.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    if ext == "parquet":
        try:
            write_table(read_table(source), tmp_path / "chat.parquet")
        except FileProblem:
            pytest.skip("Parquet cannot store this mix of types in one struct field")
        source = tmp_path / "chat.parquet"
    message = pair_problem(tmp_path, source.name, read_table(source)) if ext == "parquet" else \
        pair_problem(tmp_path, source.name, source.read_text(encoding="utf-8"))
    assert "row 2" in message and "not text" in message, message
    assert "None" not in message.replace("(null", ""), message


def test_an_empty_response_is_scored_alike_in_every_layout_and_counted(tmp_path, tiny_model, score_scale):
    # HH-RLHF's harmless-base test split has a pair whose chosen answer is empty.
    head = "\n\nHuman: Say nothing at all."
    dialogues = pd.DataFrame({"chosen": [head + "\n\nAssistant:", head + "\n\nAssistant: Fine."],
                              "rejected": [head + "\n\nAssistant: No.", head + "\n\nAssistant: Never."]})
    columns = pd.DataFrame({"prompt": ["Human: Say nothing at all."] * 2, "chosen": ["", "Fine."],
                            "rejected": ["No.", "Never."]})
    chat = [{"chosen": [{"role": "user", "content": "Say nothing at all."}, {"role": "assistant", "content": c}],
             "rejected": [{"role": "user", "content": "Say nothing at all."}, {"role": "assistant", "content": r}],
             "prompt": "Human: Say nothing at all."} for c, r in (("", "No."), ("Fine.", "Never."))]
    results = []
    for name, table in (("hh.jsonl", dialogues), ("cols.csv", columns), ("chat.jsonl", pd.DataFrame(chat))):
        write_table(table, tmp_path / name)
        evaluation = evaluate_file(tiny_model, tmp_path / name)
        assert evaluation.summary.empty == 1 and evaluation.summary.n == 2, name
        results.append(evaluation.results[["score_chosen", "score_rejected"]].to_numpy())
    expected = tiny_model.score_pairs(["Human: Say nothing at all."] * 2, ["", "Fine."])
    assert_scores_close(results[0][:, 0], [e.score for e in expected], scale=score_scale)
    assert_scores_close(results[1], results[0], scale=score_scale)
    assert_scores_close(results[2], results[0], scale=score_scale)


def test_custom_column_names(tmp_path):
    path = tmp_path / "pairs.csv"
    write_table(pd.DataFrame({"q": ["p"], "good": ["a"], "bad": ["b"]}), path)
    pairs = read_pairs(path, prompt_column="q", chosen_column="good", rejected_column="bad")
    assert pairs.frame[["prompt", "chosen", "rejected"]].values.tolist() == [["p", "a", "b"]]


# -- bad input -----------------------------------------------------------------------------------


def pair_problem(tmp_path, name: str, df_or_text, **kwargs) -> str:
    path = tmp_path / name
    if isinstance(df_or_text, pd.DataFrame):
        write_table(df_or_text, path)
    else:
        path.write_text(df_or_text, encoding="utf-8")
    with pytest.raises(FileProblem) as info:
        read_pairs(path, **kwargs)
    assert name in str(info.value)
    return str(info.value)


def test_missing_rejected_column_names_the_flag(tmp_path):
    message = pair_problem(tmp_path, "p.csv", pd.DataFrame({"prompt": ["p"], "chosen": ["a"], "worse": ["b"]}))
    assert "'rejected'" in message and "--rejected-column" in message and "'worse'" in message


def test_no_prompt_and_no_dialogues_says_what_to_do(tmp_path):
    message = pair_problem(tmp_path, "p.csv", pd.DataFrame({"question": ["p"], "chosen": ["a"], "rejected": ["b"]}))
    assert "no column 'prompt'" in message and "--prompt-column" in message and "'question'" in message


def test_dialogues_that_cannot_be_split_are_named_by_row(tmp_path):
    df = hh_frame()
    df.loc[1, "rejected"] = "\n\nHuman: Something else entirely\n\nAssistant: no."
    message = pair_problem(tmp_path, "hh.jsonl", df)
    assert "row 2" in message and "prompt column" in message


def test_empty_pair_cells_are_named(tmp_path):
    # Missing, not empty: an empty string is a response the card's code scores (see test_empty_texts_*).
    df = pd.DataFrame({"prompt": ["p", "q", "r"], "chosen": ["a", None, "c"], "rejected": ["b", "x", "y"]})
    message = pair_problem(tmp_path, "gaps.jsonl", df)
    assert "row 2" in message and "'chosen'" in message


def test_an_empty_table_is_refused():
    with pytest.raises(FileProblem, match="upload.csv has no data rows"):
        prepare_pairs(pd.DataFrame({"prompt": [], "chosen": [], "rejected": []}), name="upload.csv")


def test_explicit_prompt_column_that_is_missing(tmp_path):
    df = pd.DataFrame({"prompt": ["p"], "chosen": ["a"], "rejected": ["b"]})
    message = pair_problem(tmp_path, "p.csv", df, prompt_column="instruction")
    assert "'instruction'" in message and "--prompt-column" in message


# -- files in and out ----------------------------------------------------------------------------


def test_evaluate_file_writes_per_pair_results(tiny_model, tmp_path):
    out = tmp_path / "results.csv"
    evaluation = evaluate_file(tiny_model, SAMPLE_PAIRS, out)
    back = read_table(out)
    assert list(back.columns) == RESULT_COLUMNS
    assert len(back) == evaluation.summary.n
    # The same numbers written out and read back: every digit kept.
    for column in ("score_chosen", "score_rejected", "margin"):
        assert back[column].astype(float).tolist() == evaluation.results[column].tolist(), column


def test_interrupted_evaluation_keeps_the_pairs_already_scored(tiny_model, tmp_path):
    out = tmp_path / "partial.jsonl"

    def stop(done, total):
        if done > 4:
            raise KeyboardInterrupt

    with pytest.raises(ScoringInterrupted) as info:
        evaluate_file(tiny_model, SAMPLE_PAIRS, out, progress=stop, chunk_rows=8)
    assert info.value.done == 4 and info.value.output == out
    back = read_table(out)
    assert back["row"].tolist() == [1, 2, 3, 4]
    assert "4 of 36 pairs" in str(info.value)


def test_as_dict_is_json_ready(tiny_model):
    summary = evaluate_pairs(tiny_model, read_pairs(SAMPLE_PAIRS)).summary
    data = summary.as_dict()
    assert {"n", "accuracy", "ties", "ci_low", "ci_high", "mean_margin"} <= set(data)
    json.dumps(data, allow_nan=False)
