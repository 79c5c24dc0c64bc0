"""Several models side by side: two tiny models built with different seeds and one broken folder.

Each model's ranking must be what that model gives alone; Kendall's tau-b and the disputed pairs are
recomputed here with plain loops over the scores the app returned.
"""

import math
import re
from dataclasses import replace

import pytest
from gradio_client import Client
from gradio_client.exceptions import ValidationError

from reward.config import Settings
from reward.lineup import Lineup, kendall_tau_b
from reward.model.tiny import build_tiny_reward_model
from reward.service import RewardService
from tests.conftest import ARTIFACTS, launch_app
from tests.reference import assert_scores_close

PROMPT = "Why is AI Ethics important?"
RESPONSES = ["Who cares about AI Ethics?", "", "AI Ethics studies how AI systems affect people and society.",
             "I don't know. Figure it out yourself.", "That is a great question, thank you for asking!",
             "Paris is the capital of France.", "Plants use sunlight to turn air and water into food."]


@pytest.fixture(scope="module")
def folders(tiny_model_dir, tmp_path_factory):
    """(main model, second model built with another seed, a broken folder: config.json and no weights)."""
    second = build_tiny_reward_model(tmp_path_factory.mktemp("second") / "tiny-seed-1", seed=1)
    broken = tmp_path_factory.mktemp("broken") / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    return tiny_model_dir, second, broken


@pytest.fixture(scope="module")
def settings(folders):
    main, second, broken = folders
    return Settings(model=str(main), device="cpu", compare_models=(str(second), str(broken)))


@pytest.fixture(scope="module")
def lineup_app(settings):
    demo, url = launch_app(settings)
    yield url
    demo.close()


def alone(folder, prompt=PROMPT, responses=RESPONSES) -> list[dict]:
    """The model in ``folder`` scored alone, as /score ranks, in the /score_models record's shape."""
    ranked = RewardService(Settings(model=str(folder), device="cpu")).rank(prompt, responses).ranked
    return [{"rank": r.rank, "index": r.index, "score": r.score, "tokens": r.tokens, "truncated": r.truncated}
            for r in ranked]


def assert_same_ranking(got: list[dict], expected: list[dict]) -> None:
    """The same records in the same order; scores equal up to float noise (requests share forward passes)."""
    assert [{k: v for k, v in r.items() if k != "score"} for r in got] == [
        {k: v for k, v in r.items() if k != "score"} for r in expected]
    assert_scores_close([r["score"] for r in got], [r["score"] for r in expected])


def plain_tau_b(x: list[float], y: list[float]) -> float | None:
    n = len(x)
    concordant = discordant = tied_x = tied_y = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx == 0:
                tied_x += 1
            if dy == 0:
                tied_y += 1
            if dx * dy > 0:
                concordant += 1
            elif dx * dy < 0:
                discordant += 1
    pairs = n * (n - 1) / 2
    denominator = math.sqrt((pairs - tied_x) * (pairs - tied_y))
    return None if denominator == 0 else (concordant - discordant) / denominator


def plain_disputes(by_model: dict[str, dict[int, float]]) -> set[tuple[int, int]]:
    found = set()
    indices = sorted(next(iter(by_model.values())))
    for a in by_model.values():
        for b in by_model.values():
            for i in indices:
                for j in indices:
                    if i < j and a[i] > a[j] and b[j] > b[i]:
                        found.add((i, j))
    return found


def by_model(records: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for r in records:
        grouped.setdefault(r["model"], []).append({k: v for k, v in r.items() if k != "model"})
    return grouped


def test_score_models_gives_each_models_own_ranking_and_the_broken_ones_reason(lineup_app, folders):
    main, second, broken = folders
    records = Client(lineup_app + "/", verbose=False).predict(PROMPT, RESPONSES, api_name="/score_models")
    grouped = by_model(records)
    assert list(grouped) == [main.name, second.name, broken.name]  # lineup order, the main model first
    assert_same_ranking(grouped[main.name], alone(main))
    assert_same_ranking(grouped[second.name], alone(second))
    assert [r["index"] for r in grouped[main.name]] != [r["index"] for r in grouped[second.name]], \
        "the seeds should give two different rankings"
    [failure] = grouped[broken.name]
    assert set(failure) == {"error"} and "\n" not in failure["error"]
    assert "broken-model" in failure["error"] and "no .safetensors weights" in failure["error"]
    assert "in REWARD_COMPARE_MODELS" in failure["error"] and "REWARD_MODEL=" not in failure["error"]
    assert str(broken.parent) not in failure["error"]  # a server path is shown by its last part only
    # The main model's records are /score's on the same app.
    score = Client(lineup_app + "/", verbose=False).predict(PROMPT, RESPONSES, api_name="/score")
    assert_same_ranking(grouped[main.name], [{k: v for k, v in r.items() if k != "response"} for r in score])


def test_tau_and_disputes_match_a_plain_recomputation(settings, folders):
    main, second, _ = folders
    result = Lineup(RewardService(settings)).rank(PROMPT, RESPONSES)
    scores = {r.model: r.scores() for r in result.rankings if r.ranked is not None}
    order = sorted(scores[main.name])
    a, b = [scores[main.name][i] for i in order], [scores[second.name][i] for i in order]
    [pair, *with_broken] = result.agreements
    assert (pair.first, pair.second) == (main.name, second.name)
    assert pair.tau == pytest.approx(plain_tau_b(a, b))
    assert pair.pairs == len(a) * (len(a) - 1) // 2 == 15
    assert all(x.tau is None for x in with_broken) and len(with_broken) == 2
    expected = plain_disputes(scores)
    assert expected, "two random models should dispute at least one pair here"
    assert {(d.first, d.second) for d in result.disputes} == expected
    assert pair.discordant == len(expected)
    for d in result.disputes:
        assert set(d.prefer_first) | set(d.prefer_second) == {main.name, second.name}


@pytest.mark.parametrize("x, y", [
    ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]),        # the same order: +1
    ([1.0, 2.0, 3.0], [3.0, 2.0, 1.0]),        # reversed: -1
    ([1.0, 1.0, 2.0], [1.0, 2.0, 3.0]),        # a tie in one: tau-b's correction
    ([1.0, 1.0, 2.0, 2.0], [2.0, 1.0, 1.0, 3.0]),
    ([0.5, -1.0, 3.0, 3.0, 2.0], [0.4, 0.4, 0.4, 1.0, -2.0]),
])
def test_kendall_tau_b_against_plain_loops(x, y):
    assert kendall_tau_b(x, y) == pytest.approx(plain_tau_b(x, y))


def test_kendall_tau_b_by_hand():
    assert kendall_tau_b([1, 2, 3], [3, 2, 1]) == -1
    # Pairs (0,1) tied in x, (0,2) and (1,2) concordant: (2 - 0) / sqrt((3 - 1) * (3 - 0)).
    assert kendall_tau_b([1, 1, 2], [1, 2, 3]) == pytest.approx(2 / math.sqrt(6))


@pytest.mark.parametrize("x, y", [([], []), ([1.0], [2.0]), ([1.0, 1.0], [1.0, 2.0]), ([1.0, float("nan")], [1, 2])])
def test_kendall_tau_b_is_undefined_without_two_ranked_items(x, y):
    assert kendall_tau_b(x, y) is None


def test_one_response_and_ties_dispute_nothing(settings):
    result = Lineup(RewardService(settings)).rank(PROMPT, ["Only one."])
    assert result.disputes == [] and all(a.tau is None for a in result.agreements)
    # The same text twice: every model ties the pair, so nobody disputes it and tau-b is undefined.
    result = Lineup(RewardService(settings)).rank(PROMPT, ["Same.", "Same."])
    assert result.disputes == [] and result.agreements[0].tau is None


def test_a_lineup_of_only_broken_models_reports_each_reason(tmp_path):
    settings = Settings(model=str(tmp_path / "gone-1"), device="cpu", compare_models=(str(tmp_path / "gone-2"),))
    lineup = Lineup(RewardService(settings))
    assert set(lineup.load()) == {"gone-1", "gone-2"}
    records = lineup.rank(PROMPT, ["a", "b"]).records()
    assert [r["model"] for r in records] == ["gone-1", "gone-2"]
    assert all("no such folder" in r["error"] for r in records)
    assert "set REWARD_MODEL=" in records[0]["error"] and "in REWARD_COMPARE_MODELS" in records[1]["error"]


def test_a_compared_model_that_failed_at_start_is_not_loaded_during_a_request(tiny_model_dir, tmp_path,
                                                                             monkeypatch):
    monkeypatch.setattr("reward.service.RETRY_LOAD_AFTER_S", 0)  # the main model would try again at once
    late = tmp_path / "late-model"
    lineup = Lineup(RewardService(Settings(model=str(tiny_model_dir), device="cpu", compare_models=(str(late),))))
    assert set(lineup.load()) == {"late-model"}
    build_tiny_reward_model(late, seed=3)  # the folder appears after the start
    records = lineup.rank(PROMPT, ["a", "b"]).records()
    assert [r["model"] for r in records] == [tiny_model_dir.name] * 2 + ["late-model"]
    assert "no such folder" in records[-1]["error"] and "restart the app" in records[-1]["error"]
    assert lineup.services[1].load_error is not None  # nothing was loaded for the request


def test_two_folders_with_the_same_name_get_distinct_names(tiny_model_dir, tmp_path):
    twin = build_tiny_reward_model(tmp_path / tiny_model_dir.name, seed=2)
    lineup = Lineup(RewardService(Settings(model=str(tiny_model_dir), device="cpu", compare_models=(str(twin),))))
    assert lineup.names == [tiny_model_dir.name, f"{tiny_model_dir.name} (2)"]


@pytest.mark.parametrize("prompt, responses, message", [
    (PROMPT, ["a"] * 33, "33 responses were sent; the limit is 32"),
    (PROMPT, ["x" * 20_001], "Response 1 is 20,001 characters"),
    ("", ["a"], "The prompt is empty"),
])
def test_score_models_has_the_limits_and_messages_of_score(lineup_app, prompt, responses, message):
    client = Client(lineup_app + "/", verbose=False)
    for api in ("/score_models", "/score"):
        with pytest.raises(ValidationError, match=re.escape(message)):
            client.predict(prompt, responses, api_name=api)


def test_without_compare_models_there_is_no_models_tab_nor_api(client):
    assert "/score_models" not in client.view_api(print_info=False, return_format="dict")["named_endpoints"]


def test_the_models_tab_shows_the_columns_and_highlights_the_disputes(browser, lineup_app, settings, folders):
    from playwright.sync_api import expect

    main, second, broken = folders
    texts = [t for t in RESPONSES if t][:6]
    result = Lineup(RewardService(replace(settings, compare_models=(str(second),)))).rank(PROMPT, texts)
    disputed = {i for d in result.disputes for i in (d.first, d.second)}
    assert disputed
    page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    try:
        page.goto(lineup_app)
        page.get_by_role("tab", name="Models").click()
        page.locator("#models-prompt textarea").fill(PROMPT)
        for i, text in enumerate(texts):
            page.locator(f"#models-response-{i + 1} textarea").fill(text)
        page.locator("#models-btn").click()
        table = page.locator("#models-rankings")
        expect(table.locator("div[role=gridcell]").first).to_be_visible(timeout=30_000)
        headers = table.locator("[role=columnheader]")
        expect(headers.filter(has_text=second.name)).to_have_count(1)
        expect(headers.filter(has_text=broken.name)).to_have_count(1)
        expect(headers.filter(has_text=main.name)).to_have_count(1)
        expect(table.locator("div[role=gridcell]", has_text="Not available: Cannot load reward model 'broken-model'")
               ).to_have_count(1)
        # Every cell of a disputed response is marked: one per working model.
        marked = table.locator("div[role=gridcell]", has_text="⇄")
        expect(marked).to_have_count(2 * len(disputed))
        labels = {re.search(r"Response \d+", marked.nth(k).inner_text()).group(0) for k in range(marked.count())}
        assert labels == {f"Response {i + 1}" for i in disputed}
        assert "rgb(253, 230, 138)" in marked.first.evaluate(
            "e => [e, ...e.querySelectorAll('*'), e.closest('td')].filter(Boolean)"
            ".map(x => getComputedStyle(x).backgroundColor).join(' ')")
        expect(page.locator("#models-disputes")).to_contain_text(f"{len(result.disputes)} disputed pair")
        expect(page.locator("#models-tau")).to_contain_text(f"{result.agreements[0].tau:+.3f}")
        page.screenshot(path=str(ARTIFACTS / "models-tab.png"), full_page=True)
    finally:
        page.context.close()
