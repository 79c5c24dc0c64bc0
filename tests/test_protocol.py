"""Hand-made requests to `python app.py`: whatever a client sends, the log gets no traceback and none of its
texts, and the client gets one clear line, without Python's internals.

Each group of cases stands for a class of request that does not fit the app's API: an event or endpoint
that is not there, inputs missing or extra, a file that is not a file, a select without its data, a body
that is not JSON or nests too deep, and what Gradio's other routes cannot handle. The app also bounds how
many requests of a slow kind may wait, so that scoring keeps its place in the queue.
"""

import json
import re
import uuid

import httpx
import pytest

from reward.config import MAX_JSON_DEPTH
from tests.test_server_log import App, assert_quiet
from ui.protocol import BadJson, read_json

PROMPT = "Why is AI Ethics important?"
SECRET = "my passport number is SECRET-0451"
"""A user's text: it may come back to its own sender, never into the log."""
INTERNALS = re.compile(r"0x[0-9a-f]{6}|Traceback|<class |<gradio\.|NoneType|KeyError|TypeError|ValidationError|"
                       r"pydantic|Exception")


@pytest.fixture(scope="module")
def app(tiny_model_dir, tmp_path_factory):
    with App(tiny_model_dir, tmp_path_factory.mktemp("protocol") / "app.log") as started:
        yield started


@pytest.fixture
def quiet(app):
    """Asserts after the test that its requests left nothing in the log (the door's refusals are the caller's
    business), and never a user's text."""
    app.new_lines()
    yield
    lines = app.new_lines()
    assert_quiet(lines, 0)
    assert SECRET not in app.log.read_text()


def config(app: App) -> dict:
    return httpx.get(f"{app.url}/config", timeout=10).json()


def event_id(app: App, elem_id: str, trigger: str) -> int:
    return app.event(elem_id, trigger)[0]


def post(app: App, route: str, body) -> httpx.Response:
    content = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return httpx.post(f"{app.url}/gradio_api/{route}", content=content,
                      headers={"Content-Type": "application/json"}, timeout=30)


def join(app: App, body: dict) -> httpx.Response:
    return post(app, "queue/join", {"session_hash": uuid.uuid4().hex, **body})


def assert_refused(answer: httpx.Response, *says: str) -> str:
    """A refusal: 4xx, one line that says each of ``says``, no internals and none of the user's text."""
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
    detail = answer.json()["detail"]
    message = detail if isinstance(detail, str) else " ".join(v["message"] for v in detail if not v["is_valid"])
    assert message and "\n" not in message, message
    assert not INTERNALS.search(message), message
    assert SECRET not in answer.text
    for words in says:
        assert words in message, message
    return message


# -- reading a body: the depth is measured before any parser recurses -------------------------------------------

def nested(depth: int, inner: str = "") -> str:
    return '{"a": ' * depth + (inner or "1") + "}" * depth


@pytest.mark.parametrize("text", [nested(MAX_JSON_DEPTH), "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH,
                                  '{"data": ["[[[[ not nesting {{{{", "\\\"[[[["]}', '[1e999, NaN, -Infinity]',
                                  '{"a": [{"b": [{"c": []}]}, {}, []]}'])
def test_json_within_the_depth_is_read_as_json_reads_it(text):
    """Brackets inside strings, escaped quotes included, are text; NaN and Infinity read as Gradio reads them."""
    assert json.dumps(read_json(text.encode())) == json.dumps(json.loads(text))


@pytest.mark.parametrize("text", [nested(MAX_JSON_DEPTH + 1), "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1),
                                  "[" * 1_000_000 + "]" * 1_000_000, '["' + "x" * 10 + '", ' + nested(40) + "]"])
def test_json_deeper_than_the_limit_is_refused_before_it_is_parsed(text):
    with pytest.raises(BadJson, match=f"more than {MAX_JSON_DEPTH} levels deep"):
        read_json(text.encode())


@pytest.mark.parametrize("body", [b"", b"{", b'{"a": }', b"\xff\xfe\x00", "[" * 5000, b'{"a": 1} trailing'])
def test_what_is_not_json_is_refused_in_one_line(body):
    body = body.encode() if isinstance(body, str) else body
    with pytest.raises(BadJson) as err:
        read_json(body)
    message = str(err.value)
    assert "\n" not in message and ("not valid JSON" in message or "levels deep" in message), message


# -- events and endpoints that are not there ------------------------------------------------------------------

@pytest.mark.parametrize("fn_index", [99_999, "99999", -1])
def test_an_event_the_page_does_not_have(app, quiet, fn_index):
    assert_refused(join(app, {"fn_index": fn_index, "data": [SECRET]}), "reload the page")
    assert_refused(post(app, "run/predict", {"fn_index": fn_index, "data": [SECRET], "session_hash": "s"}),
                   "reload the page")


def test_an_event_that_runs_in_the_browser_only(app, quiet):
    [browser_only] = [d["id"] for d in config(app)["dependencies"] if not d["backend_fn"]]
    assert_refused(join(app, {"fn_index": browser_only, "data": [SECRET]}), "runs in the browser only")


@pytest.mark.parametrize("route", ["call/no_such_thing", "call/score_page", "call/pick_row", "call/v2/no_such_thing",
                                   "call/v2/score_page", "run/pick_row"])
def test_an_endpoint_that_is_not_there_names_the_ones_that_are(app, quiet, route):
    """The page's own events (score_page, pick_row) are not served by name: only the API's endpoints are."""
    body = {"prompt": SECRET} if "/v2/" in route else {"data": [SECRET]}
    assert_refused(post(app, route, body), "no such endpoint", "/score", "/explain", "/gradio_api/info")


# -- inputs missing or extra ----------------------------------------------------------------------------------

@pytest.mark.parametrize("route, body, says", [
    ("call/score", {"data": [SECRET]}, "Missing input: responses. /score takes prompt and responses."),
    ("call/score", {"data": []}, "Missing input: prompt and responses."),
    ("call/explain", {"data": [SECRET]}, "Missing input: response. /explain takes prompt and response."),
    ("call/attribute", {"data": [SECRET]}, "Missing input: response and steps."),
    ("call/probe", {"data": [PROMPT, SECRET, 3]}, "3 inputs were sent; /probe takes prompt and response."),
    ("call/v2/score", {"prompt": SECRET}, "Missing input: responses. /score takes prompt and responses."),
    ("call/v2/explain", {"prompt": PROMPT, "response": SECRET, "steps": 3}, "leave out any other input"),
])
def test_inputs_missing_or_extra_are_named_without_repeating_the_texts(app, quiet, route, body, says):
    assert_refused(post(app, route, body), says)


def test_the_pages_own_events_count_their_inputs_too(app, quiet):
    score = event_id(app, "score-btn", "click")
    assert_refused(join(app, {"fn_index": score, "data": [SECRET, 2, "a"]}), "15 inputs are missing",
                   "takes 18 inputs")
    assert_refused(join(app, {"fn_index": score, "data": [SECRET] * 19}), "19 inputs were sent")


def test_v2_with_an_optional_input_left_out_runs(app, quiet):
    """``steps`` has a default: leaving it out is not missing it."""
    assert post(app, "call/v2/attribute", {"prompt": PROMPT, "response": "It matters."}).status_code == 200


# -- a file that is not a file ---------------------------------------------------------------------------------

NOT_FILES = [
    {"path": 5, "meta": {"_type": "gradio.FileData"}},
    {"meta": {"_type": "gradio.FileData"}},
    SECRET,
    [SECRET, 2],
    {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}},
    {"path": f"/tmp/{SECRET}.csv", "meta": {"_type": "gradio.FileData"}},
]


@pytest.mark.parametrize("value", NOT_FILES, ids=["path-not-text", "no-path", "text", "list", "not-uploaded",
                                                  "made-up-path"])
@pytest.mark.parametrize("elem_id, trigger", [("batch-file", "change"), ("batch-btn", "click"),
                                              ("eval-btn", "click")])
def test_a_file_that_is_not_an_uploaded_file_is_refused_in_one_line(app, quiet, value, elem_id, trigger):
    status, answer = app.call(app.event(elem_id, trigger, **{elem_id.split("-")[0] + "_file": value}))
    assert status == 200 and answer["success"] is False
    message = answer["output"]["error"]
    assert message and "\n" not in message and not INTERNALS.search(message) and SECRET not in message, message
    assert "upload" in message


# -- a select without its data ---------------------------------------------------------------------------------

@pytest.mark.parametrize("event_data", [None, SECRET, [0, 1], {"index": [0, 1]}, {"value": SECRET},
                                        {"index": 0, "value": {"path": "/etc/passwd",
                                                               "meta": {"_type": "gradio.FileData"}}}])
def test_a_select_without_its_data_is_refused(app, quiet, event_data):
    select = event_id(app, "ranking", "select")
    body = {"fn_index": select, "data": [None], "event_data": event_data, "session_hash": uuid.uuid4().hex}
    for route in ("queue/join", "run/predict"):  # the queue, and the route the page uses for events that skip it
        assert_refused(post(app, route, body), "needs the data of the event that triggers it", "event_data")


def test_a_select_with_its_data_runs(app, quiet):
    select = event_id(app, "ranking", "select")
    answer = post(app, "run/predict", {"fn_index": select, "data": [None], "session_hash": uuid.uuid4().hex,
                                       "event_data": {"index": [0, 1], "value": "x"}})
    assert answer.status_code == 200, answer.text


# -- bodies that are not JSON, or nest too deep ------------------------------------------------------------------

@pytest.mark.parametrize("route", ["queue/join", "call/score", "call/v2/score", "run/predict"])
@pytest.mark.parametrize("body, says", [
    ("[" * 100_000 + "]" * 100_000, f"more than {MAX_JSON_DEPTH} levels deep"),
    ('{"data": ["' + SECRET + '", ' + "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1) + "]}",
     "levels deep"),
    ('{"data": ["' + SECRET + '"', "not valid JSON"),
    (b"\xff\xfe" + SECRET.encode(), "not valid JSON"),
], ids=["deep", "just-too-deep", "cut-short", "not-utf8"])
def test_a_body_that_is_not_json_or_nests_too_deep(app, quiet, route, body, says):
    assert_refused(post(app, route, body), says)


def test_nesting_within_the_limit_is_read(app, quiet):
    inner = "[" * (MAX_JSON_DEPTH - 3) + "]" * (MAX_JSON_DEPTH - 3)  # with the body, data and responses: the limit
    answer = post(app, "call/score", '{"data": ["' + PROMPT + '", [' + inner + "]]}")
    assert_refused(answer, "Response 1 must be text, not a list.")  # the endpoint's own validator read it


# -- what Gradio's other routes cannot handle --------------------------------------------------------------------

def test_what_gradio_cannot_handle_gets_one_line_and_leaves_one(app):
    app.new_lines()
    answer = post(app, "component_server", {"data": SECRET, "component_id": 99_999, "session_hash": "s",
                                            "fn_name": "x"})
    assert_refused(answer, "does not fit this app's API")
    stream = httpx.get(f"{app.url}/gradio_api/call/score/no-such-event", timeout=30)  # ends in an error mid-stream
    assert "Traceback" not in stream.text
    lines = app.new_lines()
    assert_quiet(lines, 2)
    assert SECRET not in "\n".join(lines)


# -- the page still works through the door -----------------------------------------------------------------------

def test_the_page_scores_and_adds_boxes_through_the_door(app, quiet):
    status, answer = app.call(app.event("score-btn", "click", prompt=PROMPT, response_1="It matters.",
                                        response_2="Who cares?"))
    assert status == 200 and answer["success"] is True
    add = event_id(app, "add-btn", "click")
    added = post(app, "run/predict", {"fn_index": add, "data": [2], "session_hash": uuid.uuid4().hex})
    assert added.status_code == 200, added.text
    boxes = added.json()["data"][2:]  # outputs: the count (state, not sent), the prompt, the boxes
    assert [box.get("visible") for box in boxes[:4]] == [True, True, True, False]


# -- slow work waits in its own part of the queue -----------------------------------------------------------------

@pytest.fixture(scope="module")
def small_queue(tiny_model_dir, tmp_path_factory):
    """The app with a queue of 8: the token detail may keep 1 request waiting (``WAITING_SHARES``)."""
    with App(tiny_model_dir, tmp_path_factory.mktemp("small-queue") / "app.log", REWARD_QUEUE_SIZE="8") as started:
        yield started


def test_slow_token_details_cannot_lock_scoring_out_of_the_queue(small_queue):
    """Ten slow /attribute calls at once: one runs, one waits, the rest are told why at once; /score, sent
    after them, still gets its place in the queue and its answer."""
    app = small_queue
    app.new_lines()
    longest = "word " * 4_000  # read to the model's limit: every step a full-length pass
    joined, refused = [], []
    for _ in range(10):
        answer = post(app, "call/attribute", {"data": [longest, longest, 256]})
        (joined if answer.status_code == 200 else refused).append(answer)
    assert len(refused) >= 8, [a.text for a in refused]  # one running, one waiting: no room for more
    for answer in refused:
        assert_refused(answer, "1 token-detail (integrated gradients) request is already waiting",
                       "scoring keeps its place")
    scored = post(app, "call/score", {"data": [PROMPT, ["It matters.", "Who cares?"]]})
    assert scored.status_code == 200, scored.text
    result = httpx.get(f"{app.url}/gradio_api/call/score/{scored.json()['event_id']}", timeout=120).text
    assert "event: complete" in result and '"rank": 2' in result
    for answer in joined:  # the two let in finish as usual
        done = httpx.get(f"{app.url}/gradio_api/call/attribute/{answer.json()['event_id']}", timeout=300).text
        assert "event: complete" in done and "completeness_gap" in done
    assert_quiet(app.new_lines(), 0)


@pytest.mark.parametrize("body, says", [
    ([SECRET], 'a JSON object with the inputs in "data"'),
    ({"data": SECRET, "fn_index": 0}, "data: Input should be a valid list"),
    ({"data": [], "fn_index": SECRET}, "fn_index: Input should be a valid integer"),
    ('{"data": [], "fn_index": 0, "trigger_id": NaN, "x": "\\ud800"}', "trigger_id: Input should be a finite number"),
], ids=["not-an-object", "data-not-a-list", "fn-index-not-a-number", "nan-and-half-a-character"])
def test_a_body_not_in_the_form_of_a_request_is_refused_without_repeating_it(app, quiet, body, says):
    """Gradio's own answer would echo the body back, and cannot when it holds NaN or half a character."""
    for route in ("queue/join", "run/predict"):
        assert_refused(post(app, route, body), says)


def events_on(app: App, elem_id: str, trigger: str) -> list[dict]:
    """The page's events on the element ``elem_id`` for ``trigger`` (a picker's change runs two)."""
    cfg = config(app)
    ids = {c["id"] for c in cfg["components"] if c.get("props", {}).get("elem_id") == elem_id}
    return [d for d in cfg["dependencies"] if any(t[0] in ids and t[1] == trigger for t in d["targets"])]


@pytest.mark.parametrize("elem_id, trigger, value", [
    ("why-picker", "change", "half \ud83d"),
    ("batch-file", "change", {"path": "a\udc00", "meta": {"_type": "gradio.FileData"}}),
])
def test_half_a_character_sent_to_an_event_without_a_validator_is_refused_at_the_door(app, quiet, elem_id, trigger,
                                                                                     value):
    """Events with a validator say where the broken character is (test_server_log); any other would fail on it in
    Gradio's answer, which cannot encode it, and lose the session's stream."""
    for event in events_on(app, elem_id, trigger):
        data = [value if i == len(event["inputs"]) - 1 else None for i in range(len(event["inputs"]))]
        assert_refused(join(app, {"fn_index": event["id"], "data": data}), "half of a UTF-16 surrogate pair",
                       "whole characters")
