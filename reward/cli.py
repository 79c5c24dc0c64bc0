"""The command line: score a file of (prompt, response) rows, or evaluate the model on preference pairs.

    python -m reward score pairs.csv -o pairs.scored.csv [--prompt-column q --response-column a]
    python -m reward evaluate prefs.jsonl [--json] [-o per_pair.csv]
    python -m reward explain --prompt TEXT --response TEXT [--json] [--attribute]
    python -m reward score big.parquet -o big.scored.parquet --engine ray --address auto --gpus-per-worker 1

Both run the same pipelines as the app's Batch and Evaluate tabs (:func:`reward.jobs.scoring.score_file`,
:func:`reward.jobs.evaluate.evaluate_file`) with the same model settings (``--model`` or ``REWARD_MODEL``, ...).
A progress bar goes to stderr; results go to stdout. ``--engine ray`` (score and evaluate) runs the
scoring on a Ray cluster (:mod:`reward.jobs.distributed`); reading, checks and writing stay the same.

Exit status: 0 done; 1 the model could not be loaded, or scoring failed part-way;
2 bad input or usage (the message starts with ``error:``; nothing was scored);
3 every row was scored but OUTPUT could not be written: the complete result was kept in a
rescue copy, whose path is printed; 130 interrupted (Ctrl+C; what was scored is written out first;
with ``--engine ray`` nothing is written unless every row was scored).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from reward.insight.attribution import AttributionUnavailable
from reward.jobs.distributed import EngineFailed, RayEngine, RayOptions, import_ray
from reward.jobs.scoring import ScoringInterrupted
from reward.model.requests import InvalidRequest
from reward.tables.display import empty_note, shorten
from reward.tables.formats import FileProblem
from reward.tables.outputs import ResultRescued

from .config import (
    ATTRIBUTION_STEPS,
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    CHUNK_ROWS,
    MAX_FILE_BYTES,
    MAX_ROWS,
    MIB,
    TERMINAL_TEXT_WIDTH,
    WORST_PAIRS_PRINTED,
    ConfigError,
    ModelLoadError,
    Settings,
    add_settings_arguments,
    settings_from_args,
)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_KEPT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
PROMPT_WIDTH = TERMINAL_TEXT_WIDTH


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors in the same ``error: ...`` form as ours."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m reward", description="Score files of (prompt, response) pairs with a reward "
                     "model, or check how often it prefers the chosen response of preference pairs.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{score,evaluate,explain}",
                                     parser_class=_Parser)

    score = commands.add_parser(
        "score", help="add score, tokens and truncated columns to a file of (prompt, response) rows",
        description="Score every (prompt, response) row of INPUT and write it to OUTPUT with score, tokens and "
                    "truncated columns added, rows in their original order. Formats follow the extensions: .csv, "
                    ".tsv, .jsonl, .json, .parquet, and .gz after the text ones.")
    score.add_argument("input", metavar="INPUT", help="the file to score")
    score.add_argument("-o", "--output", metavar="OUTPUT", required=True,
                       help="where to write the scored copy (its extension picks the format)")
    score.add_argument("--prompt-column", default="prompt", help="the column of prompts (default: prompt)")
    score.add_argument("--response-column", default="response", help="the column of responses (default: response)")
    _add_common(score)

    evaluate = commands.add_parser(
        "evaluate", help="accuracy of the model on (prompt, chosen, rejected) preference pairs",
        description="Score the chosen and the rejected response of every pair in INPUT and report how often the "
                    "chosen one scores strictly higher, with a 95% bootstrap interval. Reads prompt/chosen/rejected "
                    "columns, HH-RLHF dialogues (chosen/rejected only, split at the last shared \"Assistant:\" "
                    "turn), or chat-message lists.")
    evaluate.add_argument("input", metavar="INPUT", help="the file of preference pairs")
    evaluate.add_argument("-o", "--output", metavar="RESULTS", default=None,
                          help="also write per-pair results (scores, margin, correct) here")
    evaluate.add_argument("--json", action="store_true",
                          help="print one JSON object (n, accuracy, ties, ci_low, ci_high, mean_margin, ...)")
    evaluate.add_argument("--prompt-column", default=None,
                          help="the column of prompts (default: prompt, else taken from the dialogues)")
    evaluate.add_argument("--chosen-column", default="chosen", help="the column of preferred responses")
    evaluate.add_argument("--rejected-column", default="rejected", help="the column of rejected responses")
    evaluate.add_argument("--worst", type=int, default=WORST_PAIRS_PRINTED, metavar="K",
                          help=f"show the K worst-judged pairs (0: none; default {WORST_PAIRS_PRINTED})")
    evaluate.add_argument("--resamples", type=int, default=BOOTSTRAP_RESAMPLES,
                          help=f"bootstrap resamples (default {BOOTSTRAP_RESAMPLES})")
    evaluate.add_argument("--seed", type=int, default=BOOTSTRAP_SEED, help=f"bootstrap seed (default {BOOTSTRAP_SEED})")
    _add_common(evaluate)

    explain = commands.add_parser(
        "explain", help="why one response scores as it does: sentence effects, prefixes, the tokens read",
        description="Score one (prompt, response) pair and say why: each sentence's effect (the score minus the "
                    "score without that sentence), the score after each sentence, and the tokens the model read "
                    "(and any it dropped). --attribute adds integrated gradients per token.")
    explain.add_argument("--prompt", required=True, help="the prompt (the question or instruction)")
    explain.add_argument("--response", required=True, help="the response to explain")
    explain.add_argument("--json", action="store_true", help="print the explanation as one JSON object")
    explain.add_argument("--attribute", action="store_true", help="also integrated gradients per token (slower)")
    explain.add_argument("--steps", type=int, default=ATTRIBUTION_STEPS,
                         help=f"integrated-gradient steps with --attribute (default {ATTRIBUTION_STEPS})")
    add_settings_arguments(explain)
    return parser


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-rows", type=int, default=MAX_ROWS,
                        help=f"refuse files with more rows than this (default {MAX_ROWS:,})")
    parser.add_argument("--max-mb", type=float, default=MAX_FILE_BYTES / MIB,
                        help=f"refuse files larger than this many MiB, uncompressed (default {MAX_FILE_BYTES // MIB})")
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS, help=argparse.SUPPRESS)
    parser.add_argument("--neutralize-formulas", action="store_true",
                        help="in a CSV or TSV output, put a ' before text that starts with = + - @ (or a tab or "
                             "carriage return), so a spreadsheet shows it instead of running it as a formula; off "
                             "by default, so text and scores round-trip exactly")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    ray = parser.add_argument_group("scoring on a Ray cluster (pip install -r requirements-ray.txt)")
    ray.add_argument("--engine", choices=("local", "ray"), default="local",
                     help="local: this process (default); ray: model replicas on a Ray cluster through Ray Data, "
                          "with the same reading, checks and output")
    ray.add_argument("--address", default=None,
                     help="with --engine ray: the running cluster to use, e.g. auto (on one of its nodes) or "
                          "HOST:6379 (default: start a Ray on this machine, or use the one this process already "
                          "runs)")
    ray.add_argument("--workers", type=int, default=None, metavar="N",
                     help="with --engine ray: model replicas (default: one per --gpus-per-worker GPUs, or one per "
                          "4 CPUs without GPUs)")
    ray.add_argument("--gpus-per-worker", type=float, default=None, metavar="G",
                     help="with --engine ray: GPUs each replica takes (default 0: CPU)")
    add_settings_arguments(parser)


RAY_ONLY_FLAGS = {"address": "--address", "workers": "--workers", "gpus_per_worker": "--gpus-per-worker"}


def _check_engine_flags(args: argparse.Namespace) -> None:
    """Ray's flags only with ``--engine ray`` (never silently ignored); with it, Ray must be installed."""
    if args.engine == "ray":
        import_ray()  # before any reading: say at once how to install it
        return
    given = [flag for name, flag in RAY_ONLY_FLAGS.items() if getattr(args, name) is not None]
    if given:
        raise ConfigError(f"{' and '.join(given)} only work{'s' if len(given) == 1 else ''} with --engine ray: add "
                          f"--engine ray to score on Ray, or leave {'it' if len(given) == 1 else 'them'} out.")


def _model_source(settings: Settings, engine: RayEngine | None) -> Callable:
    return engine.model if engine is not None else _loader(settings)


@contextlib.contextmanager
def _engine(args: argparse.Namespace, settings: Settings):
    """A Ray engine for ``--engine ray`` (shut down afterwards if it started Ray), else None."""
    if args.engine != "ray":
        yield None
        return
    # A Ray batch is a local chunk (--chunk-rows): the same pairs share forward passes, so the scores are the same.
    engine = RayEngine(settings, RayOptions(args.address, args.workers, args.gpus_per_worker or 0.0, args.chunk_rows))
    try:
        yield engine
    finally:
        engine.close()


def _whole_file(args: argparse.Namespace, texts_per_row: int) -> int:
    """Rows scored together: all of them in one Ray job (each replica then loads the model once)."""
    return args.chunk_rows if args.engine != "ray" else max(args.chunk_rows, texts_per_row * args.max_rows)


def _progress_bar(unit: str, quiet: bool, out: TextIO) -> tuple[Callable[[int, int], None], Callable]:
    """A tqdm bar on ``out`` (drawn at the first report, when the total is known) and a
    ``progress(done, total)`` callback that moves it."""
    from tqdm import tqdm

    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit=unit, file=out, disable=quiet, mininterval=0.5, dynamic_ncols=True,
                       unit_scale=False, smoothing=0.1)
        if done > bar.n:
            bar.update(done - bar.n)

    def close() -> None:
        if bar is not None:
            bar.close()

    return progress, close


def _loader(settings: Settings) -> Callable:
    """Loads the model when the pipeline asks for it: after every check of the input."""
    def load():
        from transformers.utils import logging as transformers_logging

        from reward.model.reward_model import load_from_settings

        # transformers draws its own "Loading weights" bar; ours is the only one worth watching.
        transformers_logging.disable_progress_bar()
        return load_from_settings(settings)
    return load


class _Kept:
    """A job's result, also when its output had to go to a rescue copy (then ``finish`` re-raises that)."""

    result = None
    rescued: ResultRescued | None = None

    def finish(self) -> int:
        if self.rescued is not None:
            raise self.rescued
        return EXIT_OK


@contextlib.contextmanager
def _kept_anyway():
    """The job's result even when its output went to a rescue copy: the summary is printed either way."""
    kept = _Kept()
    try:
        yield kept
    except ResultRescued as rescued:
        kept.result, kept.rescued = rescued.result, rescued


@contextlib.contextmanager
def _closing(close: Callable[[], None]):
    try:
        yield
    finally:
        close()


def run_score(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from reward.jobs.scoring import score_file

    progress, close = _progress_bar("row", args.quiet, err)
    with _engine(args, settings) as engine, _kept_anyway() as kept, _closing(close):
        kept.result = score_file(_model_source(settings, engine), args.input, args.output, args.prompt_column,
                                 args.response_column, progress=progress, chunk_rows=_whole_file(args, 1),
                                 max_rows=args.max_rows, max_bytes=int(args.max_mb * MIB),
                                 neutralize_formulas=args.neutralize_formulas)
    result = kept.result
    summary = result.summary
    print(f"scored {summary.rows:,} rows in {summary.seconds:.1f} s ({summary.rows_per_second:.1f} rows/s); "
          f"{summary.truncated:,} truncated at {summary.max_length} tokens{empty_note(summary.empty, 'rows')}; "
          f"wrote {result.output}", file=out)
    return kept.finish()


def run_evaluate(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from reward.insight.trust import trust_lines
    from reward.jobs.evaluate import evaluate_file, worst_pairs
    from reward.jobs.pairs import LAYOUT_NAMES

    if args.resamples < 1:
        raise FileProblem(f"--resamples {args.resamples}: give at least 1 ({BOOTSTRAP_RESAMPLES} is usual).")
    progress, close = _progress_bar("pair", args.quiet, err)
    with _engine(args, settings) as engine, _kept_anyway() as kept, _closing(close):
        kept.result = evaluate_file(_model_source(settings, engine), args.input, args.output,
                                    prompt_column=args.prompt_column,
                                    chosen_column=args.chosen_column, rejected_column=args.rejected_column,
                                    progress=progress, resamples=args.resamples, seed=args.seed,
                                    chunk_rows=_whole_file(args, 2), max_rows=args.max_rows,
                                    max_bytes=int(args.max_mb * MIB), neutralize_formulas=args.neutralize_formulas)
    evaluation = kept.result
    destination = kept.rescued.rescue if kept.rescued else args.output
    s = evaluation.summary
    worst = worst_pairs(evaluation.results, max(args.worst, 0))
    if args.json:
        data = s.as_dict()
        data.update(input=str(args.input), model=settings.model, max_length=settings.max_length,
                    output=str(destination) if destination else None,
                    worst=[{"row": int(r.row), "margin": float(r.margin)} for r in worst.itertuples()])
        print(json.dumps(data, allow_nan=False, default=_none_for_nan), file=out)
        return kept.finish()
    print(f"accuracy {s.accuracy:.2%} ({s.correct:,} of {s.n:,} pairs: chosen scored strictly above rejected), "
          f"95% CI {s.ci_low:.2%} to {s.ci_high:.2%} (bootstrap, {s.resamples:,} resamples); ties {s.ties:,}; "
          f"mean margin {s.mean_margin:+.3f}", file=out)
    print(f"scored {s.n:,} pairs in {s.seconds:.1f} s ({s.pairs_per_second:.1f} pairs/s); {s.truncated:,} pairs "
          f"truncated at {settings.max_length} tokens{empty_note(s.empty, 'pairs')}; read as {LAYOUT_NAMES[s.layout]}"
          + (f"; wrote {destination}" if destination else ""), file=out)
    for line in trust_lines(s):
        print(line, file=out)
    if len(worst):
        print("worst-judged pairs (margin = score of chosen - score of rejected):", file=out)
        for r in worst.itertuples():
            print(f"  row {r.row:>6}  margin {r.margin:+8.3f}  prompt: "
                  f"{json.dumps(shorten(r.prompt, PROMPT_WIDTH), ensure_ascii=False)}", file=out)
    return kept.finish()


def run_explain(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from reward.insight.explain import explain
    from reward.model.requests import check_request, check_steps

    request = check_request(args.prompt, [args.response], settings)
    if args.attribute:
        check_steps(args.steps)
        if settings.precision == "int8":  # refused now, not after the explanation has run
            raise AttributionUnavailable("Integrated gradients need a float model: run with --precision fp32 "
                                         "(or bf16/fp16), not int8.")
    model = _loader(settings)()
    explanation = explain(model, request.prompt, request.responses[0])
    attribution = None
    if args.attribute:
        from reward.insight.attribution import attribute

        attribution = attribute(model, request.prompt, request.responses[0], steps=args.steps)
    if args.json:
        data = explanation.as_dict()
        if attribution is not None:
            data["attribution"] = attribution.as_dict()
        print(json.dumps(data, ensure_ascii=False, allow_nan=False, default=_none_for_nan), file=out)
        return EXIT_OK
    data = explanation.as_dict()
    tokens, dropped = data["tokens"], data["dropped"]
    print(f"score {data['score']:+.3f} (the raw reward); the model read {len(tokens)} tokens"
          + (f"; cut: {dropped['prompt']:,} prompt and {dropped['response']:,} response tokens dropped"
             if dropped["prompt"] or dropped["response"] else ""), file=out)
    if data["unit"] == "segment":
        print(f"{data['sentence_count']:,} sentences, explained in {len(data['parts'])} segments of adjacent "
              "sentences (effect = score - score without the segment):", file=out)
    else:
        print("sentences (effect = score - score without the sentence):", file=out)
    for part in data["parts"]:
        shown = json.dumps(shorten(part["text"], PROMPT_WIDTH), ensure_ascii=False)
        number = f"{part['first']}" if part["first"] == part["last"] else f"{part['first']}-{part['last']}"
        print(f"  {number:>9}  {part['effect']:+8.3f}  {shown}", file=out)
    print("score after each sentence:" if data["unit"] == "sentence" else "score after each segment:", file=out)
    for prefix in data["prefixes"]:
        print(f"  {prefix['sentences']:>3}  {prefix['score']:+8.3f}", file=out)
    if attribution is not None:
        a = attribution.as_dict()
        top = sorted(a["tokens"], key=lambda t: -abs(t["value"]))[:10]
        print(f"integrated gradients ({a['steps']} steps): baseline {a['baseline_score']:+.3f}, completeness gap "
              f"{a['completeness_gap']:.4f}; strongest tokens: "
              + ", ".join(f"{t['token']} {t['value']:+.3f}" for t in top), file=out)
    return EXIT_OK


def _none_for_nan(value: object) -> object:
    return None


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from_args(args)
        if args.command != "explain" and (args.max_rows < 1 or args.max_mb <= 0):
            raise ConfigError("--max-rows and --max-mb must be positive.")
        if args.command != "explain" and args.chunk_rows < 2:
            raise ConfigError("--chunk-rows must be at least 2.")
        if args.command != "explain":
            _check_engine_flags(args)
        runner = {"score": run_score, "evaluate": run_evaluate, "explain": run_explain}[args.command]
        return runner(args, settings, out, err)
    except ResultRescued as kept:
        print(f"error: {kept}", file=err)
        return EXIT_KEPT
    except (FileProblem, ConfigError, InvalidRequest, AttributionUnavailable) as problem:
        print(f"error: {problem}", file=err)
        return EXIT_BAD_INPUT
    except (ModelLoadError, EngineFailed) as problem:
        print(f"error: {problem}", file=err)
        return EXIT_FAILED
    except ScoringInterrupted as stop:
        print(f"error: {stop}", file=err)
        return EXIT_INTERRUPTED if isinstance(stop.cause, KeyboardInterrupt) else EXIT_FAILED
    except KeyboardInterrupt:
        print("error: interrupted before scoring started; nothing was written.", file=err)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
