"""The faster precision modes (bf16, int8, fp16 on a GPU), the CPU micro-batching, and the benchmark script.

fp32 stays exact (tests/test_model.py compares it with the model card's code);
here the fast modes must load, say what they are, and stay close to fp32.
No timing thresholds: speed is what bench/benchmark.py measures and prints.
"""

import itertools
import subprocess
import sys

import pytest
import torch

from reward.model.precision import precision_note
from reward.model.reward_model import ModelLoadError, load_reward_model
from tests.conftest import ROOT
from tests.test_model import CASES

PROMPTS = [p for p, _ in CASES]
RESPONSES = [r for _, r in CASES]


@pytest.fixture(scope="module")
def fp32_scores(tiny_model):
    return [s.score for s in tiny_model.score_pairs(PROMPTS, RESPONSES)]


def _orders_kept(reference: list[float], got: list[float], margin: float) -> list[tuple[int, int]]:
    """Pairs of cases that fp32 separates by more than ``margin`` but ``got`` puts in the other order."""
    return [(i, j) for i, j in itertools.combinations(range(len(reference)), 2)
            if abs(reference[i] - reference[j]) > margin and (reference[i] - reference[j]) * (got[i] - got[j]) <= 0]


def test_bf16_loads_scores_and_says_so(tiny_model_dir, fp32_scores):
    rm = load_reward_model(tiny_model_dir, device="cpu", precision="bf16")
    info = rm.describe()
    assert info.precision == "bf16"
    assert "bf16" in info.precision_note
    assert info.parameters == load_reward_model(tiny_model_dir, device="cpu").describe().parameters
    # The matrix products run in bf16, everything else in fp32.
    linear = [m for m in rm.model.modules() if isinstance(m, torch.nn.Linear)]
    assert linear and all(m.weight.dtype == torch.bfloat16 for m in linear)
    assert all(p.dtype == torch.float32 for n, p in rm.model.named_parameters() if "LayerNorm" in n or "embeddings" in n)

    got = rm.score_pairs(PROMPTS, RESPONSES)
    scores = [s.score for s in got]
    assert [s.tokens for s in got] == [s.tokens for s in load_reward_model(tiny_model_dir, device="cpu")
                                       .score_pairs(PROMPTS, RESPONSES)]
    spread = max(fp32_scores) - min(fp32_scores)
    # bf16 keeps 8 significant bits (relative rounding 2**-9 per value). Through this tiny
    # model, whose weights are 25x wider than BERT's (initializer_range 0.5) and which differs
    # a little from build to build (the WordPiece trainer breaks ties its own way), the
    # largest change over the cases was 0.9-9% of the score range in 9 builds, the median
    # change under 1%. A wrong path (a sigmoid, fp16 overflow, lost [SEP]s) moves scores by
    # units, far past these bounds.
    diffs = sorted(abs(a - b) for a, b in zip(scores, fp32_scores))
    assert diffs[-1] < 0.15 * spread, f"bf16 moved scores by up to {diffs[-1]:.3f} (range {spread:.2f}): {diffs}"
    assert diffs[len(diffs) // 2] < 0.03 * spread, f"bf16 median change {diffs[len(diffs) // 2]:.3f}: {diffs}"
    # Cases that fp32 tells apart by more than that bound keep their order (flips seen: only
    # cases within 1.2% of the range of each other).
    assert not _orders_kept(fp32_scores, scores, 0.15 * spread)


def test_bf16_note_warns_when_the_cpu_lacks_bf16(monkeypatch):
    from reward.model import precision

    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    assert "SLOWER" in precision_note("bf16", torch.device("cpu"))
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    assert "SLOWER" not in precision_note("bf16", torch.device("cpu"))
    assert precision_note("fp32", torch.device("cpu")) == ""


def test_int8_loads_scores_and_says_so(tiny_model_dir, fp32_scores):
    rm = load_reward_model(tiny_model_dir, device="cpu", precision="int8")
    info = rm.describe()
    assert info.precision == "int8" and "int8" in info.precision_note
    assert info.parameters == load_reward_model(tiny_model_dir, device="cpu").describe().parameters
    scores = [s.score for s in rm.score_pairs(PROMPTS, RESPONSES)]
    # int8 is much coarser than bf16, and this tiny model (weights 25x wider than BERT's)
    # is its worst case: scores moved by 13-44% of their range in our runs. What must hold
    # here is that it is still the same model; the benchmark reports int8's accuracy on
    # BERT-base, the size that matters.
    assert torch.corrcoef(torch.tensor([scores, fp32_scores]))[0, 1] > 0.8, (scores, fp32_scores)


def test_unknown_or_misplaced_precisions_are_refused(tiny_model_dir):
    with pytest.raises(ModelLoadError, match="not one of"):
        load_reward_model(tiny_model_dir, device="cpu", precision="fp8")
    with pytest.raises(ModelLoadError, match="use bf16"):
        load_reward_model(tiny_model_dir, device="cpu", precision="fp16")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_gpu_precisions_are_close_to_cpu_fp32(tiny_model_dir, fp32_scores, precision):
    rm = load_reward_model(tiny_model_dir, device="cuda", precision=precision)
    scores = [s.score for s in rm.score_pairs(PROMPTS, RESPONSES)]
    spread = max(fp32_scores) - min(fp32_scores)
    assert max(abs(a - b) for a, b in zip(scores, fp32_scores)) < (1e-3 if precision == "fp32" else 0.05 * spread)


def test_cpu_micro_batches_do_not_pad_short_pairs_to_long_ones(tiny_model):
    # Files sorted by length fill whole passes; a short pair does not ride with a long one.
    assert tiny_model.micro_batches([100] * 20) == [list(range(8)), list(range(8, 16)), list(range(16, 20))]
    batches = tiny_model.micro_batches([500, 40, 480, 45, 300, 12, 10])
    assert batches == [[0, 2], [4], [3, 1], [5, 6]]
    assert sorted(i for b in batches for i in b) == list(range(7))
    # Long rows gain little from company: at most 32 padded tokens each.
    assert tiny_model.micro_batches([400, 370, 360]) == [[0, 1], [2]]
    assert tiny_model.micro_batches([]) == []


def test_scores_do_not_depend_on_micro_batching(tiny_model_dir, fp32_scores):
    one = load_reward_model(tiny_model_dir, device="cpu", batch_size=1)
    assert [s.score for s in one.score_pairs(PROMPTS, RESPONSES)] == pytest.approx(fp32_scores, abs=1e-5)


def test_the_benchmark_runs_in_quick_mode(tmp_path):
    # An empty --data folder: the benchmark generates text (tests never read shared/data).
    out = tmp_path / "table.md"
    done = subprocess.run(
        [sys.executable, "bench/benchmark.py", "--quick", "--threads", "1", "--repeats", "1",
         "--data", str(tmp_path), "--markdown", str(out)],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = out.read_text()
    for text in ("File workload", "pairs/s", "tokens/s", "× (a)", "max abs score diff vs (a)", "order agreement",
                 "share of peak", "(a) card code", "(b) pipeline", "(c) wrapper fp32", "(d) wrapper bf16",
                 "(d) wrapper int8", "Interactive requests", "k=2 ms", "k=4 ms", "k=10 ms", "Start-up",
                 "generated text"):
        assert text in table, f"{text!r} missing from the benchmark's table:\n{table}"
    assert table in done.stdout
