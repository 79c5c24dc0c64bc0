"""Share links in the real browser: score, take the link, open it in a fresh page, see the same comparison."""

import json
import os
import random
import re
import subprocess
import sys
import time

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


def packed(text: str) -> str:
    """A link value around JSON text written by hand (as a tamperer, or a cut and pasted link, would leave it)."""
    import base64
    import zlib

    return base64.urlsafe_b64encode(zlib.compress(text.encode("utf-8"))).decode().rstrip("=")


def tampered(**payload) -> str:
    fields = {"v": 1, "p": PROMPT, "r": RESPONSES[:2], "m": "tiny", "s": [1.0, 0.0], **payload}
    return packed(json.dumps(fields))


GOOD = json.dumps({"v": 1, "p": PROMPT, "r": RESPONSES[:2], "m": "tiny", "s": [1.0, 0.0]})[1:-1]
"""The members of a good link's JSON, for the hand-written damage below."""

DAMAGED_LINKS = {
    "cut-short": ("eNpdjLsKwjAUQH8l3DmG27R5", "Ask for the link again"),
    "surrogate": (tampered(p="\ud800"), "Ask for the link again"),  # a lone surrogate: no page can show it
    "markdown-in-the-model-name": (
        tampered(m="x` **bold** [click](https://example.com/) ![i](https://example.com/i.png) `"),
        "Ask for the link again"),
    "deeply-nested": (packed("{" + GOOD.replace("[1.0, 0.0]", "[" * 50_000 + "]" * 50_000) + "}"),
                      "Ask for the link again"),
    "score-too-large-for-a-float": (packed("{" + GOOD.replace("1.0", "1" + "0" * 400) + "}"),
                                    "Ask for the link again"),
    "NaN-score": (packed("{" + GOOD.replace("1.0", "NaN") + "}"), "Ask for the link again"),
    "key-twice": (packed("{" + GOOD + ', "p": "another prompt"}'), "Ask for the link again"),
    "extra-key": (packed("{" + GOOD + ', "x": 1}'), "Ask for the link again"),
    "responses-as-text": (tampered(r="one text", s=[1.0]), "Ask for the link again"),
    "control-character-in-the-model-name": (tampered(m="tiny\x1b[31m"), "Ask for the link again"),
    "too-many-responses": (tampered(r=["r"] * 17, s=[0.0] * 17), "holds 17 responses; this page takes up to 16"),
    "empty-prompt": (tampered(p=""), "The prompt is empty"),
    "blank-responses": (tampered(r=["", " \n "], s=[None, None]), "Every response is blank"),
}


WATCH_FOR_ERRORS = """() => {
  window.errorsSeen = [];
  new MutationObserver(() => {
    for (const e of document.querySelectorAll(".wrap .error, [data-testid=toast-body]"))
      if (!e.dataset.seen) { e.dataset.seen = "1"; window.errorsSeen.push(e.closest("[id]")?.id + ": " + e.innerText); }
  }).observe(document, {subtree: true, childList: true});
}"""
"""Records every red "Error" badge on a component and every toast, however briefly shown."""


@pytest.fixture(scope="module")
def logged_app(tiny_model_dir, tmp_path_factory):
    """``python app.py`` on the tiny model, as a host runs it: (its url, a function giving its new log lines)."""
    from tests.conftest import ROOT, free_port

    port, log = free_port(), tmp_path_factory.mktemp("share-log") / "app.log"
    env = {**os.environ, "REWARD_MODEL": str(tiny_model_dir), "GRADIO_SERVER_PORT": str(port),
           "GRADIO_SERVER_NAME": "127.0.0.1", "PYTHONUNBUFFERED": "1"}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url, read = f"http://127.0.0.1:{port}", [0]

    def new_lines() -> str:
        text = log.read_text(errors="replace")
        new, read[0] = text[read[0]:], len(text)
        return new

    try:
        deadline = time.monotonic() + 120
        while "share=True" not in log.read_text():  # Gradio's last start-up line
            assert proc.poll() is None and time.monotonic() < deadline, f"the app did not start:\n{log.read_text()}"
            time.sleep(0.2)
        new_lines()
        yield url, new_lines
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.parametrize("token, reason", DAMAGED_LINKS.values(), ids=DAMAGED_LINKS.keys())
def test_a_damaged_or_unusable_link_says_so_once_and_leaves_the_page_usable(browser, logged_app, token, reason):
    from playwright.sync_api import expect

    app_url, new_log_lines = logged_app
    context = browser.new_context()
    outside = []
    try:
        page = context.new_page()
        page.add_init_script(f"({WATCH_FOR_ERRORS})()")
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((app_url, "data:", "blob:"))
                else None)
        page.goto(app_url + "/?c=" + token)
        expect(page.locator("#share-note")).to_contain_text("could not be opened")
        expect(page.locator("#share-note")).to_contain_text(reason)
        assert page.locator("#share-note a, #share-note img").count() == 0
        assert page.locator("#prompt textarea").input_value() == ""
        score(page, PROMPT, RESPONSES[:2])  # the page still works, after anything the link set off has finished
        assert page.evaluate("window.errorsSeen") == []
    finally:
        context.close()
    assert not outside, f"the page reached outside the app: {outside}"
    log = new_log_lines()
    assert "Traceback" not in log and "ERROR" not in log, log


def test_a_link_with_control_characters_typed_in_opens_exactly(browser, app_url):
    """Text pasted into the boxes may hold control characters; the link carries them like any other."""
    from playwright.sync_api import expect

    prompt, responses = "Tabs\tand a bell\x07?", ["An escape \x1b[1mbold\x1b[0m.", "A null \x00 and a delete \x7f."]
    context = browser.new_context()
    try:
        page = context.new_page()
        page.add_init_script(f"({WATCH_FOR_ERRORS})()")
        page.goto(app_url + "/?c=" + tampered(p=prompt, r=responses, s=[0.5, -0.5]))
        expect(page.locator("#share-note")).to_contain_text("Opened from a shared link and scored again")
        assert page.locator("#prompt textarea").input_value() == prompt
        assert [page.locator(f"#response-{i} textarea").input_value() for i in (1, 2)] == responses
        assert page.evaluate("window.errorsSeen") == []
    finally:
        context.close()


def test_a_link_opened_while_the_model_cannot_load_says_why_in_its_note(browser, tmp_path):
    from playwright.sync_api import expect

    from reward.config import Settings
    from tests.conftest import launch_app

    demo, url = launch_app(Settings(model=str(tmp_path / "missing-model"), device="cpu"))
    context = browser.new_context()
    try:
        page = context.new_page()
        page.add_init_script(f"({WATCH_FOR_ERRORS})()")
        page.goto(url + "/?c=" + tampered())
        expect(page.locator("#share-note")).to_contain_text("Opened from a shared link, but not scored")
        expect(page.locator("#share-note")).to_contain_text("Cannot load reward model")
        expect(page.locator("#load-error")).to_contain_text("Cannot load reward model")
        # The comparison stays in the boxes, to score once the model is there.
        assert page.locator("#prompt textarea").input_value() == PROMPT
        assert [page.locator(f"#response-{i} textarea").input_value() for i in (1, 2)] == RESPONSES[:2]
        assert page.evaluate("window.errorsSeen") == []
    finally:
        context.close()
        demo.close()


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
