"""Rows per second of ``python -m reward score``: the local path against ``--engine ray`` with 1 and 2 replicas.

    python bench/ray_throughput.py                          # tiny model and, if built, the BERT-base-size one
    python bench/ray_throughput.py --tiny-rows 600 --base-rows 320
    python bench/ray_throughput.py --device cuda            # on a GPU node: Ray replicas take one GPU each

Rows: (prompt, response) pairs split from ``../shared/data/hh-rlhf-harmless-base-test.jsonl.gz`` (chosen side),
written as Parquet. Models: the tiny test model (``reward/model/tiny.py``) and, when ``bench/.cache/bert-base-random``
exists (``bench/benchmark.py`` builds it), the BERT-base-size model with random weights, which runs exactly as
fast as the real one. Each engine runs the real command as a subprocess (Ray starts in it, on this machine),
in turns; the output files are checked to be the same, and stdout to be the summary line alone. Three rates
each: the whole command (start-up, Ray's start, replicas loading the model, reading, writing), the scoring
(the summary's "scored N rows in S s", which on Ray includes the replicas' start), and the steady rate, with
the model up: each engine also scores the first half of the rows, and the second half's rows over the extra
scoring time that took (start-up cancels out; the progress bar cannot tell, as Ray hands batches back in
bursts). Finally an estimate, marked as such, for N replicas from one replica's measured steady rate and
start-up.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "hh-rlhf-harmless-base-test.jsonl.gz"
BASE = ROOT / "bench" / ".cache" / "bert-base-random"
CHUNK_ROWS = 32
"""Rows scored together, by every engine (on Ray: one batch); small, so that both replicas get work."""
MIN_EXTRA_SECONDS = 5
"""The least extra scoring time, for the second half of the rows, that a steady rate is estimated from."""
ENGINES = (("local", []), ("ray, 1 replica", ["--engine", "ray", "--workers", "1"]),
           ("ray, 2 replicas", ["--engine", "ray", "--workers", "2"]))


def write_rows(path: Path, rows: int) -> int:
    import pandas as pd

    from reward.jobs.pairs import split_dialogues
    from reward.tables.writing import write_table

    prompts, responses = [], []
    with gzip.open(DATA, "rt", encoding="utf-8") as src:
        for line in src:
            pair = json.loads(line)
            parts = split_dialogues(pair["chosen"], pair["rejected"])
            if parts is not None and parts[1].strip():
                prompts.append(parts[0])
                responses.append(parts[1])
            if len(prompts) == rows:
                break
    write_table(pd.DataFrame({"id": range(len(prompts)), "prompt": prompts, "response": responses}), path)
    return len(prompts)


def run(model: Path, source: Path, output: Path, extra: list[str], device: str) -> tuple[float, float]:
    """(wall seconds of the whole command, seconds of the scoring alone)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    command = [sys.executable, "-m", "reward", "score", str(source), "-o", str(output), "--model", str(model),
               "--device", device, "-q", "--chunk-rows", str(CHUNK_ROWS), *extra]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    found = re.search(r"scored [\d,]+ rows in ([\d.]+) s", done.stdout)
    if done.returncode or not found or done.stdout.count("\n") != 1:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return wall, float(found.group(1))


def same_output(a: Path, b: Path) -> float:
    """The largest score difference between two outputs; every other column must be equal."""
    import pandas as pd

    from reward.tables.reading import read_table

    x, y = read_table(a), read_table(b)
    pd.testing.assert_frame_equal(x.drop(columns="score"), y.drop(columns="score"))
    return float((x["score"] - y["score"]).abs().max())


def bench(name: str, model: Path, rows: int, work: Path, device: str) -> None:
    half = rows // 2
    source, first_half = work / f"{name}.parquet", work / f"{name}-half.parquet"
    n = write_rows(source, rows)
    write_rows(first_half, half)
    print(f"\n{name}: {n} rows ({os.cpu_count()} CPUs, device {device}, load average {os.getloadavg()[0]:.1f})")
    print("| engine | whole command s | rows/s | scoring s | rows/s (scoring) | x local (scoring) | "
          "steady rows/s | start-up s | max score diff vs local |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    local_rate = None
    measured: dict[str, tuple[float, float, float]] = {}
    for label, extra in ENGINES:
        output = work / f"{name}-{label.replace(' ', '').replace(',', '-')}.parquet"
        if device != "cpu" and label != "local":
            extra = [*extra, "--gpus-per-worker", "1"]
        _, scoring_half = run(model, first_half, work / f"half-{output.name}", extra, device)
        wall, scoring = run(model, source, output, extra, device)
        rate = n / scoring
        local_rate = local_rate or rate
        # The second half of the rows cost what the longer run took more: start-up cancels out.
        steady = (n - half) / (scoring - scoring_half)
        startup = wall - n / steady  # everything but steady scoring: imports, Ray, model loads, reading, writing
        measured[label] = steady, startup, scoring - scoring_half
        diff = same_output(work / f"{name}-local.parquet", output)
        print(f"| {label} | {wall:.1f} | {n / wall:.1f} | {scoring:.1f} | {rate:.1f} | {rate / local_rate:.2f} | "
              f"{steady:.1f} | {startup:.1f} | {diff:.1e} |")
    estimate(*measured["ray, 1 replica"], device)


def estimate(rate: float, startup: float, extra_seconds: float, device: str) -> None:
    """R rows on N replicas like the one measured: start-up + R / (N x rate), the batches spread evenly."""
    total = 100_000
    if extra_seconds < MIN_EXTRA_SECONDS:
        print(f"\n(no estimate: the second half of the rows took {extra_seconds:.1f} s more, under "
              f"{MIN_EXTRA_SECONDS} s, too little to measure a rate from)")
        return
    print(f"\nEstimate, not measured: {total:,} rows on N replicas each as fast as the one measured here "
          f"({rate:.1f} rows/s steady on {device}, {startup:.0f} s start-up), start-up + rows / (N x rate):")
    for replicas in (1, 2, 4, 8, 16, 32):
        print(f"  N = {replicas:>2}: {(startup + total / (replicas * rate)) / 60:8.1f} min")
    print("(a replica on a GPU: run this script there with --device cuda; its 'ray, 1 replica' steady rate is r)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny-rows", type=int, default=600)
    parser.add_argument("--base-rows", type=int, default=320)
    parser.add_argument("--skip-base", action="store_true", help="only the tiny model")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda (then each Ray replica takes one GPU)")
    args = parser.parse_args()
    from reward.model.tiny import build_tiny_reward_model

    work = Path(tempfile.mkdtemp(prefix="ray-bench-"))
    bench("tiny", build_tiny_reward_model(work / "tiny-model"), args.tiny_rows, work, args.device)
    if args.skip_base:
        return
    if (BASE / "config.json").exists():
        bench("bert-base", BASE, args.base_rows, work, args.device)
    else:
        print(f"\n(no {BASE}: run bench/benchmark.py once to build the BERT-base-size model)")


if __name__ == "__main__":
    main()
