"""``--engine ray``: the same output as the single-process path, on a local Ray with two model replicas.

Ray starts once for the module (two CPUs, no dashboard); ``main()`` runs in this process and uses it.
Each Ray run starts two replicas, and each loads the tiny model once.
"""

import json
import logging
import os
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from reward.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, main
from reward.config import SAMPLE_PAIRS
from reward.jobs.distributed import EXIT_FOR_TESTS_ENV
from reward.tables.reading import read_table
from reward.tables.writing import write_table
from tests.conftest import ROOT
from tests.reference import card_score

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
    """Every column but score exactly equal (values and types), scores within 1e-5, same row order."""
    local, distributed = read_table(local_path), read_table(ray_path)
    assert list(distributed.columns) == list(local.columns)
    pd.testing.assert_frame_equal(distributed.drop(columns="score"), local.drop(columns="score"), check_exact=True)
    assert distributed["score"].dtype == local["score"].dtype
    gap = distributed["score"].astype(float).to_numpy() - local["score"].astype(float).to_numpy()  # CSV: text
    assert np.abs(gap).max() < 1e-5
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
    assert np.abs(back["score"].astype(float).to_numpy() - [c[0] for c in card]).max() < 1e-4
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
    for column in ("score_chosen", "score_rejected", "margin"):
        assert np.abs(distributed[column].astype(float) - local[column].astype(float)).max() < 1e-5
    # The figures are the local run's, and those of the per-pair scores Ray wrote, counted here.
    chosen, rejected = distributed["score_chosen"].astype(float), distributed["score_rejected"].astype(float)
    wins = int((chosen > rejected).sum())
    assert ray_summary["n"] == local_summary["n"] == len(distributed)
    assert ray_summary["correct"] == local_summary["correct"] == wins
    assert ray_summary["accuracy"] == local_summary["accuracy"] == wins / len(distributed)
    assert ray_summary["ties"] == local_summary["ties"] == int((chosen == rejected).sum())
    for key in ("ci_low", "ci_high"):  # the same pairs and seed: the same bootstrap interval
        assert ray_summary[key] == local_summary[key]
    assert abs(ray_summary["mean_margin"] - float((chosen - rejected).mean())) < 1e-5
    assert abs(ray_summary["mean_margin"] - local_summary["mean_margin"]) < 1e-5
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
    last = err.strip().splitlines()[-1]  # Ray's own start-up lines come first, on stderr
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
