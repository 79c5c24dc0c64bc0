"""``python -m reward score`` and ``evaluate``: as a subprocess (the real thing) and in-process (fast error cases)."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from reward.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, main
from reward.config import ATTRIBUTION_STEPS, SAMPLE_PAIRS
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


SCORE_RTOL = 1e-5
"""Two computations of the same scores (other processes, other batches) agree to float rounding: relative to the
scores' size, since rounding grows with the numbers computed, whatever the CPU (AVX2, AVX-512, AMX)."""


def assert_scores_close(actual, expected, *, scale: float | None = None, what: str = "scores") -> None:
    """Each value within SCORE_RTOL of itself plus SCORE_RTOL of ``scale``, by default the largest |score| compared.

    A difference of two scores (a margin) rounds as the scores it comes from, not as its own size: pass the scores'
    largest magnitude as ``scale`` for margins and means of margins.
    """
    actual, expected = np.atleast_1d(np.asarray(actual, dtype=float)), np.atleast_1d(np.asarray(expected, dtype=float))
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    scale = float(np.abs(expected).max()) if scale is None else scale
    bound = SCORE_RTOL * (np.abs(expected) + scale)
    gap = np.abs(actual - expected)
    worst = int(np.argmax(gap - bound))
    assert (gap <= bound).all(), (f"{what} differ by {gap[worst]:.3g} at {worst}, over the bound {bound[worst]:.3g} "
                                  f"({SCORE_RTOL:g} of {abs(expected[worst]):.3g} plus of {scale:.3g})")


def assert_no_near_ties(margins, scale: float) -> None:
    """Counts of wins compared across computations are only equal when no margin is within rounding of zero."""
    closest = float(np.abs(np.asarray(margins, dtype=float)).min())
    assert closest > 2 * SCORE_RTOL * scale, f"a margin of {closest:.3g} could flip sign by rounding: choose other pairs"


def cli_env(**extra: str) -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", TOKENIZERS_PARALLELISM="false",
               **extra)
    env.pop("REWARD_MODEL", None)
    return env


def run_cli(*args: str | bytes, timeout: int = 300, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "reward", *args], check=False, cwd=ROOT, env=cli_env(**env),
                          capture_output=True, text=True, timeout=timeout)


BAR_COUNT = re.compile(rb"(\d+)/(\d+) \[")


def terminate_after(args: list[str], rows: int, *, timeout: int = 300) -> tuple[int, str, str, int]:
    """Run the command, send it SIGTERM once its progress bar shows ``rows`` rows scored, and wait for it to end.

    Returns its exit status, stdout, stderr, and the count the bar showed when the signal was sent.
    """
    proc = subprocess.Popen([sys.executable, "-m", "reward", *args], cwd=ROOT, env=cli_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    err: list[bytes] = []
    reader = threading.Thread(target=lambda: err.extend(iter(lambda: proc.stderr.read1(4096), b"")), daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    try:
        while not (counts := BAR_COUNT.findall(b"".join(err))) or int(counts[-1][0]) < rows:
            assert proc.poll() is None, f"the command ended before {rows} rows: {b''.join(err).decode()}"
            assert time.monotonic() < deadline, f"no progress to {rows} rows: {b''.join(err).decode()}"
            time.sleep(0.1)
        seen = int(counts[-1][0])
        assert seen < int(counts[-1][1]), "the command finished before the SIGTERM: give it a longer file"
        proc.send_signal(signal.SIGTERM)
        out = proc.stdout.read()
        code = proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(timeout=10)
    return code, out.decode(), b"".join(err).decode(), seen


def bar_and_lines(err: str) -> list[str]:
    """stderr without the progress bar's states (each ends in a carriage return or the bar's closing newline)."""
    bar = re.compile(r"\s*\d+%\|.*\| \d+/\d+ \[.*\]\s*")
    return [piece for piece in re.split(r"[\r\n]", err) if piece.strip() and not bar.fullmatch(piece)]


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
    assert_scores_close(back["score"], [e[0] for e in expected])
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
    # The same numbers as the library computes in this process (another process: scores agree to rounding).
    here = evaluate_pairs(tiny_model, read_pairs(SAMPLE_PAIRS))
    s, per_pair = here.summary, read_table(results)
    scale = float(np.abs(here.results[["score_chosen", "score_rejected"]].to_numpy()).max())
    assert_scores_close(per_pair["score_chosen"], here.results["score_chosen"], scale=scale)
    assert_scores_close(per_pair["score_rejected"], here.results["score_rejected"], scale=scale)
    assert_scores_close(per_pair["margin"], here.results["margin"], scale=scale, what="margins")
    assert_no_near_ties(here.results["margin"], scale)
    assert (data["n"], data["ties"], data["correct"]) == (s.n, s.ties, s.correct)
    assert data["accuracy"] == pytest.approx(s.accuracy)
    assert (data["ci_low"], data["ci_high"]) == pytest.approx((s.ci_low, s.ci_high))
    assert_scores_close(data["mean_margin"], s.mean_margin, scale=scale, what="mean margins")
    assert len(per_pair) == s.n
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


# -- text that is not UTF-8, flags that would do nothing, SIGTERM -------------------------------------


@pytest.mark.parametrize("args, flag, byte, offset", [
    (["explain", "--prompt", "caf\udce9", "--response", "ok"], "--prompt", "E9", 3),
    (["explain", "--prompt", "ok", "--response", "\udcff\udcfeab"], "--response", "FF", 0),
    (["score", "IN", "-o", "OUT", "--prompt-column", "r\udce9ponse"], "--prompt-column", "E9", 1),
    (["evaluate", "IN", "--chosen-column", "choisi\udce9"], "--chosen-column", "E9", 6),
])
def test_text_flags_with_a_byte_that_is_not_utf8_name_the_byte_not_a_surrogate(tmp_path, tiny_model_dir, capsys,
                                                                               args, flag, byte, offset):
    """Python decodes a command line's bytes that are not UTF-8 as lone surrogates (U+DC80 to U+DCFF): the message
    must name the byte and what to do, not blame half a UTF-16 pair the user never typed."""
    source = tmp_path / "in.csv"
    write_table(ROWS.rename(columns={"question": "prompt", "answer": "response"}), source)
    args = [str(source) if a == "IN" else str(tmp_path / "out.csv") if a == "OUT" else a for a in args]
    code, out, err = call(capsys, *args, "--model", str(tiny_model_dir), "-q" if args[0] != "explain" else "--json")
    assert code == EXIT_BAD_INPUT and out == ""
    assert err == (f"error: {flag} is not UTF-8 text: byte 0x{byte} at byte offset {offset} is not valid UTF-8 (the "
                   "terminal, or the program that ran this command, sent text in another encoding, such as Latin-1). "
                   "Send it as UTF-8: set the terminal to UTF-8, or convert the text, e.g. `iconv -f latin1 -t "
                   "utf-8`.\n")
    assert not (tmp_path / "out.csv").exists()


def test_a_true_lone_surrogate_is_still_named_as_one(tiny_model_dir, capsys):
    """Half of a UTF-16 pair given from Python (not a byte from a terminal) keeps the request check's message."""
    code, _, err = call(capsys, "explain", "--prompt", "a\ud83d", "--response", "ok", "--model", str(tiny_model_dir))
    assert code == EXIT_BAD_INPUT
    assert err.startswith("error: The prompt has a broken character at position 2 (U+D83D, half of a UTF-16 "
                          "surrogate pair"), err


def test_bytes_that_are_not_utf8_in_a_real_command_line_and_in_file_names(tmp_path, tiny_model_dir):
    """The real thing, as a terminal sends it: bytes. A file name may hold any byte (it works, and is shown as
    \\xE9), even where stdout is strict UTF-8; text that is not UTF-8 is refused in one line."""
    rows = tmp_path / "caf\udce9.csv"  # Python's name for the bytes b"caf\xe9.csv"
    write_table(ROWS.rename(columns={"question": "prompt", "answer": "response"}), rows)
    folder = os.fsencode(tmp_path)
    done = run_cli("score", folder + b"/caf\xe9.csv", "-o", folder + b"/out\xe9.csv", "--model", str(tiny_model_dir), "-q",
                   PYTHONIOENCODING="utf-8")
    assert done.returncode == EXIT_OK, explain(done)
    assert done.stdout.rstrip().endswith(f"wrote {tmp_path}/out\\xe9.csv") and done.stderr == "", explain(done)
    assert read_table(tmp_path / "out\udce9.csv")["prompt"].tolist() == ROWS["question"].tolist()
    done = run_cli("score", folder + b"/nope\xe9.csv", "-o", str(tmp_path / "o.csv"), "--model", str(tiny_model_dir),
                   PYTHONIOENCODING="utf-8")
    assert (done.returncode, done.stderr) == (EXIT_BAD_INPUT, "error: nope\\xe9.csv: no such file.\n"), explain(done)
    done = run_cli("explain", "--prompt", b"Caf\xe9?", "--response", "Yes.", "--model", str(tiny_model_dir))
    assert done.returncode == EXIT_BAD_INPUT and done.stdout == "", explain(done)
    assert done.stderr.startswith("error: --prompt is not UTF-8 text: byte 0xE9 at byte offset 3 is not valid UTF-8")
    assert done.stderr.count("\n") == 1 and "surrogate" not in done.stderr, explain(done)


@pytest.mark.parametrize("args, says", [
    (["explain", "--prompt", "q", "--response", "a", "--steps", "8"],
     "--steps only works with --attribute: add --attribute to compute integrated gradients, or leave --steps out."),
    (["score", "IN", "-o", "OUT.parquet", "--neutralize-formulas"],
     ("--neutralize-formulas only works with a .csv or .tsv output (OUT.parquet is not .csv or .tsv): write CSV or "
      "TSV, or leave it out.")),
    (["evaluate", "PAIRS", "--neutralize-formulas"],
     ("--neutralize-formulas only works with a .csv or .tsv output (no -o was given): write CSV or TSV, or leave it "
      "out.")),
])
def test_flags_that_would_do_nothing_are_refused(tmp_path, tiny_model_dir, capsys, args, says):
    source = tmp_path / "in.csv"
    write_table(ROWS.rename(columns={"question": "prompt", "answer": "response"}), source)
    names = {"IN": str(source), "OUT.parquet": str(tmp_path / "OUT.parquet"), "PAIRS": str(SAMPLE_PAIRS)}
    code, out, err = call(capsys, *[names.get(a, a) for a in args], "--model", str(tiny_model_dir))
    assert (code, out) == (EXIT_BAD_INPUT, "")
    assert err == f"error: {says.replace('OUT.parquet', str(tmp_path / 'OUT.parquet'))}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_steps_work_with_attribute(tiny_model_dir, capsys):
    """--steps is only refused alone: with --attribute it sets the steps, and without it the default is used."""
    common = ["explain", "--prompt", "Why?", "--response", "Because.", "--attribute", "--json", "--model",
              str(tiny_model_dir), "--device", "cpu"]
    code, out, _ = call(capsys, *common, "--steps", "3")
    assert code == EXIT_OK and json.loads(out)["attribution"]["steps"] == 3
    code, out, _ = call(capsys, *common)
    assert code == EXIT_OK and json.loads(out)["attribution"]["steps"] == ATTRIBUTION_STEPS


def test_sigterm_keeps_the_rows_scored_and_ends_in_one_line(tmp_path, tiny_model_dir, tiny_model):
    """SIGTERM (a scheduler's stop, `kill`) is an interruption like Ctrl+C: the scored rows are written, exit 130."""
    n, chunk = 30_000, 256
    source, output = tmp_path / "many.csv", tmp_path / "many.scored.csv"
    rows = pd.DataFrame({"prompt": [f"Question {i}: what follows {i}?" for i in range(n)],
                         "response": [f"The number {i + 1} follows, as it always has. " * 6 for i in range(n)]})
    write_table(rows, source)
    code, out, err, seen = terminate_after(["score", str(source), "-o", str(output), "--model", str(tiny_model_dir),
                                            "--device", "cpu", "--chunk-rows", str(chunk)], chunk)
    done = assert_interrupted_and_kept(code, out, err, output, rows, chunk, tiny_model)
    assert done >= seen - seen % chunk


def assert_interrupted_and_kept(code, out, err, output, rows, chunk, model) -> int:
    """An interrupted ``score`` of 30,000 rows: exit 130, one line after the progress bar, whole chunks of scored rows
    written in file order (the card's scores of exactly those rows), the rest empty; returns how many were kept."""
    lines = bar_and_lines(err)
    assert code == EXIT_INTERRUPTED and out == "", err
    assert len(lines) == 1, err
    done = int(re.match(r"error: Scoring stopped after ([\d,]+) of 30,000 rows \(interrupted\)\. ",
                        lines[0]).group(1).replace(",", ""))
    assert lines[0].endswith(f"The {done:,} scored rows were written to {output}; rows {done + 1:,}-30,000 have "
                             "empty score columns."), lines[0]
    assert done % chunk == 0
    back = read_table(output)  # CSV: every cell is text, an empty score cell the empty string
    assert back["prompt"].tolist() == rows["prompt"].tolist()
    assert [(back[c] != "").sum() for c in ("score", "tokens", "truncated")] == [done] * 3
    here = [s.score for start in range(0, done, chunk) for s in
            model.score_pairs(rows["prompt"][start:start + chunk].tolist(),
                              rows["response"][start:start + chunk].tolist())]
    assert_scores_close(back["score"][:done].astype(float), here)
    return done
