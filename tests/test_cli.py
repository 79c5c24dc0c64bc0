"""``python -m reward score`` and ``evaluate``: as a subprocess (the real thing) and in-process (fast error cases)."""

import json
import os
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from reward.cli import EXIT_BAD_INPUT, EXIT_FAILED, main
from reward.config import SAMPLE_PAIRS
from reward.jobs.evaluate import evaluate_pairs
from reward.jobs.pairs import read_pairs
from reward.tables.reading import read_table
from reward.tables.writing import write_table
from tests.conftest import ROOT
from tests.reference import card_score

ROWS = pd.DataFrame({
    "question": ["What is the capital of France?", "What is the capital of France?", "Café 🙂?", "a"],
    "answer": ["Paris is the capital of France.", "Figure it out yourself.", "Привет — ✓", "b"],
    "id": ["1", "2", "3", "4"],
})


def run_cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", TOKENIZERS_PARALLELISM="false")
    env.pop("REWARD_MODEL", None)
    return subprocess.run([sys.executable, "-m", "reward", *args], check=False, cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def explain(done: subprocess.CompletedProcess) -> str:
    return f"exit {done.returncode}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"


# -- the real command, as a subprocess ------------------------------------------------------------


def test_score_command_writes_scores_in_order_with_a_summary(tmp_path, tiny_model_dir):
    source, output = tmp_path / "qa.csv", tmp_path / "qa.scored.jsonl"
    write_table(ROWS, source)
    done = run_cli("score", str(source), "-o", str(output), "--prompt-column", "question", "--response-column",
                   "answer", "--model", str(tiny_model_dir), "--device", "cpu")
    assert done.returncode == 0, explain(done)
    summary = done.stdout.strip().splitlines()
    assert len(summary) == 1, explain(done)
    assert re.fullmatch(r"scored 4 rows in [\d.]+ s \([\d.]+ rows/s\); 0 truncated at 512 tokens; wrote .+",
                        summary[0]), summary[0]
    assert str(output) in summary[0]
    assert "100%" in done.stderr and "4/4" in done.stderr, "no progress bar on stderr:\n" + explain(done)
    assert "Traceback" not in done.stderr

    back = read_table(output)
    assert back["id"].tolist() == ["1", "2", "3", "4"]
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir).eval()
    expected = [card_score(tokenizer, model, q, a) for q, a in zip(ROWS["question"], ROWS["answer"])]
    assert np.abs(back["score"].to_numpy() - [e[0] for e in expected]).max() < 1e-4
    assert back["tokens"].tolist() == [e[1] for e in expected]


def test_evaluate_command_prints_one_json_object(tmp_path, tiny_model_dir, tiny_model):
    results = tmp_path / "per_pair.csv"
    done = run_cli("evaluate", str(SAMPLE_PAIRS), "--json", "-o", str(results), "--model", str(tiny_model_dir),
                   "--device", "cpu", "--quiet")
    assert done.returncode == 0, explain(done)
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, explain(done)
    data = json.loads(lines[0])
    assert {"n", "accuracy", "ties", "ci_low", "ci_high", "mean_margin"} <= set(data)
    # The same numbers as the library computes in this process.
    s = evaluate_pairs(tiny_model, read_pairs(SAMPLE_PAIRS)).summary
    assert (data["n"], data["ties"], data["correct"]) == (s.n, s.ties, s.correct)
    assert data["accuracy"] == pytest.approx(s.accuracy)
    assert (data["ci_low"], data["ci_high"]) == pytest.approx((s.ci_low, s.ci_high))
    assert data["mean_margin"] == pytest.approx(s.mean_margin, abs=1e-4)
    assert len(read_table(results)) == s.n
    assert done.stderr.strip() == "", "--quiet should leave stderr empty:\n" + explain(done)


def test_bad_input_is_one_error_line_and_exit_2(tmp_path, tiny_model_dir):
    source = tmp_path / "qa.csv"
    write_table(ROWS, source)
    done = run_cli("score", str(source), "-o", str(tmp_path / "out.csv"), "--model", str(tiny_model_dir))
    assert done.returncode == EXIT_BAD_INPUT, explain(done)
    assert done.stderr.startswith("error: qa.csv has no column 'prompt'"), explain(done)
    assert "--prompt-column" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out.csv").exists()


# -- in-process: the same main(), quicker, for each kind of failure ----------------------------------


def call(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("content, says", [
    ('prompt,response\nq,"a\n', "not a well-formed CSV file"),
    ("question,answer\nq,a\n", "no column 'prompt'"),
    (b"prompt,response\ncaf\xe9,a\n", "byte offset 19"),
    (b"PAR1 binary", "looks like a Parquet file"),
    ("prompt,response,score\nq,a,1\n", "already has a column 'score'"),
])
def test_score_bad_input_exits_2_and_writes_nothing(tmp_path, tiny_model_dir, capsys, content, says):
    source = tmp_path / "in.csv"
    source.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, out, err = call(capsys, "score", str(source), "-o", str(tmp_path / "out.csv"), "--model",
                          str(tiny_model_dir), "-q")
    assert code == EXIT_BAD_INPUT
    assert err.startswith("error: in.csv") and says in err, err
    assert out == "" and not (tmp_path / "out.csv").exists()


def test_limits_can_be_changed_on_the_command_line(tmp_path, tiny_model_dir, capsys):
    source = tmp_path / "in.csv"
    write_table(ROWS.rename(columns={"question": "prompt", "answer": "response"}), source)
    code, _, err = call(capsys, "score", str(source), "-o", str(tmp_path / "o.csv"), "--max-rows", "3", "-q",
                        "--model", str(tiny_model_dir))
    assert code == EXIT_BAD_INPUT and "more than 3 rows" in err


def test_output_problems_exit_2_before_scoring(tmp_path, tiny_model_dir, capsys):
    source = tmp_path / "in.csv"
    write_table(ROWS.rename(columns={"question": "prompt", "answer": "response"}), source)
    code, _, err = call(capsys, "score", str(source), "-o", str(source), "--model", str(tiny_model_dir))
    assert code == EXIT_BAD_INPUT and "is the input file" in err
    code, _, err = call(capsys, "score", str(source), "-o", str(tmp_path / "out.xlsx"), "--model",
                        str(tiny_model_dir))
    assert code == EXIT_BAD_INPUT and ".csv, .tsv" in err


def test_a_model_that_fails_to_load_is_one_line_and_exit_1(tmp_path, capsys):
    source = tmp_path / "in.csv"
    write_table(ROWS.rename(columns={"question": "prompt", "answer": "response"}), source)
    code, _out, err = call(capsys, "score", str(source), "-o", str(tmp_path / "o.csv"), "--model",
                          str(tmp_path / "no-such-model"))
    assert code == EXIT_FAILED
    assert err.startswith("error: Cannot load reward model") and err.count("\n") == 1, err
    assert not (tmp_path / "o.csv").exists()


def test_bad_settings_exit_2(tmp_path, tiny_model_dir, capsys):
    code, _, err = call(capsys, "evaluate", str(SAMPLE_PAIRS), "--model", str(tiny_model_dir), "--batch-size",
                        "zero")
    assert code == EXIT_BAD_INPUT and err.startswith("error: --batch-size='zero' is not a whole number")


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["score", "in.csv"])  # no -o
    assert info.value.code == EXIT_BAD_INPUT
    assert "error: the following arguments are required: -o/--output" in capsys.readouterr().err


def test_evaluate_text_report(tiny_model_dir, capsys):
    code, out, _ = call(capsys, "evaluate", str(SAMPLE_PAIRS), "--model", str(tiny_model_dir), "--device", "cpu",
                        "-q", "--worst", "3")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("accuracy ") and "95% CI" in lines[0] and "ties 0" in lines[0]
    assert "36 pairs" in lines[1] and "read as prompt, chosen and rejected columns" in lines[1]
    assert lines[2].startswith("length: always picking the longer answer would score")
    assert lines[3].startswith("score-length Spearman")
    assert lines[4].startswith("worst-judged pairs") and len(lines) == 8


def test_evaluate_missing_file(tmp_path, capsys):
    code, _, err = call(capsys, "evaluate", str(tmp_path / "nope.jsonl"))
    assert code == EXIT_BAD_INPUT and err == "error: nope.jsonl: no such file.\n"


def test_formulas_are_neutralized_only_when_asked(tmp_path, tiny_model_dir, capsys):
    source = tmp_path / "risky.jsonl"
    rows = [{"prompt": "=1+1", "response": "@SUM(A1:A9)", "note": "-5 apples"}, {"prompt": "q", "response": "+a"}]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    exact, safe = tmp_path / "exact.csv", tmp_path / "safe.csv"
    assert call(capsys, "score", str(source), "-o", str(exact), "--model", str(tiny_model_dir), "-q")[0] == 0
    assert call(capsys, "score", str(source), "-o", str(safe), "--model", str(tiny_model_dir), "-q",
                "--neutralize-formulas")[0] == 0
    plain, marked = read_table(exact), read_table(safe)
    assert plain["prompt"].tolist() == ["=1+1", "q"] and plain["response"].tolist() == ["@SUM(A1:A9)", "+a"]
    assert marked["prompt"].tolist() == ["'=1+1", "q"] and marked["response"].tolist() == ["'@SUM(A1:A9)", "'+a"]
    assert marked["note"].tolist()[0] == "'-5 apples"
    assert marked["score"].tolist() == plain["score"].tolist(), "the scores are the same text either way"
