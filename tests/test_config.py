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


@pytest.mark.parametrize("raw, on", [("1", True), ("true", True), ("On", True), ("yes", True), ("0", False),
                                     ("false", False), ("OFF", False), ("no", False)])
def test_reward_mcp_reads_the_usual_words(raw, on):
    assert settings_from_env({"REWARD_MCP": raw}).mcp is on


def test_mcp_is_on_by_default_and_no_mcp_turns_it_off_over_the_environment():
    assert Settings().mcp is True and settings_from_env({}).mcp is True
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser, app=True)
    assert settings_from_args(parser.parse_args(["--no-mcp"]), {"REWARD_MCP": "1"}).mcp is False
    assert settings_from_args(parser.parse_args(["--mcp", "0"]), {}).mcp is False
    assert settings_from_args(parser.parse_args([]), {"REWARD_MCP": "0"}).mcp is False


def test_the_command_line_has_no_web_app_flags():
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser)
    for flag in ("--no-mcp", "--mcp", "--compare-models"):
        with pytest.raises(SystemExit):
            parser.parse_args([flag, "0"] if flag != "--no-mcp" else [flag])


@pytest.mark.parametrize("raw, models", [
    ("a/b", ("a/b",)),
    (" a/b , ./folder ,", ("a/b", "./folder")),  # spaces around entries and a trailing comma are fine
    ("OpenAssistant/reward-model-deberta-v3-large-v2,nicholasKluge/Harmless-RewardModel",
     ("OpenAssistant/reward-model-deberta-v3-large-v2", "nicholasKluge/Harmless-RewardModel")),
])
def test_compare_models_are_comma_separated(raw, models):
    assert settings_from_env({"REWARD_COMPARE_MODELS": raw}).compare_models == models
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser, app=True)
    assert settings_from_args(parser.parse_args(["--compare-models", raw]), {}).compare_models == models


def test_no_compare_models_by_default():
    assert Settings().compare_models == () and settings_from_env({"REWARD_COMPARE_MODELS": " "}).compare_models == ()


@pytest.mark.parametrize("env, message", [
    ({"REWARD_MCP": "maybe"}, "REWARD_MCP='maybe' is not 1 or 0"),
    ({"REWARD_COMPARE_MODELS": "a,,b"}, "empty entry \\(number 2\\)"),
    ({"REWARD_COMPARE_MODELS": "a, a"}, "lists 'a' twice"),
    ({"REWARD_COMPARE_MODELS": DEFAULT_MODEL}, "main model, REWARD_MODEL, is always in the lineup"),
    ({"REWARD_COMPARE_MODELS": ",".join(f"m{i}" for i in range(9))}, "lists 9 models; the limit is 8"),
])
def test_bad_app_settings_name_the_variable(env, message):
    with pytest.raises(ConfigError, match=message):
        settings_from_env(env)


@pytest.mark.parametrize("device", ["auto", "cpu", "cuda", "cuda:1", "mps"])
def test_precision_auto_is_accepted_on_every_device(device):
    from reward.config import precision_problem

    assert settings_from_env({"REWARD_PRECISION": "auto", "REWARD_DEVICE": device}).precision == "auto"
    assert precision_problem("auto", device.split(":")[0]) is None
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser)
    assert settings_from_args(parser.parse_args(["--precision", "auto"]), {"REWARD_PRECISION": "bf16"}).precision == "auto"


def test_fp32_stays_the_default_and_auto_is_documented():
    from reward.config import SETTINGS_HELP
    from tests.conftest import ROOT

    assert Settings().precision == "fp32"
    help_text = SETTINGS_HELP["precision"][1]
    assert "auto" in help_text and "fp32 (exact, default)" in help_text
    row = next(line for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
               if line.startswith("| `REWARD_PRECISION` |"))
    assert "auto" in row and "AVX512-BF16" in row, row
