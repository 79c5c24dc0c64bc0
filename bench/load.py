"""Load test: many concurrent gradio_client users against the real app on loopback.

Launches ``python app.py`` on the tiny offline model (or ``--model``), drives it
with ``--users`` concurrent clients (spread over ``--processes`` client processes,
so that the client side is not what gets measured) for ``--requests`` requests in
total, checks every answer against the right one for its own request (computed
independently in this process), and prints throughput, latency percentiles,
errors, rejections and the server's resident memory along the run. Hostile requests
(thousands of responses, megabytes of text, a lone UTF-16 surrogate) are mixed in and
must be refused before they queue. A second run, on a model that cannot be loaded, must
answer every request at once with the one-line load error. A third floods a tiny queue:
callers beyond it must be told to retry at once instead of hanging. A traceback in any
server log is a bug (expected problems leave at most one line) and fails the run.

Everything stays on 127.0.0.1, and every loop is bounded in count and time.

    python bench/load.py                      # 48 users, 3,000 requests, tiny model
    python bench/load.py --users 32 --requests 500 --model path/to/model
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

WORDS = ("reward model answer prompt careful helpful wrong detail example because therefore however "
         "capital city France Paris bread flour water photosynthesis sunlight energy plants").split()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_request(i: int) -> tuple[str, list[str]]:
    """A unique, deterministic request: the prompt names its own number."""
    n = 2 + i % 5
    prompt = f"Request {i}: " + " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(3 + i % 9))
    responses = [" ".join(WORDS[(i * 13 + j * 5 + k) % len(WORDS)] for k in range(2 + (i + j) % 40))
                 for j in range(n)]
    return prompt, responses


CLIENT_TIMEOUT = 120.0  # the longest wait for one answer: a request unanswered by then counts as hung
LOAD_ERROR = "Cannot load reward model"
HOSTILE = (("Too many", ["x"] * 5000, "limit is"), ("Too long", ["y" * 2_000_000], "limit is"),
           ("Half an emoji", ["fine", "cut \ud83d"], "broken character"))
"""Requests the limits refuse before the queue, each with a word its refusal must hold; sent in turn."""


def send(client, url: str, prompt: str, responses: list[str]):
    """``client.predict``, given up after CLIENT_TIMEOUT. Text gradio_client cannot send (a lone surrogate:
    httpx 0.28 will not encode it) goes as a browser sends it, JSON with \\u escapes, and must be refused."""
    try:
        "".join([prompt, *responses]).encode()
    except UnicodeEncodeError:
        import httpx
        from gradio_client.exceptions import ValidationError

        answer = httpx.post(f"{url}gradio_api/call/score", content=json.dumps({"data": [prompt, responses]}),
                            headers={"Content-Type": "application/json"}, timeout=CLIENT_TIMEOUT)
        if answer.status_code == 422:
            raise ValidationError("; ".join(v["message"] for v in answer.json()["detail"] if not v["is_valid"]))
        raise RuntimeError(f"not refused before the queue: HTTP {answer.status_code}") from None
    return client.submit(prompt, responses, api_name="/score").result(timeout=CLIENT_TIMEOUT)


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    hostile_latencies: list[float] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rejected: int = 0
    memory: list[tuple[int, float]] = field(default_factory=list)
    """(requests finished, server RSS in MiB) about every tenth of the run: a plateau means no leak."""
    lock: threading.Lock = field(default_factory=threading.Lock)


TRACEBACK = "Traceback (most recent call last)"
LOGS: dict[str, str] = {}  # each server's log, by run: a traceback in one is a bug


@contextlib.contextmanager
def app_running(name: str, model: str, extra_env: dict[str, str] | None = None):
    """``python app.py`` on a free loopback port for the block: yields (process, URL); its log ends in LOGS[name].

    The log goes to a file, unbuffered, as a host's collector takes it (an unread pipe fills and stalls the server).
    """
    port = free_port()
    env = {**os.environ, "REWARD_MODEL": model, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    with tempfile.NamedTemporaryFile("w", prefix="reward-load-", suffix=".log", delete=False) as out:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    log, deadline = Path(out.name), time.monotonic() + 120
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the app did not start:\n{log.read_text()[-3000:]}") from None
                time.sleep(0.3)
        yield proc, f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        LOGS[name] = log.read_text(errors="replace")
        log.unlink()


def expected_answers(model_path: str, requests: list[tuple[str, list[str]]]) -> list[list[tuple[int, float]]]:
    """The right (index, score) list, best first, for each request, computed here, not by the server."""
    from reward.insight.ranking import rank_responses
    from reward.model.reward_model import load_reward_model

    rm = load_reward_model(model_path, device="cpu")
    out = []
    for prompt, responses in requests:
        ranked = rank_responses(responses, rm.score(prompt, responses))
        out.append([(r.index, r.score) for r in ranked])
    return out


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def _client(url: str):
    from gradio_client import Client

    # gradio_client's own default gives the queue-join POST 5 s; a browser waits far longer,
    # so a slow join shows up here as latency, not as an error.
    return Client(url, verbose=False, httpx_kwargs={"timeout": CLIENT_TIMEOUT})


def _user_process(url: str, threads: int, total: int, deadline_in: float, requests, expected,
                  hostile_every: int, expect_error: str | None, counter, done, ready) -> dict:
    """One load-generating process: ``threads`` clients taking request numbers from ``counter``.

    With ``expect_error`` (the model cannot be loaded) a valid request's right answer is that one-line error.
    """
    outcome = Outcome()
    deadline = time.monotonic() + deadline_in
    clients = [_client(url) for _ in range(threads)]
    ready.wait()

    def user(client) -> None:
        while time.monotonic() < deadline:
            with counter.get_lock():
                i = counter.value
                if i >= total:
                    return
                counter.value += 1
            is_hostile = hostile_every and i % hostile_every == hostile_every - 1
            prompt, responses, says = (HOSTILE[i // hostile_every % len(HOSTILE)] if is_hostile
                                       else (*requests[i % len(requests)], ""))
            start = time.perf_counter()
            try:
                records = send(client, url, prompt, responses)
                error = None
            except Exception as err:  # noqa: BLE001 - classified below
                records, error = None, err
            elapsed = time.perf_counter() - start
            with done.get_lock():
                done.value += 1
            with outcome.lock:
                if is_hostile:
                    outcome.hostile_latencies.append(elapsed)
                    # ValidationError: refused at queue join by the limits, without waiting in the queue.
                    if type(error).__name__ != "ValidationError" or says not in str(error):
                        outcome.wrong.append(f"hostile request {i} was not refused before the queue: {error!r}")
                    continue
                if expect_error is not None:
                    if type(error).__name__ == "AppError" and expect_error in str(error) and "\n" not in str(error):
                        outcome.latencies.append(elapsed)
                    else:
                        outcome.wrong.append(f"request {i} did not get the one-line load error: {error!r}"[:300])
                    continue
                if error is not None:
                    if "queue is full" in str(error).lower():
                        outcome.rejected += 1
                    else:
                        outcome.errors.append(f"{type(error).__name__}: {error}")
                    continue
                outcome.latencies.append(elapsed)
                got = [(r["index"], r["score"]) for r in records]
                want = expected[i % len(requests)]
                texts_ok = all(r["response"] == responses[r["index"]] for r in records)
                if [g[0] for g in got] != [w[0] for w in want] or not texts_ok or any(
                        abs(g[1] - w[1]) > 1e-4 for g, w in zip(got, want)):
                    outcome.wrong.append(f"request {i} got an answer that is not its own: {got} vs {want}")

    pool = [threading.Thread(target=user, args=(c,), daemon=True) for c in clients]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=max(1.0, deadline - time.monotonic() + CLIENT_TIMEOUT))
    for c in clients:
        c.close()
    return {k: v for k, v in outcome.__dict__.items() if k != "lock"}


def drive(url: str, users: int, total: int, time_limit: float, requests, expected, hostile_every: int,
          pid: int | None = None, processes: int = 8, expect_error: str | None = None) -> tuple[Outcome, float]:
    """Run ``users`` clients spread over ``processes`` processes, so one client process's GIL
    does not become the bottleneck that is measured. Memory is sampled every ~tenth of the run."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    processes = max(1, min(processes, users))
    ctx = mp.get_context("spawn")
    counter, done = ctx.Value("i", 0), ctx.Value("i", 0)
    ready = ctx.Barrier(processes + 1)
    outcome = Outcome()
    shares = [users // processes + (p < users % processes) for p in range(processes)]
    with ProcessPoolExecutor(processes, mp_context=ctx, initializer=_share,
                             initargs=(counter, done, ready)) as pool:
        futures = [pool.submit(_run_share, url, n, total, time_limit, requests, expected, hostile_every,
                               expect_error) for n in shares]
        ready.wait(timeout=300)
        start = time.perf_counter()
        next_sample = 0
        while not all(f.done() for f in futures):
            if pid is not None and done.value >= next_sample:
                outcome.memory.append((done.value, rss_mib(pid)))
                next_sample += max(1, total // 10)
            time.sleep(0.2)
        seconds = time.perf_counter() - start
        for f in futures:
            part = f.result()
            for key, value in part.items():
                if isinstance(value, list):
                    getattr(outcome, key).extend(value)
            outcome.rejected += part["rejected"]
    return outcome, seconds


_SHARED: tuple = ()


def _share(counter, done, ready) -> None:
    global _SHARED
    _SHARED = (counter, done, ready)


def _run_share(url, threads, total, time_limit, requests, expected, hostile_every, expect_error) -> dict:
    return _user_process(url, threads, total, time_limit, requests, expected, hostile_every, expect_error, *_SHARED)


def flood_tiny_queue(model: str, burst: int) -> tuple[int, int, int, float]:
    """Start an app with a queue of 2 and one worker, send ``burst`` slow requests at once.

    Returns (answered, rejected, other errors, slowest rejection in seconds).
    """
    from concurrent.futures import ThreadPoolExecutor

    slow = ("Why?", ["long answer " * 200] * 32)
    with app_running("flood", model, {"REWARD_QUEUE_SIZE": "2", "REWARD_CONCURRENCY": "1"}) as (_, url):
        clients = [_client(url) for _ in range(burst)]
        go = threading.Barrier(burst)

        def user(c) -> tuple[str, float]:
            go.wait()
            start = time.perf_counter()
            try:
                send(c, url, *slow)
                kind = "answered"
            except Exception as err:  # noqa: BLE001
                kind = "rejected" if "queue is full" in str(err).lower() else f"error: {err}"
            return kind, time.perf_counter() - start

        with ThreadPoolExecutor(burst) as pool:
            results = list(pool.map(user, clients))
    answered = sum(k == "answered" for k, _ in results)
    rejected = [s for k, s in results if k == "rejected"]
    return answered, len(rejected), len(results) - answered - len(rejected), max(rejected, default=float("nan"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=48, help="concurrent clients (default 48)")
    parser.add_argument("--requests", type=int, default=3000, help="requests in total (default 3000)")
    parser.add_argument("--time-limit", type=float, default=600, help="stop sending after this many seconds")
    parser.add_argument("--model", help="model folder (default: build the tiny test model)")
    parser.add_argument("--hostile-every", type=int, default=100, help="every Nth request is hostile (0: none)")
    parser.add_argument("--processes", type=int, default=8,
                        help="client processes the users are spread over (default 8)")
    parser.add_argument("--flood", type=int, default=24, help="burst size against a queue of 2 (0: skip)")
    parser.add_argument("--unavailable", type=int, default=600,
                        help="requests to an app whose model cannot be loaded (default 600; 0: skip)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            from reward.model.tiny import build_tiny_reward_model

            model = str(build_tiny_reward_model(Path(tmp) / "tiny"))
        requests = [make_request(i) for i in range(min(args.requests, 500))]
        print(f"computing the expected answers of {len(requests)} distinct requests ...", flush=True)
        expected = expected_answers(model, requests)

        with app_running("load", model) as (proc, url):
            drive(url, 4, 40, 60, requests, expected, 0, processes=1)
            before = rss_mib(proc.pid)
            print(f"driving {args.users} users, {args.requests} requests ...", flush=True)
            outcome, seconds = drive(url, args.users, args.requests, args.time_limit, requests, expected,
                                     args.hostile_every, proc.pid, args.processes)
            after = rss_mib(proc.pid)
        broken = None
        if args.unavailable:  # the same requests, the model folder missing: each must get the load error
            with app_running("model unavailable", str(Path(tmp) / "missing-model")) as (_, url):
                broken = drive(url, args.users, args.unavailable, CLIENT_TIMEOUT, requests, None,
                               args.hostile_every, processes=args.processes, expect_error=LOAD_ERROR)
        flood = flood_tiny_queue(model, args.flood) if args.flood else None

    ok = len(outcome.latencies)
    print()
    print("| measure | value |")
    print("| --- | --- |")
    print(f"| concurrent users | {args.users} (in {min(args.processes, args.users)} client processes) |")
    print(f"| requests answered (checked) | {ok} |")
    print(f"| throughput | {ok / seconds:.1f} requests/s |")
    print(f"| latency p50 / p95 / p99 / max | {percentile(outcome.latencies, 50) * 1000:.0f} / "
          f"{percentile(outcome.latencies, 95) * 1000:.0f} / {percentile(outcome.latencies, 99) * 1000:.0f} / "
          f"{max(outcome.latencies, default=float('nan')) * 1000:.0f} ms |")
    print(f"| answers not matching their own request | {len(outcome.wrong)} |")
    print(f"| errors | {len(outcome.errors)} |")
    print(f"| rejected (queue full) | {outcome.rejected} |")
    if outcome.hostile_latencies:
        print(f"| hostile requests refused, slowest | {len(outcome.hostile_latencies)}, "
              f"{max(outcome.hostile_latencies) * 1000:.0f} ms (median "
              f"{statistics.median(outcome.hostile_latencies) * 1000:.0f} ms) |")
    print(f"| server log written | {len(LOGS['load'].encode()) / 1024:.0f} KiB |")
    print(f"| server memory before / after | {before:.0f} / {after:.0f} MiB ({after - before:+.0f} MiB) |")
    if outcome.memory:
        curve = ", ".join(f"{n:,}: {mib:.0f}" for n, mib in outcome.memory)
        print(f"| server memory along the run (requests: MiB) | {curve} |")
    if broken:
        out, secs = broken
        print(f"| model unavailable: one-line load error, slowest | {len(out.latencies)} of {args.unavailable} "
              f"requests in {secs:.1f} s ({len(out.hostile_latencies)} hostile refused first), "
              f"{max(out.latencies, default=float('nan')) * 1000:.0f} ms; server log "
              f"{len(LOGS['model unavailable'].splitlines())} lines |")
    if flood:
        answered, rejected, other, slowest = flood
        print(f"| flood of {args.flood} on a queue of 2 | {answered} answered, {rejected} told to retry "
              f"(slowest refusal {slowest * 1000:.0f} ms), {other} other errors |")
    tracebacks = {name: log.count(TRACEBACK) for name, log in LOGS.items()}
    print(f"| tracebacks in the server logs ({', '.join(tracebacks)}) | {', '.join(map(str, tracebacks.values()))} |")
    problems = outcome.wrong + outcome.errors + (broken[0].wrong + broken[0].errors if broken else [])
    for line in problems[:10]:
        print("  ", line)
    for name, log in LOGS.items():
        if tracebacks[name]:
            first = log[log.index(TRACEBACK):].splitlines()[:40]
            print(f"\nthe first traceback in the {name} server's log (a bug):\n" + "\n".join(first))
    failed = problems or (flood and flood[2]) or any(tracebacks.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
