"""The Evaluate tab as error analysis, in Debian's chromium: the sample pairs by category show the figures per slice
(a table and a chart); a wrong pair (or, when the model gets none wrong, the worst one) is selected, shown in full
and labelled; the label survives a page reload and a new evaluation, and downloads as CSV that reads back to the
same pair. The best-of-N sample shows the best-of-N accuracy.

What the page shows is checked against the sample files themselves, read here.
"""

import json
import re
from collections import Counter

import pytest

from reward.config import MISSING_SLICE, SAMPLE_BEST_OF_N, SAMPLE_SLICED_PAIRS
from reward.jobs.labels import LABEL_WRONG, read_labels
from tests.conftest import ARTIFACTS
from tests.test_browser_empty_states import empty_frames, result_panels

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def panels(app_url) -> list[tuple[str, str]]:
    return result_panels(app_url)

NOTE = 'The rejected answer is the better one, "clearly"; a note, with a comma.'


def rows_of(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def slice_counts(rows: list[dict], column: str) -> list[tuple[str, int]]:
    """Each slice and its rows, largest first, then by name (as the page orders them)."""
    names = Counter(r.get(column) if isinstance(r.get(column), str) and r[column].strip() else MISSING_SLICE
                    for r in rows)
    return sorted(names.items(), key=lambda item: (-item[1], item[0]))


def cell(table: str, row: int, column: int) -> str:
    return f'#{table} [data-testid="cell-{row}-{column}"]'


def evaluate_sliced_sample(page):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Evaluate", exact=True).click()
    page.locator("#eval-sample-sliced-btn").click()
    rows = rows_of(SAMPLE_SLICED_PAIRS)
    expect(page.locator("#eval-summary")).to_contain_text(re.compile(rf"Accuracy \d+\.\d% on {len(rows)} pairs"),
                                                          timeout=60_000)
    expect(page.locator("#eval-slice-column input")).to_have_value("category")
    return rows


def test_slices_then_a_wrong_pair_labelled_kept_over_a_reload_and_downloaded(page, panels):
    from playwright.sync_api import expect

    rows = evaluate_sliced_sample(page)
    # The figures per slice: every category of the file with its count, largest first.
    for i, (name, n) in enumerate(slice_counts(rows, "category")):
        expect(page.locator(cell("eval-slices", i, 0))).to_have_text(name)
        expect(page.locator(cell("eval-slices", i, 1))).to_have_text(str(n))
    chart = page.locator("#eval-slice-chart .vega-embed").locator("canvas, svg.marks").first
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 100, f"the slice chart drew no real chart: {box}"
    expect(page.locator("#eval-slices-caption")).to_contain_text("How to read it")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    top, bottom = page.locator("#eval-file").bounding_box(), page.locator("#eval-slices-caption").bounding_box()
    scrolled = page.evaluate("window.scrollY")
    page.screenshot(path=str(ARTIFACTS / "evaluate-slices.png"), full_page=True,
                    clip={"x": 0, "y": top["y"] + scrolled - 60, "width": page.viewport_size["width"],
                          "height": bottom["y"] + bottom["height"] - top["y"] + 80})

    # A wrong pair if the model got any wrong, else the worst-judged one.
    note = page.locator("#eval-wrong-note")
    expect(note).to_contain_text(re.compile(r"wrong pair"))
    table = "eval-wrong" if page.locator("#eval-wrong").is_visible() else "eval-worst"
    if table == "eval-wrong":  # the slice filter keeps the wrong pairs of one slice
        first_slice = page.locator(cell(table, 0, 1)).inner_text()
        page.locator("#eval-wrong-slice input").click()
        page.get_by_role("option", name=re.compile(rf"^{re.escape(first_slice)} \(\d+\)$")).click()
        expect(note).to_contain_text(f"in {first_slice}")
        shown = page.locator("#eval-wrong [data-testid^=cell-][data-testid$='-1']")
        expect(shown.first).to_have_text(first_slice)
        assert set(shown.all_inner_texts()) == {first_slice}
    picked = int(page.locator(cell(table, 0, 0)).inner_text())
    pair = rows[picked - 1]
    page.locator(cell(table, 0, 0)).click()
    expect(page.locator("#eval-pair-heading")).to_contain_text(f"Row {picked}")
    expect(page.locator("#eval-pair-prompt textarea")).to_have_value(pair["prompt"])
    expect(page.locator("#eval-pair-chosen textarea")).to_have_value(pair["chosen"])
    expect(page.locator("#eval-pair-rejected textarea")).to_have_value(pair["rejected"])
    expect(page.locator("#open-in-compare")).to_be_visible()

    page.locator("#eval-label").get_by_label(LABEL_WRONG).check()
    page.locator("#eval-label-note textarea").fill(NOTE)
    page.locator("#save-label").click()
    expect(page.locator("#eval-label-status")).to_contain_text(f"row {picked} is labelled {LABEL_WRONG}")
    expect(page.locator(cell("eval-labels", 0, 0))).to_have_text(str(picked))
    expect(page.locator(cell("eval-labels", 0, 1))).to_have_text(LABEL_WRONG)
    assert empty_frames(page, panels) == [], "with a pair selected and labelled"

    # A reload and a new evaluation of the same file show the label again, and the pair's controls start on it.
    page.reload()
    page.locator("#score-btn").wait_for()
    evaluate_sliced_sample(page)
    expect(page.locator(cell("eval-labels", 0, 0))).to_have_text(str(picked))
    expect(page.locator(cell("eval-labels", 0, 1))).to_have_text(LABEL_WRONG)
    expect(page.locator(cell("eval-labels", 0, 2))).to_have_text(NOTE)
    page.locator(cell(table, 0, 0)).click()
    expect(page.locator("#eval-label").get_by_label(LABEL_WRONG)).to_be_checked()
    expect(page.locator("#eval-label-note textarea")).to_have_value(NOTE)

    with page.expect_download() as download:
        page.locator("#eval-labels-csv").click()
    assert download.value.suggested_filename == "sample_pairs_sliced.labels.csv"
    [record] = read_labels(download.value.path(), name="labels.csv").records
    assert (record["row"], record["label"], record["note"]) == (picked, LABEL_WRONG, NOTE)
    assert (record["prompt"], record["chosen"], record["rejected"]) == (pair["prompt"], pair["chosen"],
                                                                          pair["rejected"])
    assert record["category"] == pair.get("category")
    assert record["margin"] == record["score_chosen"] - record["score_rejected"]


def test_the_best_of_n_sample_shows_best_of_n_accuracy_and_no_labels(page, panels):
    from playwright.sync_api import expect

    sets = rows_of(SAMPLE_BEST_OF_N)
    pairs = sum(len(s["chosen"]) * len(s["rejected"]) for s in sets)
    page.get_by_role("tab", name="Evaluate", exact=True).click()
    page.locator("#eval-sample-best-of-n-btn").click()
    summary = page.locator("#eval-summary")
    expect(summary).to_contain_text(re.compile(rf"Best-of-N accuracy \d+\.\d% on {len(sets)} sets"), timeout=60_000)
    expect(summary).to_contain_text(re.compile(rf"pairwise accuracy \d+\.\d% on {pairs} \(chosen, rejected\) pairs"))
    expect(summary).to_contain_text(f"Spearman, all {sum(len(s['chosen']) + len(s['rejected']) for s in sets)} "
                                    "responses")
    expect(page.locator("#eval-slice-column input")).to_have_value("subset")
    for i, (name, n) in enumerate(slice_counts(sets, "subset")):
        expect(page.locator(cell("eval-slices", i, 0))).to_have_text(name)
        expect(page.locator(cell("eval-slices", i, 1))).to_have_text(str(n))
    expect(page.locator("#eval-slices")).to_contain_text("pairwise accuracy")
    expect(page.locator("#eval-labels-hint")).to_contain_text("Labels are for pair files")
    page.locator(cell("eval-worst", 0, 0)).click()
    expect(page.locator("#eval-pair-heading")).to_contain_text("one pair of its set")
    expect(page.locator("#save-label")).to_be_hidden()
    expect(page.locator("#eval-labels-hint")).to_be_visible()
    assert empty_frames(page, panels) == [], "with a pair of a set selected"


def test_on_a_phone_the_tab_never_scrolls_sideways_from_one_file_to_the_next(browser, app_url):
    """Tables whose columns change from one file to the next (a slice column, best-of-N figures) start afresh, so
    that their old widths do not widen the page."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(app_url)
    page.get_by_role("tab", name="Evaluate", exact=True).click()
    for button, done, charts in (
            ("#eval-sample-btn", r"Accuracy \d+\.\d% on \d+ pairs", ()),
            ("#eval-sample-sliced-btn", rf"on {len(rows_of(SAMPLE_SLICED_PAIRS))} pairs", ("eval-slice-chart",)),
            ("#eval-sample-best-of-n-btn", r"Best-of-N accuracy", ("eval-slice-chart",))):
        page.locator(button).click()
        expect(page.locator("#eval-summary")).to_contain_text(re.compile(done), timeout=60_000)
        expect(page.locator("#eval-worst [data-testid=cell-0-0]")).to_be_visible()
        for chart in ("eval-reliability", "eval-length-scatter", *charts):
            expect(page.locator(f"#{chart} canvas").first).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1, f"after {button} the page scrolls sideways on a phone ({width}px wide)"
    context.close()
