"""Integrated gradients per token: how far each token the model read moves its reward from an all-[PAD] baseline.

``attribute(model, prompt, response)`` runs captum's ``LayerIntegratedGradients`` on the word embeddings of
exactly the ids the model scores (``RewardModel.encode``; no token type ids, as the model card), from a baseline
where every prompt and response token is ``[PAD]`` and the special tokens ([CLS], [SEP]) stay, with the same
attention mask (all ones), to the single output logit. A token's value is its attribution summed over the
embedding dimensions; the values add up to ``score - baseline_score`` up to the integral's approximation error,
reported as the completeness gap.

Precision: fp32 models are attributed as they are. bf16 and fp16 models are attributed on an fp32 copy of their
weights (made for the call and dropped after it: memory for one more fp32 model meanwhile), so ``score`` may
differ slightly from the half-precision score the page shows. int8 models are refused: their quantized layers
have no gradients.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, replace

from reward.config import (
    ATTRIBUTION_GAP_NEGLIGIBLE,
    ATTRIBUTION_GAP_TARGET,
    ATTRIBUTION_PASS_TOKENS,
    ATTRIBUTION_PASS_TOKENS_ELSEWHERE,
    ATTRIBUTION_STEP_LADDER,
)

from .explain import Token, tokens_read
from .words import Word, attributed_words

CHUNK_TOKENS = ATTRIBUTION_PASS_TOKENS
OTHER_CHUNK_TOKENS = ATTRIBUTION_PASS_TOKENS_ELSEWHERE


class AttributionUnavailable(ValueError):
    """This model cannot be attributed; the message says why and what to do."""


@dataclass(frozen=True)
class AttributedToken(Token):
    """A token the model read, with its integrated-gradients attribution."""

    value: float
    """How much this token moved the reward from the baseline (its embedding's attribution, summed)."""


@dataclass(frozen=True)
class Attribution:
    """Integrated gradients for one (prompt, response) pair."""

    tokens: list[AttributedToken]
    score: float
    """The reward of the pair, from the same network the gradients come from."""
    baseline_score: float
    """The reward with every prompt and response token replaced by [PAD]."""
    steps: int
    """The steps these values come from."""
    tried: tuple[int, ...] = ()
    """For an attribution whose steps were chosen by its gap: every number of steps tried, the last one kept."""
    words: list[Word] | None = None
    """The tokens' values summed into the words of the prompt and the response (:mod:`reward.insight.words`);
    None for a tokenizer that gives no character offsets."""

    @property
    def small_enough(self) -> bool:
        """The completeness gap is within ``ATTRIBUTION_GAP_TARGET`` of the spread, or negligible."""
        return self.completeness_gap <= max(ATTRIBUTION_GAP_TARGET * abs(self.score - self.baseline_score),
                                            ATTRIBUTION_GAP_NEGLIGIBLE)

    @property
    def completeness_gap(self) -> float:
        """``|sum(values) - (score - baseline_score)|``: how far the integral's approximation is off."""
        return abs(sum(t.value for t in self.tokens) - (self.score - self.baseline_score))

    @property
    def completeness_gap_relative(self) -> float | None:
        """The gap as a share of ``|score - baseline_score|`` (0 when both are 0; None when only the difference is)."""
        spread = abs(self.score - self.baseline_score)
        gap = self.completeness_gap
        if spread == 0:
            return 0.0 if gap == 0 else None
        return gap / spread

    def as_dict(self) -> dict:
        """Plain JSON-ready data: ``tokens`` (token, part, position, late, value), ``words`` (word, part, start,
        end, value, tokens, read: offsets into the prompt or the response, as ``part`` says; null without offsets),
        ``score``, ``baseline_score``, ``completeness_gap``, ``completeness_gap_relative``, ``steps`` and
        ``steps_tried`` (the steps tried when they were chosen by the gap; ``[steps]`` when they were given)."""
        return {
            "tokens": [asdict(t) for t in self.tokens],
            "words": None if self.words is None else [w.as_dict() for w in self.words],
            "score": self.score,
            "baseline_score": self.baseline_score,
            "completeness_gap": self.completeness_gap,
            "completeness_gap_relative": self.completeness_gap_relative,
            "steps": self.steps,
            "steps_tried": list(self.tried or (self.steps,)),
        }


def attribute(model, prompt: str, response: str, steps: int | None = None) -> Attribution:
    """Integrated gradients of the reward over the word embeddings of each token of (prompt, response).

    Args:
        model: a loaded :class:`reward.model.reward_model.RewardModel` (fp32, bf16 or fp16; not int8).
        prompt: the prompt, may be empty.
        response: the response, may be empty.
        steps: points on the path from baseline to input (Gauss-Legendre); each is a forward and a backward pass.
            None: as few as make the completeness gap small enough (``Attribution.small_enough``), trying the
            numbers of ``ATTRIBUTION_STEP_LADDER`` in turn (the last one is kept whatever its gap).

    Raises:
        AttributionUnavailable: the model is int8, or its tokenizer has no [PAD] token.
        ValueError: ``steps`` is below 1.
    """
    if steps is not None and steps < 1:
        raise ValueError(f"steps={steps}: integrated gradients need at least 1 step.")
    import torch

    pad = getattr(model.tokenizer, "pad_token_id", None)
    if pad is None:
        raise AttributionUnavailable("The tokenizer has no [PAD] token, which the attribution baseline is made of.")
    network = _float_network(model)
    read = tokens_read(model, prompt, response)
    device = model.device
    ids = torch.tensor([read.ids], dtype=torch.long, device=device)
    content = torch.tensor([[t.part != "special" for t in read.tokens]], device=device)
    baseline = ids.masked_fill(content, pad)
    mask = torch.ones_like(ids)
    words = _word_embeddings(network.get_input_embeddings())
    turn = model.turns

    def forward(input_ids, attention_mask):
        if torch.is_grad_enabled():  # a gradient step, which holds the model's turn already (see _taking_turns)
            return _reward(network, words, input_ids, attention_mask)
        with turn:
            return _reward(network, words, input_ids, attention_mask)

    ladder = ATTRIBUTION_STEP_LADDER if steps is None else (steps,)
    if not bool(content.any()):
        # Nothing to replace: the baseline is the input, so it is scored once (two rows of one batch may round apart).
        with torch.no_grad():
            score = baseline_score = forward(ids, mask).item()
        return _with_words(model, prompt, response, Attribution(
            [AttributedToken(**asdict(t), value=0.0) for t in read.tokens], score, baseline_score, ladder[0],
            ladder[:1] if steps is None else ()))
    with torch.no_grad():
        score, baseline_score = forward(torch.cat([ids, baseline]), torch.cat([mask, mask])).tolist()
    per_pass = CHUNK_TOKENS.get(device.type, OTHER_CHUNK_TOKENS) // len(read.ids)
    integrated = _taking_turns(forward, words, turn=turn)
    for tried, n in enumerate(ladder, start=1):
        attributions = integrated.attribute(ids, baselines=baseline, additional_forward_args=(mask,), n_steps=n,
                                            method="gausslegendre", internal_batch_size=max(1, min(n, per_pass)))
        values = attributions.detach().float().sum(dim=-1)[0].tolist()
        result = Attribution([AttributedToken(**asdict(t), value=v) for t, v in zip(read.tokens, values)], score,
                             baseline_score, n, ladder[:tried] if steps is None else ())
        if result.small_enough:
            break
    return _with_words(model, prompt, response, result)


def _with_words(model, prompt: str, response: str, result: Attribution) -> Attribution:
    """``result`` with its values summed into words (None where the tokenizer gives no offsets)."""
    if not getattr(model.tokenizer, "is_fast", False):
        return result
    return replace(result, words=attributed_words(model, prompt, response, [t.value for t in result.tokens]))


def _reward(network, words, input_ids, attention_mask):
    """The one logit per row; token_type_ids are never passed, as in the model card (all segment 0)."""
    return network(inputs_embeds=words(input_ids), attention_mask=attention_mask).logits[:, 0].float()


def _float_network(model):
    """The network to take gradients of: the model's own in fp32, a float copy for bf16/fp16; int8 is refused."""
    precision = getattr(model, "precision", "fp32")
    if precision == "fp32":
        return model.model
    if precision in ("bf16", "fp16"):
        return copy.deepcopy(model.model).float()
    raise AttributionUnavailable(
        f"Token attributions need gradients, and the {precision} model's quantized layers have none: load the "
        "model with REWARD_PRECISION=fp32 (or bf16/fp16 on a GPU) to see them.")


def _word_embeddings(embedding):
    """The model's word-embedding lookup as a module of its own, over the same weights.

    captum hooks the layer it attributes to; a hook on the shared model's own embedding layer would also rewrite
    the embeddings of the scoring passes that other requests run meanwhile. (The class is made here, so that
    importing this module does not import torch.)
    """
    import torch

    class WordEmbeddings(torch.nn.Module):
        def forward(self, input_ids):
            e = embedding
            return torch.nn.functional.embedding(input_ids, e.weight, e.padding_idx, e.max_norm, e.norm_type,
                                                 e.scale_grad_by_freq, e.sparse)

    return WordEmbeddings()


def _taking_turns(forward, layer, *, turn):
    """``LayerIntegratedGradients`` whose every forward-and-backward pass takes the model's turn.

    captum 0.9 builds each pass's gradient function in ``_make_gradient_func``; should a later captum not,
    the passes simply run without taking turns (still correct: no hook touches the shared model).
    """
    from captum.attr import LayerIntegratedGradients

    class TakingTurns(LayerIntegratedGradients):
        def _make_gradient_func(self, *args, **kwargs):
            inner = super()._make_gradient_func(*args, **kwargs)

            def gradient_func(*a, **k):
                with turn:
                    return inner(*a, **k)

            return gradient_func

    return TakingTurns(forward, layer)
