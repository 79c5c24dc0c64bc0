"""The Evaluate tab's error analysis, through its own handlers on the tiny model (no browser): the slices table
against the written results, every wrong pair and the slice filter, the pair that "Open in Compare" hands over, and
labels saved, kept in the browser's store, and downloaded as files that read back to the same records.

The tab is built in a Blocks as the page builds it; its handlers are taken from the Blocks and called as Gradio
calls them. Every figure is recomputed here with plain loops on the file the tab wrote.
"""

import functools
import json
import math

import gradio as gr
import pandas as pd
import pytest
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from reward.config import MISSING_SLICE, SAMPLE_BEST_OF_N, SAMPLE_PAIRS, SAMPLE_SLICED_PAIRS
from reward.jobs.labels import LABEL_WRONG, LABELS, MODEL_WRONG, label_record, read_labels
from reward.service import RewardService
from tests.reference import assert_scores_close, card_score
from ui import text
from ui.files import labels
from ui.files.evaluate import NO_SLICES, EvaluateTab, build_evaluate_tab, evaluate_upload
from ui.files.slices import ALL_SLICES


class Tab:
    """The Evaluate tab built in a Blocks: its handlers by name, its components by elem_id."""

    def __init__(self, service: RewardService):
        with gr.Blocks() as self.demo:
            self.built = build_evaluate_tab(service)
        self.fns = {}
        for block_fn in self.demo.fns.values():
            fn = block_fn.fn
            while isinstance(fn, functools.partial):
                fn = fn.func
            self.fns.setdefault(fn.__name__, []).append(block_fn)
        self.ids = {b.elem_id: b for b in self.demo.blocks.values() if getattr(b, "elem_id", None)}

    def handler(self, name: str):
        return self.fns[name][0].fn

    def __getitem__(self, elem_id: str):
        return self.ids[elem_id]

    def evaluate(self, path, slice_column: str = NO_SLICES, store: dict | None = None) -> tuple[dict, dict]:
        """Press Evaluate (then the page-only step that fills the analysis); returns both answers."""
        ran = self.handler("run_evaluation")(str(path), "prompt", "chosen", "rejected", slice_column, None)
        state = next(v for k, v in ran.items() if isinstance(k, gr.State))
        return ran, self.handler("show_analysis")(state, store or {})


def read_written(path) -> pd.DataFrame:
    """The JSON lines the tab wrote, every float to the last bit (pandas' own JSON reader rounds some)."""
    with open(path, encoding="utf-8") as f:
        return pd.DataFrame([json.loads(line) for line in f if line.strip()])


def value(update):
    return update["value"] if isinstance(update, dict) else update


def select(row: int) -> gr.SelectData:
    return gr.SelectData(None, {"index": [row, 0], "value": None})


@pytest.fixture(scope="module")
def service(tiny_settings):
    return RewardService(tiny_settings)


@pytest.fixture(scope="module")
def tab(service):
    return Tab(service)


@pytest.fixture(scope="module")
def sliced(tab):
    """The sliced sample evaluated by category: the tab's answers, its state and the file it wrote."""
    ran, shown = tab.evaluate(SAMPLE_SLICED_PAIRS, "category")
    state = next(v for k, v in ran.items() if isinstance(k, gr.State))
    written = read_written(value(ran[tab["eval-download"]]))
    return ran, shown, state, written


def slice_of(value: object) -> str:
    return value if isinstance(value, str) and value.strip() else MISSING_SLICE


def test_the_build_returns_the_opened_state_and_the_button(tab):
    assert isinstance(tab.built, EvaluateTab)
    assert isinstance(tab.built.opened, gr.State) and tab.built.open_button is tab["open-in-compare"]
    [click] = tab.fns["opened_pair"]
    # In the queue: a state's .change, Compare's cue, fires only for an event that runs there.
    assert click.outputs == [tab.built.opened] and click.queue is not False and click.api_visibility == "private"


def test_the_slices_table_holds_each_slices_figures_counted_from_the_written_results(tab, sliced):
    ran, shown, _, written = sliced
    table = value(shown[tab["eval-slices"]])
    groups = {}
    for _, row in written.iterrows():
        groups.setdefault(slice_of(row["category"]), []).append(row)
    expected = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    assert table["slice"].tolist() == [name for name, _ in expected]
    assert table["n"].tolist() == [len(rows) for _, rows in expected]
    for (name, rows), shown in zip(expected, table.to_dict("records")):
        right = sum(1 for r in rows if r["score_chosen"] > r["score_rejected"])
        longer = sum(1 for r in rows if len(r["chosen"]) > len(r["rejected"]))
        margin = sum(r["score_chosen"] - r["score_rejected"] for r in rows) / len(rows)
        assert shown["accuracy"] == f"{right / len(rows):.1%}", name
        assert shown["longer-answer baseline"] == f"{longer / len(rows):.1%}", name
        assert shown["mean margin"] == f"{margin:+.3f}", name
        low, high = (float(x.rstrip("%")) / 100 for x in shown["95% interval"].split(" to "))
        assert low <= right / len(rows) + 5e-4 and high >= right / len(rows) - 5e-4, name
    assert value(ran[tab["eval-slice-chart"]]) is not None and ran[tab["eval-slices-caption"]]["visible"]


def test_the_slices_table_shows_the_summarys_slices(service, tab, sliced):
    _, analysis, *_ = sliced
    summary = evaluate_upload(service, str(SAMPLE_SLICED_PAIRS), "prompt", "chosen", "rejected",
                              "category").evaluation.summary
    shown = value(analysis[tab["eval-slices"]]).to_dict("records")
    assert [r["slice"] for r in shown] == [r["slice"] for r in summary.slices]
    for got, r in zip(shown, summary.slices):
        assert got == {"slice": r["slice"], "n": r["n"], "accuracy": f"{r['accuracy']:.1%}",
                       "95% interval": f"{r['ci_low']:.1%} to {r['ci_high']:.1%}",
                       "longer-answer baseline": f"{r['longer_baseline_accuracy']:.1%}",
                       "mean margin": f"{r['mean_margin']:+.3f}", "ECE": f"{r['ece']:.3f}"}


def test_without_a_slice_column_the_slices_are_hidden(tab):
    ran, shown = tab.evaluate(SAMPLE_PAIRS)
    assert shown[tab["eval-slices"]]["visible"] is False and ran[tab["eval-slice-chart"]]["visible"] is False
    assert ran[tab["eval-slices-caption"]]["visible"] is False
    assert shown[tab["eval-wrong-slice"]]["visible"] is False  # no filter without slices


def test_the_wrong_pairs_are_exactly_the_written_wrong_pairs_and_the_filter_keeps_one_slice(tab, sliced):
    _, shown, state, written = sliced
    wrong_rows = [int(r["row"]) for _, r in written.iterrows() if not r["correct"]]
    assert wrong_rows == [int(r["row"]) for _, r in written.iterrows() if not r["score_chosen"] > r["score_rejected"]]
    table = value(shown[tab["eval-wrong"]])
    if not wrong_rows:  # the tiny model is random: a run may get every pair right
        assert table is None and "No wrong pair" in value(shown[tab["eval-wrong-note"]])
        return
    assert table["row"].tolist() == wrong_rows
    assert f"{len(wrong_rows)} wrong pair" in value(shown[tab["eval-wrong-note"]])
    choices = dict((v, k) for k, v in shown[tab["eval-wrong-slice"]]["choices"])
    assert choices[ALL_SLICES] == f"{ALL_SLICES} ({len(wrong_rows)})"
    refilter = tab.handler("refilter")
    for name in {slice_of(c) for c in written["category"]}:
        mine = [int(r["row"]) for _, r in written.iterrows() if not r["correct"] and slice_of(r["category"]) == name]
        out = refilter(state, name)
        got = value(out[tab["eval-wrong"]])
        assert (got["row"].tolist() if got is not None else []) == mine, name
        if mine:
            assert choices[name] == f"{name} ({len(mine)})"
            assert set(got["slice"]) == {name}
        else:
            assert name not in choices and "No wrong pair" in value(out[tab["eval-wrong-note"]])
    assert value(refilter(state, ALL_SLICES)[tab["eval-wrong"]])["row"].tolist() == wrong_rows


def pick_first(tab, state, shown) -> tuple[dict, int]:
    """Select the first wrong pair (the first worst pair when there is none); returns the answer and its row."""
    if value(shown[tab["eval-wrong"]]) is not None:
        out = tab.handler("pick_wrong")(state, ALL_SLICES, {}, select(0))
        row = int(value(shown[tab["eval-wrong"]])["row"].iloc[0])
    else:
        out = tab.handler("pick_worst")(state, {}, select(0))
        row = int(state["results"]["row"].iloc[state["worst"][0]])
    return out, row


def test_open_in_compare_hands_over_the_exact_texts_and_scores_a_new_value_each_click(tab, sliced, tiny_model_dir):
    _, shown, state, written = sliced
    out, row = pick_first(tab, state, shown)
    selected = next(v for k, v in out.items() if isinstance(k, gr.State))
    source = [json.loads(line) for line in SAMPLE_SLICED_PAIRS.read_text(encoding="utf-8").splitlines()][row - 1]
    assert out[tab["eval-pair-prompt"]] == source["prompt"] and out[tab["eval-pair-chosen"]] == source["chosen"]
    assert out[tab["eval-pair-rejected"]] == source["rejected"]
    assert f"**Row {row}**" in out[tab["eval-pair-heading"]]
    opened = tab.handler("opened_pair")(selected, None)
    assert {k: opened[k] for k in ("prompt", "chosen", "rejected", "row")} == {
        "prompt": source["prompt"], "chosen": source["chosen"], "rejected": source["rejected"], "row": row}
    mine = written[written["row"] == row].iloc[0]
    assert opened["scores"] == [mine["score_chosen"], mine["score_rejected"]]
    assert all(type(s) is float for s in opened["scores"])
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir).eval()
    assert_scores_close(opened["scores"], [card_score(tokenizer, model, source["prompt"], source[side])[0]
                                           for side in ("chosen", "rejected")])
    again = tab.handler("opened_pair")(selected, opened)
    assert again != opened and {k: v for k, v in again.items() if k != "click"} == {
        k: v for k, v in opened.items() if k != "click"}
    assert tab.handler("opened_pair")(None, opened) is None


def test_a_saved_label_is_a_label_record_kept_for_the_file_and_its_downloads_read_back(tab, sliced):
    _, shown, state, written = sliced
    out, row = pick_first(tab, state, shown)
    selected = next(v for k, v in out.items() if isinstance(k, gr.State))
    save = tab.handler("save_label")
    refused = save(state, selected, None, "", {})
    assert value(refused[tab["eval-label-status"]]) == text.EVAL_LABEL_PICK  # no label picked: nothing saved
    note = 'Mont Blanc is in the Alps, "not" the tallest;\nsee the note.'
    saved = save(state, selected, LABEL_WRONG, note, {"junk": 1, "other.jsonl#00": {"1#x": {"label": "nonsense"}}})
    store = next(v for k, v in saved.items() if isinstance(k, gr.BrowserState))
    expected = label_record(written[written["row"] == row].iloc[0].to_dict(), LABEL_WRONG, note)
    assert labels.label_records(store, state["key"], state["results"]) == [expected]
    assert expected["category"] == written[written["row"] == row].iloc[0]["category"]
    table = value(saved[tab["eval-labels"]])
    assert table[["row", "label", "note"]].values.tolist() == [[row, LABEL_WRONG, note]]
    for elem_id in ("eval-labels-csv", "eval-labels-jsonl"):
        path = value(saved[tab[elem_id]])
        assert read_labels(path).records == [expected], elem_id
    # A new evaluation of the same file (as after a reload, with the browser's store) shows the label again.
    _, again = tab.evaluate(SAMPLE_SLICED_PAIRS, "category", store)
    assert value(again[tab["eval-labels"]])[["row", "label"]].values.tolist() == [[row, LABEL_WRONG]]
    assert read_labels(value(again[tab["eval-labels-csv"]])).records == [expected]
    # Selecting the pair again starts its controls on the saved label; saving again replaces it.
    picked = tab.handler("pick_wrong" if value(shown[tab["eval-wrong"]]) is not None else "pick_worst")
    args = (state, ALL_SLICES, store) if picked.__name__ == "pick_wrong" else (state, store)
    back = picked(*args, select(0))
    assert value(back[tab["eval-label"]]) == LABEL_WRONG and value(back[tab["eval-label-note"]]) == note
    replaced = save(state, selected, MODEL_WRONG, "", store)
    store2 = next(v for k, v in replaced.items() if isinstance(k, gr.BrowserState))
    assert [r["label"] for r in labels.label_records(store2, state["key"], state["results"])] == [MODEL_WRONG]


def test_labels_are_kept_per_file_and_per_pair(tab, sliced, tmp_path):
    _, _, state, _ = sliced
    pair = state["results"].iloc[0].to_dict()
    store = labels.with_label({}, state["key"], pair, LABELS[0], "")
    # The same bytes under another name, and another file, have labels of their own.
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(SAMPLE_SLICED_PAIRS.read_bytes())
    assert labels.file_key(str(copy), SAMPLE_SLICED_PAIRS.name) == state["key"]
    assert labels.file_key(str(copy), "copy.jsonl") != state["key"]
    assert labels.label_records(store, labels.file_key(str(SAMPLE_PAIRS), SAMPLE_PAIRS.name), state["results"]) == []
    # A pair whose texts differ at the same row does not take the label.
    changed = state["results"].copy()
    changed.loc[0, "chosen"] = changed.loc[0, "chosen"] + " "
    assert labels.label_records(store, state["key"], changed) == []
    # Whatever a browser sends that is not a label is left out.
    for junk in (None, [], "x", {state["key"]: "x"}, {state["key"]: {"1#x": {"label": "great"}}}):
        assert labels.label_records(junk, state["key"], state["results"]) == []


def test_the_best_of_n_sample_shows_best_of_n_accuracy_and_offers_no_labels(tab):
    ran, shown = tab.evaluate(SAMPLE_BEST_OF_N, "subset")
    written = read_written(value(ran[tab["eval-download"]]))
    sets = [json.loads(line) for line in SAMPLE_BEST_OF_N.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(written) == len(sets)
    right = pairs = won = 0
    for _, r in written.iterrows():
        chosen, rejected = r["scores_chosen"] if "scores_chosen" in r else [r["score_chosen"]], r["scores_rejected"]
        right += all(c > x for c in chosen for x in rejected)
        pairs += len(chosen) * len(rejected)
        won += sum(c > x for c in chosen for x in rejected)
    summary = value(ran[tab["eval-summary"]])
    assert f"Best-of-N accuracy {right / len(sets):.1%} on {len(sets)} sets" in summary
    assert f"pairwise accuracy **{won / pairs:.1%}** on {pairs} (chosen, rejected) pairs" in summary
    answers = sum(len(s["chosen"]) + len(s["rejected"]) for s in sets)
    assert f"Spearman, all {answers} responses" in summary
    table = value(shown[tab["eval-slices"]])
    assert {"pairs", "pairwise accuracy"} <= set(table.columns) and "ECE" not in table.columns
    assert sum(table["n"]) == len(sets) and sum(table["pairs"]) == pairs
    assert value(shown[tab["eval-labels-hint"]]) == text.EVAL_LABELS_SETS
    state = next(v for k, v in ran.items() if isinstance(k, gr.State))
    out = tab.handler("pick_worst")(state, {}, select(0))
    assert out[tab["eval-labelling"]]["visible"] is False
    selected = next(v for k, v in out.items() if isinstance(k, gr.State))
    assert tab.handler("save_label")(state, selected, LABELS[0], "", {}) == gr.skip()  # sets get no labels
    assert math.isfinite(state["results"]["margin"].iloc[state["worst"][0]])


def test_the_samples_and_an_upload_set_the_slice_picker(tab, tmp_path):
    sample = [f.fn for f in tab.fns["sample"]]
    picked = [dict(zip(["upload", "prompt", "chosen", "rejected", "slice"],
                       [value(v) for v in fn().values()])) for fn in sample]
    assert [(p["upload"], p["slice"]) for p in picked] == [
        (str(SAMPLE_PAIRS), NO_SLICES), (str(SAMPLE_SLICED_PAIRS), "category"), (str(SAMPLE_BEST_OF_N), "subset")]
    src = tmp_path / "mine.csv"
    src.write_text("question,good,bad,task_category\nq,a,b,x\n")
    *_, by = tab.handler("pick_columns")(str(src))
    assert by["value"] == "task_category" and by["choices"][0] == NO_SLICES
    src.write_text("prompt,chosen,rejected\nq,a,b\n")
    *_, by = tab.handler("pick_columns")(str(src))
    assert by["value"] == NO_SLICES
