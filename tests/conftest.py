"""Shared fixtures: a tiny offline BERT reward model, and the app launched on it.

The offline variables must be set before anything imports gradio or
huggingface_hub, so they come first.
"""

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import shutil  # noqa: E402
import socket  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402

from reward.config import Settings  # noqa: E402
from reward.model.tiny import build_tiny_reward_model  # noqa: E402

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
    from reward.model.reward_model import load_from_settings

    return load_from_settings(tiny_settings)


@pytest.fixture(scope="session")
def score_scale(tiny_model) -> float:
    """How large the tiny model's scores run (see tests.reference.typical_score_size): the ``scale`` for bounding
    the rounding drift of a lone score, since each build of the tiny model scores differently."""
    from tests.reference import typical_score_size

    return typical_score_size(tiny_model)


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


# -- a real browser (Debian's chromium) on the launched app; in CI (CI=true) a missing browser fails the run

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing = "playwright is not installed (pip install -r requirements-dev.txt)"
    if missing is None and not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        missing = f"no chromium at {CHROMIUM} (apt-get install chromium)"
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run in CI: {missing}")
        pytest.skip(missing)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    outside = []
    page.on("request", lambda r: outside.append(r.url)
            if not r.url.startswith((app_url, "data:", "blob:")) else None)
    page.goto(app_url)
    page.locator("#score-btn").wait_for()
    yield page
    context.close()
    assert not outside, f"the page reached outside the app: {outside}"
