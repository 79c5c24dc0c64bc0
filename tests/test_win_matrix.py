"""The win matrix: sigmoid of every score gap, in rank order; pure logic on made-up scores, no model."""

import math

import pytest

from reward.insight.ranking import percent, rank_responses, win_matrix, win_matrix_frame
from reward.model.reward_model import PairScore


def ranked(*values):
    return rank_responses([f"text {i}" for i in range(len(values))], [PairScore(v, 5, False) for v in values])


def plain_sigmoid(x):
    # Written out for the test, for gaps small enough not to overflow.
    return 1 / (1 + math.exp(-x))


def test_each_cell_is_the_sigmoid_of_the_row_minus_the_column():
    r = ranked(0.3, 2.5, -1.25, 0.9)
    m = win_matrix(r)
    assert len(m) == 4 and all(len(row) == 4 for row in m)
    for i in range(4):
        for j in range(4):
            assert m[i][j] == pytest.approx(plain_sigmoid(r[i].score - r[j].score), abs=1e-12)


def test_rows_and_columns_follow_the_rank_order():
    r = ranked(0.3, 2.5, -1.25, 0.9)
    assert [x.score for x in r] == sorted([0.3, 2.5, -1.25, 0.9], reverse=True)
    m = win_matrix(r)
    # The best response beats every other with more than even odds, the worst loses to all.
    assert all(m[0][j] > 0.5 for j in range(1, 4))
    assert all(m[3][j] < 0.5 for j in range(3))
    frame = win_matrix_frame(r)
    labels = [f"#{x.rank} · Response {x.index + 1}" for x in r]
    assert list(frame["Row"]) == [a for a in labels for _ in labels]
    assert list(frame["Column"]) == labels * 4


def test_a_cell_and_its_mirror_add_up_to_one_and_the_diagonal_is_even():
    m = win_matrix(ranked(7.0, -3.0, 0.0, 0.001, 12.5))
    for i in range(5):
        assert m[i][i] == 0.5
        for j in range(5):
            assert m[i][j] + m[j][i] == pytest.approx(1.0, abs=1e-12)


def test_ties_give_even_odds():
    m = win_matrix(ranked(1.5, 1.5, 1.5))
    assert all(cell == 0.5 for row in m for cell in row)


def test_huge_gaps_do_not_overflow():
    m = win_matrix(ranked(1e6, -1e6, 800.0))  # rank order: 1e6, 800, -1e6
    assert m[0][2] == 1.0 and m[2][0] == 0.0  # math.exp(2e6) would overflow
    assert m[1][2] == 1.0 and m[2][1] == 0.0
    assert all(0.0 <= cell <= 1.0 for row in m for cell in row)


def test_a_single_response_and_none():
    assert win_matrix(ranked(3.0)) == [[0.5]]
    assert win_matrix([]) == []
    assert list(win_matrix_frame(ranked(3.0))["Label"]) == ["—"]


def test_labels_are_percentages_with_no_false_certainty():
    r = ranked(0.0, 1.0, 40.0)
    frame = win_matrix_frame(r)
    m = win_matrix(r)
    for (i, j), label in zip([(i, j) for i in range(3) for j in range(3)], frame["Label"]):
        chance = m[i][j]
        if i == j:
            assert label == "—"
        elif chance > 0.99:
            assert label == ">99%"
        elif chance < 0.01:
            assert label == "<1%"
        else:
            assert label == f"{round(chance * 100)}%"
    assert list(frame["Chance"]) == [c for row in m for c in row]
    assert percent(0.5) == "50%" and percent(0.99) == "99%" and percent(0.994) == ">99%"
    assert percent(0.01) == "1%" and percent(0.006) == "<1%"
    assert percent(float("nan")) == "n/a"


@pytest.mark.parametrize("gap", [0.0, 0.3, 1.0, 4.59, 4.6, 5.29, 5.3, 6.0, 40.0])
def test_a_chance_and_its_complement_read_as_a_pair(gap):
    """Each cell and its mirror: ">99%" with "<1%", never ">99%" with "1%" or "100%" with "0%"."""
    frame = win_matrix_frame(ranked(gap, 0.0))
    above, below = frame["Label"][1], frame["Label"][2]
    pairs = {">99%": "<1%", "<1%": ">99%"}
    if above in pairs:
        assert below == pairs[above]
    else:
        assert int(above[:-1]) + int(below[:-1]) == 100


def test_a_broken_score_shows_as_not_available():
    r = ranked(1.0, float("nan"))
    m = win_matrix(r)
    assert math.isnan(m[0][1]) and math.isnan(m[1][0])
    assert list(win_matrix_frame(r)["Label"]) == ["—", "n/a", "n/a", "—"]
