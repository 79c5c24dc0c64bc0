"""The one rule for comparing scores computed apart (tests.reference): relative to the scores' size."""

import numpy as np
import pytest

from tests.reference import SCORE_REL, assert_scores_close, score_tolerance


def test_the_bound_follows_the_largest_score_compared():
    assert score_tolerance([0.5, -8.0], 2.0) == SCORE_REL * 8.0
    assert score_tolerance(np.array([[1.0, -3.0]]), rel=1e-3) == pytest.approx(3e-3)
    assert_scores_close([10.0, 0.0], [10.0 + 9e-5, 9e-5])  # a score near 0 drifts like its neighbours
    with pytest.raises(AssertionError, match="differ by up to"):
        assert_scores_close([10.0, 0.0], [10.0 + 2e-4, 0.0])
    with pytest.raises(AssertionError, match="differ by up to"):
        assert_scores_close([0.01], [0.01 + 1e-6])  # a lone small score: the bound is its own size...
    assert_scores_close([0.01], [0.01 + 1e-6], scale=4.0)  # ...unless the model's typical size is given


def test_shown_figures_get_half_their_last_decimal():
    assert_scores_close([1.235, -0.5], [1.2354, -0.50049], decimals=3)
    with pytest.raises(AssertionError):
        assert_scores_close([1.235], [1.2356], decimals=3)


def test_lengths_must_match():
    with pytest.raises(AssertionError, match="2 scores against 1"):
        assert_scores_close([1.0, 2.0], [1.0])
