"""A real person's journey in Debian's chromium against the launched app.

In CI (CI=true) a missing browser fails the run; elsewhere it skips.
"""

import re

import pytest

from tests.conftest import ARTIFACTS
from tests.reference import assert_scores_close

pytestmark = pytest.mark.browser


def ranked_labels(page, rows: int) -> list[str]:
    return [page.locator(f'#ranking [data-testid="cell-{r}-1"]').inner_text().strip() for r in range(rows)]


def test_score_three_responses_and_see_the_ranking_and_chart(page, client, score_scale):
    from playwright.sync_api import expect

    prompt = "What is the capital of Australia?"
    responses = ["The capital of Australia is Canberra.", "Sydney.", "Look it up yourself."]
    page.locator("#prompt textarea").fill(prompt)
    page.locator("#response-1 textarea").fill(responses[0])
    page.locator("#response-2 textarea").fill(responses[1])
    expect(page.locator("#response-3")).to_be_hidden()
    page.locator("#add-btn").click()
    page.locator("#response-3 textarea").fill(responses[2])
    page.locator("#score-btn").click()

    expect(page.locator('#ranking [data-testid="cell-2-0"]')).to_have_text("3")
    api = client.predict(prompt, responses, api_name="/score")
    assert ranked_labels(page, 3) == [f"Response {r['index'] + 1}" for r in api]
    reward_cells = [page.locator(f'#ranking [data-testid="cell-{r}-2"]').inner_text() for r in range(3)]
    assert_scores_close([float(c) for c in reward_cells], [r["score"] for r in api], decimals=3, scale=score_scale)

    chart = page.locator("#reward-plot")
    expect(chart.locator("canvas, svg").first).to_be_visible()
    expect(page.locator("#model-info")).to_contain_text(re.compile(r"Last scoring \d+ ms for 3 responses"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "journey.png"), full_page=True)


def test_model_card_example_loads_with_one_click_and_scores_with_the_keyboard(page):
    from playwright.sync_api import expect

    page.get_by_role("button", name="AI Ethics (model card)").click()
    expect(page.locator("#prompt textarea")).to_have_value("Why is AI Ethics important?")
    expect(page.locator("#response-1 textarea")).to_have_value(re.compile(r"^The field of AI Ethics delves deeply"))
    expect(page.locator("#response-2 textarea")).to_have_value(re.compile(r"^Who cares about AI Ethics\?"))
    expect(page.locator("#response-3")).to_be_hidden()
    page.locator("#prompt textarea").press("Control+Enter")
    expect(page.locator('#ranking [data-testid="cell-1-0"]')).to_have_text("2")


def test_bad_input_shows_a_message_at_the_box_to_fix_and_keeps_what_was_typed(page):
    from playwright.sync_api import expect

    page.locator("#response-1 textarea").fill("An answer without a question")
    page.locator("#score-btn").click()
    expect(page.locator("#prompt")).to_contain_text("The prompt is empty")
    expect(page.locator("#response-1 textarea")).to_have_value("An answer without a question")

    page.locator("#prompt textarea").fill("Why?")
    too_long = "x" * 20_001
    page.locator("#response-2 textarea").fill(too_long)
    page.locator("#score-btn").click()
    expect(page.locator("#response-2")).to_contain_text("Response 2 is 20,001 characters long")
    expect(page.locator("#prompt")).not_to_contain_text("The prompt is empty")
    expect(page.locator("#response-2 textarea")).to_have_value(too_long)

    page.locator("#response-2 textarea").fill("A short answer")
    page.locator("#score-btn").click()
    expect(page.locator('#ranking [data-testid="cell-1-1"]')).to_be_visible()
    expect(page.locator("#response-2")).not_to_contain_text("characters long")


def test_responses_can_be_added_up_to_the_page_limit_and_removed(page):
    from playwright.sync_api import expect

    from reward.config import PAGE_RESPONSE_BOXES

    for n in range(3, PAGE_RESPONSE_BOXES + 1):
        page.locator("#add-btn").click()
        expect(page.locator(f"#response-{n}")).to_be_visible()
    expect(page.locator(f"#response-{PAGE_RESPONSE_BOXES}")).to_be_visible()
    page.locator(f"#response-{PAGE_RESPONSE_BOXES} textarea").fill("last one")
    page.locator("#remove-btn").click()
    expect(page.locator(f"#response-{PAGE_RESPONSE_BOXES}")).to_be_hidden()
    page.locator("#add-btn").click()
    expect(page.locator(f"#response-{PAGE_RESPONSE_BOXES} textarea")).to_have_value("")


def test_phone_layout_shows_everything_in_one_column(browser, app_url):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    page.goto(app_url)
    page.get_by_role("button", name="Capital of Australia").click()
    expect(page.locator("#prompt textarea")).not_to_have_value("")  # the example is in before Score is pressed
    page.locator("#score-btn").click()
    expect(page.locator('#ranking [data-testid="cell-2-0"]')).to_have_text("3")
    expect(page.locator("#reward-plot").locator("canvas, svg").first).to_be_visible()
    expect(page.locator('#ranking [data-testid="cell-0-5"]')).to_be_hidden()  # the text preview gives way
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= 390 + 1, f"the page scrolls sideways on a phone ({page_width}px wide)"
    page.screenshot(path=str(ARTIFACTS / "phone.png"), full_page=True)
    context.close()


def test_batch_tab_scores_an_uploaded_file(page, tmp_path):
    from playwright.sync_api import expect

    src = tmp_path / "qa.csv"
    src.write_text('question,answer\n"Why?","Because."\n"What is 2+2?","4"\n"Capital of France?","Paris."\n')
    page.get_by_role("tab", name="Score a file").click()
    page.locator("#batch-file input[type=file]").set_input_files(str(src))
    expect(page.locator("#batch-prompt-column input")).to_have_value("question")
    expect(page.locator("#batch-response-column input")).to_have_value("answer")
    page.locator("#batch-btn").click()
    expect(page.locator("#batch-summary")).to_contain_text("Scored 3 rows")
    link = page.locator("#batch-download a").first
    expect(link).to_have_attribute("href", re.compile(r"qa\.scored\.csv$"))
    import io
    import urllib.request

    import pandas as pd

    with urllib.request.urlopen(link.get_attribute("href"), timeout=20) as r:
        scored = pd.read_csv(io.BytesIO(r.read()))
    assert scored["question"].tolist() == ["Why?", "What is 2+2?", "Capital of France?"]
    assert {"score", "tokens", "truncated"} <= set(scored.columns)
    expect(page.locator('#batch-preview [data-testid="cell-2-0"]')).to_have_text("Capital of France?")
    expect(page.locator("#batch-histogram").locator("canvas, svg").first).to_be_visible()


def test_evaluate_tab_runs_the_sample_pairs_with_one_click(page):
    from playwright.sync_api import expect

    page.get_by_role("tab", name="Evaluate", exact=True).click()
    page.locator("#eval-sample-btn").click()
    expect(page.locator("#eval-summary")).to_contain_text(re.compile(r"Accuracy \d+\.\d% on \d+ pairs"))
    expect(page.locator("#eval-download a").first).to_have_attribute("href",
                                                                    re.compile(r"sample_pairs\.evaluated\.jsonl$"))
    expect(page.locator('#eval-worst [data-testid="cell-0-0"]')).to_be_attached()
    page.screenshot(path=str(ARTIFACTS / "evaluate.png"), full_page=True)


def open_why_for_the_bad_response(page):
    """Score the card's example, then click the Bad Response (Response 2) row of the ranking."""
    from playwright.sync_api import expect

    page.get_by_role("button", name="AI Ethics (model card)").click()
    expect(page.locator("#prompt textarea")).to_have_value("Why is AI Ethics important?")
    page.locator("#score-btn").click()
    expect(page.locator('#ranking [data-testid="cell-1-0"]')).to_have_text("2")
    row = ranked_labels(page, 2).index("Response 2")
    page.locator(f'#ranking [data-testid="cell-{row}-1"]').click()
    expect(page.locator("#why-panel")).to_be_visible()
    expect(page.locator("#why-picker input")).to_have_value(re.compile(r"Response 2 \("))


def test_why_this_score_explains_the_bad_response(page, client, score_scale):
    from playwright.sync_api import expect

    open_why_for_the_bad_response(page)
    bad = "Who cares about AI Ethics? It's just a bunch of whining about humans making and using AI and bitching " \
          "about what the machines do."
    explained = client.predict("Why is AI Ethics important?", bad, api_name="/explain")
    spans = page.locator('#why-sentences [data-testid="highlighted-text:textfield"] .text')
    expect(spans).to_have_count(len(explained["parts"]))
    assert [t.strip() for t in spans.all_inner_texts()] == [s["text"].strip() for s in explained["parts"]]
    effects = [page.locator(f'#why-effects [data-testid="cell-{i}-2"]').inner_text() for i in range(len(spans.all()))]
    # The page's explanation and the API's are computed apart: the shown effects match to their last decimal.
    assert_scores_close([float(e) for e in effects], [s["effect"] for s in explained["parts"]], decimals=3,
                        scale=score_scale)
    expect(page.locator("#why-prefixes").locator("canvas, svg").first).to_be_visible()
    expect(page.locator("#why-tokens")).to_contain_text("[CLS]")
    expect(page.locator("#why-token-note")).to_contain_text(f"{len(explained['tokens'])} tokens")
    expect(page.locator("#why-attribution")).to_be_hidden()
    page.locator("#why-attribute-btn").click()
    expect(page.locator("#why-attribution")).to_be_visible()
    expect(page.locator("#why-attribution-note")).to_contain_text("off by")
    page.locator("#why-panel").screenshot(path=str(ARTIFACTS / "why.png"))


def test_why_this_score_reads_on_a_phone(browser, app_url):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    page.goto(app_url)
    open_why_for_the_bad_response(page)
    from playwright.sync_api import expect

    expect(page.locator("#why-sentences .text").first).to_be_visible()
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= 390 + 1, f"the page scrolls sideways on a phone ({page_width}px wide)"
    page.locator("#why-panel").screenshot(path=str(ARTIFACTS / "why-phone.png"))
    context.close()


def test_clear_all_empties_the_page_and_closes_the_why_panel(page):
    from playwright.sync_api import expect

    open_why_for_the_bad_response(page)
    page.locator("#clear-btn").click()
    expect(page.locator("#why-panel")).to_be_hidden()
    expect(page.locator("#prompt textarea")).to_have_value("")
    expect(page.locator('#ranking [data-testid="cell-0-0"]')).to_have_count(0)
    page.get_by_role("button", name="Capital of Australia").click()
    expect(page.locator("#prompt textarea")).not_to_have_value("")
    page.locator("#score-btn").click()  # the page still works after clearing
    expect(page.locator('#ranking [data-testid="cell-0-0"]')).to_have_text("1")
    expect(page.locator("#why-panel")).to_be_visible()


def test_a_one_sentence_answer_gets_no_empty_chart(page):
    from playwright.sync_api import expect

    page.get_by_role("button", name="Explain to a child").click()
    expect(page.locator("#prompt textarea")).not_to_have_value("")
    page.locator("#score-btn").click()
    expect(page.locator('#ranking [data-testid="cell-0-0"]')).to_have_text("1")
    page.locator("#why-picker input").click()
    page.get_by_role("option", name=re.compile(r"Response 3 \(")).click()  # "Plants eat sunlight."
    expect(page.locator("#why-summary")).to_contain_text("nothing to unfold")
    expect(page.locator("#why-prefixes")).to_be_hidden()
    page.locator("#why-picker input").click()
    page.get_by_role("option", name=re.compile(r"Response 1 \(")).click()  # several sentences
    expect(page.locator("#why-prefixes").locator("canvas, svg").first).to_be_visible()
