"""How far to trust it: every length and calibration figure against a plain recomputation written here.

Hand-made cases cover ties, equal lengths, empty groups, a single pair, all right / all wrong and huge
margins; then the tiny model on the sample pairs (through evaluate_file) and `python -m reward evaluate --json`.
"""

import json
import math
import warnings

import pytest

from reward.cli import main
from reward.config import SAMPLE_PAIRS
from reward.insight.trust import (
    CALIBRATION_BINS,
    accuracy_chosen_longer,
    accuracy_chosen_shorter,
    calibration_edges,
    ece,
    longer_baseline_accuracy,
    pair_figures,
    pair_points,
    reliability_table,
    response_points,
    sample_rows,
    score_length_spearman,
    trust_lines,
)
from reward.jobs.evaluate import evaluate_file
from tests.reference import score_tolerance

# -- the figures, recomputed plainly ---------------------------------------------------------------


def ref_longer_baseline(len_c, len_r):
    if not len_c:
        return None
    hits = 0
    for c, r in zip(len_c, len_r):
        if c > r:
            hits += 1
    return hits / len(len_c)


def ref_group(margins, len_c, len_r, chosen_longer: bool):
    right = total = 0
    for m, c, r in zip(margins, len_c, len_r):
        if (c > r) if chosen_longer else (c < r):
            total += 1
            if m > 0:
                right += 1
    return (right / total if total else None), total


def ref_ranks(values):
    """Average ranks from 1, ties sharing the mean of the ranks they span."""
    ranks = []
    for v in values:
        below = sum(1 for w in values if w < v)
        same = sum(1 for w in values if w == v)
        ranks.append(below + (same + 1) / 2)
    return ranks


def ref_spearman(scores, lengths):
    if len(scores) < 2 or any(math.isnan(s) for s in scores):
        return None
    x, y = ref_ranks(scores), ref_ranks(lengths)
    mx, my = sum(x) / len(x), sum(y) / len(y)
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def ref_bins(margins):
    """Bins [0.5 + 0.05 i, 0.5 + 0.05 (i + 1)), the last one closed at 1; (count, mean confidence, accuracy) each."""
    bins = [[] for _ in range(10)]
    for m in margins:
        confidence = 1 / (1 + math.exp(-abs(m)))  # exp of a non-positive number: never overflows
        for i in range(10):
            low, high = 0.5 + 0.05 * i, 0.5 + 0.05 * (i + 1)
            if low <= confidence < high or (i == 9 and confidence >= high):
                bins[i].append((confidence, m > 0))
                break
    table = []
    for members in bins:
        if members:
            table.append((len(members), sum(c for c, _ in members) / len(members),
                          sum(1 for _, ok in members if ok) / len(members)))
        else:
            table.append((0, None, None))
    return table


def ref_ece(margins):
    if not margins:
        return None
    total = 0.0
    for count, confidence, accuracy in ref_bins(margins):
        if count:
            total += count / len(margins) * abs(accuracy - confidence)
    return total


def assert_figures(figures: dict, score_c, score_r, chosen, rejected, tol: float = 1e-9):
    """Every figure of ``pair_figures`` / the summary equals the plain recomputation (scores and what is made
    of them to ``tol``)."""
    margins = [c - r for c, r in zip(score_c, score_r)]
    len_c, len_r = [len(t) for t in chosen], [len(t) for t in rejected]
    assert figures["longer_baseline_accuracy"] == pytest.approx(ref_longer_baseline(len_c, len_r))
    longer, n_longer = ref_group(margins, len_c, len_r, True)
    shorter, n_shorter = ref_group(margins, len_c, len_r, False)
    assert (figures["n_chosen_longer"], figures["n_chosen_shorter"]) == (n_longer, n_shorter)
    assert figures["accuracy_chosen_longer"] == pytest.approx(longer)
    assert figures["accuracy_chosen_shorter"] == pytest.approx(shorter)
    rho = ref_spearman(list(score_c) + list(score_r), len_c + len_r)
    assert figures["score_length_spearman"] == (None if rho is None else pytest.approx(rho, abs=tol))
    assert figures["ece"] == (None if not margins else pytest.approx(ref_ece(margins), abs=tol))
    table = ref_bins(margins) if margins else []
    assert len(figures["reliability"]) == len(table)
    for got, (count, confidence, accuracy) in zip(figures["reliability"], table):
        assert got["count"] == count
        assert got["mean_confidence"] == (None if confidence is None else pytest.approx(confidence, abs=tol))
        assert got["accuracy"] == (None if accuracy is None else pytest.approx(accuracy))


# -- hand-made cases -------------------------------------------------------------------------------

CASES = {
    # ties (margin 0), equal lengths (neither group), both groups present
    "ties and equal lengths": ([1.0, 2.0, 0.5, -1.0, 3.0, 2.0], [0.0, 2.0, 1.5, -1.0, 1.0, 2.5],
                               ["aaaa", "bb", "c", "ddd", "eeeeee", "ff"], ["a", "bbbb", "c", "d", "ee", "ff"]),
    # every chosen answer longer: the shorter group is empty
    "empty shorter group": ([0.3, -0.2, 1.1], [0.1, 0.4, 1.0], ["long one", "longer one", "longest one!"],
                            ["x", "y", "z"]),
    # every pair of equal length: both groups empty, the baseline is 0
    "both groups empty": ([1.0, 0.0], [0.0, 1.0], ["ab", "cd"], ["ef", "gh"]),
    "a single pair": ([2.0], [1.0], ["a longer answer"], ["short"]),
    "all right": ([5.0, 4.0, 3.0, 6.0], [1.0, 2.0, -1.0, 0.0], ["a", "bb", "ccc", "dddd"], ["aa", "b", "c", "d"]),
    "all wrong": ([-5.0, -4.0, -3.0, -6.0], [1.0, 2.0, -1.0, 0.0], ["a", "bb", "ccc", "dddd"], ["aa", "b", "c", "d"]),
    # margins far past where exp overflows: confidence 1.0, in the last bin
    "huge margins": ([1e6, -1e6, 800.0, 0.0], [0.0, 0.0, -800.0, 0.0], ["a" * 10, "b", "c" * 3, "d"],
                     ["a", "b" * 5, "c", "d"]),
    # a confidence exactly on inner bin edges is as likely as any: many distinct margins
    "many margins": ([i * 0.37 - 4 for i in range(25)], [(i * 7919) % 13 * 0.5 - 3 for i in range(25)],
                     ["x" * ((i * 31) % 17) for i in range(25)], ["y" * ((i * 17) % 11) for i in range(25)]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_every_figure_equals_a_plain_recomputation(name):
    score_c, score_r, chosen, rejected = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or division warnings, even for huge margins
        figures = pair_figures(score_c, score_r, chosen, rejected)
    assert_figures(figures, score_c, score_r, chosen, rejected)


def test_the_hand_made_cases_say_what_they_claim():
    """The cases above really contain what they are there for, and the figures take the expected values."""
    f = pair_figures(*CASES["ties and equal lengths"])
    assert f["n_chosen_longer"] + f["n_chosen_shorter"] == 4  # two equal-length pairs are in neither group
    assert f["reliability"][0]["count"] >= 2 and f["reliability"][0]["bin_low"] == 0.5  # the ties: confidence 0.5
    empty = pair_figures(*CASES["empty shorter group"])
    assert empty["accuracy_chosen_shorter"] is None and empty["n_chosen_shorter"] == 0
    assert empty["longer_baseline_accuracy"] == 1.0
    neither = pair_figures(*CASES["both groups empty"])
    assert neither["accuracy_chosen_longer"] is None and neither["accuracy_chosen_shorter"] is None
    assert neither["longer_baseline_accuracy"] == 0.0
    assert neither["score_length_spearman"] is None  # every length equal: a constant side
    single = pair_figures(*CASES["a single pair"])
    assert single["score_length_spearman"] == pytest.approx(1.0)  # two points, the longer one scored higher
    assert single["accuracy_chosen_longer"] == 1.0 and single["n_chosen_longer"] == 1
    assert pair_figures(*CASES["all right"])["accuracy_chosen_longer"] == 1.0
    wrong = pair_figures(*CASES["all wrong"])
    assert wrong["accuracy_chosen_longer"] == 0.0 and wrong["accuracy_chosen_shorter"] == 0.0
    huge = pair_figures(*CASES["huge margins"])
    last = huge["reliability"][-1]
    assert last["count"] == 3 and last["mean_confidence"] == 1.0 and last["accuracy"] == pytest.approx(2 / 3)
    # Certain and right, certain and wrong, certain and right, a tie (0.5, not right).
    assert huge["ece"] == pytest.approx(3 / 4 * abs(2 / 3 - 1.0) + 1 / 4 * 0.5)


def test_a_model_certain_and_always_wrong_has_the_largest_calibration_error():
    assert ece([-1e4, -2e3, -900.0]) == pytest.approx(1.0)
    assert ece([1e4, 2e3, 900.0]) == pytest.approx(0.0)


def test_empty_input_and_odd_input():
    assert longer_baseline_accuracy([], []) is None
    assert accuracy_chosen_longer([], [], []) == (None, 0)
    assert accuracy_chosen_shorter([], [], []) == (None, 0)
    assert score_length_spearman([], []) is None
    assert score_length_spearman([1.0], [3]) is None  # one point
    assert score_length_spearman([2.0, 2.0, 2.0], [1, 5, 9]) is None  # all scores equal
    assert ece([]) is None and reliability_table([]) == []
    with pytest.raises(ValueError, match="one length per score"):
        score_length_spearman([1.0, 2.0], [1])


def test_spearman_gives_ties_average_ranks():
    scores, lengths = [1.0, 2.0, 2.0, 3.0, 0.5], [10, 20, 20, 5, 7]
    assert score_length_spearman(scores, lengths) == pytest.approx(ref_spearman(scores, lengths))
    assert score_length_spearman([1.0, 2.0, 3.0], [5, 50, 500]) == pytest.approx(1.0)
    assert score_length_spearman([1.0, 2.0, 3.0], [500, 50, 5]) == pytest.approx(-1.0)


def test_nan_scores_make_the_score_figures_undefined_not_wrong():
    score_c, score_r = [1.0, float("nan"), 3.0], [0.0, 1.0, 4.0]
    chosen, rejected = ["aaa", "b", "c"], ["a", "bbb", "cc"]
    f = pair_figures(score_c, score_r, chosen, rejected)
    assert f["longer_baseline_accuracy"] == pytest.approx(1 / 3)  # lengths only: still defined
    assert f["accuracy_chosen_shorter"] is None and f["n_chosen_shorter"] == 2  # the NaN pair is in it
    assert f["accuracy_chosen_longer"] == 1.0  # no NaN in this group
    assert f["score_length_spearman"] is None and f["ece"] is None and f["reliability"] == []


def test_bins_are_ten_equal_widths_over_half_to_one():
    edges = calibration_edges()
    assert len(edges) == CALIBRATION_BINS + 1 and edges[0] == 0.5 and edges[-1] == 1.0
    assert all(b - a == pytest.approx(0.05) for a, b in zip(edges, edges[1:]))
    table = reliability_table([0.0, 0.3, 2.0, 50.0])
    assert [(r["bin_low"], r["bin_high"]) for r in table] == list(zip(edges, edges[1:]))
    assert sum(r["count"] for r in table) == 4


# -- samples for the scatter -----------------------------------------------------------------------


def test_scatter_samples_are_fixed_capped_and_keep_both_sides_of_a_pair():
    import pandas as pd

    assert sample_rows(10, 10) is None
    first, again = sample_rows(5000, 300), sample_rows(5000, 300)
    assert first == again and len(set(first)) == 300 and first == sorted(first) and max(first) < 5000
    n = 1500
    results = pd.DataFrame({"row": range(1, n + 1), "chosen": ["c" * (i % 40) for i in range(n)],
                            "rejected": ["r" * (i % 23) for i in range(n)],
                            "score_chosen": [i * 0.01 for i in range(n)],
                            "score_rejected": [-i * 0.01 for i in range(n)]})
    points, total = pair_points(results, max_points=400)
    assert total == n and len(points) == 400
    for side in ("chosen", "rejected"):
        part = points[points["side"] == side]
        assert len(part) == 200
        for row, length, score in zip(part["row"], part["length"], part["score"]):
            i = row - 1
            assert length == len(results[side][i]) and score == results[f"score_{side}"][i]
    assert set(points[points["side"] == "chosen"]["row"]) == set(points[points["side"] == "rejected"]["row"])
    small, total = pair_points(results.head(3))
    assert total == 3 and len(small) == 6
    rows = response_points(["a", "bb", "ccc"], [0.5, float("nan"), -1.0])
    assert rows["row"].tolist() == [1, 3] and rows["length"].tolist() == [1, 3]


def test_the_scatter_caption_says_when_a_sample_is_drawn():
    import pandas as pd

    from ui.charts import length_scatter, reliability_chart

    results = pd.DataFrame({"row": range(1, 3001), "chosen": ["abc"] * 3000, "rejected": ["a"] * 3000,
                            "score_chosen": [1.0] * 3000, "score_rejected": [0.0] * 3000})
    sampled = length_scatter(*pair_points(results)).to_dict()
    assert "A fixed sample of 1,000 of the 3,000 pairs" in " ".join(sampled["title"]["subtitle"])
    whole = length_scatter(*pair_points(results.head(10))).to_dict()
    assert "All 10 pairs." in whole["title"]["subtitle"]
    assert length_scatter(response_points([], []), 0) is None
    assert reliability_chart([]) is None
    spec = reliability_chart(reliability_table([0.2, -1.0, 3.0])).to_dict()
    counts = [v["count"] for v in next(d for name, d in spec["datasets"].items() if "count" in d[0])]
    assert sum(counts) == 3


# -- on the tiny model ------------------------------------------------------------------------------


def test_evaluate_file_on_the_sample_pairs_reports_figures_from_its_own_results(tiny_model):
    evaluation = evaluate_file(tiny_model, SAMPLE_PAIRS)
    r = evaluation.results
    figures = evaluation.summary.as_dict()
    assert_figures(figures, r["score_chosen"].tolist(), r["score_rejected"].tolist(), r["chosen"].tolist(),
                   r["rejected"].tolist())
    assert figures["n_chosen_longer"] > 0  # the sample really has a longer group to judge
    lines = trust_lines(evaluation.summary)
    assert len(lines) == 2 and f"{figures['longer_baseline_accuracy']:.1%}" in lines[0]


def test_evaluate_json_on_the_command_line_has_the_figures(tiny_model_dir, tiny_model, capsys):
    code = main(["evaluate", str(SAMPLE_PAIRS), "--json", "--quiet", "--model", str(tiny_model_dir),
                 "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0
    data = json.loads(out)
    pairs = [json.loads(line) for line in SAMPLE_PAIRS.read_text(encoding="utf-8").splitlines() if line.strip()]
    prompts = [p["prompt"] for p in pairs]
    chosen, rejected = [p["chosen"] for p in pairs], [p["rejected"] for p in pairs]
    score_c = [s.score for s in tiny_model.score_pairs(prompts, chosen)]
    score_r = [s.score for s in tiny_model.score_pairs(prompts, rejected)]
    for key in ("longer_baseline_accuracy", "accuracy_chosen_longer", "accuracy_chosen_shorter", "n_chosen_longer",
                "n_chosen_shorter", "score_length_spearman", "ece", "reliability"):
        assert key in data, f"--json lacks {key}"
    # Scored in other batches here: a confidence is sigmoid(margin), which moves at most a quarter of the margin's
    # drift, itself at most twice a score's.
    assert_figures(data, score_c, score_r, chosen, rejected, tol=score_tolerance(score_c, score_r))
    assert data["accuracy"] == pytest.approx(sum(c > r for c, r in zip(score_c, score_r)) / len(pairs))


def test_evaluate_on_the_command_line_prints_the_same_figures_as_its_json(tiny_model_dir, capsys):
    args = ["evaluate", str(SAMPLE_PAIRS), "--quiet", "--model", str(tiny_model_dir), "--device", "cpu"]
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    text = capsys.readouterr().out
    length = next(line for line in text.splitlines() if line.startswith("length:"))
    assert f"would score {data['longer_baseline_accuracy']:.1%}" in length
    assert f"when chosen is longer {data['accuracy_chosen_longer']:.1%} ({data['n_chosen_longer']} pairs)" in length
    shorter = "n/a" if data["accuracy_chosen_shorter"] is None else f"{data['accuracy_chosen_shorter']:.1%}"
    assert f"when chosen is shorter {shorter} ({data['n_chosen_shorter']} pair" in length
    equal = data["n"] - data["n_chosen_longer"] - data["n_chosen_shorter"]
    assert f"{equal} of equal length in neither" in length
    calibration = next(line for line in text.splitlines() if line.startswith("score-length Spearman"))
    assert f"Spearman {data['score_length_spearman']:+.3f} over {2 * data['n']} responses" in calibration
    assert calibration.endswith(f"{data['ece']:.3f}")
