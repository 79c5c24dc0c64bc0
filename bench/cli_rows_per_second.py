"""Measure rows/s of ``python -m reward score`` on the shared HH-RLHF pairs, end to end.

    python bench/cli_rows_per_second.py                     # tiny model, all rows
    python bench/cli_rows_per_second.py --size base         # BERT-base size (random weights), all rows
    python bench/cli_rows_per_second.py --size base --every 4   # every 4th row: a quicker estimate

It splits ``../shared/data/hh-rlhf-harmless-base-test.jsonl.gz`` (see its README) into
(prompt, response) rows, one for each side of each pair, the way ``reward.jobs.pairs``
splits them, leaving out the few empty responses that ``score`` refuses; builds the model
(the tiny test model, or ``BertConfig()`` with ``vocab_size=28996, num_labels=1`` and random
weights, which runs exactly as fast as the real model); then times the real command line
as a subprocess and prints its summary line and the wall time.

The BERT-base-size model's tokenizer is a cased WordPiece of 28,996 tokens trained on the
same dialogues (``--tokenizer tiny`` reuses the tiny model's 388-token one instead), so that
token counts, and so the time, are close to the real cased BERT vocabulary's; its scores
mean nothing.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "hh-rlhf-harmless-base-test.jsonl.gz"


def write_rows(path: Path, every: int) -> int:
    sys.path.insert(0, str(ROOT))
    from reward.jobs.pairs import split_dialogues

    n = 0
    with gzip.open(DATA, "rt", encoding="utf-8") as src, open(path, "w", encoding="utf-8") as out:
        for i, line in enumerate(src):
            if i % every:
                continue
            pair = json.loads(line)
            parts = split_dialogues(pair["chosen"], pair["rejected"])
            if parts is None:
                continue
            for response in parts[1:]:
                if response.strip():
                    out.write(json.dumps({"prompt": parts[0], "response": response}, ensure_ascii=False) + "\n")
                    n += 1
    return n


def build_base(folder: Path, tokenizer: str) -> Path:
    """A BERT-base-size reward model with random weights, saved as safetensors."""
    from transformers import AutoTokenizer

    sys.path.insert(0, str(ROOT))
    from reward.model.tiny import build_tiny_reward_model, save_random_reward_model, train_wordpiece_tokenizer

    if tokenizer == "tiny":
        tok = AutoTokenizer.from_pretrained(build_tiny_reward_model(folder / "tiny"))
    else:
        def texts():
            with gzip.open(DATA, "rt", encoding="utf-8") as src:
                for line in src:
                    pair = json.loads(line)
                    yield pair["chosen"]
                    yield pair["rejected"]

        tok = train_wordpiece_tokenizer(texts(), 28996)
    return save_random_reward_model(folder, tok, vocab_size=28996)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=["tiny", "base"], default="tiny")
    parser.add_argument("--tokenizer", choices=["trained", "tiny"], default="trained",
                        help="for --size base: a 28,996-token WordPiece trained on the data, or the tiny one")
    parser.add_argument("--every", type=int, default=1, help="use every Nth pair (1: all 2,312)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="build the model here and keep it")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cli-bench-"))
    rows_file = work / "hh_rows.jsonl"
    rows = write_rows(rows_file, args.every)
    model_dir = args.keep or work / "model"
    if not (model_dir / "config.json").exists():
        if args.size == "tiny":
            sys.path.insert(0, str(ROOT))
            from reward.model.tiny import build_tiny_reward_model

            build_tiny_reward_model(model_dir)
        else:
            build_base(model_dir, args.tokenizer)
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", TOKENIZERS_PARALLELISM="false")
    command = [sys.executable, "-m", "reward", "score", str(rows_file), "-o", str(work / "scored.jsonl"),
               "--model", str(model_dir), "--device", "cpu", "--quiet"]
    if args.batch_size:
        command += ["--batch-size", str(args.batch_size)]
    load_before = os.getloadavg()[0]
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, check=False, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    print(done.stdout.strip() or done.stderr.strip())
    # The machine may be shared: the CPU time the command got, and the load around it, say how much.
    print(f"{rows:,} rows; whole command {wall:.1f} s wall ({rows / wall:.1f} rows/s including start-up, model "
          f"load, reading and writing), {cpu:.1f} s of CPU ({cpu / wall:.2f} cores busy on average); "
          f"{os.cpu_count()} CPUs, load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after; "
          f"size={args.size}")


if __name__ == "__main__":
    main()
