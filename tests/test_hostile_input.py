"""Property-based tests: arbitrary text never breaks validation, scoring or ranking."""

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reward.config import Settings
from reward.insight.ranking import plot_frame, rank_responses, ranking_table
from reward.model.requests import InvalidRequest, check_request
from reward.model.reward_model import PairScore
from reward.service import RewardService

# Any unicode, control characters and surrogate-free code points included.
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)
NASTY = st.sampled_from(["", " ", "\x00", "\u202e\u202d", "[SEP]", "[CLS] [PAD] [MASK]", "🙂" * 50,
                         "\r\n\t\x0b\x0c", "a" * 3000, "\ufeff", "ﷺ" * 20, "<script>alert(1)</script>"])
ANY_TEXT = st.one_of(TEXT, NASTY)
LIMITS = Settings(max_responses=8, max_chars=2500)


def assert_valid_ranking(ranked, indices):
    assert [r.rank for r in ranked] == list(range(1, len(ranked) + 1))
    assert sorted(r.index for r in ranked) == sorted(indices)
    finite = [r.score for r in ranked if not math.isnan(r.score)]
    assert finite == sorted(finite, reverse=True)
    for r in ranked:
        assert 0.0 <= r.chance_vs_best <= 0.5 or math.isnan(r.chance_vs_best)


@given(prompt=ANY_TEXT, responses=st.lists(ANY_TEXT, max_size=12))
@settings(max_examples=200, deadline=None)
def test_validation_either_accepts_or_explains(prompt, responses):
    try:
        req = check_request(prompt, responses, LIMITS)
    except InvalidRequest as err:
        assert str(err) and "\n" not in str(err)
        return
    assert req.prompt.strip()
    assert all(text.strip() for text in req.responses)
    assert [responses[i] for i in req.indices] == req.responses


@given(values=st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=False, width=32),
                                 st.sampled_from([0.0, -0.0, 1e30, -1e30])), max_size=20))
def test_ranking_is_always_a_valid_ranking(values):
    scored = [PairScore(v, 1, False) for v in values]
    ranked = rank_responses([str(i) for i in range(len(values))], scored)
    assert_valid_ranking(ranked, range(len(values)))
    assert len(ranking_table(ranked, 512)) == len(values)
    assert plot_frame(ranked)["Response"].is_unique


@given(prompt=ANY_TEXT, responses=st.lists(ANY_TEXT, min_size=1, max_size=6))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_scoring_arbitrary_text_never_raises_anything_but_a_clear_refusal(tiny_settings, prompt, responses):
    service = RewardService(Settings(**{**tiny_settings.__dict__, "max_responses": 8, "max_chars": 2500}))
    try:
        result = service.rank(prompt, responses)
    except InvalidRequest:
        return
    kept = [i for i, t in enumerate(responses) if t.strip()]
    assert_valid_ranking(result.ranked, kept)
    for r in result.ranked:
        assert math.isfinite(r.score)
        assert 2 <= r.tokens <= 512


@pytest.mark.parametrize("text", ["\x00" * 100, "\u202e" + "evil" * 500, "🙂" * 2000, "\ud7ff" * 10, "a\u0000b"])
def test_hostile_strings_through_the_api(client, text):
    records = client.predict(text if text.strip() else "Why?", [text, "plain"], api_name="/score")
    assert sorted(r["rank"] for r in records) == list(range(1, len(records) + 1))
