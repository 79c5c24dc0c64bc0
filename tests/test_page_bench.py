"""bench/page.py, bench/explain.py and bench/contrast.py, quick: each runs against the tiny model and prints every
figure it promises."""

import re
import subprocess
import sys

from reward.config import EXPLAIN_MAX_PARTS
from tests.conftest import ROOT


def table_of(stdout: str) -> dict[str, str]:
    return dict(re.findall(r"^\| ([^|]+?) \| (.+?) \|", stdout, re.MULTILINE))


def test_the_page_bench_times_every_part_a_person_waits_for():
    run = subprocess.run([sys.executable, "bench/page.py", "--quick"], cwd=ROOT, capture_output=True, text=True,
                         timeout=600, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    table = table_of(run.stdout)
    parts = ["first panel (score, tokens)", "sentence effects", "unfolding curve", "last panel (probes)"]
    for state in ("cold", "warm"):
        seconds = [float(table[f"row {state}: {part}"]) for part in parts]
        assert seconds == sorted(seconds), f"the parts of a {state} row click came out of order: {seconds}"
    assert float(table["card: Score, to the ranking"]) < float(
        table["card: Score and a click on the top row, to its last panel"])
    assert "token detail, 200-token answer" in table
    assert re.search(r"Token detail: \d+ steps", run.stdout)


def test_the_explain_bench_runs_cold_warm_and_long():
    run = subprocess.run([sys.executable, "bench/explain.py", "--quick", "--steps", "4"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    lines = run.stdout.splitlines()
    long_row = next(line for line in lines if line.startswith("| (d) explain()"))
    assert f"{EXPLAIN_MAX_PARTS} segments" in long_row and "1,400 sentences" in long_row
    assert any(line.startswith("| (b') explain() again, warm") for line in lines)


def test_the_contrast_bench_times_contrast_and_flip_beside_the_naive_counts():
    run = subprocess.run([sys.executable, "bench/contrast.py", "--quick"], cwd=ROOT, capture_output=True, text=True,
                         timeout=600, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    rows = [line for line in run.stdout.splitlines() if line.startswith("| /")]
    assert rows[0].startswith("| /contrast |") and "IG steps" in rows[0]
    flips = [row for row in rows if row.startswith("| /flip")]
    assert len(flips) == 4 and all("greedy" in row and "exhaustive" in row for row in flips)
    # Every score the bench reports is the card's on the returned text.
    for row in rows:
        assert float(row.rstrip(" |").rsplit("|", 1)[1]) < 1e-4, row
