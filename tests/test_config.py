"""Configuration from the environment and the command line."""

import argparse

import pytest

from reward.config import (
    DEFAULT_MODEL,
    ConfigError,
    Settings,
    add_settings_arguments,
    settings_from_args,
    settings_from_env,
)


def test_defaults_keep_the_real_hub_model():
    s = settings_from_env({})
    assert s == Settings()
    assert s.model == DEFAULT_MODEL == "nicholasKluge/RewardModel"
    assert (s.device, s.precision, s.max_length) == ("auto", "fp32", 512)


def test_environment_variables_are_read():
    s = settings_from_env({"REWARD_MODEL": "/models/rm", "REWARD_REVISION": "ddb06f4", "REWARD_DEVICE": "cpu",
                           "REWARD_MAX_LENGTH": "256", "REWARD_BATCH_SIZE": "4", "REWARD_PRECISION": "bf16"})
    assert (s.model, s.revision, s.device, s.max_length, s.batch_size, s.precision) == (
        "/models/rm", "ddb06f4", "cpu", 256, 4, "bf16")


def test_blank_variables_mean_default():
    assert settings_from_env({"REWARD_MODEL": "  ", "REWARD_REVISION": ""}) == Settings()


def test_flags_override_the_environment():
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser)
    args = parser.parse_args(["--model", "/flag/model", "--max-length", "128"])
    s = settings_from_args(args, {"REWARD_MODEL": "/env/model", "REWARD_BATCH_SIZE": "2"})
    assert (s.model, s.max_length, s.batch_size) == ("/flag/model", 128, 2)


@pytest.mark.parametrize(
    "env, message",
    [
        ({"REWARD_MAX_LENGTH": "lots"}, "REWARD_MAX_LENGTH='lots' is not a whole number"),
        ({"REWARD_MAX_LENGTH": "0"}, "out of range"),
        ({"REWARD_BATCH_SIZE": "-1"}, "REWARD_BATCH_SIZE=-1 is out of range"),
        ({"REWARD_DEVICE": "tpu"}, "REWARD_DEVICE='tpu' is not one of"),
        ({"REWARD_PRECISION": "int4"}, "REWARD_PRECISION='int4' is not one of"),
    ],
)
def test_bad_values_name_the_variable(env, message):
    with pytest.raises(ConfigError, match=message):
        settings_from_env(env)


def test_cuda_index_is_a_valid_device():
    assert Settings(device="cuda:1").device == "cuda:1"


def test_the_readme_documents_every_setting():
    from reward.config import SETTINGS_HELP
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, (var, _) in SETTINGS_HELP.items():
        flag = "--" + name.replace("_", "-")
        assert f"| `{var}` | `{flag}` |" in readme, f"README's configuration table lacks {var}"
