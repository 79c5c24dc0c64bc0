"""The model card's scoring code, one pair at a time: the independent reference for parity tests."""

import torch


def card_score(tokenizer, model, prompt: str, response: str, max_length: int = 512) -> tuple[float, int]:
    """Score exactly as the model card's Usage section does; returns (score, tokens read)."""
    tokens = tokenizer(prompt, response, truncation=True, max_length=max_length, return_token_type_ids=False,
                       return_tensors="pt", return_attention_mask=True)
    with torch.no_grad():
        score = model(**tokens)[0].item()
    return score, tokens["input_ids"].shape[1]


# -- comparing scores computed apart --------------------------------------------------------------

SCORE_REL = 1e-5
"""How far two fp32 computations of the same scores may drift apart, as a share of the largest |score| compared.

Scores computed in different batches (other padding, other matrix shapes), processes or CPUs (AVX2, AVX-512,
AMX) sum in different orders and round differently; the drift scales with the size of the numbers summed, so a
bound in absolute units means one thing for the tiny test model (scores of a few units) and another for the real
one. Measured on a 2-core AVX2 CPU: the batched wrapper against the card's one-pair code, 8e-7 of the largest
|score|. A score near 0 is rounded like its neighbours (its partial sums are as large), hence the floor scaled by
the largest |score| rather than each score's own size."""


TYPICAL_PAIRS = [
    ("Why is AI Ethics important?", "AI Ethics matters because AI systems affect people's lives."),
    ("Why is AI Ethics important?", "Who cares?"),
    ("What is the capital of France?", "Paris."),
    ("What is the capital of France?", "I would rather talk about the weather, which is lovely today."),
    ("", "An answer to nothing."),
    ("Write a haiku.", ""),
    ("Café naïve 東京 🙂?", "Привет! こんにちは 🚀"),
    ("Count to ten.", " ".join(str(i) for i in range(1, 11))),
]
"""Varied pairs whose scores show how large a model's scores run."""


def typical_score_size(model) -> float:
    """The largest |score| ``model`` (a RewardModel) gives over :data:`TYPICAL_PAIRS`: the scale of its rounding
    drift, for comparisons of a lone score that happens to lie near 0 (drift does not shrink with it)."""
    return max(abs(s.score) for s in model.score_pairs(*zip(*TYPICAL_PAIRS)))


def _floats(values) -> list[float]:
    """A score, or any (nested) sequence or array of scores, as a flat list of floats."""
    if hasattr(values, "tolist"):
        values = values.tolist()
    if isinstance(values, (list, tuple)):
        return [f for v in values for f in _floats(v)]
    return [float(values)]


def score_tolerance(*scores, rel: float = SCORE_REL) -> float:
    """The most two computations of ``scores`` (numbers or sequences of them) may differ by: ``rel`` times the
    largest |score| among them."""
    return rel * max((abs(s) for s in _floats(list(scores))), default=0.0)


def assert_scores_close(got, expected, *, scale=None, rel: float = SCORE_REL, decimals: int | None = None) -> None:
    """``got`` and ``expected`` (a score each, or as many scores each, in the same order) are the same scores
    computed apart: they differ by at most :func:`score_tolerance`.

    Args:
        scale: scores whose size sets the bound besides ``got`` and ``expected``: the model's typical size
            (the ``score_scale`` fixture) for a lone score, which may lie near 0; or the scores that ``got`` are
            differences of (margins, effects) or shares of (attributions).
        rel: the share of the largest |score| allowed; a bound for another precision (bf16, another device) is
            passed here by the test that needs it, with its reason.
        decimals: ``got`` was shown rounded to this many decimals: half a unit of the last one more.
    """
    got_f, expected_f = _floats(got), _floats(expected)
    assert len(got_f) == len(expected_f), f"{len(got_f)} scores against {len(expected_f)}"
    bound = score_tolerance(got_f, expected_f, *([] if scale is None else [scale]), rel=rel)
    if decimals is not None:
        bound += 0.5 * 10.0 ** -decimals
    worst = max((abs(g - e) for g, e in zip(got_f, expected_f)), default=0.0)
    assert worst <= bound, (f"scores differ by up to {worst:.3g}, over the {bound:.3g} allowed ({rel:g} of the "
                            f"largest |score|): got {got_f}, expected {expected_f}")
