"""Score and rank candidate responses to a prompt with a reward model.

Plain Python on top of torch and transformers; nothing here imports Gradio, and
importing the package loads no weights. The subpackages are layers, each importing only those below it:

- ``reward.model``: the model and how it reads a pair (the lowest layer);
- ``reward.tables``: tables in and out (files, not models);
- ``reward.insight``: what the model's verdicts mean (ranking, explanations, probes, trust);
- ``reward.jobs``: jobs over files (score a file, evaluate pairs, on Ray);
- ``config`` (under everything), ``service`` and ``lineup`` (what the app asks of one model and of several) and
  ``cli`` (``python -m reward``) at the top.

    >>> from reward import load_reward_model, rank_responses
    >>> rm = load_reward_model("nicholasKluge/RewardModel")
    >>> answers = ["AI Ethics studies how AI systems affect people.", "Who cares about AI Ethics?"]
    >>> ranked = rank_responses(answers, rm.score("Why is AI Ethics important?", answers))
    >>> best = ranked[0]   # best.rank == 1; best.index is its position in ``answers``; best.score the raw reward
"""

from reward.insight.ranking import RankedResponse, rank_responses
from reward.model.requests import InvalidRequest, check_request
from reward.model.reward_model import (
    ModelInfo,
    ModelLoadError,
    PairScore,
    RewardModel,
    load_from_settings,
    load_reward_model,
    pick_device,
)

from .config import DEFAULT_MODEL, ConfigError, Settings, settings_from_env
from .service import RankingResult, RewardService

__all__ = [
    "DEFAULT_MODEL", "ConfigError", "Settings", "settings_from_env",
    "ModelInfo", "ModelLoadError", "PairScore", "RewardModel", "load_from_settings", "load_reward_model", "pick_device",
    "RankedResponse", "rank_responses", "InvalidRequest", "check_request",
    "RankingResult", "RewardService",
]
