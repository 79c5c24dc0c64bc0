"""Reward Model Explorer: the Gradio app.

Thin on purpose: the Blocks are built from ``reward`` (plain Python), the handlers
only adapt values between the page and ``RewardService`` and turn problems into
``gr.Error`` messages. Importing this module loads no weights; ``main()`` warms
the model once at launch.

    python app.py                       # the model from REWARD_MODEL (default: the hub id)
    python app.py --model ./my-model    # a local folder
"""

from __future__ import annotations

import argparse
import logging
import sys

import gradio as gr

from reward import about
from reward.config import ConfigError, Settings, add_settings_arguments, settings_from_args
from reward.examples import ExampleSet, load_example_sets
from reward.files import MAX_FILE_BYTES
from reward.model import ModelLoadError
from reward.ranking import plot_frame, ranking_table
from reward.requests import InvalidRequest
from reward.service import RankingResult, RewardService

log = logging.getLogger("reward.app")

# Uploads (the Batch and Evaluate tabs) are refused by the server beyond this size.
MAX_UPLOAD_BYTES = MAX_FILE_BYTES
MAX_RESPONSE_BOXES = 16
START_RESPONSE_BOXES = 2

CSS = """
.gradio-container { max-width: 1280px !important; margin: 0 auto; }
#title h1 { margin-bottom: 0.1em; }
#title p { margin-top: 0; font-size: 1.1em; opacity: 0.8; }
#model-info { font-size: 0.92em; }
#load-error { border-left: 4px solid #dc2626; padding-left: 0.8em; }
/* Keep the ranking inside the screen on phones: columns share the width instead of
   widening the page to the headers' natural size. */
#ranking table { table-layout: fixed; width: 100% !important; min-width: 0 !important; }
@media (max-width: 640px) {
  /* On a phone the figures matter most: the text preview (last column) gives way. */
  #ranking [aria-colindex="6"] { display: none; }
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


def _rank(service: RewardService, prompt, responses) -> RankingResult:
    """Rank, with every problem turned into a message for the person or the API caller."""
    try:
        return service.rank(prompt, responses)
    except (InvalidRequest, ModelLoadError) as err:
        raise gr.Error(str(err)) from None
    except Exception as err:  # noqa: BLE001 - an unexpected failure still gets one clear line
        log.exception("scoring failed")
        raise gr.Error(f"Scoring failed ({type(err).__name__}). Try fewer or shorter responses; "
                       "if it keeps failing, the server log has the details.") from None


def model_panel(service: RewardService, result: RankingResult | None = None) -> str:
    """The short 'what is running' line shown under the title."""
    info = service.describe()
    parts = [
        f"**Model** `{info['model']}`",
        f"**Revision** `{info['revision']}`",
        f"**Device** `{info['device']}`",
        f"**Precision** `{info['precision']}`",
        f"**Max tokens** {info['max_length']}",
    ]
    if result is not None:
        n = len(result.ranked)
        parts.append(f"**Last scoring** {result.seconds * 1000:.0f} ms for {n} response{'s' * (n != 1)}")
    return " · ".join(parts)


def load_error_banner(service: RewardService) -> dict:
    error = service.load_error
    return gr.update(value=f"**The model is not available.** {error}" if error else "", visible=bool(error))


def build_demo(service: RewardService, examples: list[ExampleSet] | None = None) -> gr.Blocks:
    """The whole page and its API, bound to ``service``; nothing is loaded here."""
    examples = load_example_sets() if examples is None else examples
    settings = service.settings

    with gr.Blocks(title=about.TITLE) as demo:
        gr.Markdown(f"# {about.TITLE}\n{about.TAGLINE}", elem_id="title")
        error_banner = gr.Markdown(visible=False, elem_id="load-error")
        info = gr.Markdown(model_panel(service), elem_id="model-info")
        gr.Markdown(about.EXPLAINER.format(max_length=settings.max_length), elem_id="explainer")

        count = gr.State(START_RESPONSE_BOXES)
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=320):
                gr.Markdown("**Try an example**")
                with gr.Row():
                    example_buttons = [gr.Button(ex.title, size="sm", variant="secondary") for ex in examples]
                prompt = gr.Textbox(label="Prompt", placeholder="The question or instruction the responses answer",
                                    lines=2, max_lines=8, elem_id="prompt")
                boxes = [
                    gr.Textbox(label=f"Response {i + 1}", placeholder="A candidate response", lines=3, max_lines=12,
                               visible=i < START_RESPONSE_BOXES, elem_id=f"response-{i + 1}")
                    for i in range(MAX_RESPONSE_BOXES)
                ]
                with gr.Row():
                    add_btn = gr.Button("Add response", size="sm", elem_id="add-btn")
                    remove_btn = gr.Button("Remove last", size="sm", elem_id="remove-btn")
                    clear_btn = gr.Button("Clear all", size="sm", elem_id="clear-btn")
                score_btn = gr.Button("Score", variant="primary", elem_id="score-btn")
                gr.Markdown(f"Up to {MAX_RESPONSE_BOXES} responses here ({settings.max_responses} through the API), "
                            f"{settings.max_chars:,} characters each. Blank responses are skipped.",
                            elem_classes=["hint"])
            with gr.Column(scale=6, min_width=320):
                table = gr.Dataframe(label="Ranking (best first)", elem_id="ranking", interactive=False, wrap=True,
                                     column_widths=["8%", "14%", "11%", "16%", "13%", "38%"])
                plot = gr.BarPlot(x="Response", y="Reward", sort="-y", label="Reward per response (rank order)",
                                  x_title="Response", y_title="Reward (logit)", x_label_angle=0, height=320,
                                  elem_id="reward-plot")
        gr.Markdown(about.FOOTER)

        def show(n: int) -> list:
            return [gr.update(visible=i < n) for i in range(MAX_RESPONSE_BOXES)]

        def add(n: int):
            if n >= MAX_RESPONSE_BOXES:
                gr.Warning(f"The page holds at most {MAX_RESPONSE_BOXES} responses.")
            n = min(n + 1, MAX_RESPONSE_BOXES)
            return n, *show(n)

        def remove(n: int, *texts: str):
            if n <= 1:
                return n, *[gr.update() for _ in range(MAX_RESPONSE_BOXES)]
            n -= 1
            # The removed box is emptied so that showing it again starts blank.
            return n, *[gr.update(visible=i < n, value="" if i == n else texts[i]) for i in range(MAX_RESPONSE_BOXES)]

        def clear():
            n = START_RESPONSE_BOXES
            return n, "", *[gr.update(visible=i < n, value="") for i in range(MAX_RESPONSE_BOXES)], None, None

        def load_example(ex: ExampleSet):
            texts = ex.responses[:MAX_RESPONSE_BOXES]
            n = max(len(texts), 1)
            return (n, ex.prompt,
                    *[gr.update(visible=i < n, value=texts[i] if i < len(texts) else "") for i in range(MAX_RESPONSE_BOXES)])

        def score_page(prompt_text: str, n: int, *texts: str):
            result = _rank(service, prompt_text, list(texts[:n]))
            return (ranking_table(result.ranked, settings.max_length), plot_frame(result.ranked),
                    model_panel(service, result), load_error_banner(service))

        # Page-only events skip the queue: they are instant and must not wait behind scoring.
        add_btn.click(add, count, [count, *boxes], api_visibility="private", queue=False)
        remove_btn.click(remove, [count, *boxes], [count, *boxes], api_visibility="private", queue=False)
        clear_btn.click(clear, None, [count, prompt, *boxes, table, plot], api_visibility="private", queue=False)
        for button, ex in zip(example_buttons, examples):
            button.click(lambda ex=ex: load_example(ex), None, [count, prompt, *boxes], api_visibility="private",
                         queue=False)

        gr.on(triggers=[score_btn.click, prompt.submit], fn=score_page, inputs=[prompt, count, *boxes],
              outputs=[table, plot, info, error_banner], api_visibility="private",
              concurrency_id="scoring", concurrency_limit=settings.concurrency)

        def score(prompt: str, responses: list[str]) -> list[dict]:
            """Score candidate responses to a prompt and rank them, best first.

            Each record has rank (1 = best), index (position in `responses`, from 0),
            response, score (the raw reward logit), tokens (read by the model, special
            tokens included) and truncated (cut at the model's length limit).
            Blank responses are skipped.
            """
            return [r.record() for r in _rank(service, prompt, responses).ranked]

        gr.api(score, api_name="score", concurrency_id="scoring", concurrency_limit=settings.concurrency)

        def on_page_load():
            return model_panel(service), load_error_banner(service)

        demo.load(on_page_load, None, [info, error_banner], api_visibility="private")
    return demo


def launch(demo: gr.Blocks, settings: Settings, **kwargs):
    """Queue and launch with the app's look and limits; kwargs go to ``Blocks.launch``."""
    # Scoring requests (page and API share one limit) run up to settings.concurrency at
    # a time and are merged into shared forward passes by RewardService; at most
    # settings.queue_size more wait, and a caller beyond that is told the queue is full
    # at once instead of hanging.
    demo.queue(max_size=settings.queue_size, default_concurrency_limit=settings.concurrency)
    return demo.launch(theme=gr.themes.Soft(primary_hue="indigo"), css=CSS, js=SHORTCUT_JS, share=False,
                       max_file_size=MAX_UPLOAD_BYTES, max_threads=max(40, settings.concurrency + 8), **kwargs)


def parse_settings(argv: list[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(description=f"{about.TITLE}: {about.TAGLINE}")
    add_settings_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return settings_from_args(args)
    except ConfigError as err:
        parser.exit(2, f"error: {err}\n")


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per internal request otherwise
    settings = parse_settings(argv)
    service = RewardService(settings)
    try:
        service.model()  # warm up once, before the first visitor
    except ModelLoadError as err:
        # The page still starts: it shows this message, and so does every Score.
        print(f"error: {err}", file=sys.stderr)
    launch(build_demo(service), settings)


if __name__ == "__main__":
    main()
