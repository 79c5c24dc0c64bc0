"""Why A over B in a real browser, on a desktop and on a 390 px phone: score the card example, compare the top two,
edit Response 2 and see the change, then run the flip; every figure shown is the API's for the same texts."""

import re

import pytest

from tests.conftest import ARTIFACTS
from tests.reference import assert_scores_close
from ui.compare.examples import load_example_sets

[CARD] = [ex for ex in load_example_sets() if ex.card_scores]
SCORE = re.compile(r"[+-]\d+\.\d{3}")


def shown_scores(text: str) -> list[float]:
    return [float(s) for s in SCORE.findall(text)]


def labels(page) -> list[str]:
    return [page.locator(f'#ranking [data-testid="cell-{i}-1"]').inner_text().strip() for i in range(2)]


def journey(page, client, picture: str | None = None):
    from playwright.sync_api import expect

    page.get_by_role("button", name="AI Ethics (model card)").click()
    expect(page.locator("#prompt textarea")).to_have_value(CARD.prompt)
    expect(page.locator("#pair-view")).to_be_hidden()
    page.locator("#score-btn").click()
    expect(page.locator('#ranking [data-testid="cell-1-0"]')).to_have_text("2", timeout=30_000)
    order = labels(page)  # "Response 1" / "Response 2" in rank order
    texts = {f"Response {i + 1}": t for i, t in enumerate(CARD.responses)}
    a, b = texts[order[0]], texts[order[1]]

    # The pair view: #1 as A and #2 as B, compared on a click.
    expect(page.locator("#pair-view")).to_be_visible()
    expect(page.locator("#pair-hint")).to_be_visible()
    expect(page.locator("#pair-a input")).to_have_value(re.compile(rf"^#1 · {order[0]} "))
    expect(page.locator("#pair-b input")).to_have_value(re.compile(rf"^#2 · {order[1]} "))
    page.locator("#pair-btn").click()
    expect(page.locator("#pair-summary")).to_contain_text("Margin", timeout=60_000)
    expect(page.locator("#pair-hint")).to_be_hidden()
    expected = client.predict(CARD.prompt, a, b, api_name="/contrast")
    summary = page.locator("#pair-summary").inner_text()
    score_a, score_b = (float(s) for s in re.findall(r"scores ([+-]\d+\.\d{3})", summary))
    margin = float(re.search(r"Margin ([+-]\d+\.\d{3})", summary).group(1))
    assert_scores_close([score_a, score_b, margin], [expected["score_a"], expected["score_b"], expected["margin"]],
                        scale=[expected["score_a"], expected["score_b"]], decimals=3)
    for part in ("#pair-diff", "#pair-words-a", "#pair-words-b"):
        expect(page.locator(part)).to_be_visible()
    # The diff shows what only A has and what only B has.
    expect(page.locator("#pair-diff")).to_contain_text("only in A")
    if picture:
        page.locator("#pair-view").screenshot(path=str(ARTIFACTS / picture))

    # What if: edit Response 2 and score the edit.
    page.locator("#what-if-pick input").click()
    page.get_by_role("option", name=re.compile(r"Response 2 \(")).click()
    expect(page.locator("#what-if-original textarea")).to_have_value(CARD.responses[1])
    edited = CARD.responses[1].split(".")[0] + ". AI ethics protects people."
    page.locator("#what-if-edit textarea").fill(edited)
    page.locator("#what-if-btn").click()
    expect(page.locator("#what-if-result")).to_contain_text("a change of", timeout=60_000)
    whatif = client.predict(CARD.prompt, CARD.responses[1], edited, api_name="/whatif")
    original, now, change = shown_scores(page.locator("#what-if-result").inner_text())[:3]
    assert_scores_close([original, now, change], [whatif["score"], whatif["edited_score"], whatif["change"]],
                        scale=[whatif["score"], whatif["edited_score"]], decimals=3)
    expect(page.locator("#what-if-diff")).to_be_visible()
    expect(page.locator('#what-if-history [data-testid$="-0"][role="gridcell"]')).to_have_count(1)
    # A second edit is kept above the first.
    page.locator("#what-if-edit textarea").fill(edited + " Thanks!")
    page.locator("#what-if-btn").click()
    expect(page.locator('#what-if-history [data-testid$="-0"][role="gridcell"]')).to_have_count(2, timeout=60_000)
    expect(page.locator('#what-if-history [data-testid="cell-0-0"]')).to_have_text("2")

    # The flip: the page says what /flip finds for the same A and B.
    page.locator("#flip-btn").click()
    flipped = client.predict(CARD.prompt, a, b, "sentence", api_name="/flip")
    expect(page.locator("#flip-result")).to_contain_text("Flipped" if flipped["flipped"] else "No flip found",
                                                         timeout=60_000)
    if flipped["removed"]:
        expect(page.locator("#flip-view")).to_be_visible()
        expect(page.locator("#flip-view")).to_contain_text(flipped["removed"][0]["text"].strip()[:20])


def test_why_a_over_b_on_a_desktop(page, client):
    journey(page, client, picture="pair.png")
    page.locator("#clear-btn").click()
    from playwright.sync_api import expect

    expect(page.locator("#pair-view")).to_be_hidden()
    expect(page.locator("#what-if")).to_be_hidden()


def test_why_a_over_b_on_a_phone(browser, app_url, client):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    try:
        page.goto(app_url)
        page.locator("#score-btn").wait_for()
        journey(page, client)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1, f"the page scrolls sideways on a phone ({width}px wide)"
    finally:
        context.close()


@pytest.mark.parametrize("unit", ["words", "tokens"])
def test_the_token_detail_switches_between_words_and_tokens(page, client, unit):
    from playwright.sync_api import expect

    page.get_by_role("button", name="AI Ethics (model card)").click()
    expect(page.locator("#prompt textarea")).to_have_value(CARD.prompt)
    page.locator("#score-btn").click()
    expect(page.locator('#ranking [data-testid="cell-1-0"]')).to_have_text("2", timeout=30_000)
    page.locator('#ranking [data-testid="cell-0-1"]').click()
    page.locator("#why-attribute-btn").click()
    expect(page.locator("#why-attribution")).to_be_visible(timeout=60_000)
    expect(page.locator("#why-attribution-unit")).to_be_visible()
    if unit == "tokens":
        page.locator("#why-attribution-unit").get_by_text("tokens").click()
        expect(page.locator("#why-attribution-note")).not_to_contain_text("Shown by word")
    else:
        expect(page.locator("#why-attribution-note")).to_contain_text("Shown by word")
