"""Rows per second of ``python -m reward score``: the local path against ``--engine ray`` with 1 and 2 replicas.

    python bench/ray_throughput.py                          # tiny model and, if built, the BERT-base-size one
    python bench/ray_throughput.py --tiny-rows 600 --base-rows 120

Rows: (prompt, response) pairs split from ``../shared/data/hh-rlhf-harmless-base-test.jsonl.gz`` (chosen side),
written as Parquet. Models: the tiny test model (``reward/tiny.py``) and, when ``bench/.cache/bert-base-random``
exists (``bench/benchmark.py`` builds it), the BERT-base-size model with random weights, which runs exactly as
fast as the real one. Each engine runs the real command as a subprocess (Ray starts in it, on this machine),
in turns; the output files are checked to be the same. Two rates each: the whole command (start-up, Ray's
start, replicas loading the model, reading, writing) and the scoring alone (the summary's "scored N rows in
S s", which on Ray includes the replicas' start). Finally an estimate on paper, marked as such, for N replicas.
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
ENGINES = (("local", []), ("ray, 1 replica", ["--engine", "ray", "--workers", "1"]),
           ("ray, 2 replicas", ["--engine", "ray", "--workers", "2"]))


def write_rows(path: Path, rows: int) -> int:
    import pandas as pd

    from reward.pairs import split_dialogues
    from reward.writing import write_table

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


def run(model: Path, source: Path, output: Path, extra: list[str]) -> tuple[float, float]:
    """(wall seconds of the whole command, seconds of the scoring alone)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    command = [sys.executable, "-m", "reward", "score", str(source), "-o", str(output), "--model", str(model),
               "--device", "cpu", "-q", "--chunk-rows", str(CHUNK_ROWS), *extra]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    found = re.search(r"scored [\d,]+ rows in ([\d.]+) s", done.stdout)
    if done.returncode or not found:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return wall, float(found.group(1))


def same_output(a: Path, b: Path) -> float:
    """The largest score difference between two outputs; every other column must be equal."""
    import pandas as pd

    from reward.reading import read_table

    x, y = read_table(a), read_table(b)
    pd.testing.assert_frame_equal(x.drop(columns="score"), y.drop(columns="score"))
    return float((x["score"] - y["score"]).abs().max())


def bench(name: str, model: Path, rows: int, work: Path) -> None:
    source = work / f"{name}.parquet"
    n = write_rows(source, rows)
    print(f"\n{name}: {n} rows ({os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})")
    print("| engine | whole command s | rows/s | scoring s | rows/s (scoring) | x local (scoring) | "
          "max score diff vs local |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    local_rate = None
    for label, extra in ENGINES:
        output = work / f"{name}-{label.replace(' ', '').replace(',', '-')}.parquet"
        wall, scoring = run(model, source, output, extra)
        rate = n / scoring
        local_rate = local_rate or rate
        diff = same_output(work / f"{name}-local.parquet", output)
        print(f"| {label} | {wall:.1f} | {n / wall:.1f} | {scoring:.1f} | {rate:.1f} | {rate / local_rate:.2f} | "
              f"{diff:.1e} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny-rows", type=int, default=600)
    parser.add_argument("--base-rows", type=int, default=120)
    args = parser.parse_args()
    from reward.tiny import build_tiny_reward_model

    work = Path(tempfile.mkdtemp(prefix="ray-bench-"))
    bench("tiny", build_tiny_reward_model(work / "tiny-model"), args.tiny_rows, work)
    if (BASE / "config.json").exists():
        bench("bert-base", BASE, args.base_rows, work)
    else:
        print(f"\n(no {BASE}: run bench/benchmark.py once to build the BERT-base-size model)")


if __name__ == "__main__":
    main()
