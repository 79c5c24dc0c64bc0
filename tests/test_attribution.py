"""attribute(): integrated gradients per token, checked against a hand-written integral and the completeness axiom.

The session's tiny model is built with ``initializer_range=0.5`` so that its scores spread over a few units;
that makes its attention nearly hard (the largest attention weight averages about 0.65 in its first layer,
against 0.005 at BERT's own 0.02), so along the path from baseline to input the reward jumps as attention
flips, and 32 Gauss-Legendre steps can miss the integral by more than the whole score difference (measured:
from 0.3% to over 100% depending on the pair and on the tiny build's vocabulary). The same network at
``initializer_range=0.3`` still spreads its scores, is smooth, and meets 5% at 32 steps by orders of magnitude,
as random BERT-base does (about 1e-5 at 16 steps). So completeness is checked at 32 steps on that smoother
model, and on the rough one only as convergence: at 256 steps.
"""

import json
import threading

import numpy as np
import pytest
import torch

from reward.config import ATTRIBUTION_STEP_LADDER
from reward.insight.attribution import AttributionUnavailable, attribute
from reward.insight.explain import explain
from tests.reference import assert_scores_close, card_score, typical_score_size

PROMPT = "Why is AI Ethics important?"
SHORT = "Paris is the capital and largest city of France."
TEN = " ".join(f"Sentence {i} says that plants use sunlight to turn air and water into food." for i in range(10))
LONG = "The field of AI Ethics delves deeply into the ethical considerations that arise with AI systems. " * 40


@pytest.fixture(scope="module")
def smooth_dir(tiny_model_dir, tmp_path_factory):
    """The tiny model's tokenizer and shape, with weights drawn at initializer_range=0.3: smooth along IG paths."""
    from transformers import AutoTokenizer

    from reward.model.tiny import save_random_reward_model

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    return save_random_reward_model(tmp_path_factory.mktemp("smooth-reward-model"), tokenizer, seed=1,
                                    vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                                    num_attention_heads=2, intermediate_size=64, max_position_embeddings=512,
                                    initializer_range=0.3)


@pytest.fixture(scope="module")
def smooth(smooth_dir):
    from reward.model.reward_model import load_reward_model

    return load_reward_model(smooth_dir, device="cpu")


def reference_integrated_gradients(folder, prompt, response, steps):
    """Integrated gradients written out by hand on the card's own encoding: (values, score, baseline score)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    net = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    encoded = tokenizer(prompt, response, truncation=True, max_length=512, return_token_type_ids=False,
                        return_tensors="pt")
    ids = encoded["input_ids"]
    text = torch.tensor([[s is not None for s in encoded.sequence_ids()]])
    baseline = ids.masked_fill(text, tokenizer.pad_token_id)
    embed = net.get_input_embeddings()
    with torch.no_grad():
        x, b = embed(ids), embed(baseline)
        score, baseline_score = net(input_ids=ids)[0].item(), net(input_ids=baseline)[0].item()
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    total = torch.zeros_like(x)
    for node, weight in zip(nodes, weights):
        point = (b + float((node + 1) / 2) * (x - b)).requires_grad_(True)
        (grad,) = torch.autograd.grad(net(inputs_embeds=point).logits[0, 0], point)
        total += float(weight / 2) * grad
    return ((x - b) * total).sum(-1)[0].tolist(), score, baseline_score


def test_matches_integrated_gradients_written_out_by_hand(smooth, smooth_dir):
    result = attribute(smooth, PROMPT, SHORT, steps=32)
    values, score, baseline_score = reference_integrated_gradients(smooth_dir, PROMPT, SHORT, 32)
    size = typical_score_size(smooth)
    assert_scores_close([result.score, result.baseline_score], [score, baseline_score], scale=size)
    # Each value is a share of the score difference, summed over steps batched otherwise: bounded by the scores' size.
    assert_scores_close([t.value for t in result.tokens], values, scale=size)


@pytest.mark.parametrize("response", [SHORT, TEN, LONG], ids=["short", "ten-sentences", "over-512-tokens"])
def test_completeness_at_32_steps(smooth, response):
    result = attribute(smooth, PROMPT, response, steps=32)
    assert abs(result.score - result.baseline_score) > 1e-3  # a difference worth explaining
    assert result.completeness_gap_relative < 0.05
    assert result.completeness_gap == pytest.approx(
        abs(sum(t.value for t in result.tokens) - (result.score - result.baseline_score)))


def test_the_rough_tiny_model_converges_with_more_steps(tiny_model):
    result = attribute(tiny_model, PROMPT, TEN, steps=256)
    assert result.completeness_gap_relative < 0.05


def test_tokens_and_shape(tiny_model):
    result = attribute(tiny_model, PROMPT, TEN, steps=4)
    assert [(t.token, t.part, t.position, t.late) for t in result.tokens] == \
        [(t.token, t.part, t.position, t.late) for t in explain(tiny_model, PROMPT, TEN).tokens]
    data = result.as_dict()
    assert set(data) == {"tokens", "words", "score", "baseline_score", "completeness_gap", "completeness_gap_relative", "steps",
                         "steps_tried"}
    assert set(data["tokens"][0]) == {"token", "part", "position", "late", "value"}
    assert data["steps"] == 4 and data["steps_tried"] == [4] and json.loads(json.dumps(data)) == data


# -- steps chosen by the gap ------------------------------------------------------------------------

def same_values(a, b):
    scale = max(1.0, max(abs(t.value) for t in a.tokens))
    return [t.value for t in a.tokens] == pytest.approx([t.value for t in b.tokens], abs=1e-6 * scale)


@pytest.mark.parametrize("response", [SHORT, TEN], ids=["short", "ten-sentences"])
def test_without_steps_the_fewest_steps_that_close_the_gap_are_used(smooth, response):
    """The smooth model closes the gap at the ladder's first rung: the answer is that rung's fixed-step answer."""
    chosen = attribute(smooth, PROMPT, response)
    assert chosen.tried == ATTRIBUTION_STEP_LADDER[:len(chosen.tried)] and chosen.steps == chosen.tried[-1]
    assert chosen.small_enough and chosen.completeness_gap_relative < 0.05
    fixed = attribute(smooth, PROMPT, response, steps=chosen.steps)
    assert same_values(chosen, fixed) and (chosen.score, chosen.baseline_score) == (fixed.score, fixed.baseline_score)
    for fewer in chosen.tried[:-1]:
        assert not attribute(smooth, PROMPT, response, steps=fewer).small_enough
    assert chosen.as_dict()["steps_tried"] == list(chosen.tried)


def test_a_rough_model_climbs_the_ladder_and_says_so(tiny_model, monkeypatch):
    """The rough tiny model needs more steps: each rung tried before the kept one had too large a gap, and the
    ladder stops at its last rung whatever the gap."""
    import reward.insight.attribution as module

    monkeypatch.setattr(module, "ATTRIBUTION_STEP_LADDER", (2, 4, 8))
    chosen = attribute(tiny_model, PROMPT, TEN)
    assert chosen.tried == (2, 4, 8)[:len(chosen.tried)] and chosen.steps == chosen.tried[-1]
    for fewer in chosen.tried[:-1]:
        assert not attribute(tiny_model, PROMPT, TEN, steps=fewer).small_enough
    assert chosen.small_enough or chosen.steps == 8
    monkeypatch.setattr(module, "ATTRIBUTION_GAP_TARGET", 0.0)
    monkeypatch.setattr(module, "ATTRIBUTION_GAP_NEGLIGIBLE", 0.0)
    assert attribute(tiny_model, PROMPT, TEN).tried == (2, 4, 8)  # never small enough: every rung, the last kept


@pytest.mark.parametrize("prompt, response", [
    ("", "An empty prompt."),
    (PROMPT, "One sentence."),
    (PROMPT, ""),
    ("", ""),
    ("Why? " * 300, LONG),
    (("Tell me more. " * 1500)[:20_000], (LONG * 6)[:20_000]),
], ids=["empty-prompt", "one-sentence", "empty-response", "both-empty", "over-512", "20000-chars"])
def test_any_pair_is_attributed(tiny_model, card_model, score_scale, prompt, response):
    result = attribute(tiny_model, prompt, response, steps=2)
    assert len(result.tokens) == min(512, len(card_model[0](prompt, response)["input_ids"]))
    assert_scores_close(result.score, card_score(*card_model, prompt, response)[0], scale=score_scale)
    if not prompt and not response:  # nothing to replace: the baseline is the input
        assert result.baseline_score == result.score and result.completeness_gap == 0


@pytest.fixture(scope="module")
def card_model(tiny_model_dir):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir), AutoModelForSequenceClassification.from_pretrained(
        tiny_model_dir).eval()


def test_int8_is_refused(tiny_model_dir):
    from reward.model.reward_model import load_reward_model

    with pytest.raises(AttributionUnavailable, match="REWARD_PRECISION=fp32"):
        attribute(load_reward_model(tiny_model_dir, device="cpu", precision="int8"), PROMPT, SHORT)


def test_bf16_is_attributed_on_a_float_copy(smooth_dir):
    from reward.model.reward_model import load_reward_model

    model = load_reward_model(smooth_dir, device="cpu", precision="bf16")
    result = attribute(model, PROMPT, TEN, steps=32)
    assert result.completeness_gap_relative < 0.05
    assert model.model.classifier.weight.dtype == torch.bfloat16  # the loaded model is left as it was
    # The float copy runs in fp32, the model in bf16, whose steps are 1/128 of a unit-sized score: a few steps.
    assert_scores_close(result.score, model.score(PROMPT, [TEN])[0].score, scale=typical_score_size(model), rel=0.05)


def test_steps_below_one_are_refused(tiny_model):
    with pytest.raises(ValueError, match="at least 1 step"):
        attribute(tiny_model, PROMPT, SHORT, steps=0)


def test_scoring_meanwhile_is_untouched_and_turns_are_taken(tiny_model, score_scale, monkeypatch):
    expected = [s.score for s in tiny_model.score(PROMPT, [SHORT, TEN])]
    taken = []
    turns = tiny_model.turns

    class Counting:
        def __enter__(self):
            turns.__enter__()
            taken.append(threading.current_thread() is threading.main_thread())

        def __exit__(self, *exc):
            return turns.__exit__(*exc)

    monkeypatch.setattr(tiny_model, "turns", Counting())
    done = threading.Event()
    seen = []

    def score_meanwhile():
        while not done.is_set():
            seen.append([s.score for s in tiny_model.score(PROMPT, [SHORT, TEN])])

    scorer = threading.Thread(target=score_meanwhile)
    scorer.start()
    try:
        attribute(tiny_model, PROMPT, LONG, steps=16)
    finally:
        done.set()
        scorer.join()
    assert seen
    for row in seen:
        assert_scores_close(row, expected, scale=score_scale)
    assert not tiny_model.model.get_input_embeddings()._forward_hooks
    # At 512 tokens a pass holds 2 steps: 8 gradient passes, and 3 plain forward passes (captum's 2, ours).
    assert sum(taken) >= 8 + 3
