"""One command's Ray: its flags, starting or reaching Ray, and keeping Ray's own output off the terminal.

:class:`RayEngine` connects (or starts a local Ray) when the pipeline asks for the model, and hands it a
:class:`~reward.jobs.distributed.RayModel`; :meth:`RayEngine.close` stops the replicas, and Ray itself if it started
here. While Ray runs, whatever it prints, from Python or from its C++ core, goes to a log file
(:class:`RayOutput`), so that the terminal shows only the command's own lines: its progress bar, its output, and
at most one ``error:`` line, which names the log when Ray gave up. A SIGTERM stays the command's to handle (Ray's
handler would exit at once, and its C++ core would print a native stack dump).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import sys
import tempfile
import threading
from pathlib import Path
from typing import TextIO

from reward.config import RAY_BLOCK_CHUNKS, RAY_BLOCK_CHUNKS_PER_WORKER, RAY_CONNECT_SECONDS, ConfigError, Settings

from .distributed import EngineFailed, RayModel, RayOptions, check_model_here, import_ray, whole_reason

RAY_ONLY_FLAGS = {"address": "--address", "workers": "--workers", "gpus_per_worker": "--gpus-per-worker"}


def add_ray_arguments(parser: argparse.ArgumentParser) -> None:
    """``--engine`` and the flags that go with ``--engine ray``."""
    ray = parser.add_argument_group("scoring on a Ray cluster (pip install -r requirements-ray.txt)")
    ray.add_argument("--engine", choices=("local", "ray"), default="local",
                     help="local: this process (default); ray: model replicas on a Ray cluster, with the same "
                          "reading, checks and output")
    ray.add_argument("--address", default=None,
                     help="with --engine ray: the running cluster to use, e.g. auto (on one of its nodes) or "
                          "HOST:6379 (default: start a Ray on this machine, or use the one this process already "
                          "runs)")
    ray.add_argument("--workers", type=int, default=None, metavar="N",
                     help="with --engine ray: model replicas (default: one per --gpus-per-worker GPUs, or one per "
                          "4 CPUs without GPUs)")
    ray.add_argument("--gpus-per-worker", type=float, default=None, metavar="G",
                     help="with --engine ray: GPUs each replica takes (default 0: CPU)")


def check_ray_flags(args: argparse.Namespace) -> None:
    """Ray's flags only with ``--engine ray`` (never silently ignored); with it, Ray must be installed."""
    if args.engine == "ray":
        import_ray()  # before any reading: say at once how to install it
        return
    given = [flag for name, flag in RAY_ONLY_FLAGS.items() if getattr(args, name) is not None]
    if given:
        raise ConfigError(f"{' and '.join(given)} only work{'s' if len(given) == 1 else ''} with --engine ray: add "
                          f"--engine ray to score on Ray, or leave {'it' if len(given) == 1 else 'them'} out.")


def rows_at_once(args: argparse.Namespace) -> int:
    """Texts the pipeline hands the model at a time: a chunk (``--chunk-rows``). On Ray, ``score`` hands it the whole
    file as one job, still kept a chunk at a time (:func:`reward.jobs.scoring.scored_chunks`); ``evaluate`` hands it
    blocks of chunks, one job each, which the replicas score together, and which is what a job that Ray gives up on
    can lose."""
    if args.engine != "ray" or getattr(args, "command", None) == "score":
        return args.chunk_rows
    return args.chunk_rows * max(RAY_BLOCK_CHUNKS, RAY_BLOCK_CHUNKS_PER_WORKER * (args.workers or 0))


@contextlib.contextmanager
def ray_engine(args: argparse.Namespace, settings: Settings):
    """A :class:`RayEngine` for ``--engine ray`` (closed afterwards), else None."""
    if args.engine != "ray":
        yield None
        return
    # A Ray batch is a local chunk (--chunk-rows): the same pairs share forward passes, so the scores are the same.
    engine = RayEngine(settings, RayOptions(args.address, args.workers, args.gpus_per_worker or 0.0, args.chunk_rows))
    try:
        yield engine
    finally:
        engine.close()


class RayOutput:
    """Where Ray's own lines go while it runs: a log file instead of the terminal.

    Ray writes from Python (its loggers, a dead worker's notice, the replicas' errors it forwards) and from its C++
    core (warnings, a native stack dump), to the file descriptors 1 and 2 and to ``sys.stdout``: all of it goes to
    the log, and stdout carries nothing of Ray's. The command's progress bar writes to :meth:`terminal` instead.
    The log is removed at :meth:`stop` unless an error named it (:meth:`keep`).
    """

    def __init__(self) -> None:
        self.path: Path | None = None
        self.saved: dict[int, int] = {}
        self.terminals: dict[int, TextIO] = {}
        self.kept = False
        self.python_stdout: TextIO | None = None

    def start(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        log, path = tempfile.mkstemp(prefix="reward-ray-", suffix=".log")
        self.path = Path(path)
        for fd in (1, 2):
            self.saved[fd] = os.dup(fd)
            os.dup2(log, fd)
        os.close(log)
        # Ray prints some notices with print(), to whatever sys.stdout is: the log, never the command's output.
        self.python_stdout, sys.stdout = sys.stdout, sys.stderr

    def terminal(self, stream: TextIO) -> TextIO:
        """``stream``, or where it wrote before Ray's output was moved, when it writes to file descriptor 1 or 2."""
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):
            return stream
        if fd not in self.saved:
            return stream
        if fd not in self.terminals:
            # Closed in stop(): the bar draws on it for the whole run, so no `with` can hold it.
            self.terminals[fd] = open(os.dup(self.saved[fd]), "w", encoding=getattr(stream, "encoding", None),  # noqa: SIM115
                                      errors="backslashreplace")
        return self.terminals[fd]

    def keep(self) -> Path | None:
        """Keep the log after :meth:`stop`, to name it in an error; its path."""
        self.kept = self.path is not None
        return self.path

    def stop(self) -> None:
        if not self.saved:
            return
        for stream in (sys.stdout, sys.stderr, *self.terminals.values()):
            with contextlib.suppress(OSError, ValueError):  # a stream already closed has nothing left to flush
                stream.flush()
        for stream in self.terminals.values():
            stream.close()
        for fd, saved in self.saved.items():
            os.dup2(saved, fd)
            os.close(saved)
        self.saved, self.terminals = {}, {}
        sys.stdout = self.python_stdout
        if self.path is not None and not self.kept:
            self.path.unlink(missing_ok=True)


@contextlib.contextmanager
def _sigterm_handler_kept():
    """Put back the SIGTERM handler that ``ray.init`` replaces: Ray's exits at once, and its C++ core then prints a
    native stack dump; the command's keeps what was scored and ends in one line."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class RayEngine:
    """A Ray connection for one command: ``model()`` connects (or starts a local Ray) and returns a
    :class:`RayModel`; ``close()`` stops its replicas, and shuts Ray down again only if it was started here."""

    def __init__(self, settings: Settings, options: RayOptions) -> None:
        options.check()
        self.settings, self.options = settings, options
        self.started = False
        self.output = RayOutput()
        self.ray_model: RayModel | None = None

    def model(self) -> RayModel:
        ray = import_ray()
        check_model_here(self.settings, self.options.gpus_per_worker)
        self.output.start()  # until close(): Ray's own lines never reach the terminal
        if not ray.is_initialized():
            _check_reachable(self.options.address)
            address = self.options.address
            try:
                with _sigterm_handler_kept():
                    self.started = True  # from here on, close() shuts down whatever part of Ray did start
                    if address:
                        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
                    else:
                        ray.init(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
            except SystemExit:  # Ray's own SIGTERM handler, before ours was back: an interruption like any other
                raise KeyboardInterrupt from None
            except (ConnectionError, RuntimeError, ValueError) as err:
                where = f"the Ray cluster at {address}" if address else "a local Ray"
                raise EngineFailed(f"cannot start or reach {where}: {whole_reason(err)}. Check --address (the head "
                                   "node's `ray status` shows it), or leave it out to run on this machine.") from None
        import ray.data  # loads Ray Data, which the model's jobs run on

        _quiet_ray()
        self.ray_model = RayModel(self.settings, self.options, self.output.keep)
        return self.ray_model

    def terminal(self, stream: TextIO) -> TextIO:
        """Where to draw on ``stream`` while Ray runs (see :meth:`RayOutput.terminal`)."""
        return self.output.terminal(stream)

    def close(self) -> None:
        try:
            if self.ray_model is not None:
                self.ray_model.stop()
            if self.started:
                import ray

                ray.shutdown()
                self.started = False
        finally:
            self.output.stop()


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
    """Ray's own start-up and execution logs: errors only, so that its log holds what matters."""
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
