"""Shared fixtures: a tiny offline BERT reward model, and the app launched on it.

The offline variables must be set before anything imports gradio or
huggingface_hub, so they come first.
"""

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import socket  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402

from reward.config import Settings  # noqa: E402
from reward.tiny import build_tiny_reward_model  # noqa: E402

# Machines are noisy: no per-example deadline; in CI the same examples every run.
hypothesis_settings.register_profile("default", deadline=None)
hypothesis_settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "default")

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny BERT reward model saved like the real one (safetensors, fast tokenizer)."""
    return build_tiny_reward_model(tmp_path_factory.mktemp("tiny-reward-model"))


@pytest.fixture(scope="session")
def tiny_settings(tiny_model_dir) -> Settings:
    return Settings(model=str(tiny_model_dir), device="cpu")


@pytest.fixture(scope="session")
def tiny_model(tiny_settings):
    from reward.model import load_from_settings

    return load_from_settings(tiny_settings)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_app(settings: Settings):
    """Launch the real app (build_demo + launch) on a free loopback port; returns (demo, url)."""
    import app
    from reward.service import RewardService

    demo = app.build_demo(RewardService(settings))
    _, url, _ = app.launch(demo, settings, prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(),
                           quiet=True)
    return demo, url.rstrip("/")


@pytest.fixture(scope="session")
def app_url(tiny_settings):
    """The app on the tiny model, launched once for the session."""
    demo, url = launch_app(tiny_settings)
    yield url
    demo.close()


@pytest.fixture(scope="session")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)
