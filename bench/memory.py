"""Measure the peak memory (RSS) of ``python -m reward score`` on files with one huge cell, and on an ordinary file.

    python bench/memory.py                          # a 5 MB and a 50 MB cell, and 64 ordinary rows
    python bench/memory.py --cells 5 --markdown bench/results-memory.md
    python bench/memory.py --cells 5 99 --timeout 1200

It builds the tiny test model (:func:`reward.model.tiny.build_tiny_reward_model`) and writes its inputs into a temporary
folder as JSONL: one row whose response is a cell of N MB of ordinary English text, for each N of ``--cells``,
and a file of 64 ordinary rows. Each file is scored by the real command line in a child process,
``python -m reward score IN -o OUT --model TINY -q``; the child's peak RSS is read from ``os.wait4`` (what
``/usr/bin/time -v`` reports as "Maximum resident set size"), with its wall time and exit code.

The model reads at most ``max_length`` tokens of a pair, so the memory beyond the 64-row run is what tokenizing
the big cell costs (plus the cell itself, read and written, a few times its size). A run that passes
``--timeout`` is killed and reported with exit code "timeout".
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = [
    "Why is AI Ethics important?",
    "The field of AI Ethics delves deeply into the ethical considerations that arise with respect to AI systems.",
    "Paris is the capital and largest city of France.",
    "Mix flour, water, salt and yeast, knead, let it rise, then bake.",
    "Plants use sunlight to turn air and water into food.",
    "That is a great question, thank you for asking!",
]


def english(chars: int) -> str:
    """About ``chars`` characters of plain English, sentences in a fixed shuffled order."""
    block = " ".join(SENTENCES[(i * 7) % len(SENTENCES)] for i in range(997)) + " "
    return (block * (chars // len(block) + 1))[:chars]


def write_inputs(folder: Path, cells_mb: list[float]) -> list[tuple[str, Path]]:
    inputs = []
    for mb in cells_mb:
        path = folder / f"cell-{mb:g}mb.jsonl"
        with open(path, "w", encoding="utf-8") as out:
            out.write(json.dumps({"prompt": "Summarize this text.", "response": english(int(mb * 1_000_000))}) + "\n")
        inputs.append((f"1 row, {mb:g} MB response", path))
    path = folder / "ordinary-64.jsonl"
    with open(path, "w", encoding="utf-8") as out:
        for i in range(64):
            row = {"prompt": SENTENCES[i % len(SENTENCES)], "response": english(200 + 37 * i)[i % 50:]}
            out.write(json.dumps(row) + "\n")
    inputs.append(("64 ordinary rows", path))
    return inputs


def measure(path: Path, model: Path, timeout: float) -> tuple[float, float, str]:
    """Peak RSS in MiB, seconds, and exit code of one scoring run in a child process."""
    command = [sys.executable, "-m", "reward", "score", str(path), "-o", str(path.with_suffix(".scored.jsonl")),
               "--model", str(model), "--device", "cpu", "-q"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    log = path.with_suffix(".stderr")
    start = time.perf_counter()
    with open(log, "wb") as stderr:
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    code: str | None = None
    while code is None:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            code = str(os.waitstatus_to_exitcode(status))
        elif time.perf_counter() - start > timeout:
            child.send_signal(signal.SIGKILL)
            _, _, usage = os.wait4(child.pid, 0)
            code = "timeout"
        else:
            time.sleep(0.05)
    child.returncode = 0  # reaped by wait4 above
    seconds = time.perf_counter() - start
    error = log.read_text(encoding="utf-8", errors="replace").strip()
    if code not in ("0", "timeout") and error:
        print(f"  {path.name}: {error.splitlines()[-1]}", file=sys.stderr)
    return usage.ru_maxrss / 1024, seconds, code  # ru_maxrss is in KiB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=float, nargs="+", default=[5, 50], metavar="MB",
                        help="sizes of the one huge cell, in MB (default: 5 50)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds a run may take (default: 900)")
    parser.add_argument("--markdown", type=Path, default=None, metavar="PATH", help="also write the table here")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from reward.model.tiny import build_tiny_reward_model

    rows = []
    with tempfile.TemporaryDirectory(prefix="reward-memory-") as tmp:
        folder = Path(tmp)
        model = build_tiny_reward_model(folder / "tiny-model")
        for name, path in write_inputs(folder, args.cells):
            peak, seconds, code = measure(path, model, args.timeout)
            rows.append((name, f"{path.stat().st_size / 1e6:.1f}", f"{peak:.0f}", f"{seconds:.1f}", code))
            print(f"{name:<26} {rows[-1][1]:>8} MB file {rows[-1][2]:>7} MiB peak {rows[-1][3]:>7} s  exit {code}",
                  flush=True)
    header = ("input", "file MB", "peak RSS MiB", "seconds", "exit code")
    table = "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                      + ["| " + " | ".join(row) + " |" for row in rows])
    print("\n" + table)
    if args.markdown:
        args.markdown.write_text(f"Peak RSS of `python -m reward score` (tiny model, CPU), from `bench/memory.py`.\n\n"
                                 f"{table}\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
