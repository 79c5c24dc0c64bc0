"""What the app asks of the model: load it once, rank a request, say what is loaded.

``RewardService`` keeps the loaded model (or the reason it could not load) for a
set of :class:`~reward.config.Settings`. A failed load is remembered for a short
while, so a broken configuration answers every request at once with the same
clear message instead of retrying a slow download each time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from reward.insight.conversation import check_chat, inspect_conversation
from reward.insight.ranking import RankedResponse, rank_responses
from reward.model.batching import RequestBatcher
from reward.model.precision import precision_note
from reward.model.requests import ScoringRequest, check_request, check_response, check_steps, check_two, check_unit
from reward.model.reward_model import ModelInfo, ModelLoadError, RewardModel, load_from_settings
from reward.model.sources import display_name

from .config import MERGED_PASSES, RETRY_LOAD_AFTER_S, Settings


@dataclass(frozen=True)
class RankingResult:
    ranked: list[RankedResponse]
    seconds: float
    """Wall time of the scoring itself (validation and loading excluded)."""


class RewardService:
    """Loads the configured model on first use and ranks requests with it."""

    def __init__(self, settings: Settings, *, clock=time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._model: RewardModel | None = None
        self._batcher: RequestBatcher | None = None
        self._error: ModelLoadError | None = None
        self._error_at = 0.0

    def model(self) -> RewardModel:
        """The loaded model; raises :class:`ModelLoadError` (one line) when it cannot be had."""
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                if self._error is not None and self._clock() - self._error_at < RETRY_LOAD_AFTER_S:
                    raise self._error
                try:
                    model = load_from_settings(self.settings)
                    # Concurrent requests share forward passes, up to this many pairs.
                    self._batcher = RequestBatcher(model.score_pairs, max_pairs=MERGED_PASSES * self.settings.batch_size)
                    self._model, self._error = model, None
                except ModelLoadError as err:
                    self._error, self._error_at = err, self._clock()
                    raise
        return self._model

    @property
    def load_error(self) -> str | None:
        """The last load failure's message, or None."""
        return None if self._error is None else str(self._error)

    def check(self, prompt: object, responses: object) -> ScoringRequest:
        """Validate a request against the limits, without loading or running the model.

        Cheap enough to run before a request joins the queue, so that a request the
        limits refuse never waits behind others (``rank`` checks again anyway).

        Raises:
            InvalidRequest: the input breaks a documented limit.
        """
        return check_request(prompt, responses, self.settings)

    def rank(self, prompt: object, responses: object) -> RankingResult:
        """Validate, score and rank one request.

        Raises:
            InvalidRequest: the input breaks a documented limit (checked before loading).
            ModelLoadError: the model cannot be loaded.
        """
        return self._rank(self.check(prompt, responses))

    def check_chat(self, messages: object, responses: object) -> ScoringRequest:
        """Validate a conversation and its responses (see :func:`reward.insight.conversation.check_chat`): the
        request's ``prompt`` is the flattened conversation, under the limits of any prompt.

        Raises:
            InvalidRequest: the input breaks a rule (field ``"messages"`` for the conversation).
        """
        return check_chat(messages, responses, self.settings)

    def rank_chat(self, messages: object, responses: object) -> RankingResult:
        """Rank responses to the last (user) turn of a conversation: the conversation is flattened to one prompt and
        ranked exactly as :meth:`rank` ranks it, through the same batcher, so the scores are those of ``/score``
        on the flattened text.

        Raises:
            InvalidRequest: the input breaks a rule (checked before loading). ModelLoadError: no model.
        """
        return self._rank(self.check_chat(messages, responses))

    def inspect_chat(self, messages: object, responses: object):
        """The flattened conversation and, turn by turn, what the model reads of it beside each response (see
        :func:`reward.insight.conversation.inspect_conversation`); limits as :meth:`rank_chat`.

        Raises:
            InvalidRequest: the input breaks a rule. ModelLoadError: no model.
        """
        self.check_chat(messages, responses)
        return inspect_conversation(self.model(), messages, responses)

    def _rank(self, request: ScoringRequest) -> RankingResult:
        self.model()
        assert self._batcher is not None
        start = time.perf_counter()
        scores = self._batcher.score(request.prompt, request.responses)
        seconds = time.perf_counter() - start
        return RankingResult(rank_responses(request.responses, scores, request.indices), seconds)

    def explain(self, prompt: object, response: object):
        """Why ``response`` scores as it does (see :func:`reward.insight.explain.explain`); limits as :meth:`rank`.

        Raises:
            InvalidRequest: the input breaks a documented limit. ModelLoadError: no model.
        """
        from reward.insight.explain import explain

        request = check_response(prompt, response, self.settings)
        return explain(self.model(), request.prompt, request.responses[0])

    def explain_steps(self, prompt: object, response: object):
        """The explanation part by part as each is ready (see :func:`reward.insight.explain.explain_steps`); the
        request is checked, and the model loaded, before the first part.

        Raises:
            InvalidRequest: the input breaks a documented limit. ModelLoadError: no model.
        """
        from reward.insight.explain import explain_steps

        request = check_response(prompt, response, self.settings)
        return explain_steps(self.model(), request.prompt, request.responses[0])

    def probe(self, prompt: object, response: object):
        """The response's score under edits a sound judge would mostly ignore or punish (see
        :func:`reward.insight.probes.probe`); limits as :meth:`rank` (the no-prompt probe still scores an empty prompt).

        Raises:
            InvalidRequest: the input breaks a documented limit. ModelLoadError: no model.
        """
        from reward.insight.probes import probe

        request = check_response(prompt, response, self.settings)
        return probe(self.model(), request.prompt, request.responses[0])

    def attribute(self, prompt: object, response: object, steps: object = None):
        """Integrated gradients per token (see :func:`reward.insight.attribution.attribute`); limits as :meth:`rank`.
        Without ``steps``, as few as make the completeness gap small enough.

        Raises:
            InvalidRequest: the input breaks a documented limit, or ``steps`` is out of range.
            ModelLoadError: no model.
        """
        from reward.insight.attribution import attribute

        request = check_response(prompt, response, self.settings)
        if steps is not None:
            steps = check_steps(steps)
        return attribute(self.model(), request.prompt, request.responses[0], steps=steps)

    def contrast(self, prompt: object, response_a: object, response_b: object, steps: object = None):
        """Why A over B (see :func:`reward.insight.contrast.contrast`): scores, margin, chance, word diff and
        word-level attributions; limits as :meth:`rank`, neither response blank.

        Raises:
            InvalidRequest: the input breaks a documented limit. ModelLoadError: no model.
        """
        from reward.insight.contrast import contrast

        request = check_two(prompt, response_a, response_b, self.settings)
        if steps is not None:
            steps = check_steps(steps)
        return contrast(self.model(), request.prompt, *request.responses, steps=steps)

    def whatif(self, prompt: object, response: object, edited: object):
        """A response and an edited copy, both scored (see :func:`reward.insight.contrast.whatif`).

        Raises:
            InvalidRequest: the input breaks a documented limit. ModelLoadError: no model.
        """
        from reward.insight.contrast import whatif

        request = check_two(prompt, response, edited, self.settings, names=("The response", "The edited response"))
        return whatif(self.model(), request.prompt, *request.responses)

    def flip(self, prompt: object, response_a: object, response_b: object, unit: object = "sentence"):
        """The smallest cut of A that turns the verdict against B (see :func:`reward.insight.contrast.flip`).

        Raises:
            InvalidRequest: the input breaks a documented limit, or ``unit`` is not "sentence" or "word".
            ModelLoadError: no model.
        """
        from reward.insight.contrast import flip

        request = check_two(prompt, response_a, response_b, self.settings)
        return flip(self.model(), request.prompt, *request.responses, unit=check_unit(unit))

    def describe(self) -> ModelInfo:
        """What is (or would be) loaded: the model panel's content."""
        if self._model is not None:
            return self._model.describe()
        s = self.settings
        return ModelInfo(model=display_name(s.model), revision=s.revision or "default", device=s.device,
                         precision=s.precision, precision_note=precision_note(s.precision, s.device),
                         max_length=s.max_length, batch_size=s.batch_size)
