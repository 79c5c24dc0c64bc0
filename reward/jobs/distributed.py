"""Score on a Ray cluster: Ray Data spreads the pairs over a pool of model replicas (``--engine ray``).

Only the scoring moves. The file is read, checked and written by the same pipelines as on one machine
(:func:`reward.jobs.scoring.score_file`, :func:`reward.jobs.evaluate.evaluate_file`), so every refusal, limit and
value passed through is the same; :class:`RayModel` stands in for the loaded model there. Its
:meth:`RayModel.score_stream` turns the pairs it is given (``score``: the whole file) into ONE Ray Data dataset, a
block per batch (the local path's chunk), scores it with ``map_batches`` over one actor pool, in which each replica
loads the model once through :func:`reward.model.reward_model.load_from_settings` (same settings: the same
encoding, precision, length cut and batch size), and yields the blocks in file order as they finish
(``preserve_order``), for the pipeline to keep one by one. A replica that dies is restarted by Ray and its batch run
again. When Ray gives up (a replica that cannot start, or keeps failing), the stream ends in :class:`EngineFailed`
and the pipeline keeps the blocks it had, as it keeps any part-way result: written to the output, the rest of the
rows with empty scores.

Before Ray starts, the model is loaded once here, on the CPU (:func:`check_model_here`), so that a model that
cannot load gets the local path's one-line message instead of every replica's traceback. Connecting to Ray, and
keeping its own output off the terminal, is :mod:`reward.jobs.ray_engine`'s part.

Ray is optional (``pip install -r requirements-ray.txt``): nothing here imports it until a run asks for it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reward.config import (
    CHUNK_ROWS,
    RAY_BATCH_RETRIES,
    RAY_CPUS_PER_WORKER,
    RAY_WORKER_RESTARTS,
    ConfigError,
    ModelLoadError,
    Settings,
    precision_problem,
)
from reward.jobs.scoring import ScoringFailed

if TYPE_CHECKING:
    from reward.model.reward_model import PairScore

RAY_INSTALL = "pip install -r requirements-ray.txt"
EXIT_FOR_TESTS_ENV = "RAY_REPLICA_EXIT_FOR_TESTS"
"""For tests only, never a setting; unset, nothing happens. ``N:MARKER``: the first replica to reach its Nth batch
exits abruptly, once (it creates the file MARKER; a replica finds it there after its restart and goes on), a kill
that always lands mid-run. ``exit:TEXT`` / ``raise:TEXT``: a replica exits abruptly / raises an error whenever its
batch holds the prompt TEXT, so that Ray gives up on that batch. ``start:exit`` / ``start:raise``: every replica
fails to start, its process exiting / raising an error, after the driver's own check of the model passed."""


class EngineFailed(ScoringFailed):
    """The Ray cluster could not be reached, or it gave up on the job: one line, what to do."""


def import_ray():
    """The ``ray`` module, or a ConfigError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(f"--engine ray needs Ray, which is not installed here: {RAY_INSTALL}") from None
    return ray


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide to run: ``address`` None starts a local Ray (unless one is already running in this
    process, which is then used); ``workers`` None picks one replica per ``gpus_per_worker`` GPUs, or one per
    :data:`~reward.config.RAY_CPUS_PER_WORKER` CPUs without GPUs."""

    address: str | None = None
    workers: int | None = None
    gpus_per_worker: float = 0.0
    batch_rows: int = CHUNK_ROWS
    """Pairs in one batch: one call to a replica, and what is scored again when one dies. The local path's chunk,
    so that each pair shares its forward passes with the same pairs, and gets the same score."""

    def check(self) -> None:
        if self.address is not None and not self.address.strip():
            raise ConfigError("--address is empty: give the cluster's address (HOST:6379, or auto on one of its "
                              "nodes), or leave --address out to start a Ray on this machine.")
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"--workers {self.workers}: give at least 1 model replica.")
        if self.gpus_per_worker < 0:
            raise ConfigError(f"--gpus-per-worker {self.gpus_per_worker:g}: give 0 (CPU) or more.")
        if self.batch_rows < 1:
            raise ConfigError("the Ray batch size must be at least 1 row.")


class ScoringReplica:
    """One model replica of Ray Data's actor pool: loads the model once, then scores the batches it is given."""

    def __init__(self, settings: Settings, threads: int, die_at: str | None = None) -> None:
        import torch
        from transformers.utils import logging as transformers_logging

        from reward.model.reward_model import load_from_settings

        self.die_at = die_at or ""
        if self.die_at.startswith("start:"):
            _fail_start(self.die_at)
        if threads > 0:
            torch.set_num_threads(threads)
        transformers_logging.disable_progress_bar()
        self.model = load_from_settings(settings)
        self.batches = 0

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        self.batches += 1
        prompts, responses = batch["prompt"].tolist(), batch["response"].tolist()
        if self.die_at:
            _die_mid_run(self.die_at, self.batches, prompts)
        scored = self.model.score_pairs(prompts, responses)
        return {"row": batch["row"],
                "score": np.array([s.score for s in scored], dtype=np.float64),
                "tokens": np.array([s.tokens for s in scored], dtype=np.int64),
                "truncated": np.array([s.truncated for s in scored], dtype=bool)}


def _fail_start(spec: str) -> None:
    """The start-up forms of the test hook :data:`EXIT_FOR_TESTS_ENV`."""
    if spec == "start:exit":
        os._exit(1)
    raise RuntimeError(f"the replica was stopped at start-up by {EXIT_FOR_TESTS_ENV}")


def _die_mid_run(spec: str, batches: int, prompts: list[str]) -> None:
    """The mid-run forms of the test hook :data:`EXIT_FOR_TESTS_ENV`."""
    how, _, arg = spec.partition(":")
    if how in ("exit", "raise") and arg in prompts:
        if how == "exit":
            os._exit(1)
        raise RuntimeError(f"the replica was stopped on the prompt {arg!r} by {EXIT_FOR_TESTS_ENV}")
    if how.isdigit() and batches == int(how):
        try:
            with open(arg, "x"):
                pass
        except FileExistsError:
            return
        os._exit(1)


class RayModel:
    """What the scoring pipelines need of a model (``score_pairs``, ``score_stream``, ``max_length``), scored by
    Ray Data on a pool of model replicas."""

    def __init__(self, settings: Settings, options: RayOptions,
                 keep_log: Callable[[], Path | None] | None = None) -> None:
        self.settings, self.options = settings, options
        self.keep_log = keep_log
        """Called when Ray gave up: keeps the log of Ray's own messages, and says where it is."""
        self.max_length = settings.max_length
        self.batch_size = settings.batch_size

    def replicas(self) -> tuple[int, float]:
        """How many replicas, and the CPUs each reserves (the threads its torch uses)."""
        import ray

        resources = ray.cluster_resources()
        cpus = int(resources.get("CPU", 1))
        if self.options.gpus_per_worker > 0:
            need = self.options.gpus_per_worker
            most = max((node["Resources"].get("GPU", 0) for node in ray.nodes() if node.get("Alive")), default=0)
            if most < need:  # Ray would wait for such a node for ever, saying nothing
                raise EngineFailed(
                    f"--gpus-per-worker {need:g}: no node of the Ray cluster has {need:g} GPU{'s' * (need != 1)} "
                    f"(the most on one node is {most:g}; the cluster has {resources.get('GPU', 0):g} in all). "
                    "Use --gpus-per-worker 0 on CPU machines, or start the GPU nodes first.")
            workers = self.options.workers or max(1, int(resources.get("GPU", 0) // need))
            return workers, 1
        workers = self.options.workers or max(1, cpus // RAY_CPUS_PER_WORKER)
        # A replica must fit on one node: never ask for more CPUs than the largest node has.
        largest = max((node["Resources"].get("CPU", 0) for node in ray.nodes() if node.get("Alive")), default=1)
        return workers, max(1, min(cpus // workers, int(largest)))

    def _dataset(self, prompts: Sequence[str], responses: Sequence[str]):
        """One Ray Data dataset over all the pairs, a block per batch, scored by ``map_batches`` on one actor pool."""
        import numpy as np
        import pyarrow as pa
        import ray

        n, step = len(prompts), self.options.batch_rows
        blocks = [pa.table({"row": np.arange(start, min(start + step, n), dtype=np.int64),
                            "prompt": pa.array(prompts[start:start + step], type=pa.large_string()),
                            "response": pa.array(responses[start:start + step], type=pa.large_string())})
                  for start in range(0, n, step)]
        workers, cpus = self.replicas()
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # blocks come back in file order, so each one can be kept
        context.enable_progress_bars = False  # the command's bar is the one on the terminal
        # Replicas that die as they load the model are replaced this many times in a row, then Ray gives up.
        context.max_consecutive_actor_init_deaths = RAY_WORKER_RESTARTS
        with warnings.catch_warnings():
            # Ray 2.60 warns that actor options passed this way will go in 2.64, but offers no other way to set them
            # for map_batches; requirements-ray.txt pins 2.60.
            warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
            return ray.data.from_arrow(blocks).map_batches(
                ScoringReplica, batch_size=step, batch_format="numpy", concurrency=workers,
                fn_constructor_kwargs={"settings": self.settings, "threads": int(cpus),
                                       "die_at": os.environ.get(EXIT_FOR_TESTS_ENV)},
                num_cpus=cpus, num_gpus=self.options.gpus_per_worker or None,
                max_restarts=RAY_WORKER_RESTARTS, max_task_retries=RAY_BATCH_RETRIES)

    def score_stream(self, prompts: Sequence[str], responses: Sequence[str], *,
                     progress: Callable[[int, int], None] | None = None) -> Iterator[list[PairScore]]:
        """Score each ``(prompts[i], responses[i])`` pair; yields the scores a block at a time, in input order.

        One dataset and one pool of replicas for all the pairs: each replica loads the model once. What was
        yielded before Ray gives up stays the caller's to keep.

        Raises:
            EngineFailed: Ray gave up (a replica could not start, or failed or died more often than Ray retries).
        """
        import ray

        from reward.model.reward_model import PairScore

        n = len(prompts)
        if n != len(responses):
            raise ValueError(f"{n} prompts but {len(responses)} responses: give one prompt per response.")
        if n == 0:
            return
        batches = iter(self._dataset(prompts, responses).iter_batches(batch_size=None, batch_format="numpy",
                                                                      prefetch_batches=0))
        done = 0
        try:
            while done < n:
                try:
                    batch = next(batches)
                except StopIteration:  # cannot happen unless Ray lost blocks; never write a file with holes
                    raise EngineFailed(f"Ray returned {done:,} of {n:,} scores.") from None
                except (ray.exceptions.RayError, ray.data.exceptions.UserCodeException) as err:
                    raise EngineFailed(self._gave_up(err)) from None
                rows = batch["row"]
                if len(rows) and rows[0] != done:  # preserve_order holds this; a hole would shift every score after
                    raise EngineFailed(f"Ray returned row {int(rows[0]) + 1:,} where row {done + 1:,} was due.")
                done += len(rows)
                yield [PairScore(float(s), int(t), bool(c))
                       for s, t, c in zip(batch["score"], batch["tokens"], batch["truncated"])]
                if progress is not None:
                    progress(done, n)
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()  # stops the dataset and its replicas when the caller stops early (an error, a SIGTERM)

    def score_pairs(self, prompts: Sequence[str], responses: Sequence[str], *,
                    progress: Callable[[int, int], None] | None = None) -> list[PairScore]:
        """Score each ``(prompts[i], responses[i])`` pair (one dataset, one pool for the call); in input order."""
        return [score for block in self.score_stream(prompts, responses, progress=progress) for score in block]

    def _gave_up(self, err: BaseException) -> str:
        """The one line for a job Ray gave up on, naming the log of Ray's own messages."""
        import ray

        if isinstance(err, ray.exceptions.RayActorError) and err.actor_init_failed:  # raised as it loaded the model
            what = f"a model replica could not start: {_reason(err)}"
        elif isinstance(err, ray.exceptions.RayActorError):
            what = ("a model replica's process died, more often than Ray restarts one "
                    f"({RAY_WORKER_RESTARTS} times): out of memory, killed, crashed, or its node was lost")
        else:
            what = f"a model replica failed: {_reason(err)}"
        log = self.keep_log() if self.keep_log is not None else None
        return f"Ray gave up on the job: {what}" + (f"; Ray's own messages are in {log}" if log else "")

    def stop(self) -> None:
        """Nothing to stop between jobs: Ray Data stops a dataset's replicas when its stream ends or is closed."""


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _reason(err: BaseException) -> str:
    """The useful line of a Ray error, whole: the cause's own ``Type: message`` line when it has one."""
    lines = [_ANSI.sub("", line).strip() for line in str(err).splitlines()]
    lines = [line for line in lines if line]
    for line in reversed(lines):
        if line.split(":")[0].endswith(("Error", "Exception")) and not line.startswith("ray."):
            return line
    return lines[0] if lines else type(err).__name__


def whole_reason(err: BaseException) -> str:
    """A Ray error's whole message in one line (Ray spreads some, such as a malformed address's, over several)."""
    return " ".join(_ANSI.sub("", str(err)).split()).rstrip(" .:") or type(err).__name__


def check_model_here(settings: Settings, gpus_per_worker: float) -> None:
    """Raise the local path's ModelLoadError, before Ray starts, when the replicas could not load the model.

    Loads it once in this process through :func:`reward.model.reward_model.load_from_settings` (the very check the local
    path and every replica make), on the CPU in fp32, where any node can; the device and precision the
    replicas will use are checked as the loader checks them. Costs one load, kept for the rest of the command:
    for BERT-base on a 2-core CPU 6 s and 0.4 GB of memory, most of it importing torch and transformers.
    """
    from transformers.utils import logging as transformers_logging

    from reward.model.reward_model import load_from_settings, pick_device

    transformers_logging.disable_progress_bar()  # as in the replicas: the command's bar is the only one
    if gpus_per_worker > 0:
        device_type = "cuda"
    else:  # a replica without a GPU sees none, so "auto" means the CPU there
        device_type = pick_device("cpu" if settings.device == "auto" else settings.device).type
    problem = precision_problem(settings.precision, device_type)
    if problem:
        raise ModelLoadError(problem)
    load_from_settings(dataclasses.replace(settings, device="cpu", precision="fp32"))
