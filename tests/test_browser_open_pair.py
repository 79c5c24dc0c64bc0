"""From a wrong pair to why, in one click: a pair of the Evaluate tab opened in Compare fills the prompt, the chosen
and the rejected answer, scores them, explains the chosen one and compares it (A) with the rejected one (B)."""

import json
import re

from reward.config import SAMPLE_SLICED_PAIRS
from tests.reference import assert_scores_close


def test_a_wrong_pair_opens_in_compare_scored_explained_and_compared(page, client):
    from playwright.sync_api import expect

    rows = [json.loads(line) for line in SAMPLE_SLICED_PAIRS.read_text(encoding="utf-8").splitlines() if line.strip()]
    page.get_by_role("tab", name="Evaluate", exact=True).click()
    page.locator("#eval-sample-sliced-btn").click()
    expect(page.locator("#eval-summary")).to_contain_text("Accuracy", timeout=60_000)
    table = "eval-wrong" if page.locator("#eval-wrong").is_visible() else "eval-worst"
    first = page.locator(f'#{table} [data-testid="cell-0-0"]')
    picked = int(first.inner_text())
    pair = rows[picked - 1]
    first.click()
    expect(page.locator("#eval-pair-chosen textarea")).to_have_value(pair["chosen"])
    page.locator("#open-in-compare").click()

    # The Compare tab, with the pair in its boxes and scored.
    expect(page.locator("#prompt textarea")).to_have_value(pair["prompt"])
    expect(page.locator("#response-1 textarea")).to_have_value(pair["chosen"])
    expect(page.locator("#response-2 textarea")).to_have_value(pair["rejected"])
    expect(page.locator('#ranking [data-testid="cell-1-0"]')).to_have_text("2", timeout=60_000)
    # Why this score opens on the chosen answer (Response 1).
    expect(page.locator("#why-picker input")).to_have_value(re.compile(r"Response 1 \("))
    expect(page.locator("#why-sentences")).to_be_visible(timeout=60_000)
    # The pair view compares the chosen answer (A) with the rejected one (B).
    expect(page.locator("#pair-a input")).to_have_value(re.compile(r"Response 1 \("))
    expect(page.locator("#pair-b input")).to_have_value(re.compile(r"Response 2 \("))
    expect(page.locator("#pair-summary")).to_contain_text("Margin", timeout=60_000)
    expected = client.predict(pair["prompt"], pair["chosen"], pair["rejected"], api_name="/contrast")
    margin = float(re.search(r"Margin ([+-]\d+\.\d{3})", page.locator("#pair-summary").inner_text()).group(1))
    assert_scores_close(margin, expected["margin"], scale=[expected["score_a"], expected["score_b"]], decimals=3)
    # The evaluation's verdict and the page's agree: a wrong pair has the rejected answer ahead.
    verdict = page.locator("#pair-summary").inner_text()
    assert ("prefers **B**" in verdict or "prefers B" in verdict) == (expected["margin"] < 0)
