"""The Batch and Evaluate tabs' handlers on the tiny model: files in, the right scores and verdicts out."""

import json
import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd
import pytest

from reward.config import SAMPLE_PAIRS, Settings
from reward.service import RewardService
from tests.reference import assert_scores_close
from ui.files.batch import score_upload
from ui.files.common import columns_of
from ui.files.evaluate import NO_PROMPT_COLUMN, evaluate_upload
from ui.page import model_panel


@pytest.fixture(scope="module")
def service(tiny_settings):
    return RewardService(tiny_settings)


def test_batch_scores_every_row_in_order_into_a_temp_file(service, tiny_model, tmp_path):
    rows = pd.DataFrame({"question": ["Why?", "What is 2+2?", "Why?", "Capital of France?"],
                         "answer": ["Because.", "4", "A much longer answer " * 30, "Paris."],
                         "id": [10, 20, 30, 40]})
    src = tmp_path / "qa.csv"
    rows.to_csv(src, index=False)
    text, preview, histogram, scatter, out = score_upload(service, str(src), "question", "answer")
    out = Path(out)
    assert out.name == "qa.scored.csv"
    assert Path(tempfile.gettempdir()) in out.parents
    scored = pd.read_csv(out)
    assert scored["id"].tolist() == [10, 20, 30, 40]
    expected = tiny_model.score_pairs(rows["question"].tolist(), rows["answer"].tolist())
    assert_scores_close(scored["score"].tolist(), [s.score for s in expected])
    assert scored["tokens"].tolist() == [s.tokens for s in expected]
    assert "Scored 4 rows" in text and "qa.csv" in text
    assert len(preview) == 4 and histogram["count"].sum() == 4


@pytest.mark.parametrize(
    "content, columns, message",
    [
        ("prompt,response\nWhy?,Because.\n", ("question", "response"), "question"),
        ("prompt,response\nWhy?\n", ("prompt", "response"), "row 1"),  # a missing cell ("Why?," is empty text)
        (b"\xff\xfe\x00bad bytes", ("prompt", "response"), "bad.csv"),
    ],
)
def test_batch_refuses_a_bad_file_with_a_message_naming_what_to_fix(service, tmp_path, content, columns, message):
    src = tmp_path / "bad.csv"
    src.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(gr.Error, match=message):
        score_upload(service, str(src), *columns)


def test_batch_without_a_file_says_to_upload_one(service):
    with pytest.raises(gr.Error, match="upload"):
        score_upload(service, None, "prompt", "response")


def test_a_model_that_cannot_load_is_reported_in_the_tabs(tmp_path):
    broken = RewardService(Settings(model=str(tmp_path / "nowhere")))
    src = tmp_path / "p.csv"
    src.write_text("prompt,response\na,b\n")
    with pytest.raises(gr.Error, match="REWARD_MODEL=/path"):
        score_upload(broken, str(src), "prompt", "response")
    with pytest.raises(gr.Error, match="REWARD_MODEL=/path"):
        evaluate_upload(broken, str(SAMPLE_PAIRS), "prompt", "chosen", "rejected")


def test_evaluate_on_the_sample_pairs_matches_an_independent_count(service, tiny_model):
    text, histogram, worst, reliability, scatter, out, *_ = evaluate_upload(service, str(SAMPLE_PAIRS), "prompt",
                                                                            "chosen", "rejected")
    pairs = [json.loads(line) for line in SAMPLE_PAIRS.read_text(encoding="utf-8").splitlines() if line.strip()]
    chosen = tiny_model.score_pairs([p["prompt"] for p in pairs], [p["chosen"] for p in pairs])
    rejected = tiny_model.score_pairs([p["prompt"] for p in pairs], [p["rejected"] for p in pairs])
    wins = sum(c.score > r.score for c, r in zip(chosen, rejected))
    assert f"Accuracy {wins / len(pairs):.1%} on {len(pairs)} pairs" in text
    assert histogram["count"].sum() == len(pairs)
    margins = sorted(c.score - r.score for c, r in zip(chosen, rejected))
    # Shown to 3 decimals; the page's scores and these are computed apart.
    assert_scores_close(worst["margin"].tolist(), margins[:10], decimals=3,
                        scale=[s.score for s in chosen + rejected])
    results = pd.read_json(out, lines=True)
    assert len(results) == len(pairs) and int(results["correct"].sum()) == wins


def test_evaluate_splits_hh_rlhf_dialogues(service, tmp_path):
    lines = [{"chosen": f"\n\nHuman: Question {i}?\n\nAssistant: A helpful answer {i}.",
              "rejected": f"\n\nHuman: Question {i}?\n\nAssistant: No."} for i in range(5)]
    src = tmp_path / "hh.jsonl"
    src.write_text("\n".join(json.dumps(x) for x in lines))
    text, *_ = evaluate_upload(service, str(src), NO_PROMPT_COLUMN, "chosen", "rejected")
    assert "on 5 pairs" in text and "HH-RLHF dialogues" in text


def test_column_pickers_offer_the_files_columns(tmp_path):
    src = tmp_path / "x.jsonl"
    src.write_text('{"instruction": "a", "output": "b", "extra": 1}\n')
    assert columns_of(str(src)) == ["instruction", "output", "extra"]


def test_model_panel_names_the_precision_and_what_it_means(tiny_settings):
    from dataclasses import replace

    service = RewardService(replace(tiny_settings, precision="bf16"))
    service.model()
    panel = model_panel(service)
    assert "**Precision** `bf16` (" in panel and "fp32 elsewhere" in panel
    assert "**Precision** `fp32` ·" in model_panel(RewardService(tiny_settings))


def test_batch_download_can_be_made_spreadsheet_safe(service, tmp_path):
    src = tmp_path / "f.csv"
    pd.DataFrame({"prompt": ["=HYPERLINK(\"x\")", "fine"], "response": ["ok", "-1"]}).to_csv(src, index=False)
    *_, exact = score_upload(service, str(src), "prompt", "response")
    *_, safe = score_upload(service, str(src), "prompt", "response", None, True)
    assert pd.read_csv(exact, dtype=str)["prompt"].tolist() == ["=HYPERLINK(\"x\")", "fine"]
    back = pd.read_csv(safe, dtype=str)
    assert back["prompt"].tolist() == ["'=HYPERLINK(\"x\")", "fine"] and back["response"].tolist() == ["ok", "'-1"]


def test_the_cards_webgpt_figure_is_quoted_only_for_the_cards_model(service):
    from reward.config import DEFAULT_MODEL
    from reward.model.reward_model import ModelInfo

    text, *_ = evaluate_upload(service, str(SAMPLE_PAIRS), "prompt", "chosen", "rejected")
    assert "52.61%" not in text  # the tiny model is not the card's model
    info = dict(model=DEFAULT_MODEL, revision="default", device="cpu", precision="fp32", precision_note="",
                max_length=512, batch_size=8)
    assert ModelInfo(**info).is_card_model and not ModelInfo(**{**info, "model": "tiny-model"}).is_card_model


def test_a_deeply_nested_upload_gets_a_message_not_a_bare_error(service, tmp_path):
    src = tmp_path / "deep.jsonl"
    src.write_text('{"prompt": "q", "response": "a"}\n{"prompt": "q", "response": "a", "x": '
                   + "[" * 100_000 + "]" * 100_000 + "}\n")
    with pytest.raises(gr.Error, match="line 2.*nested too deep") as info:
        score_upload(service, str(src), "prompt", "response")
    assert info.value.print_exception is False  # an expected problem: no traceback in the server log


def test_a_file_with_rows_but_no_columns_is_named_not_a_bare_error(tmp_path):
    src = tmp_path / "empty-objects.jsonl"
    src.write_text("{}\n{}\n")
    with pytest.raises(gr.Error, match="empty-objects.jsonl has rows but no columns"):
        columns_of(str(src))


def plain_spearman(xs, ys) -> float:
    """Spearman's rho by hand: average ranks, then Pearson's correlation of the ranks."""
    def ranks(values):
        return [sum(w < v for w in values) + (sum(w == v for w in values) + 1) / 2 for v in values]
    rx, ry = ranks(xs), ranks(ys)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    num = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    return num / (sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry)) ** 0.5


def test_evaluate_shows_the_length_baseline_and_both_trust_charts(service, tiny_model):
    text, _, _, reliability, scatter, *_ = evaluate_upload(service, str(SAMPLE_PAIRS), "prompt", "chosen", "rejected")
    pairs = [json.loads(line) for line in SAMPLE_PAIRS.read_text(encoding="utf-8").splitlines() if line.strip()]
    longer = sum(len(p["chosen"]) > len(p["rejected"]) for p in pairs)
    assert f"always picks the longer answer would score **{longer / len(pairs):.1%}**" in text
    assert f"on the {longer} pairs whose chosen answer is longer" in text
    points = scatter.data
    assert len(points) == 2 * len(pairs) and sorted(points["side"].unique()) == ["chosen", "rejected"]
    chosen = tiny_model.score_pairs([p["prompt"] for p in pairs], [p["chosen"] for p in pairs])
    mine = points[points["side"] == "chosen"].sort_values("row")
    assert mine["length"].tolist() == [len(p["chosen"]) for p in pairs]
    assert_scores_close(mine["score"].tolist(), [s.score for s in chosen])
    dots = next(layer for layer in reliability.layer if "count" in getattr(layer.data, "columns", []))
    assert dots.data["count"].sum() == len(pairs)


def test_batch_reports_the_score_length_correlation_and_its_scatter(service, tiny_model, tmp_path):
    rows = pd.DataFrame({"prompt": ["Why?", "What is 2+2?", "Why?", "Capital of France?", "Hi"],
                         "response": ["Because.", "4", "A much longer answer " * 5, "Paris.", "Hello there, friend"]})
    src = tmp_path / "qa.jsonl"
    rows.to_json(src, orient="records", lines=True)
    text, _, _, scatter, _ = score_upload(service, str(src), "prompt", "response")
    scores = [s.score for s in tiny_model.score_pairs(rows["prompt"].tolist(), rows["response"].tolist())]
    rho = plain_spearman(scores, [len(r) for r in rows["response"]])
    assert f"Spearman **{rho:+.2f}**" in text
    assert scatter.data["length"].tolist() == [len(r) for r in rows["response"]]
    assert_scores_close(scatter.data["score"].tolist(), scores)
