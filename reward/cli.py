"""The command line: score a file of (prompt, response) rows, or evaluate the model on preference pairs.

    python -m reward score pairs.csv -o pairs.scored.csv [--prompt-column q --response-column a]
    python -m reward evaluate prefs.jsonl [--json] [-o per_pair.csv] [--labels labels.csv]
    python -m reward explain --prompt TEXT --response TEXT [--json] [--attribute]
    python -m reward score big.parquet -o big.scored.parquet --engine ray --address auto --gpus-per-worker 1

Both run the same pipelines as the app's Batch and Evaluate tabs (:func:`reward.jobs.scoring.score_file`,
:func:`reward.jobs.evaluate.evaluate_file`) with the same model settings (``--model`` or ``REWARD_MODEL``, ...).
A progress bar goes to stderr; results go to stdout. ``--engine ray`` (score and evaluate) runs the
scoring on a Ray cluster (:mod:`reward.jobs.distributed`); reading, checks and writing stay the same.

Exit status: 0 done; 1 the model could not be loaded, or scoring failed part-way (Ray gave up, say: what was
scored is written out first); 2 bad input or usage (the message starts with ``error:``; nothing was scored);
3 every row was scored but OUTPUT could not be written: the complete result was kept in a
rescue copy, whose path is printed; 130 interrupted (Ctrl+C or SIGTERM; what was scored is written out first).
With ``--engine ray`` that is every block of rows that came back from Ray before it stopped
(:func:`reward.jobs.ray_engine.rows_at_once`, :func:`reward.jobs.scoring.scored_chunks`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from reward.insight.attribution import AttributionUnavailable
from reward.jobs.distributed import EngineFailed
from reward.jobs.ray_engine import add_ray_arguments, check_ray_flags, ray_engine, rows_at_once
from reward.jobs.scoring import ScoringInterrupted, sigterm_interrupts
from reward.model.requests import InvalidRequest
from reward.tables.display import empty_note, shorten
from reward.tables.formats import FileProblem, file_format
from reward.tables.outputs import ResultRescued

from .cli_texts import TEXT_FLAGS as PAIR_TEXT_FLAGS
from .cli_texts import add_contrast_parser, add_explain_parser, run_contrast, run_explain
from .config import (
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
    commands = parser.add_subparsers(dest="command", required=True, metavar="{score,evaluate,explain,contrast}",
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
    evaluate.add_argument("--rejected-column", default="rejected", help="the rejected responses (or lists of them)")
    evaluate.add_argument("--slice-column", metavar="COL", help="also report the figures by the values of this column")
    evaluate.add_argument("--worst", type=int, default=WORST_PAIRS_PRINTED, metavar="K",
                          help=f"show the K worst-judged pairs (0: none; default {WORST_PAIRS_PRINTED})")
    evaluate.add_argument("--resamples", type=int, default=BOOTSTRAP_RESAMPLES,
                          help=f"bootstrap resamples (default {BOOTSTRAP_RESAMPLES})")
    evaluate.add_argument("--seed", type=int, default=BOOTSTRAP_SEED, help=f"bootstrap seed (default {BOOTSTRAP_SEED})")
    evaluate.add_argument("--labels", metavar="LABELS", default=None, help="a labels file (CSV or JSONL) of these "
                          "pairs: also report the accuracy without the pairs labelled \"label wrong\"")
    _add_common(evaluate)

    add_explain_parser(commands)
    add_contrast_parser(commands)
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
    add_ray_arguments(parser)
    add_settings_arguments(parser)


TEXT_FLAGS = {name: "--" + name.replace("_", "-") for name in ("prompt", "response", "prompt_column", "response_column",
              "chosen_column", "rejected_column", "slice_column", "address", "revision")} | PAIR_TEXT_FLAGS
"""Flags whose value is text (not a path): it must be UTF-8."""


def _check_flags(args: argparse.Namespace) -> None:
    """No flag is silently ignored: one that does nothing in this command line is refused; with ``--engine ray``,
    Ray must be installed."""
    if args.command == "contrast":
        return
    if args.command == "explain":
        if args.steps is not None and not args.attribute:
            raise ConfigError("--steps only works with --attribute: add --attribute to compute integrated "
                              "gradients, or leave --steps out.")
        return
    if args.neutralize_formulas and (args.output is None or file_format(args.output)[0] not in ("csv", "tsv")):
        where = "no -o was given" if args.output is None else f"{args.output} is not .csv or .tsv"
        raise ConfigError(f"--neutralize-formulas only works with a .csv or .tsv output ({where}): write CSV or TSV, "
                          "or leave it out.")
    check_ray_flags(args)


def _check_text_flags(args: argparse.Namespace) -> None:
    """Text given on the command line must be UTF-8. Python keeps a byte that is not as a lone surrogate
    (U+DC80 to U+DCFF), which every later check would blame instead of the byte."""
    for name, flag in TEXT_FLAGS.items():
        value = getattr(args, name, None)
        try:
            raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else b""
            raw.decode("utf-8")
        except UnicodeEncodeError:
            continue  # a true lone surrogate (from Python, not from a terminal): the request checks name it
        except UnicodeDecodeError as err:
            raise ConfigError(
                f"{flag} is not UTF-8 text: byte 0x{raw[err.start]:02X} at byte offset {err.start:,} is not valid "
                "UTF-8 (the terminal, or the program that ran this command, sent text in another encoding, such as "
                "Latin-1). Send it as UTF-8: set the terminal to UTF-8, or convert the text, e.g. `iconv -f latin1 "
                "-t utf-8`.") from None


def _shown(text: str) -> str:
    """Text for the terminal: a byte of a path that is not UTF-8 (kept by Python as a lone surrogate) shown as
    ``\\xE9``, never as a surrogate nor as a crash of a strict UTF-8 terminal."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _progress_bar(unit: str, quiet: bool, out: Callable[[], TextIO]) -> tuple[Callable[[int, int], None], Callable]:
    """A tqdm bar on ``out()`` (drawn at the first report, when the total is known and the model, on Ray the
    engine, is up) and a ``progress(done, total)`` callback that moves it."""
    from tqdm import tqdm

    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit=unit, file=out(), disable=quiet, mininterval=0.5, dynamic_ncols=True,
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
def _scoring_job(args: argparse.Namespace, settings: Settings, unit: str, err: TextIO):
    """What a score or evaluate job needs: where its model comes from (on Ray with ``--engine ray``) and a progress
    callback; at the end, the bar is closed and Ray stopped."""
    with ray_engine(args, settings) as engine:
        progress, close = _progress_bar(unit, args.quiet, lambda: engine.terminal(err) if engine else err)
        try:
            yield (engine.model if engine else _loader(settings)), progress
        finally:
            close()


def run_score(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from reward.jobs.scoring import score_file

    with _scoring_job(args, settings, "row", err) as (model, progress), _kept_anyway() as kept:
        kept.result = score_file(model, args.input, args.output, args.prompt_column, args.response_column,
                                 progress=progress, chunk_rows=rows_at_once(args), max_rows=args.max_rows,
                                 max_bytes=int(args.max_mb * MIB), neutralize_formulas=args.neutralize_formulas)
    result = kept.result
    summary = result.summary
    print(f"scored {summary.rows:,} rows in {summary.seconds:.1f} s ({summary.rows_per_second:.1f} rows/s); "
          f"{summary.truncated:,} truncated at {summary.max_length} tokens{empty_note(summary.empty, 'rows')}; "
          f"wrote {_shown(str(result.output))}", file=out)
    return kept.finish()


def run_evaluate(args: argparse.Namespace, settings: Settings, out: TextIO, err: TextIO) -> int:
    from reward.insight.slices import breakdown_lines
    from reward.insight.trust import trust_lines
    from reward.jobs.evaluate import evaluate_file, worst_pairs
    from reward.jobs.labels import read_labels
    from reward.jobs.pairs import LAYOUT_NAMES

    if args.resamples < 1:
        raise FileProblem(f"--resamples {args.resamples}: give at least 1 ({BOOTSTRAP_RESAMPLES} is usual).")
    labels = read_labels(args.labels, max_rows=args.max_rows) if args.labels else None  # checked before any scoring
    with _scoring_job(args, settings, "pair", err) as (model, progress), _kept_anyway() as kept:
        kept.result = evaluate_file(model, args.input, args.output, prompt_column=args.prompt_column,
                                    chosen_column=args.chosen_column, rejected_column=args.rejected_column,
                                    slice_column=args.slice_column, progress=progress, resamples=args.resamples,
                                    seed=args.seed, chunk_rows=rows_at_once(args), max_rows=args.max_rows,
                                    max_bytes=int(args.max_mb * MIB), neutralize_formulas=args.neutralize_formulas,
                                    check_pairs=labels.check if labels else None)
    evaluation = kept.result
    tally = labels.summarize(evaluation.results) if labels else None
    destination = kept.rescued.rescue if kept.rescued else args.output
    s = evaluation.summary
    worst = worst_pairs(evaluation.results, max(args.worst, 0))
    if args.json:
        data = s.as_dict()
        data.update(input=str(args.input), model=settings.model, max_length=settings.max_length,
                    output=str(destination) if destination else None, labels=tally.as_dict() if tally else None,
                    worst=[{"row": int(r.row), "margin": float(r.margin)} for r in worst.itertuples()])
        print(json.dumps(data, allow_nan=False, default=lambda _: None), file=out)
        return kept.finish()
    print(f"accuracy {s.accuracy:.2%} ({s.correct:,} of {s.n:,} pairs: chosen scored strictly above rejected), "
          f"95% CI {s.ci_low:.2%} to {s.ci_high:.2%} (bootstrap, {s.resamples:,} resamples); ties {s.ties:,}; "
          f"mean margin {s.mean_margin:+.3f}", file=out)
    print(f"scored {s.n:,} pairs in {s.seconds:.1f} s ({s.pairs_per_second:.1f} pairs/s); {s.truncated:,} pairs "
          f"truncated at {settings.max_length} tokens{empty_note(s.empty, 'pairs')}; read as {LAYOUT_NAMES[s.layout]}"
          + (f"; wrote {_shown(str(destination))}" if destination else ""), file=out)
    for line in [*trust_lines(s), *breakdown_lines(s), *([tally.line()] if tally else [])]:
        print(line, file=out)
    if len(worst):
        print("worst-judged pairs (margin = score of chosen - score of rejected):", file=out)
        for r in worst.itertuples():
            print(f"  row {r.row:>6}  margin {r.margin:+8.3f}  prompt: "
                  f"{json.dumps(shorten(r.prompt, PROMPT_WIDTH), ensure_ascii=False)}", file=out)
    return kept.finish()




def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the command line; returns the exit status (see the module docstring)."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = build_parser().parse_args(argv)
    code, problem = _run(args, out, err)
    if problem:
        print(_shown(f"error: {problem}"), file=err)
    return code


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> tuple[int, object]:
    """The exit status, and the one line to print after ``error:`` (None when all went well)."""
    try:
        with sigterm_interrupts():
            _check_text_flags(args)
            settings = settings_from_args(args)
            files = args.command in ("score", "evaluate")
            if files and (args.max_rows < 1 or args.max_mb <= 0):
                raise ConfigError("--max-rows and --max-mb must be positive.")
            if files and args.chunk_rows < 2:
                raise ConfigError("--chunk-rows must be at least 2.")
            _check_flags(args)
            runner = {"score": run_score, "evaluate": run_evaluate,
                      "explain": lambda a, s, o, e: run_explain(a, s, o, _loader(s)),
                      "contrast": lambda a, s, o, e: run_contrast(a, s, o, _loader(s))}[args.command]
            return runner(args, settings, out, err), None
    except ResultRescued as kept:
        return EXIT_KEPT, kept
    except (FileProblem, ConfigError, InvalidRequest, AttributionUnavailable) as problem:
        return EXIT_BAD_INPUT, problem
    except (ModelLoadError, EngineFailed) as problem:
        return EXIT_FAILED, problem
    except ScoringInterrupted as stop:
        return (EXIT_INTERRUPTED if isinstance(stop.cause, KeyboardInterrupt) else EXIT_FAILED), stop
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED, "interrupted before scoring started; nothing was written."


if __name__ == "__main__":
    sys.exit(main())
