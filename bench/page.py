"""Page latency, measured: what a person waits for on the Compare tab, against the real app.

Launches ``python app.py`` on a BERT-base-sized model (the folder ``bench/benchmark.py`` builds: ``BertConfig()``,
vocab 28996, one label, random weights, exactly as fast as ``nicholasKluge/RewardModel``) and drives it as the
page does, in one session:

  card      the model card's example end to end: Score (until the ranking is there), then a click on the top
            row (until its last panel, the probes, is there)
  row cold  a click on a ranked row never explained before: the time to the first panel (the score and the tokens
            read), to the sentence effects, to the unfolding curve, and to the last panel (the probes)
  row warm  the same row clicked again (after another row): every pair it scores is in the cache
  tokens    the token detail (integrated gradients, steps chosen by the completeness gap) of a 10-sentence answer
            of about 200 tokens, and the steps it took

The public endpoints go through ``gradio_client`` (``/score``, which the card row checks its ranking against).
The page's own events (Score, a row click, the token detail) are private to the page, and ``gradio_client``
refuses private events; so they are sent as the page sends them: ``/gradio_api/queue/join`` with the event's
index in the page's config, and its updates read from ``/gradio_api/queue/data``, in one session (whose state
carries the ranking from the Score to the clicks); a row click is the page's four chained events, each sent when
the one before has finished, as the browser sends them. Each time is from the click to the part on the page. ``--repeats`` runs of each, medians and spreads.

    python bench/page.py               # BERT-base size, random weights (a few minutes on 2 cores)
    python bench/page.py --quick       # the tiny test model, in seconds: proves the script runs
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from explain import (  # noqa: E402
    LONG,  # noqa: E402
    load_average,
    median_spread,
    model_folder,
)
from explain import PROMPT as LONG_PROMPT  # noqa: E402
from explain import RESPONSE as TEN_SENTENCES  # noqa: E402
from load import app_running, rss_mib  # noqa: E402


class PageSession:
    """One visitor's page: events sent as the browser sends them, in one session."""

    def __init__(self, url: str) -> None:
        import httpx

        self.url = url.rstrip("/")
        self.http = httpx.Client(timeout=600)
        self.session = uuid.uuid4().hex[:12]
        config = self.http.get(f"{self.url}/config").json()
        self.components = {c["id"]: c for c in config["components"]}
        self.events = {d["api_name"]: d for d in config["dependencies"] if d.get("api_name")}

    def send(self, event: str, data: list) -> tuple[list[float], list]:
        """Run the page's ``event`` with ``data``; returns the seconds from the request to each update the page
        receives (a generator's yields in order, then its completion) and the event's final outputs."""
        if event not in self.events:
            raise SystemExit(f"the page has no event {event!r}: bench/page.py follows ui/compare/tab.py")
        dep = self.events[event]
        start = time.perf_counter()
        joined = self.http.post(f"{self.url}/gradio_api/queue/join", json={
            "data": data, "event_data": None, "fn_index": dep["id"], "trigger_id": dep["targets"][0][0],
            "session_hash": self.session}).json()
        updates: list[float] = []
        with self.http.stream("GET", f"{self.url}/gradio_api/queue/data", params={"session_hash": self.session}) as s:
            for line in s.iter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") != joined["event_id"]:
                    continue
                if message.get("msg") == "process_generating":
                    updates.append(time.perf_counter() - start)
                elif message.get("msg") == "process_completed":
                    if not message.get("success", True):
                        raise SystemExit(f"{event} failed: {message.get('output')}")
                    updates.append(time.perf_counter() - start)
                    return updates, message["output"]["data"]
        raise SystemExit(f"{event}: the stream ended before the event completed")

    def close(self) -> None:
        self.http.close()


ROW_PARTS = {"first panel (score, tokens)": "explain_picked", "sentence effects": "explain_picked_parts",
             "unfolding curve": "explain_picked_curve", "last panel (probes)": "probe_picked"}
"""What a row click shows, part by part: the page's four chained events, each sent when the one before is done."""


def click_row(page: PageSession, label: str) -> dict[str, float]:
    """A click on the row ``label`` as the page makes it: the four events in turn; seconds from the click to each
    part on the page."""
    start, seen = time.perf_counter(), {}
    for part, event in ROW_PARTS.items():
        page.send(event, [None, label])
        seen[part] = time.perf_counter() - start
    return seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny test model: seconds, proves the script runs")
    parser.add_argument("--repeats", type=int, default=None, help="runs of each (default 3; quick 1)")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                        help="folder with the HH-RLHF file bench/benchmark.py trains the tokenizer on")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    from gradio_client import Client

    card = json.loads((ROOT / "assets" / "examples.json").read_text())["example_sets"][0]
    load_start = load_average()
    folder, model_name, keep = model_folder(args.quick, args.data)
    times: dict[str, list[float]] = {}
    steps_seen = []
    memory = []
    with app_running("page", str(folder)) as (server, url):
        api = Client(url, verbose=False)
        for run in range(repeats):
            page = PageSession(url)
            boxes = lambda responses: [*responses, *[""] * (16 - len(responses))]  # noqa: E731
            # the card's example, end to end (a fresh prompt each run: nothing cached)
            prompt = f"{card['prompt']} (run {run})"
            scored, out = page.send("score_page", [prompt, len(card["responses"]), *boxes(card["responses"])])
            times.setdefault("card: Score, to the ranking", []).append(scored[-1])
            labels = _labels(page, out)
            ranked = api.predict(prompt, card["responses"], api_name="/score")
            assert [f"#{r['rank']} · Response {r['index'] + 1} ({r['score']:+.3f})" for r in ranked] == labels
            row = click_row(page, labels[0])
            times.setdefault("card: Score and a click on the top row, to its last panel", []).append(
                scored[-1] + row["last panel (probes)"])
            # a row never explained (cold), then again after another row (warm)
            cold = click_row(page, labels[1])
            click_row(page, labels[0])
            warm = click_row(page, labels[1])
            for state, seen in (("cold", cold), ("warm", warm)):
                for name, seconds in seen.items():
                    times.setdefault(f"row {state}: {name}", []).append(seconds)
            # the token detail of a 200-token answer
            long_prompt = f"{LONG_PROMPT} (run {run})"
            _, out = page.send("score_page", [long_prompt, 1, *boxes([TEN_SENTENCES])])
            label = _labels(page, out)[0]
            click_row(page, label)
            detail, out = page.send("attribute_picked", [None, label, "words"])
            times.setdefault("token detail, 200-token answer", []).append(detail[-1])
            steps_seen.append(_steps(out))
            # a long answer of many short sentences, explained through the API: bounded answer and memory
            before = rss_mib(server.pid)
            start = time.perf_counter()
            explained = api.predict(LONG_PROMPT, LONG, api_name="/explain")
            times.setdefault(f"/explain, {len(LONG):,}-character answer of 1,400 sentences", []).append(
                time.perf_counter() - start)
            memory.append((before, rss_mib(server.pid), len(json.dumps(explained))))
            page.close()
    del keep
    print(f"\nModel: {model_name}, `python app.py` on this machine ({os.cpu_count()} cores), the page's events sent "
          f"as the browser sends them. Medians of {repeats} run(s) (min-max), seconds from the request.\n")
    print("| what a person waits for | seconds |")
    print("|---|---:|")
    for name, values in times.items():
        print(f"| {name} | {median_spread(values)} |")
    print(f"\nToken detail: {', '.join(steps_seen)}. The long /explain: answers of "
          f"{', '.join(f'{size / 1e3:,.0f} kB' for _, _, size in memory)}; server memory before / after it "
          f"{', '.join(f'{a:,.0f} / {b:,.0f} MiB' for a, b, _ in memory)}. "
          f"Load average at start / end: {load_start} / {load_average()}")
    return 0


def _labels(page: PageSession, outputs: list) -> list[str]:
    """The Why this score picker's choices, from a Score's outputs."""
    dep = page.events["score_page"]
    ids = [page.components[o]["props"].get("elem_id") for o in dep["outputs"]]
    return [c[0] if isinstance(c, list) else c for c in outputs[ids.index("why-picker")]["choices"]]


def _steps(outputs: list) -> str:
    note = next((o for o in outputs if isinstance(o, str) and "steps" in o), None)
    if note is None:
        return "steps not reported"
    words = note[note.rfind(" after "):].strip(" .")
    return words.removeprefix("after ")


if __name__ == "__main__":
    raise SystemExit(main())
