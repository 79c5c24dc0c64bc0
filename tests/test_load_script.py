"""bench/load.py, small: concurrent gradio_client users against `python app.py`, every answer checked."""

import re
import subprocess
import sys

from tests.conftest import ROOT


def test_the_load_script_runs_and_every_answer_is_the_callers_own(tiny_model_dir):
    run = subprocess.run(
        [sys.executable, "bench/load.py", "--model", str(tiny_model_dir), "--users", "8", "--processes", "2",
         "--requests", "48", "--hostile-every", "8", "--flood", "6", "--unavailable", "24", "--time-limit", "240"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    table = dict(re.findall(r"^\| ([^|]+?) \| (.+?) \|$", run.stdout, re.MULTILINE))
    assert table["requests answered (checked)"] == "42"  # 48 minus the 6 hostile ones
    assert table["answers not matching their own request"] == "0"
    assert table["errors"] == "0"
    # Two each of 5,000 responses, a 2 MB text and a lone surrogate, all refused before the queue.
    assert table["hostile requests refused, slowest"].startswith("6,")
    assert re.match(r"\d+ answered, \d+ told to retry .*, 0 other errors", table["flood of 6 on a queue of 2"])
    # The model cannot be loaded: 21 requests get its one-line error, the 3 hostile ones are refused first.
    assert table["model unavailable: one-line load error, slowest"].startswith(
        "21 of 24 requests in "), table["model unavailable: one-line load error, slowest"]
    assert "(3 hostile refused first)" in table["model unavailable: one-line load error, slowest"]
    # Expected problems leave no traceback in any server's log.
    assert table["tracebacks in the server logs (load, model unavailable, flood)"] == "0, 0, 0"
