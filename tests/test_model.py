"""The scoring wrapper on a tiny real BERT reward model loaded from disk."""

import os
import subprocess
import sys

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from reward.model.reward_model import ModelLoadError, load_reward_model, pick_device
from tests.conftest import ROOT
from tests.reference import assert_scores_close, card_score

PROMPT = "Why is AI Ethics important?"
LONG = "The field of AI Ethics delves deeply into ethical considerations. " * 80  # far over 512 tokens
CASES = [
    (PROMPT, "Who cares about AI Ethics?"),
    (PROMPT, "The field of AI Ethics delves deeply into the intricate ethical considerations of AI systems."),
    (PROMPT, ""),
    ("", "An answer to nothing."),
    ("Café naïve 東京 🙂?", "Привет! こんにちは 🚀 مرحبا — ✓"),
    ("What is the capital of France?", "Paris [SEP] is the capital."),
    ("a", "b"),
    (PROMPT, LONG),
    (LONG, "Short answer."),
    (LONG, LONG),
    ("Control\tchars\n\r", "\x00\x1f zero width\u200b joiner\u200d"),
    ("Numbers 3.14", " ".join(str(i) for i in range(300))),
]


@pytest.fixture(scope="module")
def card_parts(tiny_model_dir):
    """Tokenizer and model loaded the card's way, independent of our wrapper."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir).eval()
    return tokenizer, model


@pytest.mark.parametrize("batch_size", [1, 3, 8, 64])
def test_batched_scores_equal_the_card_code_one_pair_at_a_time(tiny_model_dir, card_parts, batch_size):
    rm = load_reward_model(tiny_model_dir, device="cpu", batch_size=batch_size)
    got = rm.score_pairs([p for p, _ in CASES], [r for _, r in CASES])
    expected = [card_score(*card_parts, p, r) for p, r in CASES]
    assert_scores_close([g.score for g in got], [e[0] for e in expected])
    assert [g.tokens for g in got] == [e[1] for e in expected]
    # The scores must actually differ between pairs, or the comparison proves nothing.
    assert max(g.score for g in got) - min(g.score for g in got) > 0.1


def test_tokens_and_truncation_are_reported(tiny_model, card_parts):
    tokenizer, _ = card_parts
    got = tiny_model.score_pairs([p for p, _ in CASES], [r for _, r in CASES])
    for (prompt, response), scored in zip(CASES, got):
        full = len(tokenizer(prompt, response)["input_ids"])
        assert scored.truncated == (full > 512), (prompt[:20], response[:20], full)
        assert scored.tokens == min(full, 512)


def test_a_shorter_max_length_cuts_more(tiny_model_dir):
    rm = load_reward_model(tiny_model_dir, device="cpu", max_length=16)
    scored = rm.score(PROMPT, ["short", "a much longer response that will not fit in sixteen tokens at all, surely"])
    assert [s.truncated for s in scored] == [False, True]
    assert scored[1].tokens == 16


def test_scoring_is_deterministic_and_order_independent(tiny_model):
    responses = [r for _, r in CASES]
    forward = tiny_model.score(PROMPT, responses)
    backward = tiny_model.score(PROMPT, responses[::-1])[::-1]
    assert_scores_close([a.score for a in forward], [b.score for b in backward])


def test_no_pairs_give_no_scores(tiny_model):
    assert tiny_model.score_pairs([], []) == []
    assert tiny_model.score(PROMPT, []) == []


def test_mismatched_pairs_are_refused(tiny_model):
    with pytest.raises(ValueError, match="one prompt per response"):
        tiny_model.score_pairs(["a", "b"], ["c"])


def test_progress_is_reported_per_micro_batch(tiny_model_dir):
    rm = load_reward_model(tiny_model_dir, device="cpu", batch_size=2)
    seen = []
    rm.score_pairs(["p"] * 5, ["a", "bb", "ccc", "dddd", "eeeee"], progress=lambda done, total: seen.append((done, total)))
    assert seen == [(2, 5), (4, 5), (5, 5)]


def test_the_model_is_loaded_once_per_settings(tiny_model_dir):
    a = load_reward_model(tiny_model_dir, device="cpu")
    b = load_reward_model(str(tiny_model_dir), device="cpu")
    c = load_reward_model(tiny_model_dir, device="cpu", batch_size=3)
    assert a is b
    assert c is not a and c.model is not a.model


def test_the_score_is_the_raw_logit_not_a_probability(tiny_model):
    scores = [s.score for s in tiny_model.score_pairs([p for p, _ in CASES], [r for _, r in CASES])]
    assert any(s < 0 or s > 1 for s in scores), scores


def test_describe_says_what_is_loaded(tiny_model, tiny_model_dir):
    info = tiny_model.describe()
    assert info.model == tiny_model_dir.name  # a folder is named, its path on the server is not shown
    assert info.device == "cpu" and info.precision == "fp32"
    assert info.parameters == sum(p.numel() for p in tiny_model.model.parameters()) > 0


def test_auto_device_picks_cpu_without_a_gpu():
    if torch.cuda.is_available():
        assert pick_device("auto").type == "cuda"
    else:
        assert pick_device("auto").type in ("cpu", "mps")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_asking_for_a_missing_gpu_is_a_clear_error(tiny_model_dir):
    with pytest.raises(ModelLoadError, match="no CUDA GPU"):
        load_reward_model(tiny_model_dir, device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_scores_match_cpu(tiny_model_dir, tiny_model):
    gpu = load_reward_model(tiny_model_dir, device="cuda")
    pairs = ([p for p, _ in CASES], [r for _, r in CASES])
    # Another device sums otherwise (its own kernels): a looser share of the scores' size than two CPU runs.
    assert_scores_close([s.score for s in gpu.score_pairs(*pairs)], [s.score for s in tiny_model.score_pairs(*pairs)],
                        rel=2e-4)


def test_fp16_on_cpu_is_refused_with_advice(tiny_model_dir):
    with pytest.raises(ModelLoadError, match="use bf16"):
        load_reward_model(tiny_model_dir, device="cpu", precision="fp16")


# -- load failures: one clear line naming the model and how to fix it ---------------------

def _assert_one_clear_line(message: str, name: str) -> None:
    assert "\n" not in message
    assert name in message
    assert "REWARD_MODEL=/path" in message
    assert "Traceback" not in message


def test_missing_folder(tmp_path):
    with pytest.raises(ModelLoadError) as err:
        load_reward_model(tmp_path / "nope")
    _assert_one_clear_line(str(err.value), "nope")
    assert "no such folder" in str(err.value)


def test_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelLoadError) as err:
        load_reward_model(tmp_path)
    _assert_one_clear_line(str(err.value), tmp_path.name)
    assert str(tmp_path) not in str(err.value), "a message must not show the server's paths"
    assert "config.json" in str(err.value)


def test_pickle_weights_are_refused(tmp_path, card_parts):
    tokenizer, model = card_parts
    tokenizer.save_pretrained(tmp_path)
    model.config.save_pretrained(tmp_path)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")  # the old pickle format
    with pytest.raises(ModelLoadError, match="safetensors"):
        load_reward_model(tmp_path)


def test_a_classifier_with_several_labels_is_not_a_reward_model(tmp_path, card_parts):
    tokenizer, model = card_parts
    from transformers import BertForSequenceClassification

    config = model.config.__class__(**{**model.config.to_dict(), "num_labels": 3, "id2label": None, "label2id": None})
    BertForSequenceClassification(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError, match="3 output labels"):
        load_reward_model(tmp_path)


def test_hub_id_without_network_names_the_model_and_the_fix():
    with pytest.raises(ModelLoadError) as err:
        load_reward_model("nicholasKluge/RewardModel")
    _assert_one_clear_line(str(err.value), "nicholasKluge/RewardModel")
    assert "hub" in str(err.value)


def test_importing_loads_no_weights():
    code = ("import app, reward, sys; from reward.model.reward_model import _load_cached; "
            "assert _load_cached.cache_info().currsize == 0; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
