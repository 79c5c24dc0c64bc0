"""`python app.py`'s log: an expected problem leaves at most one line, never a traceback; only a bug prints one.

Two apps run as a host runs them, stdout and stderr into one file: one on the tiny
model, one whose model folder is missing. Each test sends expected problems (refused
requests, bad uploads, requests while the model cannot load) and reads what they
added to the log.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError, ValidationError

from tests.conftest import ROOT, free_port

PROMPT = "Why is AI Ethics important?"
LOAD_ERROR = r"Cannot load reward model 'missing-model'.*REWARD_MODEL=/path"


class App:
    """A `python app.py` subprocess on loopback whose output goes to ``log``."""

    def __init__(self, model: Path, log: Path, **env: str) -> None:
        """``env``: more environment variables for the app (``REWARD_QUEUE_SIZE="8"``)."""
        self.port, self.log = free_port(), log
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "REWARD_MODEL": str(model), "GRADIO_SERVER_PORT": str(self.port),
               "GRADIO_SERVER_NAME": "127.0.0.1", "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
               # every line lands in the file when written, as a host's collector sees it
               "PYTHONUNBUFFERED": "1", **env}
        self._out = log.open("w")
        self.proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=self._out,
                                     stderr=subprocess.STDOUT)
        self._read = 0
        self._config: dict | None = None

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url, timeout=2)
                if "share=True" in self.log.read_text():  # Gradio's last start-up line: the rest is the tests'
                    self.new_lines()
                    return
                time.sleep(0.1)
            except OSError:
                assert self.proc.poll() is None, f"the app exited:\n{self.log.read_text()}"
                time.sleep(0.1)
        raise AssertionError(f"the app did not start:\n{self.log.read_text()}")

    def new_lines(self) -> list[str]:
        """The log's lines written since the last call."""
        text = self.log.read_text(errors="replace")
        new, self._read = text[self._read:], len(text)
        return new.splitlines()

    def __enter__(self) -> "App":
        """The app, up (stopped again if it does not come up); ``with App(...) as app:`` stops it after."""
        try:
            self.wait_until_up()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._out.close()

    def event(self, elem_id: str, trigger: str, **values) -> tuple[int, list]:
        """The page's event ``trigger`` on the element ``elem_id`` (the page's own events are private): its id,
        and its inputs as the page would send them, each at its default or at ``values[elem_id]``
        (element ids with ``-`` written as ``_``)."""
        config = self._config = self._config or httpx.get(f"{self.url}/config", timeout=10).json()
        components = {c["id"]: c.get("props", {}) for c in config["components"]}
        ids = {i for i, props in components.items() if props.get("elem_id") == elem_id}
        [dep] = [d for d in config["dependencies"] if any(t[0] in ids and t[1] == trigger for t in d["targets"])]
        values = {k.replace("_", "-"): v for k, v in values.items()}
        data = [values.get(components[i].get("elem_id"), components[i].get("value")) for i in dep["inputs"]]
        assert set(values) <= {components[i].get("elem_id") for i in dep["inputs"]}, "no such input"
        return dep["id"], data

    def call(self, event: tuple[int, list]) -> tuple[int, dict]:
        """Join the queue as the page does (JSON escapes non-ASCII, as the browser's client does); the final message."""
        fn_index, data = event
        session = uuid.uuid4().hex
        body = json.dumps({"data": data, "fn_index": fn_index, "session_hash": session})
        joined = httpx.post(f"{self.url}/gradio_api/queue/join", content=body,
                            headers={"Content-Type": "application/json"}, timeout=30)
        if joined.status_code != 200:
            return joined.status_code, joined.json()
        with httpx.stream("GET", f"{self.url}/gradio_api/queue/data", params={"session_hash": session},
                          timeout=30) as stream:
            for line in stream.iter_lines():
                message = json.loads(line[5:]) if line.startswith("data:") else {}
                if message.get("msg") == "process_completed":
                    return 200, message
        raise AssertionError("the stream ended without an answer")

    def upload(self, name: str, content: bytes) -> dict:
        paths = httpx.post(f"{self.url}/gradio_api/upload", files={"files": (name, content)}, timeout=30).json()
        return {"path": paths[0], "orig_name": name, "meta": {"_type": "gradio.FileData"}}


@pytest.fixture(scope="module")
def apps(tiny_model_dir, tmp_path_factory):
    """(the app on the tiny model, the app whose model cannot be loaded), started side by side."""
    tmp = tmp_path_factory.mktemp("server-log")
    started = [App(tiny_model_dir, tmp / "tiny.log"), App(tmp / "missing-model", tmp / "missing.log")]
    try:
        for app in started:
            app.wait_until_up()
        yield started
    finally:
        for app in started:
            app.stop()


@pytest.fixture
def tiny(apps):
    return apps[0]


@pytest.fixture
def broken(apps):
    return apps[1]


def assert_quiet(lines: list[str], problems: int) -> None:
    text = "\n".join(lines)
    assert "Traceback" not in text, text
    assert len(lines) <= problems, f"{len(lines)} log lines for {problems} expected problems:\n{text}"


def score_verdicts(answer: dict) -> dict[str, str]:
    """A 422's refusals: parameter name -> message."""
    return {v["parameter_name"]: v["message"] for v in answer["detail"] if not v["is_valid"]}


def test_the_broken_app_said_why_once_at_start(broken):
    start = broken.log.read_text()
    assert "Traceback" not in start
    assert [ln for ln in start.splitlines() if ln.startswith("error:")] == [
        next(ln for ln in start.splitlines() if "Cannot load reward model 'missing-model'" in ln)]


def test_requests_while_the_model_cannot_load_get_its_one_line_and_leave_no_traceback(broken):
    client = Client(broken.url + "/", verbose=False)
    for _ in range(3):
        with pytest.raises(AppError, match=LOAD_ERROR) as err:
            client.predict(PROMPT, ["a", "b"], api_name="/score")
        assert "\n" not in str(err.value)
    status, answer = broken.call(broken.event("score-btn", "click", prompt=PROMPT, response_1="a", response_2="b"))
    assert status == 200 and "Cannot load reward model" in answer["output"]["error"]
    good = broken.upload("qa.csv", b"prompt,response\nWhy?,Because.\n")
    status, answer = broken.call(broken.event("batch-btn", "click", batch_file=good))
    assert status == 200 and "Cannot load reward model" in answer["output"]["error"]
    assert_quiet(broken.new_lines(), 5)


BAD_UPLOADS = [
    ("notes.txt", b"prompt,response\nWhy?,Because.\n", "Invalid file type"),  # refused by Gradio's gr.File itself
    ("utf16.csv", "prompt,response\nWhy?,Because.\n".encode("utf-16"), "UTF-16"),
    ("binary.csv", b"\x00\x01\x02\xff" * 64, "binary.csv"),
    ("columns.csv", b"a,b\n1,2\n", "no column 'prompt'"),
    ("fake.parquet", b"prompt,response\nWhy?,Because.\n", "not a Parquet file"),
    ("broken.jsonl", b'{"prompt": "Why?", "response": \n', "broken.jsonl"),
    ("empty.csv", b"", "empty.csv"),
]


@pytest.mark.parametrize("name, content, message", BAD_UPLOADS, ids=[b[0] for b in BAD_UPLOADS])
def test_a_bad_upload_is_explained_and_leaves_no_traceback(tiny, name, content, message):
    """What the page does with a file: the upload's change event reads its columns, the buttons run the jobs.

    Listing the columns of a readable file succeeds; every job on a bad file is refused with a message.
    """
    upload = tiny.upload(name, content)
    lists = [tiny.call(tiny.event(f"{tab}-file", "change", **{f"{tab}_file": upload})) for tab in ("batch", "eval")]
    jobs = [tiny.call(tiny.event(f"{tab}-btn", "click", **{f"{tab}_file": upload})) for tab in ("batch", "eval")]
    assert all(status == 200 for status, _ in lists + jobs)
    for _, answer in jobs:
        assert answer["success"] is False and message in answer["output"]["error"], answer["output"]
    assert_quiet(tiny.new_lines(), len(lists) + len(jobs))


def test_a_file_job_with_no_file_is_explained_quietly(tiny):
    status, answer = tiny.call(tiny.event("batch-btn", "click", batch_file=None))
    assert status == 200 and "No file yet" in answer["output"]["error"]
    assert_quiet(tiny.new_lines(), 1)


def test_requests_over_the_limits_are_refused_quietly(tiny):
    client = Client(tiny.url + "/", verbose=False)
    refused = [("", ["a"], "prompt is empty"),
               (PROMPT, ["a"] * 33, "33 responses were sent"),
               (PROMPT, ["a"] * 32 + [""] * 8, "40 responses were sent; the limit is 32 per request, blank ones"),
               (PROMPT, ["x" * 20_001], "Response 1 is 20,001 characters"),
               (PROMPT, "one string", "list of texts")]
    for prompt, responses, message in refused:
        with pytest.raises(ValidationError) as err:
            client.predict(prompt, responses, api_name="/score")
        assert message in str(err.value)
    assert len(client.predict(PROMPT, ["a"] * 24 + [""] * 8, api_name="/score")) == 24  # 32 items: at the limit
    assert_quiet(tiny.new_lines(), len(refused))


SURROGATES = [
    ("a\ud800b", ["fine"], "prompt", "The prompt has a broken character at position 2 (U+D800"),
    (PROMPT, ["fine", "", "half an emoji \ud83d"], "responses",
     "Response 3 has a broken character at position 15 (U+D83D"),
    (PROMPT, ["\udc00"], "responses", "Response 1 has a broken character at position 1 (U+DC00"),
]


@pytest.mark.parametrize("prompt, responses, field, message", SURROGATES)
def test_a_lone_surrogate_is_refused_before_the_queue_over_http(tiny, prompt, responses, field, message):
    """JSON's "\\ud800" escape (a browser's JSON.stringify, httpx before 0.28) arrives as a lone surrogate."""
    body = json.dumps({"data": [prompt, responses]})  # ASCII with \\uXXXX escapes
    assert "\\ud" in body
    answer = httpx.post(f"{tiny.url}/gradio_api/call/score", content=body,
                        headers={"Content-Type": "application/json"}, timeout=30)
    assert answer.status_code == 422, answer.text
    verdicts = score_verdicts(answer.json())
    assert list(verdicts) == [field] and message in verdicts[field] and "Delete it" in verdicts[field]
    assert_quiet(tiny.new_lines(), 1)


def test_a_lone_surrogate_from_gradio_client_is_a_validation_error(tiny, monkeypatch):
    """httpx 0.28 (installed here) refuses to encode a lone surrogate, so gradio_client raises UnicodeEncodeError
    before sending anything; an httpx that escapes non-ASCII, as earlier releases did, sends it."""
    import httpx._content

    client = Client(tiny.url + "/", verbose=False)

    def escaping_encode_json(data):
        body = json.dumps(data, allow_nan=False).encode()
        return {"Content-Length": str(len(body)), "Content-Type": "application/json"}, httpx._content.ByteStream(body)

    monkeypatch.setattr(httpx._content, "encode_json", escaping_encode_json)
    for prompt, responses, _, message in SURROGATES:
        with pytest.raises(ValidationError, match=r"broken character") as err:
            client.predict(prompt, responses, api_name="/score")
        assert message in str(err.value)
    assert len(client.predict("Why 🙂?", ["🙂", "été"], api_name="/score")) == 2  # whole characters pass
    assert_quiet(tiny.new_lines(), len(SURROGATES))


def test_a_lone_surrogate_in_a_box_is_refused_on_that_box_by_the_pages_score(tiny):
    """The page's Score event: the message goes on the box at fault (inputs: prompt, count, box 1, box 2, ...)."""
    status, answer = tiny.call(tiny.event("score-btn", "click", prompt=PROMPT, response_1="fine",
                                          response_2="broken \udfff"))
    assert status == 422
    at_fault = [i for i, v in enumerate(answer["detail"]) if not v["is_valid"]]
    assert at_fault == [3] and "Response 2 has a broken character" in answer["detail"][3]["message"]
    status, answer = tiny.call(tiny.event("score-btn", "click", prompt="broken \ud800", response_1="fine"))
    assert status == 422 and [i for i, v in enumerate(answer["detail"]) if not v["is_valid"]] == [0]
    status, answer = tiny.call(tiny.event("score-btn", "click", prompt=PROMPT, response_1="fine",
                                          response_2="also fine 🙂"))
    assert status == 200 and answer["success"] is True
    assert_quiet(tiny.new_lines(), 2)
