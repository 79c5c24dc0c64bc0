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
import tempfile
from pathlib import Path

import gradio as gr
from starlette.middleware import Middleware

from reward import about
from reward.body_limit import BodyLimit, request_body_limit
from reward.config import ConfigError, Settings, add_settings_arguments, settings_from_args
from reward.evaluate import LAYOUT_NAMES, SAMPLE_PAIRS, evaluate_to_file, read_pairs, worst_pairs
from reward.examples import ExampleSet, load_example_sets
from reward.files import (
    MAX_FILE_BYTES,
    FileProblem,
    ScoringInterrupted,
    histogram_frame,
    load_for_scoring,
    preview_frame,
    read_table,
    score_to_file,
    scored_name,
    suggest_columns,
)
from reward.model import ModelLoadError
from reward.ranking import plot_frame, ranking_table
from reward.requests import InvalidRequest
from reward.runtime import limit_malloc_arenas
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


def refusals(service: RewardService, prompt, responses, inputs: int, input_at_fault) -> list[dict]:
    """A Gradio validator's verdicts: every input valid, or the one at fault with the message.

    Validators run when a request asks to join the queue, so a request the limits
    refuse is answered at once and never waits behind others for a worker.
    ``input_at_fault(err)`` maps an InvalidRequest to the position of the event input
    to mark.
    """
    try:
        service.check(prompt, responses)
    except InvalidRequest as err:
        at_fault = input_at_fault(err)
        return [gr.validate(i != at_fault, str(err) if i == at_fault else "") for i in range(inputs)]
    return [gr.validate(True, "") for _ in range(inputs)]


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
    if info.get("precision_note"):
        parts[3] += f" ({info['precision_note']})"
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

        with gr.Tabs():
            with gr.Tab("Compare", id="compare"):
                count = gr.State(START_RESPONSE_BOXES)
                with gr.Row(equal_height=False):
                    with gr.Column(scale=5, min_width=320):
                        gr.Markdown("**Try an example**")
                        with gr.Row():
                            example_buttons = [gr.Button(ex.title, size="sm", variant="secondary")
                                               for ex in examples]
                        prompt = gr.Textbox(label="Prompt", lines=2, max_lines=8, elem_id="prompt",
                                            placeholder="The question or instruction the responses answer")
                        boxes = [
                            gr.Textbox(label=f"Response {i + 1}", placeholder="A candidate response", lines=3,
                                       max_lines=12, visible=i < START_RESPONSE_BOXES, elem_id=f"response-{i + 1}")
                            for i in range(MAX_RESPONSE_BOXES)
                        ]
                        with gr.Row():
                            add_btn = gr.Button("Add response", size="sm", elem_id="add-btn")
                            remove_btn = gr.Button("Remove last", size="sm", elem_id="remove-btn")
                            clear_btn = gr.Button("Clear all", size="sm", elem_id="clear-btn")
                        score_btn = gr.Button("Score", variant="primary", elem_id="score-btn")
                        gr.Markdown(f"Up to {MAX_RESPONSE_BOXES} responses here ({settings.max_responses} through "
                                    f"the API), {settings.max_chars:,} characters each. Blank responses are skipped.",
                                    elem_classes=["hint"])
                    with gr.Column(scale=6, min_width=320):
                        table = gr.Dataframe(label="Ranking (best first)", elem_id="ranking", interactive=False,
                                             wrap=True, column_widths=["8%", "14%", "11%", "16%", "13%", "38%"])
                        plot = gr.BarPlot(x="Response", y="Reward", sort="-y", label="Reward per response (rank order)",
                                          x_title="Response", y_title="Reward (logit)", x_label_angle=0,
                                          height=320, elem_id="reward-plot")
            with gr.Tab("Score a file", id="batch"):
                build_batch_tab(service)
            with gr.Tab("Evaluate", id="evaluate"):
                build_evaluate_tab(service)
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

        def check_page(prompt_text: str, n: int, *texts: str):
            # Inputs are (prompt, count, box 1, box 2, ...): a response's message goes on its box.
            return refusals(service, prompt_text, list(texts[:n]), 2 + MAX_RESPONSE_BOXES,
                            lambda err: 0 if err.field == "prompt" else 2 + (err.index or 0))

        gr.on(triggers=[score_btn.click, prompt.submit], fn=score_page, inputs=[prompt, count, *boxes],
              outputs=[table, plot, info, error_banner], api_visibility="private", validator=check_page,
              concurrency_id="scoring", concurrency_limit=settings.concurrency)

        def score(prompt: str, responses: list[str]) -> list[dict]:
            """Score candidate responses to a prompt and rank them, best first.

            Each record has rank (1 = best), index (position in `responses`, from 0),
            response, score (the raw reward logit), tokens (read by the model, special
            tokens included) and truncated (cut at the model's length limit).
            Blank responses are skipped.
            """
            return [r.record() for r in _rank(service, prompt, responses).ranked]

        endpoint = gr.api(score, api_name="score", concurrency_id="scoring", concurrency_limit=settings.concurrency)
        # gr.api (Gradio 6.31) takes no validator argument; the event it made takes one
        # like any other, so requests over the limits are refused before they queue.
        demo.fns[endpoint["id"]].validator = lambda prompt, responses: refusals(
            service, prompt, responses, 2, lambda err: 0 if err.field == "prompt" else 1)

        def on_page_load():
            return model_panel(service), load_error_banner(service)

        demo.load(on_page_load, None, [info, error_banner], api_visibility="private")
    return demo


# -- the Batch and Evaluate tabs -------------------------------------------------------------

# A shared page must not be held for an hour by one file: the web tabs take fewer rows
# than the command line (reward.files.MAX_ROWS), and score in small chunks so that
# people comparing responses meanwhile get the model between two chunks.
MAX_UPLOAD_ROWS = 5_000
UPLOAD_CHUNK_ROWS = 64
FILE_TYPES = [".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet", ".gz"]
NO_PROMPT_COLUMN = "(none: split HH-RLHF dialogues)"


def _model_for_files(service: RewardService):
    try:
        return service.model()
    except ModelLoadError as err:
        raise gr.Error(str(err)) from None


def _upload_name(path: str | None, what: str) -> str:
    if not path:
        raise gr.Error(f"No file yet: upload {what} first.")
    return Path(path).name


def _output_path(name: str) -> Path:
    """A fresh file in the system's temp folder (where Gradio serves downloads from)."""
    return Path(tempfile.mkdtemp(prefix="reward-")) / name


def _progress_callback(progress: gr.Progress, what: str):
    def report(done: int, total: int) -> None:
        progress((done, total), desc=what, unit="rows")
    return report


def _stopped_message(stop: ScoringInterrupted) -> str:
    """The interruption's message with server paths reduced to file names."""
    text = str(stop)
    if stop.output is not None:
        text = text.replace(str(stop.output), stop.output.name)
    return text


def _rounded(frame):
    """Floats to 3 decimals for reading (the downloads keep full precision)."""
    return frame.round({c: 3 for c in frame.columns if frame[c].dtype.kind == "f"})


def columns_of(path: str | None) -> list[str]:
    """The columns of an uploaded file, for the pickers; a bad file is reported at once."""
    name = _upload_name(path, "a file")
    try:
        return [str(c) for c in read_table(path, name=name, max_rows=MAX_UPLOAD_ROWS).columns]
    except FileProblem as err:
        raise gr.Error(str(err)) from None


def score_upload(service: RewardService, path: str | None, prompt_column: str, response_column: str,
                 progress: gr.Progress | None = None):
    """The Batch tab: score every row of an uploaded file; returns summary, preview, histogram, download."""
    name = _upload_name(path, "a CSV, JSONL or Parquet file of prompts and responses")
    model = _model_for_files(service)
    try:
        df = load_for_scoring(path, prompt_column or "prompt", response_column or "response", name=name,
                              max_rows=MAX_UPLOAD_ROWS)
    except FileProblem as err:
        raise gr.Error(str(err)) from None
    out = _output_path(scored_name(name))
    report = _progress_callback(progress, "Scoring") if progress is not None else None
    try:
        summary = score_to_file(model, df, out, prompt_column, response_column, progress=report,
                                chunk_rows=UPLOAD_CHUNK_ROWS)
    except ScoringInterrupted as stop:
        gr.Warning(_stopped_message(stop))
        partial = stop.partial if stop.partial is not None else df.iloc[:0]
        return (f"**Stopped part-way.** {_stopped_message(stop)}", _rounded(preview_frame(partial)),
                histogram_frame(partial["score"].tolist() if "score" in partial else []),
                str(stop.output) if stop.output else None)
    except FileProblem as err:
        raise gr.Error(str(err)) from None
    cut = f", {summary.truncated:,} cut at {summary.max_length} tokens" if summary.truncated else ""
    text = (f"**Scored {summary.rows:,} rows** of `{name}` in {summary.seconds:.1f} s "
            f"({summary.rows_per_second:.1f} rows/s){cut}. Mean reward {df['score'].mean():+.3f}; the download "
            f"keeps the rows in their original order with `score`, `tokens` and `truncated` added.")
    return text, _rounded(preview_frame(df)), histogram_frame(df["score"].tolist()), str(out)


def evaluate_upload(service: RewardService, path: str | None, prompt_column: str, chosen_column: str,
                    rejected_column: str, progress: gr.Progress | None = None):
    """The Evaluate tab: accuracy on uploaded preference pairs; returns summary, histogram, worst pairs, download."""
    name = _upload_name(path, "a file of (prompt, chosen, rejected) pairs, or try the sample pairs")
    model = _model_for_files(service)
    prompt = None if not prompt_column or prompt_column == NO_PROMPT_COLUMN else prompt_column
    try:
        pairs = read_pairs(path, prompt_column=prompt, chosen_column=chosen_column or "chosen",
                           rejected_column=rejected_column or "rejected", name=name, max_rows=MAX_UPLOAD_ROWS)
    except FileProblem as err:
        raise gr.Error(str(err)) from None
    out = _output_path(Path(scored_name(name)).name.replace(".scored", ".evaluated"))
    report = _progress_callback(progress, "Scoring pairs") if progress is not None else None
    try:
        evaluation = evaluate_to_file(model, pairs, out, progress=report, chunk_rows=UPLOAD_CHUNK_ROWS)
    except ScoringInterrupted as stop:
        gr.Warning(_stopped_message(stop))
        return (f"**Stopped part-way.** {_stopped_message(stop)}", None, None,
                str(stop.output) if stop.output else None)
    except FileProblem as err:
        raise gr.Error(str(err)) from None
    s = evaluation.summary
    text = (f"### Accuracy {s.accuracy:.1%} on {s.n:,} pairs\n"
            f"95% bootstrap interval **{s.ci_low:.1%} to {s.ci_high:.1%}** · {s.ties:,} tie{'s' * (s.ties != 1)} · "
            f"mean margin (chosen minus rejected) **{s.mean_margin:+.3f}** · {s.truncated:,} pairs cut at "
            f"{model.max_length} tokens · read as {LAYOUT_NAMES[s.layout]} · {s.pairs_per_second:.1f} pairs/s.\n\n"
            "Accuracy counts pairs whose chosen response scored strictly above the rejected one (a tie is not a "
            "win). For scale: the model card reports 52.61% for `nicholasKluge/RewardModel` on WebGPT comparisons.")
    worst = _rounded(preview_frame(worst_pairs(evaluation.results, 10)[
        ["row", "margin", "score_chosen", "score_rejected", "prompt", "chosen", "rejected"]], width=120))
    return text, histogram_frame(evaluation.results["margin"].tolist()), worst, str(out)


def _histogram(label: str, x_title: str, elem_id: str) -> gr.BarPlot:
    return gr.BarPlot(x="bin", y="count", label=label, x_title=x_title, y_title="Count", x_label_angle=-45,
                      height=300, elem_id=elem_id)


def _column_picker(label: str, default: str, elem_id: str, *extra: str) -> gr.Dropdown:
    """A column picker that starts on the usual name; its choices are set from each upload."""
    return gr.Dropdown(label=label, choices=[default, *extra], value=default, allow_custom_value=True,
                       elem_id=elem_id)


def _sorted_histogram(frame):
    """A histogram frame as a BarPlot value with its bins kept in numeric order."""
    if frame is None:
        return None
    return gr.BarPlot(value=frame, sort=frame["bin"].tolist())


def build_batch_tab(service: RewardService) -> None:
    gr.Markdown(f"Upload a file of prompts and responses (CSV, TSV, JSONL, JSON or Parquet, also gzipped; up to "
                f"{MAX_UPLOAD_ROWS:,} rows and {MAX_FILE_BYTES // (1024 * 1024)} MB here, more with "
                "`python -m reward score`). Every row is scored; the download is your file, rows in their "
                "order, with `score`, `tokens` and `truncated` columns added.")
    with gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=300):
            upload = gr.File(label="File to score", file_types=FILE_TYPES, elem_id="batch-file")
            with gr.Row():
                prompt_col = _column_picker("Prompt column", "prompt", "batch-prompt-column")
                response_col = _column_picker("Response column", "response", "batch-response-column")
            run = gr.Button("Score file", variant="primary", elem_id="batch-btn")
        with gr.Column(scale=6, min_width=300):
            summary = gr.Markdown(elem_id="batch-summary")
            download = gr.File(label="Scored file", interactive=False, elem_id="batch-download")
    hist = _histogram("Scores (histogram)", "Reward", "batch-histogram")
    preview = gr.Dataframe(label="Preview (first rows)", interactive=False, wrap=True, elem_id="batch-preview")

    def pick_columns(path):
        if not path:
            return gr.update(), gr.update()
        columns = columns_of(path)
        prompt, response = suggest_columns(columns)
        return (gr.update(choices=columns, value=prompt or columns[0]),
                gr.update(choices=columns, value=response or columns[min(1, len(columns) - 1)]))

    def run_batch(path, prompt, response, progress=gr.Progress()):
        text, table, histogram, out = score_upload(service, path, prompt, response, progress)
        return text, table, _sorted_histogram(histogram), out

    upload.change(pick_columns, upload, [prompt_col, response_col], api_visibility="private")
    run.click(run_batch, [upload, prompt_col, response_col], [summary, preview, hist, download],
              api_visibility="private", concurrency_id="files", concurrency_limit=1)


def build_evaluate_tab(service: RewardService) -> None:
    gr.Markdown("How often does the model prefer the response people preferred? Upload (prompt, chosen, rejected) "
                "pairs: columns with those names, or `chosen`/`rejected` whole dialogues as in Anthropic's HH-RLHF "
                "(split at the last shared \"Assistant:\" turn), or chat-message lists. No file at hand? Try the "
                "sample pairs.")
    with gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=300):
            upload = gr.File(label="Preference pairs", file_types=FILE_TYPES, elem_id="eval-file")
            sample = gr.Button("Try the sample pairs", size="sm", elem_id="eval-sample-btn")
            with gr.Row():
                prompt_col = _column_picker("Prompt column", "prompt", "eval-prompt-column", NO_PROMPT_COLUMN)
                chosen_col = _column_picker("Chosen column", "chosen", "eval-chosen-column")
                rejected_col = _column_picker("Rejected column", "rejected", "eval-rejected-column")
            run = gr.Button("Evaluate", variant="primary", elem_id="eval-btn")
        with gr.Column(scale=6, min_width=300):
            summary = gr.Markdown(elem_id="eval-summary")
            download = gr.File(label="Per-pair results", interactive=False, elem_id="eval-download")
    hist = _histogram("Margins: score(chosen) minus score(rejected)", "Margin", "eval-histogram")
    worst = gr.Dataframe(label="The 10 worst-judged pairs (most negative margin first)", interactive=False,
                         wrap=True, elem_id="eval-worst")

    def pick_columns(path):
        if not path:
            return gr.update(), gr.update(), gr.update()
        columns = columns_of(path)
        prompt = "prompt" if "prompt" in columns else NO_PROMPT_COLUMN
        return (gr.update(choices=[*columns, NO_PROMPT_COLUMN], value=prompt),
                gr.update(choices=columns, value="chosen" if "chosen" in columns else columns[0]),
                gr.update(choices=columns, value="rejected" if "rejected" in columns else columns[-1]))

    def run_evaluation(path, prompt, chosen, rejected, progress=gr.Progress()):
        text, histogram, table, out = evaluate_upload(service, path, prompt, chosen, rejected, progress)
        return text, _sorted_histogram(histogram), table, out

    upload.change(pick_columns, upload, [prompt_col, chosen_col, rejected_col], api_visibility="private")
    sample.click(lambda: str(SAMPLE_PAIRS), None, upload, api_visibility="private", queue=False).then(
        run_evaluation, [upload, prompt_col, chosen_col, rejected_col], [summary, hist, worst, download],
        api_visibility="private", concurrency_id="files", concurrency_limit=1)
    run.click(run_evaluation, [upload, prompt_col, chosen_col, rejected_col], [summary, hist, worst, download],
              api_visibility="private", concurrency_id="files", concurrency_limit=1)


def launch(demo: gr.Blocks, settings: Settings, **kwargs):
    """Queue and launch with the app's look and limits; kwargs go to ``Blocks.launch``."""
    # Scoring requests (page and API share one limit) run up to settings.concurrency at
    # a time and are merged into shared forward passes by RewardService; at most
    # settings.queue_size more wait, and a caller beyond that is told the queue is full
    # at once instead of hanging.
    # api_open=False: no route skips the queue (Gradio leaves /gradio_api/run/* open off
    # Spaces), so every scoring request meets the validators and the limits above.
    demo.queue(max_size=settings.queue_size, default_concurrency_limit=settings.concurrency, api_open=False)
    # Request bodies are capped at what the largest valid request needs (the page sends
    # the prompt and all its boxes); files go through the upload route and its own limit.
    body_limit = Middleware(
        BodyLimit, max_bytes=request_body_limit(1 + max(settings.max_responses, MAX_RESPONSE_BOXES), settings.max_chars),
        exempt=("/gradio_api/upload",),
        hint=f"Shorten the texts (up to {settings.max_chars:,} characters each) or send fewer responses "
             f"(up to {settings.max_responses}).")
    app_kwargs = dict(kwargs.pop("app_kwargs", None) or {})
    app_kwargs["middleware"] = [*app_kwargs.get("middleware", []), body_limit]
    return demo.launch(theme=gr.themes.Soft(primary_hue="indigo"), css=CSS, js=SHORTCUT_JS, share=False,
                       max_file_size=MAX_UPLOAD_BYTES, max_threads=max(40, settings.concurrency + 8),
                       allowed_paths=[str(SAMPLE_PAIRS.parent)], app_kwargs=app_kwargs, **kwargs)


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
    limit_malloc_arenas()  # memory stays flat under many worker threads; see reward/runtime.py
    service = RewardService(settings)
    try:
        service.model()  # warm up once, before the first visitor
    except ModelLoadError as err:
        # The page still starts: it shows this message, and so does every Score.
        print(f"error: {err}", file=sys.stderr)
    launch(build_demo(service), settings)


if __name__ == "__main__":
    main()
