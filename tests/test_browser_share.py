"""Share links in the real browser: score, take the link, open it in a fresh page, see the same comparison."""

import random
import re

import pytest

pytestmark = pytest.mark.browser

PROMPT = "Which planet is known as the red planet, and why?"
RESPONSES = ["Mars: iron oxide dust on its surface makes it look red.", "Jupiter.",
             "Mars, because of rusty dust. Ünïcödé & <b>marks</b> stay as typed ✓"]


def ranking(page, rows: int) -> list[tuple[str, str]]:
    """(response label, reward) per ranked row."""
    return [(page.locator(f'#ranking [data-testid="cell-{r}-1"]').inner_text().strip(),
             page.locator(f'#ranking [data-testid="cell-{r}-2"]').inner_text().strip()) for r in range(rows)]


def score(page, prompt: str, responses: list[str]) -> None:
    from playwright.sync_api import expect

    page.locator("#prompt textarea").fill(prompt)
    for i, text in enumerate(responses, start=1):
        if not page.locator(f"#response-{i} textarea").is_visible():
            page.locator("#add-btn").click()
        page.locator(f"#response-{i} textarea").fill(text)
    page.locator("#score-btn").click()
    expect(page.locator(f'#ranking [data-testid="cell-{len(responses) - 1}-0"]')).to_have_text(str(len(responses)))


def test_a_shared_link_opens_the_same_comparison_in_a_fresh_page(page, browser, app_url):
    from playwright.sync_api import expect

    score(page, PROMPT, RESPONSES)
    before = ranking(page, 3)
    page.locator("#share-btn").click()
    link_box = page.locator("#share-link textarea, #share-link input").first
    expect(link_box).to_have_value(re.compile(r"\?c=[A-Za-z0-9_-]+$"))
    link = link_box.input_value()
    assert link.startswith(app_url + "/?c=")

    fresh = browser.new_context(viewport={"width": 1366, "height": 900})
    try:
        opened = fresh.new_page()
        opened.goto(link)
        expect(opened.locator('#ranking [data-testid="cell-2-0"]')).to_have_text("3", timeout=30_000)
        assert opened.locator("#prompt textarea").input_value() == PROMPT
        assert [opened.locator(f"#response-{i} textarea").input_value() for i in (1, 2, 3)] == RESPONSES
        assert ranking(opened, 3) == before
        expect(opened.locator("#share-note")).to_contain_text("the same ranking as when it was shared")
    finally:
        fresh.close()


def tampered(**payload) -> str:
    import base64
    import json
    import zlib

    fields = {"v": 1, "p": PROMPT, "r": RESPONSES[:2], "m": "tiny", "s": [1.0, 0.0], **payload}
    return base64.urlsafe_b64encode(zlib.compress(json.dumps(fields).encode())).decode().rstrip("=")


@pytest.mark.parametrize("token", [
    "eNpdjLsKwjAUQH8l3DmG27R5",  # cut short
    tampered(p="\ud800"),  # a lone surrogate: no page can show it
    tampered(m="x` **bold** [click](https://example.com/) ![i](https://example.com/i.png) `"),  # Markdown
], ids=["cut-short", "surrogate", "markdown-in-the-model-name"])
def test_a_damaged_or_tampered_link_says_so_and_leaves_the_page_usable(browser, app_url, token):
    from playwright.sync_api import expect

    context = browser.new_context()
    outside = []
    try:
        page = context.new_page()
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((app_url, "data:", "blob:"))
                else None)
        page.goto(app_url + "/?c=" + token)
        expect(page.locator("#share-note")).to_contain_text("could not be opened")
        expect(page.locator("#share-note")).to_contain_text("Ask for the link again")
        assert page.locator("#share-note a, #share-note img").count() == 0
        assert page.locator("#prompt textarea").input_value() == ""
        score(page, PROMPT, RESPONSES[:2])  # the page still works
    finally:
        context.close()
    assert not outside, f"the page reached outside the app: {outside}"


def test_a_comparison_too_long_for_a_link_is_refused_and_nothing_typed_is_lost(page):
    from playwright.sync_api import expect

    rng = random.Random(1)
    long_text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(15_000))
    score(page, PROMPT, [RESPONSES[0], long_text])
    page.locator("#share-btn").click()
    expect(page.locator("#share-note")).to_contain_text("too long for a link")
    expect(page.locator("#share-note")).to_contain_text("Shorten the prompt or the responses")
    assert page.locator("#response-2 textarea").input_value() == long_text
    expect(page.locator("#share-link")).to_be_hidden()
