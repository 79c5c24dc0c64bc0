"""The faster precision modes (bf16, int8, fp16 on a GPU), what ``auto`` picks, the CPU micro-batching, and the
benchmark script.

fp32 stays exact (tests/test_model.py compares it with the model card's code);
here the fast modes must load, say what they are, and stay close to fp32.
``auto`` is decided from the device and the CPU's flags; tests hand it a
/proc/cpuinfo of their own (and a GPU's compute capability) to try each kind of
machine, and load the tiny model with it on this one.
No timing thresholds: speed is what bench/benchmark.py measures and prints.
"""

import importlib.util
import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from reward.config import Settings
from reward.model import precision
from reward.model.precision import choose_precision, precision_note, prepare_for_precision, read_cpu_flags
from reward.model.reward_model import ModelLoadError, RewardModel, load_reward_model
from tests.conftest import ROOT
from tests.reference import assert_scores_close
from tests.test_model import CASES

PROMPTS = [p for p, _ in CASES]
RESPONSES = [r for _, r in CASES]
COMMON_X86_FLAGS = "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr sse sse2 ssse3 sse4_1 sse4_2 avx avx2 fma"


def cpuinfo_file(folder: Path, flags: str, *, key: str = "flags", processors: int = 2) -> Path:
    """A /proc/cpuinfo as Linux writes it (one block per processor), with ``flags`` on each block's flags line."""
    blocks = [f"processor\t: {i}\nvendor_id\t: GenuineIntel\nmodel name\t: Test CPU\n"
              f"{key}\t\t: {flags}\nvmx flags\t: vnmi ept\nbogomips\t: 4000.00\n" for i in range(processors)]
    path = folder / f"cpuinfo-{len(list(folder.glob('cpuinfo-*')))}"
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


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


def test_bf16_note_warns_when_the_cpu_lacks_bf16(tmp_path):
    without, native = cpuinfo_file(tmp_path, "avx2 avx512f"), cpuinfo_file(tmp_path, "avx512f avx512_bf16")
    assert "SLOWER" in precision_note("bf16", torch.device("cpu"), cpuinfo=without)
    assert "SLOWER" not in precision_note("bf16", torch.device("cpu"), cpuinfo=native)
    unknown = precision_note("bf16", "cpu", cpuinfo=tmp_path / "missing")
    assert "could not be read" in unknown and "SLOWER" in unknown
    assert "SLOWER" not in precision_note("bf16", "cuda", cpuinfo=without)  # the CPU does not matter on a GPU
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


# -- REWARD_PRECISION=auto ------------------------------------------------------------------------

@pytest.mark.parametrize("flags, precision_picked, reason", [
    (COMMON_X86_FLAGS + " avx512f amx_bf16 amx_tile amx_int8", "bf16", "auto: this CPU has AMX-BF16"),
    (COMMON_X86_FLAGS + " avx512f avx512_bf16 avx512_vnni", "bf16", "auto: this CPU has AVX512-BF16"),
    (COMMON_X86_FLAGS + " avx512f avx512_bf16 amx_bf16 amx_tile", "bf16", "auto: this CPU has AMX-BF16 and AVX512-BF16"),
    (COMMON_X86_FLAGS + " avx512f avx512_vnni", "fp32", "auto: no native bf16 on this CPU"),  # AVX-512 alone converts
    (COMMON_X86_FLAGS, "fp32", "auto: no native bf16 on this CPU"),
])
def test_auto_on_a_cpu_follows_its_bf16_flags(tmp_path, flags, precision_picked, reason):
    choice = choose_precision("auto", torch.device("cpu"), cpuinfo=cpuinfo_file(tmp_path, flags))
    assert (choice.precision, choice.reason) == (precision_picked, reason)


def test_auto_reads_an_arm_cpus_features_line(tmp_path):
    arm = cpuinfo_file(tmp_path, "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics bf16 i8mm", key="Features")
    assert choose_precision("auto", "cpu", cpuinfo=arm).precision == "bf16"
    plain = cpuinfo_file(tmp_path, "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics", key="Features")
    assert choose_precision("auto", "cpu", cpuinfo=plain).precision == "fp32"


@pytest.mark.parametrize("unreadable", ["missing", "a folder", "no flags line", "empty"])
def test_auto_falls_back_to_fp32_with_a_reason_when_the_cpu_flags_cannot_be_read(tmp_path, unreadable):
    path = tmp_path / "cpuinfo"
    if unreadable == "a folder":
        path.mkdir()
    elif unreadable == "no flags line":
        path.write_text("processor\t: 0\nmodel name\t: Test CPU\n", encoding="utf-8")
    elif unreadable == "empty":
        path.write_text("", encoding="utf-8")
    assert read_cpu_flags(path) is None
    choice = choose_precision("auto", "cpu", cpuinfo=path)
    assert choice.precision == "fp32"
    assert choice.reason == f"auto: could not read the CPU's flags from {path}"


@pytest.mark.parametrize("device", [torch.device("cuda"), torch.device("cuda", 1), "cuda:0"])
def test_auto_on_a_cuda_gpu_with_bf16_tensor_cores_is_bf16_whatever_the_cpu(tmp_path, device):
    no_bf16_cpu = cpuinfo_file(tmp_path, COMMON_X86_FLAGS)
    for capability in ((8, 0), (8, 9), (9, 0), (10, 0)):  # A100, L4, H100, B200
        choice = choose_precision("auto", device, cpuinfo=no_bf16_cpu, gpu_capability=capability)
        assert (choice.precision, choice.reason) == ("bf16", "auto: this GPU has bf16 tensor cores")


def test_auto_on_an_older_gpu_or_elsewhere_is_fp32_and_says_why(tmp_path):
    bf16_cpu = cpuinfo_file(tmp_path, COMMON_X86_FLAGS + " avx512_bf16")
    t4 = choose_precision("auto", torch.device("cuda"), cpuinfo=bf16_cpu, gpu_capability=(7, 5))
    assert t4.precision == "fp32" and "compute capability 7.5" in t4.reason and "fp16" in t4.reason
    mps = choose_precision("auto", "mps", cpuinfo=bf16_cpu)
    assert mps.precision == "fp32" and mps.reason.startswith("auto: ") and "mps" in mps.reason


@pytest.mark.parametrize("named", ["fp32", "bf16", "int8"])
def test_a_precision_asked_for_by_name_is_kept_with_no_reason(tmp_path, named):
    for flags in (COMMON_X86_FLAGS, COMMON_X86_FLAGS + " amx_bf16"):
        choice = choose_precision(named, "cpu", cpuinfo=cpuinfo_file(tmp_path, flags))
        assert (choice.precision, choice.reason) == (named, "")


def test_auto_here_follows_this_machines_proc_cpuinfo():
    # An independent reading of the real file: a regular expression over every processor's flags line.
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    lines = re.findall(r"^(?:flags|Features)\s*:(.*)$", text, re.MULTILINE)
    native = bool(lines) and bool({"amx_bf16", "avx512_bf16", "bf16"} & set(lines[0].split()))
    assert choose_precision("auto", "cpu").precision == ("bf16" if native else "fp32")


def test_auto_loads_the_model_in_the_precision_it_picks_on_this_machine(tiny_model_dir, fp32_scores):
    picked = choose_precision("auto", "cpu")
    rm = load_reward_model(tiny_model_dir, device="cpu", precision="auto")
    info = rm.describe()
    assert (rm.precision, info.precision, info.precision_reason) == (picked.precision, picked.precision, picked.reason)
    assert info.precision_reason.startswith("auto: ")
    dtype = torch.bfloat16 if picked.precision == "bf16" else torch.float32
    linear = [m for m in rm.model.modules() if isinstance(m, torch.nn.Linear)]
    assert linear and all(m.weight.dtype == dtype for m in linear)
    # The same arithmetic as asking for that precision by name (a separate load: another cache entry).
    named = load_reward_model(tiny_model_dir, device="cpu", precision=picked.precision)
    assert named is not rm
    assert [s.score for s in rm.score_pairs(PROMPTS, RESPONSES)] == [s.score for s in named.score_pairs(PROMPTS, RESPONSES)]


@pytest.mark.parametrize("flags, dtype, reason", [
    (COMMON_X86_FLAGS + " avx512_bf16", torch.bfloat16, "auto: this CPU has AVX512-BF16"),
    (COMMON_X86_FLAGS + " amx_bf16", torch.bfloat16, "auto: this CPU has AMX-BF16"),
    (COMMON_X86_FLAGS, torch.float32, "auto: no native bf16 on this CPU"),
])
def test_auto_converts_a_real_model_both_ways(tiny_model_dir, tmp_path, monkeypatch, flags, dtype, reason):
    # The model as the loader hands it over, and the CPU flags of another kind of machine.
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    monkeypatch.setattr(precision, "CPUINFO", cpuinfo_file(tmp_path, flags))
    network = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir).eval()
    rm = RewardModel(network, AutoTokenizer.from_pretrained(tiny_model_dir), device=torch.device("cpu"),
                     source="tiny", revision=None, precision="auto")
    assert (rm.describe().precision, rm.describe().precision_reason) == (
        "bf16" if dtype == torch.bfloat16 else "fp32", reason)
    assert all(m.weight.dtype == dtype for m in rm.model.modules() if isinstance(m, torch.nn.Linear))
    named = load_reward_model(tiny_model_dir, device="cpu", precision=rm.precision)
    assert [s.score for s in rm.score_pairs(PROMPTS, RESPONSES)] == [s.score for s in named.score_pairs(PROMPTS, RESPONSES)]


def test_auto_is_never_a_conversion_of_its_own(tiny_model_dir):
    from transformers import AutoModelForSequenceClassification

    network = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir)
    with pytest.raises(ValueError, match="choose one first"):
        prepare_for_precision(network, "auto", torch.device("cpu"))
    assert all(m.weight.dtype == torch.float32 for m in network.modules() if isinstance(m, torch.nn.Linear))


def test_the_model_panel_says_what_auto_picked_and_why(tiny_model_dir):
    from reward.service import RewardService
    from ui.page import model_panel

    service = RewardService(Settings(model=str(tiny_model_dir), device="cpu", precision="auto"))
    before = model_panel(service)  # nothing loaded yet: the panel says the choice is still to come
    assert "**Precision** `auto` (picked when the model loads" in before
    service.model()
    picked = choose_precision("auto", "cpu")
    panel = model_panel(service)
    assert f"**Precision** `{picked.precision}` ({picked.reason}" in panel, panel
    assert ("fp32 elsewhere" in panel) == (picked.precision == "bf16")  # bf16's note follows the reason
    named = RewardService(Settings(model=str(tiny_model_dir), device="cpu", precision="bf16"))
    named.model()
    assert "auto:" not in model_panel(named)


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
    if precision == "fp32":  # another device's kernels round apart: a share of the scores' size, as for CPUs
        assert_scores_close(scores, fp32_scores, rel=2e-4)
    else:
        assert max(abs(a - b) for a, b in zip(scores, fp32_scores)) < 0.05 * spread


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
    assert_scores_close([s.score for s in one.score_pairs(PROMPTS, RESPONSES)], fp32_scores)  # other batches


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


def _benchmark_module():
    spec = importlib.util.spec_from_file_location("benchmark", ROOT / "bench" / "benchmark.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("benchmark", module)  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_benchmarks_ranking_agreement_matches_an_independent_count():
    from scipy.stats import kendalltau

    agreement = _benchmark_module().ranking_agreement
    reference = [[3.0, 1.0, 2.0, 0.5], [0.1, 0.2, 0.3, 0.4], [5.0, -1.0, 2.0, 4.0]]
    same = agreement(reference, reference)
    assert same == {"same order": 1.0, "same best": 1.0, "kendall tau": 1.0, "widest flip": 0.0}
    # Prompt 2 reversed; prompt 3 with its 2.0 and 4.0 swapped (a gap of 2.0), its best kept.
    other = [[3.0, 1.0, 2.0, 0.5], [0.4, 0.3, 0.2, 0.1], [5.0, -1.0, 4.5, 1.0]]
    got = agreement(reference, other)
    taus = [kendalltau(a, b).statistic for a, b in zip(reference, other)]
    assert got["kendall tau"] == pytest.approx(sum(taus) / len(taus))
    assert got["same order"] == pytest.approx(1 / 3) and got["same best"] == pytest.approx(2 / 3)
    assert got["widest flip"] == pytest.approx(2.0)  # prompt 3's swap; prompt 2's gaps are at most 0.3


def test_the_benchmarks_bf16_comparison_runs_on_a_given_model(tiny_model_dir, tmp_path):
    out = tmp_path / "bf16.md"
    done = subprocess.run(
        [sys.executable, "bench/benchmark.py", "--model", str(tiny_model_dir), "--bf16", "--threads", "1",
         "--repeats", "1", "--prompts", "6", "--data", str(tmp_path), "--markdown", str(out)],
        check=False, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = out.read_text()
    picked = choose_precision("auto", "cpu")
    for text in (f"{tiny_model_dir}, on cpu", "6 prompts x 4 responses = 24 pairs", "| fp32 |", "| bf16 |", "bf16 / fp32 speed", "max ",
                 "of the spread", "same order of all 4 responses", "Kendall tau", "bf16 flags in /proc/cpuinfo",
                 f"REWARD_PRECISION=auto picks {picked.precision} ({picked.reason})"):
        assert text in table, f"{text!r} missing from the bf16 comparison:\n{table}"
    assert table in done.stdout
    names = re.findall(r"^model name\s*:(.*)$", Path("/proc/cpuinfo").read_text(errors="replace"), re.MULTILINE) \
        if Path("/proc/cpuinfo").is_file() else []
    if names:
        assert f"CPU: {names[0].strip()}," in table
