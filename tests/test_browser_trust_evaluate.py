"""How far to trust it, in Debian's chromium: Evaluate on the sample pairs shows the length baseline, the
reliability plot and the score-against-length scatter; a Score-a-file upload shows its scatter.

The figures on the page are checked against a count made here from the sample file itself.
"""

import json
import re

import pytest

from reward.config import SAMPLE_PAIRS
from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.browser


def sample_longer_share() -> float:
    """Share of the sample pairs whose chosen response has more characters than the rejected one."""
    rows = [json.loads(line) for line in SAMPLE_PAIRS.read_text(encoding="utf-8").splitlines() if line.strip()]
    longer = 0
    for row in rows:
        if len(row["chosen"]) > len(row["rejected"]):
            longer += 1
    return longer / len(rows)


def drawn(page, elem_id: str):
    """The chart inside a gr.Plot, once Vega has drawn it."""
    return page.locator(f"#{elem_id} .vega-embed").locator("canvas, svg.marks").first


def test_evaluate_on_the_sample_pairs_shows_the_length_baseline_and_both_charts(page):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Evaluate", exact=True).click()
    page.locator("#eval-sample-btn").click()
    summary = page.locator("#eval-summary")
    expect(summary).to_contain_text(re.compile(r"Accuracy \d+\.\d% on \d+ pairs"), timeout=60_000)
    expect(summary).to_contain_text(
        f"A judge that always picks the longer answer would score {sample_longer_share():.1%}")
    expect(summary).to_contain_text(re.compile(r"calibration error \(ECE\): \d\.\d{3}"))
    expect(summary).to_contain_text(re.compile(r"Spearman, all \d+ responses\): [+-]\d\.\d\d"))
    for elem_id in ("eval-reliability", "eval-length-scatter"):
        chart = drawn(page, elem_id)
        expect(chart).to_be_visible()
        box = chart.bounding_box()
        assert box and box["width"] > 200 and box["height"] > 150, f"#{elem_id} drew no real chart: {box}"
    page.locator("#eval-reliability").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "trust-evaluate.png"), full_page=True)


def test_a_scored_file_shows_its_score_against_length_scatter(page, tmp_path):
    from playwright.sync_api import expect

    src = tmp_path / "lengths.csv"
    src.write_text('prompt,response\n"Why?","Because."\n"What is 2+2?","Four, since two and two make four."\n'
                   '"Capital of France?","Paris."\n"Name a colour.","Blue is a colour people often name first."\n')
    page.get_by_role("tab", name="Score a file").click()
    page.locator("#batch-file input[type=file]").set_input_files(str(src))
    expect(page.locator("#batch-response-column input")).to_have_value("response")
    page.locator("#batch-btn").click()
    summary = page.locator("#batch-summary")
    expect(summary).to_contain_text("Scored 4 rows", timeout=60_000)
    expect(summary).to_contain_text(re.compile(r"Spearman [+-]\d\.\d\d"))
    chart = drawn(page, "batch-length-scatter")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 150, f"the scatter drew no real chart: {box}"
