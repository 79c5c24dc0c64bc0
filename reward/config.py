"""The one place that reads configuration: environment variables and command-line flags.

Every setting has an environment variable (they also work as Hugging Face Space
variables) and a flag on ``python app.py`` / ``python -m reward`` that overrides it.
The README's configuration table is written from ``SETTINGS_HELP``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

DEFAULT_MODEL = "nicholasKluge/RewardModel"
PRECISIONS = ("fp32", "bf16", "fp16", "int8", "auto")
"""fp32 is exact; the others trade a little accuracy for speed; auto picks bf16 where the hardware multiplies it
natively, fp32 elsewhere (see reward.model.precision)."""
BF16_GPU_CAPABILITY = (8, 0)
"""REWARD_PRECISION=auto picks bf16 on CUDA GPUs of this compute capability or later (Ampere on: bf16 tensor cores)."""
DEVICES = ("auto", "cpu", "cuda", "mps")

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SAMPLE_PAIRS = ASSETS / "sample_pairs.jsonl"
"""Clear-cut pairs written for this project: a one-click try of the Evaluate tab."""
SAMPLE_SLICED_PAIRS = ASSETS / "sample_pairs_sliced.jsonl"
"""Pairs written for this project with a ``category`` column (one pair has none): a try of Evaluate by slice."""
SAMPLE_BEST_OF_N = ASSETS / "sample_best_of_n.jsonl"
"""Best-of-N sets written for this project (one chosen answer, three rejected, a ``subset`` column)."""

# -- Fixed numbers: the tuning that is not a setting, in one place ------------------------------

MIB = 1024 * 1024
MAX_FILE_BYTES = 100 * MIB
"""Largest input file accepted, in bytes, measured uncompressed (a ``.gz`` file's content, a Parquet file's data)."""
MAX_ROWS = 100_000
"""Most data rows accepted in one file on the command line (about an hour of BERT-base scoring on a 2-core CPU)."""
CHUNK_ROWS = 2048
"""Rows tokenized and scored together. Within a chunk pairs are sorted by length and scored in
micro-batches of ``batch_size``; a chunk bounds the token ids held at once, whatever the file's size."""
RAY_CPUS_PER_WORKER = 4
"""``--engine ray`` without GPUs: one model replica per this many CPUs of the cluster by default (at least one)."""
RAY_CONNECT_SECONDS = 10
"""``--engine ray``: how long to wait for the cluster's head to answer at ``--address HOST:PORT``."""
RAY_WORKER_RESTARTS = 4
"""``--engine ray``: times Ray restarts a model replica that died (each restart loads the model again)."""
RAY_BATCH_RETRIES = 4
"""``--engine ray``: times Ray runs a batch again on a restarted replica."""
WRITE_ROWS = 10_000
"""Rows checked, or turned into JSON or Parquet, at a time: a big table is never held a second time whole."""
UPLOAD_MAX_ROWS = 5_000
"""Most rows a file may have on the page: a shared page must not be held for an hour by one file."""
UPLOAD_CHUNK_ROWS = 64
"""Rows the page scores at a time, so that people comparing responses get the model between two chunks."""
PAGE_RESPONSE_BOXES = 16
"""Response boxes the Compare tab can show (the API takes ``max_responses``)."""
PAGE_START_BOXES = 2
MERGED_PASSES = 8
"""Concurrent requests are merged into one call of at most ``MERGED_PASSES * batch_size`` pairs."""
CPU_PADDING = (0.25, 16, 32)
"""On a CPU a pair joins a forward pass only if it is at most a quarter shorter than the pass's longest,
and by at most 32 tokens (16 always pass): batching short rows saves a lot, long rows little."""
RETRY_LOAD_AFTER_S = 60.0
"""A failed model load is remembered this long before the next request tries again."""
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
"""The evaluation's 95% interval: resamples and seed (same seed, same interval)."""
MISSING_SLICE = "(missing)"
"""The name of the slice of rows whose slice column has no value (null, NaN, no such key, or empty text)."""
ATTRIBUTION_STEPS = 32
"""Integrated-gradient steps of the Why this score panel's token detail (and ``/attribute``'s default)."""
MAX_ATTRIBUTION_STEPS = 256
"""Most steps one attribution may ask for: each step is a forward and a backward pass."""
ATTRIBUTION_STEP_LADDER = (8, 16, 32, 64)
"""Steps an attribution without a set number tries, in turn, until its completeness gap is small enough: the
Gauss-Legendre rule on a smooth network is usually there at 8, and each try costs that many forward and backward
passes."""
ATTRIBUTION_GAP_TARGET = 0.02
"""Small enough: a completeness gap of at most 2% of |score - baseline score| (or of at most
``ATTRIBUTION_GAP_NEGLIGIBLE`` logits, for a pair whose score barely differs from its baseline's)."""
ATTRIBUTION_GAP_NEGLIGIBLE = 1e-3
WORST_PAIRS_SHOWN = 10
"""Worst-judged pairs listed by the Evaluate tab."""
WORST_PAIRS_PRINTED = 5
"""Worst-judged pairs printed by ``python -m reward evaluate`` (its ``--worst`` default)."""
TABLE_TEXT_WIDTH = 90
"""Characters of each response the ranking table shows."""
TERMINAL_TEXT_WIDTH = 70
"""Characters of a prompt or sentence the command line prints on one line."""
LONG_TEXT_CHARS = 32
"""A text of more than this many characters per ``max_length`` token is tokenized a window at a time."""
TOKENIZER_WINDOWS = (1 << 10, 1 << 16, 4)
"""Windows of the bounded tokenization: the first and largest in characters (about 150 bytes of tokenizer
memory each), and how many are tokenized in one call."""
TOKENIZER_BATCH_CHARS = 1 << 20
"""Characters of ordinary rows tokenized in one call: a chunk of many medium-sized texts is tokenized in runs."""
EXPLAIN_ENCODE_CHARS = 1 << 20
"""Characters tokenized in one call while explaining: bounds the tokenizer's memory for any number of texts."""
EXPLAIN_MAX_PARTS = 24
"""Most parts an explanation takes out in turn: an answer of more sentences is explained in this many segments of
adjacent sentences, so its work (two forward passes a part) and its answer stay bounded for any length."""
FLIP_MAX_PASSES = 256
"""Most texts one search for the smallest edit that flips a verdict may score (``reward.insight.contrast.flip``):
each is one forward pass; the answer says when no flip was found within them."""
FLIP_UNITS = ("sentence", "word")
"""What that search takes out: whole sentences (lines, list items), or words with their trailing whitespace."""
FLIP_MAX_PARTS = 192
"""Most parts such a search takes out in turn: a response of more sentences (or words) is searched in this many
runs of adjacent ones, so that one round of the search fits in ``FLIP_MAX_PASSES``."""
FLIP_WORD_CANDIDATES = 32
"""A search by word in an answer of more words than this tries only this many: those whose integrated-gradients
values push hardest towards the flip (one attribution, then one forward pass each, instead of one per word)."""
WHATIF_HISTORY = 20
"""Edits the what-if editor keeps in its history table (the oldest leave first)."""
SCORE_CACHE_ENTRIES = 20_000
SCORE_CACHE_BYTES = 64 << 20
"""The cache of scored pairs, one per loaded model (``reward.model.cache``): at most this many pairs, whose texts
take at most this many bytes; the least recently used leave first."""
ATTRIBUTION_PASS_TOKENS = {"cpu": 1024}
"""Tokens (steps x sequence length) in one forward and backward pass of integrated gradients, by device type;
others get ``ATTRIBUTION_PASS_TOKENS_ELSEWHERE``. This bounds memory: BERT-base keeps about 0.5 MB of
activations per token for the backward pass (measured on a CPU), so 32 steps of 512 tokens at once would hold
some 8 GB. On a CPU it also bounds how long a scoring request waits, the model being taken in turn one pass
at a time (1024 tokens: about 0.5 GB, a pass of a few seconds on two cores, and no slower overall there)."""
ATTRIBUTION_PASS_TOKENS_ELSEWHERE = 4096
MAX_COMPARE_MODELS = 8
"""Most models ``REWARD_COMPARE_MODELS`` may list: each BERT-base costs about half a GB of memory (README)."""
MODELS_TAB_BOXES = 6
"""Response boxes on the Models tab (``/score_models`` takes ``max_responses``)."""
DISPUTES_SHOWN = 20
"""Disputed pairs of responses the Models tab lists (the rest are counted)."""
PROBE_TOLERANCE = 0.1
"""Probes: reward changes this small (in logits) count as no change when a probe expects the score to rise or fall."""
SAME_WITHIN = 1.0
"""Probes: a probe a sound judge would ignore goes against that when the reward moves by more than this (a gap of
1 is a 73% preference)."""
SCATTER_MAX_POINTS = 2000
"""Most points a score-against-length scatter draws; beyond it a fixed-seed sample
(``reward.insight.trust.sample_rows``)."""
SCATTER_SEED = 0
MAX_LINK_CHARS = 8000
"""The longest share link the page makes: 8 KB is what common proxies and mail clients keep whole."""
GPU_SECONDS = {"files": 300, "attribute": 120}
"""On ZeroGPU, how long an event may hold the GPU, by concurrency id (``spaces.GPU``'s ``duration``); others
get the ``spaces`` default of 60 s. A file job of 5,000 rows and a long token detail need more than that."""


class ConfigError(ValueError):
    """A setting has a value we cannot use; the message says which and what to change."""


class ModelLoadError(RuntimeError):
    """The reward model could not be loaded; ``str(err)`` is one line for the user."""


@dataclass(frozen=True)
class Settings:
    """What the app and the command line need to know to load and score."""

    model: str = DEFAULT_MODEL
    revision: str | None = None
    device: str = "auto"
    precision: str = "fp32"
    max_length: int = 512
    batch_size: int = 8
    max_responses: int = 32
    max_chars: int = 20_000
    concurrency: int = 16
    queue_size: int = 64
    mcp: bool = True
    compare_models: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "compare_models", tuple(self.compare_models))
        problem = compare_models_problem(self.compare_models, self.model)
        if problem:
            raise ConfigError(problem)
        if not self.model.strip():
            raise ConfigError("REWARD_MODEL is empty: give a Hugging Face model id or a local folder.")
        if self.device.split(":")[0] not in DEVICES:
            raise ConfigError(f"REWARD_DEVICE={self.device!r} is not one of {', '.join(DEVICES)} (cuda:N also works).")
        problem = precision_problem(self.precision)
        if problem:
            raise ConfigError(problem)
        for name, low, high in (
            ("max_length", 8, 8192),
            ("batch_size", 1, 4096),
            ("max_responses", 1, 10_000),
            ("max_chars", 1, 10_000_000),
            ("concurrency", 1, 256),
            ("queue_size", 1, 100_000),
        ):
            value = getattr(self, name)
            if not low <= value <= high:
                raise ConfigError(f"REWARD_{name.upper()}={value} is out of range: use {low}..{high}.")


def precision_problem(precision: str, device_type: str | None = None) -> str | None:
    """Why ``precision`` cannot be used (on a device of ``device_type``, when given), or None when it can.

    The one place that validates a precision: settings, loading and conversion all ask here.
    """
    if precision not in PRECISIONS:
        return f"REWARD_PRECISION={precision!r} is not one of {', '.join(PRECISIONS)}."
    if precision == "fp16" and device_type == "cpu":
        return "REWARD_PRECISION=fp16 needs a GPU: use bf16 (or fp32) on the CPU."
    if precision == "int8" and device_type not in (None, "cpu"):
        return "REWARD_PRECISION=int8 runs on the CPU only: use bf16 or fp16 on a GPU."
    return None


def compare_models_problem(models: tuple[str, ...], main: str) -> str | None:
    """Why the Models tab's list cannot be used, or None: blank, repeated or too many entries."""
    if len(models) > MAX_COMPARE_MODELS:
        return (f"REWARD_COMPARE_MODELS lists {len(models)} models; the limit is {MAX_COMPARE_MODELS} (each one "
                "stays loaded in memory). Remove some.")
    for i, model in enumerate(models):
        if not model.strip():
            return f"REWARD_COMPARE_MODELS has an empty entry (number {i + 1}): give comma-separated model ids or folders."
        if model in models[:i] or model == main:
            return (f"REWARD_COMPARE_MODELS lists {model!r} twice (the main model, REWARD_MODEL, is always in the "
                    "lineup): list each other model once.")
    return None


# name -> (environment variable, help text)
SETTINGS_HELP: dict[str, tuple[str, str]] = {
    "model": ("REWARD_MODEL", "Hugging Face model id or local folder of the reward model."),
    "revision": ("REWARD_REVISION", "Hub revision (branch, tag or commit) to pin; ignored for folders."),
    "device": ("REWARD_DEVICE", "auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps."),
    "precision": ("REWARD_PRECISION", "fp32 (exact, default), bf16 (CPUs with bf16 instructions, GPUs), fp16 (GPU), "
                  "int8 (CPU), or auto: bf16 on a CUDA GPU or a CPU with AMX-BF16/AVX512-BF16, fp32 elsewhere "
                  "(the model panel says which and why)."),
    "max_length": ("REWARD_MAX_LENGTH", "Tokens the model reads per (prompt, response) pair; longer pairs are cut."),
    "batch_size": ("REWARD_BATCH_SIZE", "Pairs per forward pass (pairs are sorted by length first)."),
    "max_responses": ("REWARD_MAX_RESPONSES", "Most responses accepted in one request."),
    "max_chars": ("REWARD_MAX_CHARS", "Most characters accepted in the prompt or in one response."),
    "concurrency": ("REWARD_CONCURRENCY", "Scoring requests taken at once; those that wait share forward passes."),
    "queue_size": ("REWARD_QUEUE_SIZE", "Requests that may wait in the queue; beyond it callers are told to retry."),
    "mcp": ("REWARD_MCP", "1 (default) serves the API as MCP tools at /gradio_api/mcp/; 0 turns that off "
            "(the flag --no-mcp too)."),
    "compare_models": ("REWARD_COMPARE_MODELS", "Comma-separated model ids or folders scored beside the main model "
                       "on a Models tab (none by default). Only these load, at start."),
}
APP_ONLY = ("mcp", "compare_models")
"""Settings of the web app (``python app.py``), not of the command line."""
BOOLEAN_WORDS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False,
                 "off": False}


def _convert(name: str, raw: str, source: str):
    default = getattr(Settings, name)
    if isinstance(default, bool):
        try:
            return BOOLEAN_WORDS[raw.strip().lower()]
        except KeyError:
            raise ConfigError(f"{source}={raw!r} is not 1 or 0 (true/false, on/off, yes/no also work).") from None
    if isinstance(default, tuple):
        entries = [entry.strip() for entry in raw.split(",")]
        return tuple(entries[:-1] if len(entries) > 1 and not entries[-1] else entries)  # a trailing comma is fine
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{source}={raw!r} is not a whole number.") from None
    if name == "revision":
        return raw or None
    return raw.strip()


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``REWARD_*`` environment variables, defaults for the rest."""
    env = os.environ if env is None else env
    values = {}
    for name, (var, _) in SETTINGS_HELP.items():
        raw = env.get(var)
        if raw is not None and raw.strip() != "":
            values[name] = _convert(name, raw.strip(), var)
    return Settings(**values)


def add_settings_arguments(parser: argparse.ArgumentParser, *, app: bool = False) -> None:
    """Add one ``--flag`` per setting (the web app's own ones only with ``app``); an unset flag leaves the
    environment's value."""
    group = parser.add_argument_group("model settings (each overrides its environment variable)")
    for name, (var, text) in SETTINGS_HELP.items():
        if name in APP_ONLY and not app:
            continue
        flag = "--" + name.replace("_", "-")
        group.add_argument(flag, dest=name, default=None, metavar=var, help=f"{text} [env {var}]")
    if app:
        group.add_argument("--no-mcp", dest="mcp", action="store_const", const="0",
                           help="Do not serve the MCP tools (as REWARD_MCP=0).")


def settings_from_args(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Settings:
    """Environment settings with any flags given on the command line applied on top."""
    base = settings_from_env(env)
    overrides = {}
    for f in fields(Settings):
        raw = getattr(args, f.name, None)
        if raw is not None:
            overrides[f.name] = _convert(f.name, str(raw), "--" + f.name.replace("_", "-"))
    return replace(base, **overrides)


# -- The server's front door: what a request may be before Gradio reads it -----------------------

MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects a request's JSON may have: the app's own requests nest about 5 deep (a
table sent as an input), and parsers that recurse (the MCP server's among them) fail on deep nesting with a
traceback instead of a message."""
WAITING_SHARES = {"attribute": 1 / 16, "files": 1 / 16, "explain": 1 / 8, "probe": 1 / 8, "models": 1 / 8}
"""The share of ``queue_size`` each slow kind of work (by concurrency id) may fill with waiting requests, at least
one each: together half the queue, so however much of them one client sends, scoring keeps the other half
(at the default queue of 64: 4 token details, 4 file jobs, 8 explanations, 8 probes, 8 model comparisons)."""

# -- --engine ray: scoring a file block by block (reward.cli, reward.jobs.distributed) ------------

RAY_BLOCK_CHUNKS = 16
"""``--engine ray`` scores a file in blocks of this many chunks (16 x 2,048 rows by default), one after the other,
on the same replicas: a block is what a job that Ray gives up on can lose (the blocks before it are kept), and the
batches of one block are what keeps the replicas busy at once."""
RAY_BLOCK_CHUNKS_PER_WORKER = 2
"""With ``--workers N``, a block holds at least this many chunks per replica, so that no replica waits idle."""
