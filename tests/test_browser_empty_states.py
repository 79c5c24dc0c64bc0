"""No panel on the page is an empty frame: a table with no data (headed "1 2 3"), a plot or highlighted text with
nothing drawn, or a download with no file. Until it has something to show, a panel is hidden or one line says
what to do. Checked in chromium at every step of a visit: fresh, scored, explained, evaluated, cleared."""

import json
import re
import urllib.request

import pytest

pytestmark = pytest.mark.browser

SHOWN_ONLY_WITH_CONTENT = {"dataframe", "nativeplot", "plot", "highlightedtext", "file"}
"""Component types that draw a frame of their own: each must hold something whenever it is visible. (The file
uploads are inputs and are meant to be empty.)"""

EMPTY_FRAMES = """(panels) => {
  const visible = (e) => !!(e && (e.offsetWidth || e.offsetHeight || e.getClientRects().length));
  const problems = [];
  for (const [id, type] of panels) {
    const el = document.getElementById(id);
    if (!visible(el)) continue;
    if (type === "dataframe") {
      const heads = [...el.querySelectorAll("thead th, [role=columnheader]")].map((h) => h.innerText.trim())
        .filter((h) => h);
      if (!heads.length || heads.every((h, i) => h === String(i + 1)))
        problems.push(`${id}: a table with default headers ${JSON.stringify(heads)}`);
    } else if (type === "nativeplot" || type === "plot") {
      if (!el.querySelector("canvas, svg.marks, .vega-embed svg, .js-plotly-plot"))
        problems.push(`${id}: a plot frame with nothing drawn`);
    } else if (type === "highlightedtext") {
      if (![...el.querySelectorAll(".textfield span")].some((span) => span.innerText.trim()))
        problems.push(`${id}: highlighted text with nothing in it`);
    } else if (type === "file") {
      if (!el.querySelector("a[href], [data-testid=file], table, .file-preview"))
        problems.push(`${id}: a download box with no file`);
    }
  }
  return problems;
}"""


@pytest.fixture(scope="module")
def panels(app_url) -> list[tuple[str, str]]:
    return result_panels(app_url)


def result_panels(app_url: str) -> list[tuple[str, str]]:
    """Every result panel of the launched page, from its own config: (elem_id, type)."""
    config = json.load(urllib.request.urlopen(app_url + "/config"))
    found = [(c["props"].get("elem_id"), c["type"]) for c in config["components"]
             if c["type"] in SHOWN_ONLY_WITH_CONTENT
             and (c["type"] != "file" or c["props"].get("interactive") is False)]
    unnamed = [t for i, t in found if not i]
    assert not unnamed, f"every result panel needs an elem_id for this check: {unnamed}"
    assert len(found) >= 12, found  # the ranking, plots, why-* parts, probes, the file tabs' outputs
    return found


def empty_frames(page, panels) -> list[str]:
    return page.evaluate(EMPTY_FRAMES, panels)


def test_the_check_finds_an_empty_frame(page, panels):
    """The check itself: an empty table, plot and highlighted text shown on purpose are each reported."""
    page.evaluate("""() => {
      const probe = (html) => { const d = document.createElement("div"); d.innerHTML = html;
                                document.body.appendChild(d); return d.firstElementChild; };
      probe('<div id="fake-table"><table><thead><tr><th>1</th><th>2</th><th>3</th></tr></thead></table></div>');
      probe('<div id="fake-plot" style="height:50px"><svg width="10" height="10"></svg></div>');
      probe('<div id="fake-text" style="height:50px"><div class="textfield"><span> </span></div></div>');
    }""")
    found = empty_frames(page, [["fake-table", "dataframe"], ["fake-plot", "plot"], ["fake-text", "highlightedtext"]])
    assert len(found) == 3, found


def test_no_panel_is_an_empty_frame_at_any_step(page, panels):
    from playwright.sync_api import expect

    assert empty_frames(page, panels) == [], "on a fresh page"
    expect(page.locator("#ranking-hint")).to_contain_text("press Score")
    expect(page.locator("#ranking")).to_be_hidden()

    page.get_by_role("button", name="AI Ethics (model card)").click()
    page.locator("#score-btn").click()
    expect(page.locator('#ranking [data-testid="cell-1-0"]')).to_have_text("2")
    expect(page.locator("#win-matrix svg.marks, #win-matrix canvas").first).to_be_visible()
    assert empty_frames(page, panels) == [], "right after scoring"
    expect(page.locator("#ranking-hint")).to_be_hidden()
    expect(page.locator("#why-hint")).to_contain_text("Pick a response")
    expect(page.locator("#probes-panel")).to_be_hidden()

    page.locator('#ranking [data-testid="cell-0-1"]').click()  # explain the top response
    expect(page.locator("#why-summary")).to_contain_text(re.compile(r"scores \*?\*?[+-]\d"))
    expect(page.locator("#probes")).to_contain_text("upper-cased")
    expect(page.locator("#why-hint")).to_be_hidden()
    expect(page.locator("#why-prefixes canvas, #why-prefixes svg").first).to_be_visible()  # charts draw a moment late
    assert empty_frames(page, panels) == [], "with a response explained and probed"

    page.locator("#clear-btn").click()
    expect(page.locator("#ranking-hint")).to_be_visible()
    expect(page.locator("#why-panel")).to_be_hidden()
    assert empty_frames(page, panels) == [], "after Clear all"

    for tab, hint in (("Score a file", "#batch-summary"), ("Evaluate", "#eval-summary")):
        page.get_by_role("tab", name=tab).click()
        expect(page.locator(hint)).to_contain_text("appear here")
        assert empty_frames(page, panels) == [], f"on a fresh {tab} tab"
    page.locator("#eval-sample-btn").click()
    expect(page.locator("#eval-summary")).to_contain_text(re.compile(r"Accuracy \d+\.\d% on \d+ pairs"))
    expect(page.locator("#eval-reliability svg.marks, #eval-reliability canvas").first).to_be_visible()
    assert empty_frames(page, panels) == [], "after evaluating the sample pairs"
