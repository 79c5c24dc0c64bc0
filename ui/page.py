"""What every tab shares: the look, the header with the model panel and load-error banner, and problems as messages."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

import gradio as gr

from reward.config import ModelLoadError
from reward.insight.attribution import AttributionUnavailable
from reward.model.requests import InvalidRequest
from reward.service import RankingResult, RewardService
from reward.tables.formats import FileProblem

from . import text

log = logging.getLogger("reward.app")

THEME = gr.themes.Soft(primary_hue="indigo")

CSS = """
.gradio-container { max-width: 1280px !important; margin: 0 auto; }
#title h1 { margin-bottom: 0.1em; }
#title p { margin-top: 0; font-size: 1.1em; opacity: 0.8; }
#model-info { font-size: 0.92em; }
#load-error { border-left: 4px solid #dc2626; padding-left: 0.8em; }
/* Keep the ranking inside the screen on phones: columns share the width instead of
   widening the page to the headers' natural size. */
#ranking table, #why-effects table { table-layout: fixed; width: 100% !important; min-width: 0 !important; }
/* Altair charts are drawn at a fixed size: on a narrow screen they shrink to fit instead of widening the page. */
.altair, .altair .vega-embed, .altair .chart-wrapper { max-width: 100%; min-width: 0; }
.altair canvas, .altair svg.marks { max-width: 100% !important; height: auto !important; }
/* Where results will appear, one line that says what to do. */
.empty-hint { border: 1px dashed var(--border-color-primary); border-radius: var(--radius-lg); padding: 0.2em 1em;
              opacity: 0.85; }
#share-link textarea { max-height: 4.6em; overflow-y: auto !important; word-break: break-all; }
@media (max-width: 640px) {
  /* On a phone the figures matter most: the text preview (last column) gives way. */
  #ranking [aria-colindex="6"] { display: none; }
  /* The sentences are shown highlighted above their effects: the table keeps the figures. */
  #why-effects [aria-colindex="2"] { display: none; }
  #ranking { font-size: 0.9em; }
}
"""

# Ctrl+Enter (Cmd+Enter on a Mac) scores from anywhere on the page.
SHORTCUT_JS = """
() => {
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
      const button = document.querySelector("#score-btn");
      if (button) { e.preventDefault(); button.click(); }
    }
  });
}
"""

EXPECTED_PROBLEMS = (InvalidRequest, ModelLoadError, FileProblem, AttributionUnavailable)
"""Problems with what the user gave or set up: shown as they are, never logged with a traceback."""


@contextlib.contextmanager
def problems_as_messages(what: str, hint: str = "Try again with less or simpler input"):
    """Turn every problem raised inside into a ``gr.Error`` the person (or API caller) can act on.

    Expected problems keep their own message and leave no traceback in the log;
    anything else is a bug, logged once with its traceback and reported as one
    line: "``what`` failed (its type). ``hint``; ...". Yields a list: server paths
    appended to it are shown by their file name only.
    """
    hide: list[Path] = []
    try:
        yield hide
    except gr.Error:
        raise
    except EXPECTED_PROBLEMS as err:
        raise gr.Error(without_paths(str(err), *hide), print_exception=False) from None
    except Exception as err:  # noqa: BLE001 - an unexpected failure still gets one clear line
        log.exception("%s failed", what)
        raise gr.Error(f"{what} failed ({type(err).__name__}). {hint}; if it keeps failing, the server log has "
                       "the details.", print_exception=False) from None


def ranked_by(rank: Callable[[object, object], RankingResult], prompt: object,
              responses: object) -> RankingResult:
    """``rank(prompt, responses)`` (a service's ``rank`` or ``rank_chat``), with every problem turned into a message
    for the person or the API caller."""
    with problems_as_messages("Scoring", "Try fewer or shorter responses"):
        return rank(prompt, responses)


def refusals(check: Callable[[], object], inputs: int, input_at_fault: Callable[[InvalidRequest], int]) -> list[dict]:
    """A Gradio validator's verdicts: every input valid, or the one at fault with the message.

    Validators run when a request asks to join the queue, so a request the limits
    refuse is answered at once and never waits behind others for a worker.
    ``check()`` raises InvalidRequest for a refused request; ``input_at_fault(err)``
    maps it to the position of the event input to mark.
    """
    try:
        check()
    except InvalidRequest as err:
        at_fault = input_at_fault(err)
        return [gr.validate(i != at_fault, str(err) if i == at_fault else "") for i in range(inputs)]
    return [gr.validate(True, "") for _ in range(inputs)]


def refuse_request(check: Callable[[object, object], object]) -> Callable[[object, object], list[dict]]:
    """The validator of an API endpoint taking ``(prompt, responses)``: ``check(prompt, responses)`` raises
    InvalidRequest, and its message goes on the prompt or on the responses."""
    return lambda prompt, responses: refusals(lambda: check(prompt, responses), 2,
                                              lambda err: 0 if err.field == "prompt" else 1)


def refuse_boxes(check: Callable[[object, object], object], prompt: str, boxes: list[str], inputs: int,
                 first_box: int) -> list[dict]:
    """The validator's verdicts for a page event whose inputs hold the prompt first and the response boxes from
    position ``first_box`` on: a response's message goes on its own box (a conversation's on the prompt's)."""
    return refusals(lambda: check(prompt, boxes), inputs,
                    lambda err: 0 if err.field in ("prompt", "messages") else first_box + (err.index or 0))


def without_paths(message: str, *paths: Path) -> str:
    """``message`` with each server path (and its folder) reduced to the file's name."""
    for path in paths:
        message = message.replace(str(path), path.name).replace(str(path.parent), "the server's temp folder")
    return message


def model_panel(service: RewardService, result: RankingResult | None = None) -> str:
    """The short 'what is running' line shown under the title."""
    info = service.describe()
    # Why auto picked it first, then what it means: "bf16 (auto: this CPU has AVX512-BF16; bf16 matrix products...)".
    details = "; ".join(part for part in (info.precision_reason, info.precision_note) if part)
    precision = f"**Precision** `{info.precision}`" + (f" ({details})" if details else "")
    parts = [f"**Model** `{info.model}`", f"**Revision** `{info.revision}`", f"**Device** `{info.device}`",
             precision, f"**Max tokens** {info.max_length}"]
    if result is not None:
        n = len(result.ranked)
        parts.append(f"**Last scoring** {result.seconds * 1000:.0f} ms for {n} response{'s' * (n != 1)}")
    return " · ".join(parts)


def load_error_banner(service: RewardService) -> dict:
    error = service.load_error
    return gr.update(value=f"**The model is not available.** {error}" if error else "", visible=bool(error))


def header(service: RewardService) -> tuple[gr.Markdown, gr.Markdown]:
    """Title, load-error banner, model panel and explainer; returns (banner, panel) for events to update."""
    gr.Markdown(f"# {text.TITLE}\n{text.TAGLINE}", elem_id="title")
    banner = gr.Markdown(visible=False, elem_id="load-error")
    panel = gr.Markdown(model_panel(service), elem_id="model-info")
    gr.Markdown(text.EXPLAINER.format(max_length=service.settings.max_length), elem_id="explainer")
    return banner, panel
