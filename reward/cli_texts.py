"""The command line's commands on texts typed in: ``explain`` (why one response scores as it does) and ``contrast``
(why the model prefers one response to another).

``contrast`` prints both scores, the margin, the model-implied chance that A is preferred, the word diff in brief and the words
that push each side most; ``--flip sentence|word`` adds the smallest cut of A that turns the verdict; ``--json``
prints ``/contrast``'s object (with ``flip`` when asked).
"""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from reward.config import ATTRIBUTION_STEPS, FLIP_UNITS, TERMINAL_TEXT_WIDTH, Settings, add_settings_arguments
from reward.insight.attribution import AttributionUnavailable
from reward.tables.display import shorten

TEXT_FLAGS = {"a": "--a", "b": "--b"}
"""This command's flags whose value is text (checked for UTF-8 with the others)."""


def add_explain_parser(commands) -> None:
    explain = commands.add_parser(
        "explain", help="why one response scores as it does: sentence effects, prefixes, the tokens read",
        description="Score one (prompt, response) pair and say why: each sentence's effect (the score minus the "
                    "score without that sentence), the score after each sentence, and the tokens the model read "
                    "(and any it dropped). --attribute adds integrated gradients per token.")
    explain.add_argument("--prompt", required=True, help="the prompt (the question or instruction)")
    explain.add_argument("--response", required=True, help="the response to explain")
    explain.add_argument("--json", action="store_true", help="print the explanation as one JSON object")
    explain.add_argument("--attribute", action="store_true", help="also integrated gradients per token (slower)")
    explain.add_argument("--steps", type=int, default=None,
                         help=f"integrated-gradient steps with --attribute (default {ATTRIBUTION_STEPS})")
    add_settings_arguments(explain)


def run_explain(args: argparse.Namespace, settings: Settings, out: TextIO, load) -> int:
    """Run ``explain`` with ``load()`` giving the model; returns the exit status (0)."""
    from reward.insight.explain import explain
    from reward.model.requests import check_response, check_steps

    request = check_response(args.prompt, args.response, settings)
    steps = ATTRIBUTION_STEPS if args.steps is None else args.steps
    if args.attribute:
        check_steps(steps)
        if settings.precision == "int8":  # refused now, not after the explanation has run
            raise AttributionUnavailable("Integrated gradients need a float model: run with --precision fp32 "
                                         "(or bf16/fp16), not int8.")
    model = load()
    explanation = explain(model, request.prompt, request.responses[0])
    attribution = None
    if args.attribute:
        from reward.insight.attribution import attribute

        attribution = attribute(model, request.prompt, request.responses[0], steps=steps)
    if args.json:
        data = explanation.as_dict()
        if attribution is not None:
            data["attribution"] = attribution.as_dict()
        print(json.dumps(data, ensure_ascii=False, allow_nan=False, default=lambda value: None), file=out)
        return 0
    data = explanation.as_dict()
    tokens, dropped = data["tokens"], data["dropped"]
    print(f"score {data['score']:+.3f} (the raw reward); the model read {len(tokens)} tokens"
          + (f"; cut: {dropped['prompt']:,} prompt and {dropped['response']:,} response tokens dropped"
             if dropped["prompt"] or dropped["response"] else ""), file=out)
    if data["unit"] == "segment":
        print(f"{data['sentence_count']:,} sentences, explained in {len(data['parts'])} segments of adjacent "
              "sentences (effect = score - score without the segment):", file=out)
    else:
        print("sentences (effect = score - score without the sentence):", file=out)
    for part in data["parts"]:
        shown = json.dumps(shorten(part["text"], TERMINAL_TEXT_WIDTH), ensure_ascii=False)
        number = f"{part['first']}" if part["first"] == part["last"] else f"{part['first']}-{part['last']}"
        print(f"  {number:>9}  {part['effect']:+8.3f}  {shown}", file=out)
    print("score after each sentence:" if data["unit"] == "sentence" else "score after each segment:", file=out)
    for prefix in data["prefixes"]:
        print(f"  {prefix['sentences']:>3}  {prefix['score']:+8.3f}", file=out)
    if attribution is not None:
        a = attribution.as_dict()
        top = sorted(a["tokens"], key=lambda t: -abs(t["value"]))[:10]
        print(f"integrated gradients ({a['steps']} steps): baseline {a['baseline_score']:+.3f}, completeness gap "
              f"{a['completeness_gap']:.4f}; strongest tokens: "
              + ", ".join(f"{t['token']} {t['value']:+.3f}" for t in top), file=out)
    return 0



def add_contrast_parser(commands) -> None:
    contrast = commands.add_parser(
        "contrast", help="why the model prefers A to B: scores, margin, chance, word diff, the words that push",
        description="Score two responses to one prompt and say why one is preferred: both scores, the margin, the "
                    "model-implied chance that A is preferred (sigmoid of the margin), what each has that the other "
                    "lacks, and the words that push each side most (integrated gradients summed into words).")
    contrast.add_argument("--prompt", required=True, help="the prompt (the question or instruction)")
    contrast.add_argument("--a", required=True, help="response A")
    contrast.add_argument("--b", required=True, help="response B")
    contrast.add_argument("--flip", choices=FLIP_UNITS, default=None,
                          help="also find the fewest sentences (or words) of A whose removal turns the verdict")
    contrast.add_argument("--json", action="store_true", help="print one JSON object (as /contrast returns)")
    add_settings_arguments(contrast)


def run_contrast(args: argparse.Namespace, settings: Settings, out: TextIO, load) -> int:
    """Run the command with ``load()`` giving the model; returns the exit status (0)."""
    from reward.insight.contrast import contrast, flip
    from reward.model.requests import check_two

    request = check_two(args.prompt, args.a, args.b, settings)
    model = load()
    result = contrast(model, request.prompt, *request.responses).as_dict()
    flipped = None if args.flip is None else flip(model, request.prompt, *request.responses, args.flip).as_dict()
    if args.json:
        print(json.dumps(result if flipped is None else {**result, "flip": flipped}, ensure_ascii=False,
                         allow_nan=False), file=out)
        return 0
    margin = result["margin"]
    verdict = "A is preferred" if margin > 0 else "B is preferred" if margin < 0 else "no preference"
    print(f"A {result['score_a']:+.3f}  B {result['score_b']:+.3f}  margin {margin:+.3f}: {verdict}, chance A is "
          f"preferred {result['chance_a']:.1%}", file=out)
    for op, side, name in (("delete", "a", "only in A"), ("insert", "b", "only in B")):
        pieces = [s[side].strip() for s in result["diff"] if s["op"] in (op, "replace") and s[side].strip()]
        print(f"{name}: " + (json.dumps(shorten(" … ".join(pieces), TERMINAL_TEXT_WIDTH), ensure_ascii=False)
                              if pieces else "nothing"), file=out)
    for side in ("a", "b"):
        words = sorted((w for w in result[f"words_{side}"] if w["part"] == "response" and w["read"]),
                       key=lambda w: -abs(w["value"]))[:8]
        print(f"words pushing {side.upper()} most (integrated gradients, {result[f'steps_{side}']} steps, gap "
              f"{result[f'completeness_gap_{side}']:.4f}): "
              + (", ".join(f"{json.dumps(w['word'].strip(), ensure_ascii=False)} {w['value']:+.3f}" for w in words)
                 or "none"), file=out)
    if flipped is not None:
        goal = "at or below B" if flipped["goal"] == "down" else "above B"
        if flipped["flipped"]:
            print(f"flip: taking out {len(flipped['removed'])} {flipped['unit']}(s) of A puts it {goal}: "
                  f"{flipped['score']:+.3f} ({flipped['passes']} texts scored)", file=out)
        else:
            print(f"flip: none found ({flipped['reason']}); closest {flipped['score']:+.3f} "
                  f"({flipped['passes']} texts scored)", file=out)
        for r in flipped["removed"]:
            print(f"  - {json.dumps(shorten(r['text'], TERMINAL_TEXT_WIDTH), ensure_ascii=False)}", file=out)
    return 0
