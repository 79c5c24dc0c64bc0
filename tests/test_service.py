"""RewardService: validation before loading, and a failed load remembered for a while."""

import io
import shutil
from pathlib import Path

import pytest

from reward.config import RETRY_LOAD_AFTER_S, Settings
from reward.model.requests import InvalidRequest
from reward.model.reward_model import ModelLoadError
from reward.service import RewardService


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_rank_scores_and_orders(tiny_settings, tiny_model):
    result = RewardService(tiny_settings).rank("Why?", ["one answer", "", "another, longer answer"])
    direct = tiny_model.score("Why?", ["one answer", "another, longer answer"])
    # The service's one request is the model's one call on the same two pairs: the same floats, no arithmetic added.
    assert sorted(r.score for r in result.ranked) == sorted(s.score for s in direct)
    assert [r.index for r in result.ranked] == sorted([0, 2], key=lambda i: -direct[i // 2].score)
    assert result.seconds > 0


def test_bad_input_is_refused_before_loading(tmp_path):
    service = RewardService(Settings(model=str(tmp_path / "absent")))
    with pytest.raises(InvalidRequest):
        service.rank("", ["a"])
    assert service.load_error is None  # no load was tried


def test_a_failed_load_is_remembered_then_retried(tmp_path, tiny_model_dir):
    folder = tmp_path / "model"
    clock = Clock()
    service = RewardService(Settings(model=str(folder), device="cpu"), clock=clock)
    with pytest.raises(ModelLoadError, match="no such folder"):
        service.rank("Why?", ["a"])
    assert "no such folder" in service.load_error
    shutil.copytree(tiny_model_dir, folder)  # the model appears...
    with pytest.raises(ModelLoadError):  # ...but the failure is still remembered
        service.rank("Why?", ["a"])
    clock.now += RETRY_LOAD_AFTER_S + 1
    assert len(service.rank("Why?", ["a", "b"]).ranked) == 2
    assert service.load_error is None


def test_describe_before_and_after_loading(tiny_settings):
    service = RewardService(tiny_settings)
    assert service.describe().model == Path(tiny_settings.model).name
    service.model()
    assert service.describe().parameters > 0


def test_probe_has_the_limits_of_rank_and_is_refused_before_loading(tmp_path):
    service = RewardService(Settings(model=str(tmp_path / "absent")))
    with pytest.raises(InvalidRequest, match="prompt is empty"):
        service.probe("", "An answer.")
    with pytest.raises(InvalidRequest, match="20,001"):
        service.probe("Why?", "x" * 20_001)
    assert service.load_error is None  # no load was tried
    with pytest.raises(ModelLoadError):
        service.probe("Why?", "An answer.")


def test_single_response_work_words_its_refusals_for_one_response(tiny_settings, tiny_model_dir):
    """Explain, probe and attribute look into one response: a refusal speaks of "the response", in Python and on
    the command line as through the API."""
    from reward.cli import EXIT_BAD_INPUT, main

    service = RewardService(tiny_settings)
    for call in (service.explain, service.probe, service.attribute, service.explain_steps):
        with pytest.raises(InvalidRequest, match=r"^The response is blank"):
            call("Why?", "  ")
        with pytest.raises(InvalidRequest, match=r"^The response must be text"):
            call("Why?", 3)
    err = io.StringIO()
    code = main(["explain", "--prompt", "Why?", "--response", " ", "--model", str(tiny_model_dir)], err=err,
                out=io.StringIO())
    assert code == EXIT_BAD_INPUT and err.getvalue().startswith("error: The response is blank")
