"""Reward Model Explorer: puts the page together from ``ui/``, launches it, and holds ``main()``.

Importing this module loads no weights; ``main()`` warms the model once at launch.

    python app.py                       # the model from REWARD_MODEL (default: the hub id)
    python app.py --model ./my-model    # a local folder
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings

import gradio as gr
from starlette.middleware import Middleware

from reward.config import (
    GPU_SECONDS,
    MAX_FILE_BYTES,
    PAGE_RESPONSE_BOXES,
    SAMPLE_PAIRS,
    ConfigError,
    Settings,
    add_settings_arguments,
    settings_from_args,
)
from reward.lineup import Lineup
from reward.model import zerogpu
from reward.service import RewardService
from ui import text
from ui.body_limit import BodyLimit, request_body_limit
from ui.compare.conversation import add_score_chat_api
from ui.compare.examples import ExampleSet, load_example_sets
from ui.compare.pair import add_pair_api
from ui.compare.tab import SCORING, add_score_api, build_compare_tab
from ui.compare.whatif import add_whatif_api
from ui.compare.why import add_explain_api
from ui.files.batch import build_batch_tab
from ui.files.evaluate import build_evaluate_tab
from ui.front_door import FrontDoor
from ui.models import add_models_api, build_models_tab
from ui.page import CSS, SHORTCUT_JS, THEME, header, load_error_banner, model_panel
from ui.protocol import WaitingBounds, quiet_preprocessing
from ui.runtime import limit_malloc_arenas

log = logging.getLogger("reward.app")

MODEL_WORK = ("scoring", "explain", "attribute", "probe", "files", "models")
"""The concurrency ids of the events that run a model: on ZeroGPU each runs inside ``spaces.GPU``."""


def build_demo(service: RewardService, examples: list[ExampleSet] | None = None,
               lineup: Lineup | None = None) -> gr.Blocks:
    """The whole page and its API, bound to ``service`` (and, when REWARD_COMPARE_MODELS lists models, to
    ``lineup``, made from ``service`` if not given); nothing is loaded here."""
    examples = load_example_sets() if examples is None else examples
    if lineup is None and service.settings.compare_models:
        lineup = Lineup(service)
    with gr.Blocks(title=text.TITLE) as demo:
        banner, panel = header(service)
        with gr.Tabs() as tabs:
            with gr.Tab("Compare", id="compare"):
                compare = build_compare_tab(service, examples, banner, panel)
            with gr.Tab("Score a file", id="batch"):
                build_batch_tab(service)
            with gr.Tab("Evaluate", id="evaluate"):
                evaluate = build_evaluate_tab(service)
            if lineup is not None:
                with gr.Tab("Models", id="models"):
                    build_models_tab(lineup)
        gr.Markdown(text.FOOTER)
        add_score_api(demo, service)
        add_explain_api(demo, service)
        add_pair_api(demo, service)
        add_whatif_api(demo, service)
        add_score_chat_api(demo, service, SCORING)
        if lineup is not None:
            add_models_api(demo, lineup)
        demo.load(lambda: (model_panel(service), load_error_banner(service)), None, [panel, banner],
                  api_visibility="private")
        compare.open_links(demo)
        compare.open_pair(evaluate.opened, tabs)  # a pair of the Evaluate tab, opened in Compare
    run_model_work_on_gpu(demo)
    return demo


def run_model_work_on_gpu(demo: gr.Blocks) -> None:
    """On ZeroGPU, wrap every event that runs a model in ``spaces.GPU`` (elsewhere this changes nothing).

    Gradio reads an event's parameters (a file job's ``gr.Progress``) through the wrapper, which keeps
    the signature; validators stay outside: a refused request never asks for the GPU."""
    for block_fn in demo.fns.values():
        if block_fn.concurrency_id in MODEL_WORK and block_fn.fn is not None:
            block_fn.fn = zerogpu.gpu(block_fn.fn, GPU_SECONDS.get(block_fn.concurrency_id))


def launch(demo: gr.Blocks, settings: Settings, **kwargs):
    """Queue and launch with the app's look and limits; kwargs go to ``Blocks.launch``."""
    # Scoring requests (page and API share one limit) run up to settings.concurrency at
    # a time and are merged into shared forward passes by RewardService; at most
    # settings.queue_size more wait, and a caller beyond that is told the queue is full
    # at once instead of hanging.
    # api_open=False: no route skips the queue (Gradio leaves /gradio_api/run/* open off
    # Spaces), so every scoring request meets the validators and the limits above.
    quiet_preprocessing(demo)  # an input Gradio cannot read is the caller's problem, not a traceback in the log
    demo.queue(max_size=settings.queue_size, default_concurrency_limit=settings.concurrency, api_open=False)
    # The public API (/score, /explain, ...) doubles as MCP tools at /gradio_api/mcp/ (REWARD_MCP=0: off).
    problem = mcp_problem() if settings.mcp else None
    bounds = WaitingBounds(demo, settings.queue_size)  # slow work waits in a part of the queue, scoring in the rest
    mcp = None
    if settings.mcp and not problem:
        from ui.mcp_door import McpDoor  # needs gradio[mcp]

        mcp = McpDoor(demo, bounds)
    # Request bodies are capped at what the largest valid request needs (the page sends
    # the prompt and all its boxes); files go through the upload route and its own limit.
    # Inside that cap, requests to events and tools that do not fit them are refused in one line.
    body_limit = Middleware(
        BodyLimit,
        max_bytes=request_body_limit(1 + max(settings.max_responses, PAGE_RESPONSE_BOXES), settings.max_chars),
        exempt=("/gradio_api/upload",),
        hint=f"Shorten the texts (up to {settings.max_chars:,} characters each) or send fewer responses "
             f"(up to {settings.max_responses}).")
    app_kwargs = dict(kwargs.pop("app_kwargs", None) or {})
    app_kwargs["middleware"] = [*app_kwargs.get("middleware", []), body_limit,
                                Middleware(FrontDoor, demo=demo, bounds=bounds, mcp=mcp)]
    # Launch without blocking, so that the tool calls are checked from the first; then block as Gradio would.
    block = not kwargs.pop("prevent_thread_lock", False)
    launched = demo.launch(theme=THEME, css=CSS, js=SHORTCUT_JS, share=False, max_file_size=MAX_FILE_BYTES,
                           max_threads=max(40, settings.concurrency + 8), mcp_server=mcp is not None,
                           allowed_paths=[str(SAMPLE_PAIRS.parent)], app_kwargs=app_kwargs,
                           prevent_thread_lock=True, **kwargs)
    if mcp is not None:
        mcp.install()  # on Gradio's MCP server, which launch made
    problem = problem or (demo.mcp_error if settings.mcp else None)
    if problem:
        log.warning("The MCP tools are off: %s. Install them with pip install \"gradio[mcp]\", or set REWARD_MCP=0.",
                    " ".join(problem.split()).rstrip("."))
    if block:
        demo.block_thread()
    return launched


def mcp_problem() -> str | None:
    """Why Gradio's MCP server cannot start here (its extra is missing), or None: the app then starts
    without it instead of failing."""
    try:
        import gradio.mcp  # noqa: F401
    except ImportError as err:
        return f"Gradio's MCP server cannot be imported ({err})"
    return None


def parse_settings(argv: list[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(description=f"{text.TITLE}: {text.TAGLINE}")
    add_settings_arguments(parser, app=True)
    args = parser.parse_args(argv)
    try:
        return settings_from_args(args)
    except ConfigError as err:
        parser.exit(2, f"error: {err}\n")


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # httpx and the MCP server log a line or more per request otherwise
    for noisy in ("httpx", "mcp"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Gradio's queue statistics use pandas options that pandas 3 deprecates: four lines at the first
    # event that nobody running the app can act on.
    warnings.filterwarnings("ignore", message=r".*(no_silent_downcasting|copy keyword)", module=r"gradio\.queueing")
    settings = parse_settings(argv)
    limit_malloc_arenas()  # memory stays flat under many worker threads; see ui/runtime.py
    if zerogpu.detect():  # imports `spaces` on ZeroGPU, before any model (and CUDA) starts
        log.info("ZeroGPU: scoring, explaining and file jobs run inside spaces.GPU")
    service = RewardService(settings)
    lineup = Lineup(service)  # the main model, and those of REWARD_COMPARE_MODELS
    for reason in lineup.load().values():  # warm up once, before the first visitor
        # The page still starts: it shows this message, and so does every Score.
        print(f"error: {reason}", file=sys.stderr)
    launch(build_demo(service, lineup=lineup if settings.compare_models else None), settings)


if __name__ == "__main__":
    main()
