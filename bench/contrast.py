"""Why A over B, measured: ``/contrast`` and ``/flip``'s work on two answers of about 200 tokens, beside the naive
count of forward passes.

    python bench/contrast.py            # BERT-base size, random weights (a few minutes on 2 cores)
    python bench/contrast.py --quick    # the tiny test model, in seconds: proves the script runs

Model: the BERT-base-sized folder of ``bench/explain.py`` (``BertConfig()``, vocab 28996, one label, random weights:
as fast as ``nicholasKluge/RewardModel``); ``--quick`` uses ``reward/model/tiny.py``'s model. Each call goes through
``RewardService`` exactly as the endpoint does (the HTTP layer adds milliseconds), the cache of scored pairs cleared
first (cold), then once more at once (warm: the same request again).

  contrast   both scores, the word diff, and integrated gradients on each side (as few steps as make the
             completeness gap small: ``ATTRIBUTION_STEP_LADDER``); naive: the page's former fixed 32 steps a side
  flip       the smallest cut of A (sentences, then words) that turns the verdict: one forward pass per part tried
             (for many words, the strongest by integrated gradients), then one per removal; naive: a greedy search
             that scores every remaining part again each round, and an exhaustive search of every set of at most as
             many parts

Every score reported is checked against the model card's code on the returned text (largest difference shown).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from explain import PROMPT, RESPONSE, load_average, model_folder  # noqa: E402

OTHER = " ".join([
    "AI Ethics is mostly a fashionable label that companies use to look responsible.",
    "Most of the rules people propose are vague and hard to check in practice.",
    "Engineers are rarely trained in philosophy, so the debates go around in circles.",
    "Still, some questions are real, like who is to blame when an automated system fails.",
    "Biased data can produce unfair results, and nobody notices until someone complains.",
    "Privacy matters as well, although many users happily trade it for free services.",
    "Regulation tends to arrive late and to favour the largest companies.",
    "Smaller teams cannot afford audits, documentation and long reviews.",
    "So the honest answer is that it matters, but less than the marketing suggests.",
    "Whether it changes anything depends on who enforces it.",
])
"""Answer B: as long as A (``bench/explain.py``'s ten-sentence answer), other words, a colder view."""


def timed(call):
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def greedy_passes(n: int, k: int) -> int:
    """A greedy search that scores A without each remaining part in every round, for k rounds (plus A and B)."""
    return 2 + sum(n - i for i in range(k))


def exhaustive_passes(n: int, k: int) -> int:
    """Every set of at most k of the n parts, scored (plus A and B)."""
    return 2 + sum(math.comb(n, j) for j in range(1, k + 1))


def count(n: int) -> str:
    return f"{n:,}" if n < 10**7 else f"{n:.1e}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny test model: seconds, proves the script runs")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                        help="folder with the HH-RLHF file bench/benchmark.py trains the tokenizer on")
    args = parser.parse_args(argv)

    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from reward.config import ATTRIBUTION_STEPS, Settings
    from reward.service import RewardService
    from tests.reference import card_score

    load_start = load_average()
    folder, model_name, keep = model_folder(args.quick, args.data)
    service = RewardService(Settings(model=str(folder), device="cpu"))
    model = service.model()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    card_model = AutoModelForSequenceClassification.from_pretrained(folder).eval()

    def card(text: str) -> float:
        return card_score(tokenizer, card_model, PROMPT, text)[0]

    service.rank(PROMPT, [RESPONSE, OTHER])  # warms both paths up
    tokens = [s.tokens for s in model.score_pairs([PROMPT, PROMPT], [RESPONSE, OTHER])]
    model.scores.clear()
    contrast, cold = timed(lambda: service.contrast(PROMPT, RESPONSE, OTHER))
    _, warm = timed(lambda: service.contrast(PROMPT, RESPONSE, OTHER))
    c = contrast.as_dict()
    contrast_diff = max(abs(c["score_a"] - card(RESPONSE)), abs(c["score_b"] - card(OTHER)))
    steps = c["steps_a"] + c["steps_b"]

    rows = []
    for a, b, side in ((RESPONSE, OTHER, "A"), (OTHER, RESPONSE, "B")):
        for unit in ("sentence", "word"):
            model.scores.clear()
            result, seconds = timed(lambda: service.flip(PROMPT, a, b, unit))
            f = result.as_dict()
            diff = max(abs(f["score"] - card(f["text"])), abs(f["score_b"] - card(b)))
            k = max(len(f["removed"]), 1)
            rows.append((side, unit, f, seconds, diff, greedy_passes(f["parts"], k), exhaustive_passes(f["parts"], k)))
    del keep

    print(f"\nModel: {model_name}. Device: cpu, {torch.get_num_threads()} threads. Prompt and two answers of "
          f"{tokens[0]} and {tokens[1]} tokens read (special ones included). Cold: the cache of scored pairs cleared "
          "first.\n")
    print("| call | seconds cold | seconds warm | forward passes | naive | max abs score diff vs card |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| /contrast | {cold:.2f} | {warm:.2f} | 2 scorings + {steps} IG steps (forward and backward) "
          f"({c['steps_a']} + {c['steps_b']}) | 2 + {2 * ATTRIBUTION_STEPS} at a fixed {ATTRIBUTION_STEPS} "
          f"steps a side | {contrast_diff:.1e} |")
    for side, unit, f, seconds, diff, greedy, exhaustive in rows:
        verdict = (f"flipped by taking out {len(f['removed'])}" if f["flipped"] else f"no flip ({f['reason']})")
        picked = (f", the {f['tried']} picked by IG ({f['attribution_steps']} steps) tried" if f["attribution_steps"]
                  else "")
        print(f"| /flip, cut {side}, {unit}s ({f['parts']} parts{picked}): {verdict} | {seconds:.2f} | | {f['passes']} | "
              f"{greedy} greedy re-scoring each round; {count(exhaustive)} exhaustive | {diff:.1e} |")
    print(f"\nCompleteness gaps: A {c['completeness_gap_a']:.2e}, B {c['completeness_gap_b']:.2e}. "
          f"Load average at start / end: {load_start} / {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
