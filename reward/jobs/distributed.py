"""Score on a Ray cluster: Ray Data spreads the pairs over a pool of model replicas (``--engine ray``).

Only the scoring moves. The file is read, checked and written by the same pipelines as
on one machine (:func:`reward.jobs.scoring.score_file`, :func:`reward.jobs.evaluate.evaluate_file`),
so every refusal, limit and value passed through is the same; :class:`RayModel` stands in
for the loaded model there. Its :meth:`RayModel.score_pairs` turns all the pairs into one
Ray Data dataset, scores it with ``map_batches`` over an actor pool in which each actor
loads the model once through :func:`reward.model.reward_model.load_from_settings` (same settings, so
the same encoding, precision, length cut and batch size), and puts each score back at its
row. A replica that dies is restarted by Ray and its batch run again.

Before Ray starts, the model is loaded once here, on the CPU (:func:`check_model_here`), so that a model that
cannot load gets the local path's one-line message instead of every replica's traceback; and while Ray runs,
whatever it prints goes to stderr (:func:`stdout_to_stderr`), so that stdout carries only the command's output.

Ray is optional (``pip install -r requirements-ray.txt``): nothing here imports it until
a run asks for it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import socket
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reward.config import (
    CHUNK_ROWS,
    RAY_BATCH_RETRIES,
    RAY_CONNECT_SECONDS,
    RAY_CPUS_PER_WORKER,
    RAY_WORKER_RESTARTS,
    ConfigError,
    ModelLoadError,
    Settings,
    precision_problem,
)

if TYPE_CHECKING:
    from reward.model.reward_model import PairScore

RAY_INSTALL = "pip install -r requirements-ray.txt"
EXIT_FOR_TESTS_ENV = "RAY_REPLICA_EXIT_FOR_TESTS"
"""For tests only, never a setting: ``N:MARKER`` makes the first replica to reach its Nth batch exit abruptly,
once (it creates the file MARKER; a replica finds it there after its restart and goes on). Unset, nothing
happens. A kill from outside would need Ray's state API (the dashboard) and lands at a random point of the job:
before the first batch or after the last; this one always lands mid-run."""


class EngineFailed(RuntimeError):
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
    """Pairs in one Ray batch: one call to a replica, and what is scored again when one dies. The local path's
    chunk, so that each pair shares its forward passes with the same pairs, and gets the same score."""

    def check(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"--workers {self.workers}: give at least 1 model replica.")
        if self.gpus_per_worker < 0:
            raise ConfigError(f"--gpus-per-worker {self.gpus_per_worker:g}: give 0 (CPU) or more.")
        if self.batch_rows < 1:
            raise ConfigError("the Ray batch size must be at least 1 row.")


class ScoringReplica:
    """One model replica of the actor pool: loads the model once, then scores the batches it is given."""

    def __init__(self, settings: Settings, threads: int, die_at: str | None = None) -> None:
        import torch
        from transformers.utils import logging as transformers_logging

        from reward.model.reward_model import load_from_settings

        if threads > 0:
            torch.set_num_threads(threads)
        transformers_logging.disable_progress_bar()
        self.model = load_from_settings(settings)
        self.batches = 0
        self.die_at = die_at

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        self.batches += 1
        if self.die_at:
            _die_once(self.die_at, self.batches)
        scored = self.model.score_pairs(batch["prompt"].tolist(), batch["response"].tolist())
        return {"row": batch["row"],
                "score": np.array([s.score for s in scored], dtype=np.float64),
                "tokens": np.array([s.tokens for s in scored], dtype=np.int64),
                "truncated": np.array([s.truncated for s in scored], dtype=bool)}


def _die_once(spec: str, batches: int) -> None:
    """The test hook of :data:`EXIT_FOR_TESTS_ENV`."""
    at, _, marker = spec.partition(":")
    if batches == int(at):
        try:
            with open(marker, "x"):
                pass
        except FileExistsError:
            return
        os._exit(1)


class RayModel:
    """What the scoring pipelines need of a model (``score_pairs``, ``max_length``), scored on Ray."""

    def __init__(self, settings: Settings, options: RayOptions) -> None:
        self.settings = settings
        self.options = options
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

    def score_pairs(self, prompts: Sequence[str], responses: Sequence[str], *,
                    progress: Callable[[int, int], None] | None = None) -> list[PairScore]:
        """Score each ``(prompts[i], responses[i])`` pair on the cluster; results are in input order."""
        import numpy as np
        import pyarrow as pa
        import ray

        from reward.model.reward_model import PairScore

        n = len(prompts)
        if n != len(responses):
            raise ValueError(f"{n} prompts but {len(responses)} responses: give one prompt per response.")
        if n == 0:
            return []
        step = self.options.batch_rows
        blocks = [pa.table({"row": np.arange(start, min(start + step, n), dtype=np.int64),
                            "prompt": pa.array(prompts[start:start + step], type=pa.large_string()),
                            "response": pa.array(responses[start:start + step], type=pa.large_string())})
                  for start in range(0, n, step)]
        workers, cpus = self.replicas()
        with warnings.catch_warnings():
            # Ray 2.60 warns that actor options passed this way will go in 2.64, but offers no other way to
            # set them for map_batches; requirements-ray.txt pins 2.60.
            warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
            dataset = ray.data.from_arrow(blocks).map_batches(
                ScoringReplica, batch_size=step, batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=workers),
                fn_constructor_kwargs={"settings": self.settings, "threads": int(cpus),
                                       "die_at": os.environ.get(EXIT_FOR_TESTS_ENV)},
                num_cpus=cpus, num_gpus=self.options.gpus_per_worker or None,
                max_restarts=RAY_WORKER_RESTARTS, max_task_retries=RAY_BATCH_RETRIES)
        scores = np.full(n, np.nan)
        tokens = np.zeros(n, dtype=np.int64)
        truncated = np.zeros(n, dtype=bool)
        seen = np.zeros(n, dtype=bool)
        done = 0
        try:
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                rows = batch["row"]
                scores[rows], tokens[rows], truncated[rows], seen[rows] = (
                    batch["score"], batch["tokens"], batch["truncated"], True)
                done += len(rows)
                if progress is not None:
                    progress(done, n)
        except (KeyboardInterrupt, ValueError):
            raise
        except Exception as err:
            raise EngineFailed(f"Ray gave up on the job: {_first_line(err)}") from err
        if not seen.all():  # cannot happen unless Ray lost batches; never write a file with holes
            raise EngineFailed(f"Ray returned {int(seen.sum()):,} of {n:,} scores.")
        return [PairScore(float(s), int(t), bool(c)) for s, t, c in zip(scores, tokens, truncated)]


def _first_line(err: BaseException) -> str:
    """The useful line of a Ray error, whole: the cause's own ``Type: message`` line when it has one."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    for line in reversed(lines):
        if line.split(":")[0].endswith(("Error", "Exception")) and not line.startswith("ray."):
            return line
    return lines[0] if lines else type(err).__name__


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


@contextlib.contextmanager
def stdout_to_stderr():
    """Send to stderr what is printed to stdout meanwhile, by Python (Ray's driver prints a dead worker's
    notice to ``sys.stdout``) or by the file descriptor (processes started meanwhile inherit it)."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    python_stdout, sys.stdout = sys.stdout, sys.stderr
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stdout = python_stdout
        os.dup2(saved, 1)
        os.close(saved)


class RayEngine:
    """A Ray connection for one command: ``model()`` connects (or starts a local Ray) and returns a
    :class:`RayModel`; ``close()`` shuts Ray down again only if it was started here."""

    def __init__(self, settings: Settings, options: RayOptions) -> None:
        options.check()
        self.settings, self.options = settings, options
        self.started = False
        self.redirect = contextlib.ExitStack()

    def model(self) -> RayModel:
        ray = import_ray()
        check_model_here(self.settings, self.options.gpus_per_worker)
        self.redirect.enter_context(stdout_to_stderr())  # until close(): Ray's own lines never reach stdout
        if not ray.is_initialized():
            _check_reachable(self.options.address)
            try:
                if self.options.address:
                    ray.init(address=self.options.address, logging_level=logging.WARNING, log_to_driver=False)
                else:
                    ray.init(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as err:
                where = f"the Ray cluster at {self.options.address}" if self.options.address else "a local Ray"
                raise EngineFailed(f"cannot start or reach {where}: {_first_line(err)}. Check --address (the "
                                   "head node's `ray status` shows it), or leave it out to run on this "
                                   "machine.") from None
            self.started = True
        import ray.data

        _quiet_ray()
        ray.data.DataContext.get_current().enable_progress_bars = False  # ours is the one on the terminal
        return RayModel(self.settings, self.options)

    def close(self) -> None:
        with self.redirect:
            if self.started:
                import ray

                ray.shutdown()
                self.started = False


def _check_reachable(address: str | None) -> None:
    """Fail at once, in one line, when a HOST:PORT address does not answer (Ray itself retries for minutes)."""
    host, _, port = (address or "").rpartition(":")
    if not host or "://" in address or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=RAY_CONNECT_SECONDS).close()
    except OSError as err:
        raise EngineFailed(f"cannot reach the Ray cluster at {address} ({err.strerror or err}). Check --address "
                           "(`ray status` on the head node shows it), or use --address auto on a node of the "
                           "cluster.") from None


def _quiet_ray() -> None:
    """Ray's own start-up and execution logs: warnings only, so the progress bar and the summary stay readable."""
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
