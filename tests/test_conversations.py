"""A prompt that is a conversation: read from messages or text, flattened exactly as Evaluate flattens a dialogue,
scored exactly as the card's code scores the flattened text, refused in one line when malformed, and inspected
turn by turn for what truncation cut."""

import pandas as pd
import pytest
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from reward.config import Settings
from reward.insight.conversation import (
    check_chat,
    flatten_conversation,
    inspect_conversation,
    looks_like_conversation,
    read_conversation,
)
from reward.jobs.pairs import prepare_pairs, split_dialogues
from reward.model.requests import InvalidRequest
from reward.model.reward_model import load_reward_model
from reward.service import RewardService
from tests.reference import assert_scores_close, card_score

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": " Paris is the capital and largest city of France.\n"},
    {"role": "user", "content": "Why is AI Ethics important?"},
]
TEXT = ("System: You are a helpful assistant.\nUser: What is the capital of France?\n"
        "Assistant: Paris is the capital and largest city of France.\n\nHuman: Why is AI Ethics important?")
RESPONSES = ["AI Ethics matters because AI systems affect people's lives.", "Who cares?", "  ", "I don't know. 🙂"]


@pytest.fixture(scope="module")
def card_parts(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir), AutoModelForSequenceClassification.from_pretrained(
        tiny_model_dir).eval()


def test_both_forms_read_to_the_same_messages_and_flatten_hh_style():
    from_list, from_text = read_conversation(MESSAGES), read_conversation(TEXT)
    assert [m["role"] for m in from_list] == ["system", "user", "assistant", "user"]
    assert [(m["role"], m["content"].strip()) for m in from_list] == [(m["role"], m["content"]) for m in from_text]
    flat = flatten_conversation(from_list)
    assert flat == flatten_conversation(from_text) == (
        "System: You are a helpful assistant.\n\nHuman: What is the capital of France?\n\nAssistant: Paris is the "
        "capital and largest city of France.\n\nHuman: Why is AI Ethics important?")
    assert flatten_conversation([{"role": "user", "content": "  Just a question?\n"}]) == "Just a question?"
    assert looks_like_conversation(TEXT) and looks_like_conversation("\n\nHuman: hi")
    assert not looks_like_conversation("What is 2 + 2?") and not looks_like_conversation("Note\nUser: hi")


def test_a_chatbot_value_reads_as_its_text():
    """What a Gradio 6 chatbot hands a handler: content as a list of text parts, with metadata and options."""
    chatbot = [{"role": m["role"], "metadata": None, "content": [{"text": m["content"], "type": "text"}],
                "options": None} for m in MESSAGES]
    assert read_conversation(chatbot) == read_conversation(MESSAGES)


def test_the_prompt_is_flattened_exactly_as_evaluate_flattens_a_dialogue():
    history, last = MESSAGES, {"role": "assistant", "content": "An answer."}
    other = {"role": "assistant", "content": "Another answer."}
    pairs = prepare_pairs(pd.DataFrame({"chosen": [[*history, last]], "rejected": [[*history, other]]}))
    assert pairs.layout == "messages"
    assert pairs.frame["prompt"].tolist() == [flatten_conversation(read_conversation(MESSAGES))]
    # HH-RLHF dialogues: the text form of the same turns gives the prompt split off the dialogue.
    dialogue = "\n\nHuman: What is the capital of France?\n\nAssistant: Paris.\n\nHuman: And of Spain?"
    prompt, _, _ = split_dialogues(dialogue + "\n\nAssistant: Madrid.", dialogue + "\n\nAssistant: Lisbon.")
    assert flatten_conversation(read_conversation(dialogue)) == prompt


def test_rank_chat_scores_exactly_as_the_card_scores_the_flattened_text(tiny_settings, card_parts, score_scale):
    service = RewardService(tiny_settings)
    for conversation in (MESSAGES, TEXT):
        result = service.rank_chat(conversation, RESPONSES)
        flat = flatten_conversation(read_conversation(conversation))
        assert [r.index for r in sorted(result.ranked, key=lambda r: r.index)] == [0, 1, 3], "blank ones dropped"
        for r in result.ranked:
            score, tokens = card_score(*card_parts, flat, RESPONSES[r.index])
            assert_scores_close(r.score, score, scale=score_scale)
            assert r.tokens == tokens
        same = service.rank(flat, RESPONSES)  # the same batcher: /score on the flattened text, to the bit
        assert [(r.index, r.score) for r in same.ranked] == [(r.index, r.score) for r in result.ranked]
    assert service.check_chat(MESSAGES, RESPONSES).prompt == flatten_conversation(read_conversation(MESSAGES))


BAD = [
    (None, r"^The conversation must be a list of \{\"role\", \"content\"\} messages, or text .* not null\.$", None),
    ({"role": "user", "content": "hi"}, r"not an object\.$", None),
    (42, r"not a number\.$", None),
    ([], r"^The conversation is empty", None),
    ("   \n", r"^The conversation is empty", None),
    ("What is 2 + 2?", r"^The conversation text has no turns: start each turn on a new line with \"User:\"", None),
    ('[{"role": "user", "content": "hi"}]', r"send the messages themselves as a list, not as JSON text\.$", None),
    ("Hello.\nUser: hi", r"^The conversation text has text before its first turn", 0),
    (["hi"], r"^Turn 1 of the conversation must be a \{\"role\", \"content\"\} object, not text\.$", 0),
    ([{"role": "user", "content": "a"}, {"content": "b"}], r"^Turn 2 of the conversation has no \"role\"", 1),
    ([{"role": "user"}], r"^Turn 1 of the conversation has no \"content\"", 0),
    ([{}], r"has no \"role\" and no \"content\"", 0),
    ([{"role": "tool", "content": "x"}], r"^Turn 1 of the conversation has the role \"tool\": use \"user\", "
                                         r"\"assistant\" or \"system\"\.$", 0),
    ([{"role": None, "content": "x"}], r"has the role null", 0),
    ([{"role": "user", "content": 3}], r"^Turn 1 of the conversation has content that is not text \(a number\)", 0),
    ([{"role": "user", "content": None}], r"content that is not text \(null\)", 0),
    ([{"role": "user", "content": [{"type": "image", "url": "x.png"}]}], r"content that is not text \(a list\)", 0),
    ([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
     r"^The conversation's last turn \(turn 2\) is the assistant's: the responses answer the last turn, so it must "
     r"be the user's\.", 1),
    ("User: a\nSystem: be brief", r"last turn \(turn 2\) is the system's", 1),
    ([{"role": "user", "content": "a"}, {"role": "user", "content": " \n"}],
     r"^The conversation's last turn \(turn 2, the user's\) is blank", 1),
    ([{"role": "user", "content": "ok \ud83d"}], r"^Turn 1 of the conversation has a broken character at position 4", 0),
]


@pytest.mark.parametrize("value, says, index", BAD)
def test_a_bad_conversation_is_refused_in_one_line(value, says, index):
    with pytest.raises(InvalidRequest, match=says) as info:
        read_conversation(value)
    assert info.value.field == "messages" and info.value.index == index
    assert "\n" not in str(info.value)


def test_the_flattened_conversation_has_the_limits_of_a_prompt(tmp_path):
    settings = Settings(model=str(tmp_path / "no-model"), max_chars=60, max_responses=2)
    turns = [{"role": "user", "content": "a" * 25}, {"role": "assistant", "content": "b" * 25},
             {"role": "user", "content": "c"}]
    n = len(flatten_conversation(turns))
    assert n > 60 >= len(flatten_conversation(turns[1:])), "each turn is short; the flattened whole is not"
    with pytest.raises(InvalidRequest, match=rf"^The prompt is {n} characters long; the limit is 60\..*\(Here the "
                                             r"prompt is the whole conversation, flattened to one text") as info:
        read_conversation(turns, settings)
    assert info.value.field == "messages"
    assert read_conversation(turns[1:], settings)[-1]["content"] == "c"
    service = RewardService(settings)  # refused before any model is loaded (there is none to load)
    with pytest.raises(InvalidRequest, match=f"{n} characters"):
        service.rank_chat(turns, ["x"])
    with pytest.raises(InvalidRequest, match="3 responses were sent; the limit is 2"):
        service.rank_chat(turns[1:], ["x", "y", "z"])
    with pytest.raises(InvalidRequest, match="Every response is blank"):
        check_chat(turns[1:], [" "], settings)


# -- what truncation cut --------------------------------------------------------------------------------------------


def expected_reads(tokenizer, flat_pieces: list[str], prompt: str, response: str, max_length: int) -> list[int]:
    """Tokens read of each turn, from the card's own truncated encoding, counted with a plain loop: the prompt's
    tokens are each turn's in order ("\\n\\n" between turns is no token), and the card keeps the first ones."""
    encoded = tokenizer(prompt, response, truncation=True, max_length=max_length, return_token_type_ids=False)
    kept = encoded.sequence_ids().count(0)
    reads = []
    for piece in flat_pieces:
        total = len(tokenizer(piece, add_special_tokens=False)["input_ids"])
        reads.append(max(0, min(total, kept)))
        kept -= reads[-1]
    return reads


def test_the_inspector_says_which_turns_truncation_cut(tiny_model_dir):
    max_length = 48
    model = load_reward_model(tiny_model_dir, device="cpu", max_length=max_length)
    tokenizer = model.tokenizer
    turns = [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "How do I bake bread?"},
        {"role": "assistant", "content": "Mix flour, water, salt and yeast, knead, let it rise, then bake."},
        {"role": "user", "content": "Explain photosynthesis to a child."},
        {"role": "assistant", "content": "Plants use sunlight to turn air and water into food."},
        {"role": "user", "content": "And why is AI Ethics important?"},
    ]
    responses = ["Who cares?", "", "The field of AI Ethics delves deeply into the ethical considerations that arise "
                                   "with respect to AI systems, and why they matter to people."]
    seen = inspect_conversation(model, turns, responses)
    prompt = flatten_conversation(turns)
    pieces = [f"{name}: {t['content']}" for name, t in zip(
        ["System", "Human", "Assistant", "Human", "Assistant", "Human"], turns)]
    assert seen.prompt == prompt == "\n\n".join(pieces) and seen.max_length == max_length
    assert [t.turn for t in seen.turns] == [1, 2, 3, 4, 5, 6] and [t.text for t in seen.turns] == [
        t["content"] for t in turns]
    assert [r.index for r in seen.responses] == [0, 2], "a blank response is not scored, so not inspected"
    for k, response in enumerate(r for r in responses if r):
        reads = expected_reads(tokenizer, pieces, prompt, response, max_length)
        assert [t.read[k] for t in seen.turns] == reads
        card = tokenizer(prompt, response, truncation=True, max_length=max_length, return_token_type_ids=False)
        assert seen.responses[k].tokens == len(card["input_ids"]) == max_length
        assert seen.responses[k].prompt_read == sum(reads) and seen.responses[k].truncated
    totals = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in pieces]
    assert [t.tokens for t in seen.turns] == totals
    assert seen.responses[0].prompt_tokens == sum(totals)
    # The latest turns go first: the earliest is read whole, the question the responses answer is not read at all.
    assert not seen.turns[0].cut and seen.turns[-1].dropped and seen.turns[-1].cut
    assert any(0 < r < t.tokens for t in seen.turns for r in t.read), "one turn read in part"
    data = seen.as_dict()
    assert data["turns"][-1] == {"turn": 6, "role": "user", "text": turns[-1]["content"], "tokens": totals[-1],
                                 "read": [0, 0], "cut": True, "dropped": True}
    assert set(data["responses"][0]) == {"index", "tokens", "prompt_tokens", "prompt_read", "response_tokens",
                                         "response_read", "truncated"}


def test_the_inspector_of_a_short_conversation_reads_everything(tiny_settings):
    service = RewardService(tiny_settings)
    seen = service.inspect_chat(TEXT, RESPONSES)
    assert seen.prompt == flatten_conversation(read_conversation(TEXT))
    assert [r.index for r in seen.responses] == [0, 1, 3]
    assert all(t.read == [t.tokens] * 3 and not t.cut for t in seen.turns)
    assert all(not r.truncated for r in seen.responses)
    ranked = {r.index: r.tokens for r in service.rank_chat(TEXT, RESPONSES).ranked}
    assert {r.index: r.tokens for r in seen.responses} == ranked
