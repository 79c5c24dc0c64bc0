"""Scoring speed, measured: our wrapper beside what a user would otherwise write, in one run.

    python bench/benchmark.py             # BERT-base size, HH-RLHF length mix (8-10 min on 2 idle cores)
    python bench/benchmark.py --quick     # the tiny test model, in seconds: proves the script runs
    python bench/benchmark.py --device cuda --markdown bench/results.md
    python bench/benchmark.py --bf16      # only fp32 against bf16, BERT-base size (6 min on 2 busy shared cores)

Model: ``BertConfig()`` with ``vocab_size=28996, num_labels=1`` and random weights, the
exact shape of ``nicholasKluge/RewardModel`` (random weights run exactly as fast as the
trained ones), built once into ``bench/.cache/``; its cased WordPiece tokenizer is trained
on the dialogues the benchmark does NOT score, so token counts are close to real BERT's.
``--quick`` uses the tiny model from ``reward/model/tiny.py`` instead.

Text: pairs from ``../shared/data/hh-rlhf-harmless-base-test.jsonl.gz`` (``--data``) split
into (prompt, last assistant turn); without that file, generated text with the same
length spread (log-normal fits of its prompt and response lengths).

Contenders, on the same pairs in the same process:
  (a) card      the model card's code, one pair at a time (``tests/reference.py``)
  (b) pipeline  transformers' text-classification pipeline, ``function_to_apply="none"``,
                ``batch_size=8``, fed the card widget's ``"prompt [SEP] response"`` strings
  (c) wrapper   ``load_reward_model(...)`` in its default mode (fp32)
  (d) wrapper   in each faster mode it offers on the device: bf16 and int8 on a CPU,
                bf16 and fp16 on CUDA

Workloads: a file (``--pairs`` pairs, pairs/s and tokens/s) and interactive requests
(one prompt, 2, 4 and 10 candidates of mixed length: latency). Each contender runs
``--repeats`` times, the contenders taking turns so that a busy machine slows all of
them alike; the table shows medians, the min-max spread, the ratio to (a), the largest
score difference against (a), the pairwise order agreement with (a), and the share of
the machine's measured matrix-multiply peak that the useful arithmetic reaches.
Finally a fresh process loads the BERT-base folder and answers one request: start-up.

``--bf16`` instead sets fp32 against bf16 in the wrapper, on the same BERT-base model: each of
``--prompts`` prompts with ``--candidates`` responses (its own and others'), pairs/s of each and the
speed ratio, the largest score difference (absolute, and as a share of the fp32 scores' spread), and
whether each prompt's responses come out in the same order (share of prompts, same best response,
Kendall tau). It prints the CPU's name, the bf16 flags /proc/cpuinfo lists, and what
``REWARD_PRECISION=auto`` picks on it. Random weights score every response nearly alike, so their
orders flip at the slightest change; ``--model`` measures a trained model instead.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA_FILE = "hh-rlhf-harmless-base-test.jsonl.gz"
CACHE = ROOT / "bench" / ".cache"
ASSISTANT = "\n\nAssistant:"
SIZES = (2, 4, 10)


# -- text ------------------------------------------------------------------------------------

def split_dialogue(chosen: str) -> tuple[str, str] | None:
    """(text before the last assistant turn, that turn) of one HH-RLHF dialogue."""
    cut = chosen.rfind(ASSISTANT)
    if cut <= 0:
        return None
    prompt, response = chosen[:cut].strip(), chosen[cut + len(ASSISTANT):].strip()
    return (prompt, response) if prompt and response else None


def generated_dialogues(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """Text with HH-RLHF's length spread (log-normal in characters), for when the data is absent."""
    rng = random.Random(seed)
    words = ("the a to of and I you it is that what can do how would your about people think not be "
             "should like help me we they this for have with just but are there really know why want "
             "question answer someone money police friend illegal dangerous sorry understand").split()

    def text(mu: float, sigma: float, cap: int) -> str:
        chars = min(cap, max(8, int(math.exp(rng.gauss(mu, sigma)))))
        out: list[str] = []
        while sum(len(w) + 1 for w in out) < chars:
            out.append(rng.choice(words) + ("." if rng.random() < 0.08 else "," if rng.random() < 0.05 else ""))
        return " ".join(out)

    # mu, sigma of log(chars) measured on the HH-RLHF harmless-base test split.
    return [("Human: " + text(5.63, 1.12, 3500), text(4.66, 1.02, 1100)) for _ in range(n)]


def load_dialogues(data_dir: Path) -> tuple[list[tuple[str, str]], str]:
    path = data_dir / DATA_FILE
    if not path.is_file():
        return generated_dialogues(2312), f"generated text with HH-RLHF's length spread ({path} not found)"
    pairs = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            pair = split_dialogue(row["chosen"])
            if pair:
                pairs.append(pair)
    return pairs, f"HH-RLHF harmless-base test ({path.name})"


# -- models ----------------------------------------------------------------------------------

def build_bert_base(folder: Path, corpus: list[str]) -> Path:
    """BERT-base shaped like nicholasKluge/RewardModel, random weights, tokenizer trained on ``corpus``."""
    from reward.model.tiny import save_random_reward_model, train_wordpiece_tokenizer

    if (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file():
        return folder
    return save_random_reward_model(folder, train_wordpiece_tokenizer(corpus, 28996), vocab_size=28996)


def flops_per_pair(config, tokens: int) -> float:
    """Useful arithmetic of one forward pass: 2 x multiply-adds of the linear layers plus attention."""
    h, inner, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    linear = 2 * layers * (4 * h * h + 2 * h * inner)  # Q, K, V, output; two FFN matrices: ~170 MFLOP for BERT-base
    attention = 4 * layers * tokens * h  # QK^T and attention x V, per token
    return tokens * (linear + attention)


def matmul_peak(device, dtype_name: str, largest: int = 2048, budget_s: float = 1.5) -> float:
    """Best FLOP/s of square matrix products in ``dtype_name`` (through ``linear``, the model's path).

    The size grows from 256 until one product takes 50 ms or reaches ``largest``;
    then the best of repeated products within ``budget_s`` is the attainable peak.
    """
    import torch

    dtype = getattr(torch, dtype_name)
    n = 256
    while True:
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        with torch.inference_mode():
            torch.nn.functional.linear(a, b).sum().item()
            start = time.perf_counter()
            torch.nn.functional.linear(a, b).sum().item()
        if time.perf_counter() - start > 0.05 or n >= largest:
            break
        n *= 2
    best, spent = 0.0, 0.0
    with torch.inference_mode():
        while spent < budget_s:
            start = time.perf_counter()
            torch.nn.functional.linear(a, b).sum().item()
            seconds = time.perf_counter() - start
            spent += seconds
            best = max(best, 2 * n ** 3 / seconds)
    return best


# -- contenders ------------------------------------------------------------------------------

@dataclass
class Contender:
    key: str
    label: str
    score_pairs: object  # (prompts, responses) -> list[float]
    peak_dtype: str = "float32"
    note: str = ""
    slow: bool = False  # measured on a subset, once: it would take too long otherwise
    file_times: list[float] = field(default_factory=list)
    file_scores: list[float] = field(default_factory=list)
    file_pairs: int = 0
    latencies: dict[int, list[float]] = field(default_factory=dict)
    ratios: list[float] = field(default_factory=list)  # (a)'s time / this one's, per repeat


def card_contender(folder: Path, device) -> Contender:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from tests.reference import card_score

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval().to(device)
    if device.type == "cpu":
        def run(prompts, responses):
            return [card_score(tokenizer, model, p, r)[0] for p, r in zip(prompts, responses)]
    else:  # the card's code with the one change a GPU needs: the tensors go to the model's device
        def run(prompts, responses):
            out = []
            for p, r in zip(prompts, responses):
                tokens = tokenizer(p, r, truncation=True, max_length=512, return_token_type_ids=False,
                                   return_tensors="pt").to(device)
                with torch.no_grad():
                    out.append(model(**tokens)[0].item())
            return out
    return Contender("a", "(a) card code, one pair at a time", run)


def pipeline_contender(folder: Path, device, batch_size: int = 8) -> Contender:
    from transformers import pipeline

    pipe = pipeline("text-classification", model=str(folder), device=device, function_to_apply="none")

    def run(prompts, responses):
        texts = [f"{p} [SEP] {r}" for p, r in zip(prompts, responses)]
        out = pipe(texts, batch_size=batch_size, truncation=True, max_length=512, top_k=None)
        return [row[0]["score"] if isinstance(row, list) else row["score"] for row in out]
    return Contender("b", f"(b) pipeline, batch_size={batch_size}", run)


def wrapper_contender(folder: Path, device, precision: str, batch_size: int, key: str) -> Contender:
    from reward.model.reward_model import load_reward_model

    rm = load_reward_model(folder, device=str(device), precision=precision, batch_size=batch_size)

    def run(prompts, responses):
        return [s.score for s in rm.score_pairs(prompts, responses)]
    peak = {"bf16": "bfloat16", "fp16": "float16"}.get(precision, "float32")
    label = f"({key}) wrapper {precision}, batch {batch_size}" + (" (default)" if key == "c" else "")
    return Contender(key, label, run, peak_dtype=peak, note=rm.describe().precision_note)


# -- measuring -------------------------------------------------------------------------------

def order_agreement(a: list[float], b: list[float]) -> float:
    """Share of item pairs that ``a`` and ``b`` put in the same order (1.0: same ranking)."""
    same = total = 0
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            da, db = a[i] - a[j], b[i] - b[j]
            if da == 0 or db == 0:
                continue
            total += 1
            same += (da > 0) == (db > 0)
    return same / total if total else 1.0


def load_average() -> str:
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measure_startup(folder: Path, device: str) -> dict:
    """Seconds from spawning a fresh Python to its first answered request, and the parts."""
    code = (
        "import time; t0 = time.perf_counter()\n"
        "import torch, transformers\n"
        "from reward.model.reward_model import load_reward_model\n"
        "t1 = time.perf_counter()\n"
        f"rm = load_reward_model({str(folder)!r}, device={device!r})\n"
        "t2 = time.perf_counter()\n"
        "rm.score('Why is AI Ethics important?', ['It matters to everyone.', 'Who cares?'])\n"
        "t3 = time.perf_counter()\n"
        "print('ANSWERED', t1 - t0, t2 - t1, t3 - t2, flush=True)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if line.startswith("ANSWERED"):
            total = time.perf_counter() - start
            imports, load, first = (float(x) for x in line.split()[1:])
            proc.wait(timeout=60)
            return {"total": total, "import": imports, "load": load, "first_request": first}
    proc.wait(timeout=60)
    raise RuntimeError("the start-up process failed:\n" + proc.stderr.read()[-2000:])


# -- fp32 against bf16 (--bf16) --------------------------------------------------------------

def ranking_agreement(reference: list[list[float]], other: list[list[float]]) -> dict[str, float]:
    """How alike two scorings rank each prompt's responses (one list of scores per prompt).

    ``same order``: share of prompts whose responses come out in exactly the same order;
    ``same best``: share whose top response is the same; ``kendall tau``: the mean over
    prompts of (concordant - discordant) / pairs; ``widest flip``: the largest gap in ``reference``
    between two responses of a prompt that ``other`` puts the other way round (0 if none): flips
    only between near-ties are flips a reader would not notice.
    """
    same_order = same_best = 0
    taus: list[float] = []
    widest_flip = 0.0
    for ref, got in zip(reference, other, strict=True):
        same_order += sorted(range(len(ref)), key=ref.__getitem__) == sorted(range(len(got)), key=got.__getitem__)
        same_best += max(range(len(ref)), key=ref.__getitem__) == max(range(len(got)), key=got.__getitem__)
        concordant = discordant = 0
        for i in range(len(ref)):
            for j in range(i + 1, len(ref)):
                sign = (ref[i] - ref[j]) * (got[i] - got[j])
                concordant += sign > 0
                discordant += sign < 0
                if sign < 0:
                    widest_flip = max(widest_flip, abs(ref[i] - ref[j]))
        pairs = len(ref) * (len(ref) - 1) // 2
        taus.append((concordant - discordant) / pairs if pairs else 1.0)
    n = len(reference)
    return {"same order": same_order / n, "same best": same_best / n, "kendall tau": statistics.mean(taus),
            "widest flip": widest_flip}


def cpu_bf16_line() -> str:
    """This CPU's name, the bf16 flags /proc/cpuinfo lists, torch's own probe of them, and what auto picks."""
    import torch

    from reward.model.precision import choose_precision, native_bf16_names, read_cpu_flags

    flags = read_cpu_flags()
    found = "unreadable" if flags is None else ", ".join(sorted(f for f in flags if "bf16" in f)) or "none"
    probes = []
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):  # private: present in torch 2.x
        probe = getattr(torch.cpu, name, None)
        if probe is not None:
            probes.append(f"{name.strip('_')} {probe()}")
    choice = choose_precision("auto", "cpu")
    return (f"CPU: {cpu_name()}, {os.cpu_count()} CPUs; bf16 flags in /proc/cpuinfo: {found}"
            f" (native: {', '.join(native_bf16_names(flags)) if flags else 'no'}); torch's probe: "
            f"{', '.join(probes) or 'n/a'}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
            f"REWARD_PRECISION=auto picks {choice.precision} ({choice.reason})")


def compare_bf16(folder: Path, device, prompts: list[tuple[str, list[str]]], args, model_name: str) -> list[str]:
    """fp32 against bf16 in the wrapper on the same prompts: speed, score difference, ranking agreement.

    The two take turns ``args.chunk`` pairs at a time (who goes first alternates), so that other
    work on a shared machine slows both alike; the ratio is taken within each repeat.
    """
    import torch

    from reward.model.reward_model import load_reward_model

    models = {p: load_reward_model(folder, device=str(device), precision=p, batch_size=args.batch_size)
              for p in ("fp32", "bf16")}
    flat_prompts = [p for p, candidates in prompts for _ in candidates]
    flat_responses = [r for _, candidates in prompts for r in candidates]
    for rm in models.values():  # warm up: the first calls allocate and pick kernels
        rm.score_pairs(flat_prompts[:2], flat_responses[:2])
    n = len(flat_prompts)
    scores = {p: [math.nan] * n for p in models}
    times: dict[str, list[float]] = {p: [] for p in models}
    for repeat in range(args.repeats):
        spent = dict.fromkeys(models, 0.0)
        for k, start in enumerate(range(0, n, args.chunk)):
            order = list(models) if (k + repeat) % 2 == 0 else list(models)[::-1]
            for p in order:
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                began = time.perf_counter()
                got = models[p].score_pairs(flat_prompts[start:start + args.chunk],
                                            flat_responses[start:start + args.chunk])
                spent[p] += time.perf_counter() - began
                scores[p][start:start + len(got)] = [s.score for s in got]
        for p in models:
            times[p].append(spent[p])
        phase(f"repeat {repeat + 1}: fp32 {n / spent['fp32']:.2f} pairs/s, bf16 {n / spent['bf16']:.2f} pairs/s")
    rates = {p: statistics.median(n / t for t in times[p]) for p in models}
    speedup = statistics.median(a / b for a, b in zip(times["fp32"], times["bf16"]))
    diffs = [abs(a - b) for a, b in zip(scores["fp32"], scores["bf16"])]
    spread = max(scores["fp32"]) - min(scores["fp32"])

    def per_prompt(flat: list[float]) -> list[list[float]]:
        out, at = [], 0
        for _, candidates in prompts:
            out.append(flat[at:at + len(candidates)])
            at += len(candidates)
        return out

    agree = ranking_agreement(per_prompt(scores["fp32"]), per_prompt(scores["bf16"]))
    flip = (f"{agree['widest flip']:.2e} ({100 * agree['widest flip'] / spread:.1f}% of the spread)"
            if agree["widest flip"] else "none")
    k = len(prompts[0][1])
    return [
        (f"fp32 against bf16 in the wrapper (batch {args.batch_size}), {model_name}, on {device}. {len(prompts)} "
         f"prompts x {k} responses = {n} pairs; medians of {args.repeats} runs, the two taking turns every "
         f"{args.chunk} pairs."),
        "",
        cpu_bf16_line(),
        "",
        "| precision | pairs/s | runs (pairs/s) |",
        "|---|---:|---:|",
        *(f"| {p} | {rates[p]:.2f} | {', '.join(f'{n / t:.2f}' for t in times[p])} |" for p in models),
        "",
        f"- bf16 / fp32 speed: **{speedup:.2f}x** (median over runs of fp32's time / bf16's time)",
        (f"- score difference bf16 - fp32: max {max(diffs):.2e}, median {statistics.median(diffs):.2e}; the fp32 "
         f"scores span {spread:.3f}, so the max is **{100 * max(diffs) / spread:.2f}%** of the spread"),
        (f"- ranking agreement per prompt: same order of all {k} responses **{100 * agree['same order']:.0f}%**, "
         f"same best response {100 * agree['same best']:.0f}%, mean Kendall tau {agree['kendall tau']:.3f}; "
         f"the widest fp32 gap between two responses that bf16 swaps: {flip}"),
        "",
        f"Load average at start / end: {args.load_at_start} / {load_average()}.",
    ]


_T0 = time.perf_counter()


def phase(text: str) -> None:
    print(f"[{time.perf_counter() - _T0:6.1f} s] {text}", flush=True)


def fmt(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}" if x < 100 else f"{x:.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny test model: seconds, proves the script runs")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N or auto")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                        help=f"folder with {DATA_FILE} (default ../shared/data); generated text without it")
    parser.add_argument("--pairs", type=int, default=None, help="pairs in the file workload (default 96; quick 12)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs of each contender (default 3; quick 2)")
    parser.add_argument("--requests", type=int, default=None,
                        help="interactive requests of each size, each timed once per contender (default 5; quick 2)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's choice)")
    parser.add_argument("--batch-size", type=int, default=8, help="the wrapper's batch size (Settings default: 8)")
    parser.add_argument("--extra-batch-sizes", default="", help="comma list: also time the default mode at these")
    parser.add_argument("--chunk", type=int, default=16,
                        help="pairs per turn; a mode far slower than (a) (bf16 on a CPU without bf16) runs one chunk once")
    parser.add_argument("--markdown", type=Path, help="also write the tables to this markdown file")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up measurement")
    parser.add_argument("--bf16", action="store_true",
                        help="only fp32 against bf16 in the wrapper: speed, score difference, ranking agreement "
                             "(a few minutes on 2 cores)")
    parser.add_argument("--prompts", type=int, default=20, help="--bf16: prompts to rank responses to (default 20)")
    parser.add_argument("--candidates", type=int, default=4,
                        help="--bf16: responses per prompt, its own and others' (default 4)")
    parser.add_argument("--model", help="a reward model folder (or hub id) to measure instead of random weights, "
                                        "e.g. nicholasKluge/RewardModel where the hub is reachable")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    load_at_start = args.load_at_start = load_average()

    warnings.filterwarnings("ignore")
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    from reward.model.precision import native_bf16_names, read_cpu_flags
    from reward.model.reward_model import pick_device
    from reward.model.tiny import build_tiny_reward_model

    if args.threads:
        torch.set_num_threads(args.threads)
    args.repeats = args.repeats or (2 if args.quick or args.bf16 else 3)
    args.requests = args.requests or (2 if args.quick else 5)
    device = pick_device(args.device)
    dialogues, source = load_dialogues(args.data)
    rng = random.Random(0)
    scored = dialogues[0::2]  # the tokenizer learns from the other half
    rng.shuffle(scored)
    n_pairs = args.pairs or (12 if args.quick else 96)
    file_pairs = scored[:n_pairs]
    # Interactive: one prompt, candidates drawn from other dialogues (mixed lengths), per round.
    pool = scored[n_pairs:]
    requests = {k: [(pool[r * 31][0], [pool[r * 31 + 1 + j][1] for j in range(k)]) for r in range(args.requests)]
                for k in SIZES}

    phase("building the model" if not args.quick else "building the tiny model")
    if args.model:  # a trained model: its own score spread, which random weights cannot stand for
        folder = model_name = args.model
    elif args.quick:
        tmp = tempfile.TemporaryDirectory()
        folder = build_tiny_reward_model(Path(tmp.name) / "tiny")
        model_name = "tiny test model (reward/model/tiny.py)"
    else:
        corpus = [p + "\n" + r for p, r in dialogues[1::2]]
        folder = build_bert_base(CACHE / ("bert-base-random" if "HH-RLHF" in source else "bert-base-random-gen"),
                                 corpus)
        model_name = "BERT-base (BertConfig(), vocab 28996, 1 label), random weights"

    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)

    def tokens_of(pairs):
        return [min(512, len(tokenizer(p, r)["input_ids"])) for p, r in pairs]

    file_tokens = tokens_of(file_pairs)
    if args.bf16:
        # Each prompt with its own response and responses to other prompts (mixed lengths).
        others = scored[args.prompts:]
        ranked = [(prompt, [own] + [others[(i * (args.candidates - 1) + j) % len(others)][1]
                                    for j in range(args.candidates - 1)])
                  for i, (prompt, own) in enumerate(scored[:args.prompts])]
        phase("fp32 against bf16")
        lines = compare_bf16(folder, device, ranked, args, model_name)
        lines[0] += f" Text: {source}; benchmark wall time {time.perf_counter() - began:.0f} s."
        return publish(lines, args.markdown)

    # -- contenders
    phase("loading the contenders")
    cpu_native_bf16 = bool(native_bf16_names(read_cpu_flags() or frozenset()))
    native_bf16 = device.type != "cpu" or cpu_native_bf16
    contenders = [card_contender(folder, device), pipeline_contender(folder, device),
                  wrapper_contender(folder, device, "fp32", args.batch_size, "c")]
    for size in [int(s) for s in args.extra_batch_sizes.split(",") if s.strip()]:
        contenders.append(wrapper_contender(folder, device, "fp32", size, f"c{size}"))
    fast_modes = ["bf16", "int8"] if device.type == "cpu" else ["bf16", "fp16"]
    for mode in fast_modes:
        c = wrapper_contender(folder, device, mode, args.batch_size, "d")
        c.slow = mode == "bf16" and not native_bf16 and not args.quick
        contenders.append(c)
    if device.type == "cuda":
        for mode in ("bf16", "fp16"):
            contenders.append(wrapper_contender(folder, device, mode, 64, "d"))

    phase("measuring the matmul peak")
    largest = 2048 if device.type == "cpu" else 8192
    peaks = {"float32": matmul_peak(device, "float32", largest)}
    for c in contenders:
        if c.peak_dtype not in peaks:
            if native_bf16:
                peaks[c.peak_dtype] = matmul_peak(device, c.peak_dtype, largest)
            else:  # emulated bf16 has no peak of its own: it runs on the fp32 units
                c.peak_dtype = "float32"

    print(f"# Scoring benchmark: {model_name}", flush=True)
    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs, torch {torch.__version__} threads "
          f"{torch.get_num_threads()}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"CPU has native bf16 {'yes' if cpu_native_bf16 else 'no'}; device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""), flush=True)
    print(f"text: {source}; file: {len(file_pairs)} pairs, tokens median {statistics.median(file_tokens):.0f}, "
          f"mean {statistics.mean(file_tokens):.0f}, max {max(file_tokens)}; repeats {args.repeats}", flush=True)
    print("measured matmul peak: " + ", ".join(f"{k} {v / 1e9:.0f} GFLOP/s" for k, v in peaks.items()), flush=True)

    phase("warming up")
    # -- warm up every contender (first calls allocate and pick kernels)
    for c in contenders:
        c.score_pairs([file_pairs[0][0]] * 2, [file_pairs[0][1], file_pairs[1][1]])

    # -- file workload. On a shared machine other processes come and go within a run, so
    # the contenders take turns chunk by chunk (rotating who goes first): each sees the
    # same neighbours, and the ratio to (a) is taken within each repeat.
    prompts = [p for p, _ in file_pairs]
    responses = [r for _, r in file_pairs]
    chunks = [range(i, min(i + args.chunk, len(prompts))) for i in range(0, len(prompts), args.chunk)]
    for c in contenders:
        c.file_scores = [math.nan] * len(prompts)
        c.file_pairs = len(chunks[0]) if c.slow else len(prompts)
    for repeat in range(args.repeats):
        totals = dict.fromkeys(range(len(contenders)), 0.0)
        for k, chunk in enumerate(chunks):
            turn = list(range(len(contenders)))
            turn = turn[k % len(turn):] + turn[:k % len(turn)]
            for j in turn:
                c = contenders[j]
                if c.slow and (repeat or k):
                    continue
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                start = time.perf_counter()
                scores = c.score_pairs(prompts[chunk.start:chunk.stop], responses[chunk.start:chunk.stop])
                totals[j] += time.perf_counter() - start
                c.file_scores[chunk.start:chunk.stop] = scores
                if j == 0 and k == 0:
                    first_chunk_card = totals[0]
                if c.slow:
                    c.ratios.append(first_chunk_card / totals[j])
        for j, c in enumerate(contenders):
            if c.slow and repeat:
                continue
            c.file_times.append(totals[j])
            if not c.slow:
                c.ratios.append(totals[0] / totals[j])
        phase(f"file repeat {repeat + 1}: " + ", ".join(
            f"{c.key} {c.file_pairs / c.file_times[-1]:.2f}" for c in contenders) + " pairs/s")

    # -- interactive requests
    for repeat in range(args.requests):
        for k in SIZES:
            prompt, candidates = requests[k][repeat]
            for c in contenders:
                if c.slow and repeat:
                    continue
                start = time.perf_counter()
                c.score_pairs([prompt] * k, candidates)
                c.latencies.setdefault(k, []).append(time.perf_counter() - start)
        phase(f"interactive requests {repeat + 1} done")

    phase("start-up in a fresh process")
    startup = None if args.no_startup else measure_startup(folder, str(device))

    # -- tables
    card = contenders[0]
    lines = [f"Model: {model_name}, {config.num_hidden_layers} layers, hidden "
             f"{config.hidden_size}. Text: {source}, {len(file_pairs)} pairs (tokens: median "
             f"{statistics.median(file_tokens):.0f}, mean {statistics.mean(file_tokens):.0f}, max {max(file_tokens)}). "
             f"Device: {device} ({cpu_name() if device.type == 'cpu' else torch.cuda.get_device_name(device)}, "
             f"{torch.get_num_threads()} threads). Medians of {args.repeats} runs; spread = min-max; × (a) = median over "
             f"runs of (a)'s time / this one's, the contenders taking turns every {args.chunk} pairs.",
             "",
             "File workload",
             "",
             "| contender | pairs/s | spread | tokens/s | × (a) | max abs score diff vs (a) | order agreement vs (a) "
             "| share of peak |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for c in contenders:
        n = c.file_pairs
        rates = [n / t for t in c.file_times]
        rate = statistics.median(rates)
        toks = sum(file_tokens[:n]) / statistics.median(c.file_times)
        flops = sum(flops_per_pair(config, t) for t in file_tokens[:n]) / statistics.median(c.file_times)
        ref = card.file_scores[:n]
        diff = max(abs(a - b) for a, b in zip(c.file_scores[:n], ref))
        agree = order_agreement(c.file_scores[:n], ref)
        spread = f"{min(rates):.2f}–{max(rates):.2f}" if len(rates) > 1 else "1 run"
        label = c.label + (f" [first {n} pairs, 1 run]" if c.slow else "")
        lines.append(f"| {label} | {fmt(rate)} | {spread} | {fmt(toks, 0)} | {statistics.median(c.ratios):.2f} | {diff:.1e} | "
                     f"{agree:.3f} | {100 * flops / peaks[c.peak_dtype]:.0f}% of {c.peak_dtype} |")
    lines += ["", f"Interactive requests: one prompt, k candidates of mixed length, {args.requests} requests of each "
              "size; latency in ms (median, min-max); × (a) = median over requests of (a)'s latency / this latency", "",
              "| contender | " + " | ".join(f"k={k} ms | × (a)" for k in SIZES) + " |",
              "|---|" + "---:|---:|" * len(SIZES)]
    for c in contenders:
        cells = []
        for k in SIZES:
            ms = [1000 * t for t in c.latencies[k]]
            med = statistics.median(ms)
            spread = f" ({min(ms):.0f}–{max(ms):.0f})" if len(ms) > 1 else ""
            ratio = statistics.median(a / b for a, b in zip(card.latencies[k], c.latencies[k]))
            cells += [f"{med:.0f}{spread}", f"{ratio:.2f}"]
        lines.append(f"| {c.label} | " + " | ".join(cells) + " |")
    lines += ["", f"Share of peak: useful FLOPs ({flops_per_pair(config, 1) / 1e6:.0f} MFLOP per token in the "
              f"linear layers + 4·layers·tokens·hidden per token in attention; padding not counted) per second, "
              f"over the best of a few "
              f"large matrix products measured here: " + ", ".join(f"{k} {v / 1e9:.0f} GFLOP/s" for k, v in
                                                                  peaks.items())
              + " (int8, and bf16 on a CPU without bf16 instructions, are set against the fp32 peak)."]
    notes = [f"{c.label}: {c.note}" for c in contenders if c.note]
    if notes:
        lines += ["", "Notes: " + "; ".join(dict.fromkeys(notes)) + "."]
    if startup:
        lines += ["", f"Start-up (fresh process to first answered request, {device}): {startup['total']:.1f} s "
                      f"(import torch and transformers {startup['import']:.1f} s, load the folder {startup['load']:.1f} s, first request "
                      f"{startup['first_request']:.2f} s)."]
    lines += ["", f"Load average at start / end: {load_at_start} / {load_average()}; "
                  f"benchmark wall time {time.perf_counter() - began:.0f} s."]
    return publish(lines, args.markdown)


def publish(lines: list[str], markdown: Path | None) -> int:
    """Print the result table, and write it to ``markdown`` when asked; the exit status."""
    table = "\n".join(lines)
    print("\n" + table, flush=True)
    if markdown:
        markdown.write_text(table + "\n", encoding="utf-8")
        print(f"\nwrote {markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
