"""Conversations: /score_chat through gradio_client and MCP, and a conversation typed as the Compare tab's prompt,
scored exactly as the model card's code scores the flattened text."""

import re

import pytest
from gradio_client.exceptions import ValidationError

from reward.insight.conversation import flatten_conversation
from tests.reference import assert_scores_close, card_score

MESSAGES = [{"role": "user", "content": "I want to learn to cook."},
            {"role": "assistant", "content": "Great! Do you like Italian food?"},
            {"role": "user", "content": "Yes. What should I make first?"}]
RESPONSES = ["Start with a simple tomato pasta: it needs few ingredients and teaches timing.",
             "Cooking is hard. Order pizza."]
AS_TEXT = ("User: I want to learn to cook.\nAssistant: Great! Do you like Italian food?\n"
           "User: Yes. What should I make first?")


@pytest.fixture(scope="module")
def card(tiny_model_dir):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir), AutoModelForSequenceClassification.from_pretrained(
        tiny_model_dir).eval()


def test_score_chat_is_the_card_on_the_flattened_text(client, card, score_scale):
    flat = flatten_conversation(MESSAGES)
    assert flat.startswith("Human: I want to learn to cook.\n\nAssistant: Great!")
    ranked = client.predict(MESSAGES, RESPONSES, api_name="/score_chat")
    by_index = {r["index"]: r["score"] for r in ranked}
    assert_scores_close([by_index[0], by_index[1]], [card_score(*card, flat, r)[0] for r in RESPONSES],
                        scale=score_scale)
    # The same as /score on the flattened text, record for record.
    plain = client.predict(flat, RESPONSES, api_name="/score")
    assert [(r["index"], r["rank"], r["tokens"]) for r in ranked] == [(r["index"], r["rank"], r["tokens"])
                                                                     for r in plain]


@pytest.mark.parametrize("messages, says", [
    ("not a list of turns", "Response"),  # text is read as turns: without a prefix it is refused
    ([], "empty"),
    ([{"role": "user"}], "content"),
    ([{"role": "robot", "content": "hi"}], "robot"),
    ([{"role": "user", "content": 5}], "text"),
    ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], "last"),
], ids=["text without turns", "empty", "no content", "unknown role", "not text", "assistant last"])
def test_bad_conversations_are_refused_on_the_messages(client, messages, says):
    with pytest.raises(ValidationError) as err:
        client.predict(messages, RESPONSES, api_name="/score_chat")
    message = str(err.value)
    assert "- messages:" in message and "Traceback" not in message


def test_a_conversation_typed_on_the_compare_tab(page, client, card, score_scale):
    from playwright.sync_api import expect

    page.locator("#prompt textarea").fill(AS_TEXT)
    page.locator("#response-1 textarea").fill(RESPONSES[0])
    page.locator("#response-2 textarea").fill(RESPONSES[1])
    page.locator("#score-btn").click()
    expect(page.locator('#ranking [data-testid="cell-1-0"]')).to_have_text("2", timeout=30_000)
    expect(page.locator("#conversation")).to_be_visible()
    expect(page.locator("#conversation-note")).to_contain_text("3 turns")
    flat = flatten_conversation(MESSAGES)
    expect(page.locator("#conversation-flattened")).to_contain_text("Human: Yes. What should I make first?")
    expect(page.locator('#conversation-turns [data-testid$="-0"][role="gridcell"]')).to_have_count(3)
    shown = {}
    for i in range(2):
        label = page.locator(f'#ranking [data-testid="cell-{i}-1"]').inner_text().strip()
        score = page.locator(f'#ranking [data-testid="cell-{i}-2"]').inner_text()
        shown[int(label.split()[-1]) - 1] = float(re.search(r"[+-]?\d+\.\d+", score).group())
    assert_scores_close([shown[0], shown[1]], [card_score(*card, flat, r)[0] for r in RESPONSES],
                        scale=score_scale, decimals=3)
    # A plain prompt hides the panel again.
    page.locator("#prompt textarea").fill("What should I cook first?")
    page.locator("#score-btn").click()
    expect(page.locator("#conversation")).to_be_hidden()
