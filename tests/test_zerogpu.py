"""ZeroGPU: the model's work runs inside ``spaces.GPU`` there, and nothing changes anywhere else.

The `spaces` package is not installed here. A stand-in written into tmp_path records every
function its ``GPU`` decorator wraps and every call of a wrapped function; `python app.py` runs
with it on PYTHONPATH and ``SPACES_ZERO_GPU=true`` as on a ZeroGPU Space.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import ValidationError

from reward.insight.ranking import rank_responses
from tests.conftest import ROOT, launch_app
from tests.reference import assert_scores_close
from tests.test_server_log import App, assert_quiet

PROMPT = "Why is AI Ethics important?"
RESPONSES = ["Who cares about AI Ethics?", "AI Ethics studies how AI systems affect people and society.", "",
             "Ça va 🙂"]

STAND_IN = '''
"""A stand-in for the `spaces` package: GPU() records what it wraps and each call, in SPACES_RECORD."""
import functools
import json
import os
import sys


def _record(kind, name):
    with open(os.environ["SPACES_RECORD"], "a", encoding="utf-8") as out:
        out.write(json.dumps([kind, name]) + "\\n")


_record("imported", "torch loaded a model already" if "reward.model.reward_model" in sys.modules and
        sys.modules["reward.model.reward_model"]._load_cached.cache_info().currsize else "before any model")


def GPU(fn=None, **options):
    if fn is None:
        return lambda f: GPU(f, **options)
    _record("decorated", fn.__name__)
    _record("duration", [fn.__name__, options.get("duration")])

    @functools.wraps(fn)
    def on_gpu(*args, **kwargs):
        _record("called", fn.__name__)
        return fn(*args, **kwargs)

    return on_gpu
'''

PAGE_ONLY = {"add", "remove", "clear", "pick_row", "pick_columns"}
MODEL_WORK = {"score", "score_page", "explain", "attribute", "run_batch", "run_evaluation"}


def expected_ranking(tiny_model) -> list[dict]:
    kept = [(i, t) for i, t in enumerate(RESPONSES) if t.strip()]
    scores = tiny_model.score(PROMPT, [t for _, t in kept])
    return [r.record() for r in rank_responses([t for _, t in kept], scores, [i for i, _ in kept])]


def assert_same(got: list[dict], expected: list[dict], score_scale: float) -> None:
    assert [{k: v for k, v in r.items() if k != "score"} for r in got] == [
        {k: v for k, v in r.items() if k != "score"} for r in expected]
    assert_scores_close([r["score"] for r in got], [r["score"] for r in expected], scale=score_scale)


def read_record(path: Path) -> list[tuple[str, str]]:
    return [tuple(json.loads(line)) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture(scope="module")
def zerogpu_app(tiny_model_dir, tmp_path_factory):
    """`python app.py` as on a ZeroGPU Space, with the recording stand-in for `spaces`; (app, record file)."""
    tmp = tmp_path_factory.mktemp("zerogpu")
    (tmp / "spaces").mkdir()
    (tmp / "spaces" / "__init__.py").write_text(STAND_IN)
    record = tmp / "record.jsonl"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", str(tmp))
        mp.setenv("SPACES_ZERO_GPU", "true")
        mp.setenv("SPACES_RECORD", str(record))
        app = App(tiny_model_dir, tmp / "app.log")
    with app:
        yield app, record


def test_on_zerogpu_every_model_event_is_wrapped_and_nothing_else(zerogpu_app, tiny_settings):
    import app as app_module
    from reward.service import RewardService

    _, record = zerogpu_app
    entries = read_record(record)
    assert entries[0] == ("imported", "before any model")
    decorated = [name for kind, name in entries if kind == "decorated"]
    assert MODEL_WORK <= set(decorated), decorated
    assert not PAGE_ONLY & set(decorated), decorated
    # As many as the events that run a model: the page-load refresh and instant page events stay out.
    demo = app_module.build_demo(RewardService(tiny_settings))
    assert len(decorated) == sum(fn.concurrency_id in app_module.MODEL_WORK for fn in demo.fns.values())
    # File jobs and the token detail may hold the GPU longer than the 60 s default; the rest keep it.
    from reward.config import GPU_SECONDS

    durations = {}
    for kind, value in entries:
        if kind == "duration":
            durations.setdefault(value[0], set()).add(value[1])
    assert durations["run_batch"] == durations["run_evaluation"] == {GPU_SECONDS["files"]}
    assert GPU_SECONDS["attribute"] in durations["attribute"]
    assert durations["score"] == durations["score_page"] == {None}


def test_a_scoring_on_zerogpu_goes_through_the_decorator_and_scores_the_same(zerogpu_app, tiny_model, score_scale):
    app, record = zerogpu_app
    before = len(read_record(record))
    got = Client(app.url + "/", verbose=False).predict(PROMPT, RESPONSES, api_name="/score")
    assert_same(got, expected_ranking(tiny_model), score_scale)
    assert read_record(record)[before:] == [("called", "score")]
    assert_quiet(app.new_lines(), 0)


def test_a_refused_request_never_asks_for_the_gpu(zerogpu_app):
    app, record = zerogpu_app
    before = len(read_record(record))
    with pytest.raises(ValidationError, match="The prompt is empty"):
        Client(app.url + "/", verbose=False).predict("", ["a"], api_name="/score")
    assert read_record(record)[before:] == []


def test_a_file_job_with_progress_runs_through_the_decorator(zerogpu_app, tiny_model):
    """The file jobs take a gr.Progress parameter: Gradio must still see it through the wrapper."""
    app, record = zerogpu_app
    before = len(read_record(record))
    upload = app.upload("qa.csv", b"prompt,response\nWhy?,Because.\nHow?,Like this.\n")
    status, answer = app.call(app.event("batch-btn", "click", batch_file=upload))
    assert status == 200 and answer["success"] is True, answer
    assert "Scored 2 rows" in json.dumps(answer["output"]["data"][0])
    assert ("called", "run_batch") in read_record(record)[before:]


def test_without_spaces_the_app_starts_scores_unchanged_and_never_imports_it(tiny_settings, tiny_model, score_scale,
                                                                             monkeypatch):
    import importlib.util

    assert importlib.util.find_spec("spaces") is None, "this test needs a machine without the spaces package"
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")  # even where the variable says ZeroGPU, no package: no change
    demo, url = launch_app(tiny_settings)
    try:
        got = Client(url + "/", verbose=False).predict(PROMPT, RESPONSES, api_name="/score")
        assert_same(got, expected_ranking(tiny_model), score_scale)
        assert all(not hasattr(fn.fn, "__wrapped__") for fn in demo.fns.values() if fn.fn is not None)
    finally:
        demo.close()
    assert "spaces" not in sys.modules


def probe(env: dict, pythonpath: Path | None) -> dict:
    """What reward.model.zerogpu decides in a fresh interpreter, and whether `spaces` got imported."""
    code = ("import json, sys; from reward.model import zerogpu; on = zerogpu.detect(); f = lambda: 1; "
            "print(json.dumps({'on': on, 'imported': 'spaces' in sys.modules, 'wrapped': zerogpu.gpu(f) is not f}))")
    full = {k: v for k, v in os.environ.items() if k not in ("SPACES_ZERO_GPU", "PYTHONPATH")}
    full.update(env)
    if pythonpath:
        full["PYTHONPATH"] = str(pythonpath)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=full, capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("value, on", [("true", True), ("1", True), ("True", True), ("t", True), ("false", False),
                                       ("0", False), ("", False), (None, False)])
def test_zerogpu_needs_both_the_package_and_the_variable(tmp_path, value, on):
    (tmp_path / "spaces").mkdir()
    (tmp_path / "spaces" / "__init__.py").write_text(STAND_IN)
    env = {"SPACES_RECORD": str(tmp_path / "record.jsonl")}
    if value is not None:
        env["SPACES_ZERO_GPU"] = value
    assert probe(env, tmp_path) == {"on": on, "imported": on, "wrapped": on}
    # Without the package the variable alone changes nothing.
    assert probe(env, None) == {"on": False, "imported": False, "wrapped": False}

