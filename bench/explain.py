"""Why-this-score speed, measured: ``explain()`` beside the model card's one-pair-at-a-time loop, and ``attribute()``.

    python bench/explain.py            # BERT-base size, random weights (a few minutes on 2 cores)
    python bench/explain.py --quick    # the tiny test model, in seconds: proves the script runs

Model: the BERT-base-sized folder that ``bench/benchmark.py`` builds into ``bench/.cache/`` (``BertConfig()``,
vocab 28996, one label, random weights: exactly as fast as ``nicholasKluge/RewardModel``), built here if missing;
``--quick`` uses ``reward/model/tiny.py``'s model. Text: one prompt and a 10-sentence answer (about 200 tokens).

  (a) card     the texts ``explain()`` scores (the answer, the answer without each sentence, each prefix), each
               scored with the model card's code, one pair at a time (``tests/reference.py``)
  (b) explain  ``reward.insight.explain.explain()``: the same scores, and the tokens, in batched calls; cold (the
               cache of scored pairs cleared before each run) and warm (run again at once: a second click)
  (c) attribute  ``reward.insight.attribution.attribute()`` at ``--steps`` steps, and its completeness gap
  (d) long     ``explain()`` of an answer of 1,400 short sentences (19,600 characters), explained in segments

(a) and (b) take turns ``--repeats`` times, so that a busy machine slows both alike; the table shows medians,
the min-max spread and the ratio (a) / (b). The largest difference between (b)'s and (a)'s scores checks that
the two compute the same thing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

PROMPT = "Why is AI Ethics important, and what does it ask of the people who build these systems?"
SENTENCES = [
    "AI Ethics studies the moral questions raised by systems that learn from data and act in the world.",
    "It matters because these systems already decide who gets a loan, a job interview or a medical test.",
    "A model trained on biased records can repeat that bias at a scale no single person could reach.",
    "Builders should therefore test their models on the groups of people they will actually affect.",
    "Transparency helps too: people deserve to know when an automated system has judged them.",
    "Privacy is another concern, since training data often holds personal details that were never meant to be shared.",
    "Accountability means someone can explain a decision, correct it and answer for the harm it caused.",
    "None of this requires stopping progress; it asks for care, documentation and honest evaluation.",
    "Regulators in several countries now expect exactly these practices from companies that deploy AI.",
    "In short, AI Ethics keeps powerful tools pointed at the good of the people they serve.",
]
RESPONSE = " ".join(SENTENCES)
LONG = "".join(f"Item {i:04d} ok. " for i in range(1400))
"""A long answer of many short sentences (about 20,000 characters): explained in segments, bounded."""


def median_spread(xs: list[float]) -> str:
    return f"{statistics.median(xs):.2f} ({min(xs):.2f}-{max(xs):.2f})" if len(xs) > 1 else f"{xs[0]:.2f}"


def load_average() -> str:
    try:
        return " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def model_folder(quick: bool, data: Path) -> tuple[Path, str, object]:
    """The model folder, its description, and what must stay alive while it is used (a temporary folder)."""
    if quick:
        from reward.model.tiny import build_tiny_reward_model

        tmp = tempfile.TemporaryDirectory()
        return build_tiny_reward_model(Path(tmp.name) / "tiny"), "tiny test model (reward/model/tiny.py)", tmp
    from benchmark import CACHE, build_bert_base, load_dialogues

    dialogues, source = load_dialogues(data)
    name = "bert-base-random" if "HH-RLHF" in source else "bert-base-random-gen"
    folder = build_bert_base(CACHE / name, [p + "\n" + r for p, r in dialogues[1::2]])
    return folder, "BERT-base (BertConfig(), vocab 28996, 1 label), random weights", None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny test model: seconds, proves the script runs")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs of (a) and (b) (default 5; quick 2)")
    parser.add_argument("--steps", type=int, default=32, help="integrated-gradient steps of (c) (default 32)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                        help="folder with the HH-RLHF file bench/benchmark.py trains the tokenizer on")
    args = parser.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from reward.insight.attribution import attribute
    from reward.insight.explain import explain
    from reward.model.reward_model import load_reward_model
    from tests.reference import card_score

    load_start = load_average()
    folder, model_name, keep = model_folder(args.quick, args.data)
    rm = load_reward_model(folder, device="cpu")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    card_model = AutoModelForSequenceClassification.from_pretrained(folder).eval()

    first = explain(rm, PROMPT, RESPONSE)  # also warms both paths up
    without = [RESPONSE[:p.start] + RESPONSE[p.end:] for p in first.parts]
    texts = list(dict.fromkeys([RESPONSE] + without + [RESPONSE[:p.end] for p in first.prefixes]))
    ours = {RESPONSE: first.score, **{t: p.score_without for t, p in zip(without, first.parts)},
            **{RESPONSE[:p.end]: p.score for p in first.prefixes}}
    card = {text: card_score(tokenizer, card_model, PROMPT, text)[0] for text in texts}
    worst = max(abs(card[t] - ours[t]) for t in texts)

    card_times, explain_times, warm_times, ratios, cpu = [], [], [], [], {"a": [], "b": []}
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        for text in texts:
            card_score(tokenizer, card_model, PROMPT, text)
        card_times.append(time.perf_counter() - start)
        cpu["a"].append(time.process_time() - start_cpu)
        rm.scores.clear()  # cold: nothing from the cache of scored pairs
        start, start_cpu = time.perf_counter(), time.process_time()
        explain(rm, PROMPT, RESPONSE)
        explain_times.append(time.perf_counter() - start)
        cpu["b"].append(time.process_time() - start_cpu)
        ratios.append(card_times[-1] / explain_times[-1])
        start = time.perf_counter()
        explain(rm, PROMPT, RESPONSE)  # warm: a second click on the same row
        warm_times.append(time.perf_counter() - start)

    rm.scores.clear()
    start = time.perf_counter()
    long = explain(rm, PROMPT, LONG)
    long_s = time.perf_counter() - start
    long_bytes = len(json.dumps(long.as_dict()))

    start, start_cpu = time.perf_counter(), time.process_time()
    result = attribute(rm, PROMPT, RESPONSE, steps=args.steps)
    attribute_s, attribute_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    del keep

    tokens = len(first.tokens)
    print(f"\nModel: {model_name}. Device: cpu, {torch.get_num_threads()} threads. Text: a prompt and a "
          f"{first.sentence_count}-sentence answer, {tokens} tokens read (special ones included); explain() scores "
          f"{len(texts)} distinct texts. Medians of {repeats} runs (min-max), (a) and (b) taking turns.\n")
    print("| contender | seconds | CPU seconds | × (a) | max abs score diff vs (a) |")
    print("|---|---:|---:|---:|---:|")
    print(f"| (a) card code, one pair at a time, {len(texts)} texts | {median_spread(card_times)} | "
          f"{statistics.median(cpu['a']):.2f} | 1.00 | 0 |")
    print(f"| (b) explain(), cold (cache cleared) | {median_spread(explain_times)} | {statistics.median(cpu['b']):.2f} | "
          f"{statistics.median(ratios):.2f} | {worst:.1e} |")
    print(f"| (b') explain() again, warm (every pair cached) | {median_spread(warm_times)} | | | 0 |")
    print(f"| (d) explain(), {len(LONG):,}-character answer of {long.sentence_count:,} sentences, cold | "
          f"{long_s:.2f} | | | {len(long.parts)} {long.unit}s; JSON answer {long_bytes / 1e3:,.0f} kB |")
    gap = result.completeness_gap_relative
    print(f"| (c) attribute(), {args.steps} steps | {attribute_s:.2f} | {attribute_cpu:.2f} | | completeness gap "
          f"{result.completeness_gap:.2e} = {gap if gap is None else f'{gap:.2e}'} of |score - baseline| "
          f"({result.score:+.3f} vs {result.baseline_score:+.3f}) |")
    print(f"\nCPU seconds: this process's, all threads (on a busy machine, wall time / CPU time shows the share it "
          f"got). Load average at start / end: {load_start} / {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
