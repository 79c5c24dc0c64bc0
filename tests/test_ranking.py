"""Ranking, table and chart data from made-up scores: pure logic, no model."""

import math

import pytest

from reward.insight.ranking import TABLE_COLUMNS, plot_frame, rank_responses, ranking_table, sigmoid
from reward.model.reward_model import PairScore


def scores(*values, tokens=10, truncated=False):
    return [PairScore(v, tokens, truncated) for v in values]


def test_best_first_and_ranks_from_one():
    ranked = rank_responses(["a", "b", "c"], scores(0.5, 2.0, -1.0))
    assert [r.response for r in ranked] == ["b", "a", "c"]
    assert [r.rank for r in ranked] == [1, 2, 3]
    assert [r.index for r in ranked] == [1, 0, 2]


def test_equal_scores_keep_input_order():
    ranked = rank_responses(["first", "second", "third", "fourth"], scores(1.0, 3.0, 1.0, 1.0))
    assert [r.response for r in ranked] == ["second", "first", "third", "fourth"]


def test_indices_refer_to_the_callers_list():
    # Blank responses at 0 and 2 were dropped before scoring.
    ranked = rank_responses(["x", "y"], scores(-1.0, 1.0), indices=[1, 3])
    assert [(r.response, r.index) for r in ranked] == [("y", 3), ("x", 1)]


def test_chance_against_the_top_is_the_sigmoid_of_the_gap():
    ranked = rank_responses(["a", "b", "c"], scores(4.777, -11.582, 3.777))
    assert ranked[0].chance_vs_best == 0.5
    assert ranked[1].chance_vs_best == pytest.approx(1 / (1 + math.exp(1.0)))
    assert ranked[2].chance_vs_best == pytest.approx(1 / (1 + math.exp(4.777 + 11.582)))


def test_sigmoid_is_stable_at_extremes():
    assert sigmoid(-1000.0) == 0.0 and sigmoid(1000.0) == 1.0 and sigmoid(0.0) == 0.5


def test_nan_scores_sort_last_instead_of_breaking_the_order():
    ranked = rank_responses(["a", "b", "c"], scores(float("nan"), 1.0, 2.0))
    assert [r.response for r in ranked] == ["c", "b", "a"]
    assert math.isnan(ranked[-1].chance_vs_best)


def test_empty_ranking():
    assert rank_responses([], []) == []


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        rank_responses(["a"], scores(1.0, 2.0))


def test_api_record_fields():
    record = rank_responses(["a"], scores(1.5, tokens=7, truncated=True))[0].record()
    assert record == {"rank": 1, "index": 0, "response": "a", "score": 1.5, "tokens": 7, "truncated": True}


def test_table_is_in_rank_order_and_marks_truncation():
    ranked = rank_responses(["short", "long " * 300], [PairScore(-2.0, 5, False), PairScore(1.0, 512, True)])
    table = ranking_table(ranked, max_length=512)
    assert list(table.columns) == TABLE_COLUMNS
    assert table["Response"].tolist() == ["Response 2", "Response 1"]
    assert table["Rank"].tolist() == [1, 2]
    assert "✂" in table["Tokens read"].iloc[0] and "512" in table["Tokens read"].iloc[0]
    assert "✂" not in table["Tokens read"].iloc[1]
    assert len(table["Text"].iloc[0]) <= 90  # long text is shortened for the table


def test_plot_bars_are_unique_even_for_identical_responses():
    ranked = rank_responses(["same", "same", "same"], scores(1.0, 1.0, 0.0))
    frame = plot_frame(ranked)
    assert frame["Response"].is_unique
    assert frame["Reward"].tolist() == [1.0, 1.0, 0.0]
    assert frame["Response"].tolist()[0].startswith("#1")
