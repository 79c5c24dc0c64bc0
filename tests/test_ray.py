"""``--engine ray``: the same output as the single-process path, on a local Ray with two model replicas.

Ray starts once for the module (two CPUs, no dashboard); ``main()`` runs in this process and uses it.
Each Ray run starts two replicas, and each loads the tiny model once. What a terminal shows (one line when Ray
gives up, a SIGTERM, a malformed address) is tested on the command as its own process, with its own Ray.
"""

import argparse
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from reward.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, main
from reward.config import RAY_BLOCK_CHUNKS, RAY_BLOCK_CHUNKS_PER_WORKER, SAMPLE_PAIRS
from reward.jobs.distributed import EXIT_FOR_TESTS_ENV
from reward.jobs.evaluate import evaluate_pairs
from reward.jobs.ray_engine import rows_at_once
from reward.tables.reading import read_table
from reward.tables.writing import write_table
from tests.conftest import ROOT
from tests.reference import card_score
from tests.test_cli import (
    assert_interrupted_and_kept,
    assert_no_near_ties,
    assert_scores_close,
    cli_env,
    terminate_after,
)

# Rows out of any order (ids, lengths and texts unsorted), unicode, an empty and a blank response, text that
# looks like numbers, and pass-through columns of every kind the readers keep.
ROWS = pd.DataFrame({
    "id": ["007", "3", "10", "1", "002", "9", "5", "42", "8"],
    "prompt": ["Why is AI Ethics important?", "Café — où?", "2+2", "a", "Привет, как дела?",
               "Explain gravity " * 30, "?", "数学是什么", "NA"],
    "response": ["Because it shapes how we live.", "", "4", "b " * 600, "Хорошо 🙂", "Mass bends space.",
                 "   ", "研究数量的学科", "null"],
    "n": [5, -1, 0, 2**40, 7, 3, 1, 99, -12],
    "x": [0.1, 1e300, -2.5, 3.0, 1 / 3, 0.0, 7.25, -0.001, 2.0],
    "ok": [True, False, True, True, False, False, True, False, True],
    "note": ["x", "=1+1", "", "line\nbreak", "tab\there", "\"quoted\"", "🙂", "ünï", "-"],
})
CHUNK = ["--chunk-rows", "2"]  # 2-row batches: every replica gets several; the local path scores the same chunks
RAY = ["--engine", "ray", "--workers", "2", *CHUNK]


@pytest.fixture(scope="module")
def local_ray():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    yield ray
    ray.shutdown()


def score(capsys, source, output, model_dir, *extra: str) -> tuple[int, str, str]:
    code = main(["score", str(source), "-o", str(output), "--model", str(model_dir), "--device", "cpu", "-q",
                 *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_same_output(local_path, ray_path) -> pd.DataFrame:
    """Every column but score exactly equal (values and types), scores equal to rounding, same row order."""
    local, distributed = read_table(local_path), read_table(ray_path)
    assert list(distributed.columns) == list(local.columns)
    pd.testing.assert_frame_equal(distributed.drop(columns="score"), local.drop(columns="score"), check_exact=True)
    assert distributed["score"].dtype == local["score"].dtype
    assert_scores_close(distributed["score"].astype(float), local["score"].astype(float))  # CSV: text
    return distributed


def score_both_ways(capsys, tmp_path, model_dir, extension: str) -> tuple[pd.DataFrame, str]:
    """Score ROWS written as ``extension`` with the local path and on Ray; check the two outputs are the same."""
    source = tmp_path / f"rows.{extension}"
    write_table(ROWS, source)
    local_out, ray_out = tmp_path / f"local.{extension}", tmp_path / f"ray.{extension}"
    assert score(capsys, source, local_out, model_dir, *CHUNK)[0] == EXIT_OK
    code, out, err = score(capsys, source, ray_out, model_dir, *RAY)
    assert code == EXIT_OK, err
    empty = sum(1 for r in ROWS["response"] if not r.strip())
    assert len(out.splitlines()) == 1, out  # Ray's own notices (a replica that died) never reach stdout
    summary = out.strip()
    assert summary.startswith(f"scored {len(ROWS)} rows in ") and f"; {empty} rows with an empty response" in summary
    assert summary.endswith(f"wrote {ray_out}"), summary
    back = assert_same_output(local_out, ray_out)
    # The rows came back in the file's order, every input value as it was read (CSV cells are text).
    pd.testing.assert_frame_equal(back[list(ROWS.columns)], read_table(source), check_exact=True)
    if extension != "csv":
        for column in ROWS.columns:
            assert back[column].tolist() == ROWS[column].tolist(), column
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "a temporary file was left"
    return back, out


def assert_card_scores(back: pd.DataFrame, model_dir) -> None:
    """The scores, tokens and cuts are the model card's own, row by row (read back from any format)."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    card = [card_score(tokenizer, model, p, r) for p, r in zip(ROWS["prompt"], ROWS["response"])]
    assert_scores_close(back["score"].astype(float), [c[0] for c in card])
    assert back["tokens"].astype(int).tolist() == [c[1] for c in card]
    full = [len(tokenizer(p, r)["input_ids"]) for p, r in zip(ROWS["prompt"], ROWS["response"])]
    cut = (back["truncated"].astype(str) == "True").tolist()
    assert cut == [length > 512 for length in full]
    assert any(cut), "no row is long enough to be cut: the test misses that case"


# JSON lines are covered by the next test, where a replica dies: each Ray run costs two replica start-ups.
@pytest.mark.parametrize("extension", ["parquet", "csv"])
def test_ray_output_equals_the_local_output(tmp_path, tiny_model_dir, local_ray, capsys, extension):
    back, _ = score_both_ways(capsys, tmp_path, tiny_model_dir, extension)
    assert_card_scores(back, tiny_model_dir)
    assert local_ray.is_initialized(), "the command shut down a Ray it had not started"


def test_jsonl_with_a_replica_killed_mid_run_gives_the_same_output(tmp_path, tiny_model_dir, local_ray, capfd,
                                                                    monkeypatch):
    marker = tmp_path.parent / f"{tmp_path.name}-a-replica-died"
    monkeypatch.setenv(EXIT_FOR_TESTS_ENV, f"2:{marker}")
    back, _ = score_both_ways(capfd, tmp_path, tiny_model_dir, "jsonl")
    assert marker.exists(), "no replica reached its second batch, so none died: the test proves nothing"
    assert_card_scores(back, tiny_model_dir)


def test_evaluate_json_on_ray_with_a_replica_killed_is_valid_json_with_the_local_results(
        tmp_path, tiny_model_dir, local_ray, capfd, monkeypatch):
    local_out, ray_out = tmp_path / "local.csv", tmp_path / "ray.csv"
    common = ["evaluate", str(SAMPLE_PAIRS), "--model", str(tiny_model_dir), "--device", "cpu", "-q", "--worst", "3",
              "--chunk-rows", "8", "--json"]
    assert main([*common, "-o", str(local_out)]) == EXIT_OK
    local_summary = json.loads(capfd.readouterr().out)
    marker = tmp_path.parent / f"{tmp_path.name}-a-replica-died"
    monkeypatch.setenv(EXIT_FOR_TESTS_ENV, f"2:{marker}")
    assert main([*common, "-o", str(ray_out), "--engine", "ray", "--workers", "1"]) == EXIT_OK
    out = capfd.readouterr().out
    assert marker.exists(), "the replica never reached its second batch, so it did not die: the test proves nothing"
    ray_summary = json.loads(out)  # the whole of stdout: no line of Ray's before or after the JSON
    local, distributed = read_table(local_out), read_table(ray_out)
    assert list(distributed.columns) == list(local.columns)
    text = [c for c in local.columns if not c.startswith(("score_", "margin"))]
    pd.testing.assert_frame_equal(distributed[text], local[text])
    # Ray scores a block's texts in other batches than the local path's chunks: equal to rounding, relative to the
    # scores' size (a margin rounds as the scores it is the difference of).
    scale = float(np.abs(local[["score_chosen", "score_rejected"]].astype(float).to_numpy()).max())
    for column in ("score_chosen", "score_rejected", "margin"):
        assert_scores_close(distributed[column].astype(float), local[column].astype(float), scale=scale, what=column)
    assert_no_near_ties(local["margin"].astype(float), scale)  # so the counts below cannot differ by rounding
    # The figures are the local run's, and those of the per-pair scores Ray wrote, counted here.
    chosen, rejected = distributed["score_chosen"].astype(float), distributed["score_rejected"].astype(float)
    wins = int((chosen > rejected).sum())
    assert ray_summary["n"] == local_summary["n"] == len(distributed)
    assert ray_summary["correct"] == local_summary["correct"] == wins
    assert ray_summary["accuracy"] == local_summary["accuracy"] == wins / len(distributed)
    assert ray_summary["ties"] == local_summary["ties"] == int((chosen == rejected).sum())
    for key in ("ci_low", "ci_high"):  # the same pairs and seed: the same bootstrap interval
        assert ray_summary[key] == local_summary[key]
    assert_scores_close(ray_summary["mean_margin"], float((chosen - rejected).mean()), scale=scale)
    assert_scores_close(ray_summary["mean_margin"], local_summary["mean_margin"], scale=scale)
    assert [w["row"] for w in ray_summary["worst"]] == [w["row"] for w in local_summary["worst"]]
    assert ray_summary["output"] == str(ray_out)


@pytest.mark.parametrize("model", ["nonexistent", "empty"])
def test_a_model_that_cannot_load_is_the_local_paths_one_line_before_ray_starts(tmp_path, tiny_model_dir, capfd,
                                                                                model):
    """Checked before Ray starts: no replica's traceback, the local path's message whole, nothing written."""
    source = tmp_path / "rows.csv"
    write_table(ROWS, source)
    folder = tmp_path / "no-such-model" if model == "nonexistent" else tmp_path / "empty-model"
    if model == "empty":
        folder.mkdir()
    args = ["score", str(source), "--model", str(folder), "--device", "cpu", "-q", "-o"]
    local_code = main([*args, str(tmp_path / "local.csv")])
    local = capfd.readouterr()
    code = main([*args, str(tmp_path / "ray.csv"), *RAY])
    ray_run = capfd.readouterr()
    assert local_code == EXIT_FAILED and local.out == ""
    assert local.err.startswith("error: Cannot load reward model") and local.err.count("\n") == 1, local.err
    assert (code, ray_run.out, ray_run.err) == (local_code, "", local.err)
    assert {p.name for p in tmp_path.iterdir()} == {"rows.csv"} | ({folder.name} if model == "empty" else set())


@pytest.mark.parametrize("command", ["score", "evaluate"])
@pytest.mark.parametrize("flags, named", [
    (["--address", "auto"], "--address only works"),
    (["--workers", "2"], "--workers only works"),
    (["--gpus-per-worker", "0"], "--gpus-per-worker only works"),
    (["--workers", "2", "--gpus-per-worker", "1"], "--workers and --gpus-per-worker only work"),
])
def test_ray_flags_without_engine_ray_are_refused(tmp_path, tiny_model_dir, capfd, command, flags, named):
    source = tmp_path / "rows.csv"
    write_table(ROWS, source)
    code = main([command, str(source), "-o", str(tmp_path / "out.csv"), "--model", str(tiny_model_dir), "-q", *flags])
    out, err = capfd.readouterr()
    assert code == EXIT_BAD_INPUT and out == ""
    assert err.startswith(f"error: {named} with --engine ray: add --engine ray") and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.csv"]


@pytest.mark.parametrize("flags, says", [
    (["--workers", "0"], "--workers 0: give at least 1"),
    (["--gpus-per-worker", "-1"], "--gpus-per-worker -1: give 0"),
    (["--address", ""], "--address is empty: give the cluster's address"),
    (["--address", "  "], "--address is empty: give the cluster's address"),
])
def test_bad_ray_options_exit_2_and_write_nothing(tmp_path, tiny_model_dir, capsys, flags, says):
    source = tmp_path / "rows.csv"
    write_table(ROWS, source)
    code, out, err = score(capsys, source, tmp_path / "out.csv", tiny_model_dir, "--engine", "ray", *flags)
    assert code == EXIT_BAD_INPUT
    assert err.startswith("error: ") and says in err and len(err.strip().splitlines()) == 1, err
    assert out == "" and not (tmp_path / "out.csv").exists()


def test_asking_for_gpus_the_cluster_does_not_have_is_one_error_line_not_a_hang(tmp_path, tiny_model_dir, capsys):
    source = tmp_path / "rows.csv"
    write_table(ROWS, source)
    code, out, err = score(capsys, source, tmp_path / "out.csv", tiny_model_dir, "--engine", "ray",
                           "--gpus-per-worker", "1")
    assert code == EXIT_FAILED
    # In this process capsys holds sys.stderr, where a Ray started here logs its start-up warnings; a command of its
    # own sends them to its log (the subprocess tests below).
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and last.endswith("Nothing was written."), err
    assert ("--gpus-per-worker 1: no node of the Ray cluster has 1 GPU (the most on one node is 0; the cluster has "
            "0 in all). Use --gpus-per-worker 0 on CPU machines, or start the GPU nodes first.") in last
    assert out == "" and not (tmp_path / "out.csv").exists()


def test_without_ray_the_default_path_works_and_engine_ray_says_how_to_install(tmp_path, tiny_model_dir):
    """`import ray` fails in this subprocess: the local path must not need it; --engine ray says what to do."""
    source = tmp_path / "rows.csv"
    write_table(ROWS, source)
    script = ("import sys; sys.modules['ray'] = None\n"
              "from reward.cli import main\n"
              "args = ['score', sys.argv[1], '--model', sys.argv[3], '--device', 'cpu', '-q', '-o']\n"
              "local = main([*args, sys.argv[2] + '/local.csv'])\n"
              "print('local', local, 'ray' in sys.modules and sys.modules['ray'] is not None, flush=True)\n"
              "sys.exit(main([*args, sys.argv[2] + '/ray.csv', '--engine', 'ray']))\n")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    done = subprocess.run([sys.executable, "-c", script, str(source), str(tmp_path), str(tiny_model_dir)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.stdout.splitlines()[-1] == "local 0 False", done.stdout + done.stderr
    assert done.returncode == EXIT_BAD_INPUT, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: --engine ray needs Ray, which is not installed here: pip install -r requirements-ray.txt"]
    assert (tmp_path / "local.csv").exists() and not (tmp_path / "ray.csv").exists()


def test_an_address_that_does_not_answer_is_one_error_line_and_exit_1(tmp_path, tiny_model_dir):
    source = tmp_path / "rows.csv"
    write_table(ROWS, source)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    done = subprocess.run([sys.executable, "-m", "reward", "score", str(source), "-o", str(tmp_path / "out.csv"),
                           "--model", str(tiny_model_dir), "-q", "--engine", "ray", "--address", f"127.0.0.1:{port}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == EXIT_FAILED, done.stderr
    assert done.stderr.strip().splitlines() == [
        (f"error: cannot reach the Ray cluster at 127.0.0.1:{port} (Connection refused). Check --address (`ray "
         "status` on the head node shows it), or use --address auto on a node of the cluster.")]
    assert not (tmp_path / "out.csv").exists()


# -- when Ray gives up, or is stopped: what was scored is kept, and the terminal shows one line ---------------------


@pytest.fixture
def ray_temp(tmp_path_factory):
    """A short temporary folder (TMPDIR) for a command's own Ray: its session, and the log of its messages, land there,
    so a test sees which logs the command left. Short, because Ray's socket paths must stay under 107 characters."""
    folder = Path(tempfile.mkdtemp(prefix="rt", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def ray_cli(temp: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``python -m reward`` as its own process, starting its own Ray (2 CPUs' worth of replicas: ``--workers 2``)."""
    return subprocess.run([sys.executable, "-m", "reward", *args], cwd=ROOT, env=cli_env(TMPDIR=str(temp), **env),
                          capture_output=True, text=True, timeout=600, check=False)


def logs_in(temp: Path) -> list[Path]:
    return sorted(temp.glob("reward-ray-*.log"))


def named_log(line: str, temp: Path) -> Path:
    """The log an error line names; it must be the one log the command left, holding Ray's own lines."""
    log = Path(re.search(r"Ray's own messages are in (\S+?\.log)\)", line).group(1))
    assert logs_in(temp) == [log], (line, logs_in(temp))
    return log


def test_a_replica_that_cannot_start_is_one_error_line_and_nothing_is_written(tmp_path, tiny_model_dir, ray_temp):
    """The driver's check of the model passes, and every replica then fails at start-up: Ray's traceback goes to
    the log, the terminal gets one line, stdout (evaluate --json) nothing."""
    results = tmp_path / "results.csv"
    done = ray_cli(ray_temp, "evaluate", str(SAMPLE_PAIRS), "-o", str(results), "--json", "-q", "--model",
                   str(tiny_model_dir), "--device", "cpu", *RAY, **{EXIT_FOR_TESTS_ENV: "start:raise"})
    assert (done.returncode, done.stdout) == (EXIT_FAILED, ""), done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    log = named_log(lines[0], ray_temp)
    assert lines[0] == ("error: Scoring stopped after 0 of 36 pairs (Ray gave up on the job: a model replica could "
                        "not start: RuntimeError: the replica was stopped at start-up by RAY_REPLICA_EXIT_FOR_TESTS; "
                        f"Ray's own messages are in {log}). Nothing was written.")
    assert "Traceback" in log.read_text() and "RuntimeError: the replica was stopped" in log.read_text()
    assert not results.exists()


POISONED = pd.DataFrame({"prompt": [f"q{i}" for i in range(80)],
                         "response": [f"answer {i} " * (1 + i % 7) for i in range(80)],
                         "id": [f"{i:03d}" for i in range(80)]})
"""80 rows; the prompt ``q40`` makes a replica fail (the test hook), so Ray gives up on the block that holds it."""


def test_ray_giving_up_part_way_keeps_the_rows_scored_before(tmp_path, tiny_model_dir, tiny_model, ray_temp):
    """One dataset over the file, a block per 2-row chunk, consumed in order; the block of row 41 (q40) makes a
    replica fail. Every block consumed before Ray gave up is written (how many depends on when the failure overtakes
    them, never past row 40), the rest with empty scores, as the local path keeps a part-way result."""
    source, output, whole = tmp_path / "rows.jsonl", tmp_path / "kept.jsonl", tmp_path / "whole.jsonl"
    write_table(POISONED, source)
    common = ["score", str(source), "--model", str(tiny_model_dir), "--device", "cpu", "-q", *RAY]
    done = ray_cli(ray_temp, *common, "-o", str(whole))  # the same run, unharmed: nothing but its summary line
    assert done.returncode == EXIT_OK and done.stderr == "", done.stderr
    assert len(done.stdout.splitlines()) == 1 and logs_in(ray_temp) == [], "a successful run left its Ray log"
    done = ray_cli(ray_temp, *common, "-o", str(output), **{EXIT_FOR_TESTS_ENV: "raise:q40"})
    assert (done.returncode, done.stdout) == (EXIT_FAILED, ""), done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    log = named_log(lines[0], ray_temp)
    kept_rows = int(re.match(r"error: Scoring stopped after (\d+) of 80 rows", lines[0]).group(1))
    assert 0 < kept_rows <= 40 and kept_rows % 2 == 0, lines[0]  # whole chunks, none past the failed one
    assert lines[0] == (f"error: Scoring stopped after {kept_rows} of 80 rows (Ray gave up on the job: a model replica "
                        "failed: RuntimeError: the replica was stopped on the prompt 'q40' by "
                        f"RAY_REPLICA_EXIT_FOR_TESTS; Ray's own messages are in {log}). The {kept_rows} scored rows "
                        f"were written to {output}; rows {kept_rows + 1}-80 have empty score columns.")
    kept, complete = read_table(output), read_table(whole)
    assert kept[list(POISONED.columns)].equals(POISONED)
    assert (kept["score"][kept_rows:].isna().all() and kept["tokens"][kept_rows:].isna().all()
            and kept["truncated"][kept_rows:].isna().all())
    assert_scores_close(kept["score"][:kept_rows], complete["score"][:kept_rows])  # the unharmed run's rows
    for column in ("tokens", "truncated"):
        assert kept[column][:kept_rows].tolist() == complete[column][:kept_rows].tolist(), column
    here = [s.score for start in range(0, kept_rows, 2)
            for s in tiny_model.score_pairs(POISONED["prompt"][start:start + 2].tolist(),
                                            POISONED["response"][start:start + 2].tolist())]
    assert_scores_close(kept["score"][:kept_rows], here)


def test_evaluate_on_ray_giving_up_part_way_keeps_the_pairs_scored_before(tmp_path, tiny_model_dir, tiny_model,
                                                                          ray_temp):
    """Blocks of 32 texts, 16 pairs: pairs 1-32 are scored, the third block holds pair 41 (q40); the per-pair
    results of the first 32 pairs are written, as evaluate keeps a part-way result."""
    pairs = pd.DataFrame({"prompt": POISONED["prompt"], "chosen": POISONED["response"],
                          "rejected": [f"no {i}" for i in range(80)]})
    source, results = tmp_path / "pairs.csv", tmp_path / "results.csv"
    write_table(pairs, source)
    done = ray_cli(ray_temp, "evaluate", str(source), "-o", str(results), "--model", str(tiny_model_dir), "--device",
                   "cpu", "-q", *RAY, **{EXIT_FOR_TESTS_ENV: "raise:q40"})
    assert (done.returncode, done.stdout) == (EXIT_FAILED, ""), done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: Scoring stopped after 32 of 80 pairs (Ray gave up on the job: a model replica "
                               "failed: RuntimeError: the replica was stopped on the prompt 'q40'"), lines[0]
    assert lines[0].endswith(f"). The 32 scored pairs were written to {results}."), lines[0]
    named_log(lines[0], ray_temp)
    kept = read_table(results)
    assert kept["row"].astype(int).tolist() == list(range(1, 33))
    assert kept["prompt"].tolist() == pairs["prompt"][:32].tolist()
    here = evaluate_pairs(tiny_model, pairs[:32], chunk_rows=2).results
    scale = float(np.abs(here[["score_chosen", "score_rejected"]].to_numpy()).max())
    for column in ("score_chosen", "score_rejected", "margin"):
        assert_scores_close(kept[column].astype(float), here[column], scale=scale, what=column)


def test_sigterm_during_a_ray_job_keeps_the_blocks_scored_and_ends_in_one_line(tmp_path, tiny_model_dir, tiny_model):
    """A SIGTERM (a scheduler's stop) ends the command as Ctrl+C does: exit 130, one line after the progress bar, the
    blocks (chunks) consumed from the stream written; no native stack dump of Ray's."""
    n, chunk = 30_000, 8
    source, output = tmp_path / "many.csv", tmp_path / "many.scored.csv"
    rows = pd.DataFrame({"prompt": [f"Question {i}: what follows {i}?" for i in range(n)],
                         "response": [f"The number {i + 1} follows, as it always has. " * 3 for i in range(n)]})
    write_table(rows, source)
    code, out, err, seen = terminate_after(["score", str(source), "-o", str(output), "--model", str(tiny_model_dir),
                                            "--device", "cpu", "--engine", "ray", "--workers", "2", "--chunk-rows",
                                            str(chunk)], 16 * chunk, timeout=600)
    done = assert_interrupted_and_kept(code, out, err, output, rows, chunk, tiny_model)
    assert done >= seen  # whole chunks: every one the bar had counted, maybe more


@pytest.mark.parametrize("address, reason", [
    # Ray's reason spreads over four lines; it comes whole, in one.
    ("http://127.0.0.1:1", ("Invalid Ray address: 'http://127.0.0.1:1'. It looks like you set RAY_ADDRESS to an "
                            "HTTP address (e.g. the API server address). To fix this, either: 1. Unset RAY_ADDRESS if "
                            "you are running from a Ray node, or 2. Set RAY_ADDRESS to the GCS address instead (e.g. "
                            "<head_node_ip>:6379)")),
    # Ray logs a traceback of its own before it raises this one.
    (":6379", "Malformed host"),
])
def test_a_malformed_address_is_ray_s_whole_reason_in_one_line(tmp_path, tiny_model_dir, ray_temp, address, reason):
    source = tmp_path / "rows.csv"
    write_table(ROWS, source)
    done = ray_cli(ray_temp, "score", str(source), "-o", str(tmp_path / "out.csv"), "--model", str(tiny_model_dir),
                   "-q", "--engine", "ray", "--address", address)
    assert (done.returncode, done.stdout) == (EXIT_FAILED, ""), done.stderr
    assert done.stderr == (f"error: cannot start or reach the Ray cluster at {address}: {reason}. Check --address (the "
                           "head node's `ray status` shows it), or leave it out to run on this machine.\n")
    assert not (tmp_path / "out.csv").exists() and logs_in(ray_temp) == []


@pytest.mark.parametrize("workers, chunks", [(None, RAY_BLOCK_CHUNKS), (1, RAY_BLOCK_CHUNKS), (40, 80)])
def test_a_ray_block_is_enough_chunks_for_every_replica(workers, chunks):
    """evaluate hands Ray blocks of chunks; score hands it the whole file, kept a chunk at a time."""
    args = argparse.Namespace(command="evaluate", engine="ray", chunk_rows=2, workers=workers)
    assert rows_at_once(args) == 2 * max(chunks, RAY_BLOCK_CHUNKS_PER_WORKER * (workers or 0))
    assert rows_at_once(argparse.Namespace(command="score", engine="ray", chunk_rows=2, workers=workers)) == 2
    assert rows_at_once(argparse.Namespace(command="evaluate", engine="local", chunk_rows=2, workers=None)) == 2
