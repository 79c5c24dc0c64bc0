"""The API's own rules, checked before Gradio reads a request: what does not fit is refused in one line.

Gradio trusts its own page: a hand-made request that names no event of this app, sends too few inputs,
a file that is not a file, or a select without its data reaches code that fails with a traceback in the
server log (often with the request's texts in it) and answers with Python reprs. The checks here speak
the app's words instead, and the same words whichever door a request comes in by (the page's queue,
``/gradio_api/call``, MCP):

- :func:`refuse_event` the shape of a request to an event (``/queue/join``, ``/run``, ``/call/<name>``);
- :func:`refuse_names` inputs sent by name (``/call/v2``, MCP tools), and :func:`refuse_arguments` for MCP
  tools, which then meet the endpoint's own validator here (Gradio's queue runs it for the others);
- :class:`WaitingBounds` how many requests of each slow kind may wait, so that scoring always finds room;
- :func:`quiet_preprocessing` whatever still fails while Gradio reads an input becomes a one-line refusal.

:mod:`ui.front_door` applies them to each request as it comes in, :mod:`ui.mcp_door` to MCP's messages.
"""

from __future__ import annotations

import inspect
import json
import re
from dataclasses import dataclass
from typing import Any

import gradio as gr
from gradio.events import EventData
from gradio.utils import get_type_hints
from pydantic import ValidationError

from reward.config import MAX_JSON_DEPTH, WAITING_SHARES

WORK_NAMES = {"attribute": "token-detail (integrated gradients)", "files": "file", "explain": "/explain",
              "probe": "/probe", "models": "model-comparison"}
"""How a refusal names each bounded kind of work (by concurrency id)."""


@dataclass(frozen=True)
class Refusal:
    """An answer given instead of Gradio's: the HTTP status and the one-line message (``detail`` in JSON), or,
    for a validator's kind of refusal, the verdicts per input Gradio's clients show on the inputs."""

    status: int
    message: str
    verdicts: list[dict] | None = None

    def body(self) -> dict:
        return {"detail": self.verdicts if self.verdicts is not None else self.message}


class BadJson(ValueError):
    """A request body that is not JSON this app reads; ``str(err)`` says why, in one line."""


_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_INNERMOST = re.compile(rb"\[\]|\{\}")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def read_json(body: bytes) -> Any:
    """The JSON in ``body``, nested at most ``MAX_JSON_DEPTH`` deep (NaN and Infinity read as floats, as Gradio
    reads them). The depth is measured before parsing, in C-speed passes: a deep body never reaches a parser
    that recurses.

    Raises:
        BadJson: not JSON, or nested too deeply.
    """
    shape = _STRINGS.sub(b"", body).translate(None, _NOT_BRACKETS)
    for _ in range(MAX_JSON_DEPTH):
        shape, removed = _INNERMOST.subn(b"", shape)
        if not shape or not removed:
            break
    else:
        if shape:
            raise BadJson(f"The request's JSON nests arrays or objects more than {MAX_JSON_DEPTH} levels deep; "
                          "this server reads no deeper. Send the inputs as the API describes them.")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as err:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        where = f" (line {err.lineno}, column {err.colno})" if isinstance(err, json.JSONDecodeError) else ""
        raise BadJson(f"The request body is not valid JSON{where}: send the inputs as a JSON object.") from None


def first_problem(err: ValidationError) -> str:
    """A pydantic error's first problem as ``params.name: Field required``, without the value sent."""
    problem = err.errors()[0]
    where = ".".join(str(part) for part in problem["loc"])
    return f"{where}: {problem['msg']}" if where else problem["msg"]


def broken_text(value: Any) -> bool:
    """Whether a JSON value holds a string that cannot be written as UTF-8 (a lone surrogate), at any depth."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def event_name(fn) -> str:
    """An event as a refusal names it: ``/score`` for an endpoint, ``Event 12`` for one of the page's."""
    return f"/{fn.api_name}" if fn.api_visibility != "private" and fn.api_name else f"Event {fn._id}"


def parameter_names(fn) -> list[str]:
    """The names of an event's inputs, in order (its function's parameters; ``input 3`` where it has none)."""
    names = list(fn.input_parameter_names) + [None] * (len(fn.inputs) - len(fn.input_parameter_names))
    return [name or f"input {i + 1}" for i, name in enumerate(names[:len(fn.inputs)])]


def listing(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def takes(fn) -> str:
    """What an event takes: an endpoint's parameters by name, a page event's inputs by number."""
    n = len(fn.inputs)
    if fn.api_visibility == "private":
        return f"{event_name(fn)} takes {n} input{'s' * (n != 1)}"
    return f"{event_name(fn)} takes {listing(parameter_names(fn))}" if n else f"{event_name(fn)} takes no input"


def missing_inputs(fn, missing: list[str]) -> str:
    """The one wording for inputs left out, sent in order (``data``) or by name (``/call/v2``, MCP)."""
    if fn.api_visibility == "private":
        return f"{len(missing)} input{'s are' if len(missing) != 1 else ' is'} missing: {takes(fn)}."
    return f"Missing input: {listing(missing)}. {takes(fn)}."


def refuse_event(demo: gr.Blocks, body: Any, route: str, api_name: str | None = None,
                 bounds: WaitingBounds | None = None) -> Refusal | None:
    """Why a request to one event does not fit it, or None.

    ``route`` is Gradio's: "join" (the page's queue, naming the event by ``fn_index``), "run" (the page's
    events that skip the queue: by ``fn_index``, else by name) or "call" (``/call/<api_name>``). The event
    must exist (by name, only the API's endpoints: the page's own events are not served to callers), run on
    the server, get as many inputs as it takes, and the data of the click that triggers it when it reads one.
    A queued event meets ``bounds``. The endpoint's validator and the limits come after, in Gradio's queue.
    """
    from gradio.data_classes import PredictBody, SimplePredictBody

    if not isinstance(body, dict):
        return Refusal(400, 'The request body must be a JSON object with the inputs in "data".')
    try:  # read as Gradio reads it (a fn_index of "3" is event 3)
        request = (SimplePredictBody if route == "call" else PredictBody).model_validate(body)
    except ValidationError as err:  # said here: Gradio's answer would repeat the body, which may not encode
        return Refusal(422, f"The request is not in the form of a Gradio request: {first_problem(err)}.")
    fn_index = getattr(request, "fn_index", None)
    fn = find_event(demo, fn_index, api_name if route != "join" and fn_index is None else None)
    if fn is None or isinstance(fn, Refusal):  # None: nothing named; Gradio says so itself, in one line
        return fn
    data = request.data
    # /call fills a page event's session state itself: a caller may send only the other inputs.
    counts = {len(fn.inputs)} | ({sum(not b.skip_api for b in fn.inputs)} if route == "call" else set())
    if len(data) < min(counts):
        return Refusal(400, missing_inputs(fn, parameter_names(fn)[len(data):]))
    if len(data) not in counts:
        return Refusal(400, f"{len(data)} inputs were sent; {takes(fn)}.")
    event_data = getattr(request, "event_data", None)
    if fn.validator is None and broken_text([data, event_data]):
        # An event with a validator says where (the prompt, which response); any other would fail on it later,
        # in Gradio's answer, which cannot encode it.
        return Refusal(400, f"{event_name(fn)} was sent half of a UTF-16 surrogate pair, which is not text: send "
                            "whole characters (it usually comes from an emoji cut in half).")
    refused = refuse_event_data(fn, event_data)
    if refused is None and bounds is not None and route != "run":
        return bounds.refuse(fn)
    return refused


def find_event(demo: gr.Blocks, fn_index: int | None, api_name: str | None):
    """The event a request names by index or by API name, None when it names none, or a Refusal."""
    if fn_index is not None:
        fn = demo.fns.get(fn_index)
        if fn is None:
            return Refusal(404, f"This page has no event {fn_index}: reload the page (the app may have been "
                                "restarted or updated since it was opened).")
    elif api_name is not None:
        fn = endpoint(demo, api_name)
        if fn is None:
            public = sorted(f"/{fn.api_name}" for fn in demo.fns.values() if fn.api_visibility == "public")
            return Refusal(404, f"There is no such endpoint here; this app's endpoints are {listing(public)} "
                                "(their inputs: /gradio_api/info).")
    else:
        return None
    if fn.fn is None:
        return Refusal(400, f"{event_name(fn)} runs in the browser only: there is nothing to run on the server.")
    return fn


def endpoint(demo: gr.Blocks, api_name: str):
    """The API endpoint of that name (the page's private events are none), or None."""
    return next((fn for fn in demo.fns.values() if fn.api_name == api_name and fn.api_visibility != "private"),
                None)


def refuse_names(fn, arguments: dict) -> Refusal | None:
    """Named arguments against an endpoint's parameters: none unknown, none without a default missing."""
    parameters = endpoint_parameters(fn)
    if set(arguments) - set(parameters):
        return Refusal(400, f"{takes(fn)}; leave out any other input.")
    missing = [name for name, has_default in parameters.items() if not has_default and name not in arguments]
    return Refusal(400, missing_inputs(fn, missing)) if missing else None


def endpoint_parameters(fn) -> dict[str, bool]:
    """An API endpoint's parameters, in order: name -> whether it has a default."""
    signature = inspect.signature(fn.fn)
    return {name: p.default is not inspect.Parameter.empty for name, p in signature.parameters.items()
            if name in parameter_names(fn)}


def refuse_arguments(fn, arguments: dict) -> Refusal | None:
    """Named arguments (``/call/v2``, an MCP tool call) checked as the HTTP API checks them: the names first,
    then the endpoint's validator, in its words."""
    refused = refuse_names(fn, arguments)
    if refused is not None:
        return refused
    if fn.validator is None:
        return None
    signature = inspect.signature(fn.fn)
    values = [arguments.get(name, signature.parameters[name].default) for name in endpoint_parameters(fn)]
    verdicts = fn.validator(*values)
    for verdict in verdicts if isinstance(verdicts, list) else [verdicts]:
        if isinstance(verdict, dict) and verdict.get("is_valid") is False:
            return Refusal(422, str(verdict.get("message", "")))
    return None


def refuse_event_data(fn, event_data: object) -> Refusal | None:
    """An event that reads the data of the click that triggers it (a table's select: which cell) needs that
    data, in the form Gradio's page sends."""
    if not fn.collects_event_data:
        return None
    kinds = [hint for hint in get_type_hints(fn.fn).values()
             if inspect.isclass(hint) and issubclass(hint, EventData)]
    try:
        from gradio.processing_utils import check_all_files_in_cache

        for kind in kinds:
            kind(None, event_data)
        check_all_files_in_cache(event_data)
    except Exception:  # noqa: BLE001 - whatever Gradio's reading of it raises, the data is not what it takes
        what = "which cell was selected (index and value)" if any(k is gr.SelectData for k in kinds) else \
            "what triggered it"
        return Refusal(400, f"{event_name(fn)} needs the data of the event that triggers it, {what}, in "
                            '"event_data", as the page sends it.')
    return None


class WaitingBounds:
    """How many requests of each slow kind of work may wait in the shared queue (``WAITING_SHARES``): beyond
    that a request of that kind is refused at once, and scoring keeps its place in the queue.

    The count is Gradio's own queue, per concurrency id; the page's events of that kind count too."""

    def __init__(self, demo: gr.Blocks, queue_size: int) -> None:
        self.demo = demo
        self.bounds = {kind: max(1, int(queue_size * share)) for kind, share in WAITING_SHARES.items()}

    def waiting(self, kind: str) -> int:
        queue = getattr(self.demo, "_queue", None)
        event_queue = getattr(queue, "event_queue_per_concurrency_id", {}).get(kind)
        return len(event_queue.queue) if event_queue is not None else 0

    def refuse(self, fn) -> Refusal | None:
        kind = fn.concurrency_id
        bound = self.bounds.get(kind)
        if bound is None or self.waiting(kind) < bound:
            return None
        message = (f"{bound} {WORK_NAMES.get(kind, kind)} request{'s are' if bound != 1 else ' is'} already "
                   "waiting, the most this server queues at once so that scoring keeps its place: try again "
                   "when one has finished.")
        # Said as a validator says it, on the first input the caller sends, so that the page and gradio_client
        # show the message itself.
        at = next((i for i, block in enumerate(fn.inputs) if not block.skip_api), 0)
        names = parameter_names(fn)
        verdicts = [{"__type__": "validate", "is_valid": i != at, "message": message if i == at else "",
                     "parameter_name": names[i]} for i in range(len(fn.inputs))]
        return Refusal(422, message, verdicts)


def quiet_preprocessing(demo: gr.Blocks) -> None:
    """Whatever fails while Gradio reads an event's inputs becomes a one-line refusal with no traceback.

    Reading an input (the count, a file's FileData, its path, each component's ``preprocess``) fails only
    on what the request sent, so it is the caller's problem, said to the caller; the handlers' own failures
    are untouched. A refusal of Gradio's own (``gr.File`` refusing a file type) keeps its words; any other
    failure gets words of the app's, without the value sent (Gradio's would repeat it, in the log too).
    """
    for block in demo.blocks.values():
        preprocess = getattr(block, "preprocess", None)
        if preprocess is None or getattr(preprocess, "quiet_refusals", False):
            continue
        block.preprocess = _quiet_component(block, preprocess)
    preprocess_data = demo.preprocess_data
    if getattr(preprocess_data, "quiet_refusals", False):
        return

    async def quiet_preprocess_data(block_fn, inputs, *args, **kwargs):
        try:
            return await preprocess_data(block_fn, inputs, *args, **kwargs)
        except gr.Error as err:
            err.print_exception = False
            raise
        except Exception as err:  # noqa: BLE001 - see the docstring: every failure here is the input's
            raise gr.Error(unreadable(block_fn, inputs, err), print_exception=False) from None

    quiet_preprocess_data.quiet_refusals = True
    demo.preprocess_data = quiet_preprocess_data


def _quiet_component(block, preprocess):
    def quiet(payload):
        try:
            return preprocess(payload)
        except gr.Error as err:
            err.print_exception = False
            raise
        except Exception:  # noqa: BLE001 - the component could not read what was sent
            name = getattr(block, "label", None) or block.get_block_name()
            raise gr.Error(f"The {name} input could not be read: send it as the page does.",
                           print_exception=False) from None

    quiet.quiet_refusals = True
    return quiet


def unreadable(block_fn, inputs: list, err: Exception) -> str:
    """Why an event's inputs could not be read, in the app's words."""
    from gradio.exceptions import InvalidPathError

    if isinstance(inputs, list) and len(inputs) < len(block_fn.inputs):
        return missing_inputs(block_fn, parameter_names(block_fn)[len(inputs):])
    if isinstance(err, InvalidPathError):
        return ("A file in this request was not uploaded to this server: upload it first (POST "
                "/gradio_api/upload) and send the path that returns.")
    if "FileData" in str(getattr(err, "title", "")):
        return ('A file must be sent as {"path": <the path /gradio_api/upload returned>, "meta": {"_type": '
                '"gradio.FileData"}}.')
    return f"An input of {event_name(block_fn)} is not in the form it takes: send it as the page does."
