"""The Why this score panel fills part by part: what costs nothing first, each later part as soon as it is ready,
in the order a reader needs them, and every number the same as the whole explanation's. (On the page the four
parts are four chained events; here each step is called as its event calls it.)"""

import gradio as gr
import pytest

from reward.config import Settings
from reward.service import RewardService
from ui.compare.probes import build_probes_panel
from ui.compare.why import build_why_panel, explain_curve, explain_first, explain_parts, explain_probes

PROMPT = "Why is AI Ethics important?"
RESPONSE = "AI Ethics studies how AI affects people. It matters because AI decides loans! Fairness needs care."


@pytest.fixture(scope="module")
def panel(tiny_model_dir):
    service = RewardService(Settings(model=str(tiny_model_dir), device="cpu"))
    with gr.Blocks():
        why, probes = build_why_panel(), build_probes_panel()
    return service, why, probes


def shown(update) -> bool:
    return isinstance(update, dict) and update.get("visible") is True


def test_the_panel_fills_part_by_part_in_order(panel):
    service, why, probes = panel
    label = "#1 · Response 1 (+0.000)"
    scored = {"prompt": PROMPT, "responses": {label: RESPONSE}, "labels": [label]}
    steps = iter([lambda: explain_first(service, why, probes, scored, label),
                  lambda: explain_parts(service, why, scored, label),
                  lambda: explain_curve(service, why, scored, label),
                  lambda: explain_probes(service, why, probes, scored, label)])
    step = lambda: next(steps)()  # noqa: E731

    first = step()  # the score and the tokens read, nothing else computed yet
    whole = service.explain(PROMPT, RESPONSE).as_dict()
    assert f"scores **{whole['score']:+.3f}**" in first[why.summary]
    assert len(first[why.tokens]["value"]) == len(whole["tokens"]) and shown(first[why.tokens])
    assert not shown(first[why.effects]) and not shown(first[why.sentences]) and not shown(first[why.prefixes])
    assert not shown(first[probes.panel]) and "sentence in turn" in first[why.progress]["value"]

    second = step()  # each sentence's effect
    assert shown(second[why.effects]) and shown(second[why.sentences]) and why.prefixes not in second
    effects = second[why.effects]["value"]
    assert effects["Effect"].tolist() == [round(p["effect"], 3) for p in whole["parts"]]
    assert "unfolds" in second[why.progress]["value"]

    third = step()  # the answer as it unfolds
    assert third[why.prefixes].constructor_args["visible"] is True
    assert third[why.prefixes].constructor_args["value"]["Reward"].tolist() == [p["score"] for p in whole["prefixes"]]
    assert probes.panel not in third and "Probing" in third[why.progress]["value"]

    last = step()  # the probes, and the progress line gone
    assert shown(last[probes.panel]) and "upper-cased" in last[probes.table]["Probe"].tolist()
    assert last[why.progress] == {"__type__": "update", "value": "", "visible": False}
    with pytest.raises(StopIteration):
        step()


def test_a_one_sentence_response_has_no_curve_to_wait_for(panel):
    service, why, probes = panel
    label = "#1 · Response 1"
    scored = {"prompt": PROMPT, "responses": {label: "Paris."}, "labels": [label]}
    steps = [explain_first(service, why, probes, scored, label), explain_parts(service, why, scored, label),
             explain_curve(service, why, scored, label), explain_probes(service, why, probes, scored, label)]
    assert len(steps) == 4 and "Probing" in steps[1][why.progress]["value"]
    assert "Its one sentence was taken out" in steps[1][why.summary] and "Each of its 1" not in steps[1][why.summary]
    assert steps[2][why.prefixes].constructor_args["visible"] is False


def test_nothing_changes_without_a_chosen_response(panel):
    service, why, probes = panel
    for nothing in (None, {"responses": {}}):
        assert explain_first(service, why, probes, nothing, "x") == gr.skip()
        assert explain_parts(service, why, nothing, "x") == explain_curve(service, why, nothing, "x") == gr.skip()
        assert explain_probes(service, why, probes, nothing, "x") == gr.skip()
