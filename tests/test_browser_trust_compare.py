"""The Compare tab's trust features: the win matrix and the probes in a real browser, and the card check
(shown only for the card's own model and texts: the pure rule here, absent on the tiny model in the browser)."""

import re

import pytest

CHART = '#win-matrix [data-testid="altair"] canvas'
"""The win matrix's Vega canvas (the block's label has an icon of its own, so no bare "svg")."""

from reward.config import Settings
from reward.insight.probes import KINDS, against
from reward.service import RewardService
from tests.conftest import ARTIFACTS
from tests.reference import assert_scores_close
from ui.compare.examples import CARD_AGREES_WITHIN, load_example_sets
from ui.compare.examples import card_check as check

EXAMPLES = load_example_sets()
[CARD] = [ex for ex in EXAMPLES if ex.card_scores]
PUBLISHED = {"Good Response": 4.777, "Bad Response": -11.582}  # the model card's Usage section


# -- the card check's rule (pure: a real ModelInfo, the real example texts, made-up live scores) --------------

@pytest.fixture(scope="module")
def card_model_info():
    # The app's settings for the card's model, described without loading it (describe() reads the settings).
    return RewardService(Settings()).describe()


def test_the_card_example_carries_the_cards_published_scores():
    assert dict(zip(CARD.labels, CARD.card_scores)) == PUBLISHED
    assert CARD.prompt == "Why is AI Ethics important?"


def test_the_card_model_on_the_card_texts_shows_each_score_and_whether_it_agrees(card_model_info):
    assert card_model_info.is_card_model
    good, bad = CARD.responses
    live = {good: 4.7771, bad: -11.582 + 2 * CARD_AGREES_WITHIN}  # the bad one off by twice the tolerance
    rows = check(card_model_info, EXAMPLES, CARD.prompt, [(bad, live[bad]), (good, live[good])])
    assert [(r.label, r.published, r.live) for r in rows] == [
        ("Good Response", 4.777, live[good]), ("Bad Response", -11.582, live[bad])]
    assert [r.agrees for r in rows] == [abs(live[good] - 4.777) <= CARD_AGREES_WITHIN,
                                        abs(live[bad] + 11.582) <= CARD_AGREES_WITHIN]
    assert [r.agrees for r in rows] == [True, False]
    # Other responses scored alongside do not hide the check.
    assert len(check(card_model_info, EXAMPLES, CARD.prompt, [(good, 4.7), (bad, -11.5), ("Another.", 0.0)])) == 2


def test_nothing_is_shown_for_other_texts_or_another_model(card_model_info, tiny_settings):
    good, bad = CARD.responses
    scores = [(good, 4.777), (bad, -11.582)]
    assert check(card_model_info, EXAMPLES, CARD.prompt + " ", scores) == []           # another prompt
    assert check(card_model_info, EXAMPLES, CARD.prompt, scores[:1]) == []             # one card response missing
    assert check(card_model_info, EXAMPLES, CARD.prompt, [(good + " ", 4.777), (bad, -11.582)]) == []  # edited
    tiny = RewardService(tiny_settings).describe()
    assert not tiny.is_card_model and check(tiny, EXAMPLES, CARD.prompt, scores) == []
    assert check(RewardService(Settings(revision="main")).describe(), EXAMPLES, CARD.prompt, scores)  # same model


# -- in the browser, on the tiny model ------------------------------------------------------------------------

def save_trust_picture(page):
    """The README's picture: the ranking with its win matrix above the probes panel, two parts of one page at one
    moment (the Why this score panel lies between them), saved as tests/artifacts/trust.png."""
    from PIL import Image

    page.locator("#ranking").scroll_into_view_if_needed()
    scrolled = page.evaluate("window.scrollY")  # boxes are measured from the viewport, clips from the page
    top = page.locator("#ranking").bounding_box()
    bottom = page.locator("#win-matrix").bounding_box()
    parts = [ARTIFACTS / "trust-matrix.png", ARTIFACTS / "trust-probes.png"]
    page.screenshot(path=str(parts[0]), full_page=True,
                    clip={"x": top["x"] - 8, "y": top["y"] + scrolled - 8, "width": top["width"] + 16,
                          "height": bottom["y"] + bottom["height"] - top["y"] + 16})
    page.locator("#probes-panel").screenshot(path=str(parts[1]))
    images = [Image.open(p) for p in parts]
    picture = Image.new("RGB", (max(i.width for i in images), sum(i.height for i in images) + 12), "white")
    picture.paste(images[0], (0, 0))
    picture.paste(images[1], (0, images[0].height + 12))
    picture.save(ARTIFACTS / "trust.png")


def test_win_matrix_probes_and_no_card_check_on_the_tiny_model(page, client):
    from playwright.sync_api import expect

    page.get_by_role("button", name="AI Ethics (model card)").click()
    expect(page.locator("#prompt textarea")).to_have_value(CARD.prompt)
    page.locator("#score-btn").click()
    expect(page.locator('#ranking [data-testid="cell-1-0"]')).to_have_text("2")
    expect(page.locator(CHART).first).to_be_visible()
    expect(page.locator("#card-check")).to_be_hidden()  # the tiny model is not the card's

    # Pick the Bad Response (Response 2): its probes come with the explanation.
    labels = [page.locator(f'#ranking [data-testid="cell-{i}-1"]').inner_text() for i in range(2)]
    row = [label.strip() for label in labels].index("Response 2")
    page.locator(f'#ranking [data-testid="cell-{row}-1"]').click()
    expect(page.locator("#probes-panel")).to_be_visible()
    expected = client.predict(CARD.prompt, CARD.responses[1], api_name="/probe")
    cells = page.locator('#probes [data-testid$="-0"][role="gridcell"]')
    expect(page.locator('#probes [data-testid="cell-0-0"]')).to_have_text("original")
    expect(cells).to_have_count(len(expected))
    names = [c.strip() for c in cells.all_inner_texts()]
    assert names == [r["probe"] for r in expected]
    assert set(names) == {"original", *KINDS}  # the Bad Response has two sentences: no probe skipped
    # The page's probes and the API's are scored apart: the shown figures match to their last decimal.
    scores = [r["score"] for r in expected]
    for i, r in enumerate(expected):
        change = page.locator(f'#probes [data-testid="cell-{i}-1"]').inner_text().strip()
        if i == 0:
            assert change == "—"
        else:
            assert re.fullmatch(r"[+-]\d+\.\d{3}", change), change
            assert_scores_close(float(change), r["change"], scale=scores, decimals=3)
        assert_scores_close(float(page.locator(f'#probes [data-testid="cell-{i}-2"]').inner_text()), r["score"],
                            scale=scores, decimals=3)
        flag = page.locator(f'#probes [data-testid="cell-{i}-4"]').inner_text().strip()
        assert flag == (f"⚠ {against(r['probe'], r['change'])}" if against(r["probe"], r["change"]) else "")
    flagged = sum(bool(against(r["probe"], r["change"])) for r in expected)
    expect(page.locator("#probes-note")).to_contain_text(
        f"{flagged} of {len(expected) - 1} probes" if flagged else "None of the")
    save_trust_picture(page)

    page.locator("#clear-btn").click()
    expect(page.locator("#probes-panel")).to_be_hidden()
    expect(page.locator(CHART)).to_have_count(0)


def test_a_one_sentence_answer_says_which_probes_were_skipped(page):
    from playwright.sync_api import expect

    page.get_by_role("button", name="Explain to a child").click()
    expect(page.locator("#prompt textarea")).not_to_have_value("")
    page.locator("#score-btn").click()
    expect(page.locator(CHART).first).to_be_visible()
    page.locator("#why-picker input").click()
    page.get_by_role("option", name=re.compile(r"Response 3 \(")).click()  # "Plants eat sunlight."
    expect(page.locator("#probes-note")).to_contain_text("Skipped: first half")
    expect(page.locator('#probes [data-testid$="-0"][role="gridcell"]')).to_have_count(1 + len(KINDS) - 2)
