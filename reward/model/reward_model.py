"""Load a reward model once and score (prompt, response) pairs with it.

The reward of a pair is the model's raw output logit (no sigmoid), computed on
exactly the encoding the model card uses::

    tokenizer(prompt, response, truncation=True, max_length=512, return_token_type_ids=False)

Pairs are scored in micro-batches sorted by length, so short pairs are never
padded to the longest one, and the results come back in input order.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from reward.config import (
    CPU_PADDING,
    DEFAULT_MODEL,
    SCORE_CACHE_BYTES,
    SCORE_CACHE_ENTRIES,
    ModelLoadError,
    Settings,
    precision_problem,
)

from .cache import ScoreCache
from .encoding import encode_pairs
from .precision import autocast, choose_precision, precision_note, prepare_for_precision
from .sources import HOW_TO_FIX, check_folder, display_name, from_pretrained, looks_like_path, why_it_failed
from .turns import FairLock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PairScore:
    """The model's verdict on one (prompt, response) pair."""

    score: float
    """The raw reward logit: higher is better; only differences between scores mean something."""
    tokens: int
    """Tokens the model read, [CLS] and both [SEP] included."""
    truncated: bool
    """True when the pair was longer than ``max_length`` and was cut to fit."""


@dataclass(frozen=True)
class ModelInfo:
    """What is loaded, or before loading what will be: the page's model panel and logs."""

    model: str
    """The hub id, or a folder's last part (a server's paths are nobody's business)."""
    revision: str
    device: str
    precision: str
    """What the model runs in: fp32, bf16, fp16, int8; before loading, possibly ``auto``."""
    precision_note: str
    """What the precision means on this device; "" for fp32."""
    max_length: int
    batch_size: int
    parameters: int | None = None
    """None until the model is loaded."""
    precision_reason: str = ""
    """Why ``auto`` picked the precision ("auto: this CPU has AVX512-BF16"); "" when it was asked for by name."""

    @property
    def is_card_model(self) -> bool:
        """True for the model whose card the page quotes (its WebGPT accuracy, its examples' scores)."""
        return self.model == DEFAULT_MODEL


def pick_device(requested: str = "auto"):
    """The torch device to score on: for ``"auto"``, cuda, then mps, then cpu."""
    import torch

    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(f"REWARD_DEVICE={requested} but no CUDA GPU is available here: use REWARD_DEVICE=auto or cpu.")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ModelLoadError(f"REWARD_DEVICE={requested} but Apple MPS is not available here: use REWARD_DEVICE=auto or cpu.")
    return device


class RewardModel:
    """A loaded reward model and its tokenizer, ready to score pairs.

    Build it with :func:`load_reward_model`, which caches one instance per
    settings. Callers take turns at each forward pass, first come first served (a
    CPU forward pass gains nothing from running two at once), and one at a time at
    the tokenizer, so one caller's long job never holds the model for long.

    Example (the model card's Good and Bad Response, and the scores its card prints):
        >>> import json
        >>> card = json.load(open("assets/examples.json"))["example_sets"][0]
        >>> rm = load_reward_model("nicholasKluge/RewardModel")
        >>> [round(s.score, 3) for s in rm.score(card["prompt"], card["responses"])]
        [4.777, -11.582]
    """

    def __init__(self, model, tokenizer, *, device, source: str, revision: str | None,
                 precision: str = "fp32", max_length: int = 512, batch_size: int = 8) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.source = source
        self.revision = revision
        choice = choose_precision(precision, device)
        self.precision = choice.precision
        """What the model runs in (never ``auto``: that is resolved here, for this device)."""
        self.precision_reason = choice.reason
        self.max_length = max_length
        self.batch_size = batch_size
        # Counted before any int8 conversion, which hides weights from parameters().
        self.parameters = sum(p.numel() for p in model.parameters())
        self.model = prepare_for_precision(model, self.precision, device)
        self.turns = FairLock()
        """Held for each forward pass, granted first come first served: a request that arrives during a
        file job waits for the pass in progress, not for the job's chunk. Hold it for any use of the network."""
        # A fast tokenizer must not be called from two threads at once (reentrant: encode may be called
        # by code that already holds it).
        self.tokenizing = threading.RLock()
        """Held for each tokenizer call (the fast tokenizer's truncation setting is shared state)."""
        self.scores = ScoreCache((source, revision, self.precision, max_length), max_entries=SCORE_CACHE_ENTRIES,
                                 max_bytes=SCORE_CACHE_BYTES)
        """Every pair scored so far (bounded): a pair is scored once, whoever asks again."""

    # -- encoding -----------------------------------------------------------------
    def encode(self, prompts: Sequence[str], responses: Sequence[str]) -> tuple[list[list[int]], list[bool]]:
        """Token ids of each pair exactly as the model card encodes it, and whether each was cut.

        Bounded in memory for texts of any length (see :mod:`reward.model.encoding`); one caller at a time.
        """
        with self.tokenizing:
            return encode_pairs(self.tokenizer, prompts, responses, self.max_length)

    # -- scoring ------------------------------------------------------------------
    def score_pairs(self, prompts: Sequence[str], responses: Sequence[str], *,
                    progress: Callable[[int, int], None] | None = None) -> list[PairScore]:
        """Score each ``(prompts[i], responses[i])`` pair; results are in input order.

        Args:
            prompts: one prompt per pair.
            responses: one response per pair, as many as prompts.
            progress: called as ``progress(done, total)`` after each micro-batch.

        Returns:
            One :class:`PairScore` per pair; an empty list for no pairs. A pair this model scored before answers
            from :attr:`scores` (its verdict then, unchanged); a pair given twice is scored once.
        """
        if len(prompts) != len(responses):
            raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses: give one prompt per response.")
        if not prompts:
            return []
        found = self.scores.get_many(prompts, responses)
        missing = list(dict.fromkeys((p, r) for p, r, hit in zip(prompts, responses, found) if hit is None))
        if missing:
            known = len(prompts) - len(missing)
            ids, truncated = self.encode([p for p, _ in missing], [r for _, r in missing])
            scores = self._forward_sorted(ids, None if progress is None else
                                          lambda done, _: progress(known + done, len(prompts)))
            new = {pair: PairScore(s, len(i), t) for pair, s, i, t in zip(missing, scores, ids, truncated)}
            self.scores.put_many([p for p, _ in missing], [r for _, r in missing], list(new.values()))
            found = [hit if hit is not None else new[(p, r)] for p, r, hit in zip(prompts, responses, found)]
        elif progress is not None:
            progress(len(prompts), len(prompts))
        return found

    def score(self, prompt: str, responses: Sequence[str]) -> list[PairScore]:
        """Score several candidate responses to one prompt, in the order given."""
        return self.score_pairs([prompt] * len(responses), responses)

    def micro_batches(self, lengths: Sequence[int]) -> list[list[int]]:
        """Indices of the pairs in each forward pass: longest first, at most ``batch_size`` a pass.

        On a CPU every padded position costs as much as a real token, while
        batching gains much for short rows (2.5x for 64-token rows, 8 at a time)
        and little for long ones (1.2x at 320 tokens); so a pair joins a pass only
        when it is nearly as long as the pass's longest (see ``CPU_PADDING``).
        A file sorted by length still fills whole passes. On a GPU padding is
        nearly free until the chip is busy, so passes are always full.
        """
        order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
        share, always, most = CPU_PADDING if self.device.type == "cpu" else (1.0, 1 << 30, 1 << 30)
        batches: list[list[int]] = []
        for i in order:
            if batches and len(batches[-1]) < self.batch_size:
                width = lengths[batches[-1][0]]
                if width - lengths[i] <= max(always, min(share * width, most)):
                    batches[-1].append(i)
                    continue
            batches.append([i])
        return batches

    def _forward_sorted(self, ids: list[list[int]], progress) -> list[float]:
        import torch

        scores = [0.0] * len(ids)
        pad_id = self.tokenizer.pad_token_id or 0
        done = 0
        for batch in self.micro_batches([len(row) for row in ids]):
            lengths = [len(ids[i]) for i in batch]
            width = lengths[0]
            if self.device.type == "cuda":  # tensor cores want multiples of 8, within the model's positions
                positions = getattr(self.model.config, "max_position_embeddings", width)
                width = min(-(-width // 8) * 8, max(width, positions))
            input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            for row, i in enumerate(batch):
                input_ids[row, :lengths[row]] = torch.tensor(ids[i], dtype=torch.long)
            attention = None
            if min(lengths) < width:
                attention = (torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]).long()
            # With no padding there is nothing to mask: the mask-free attention is the
            # same arithmetic, only faster.
            with self.turns:
                logits = self._forward(input_ids, attention)
            for i, value in zip(batch, logits.tolist()):
                scores[i] = value
            done += len(batch)
            if progress is not None:
                progress(done, len(ids))
        return scores

    def _forward(self, input_ids, attention_mask):
        import torch

        input_ids = input_ids.to(self.device, non_blocking=True)
        if attention_mask is not None:
            attention_mask = attention_mask.to(self.device, non_blocking=True)
        with torch.inference_mode(), autocast(self.precision, self.device):
            out = self.model(input_ids=input_ids, attention_mask=attention_mask)
        return out.logits[:, 0].float().cpu()

    # -- description ----------------------------------------------------------------
    def describe(self) -> ModelInfo:
        """What is loaded, for the page's model panel and logs."""
        return ModelInfo(model=self.source, revision=self.revision or "default", device=str(self.device),
                         precision=self.precision, precision_note=precision_note(self.precision, self.device),
                         max_length=self.max_length, batch_size=self.batch_size, parameters=self.parameters,
                         precision_reason=self.precision_reason)


@functools.lru_cache(maxsize=4)
def _load_cached(source: str, revision: str | None, device: str, precision: str,
                 max_length: int, batch_size: int) -> RewardModel:
    shown = source
    is_folder = looks_like_path(source)
    if is_folder:
        folder = Path(source).expanduser()
        shown = display_name(source)
        check_folder(folder, shown)
        source, revision = str(folder.resolve()), None
    torch_device = pick_device(device)
    problem = precision_problem(precision, torch_device.type)
    if problem:
        raise ModelLoadError(problem)

    import transformers

    where = "" if is_folder else " from the Hugging Face hub"
    quiet = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        tokenizer, model = from_pretrained(source, revision, is_folder)
    except Exception as err:  # noqa: BLE001 - every cause becomes one line for the user
        raise ModelLoadError(f"Cannot load reward model {shown!r}{where}: {why_it_failed(err)} "
                             f"To use a model on disk, {HOW_TO_FIX}.") from err
    finally:
        transformers.logging.set_verbosity(quiet)
    labels = model.config.num_labels
    if labels != 1:
        raise ModelLoadError(f"{shown!r} is not a reward model: it has {labels} output labels, and a reward model has "
                             f"exactly one. Point REWARD_MODEL at a one-logit sequence-classification model.")
    model.eval().to(torch_device)
    loaded = RewardModel(model, tokenizer, device=torch_device, source=shown, revision=revision,
                         precision=precision, max_length=max_length, batch_size=batch_size)
    log.info("loaded reward model %s on %s (%s%s)", source, torch_device, loaded.precision,
             f", {loaded.precision_reason}" if loaded.precision_reason else "")
    return loaded


def load_reward_model(model: str | Path = DEFAULT_MODEL, *, revision: str | None = None, device: str = "auto",
                      precision: str = "fp32", max_length: int = 512, batch_size: int = 8) -> RewardModel:
    """Load a reward model once per process; the same arguments return the same instance.

    Args:
        model: a Hugging Face hub id or a local folder (safetensors weights only).
        revision: hub revision to pin (branch, tag or commit); ignored for folders.
        device: ``"auto"`` (cuda, then mps, then cpu), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
        precision: ``"fp32"`` (exact, default); ``"bf16"`` (fast on GPUs and on CPUs with bf16
            instructions, slow on others); ``"fp16"`` (GPU only); ``"int8"`` (CPU only; faster than fp32);
            ``"auto"``: bf16 where the device multiplies it natively, fp32 elsewhere (see
            :func:`reward.model.precision.choose_precision`; ``describe()`` says which and why). Scores in the
            fast modes move slightly; ``python bench/benchmark.py`` measures by how much.
        max_length: tokens read per pair; longer pairs are cut as the model card cuts them.
        batch_size: pairs per forward pass.

    Raises:
        ModelLoadError: with a one-line message that names the model and says how to fix it.
    """
    return _load_cached(str(model), revision, device, precision, max_length, batch_size)


def load_from_settings(settings: Settings) -> RewardModel:
    """:func:`load_reward_model` with every argument taken from ``settings``."""
    return load_reward_model(settings.model, revision=settings.revision, device=settings.device,
                             precision=settings.precision, max_length=settings.max_length,
                             batch_size=settings.batch_size)
