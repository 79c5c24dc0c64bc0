"""Share a scored comparison as a link that opens it as it was.

The link carries the comparison itself in the page's URL (``?c=...``: compact
JSON, zlib-compressed, base64url), so it needs no storage on the server: it works
on a laptop, on a Space, and after either restarts. Opening it fills the prompt and
the responses and scores them again with the model the page runs; the scores at
sharing time travel along, so the page can say whether the ranking is the same.

Links are kept to :data:`MAX_LINK_CHARS` characters, what mail, chat and the
proxies in front of a Space pass on without cutting; a comparison that does not
fit even compressed is refused with a message that says what to shorten.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from reward.config import MAX_LINK_CHARS
from reward.model.requests import InvalidRequest
from reward.tables.display import shorten

PARAM = "c"
"""The query parameter that carries a shared comparison."""
ORIGIN_ALLOWANCE = 200
"""Characters kept for the page's own address in front of ``?c=``."""
MAX_TOKEN_CHARS = MAX_LINK_CHARS - ORIGIN_ALLOWANCE - len(PARAM) - 2
VERSION = 1
KEYS = ("v", "p", "r", "s", "m")
"""What a link's JSON holds, and nothing else: version, prompt, responses, scores, model."""
MAX_MODEL_NAME = 200


class ShareProblem(ValueError):
    """A comparison that cannot become a link, or a link that cannot be opened; the message says what to do."""


@dataclass(frozen=True)
class SharedComparison:
    prompt: str
    responses: list[str]
    """Every response box as it was when shared, blank ones included, in box order."""
    scores: list[float | None]
    """Each box's score when shared, exactly (None for a blank box, and for a score that is not a number)."""
    model: str
    """The model that gave those scores, as the page names it."""

    def ranking(self) -> list[int]:
        """Box positions, best first, as the page ranks them (equal scores keep box order)."""
        scored = [(i, s) for i, s in enumerate(self.scores) if s is not None]
        return [i for i, _ in sorted(scored, key=lambda item: (-item[1], item[0]))]


def encode(shared: SharedComparison) -> str:
    """The link's ``c`` value for ``shared``.

    Raises:
        ShareProblem: the comparison does not fit in a link even compressed.
    """
    model = "".join(c if c.isprintable() and c not in "`<>[]()" else "-" for c in shared.model)[:MAX_MODEL_NAME]
    payload = {"v": VERSION, "p": shared.prompt, "r": shared.responses, "m": model or "-",
               "s": [s if s is not None and math.isfinite(s) else None for s in shared.scores]}
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    token = base64.urlsafe_b64encode(zlib.compress(data, 9)).decode("ascii").rstrip("=")
    if len(token) > MAX_TOKEN_CHARS:
        raise ShareProblem(f"This comparison is too long for a link: {len(token):,} characters even compressed, and "
                           f"links are kept under {MAX_LINK_CHARS:,}. Shorten the prompt or the responses, or share "
                           "fewer responses.")
    return token


def decode(token: str, *, max_responses: int, max_chars: int) -> SharedComparison:
    """The comparison a link's ``c`` value carries, checked against the page's limits.

    Raises:
        ShareProblem: the value is damaged, cut short, from another program, or over the limits.
    """
    damaged = ("This shared link is damaged or cut short, so the comparison cannot be opened. Ask for the link "
               "again (copy all of it), or type the comparison in.")
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise ShareProblem(damaged)
    try:
        packed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        # A link expands to at most the page's limits; a "zip bomb" stops there.
        unpacker = zlib.decompressobj()
        data = unpacker.decompress(packed, 4 * max_chars * (max_responses + 2) + 4096)
        if unpacker.unconsumed_tail or not unpacker.eof:
            raise ShareProblem(damaged)
        payload = json.loads(data.decode("utf-8"), object_pairs_hook=_keys_once, parse_constant=_not_json)
    # ValueError covers bad base64 and JSON, and an integer of thousands of digits; RecursionError, JSON
    # nested deeper than Python parses.
    except (binascii.Error, zlib.error, UnicodeDecodeError, ValueError, RecursionError) as err:
        if isinstance(err, ShareProblem):
            raise
        raise ShareProblem(damaged) from None
    shared = _checked(payload)
    if shared is None:
        raise ShareProblem(damaged)
    if len(shared.responses) > max_responses:
        raise ShareProblem(f"This shared link holds {len(shared.responses)} responses; this page takes up to "
                           f"{max_responses}. Open it where the limit is higher, or ask for a shorter comparison.")
    longest = max([shared.prompt, *shared.responses], key=len)
    if len(longest) > max_chars:
        raise ShareProblem(f"This shared link holds a text of {len(longest):,} characters; this page takes up to "
                           f"{max_chars:,}. Open it where the limit is higher.")
    return shared


def _keys_once(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object whose keys are all different: with a key twice, which value is meant is anyone's guess."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("a key given twice")
    return obj


def _not_json(constant: str) -> float:
    """Refuses NaN and Infinity, which Python's json reads but JSON does not have (and no score is)."""
    raise ValueError(f"{constant} is not JSON")


def _checked(payload: object) -> SharedComparison | None:
    """The comparison in a decoded payload, or None when its shape is not exactly what :func:`encode` writes."""
    if not isinstance(payload, dict) or set(payload) != set(KEYS):
        return None
    version, prompt, responses, scores, model = (payload[k] for k in KEYS)
    if type(version) is not int or version != VERSION:  # true and 1.0 are not version 1
        return None
    if not isinstance(prompt, str) or not isinstance(model, str) or not isinstance(responses, list) \
            or not isinstance(scores, list) or len(scores) != len(responses) or not responses:
        return None
    if not all(isinstance(r, str) for r in responses) or not all(_plain_text(t) for t in (prompt, *responses)):
        return None
    if not _model_name(model):
        return None
    floats = _scores(scores, responses)
    if floats is None:
        return None
    return SharedComparison(prompt, responses, floats, model)


def _scores(values: list, responses: list[str]) -> list[float | None] | None:
    """Each box's shared score as a float (None for a box not scored), or None when a value is not one
    :func:`encode` could have written: not a finite number that a float holds, or a score for a blank box
    (the page never scores one)."""
    floats: list[float | None] = []
    for value, response in zip(values, responses):
        if value is None:
            floats.append(None)
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not response.strip():
            return None
        try:
            number = float(value)
        except OverflowError:  # an integer of hundreds of digits
            return None
        if not math.isfinite(number):
            return None
        floats.append(number)
    return floats


def _plain_text(text: str) -> bool:
    """Text a page can show: valid Unicode (JSON can carry a lone surrogate, which no page can)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _model_name(name: str) -> bool:
    """A name as the page gives models (a hub id or a folder's name): one short line, nothing that could leave
    the code span it is shown in and become a link or an image on the page."""
    return 0 < len(name) <= MAX_MODEL_NAME and name.isprintable() and not any(c in name for c in "`<>[]()")


def restored_note(shared: SharedComparison, ranking_now: list[int], model_now: str) -> str:
    """What the page says after opening a link and scoring it again."""
    same_model = shared.model == model_now
    scored_by = f"`{model_now}`" + ("" if same_model else f" (the link was made with `{shared.model}`)")
    if ranking_now == shared.ranking():
        return f"Opened from a shared link and scored again by {scored_by}: **the same ranking as when it was shared.**"
    order = " > ".join(f"Response {i + 1}" for i in shared.ranking())
    return (f"Opened from a shared link and scored again by {scored_by}: **the ranking differs from when it was "
            f"shared** ({shorten(order, 200)} then).")


# -- on the page --------------------------------------------------------------------------------

LINK_JS = "(token) => token ? window.location.origin + window.location.pathname + '?" + PARAM + "=' + token : ''"
"""Builds the link in the browser, from the address the person sees (a Space's, a laptop's), without any other
query parameter (a Space's ``__sign`` stays out)."""


@dataclass(frozen=True)
class SharePanel:
    button: gr.Button
    token: gr.Textbox
    """Hidden: the ``c`` value, which ``LINK_JS`` turns into the link."""
    link: gr.Textbox
    note: gr.Markdown

    @property
    def outputs(self) -> list:
        return [self.token, self.link, self.note]

    def emptied(self) -> dict:
        """No link: a new scoring (or a cleared page) has nothing shared yet."""
        return {self.token: "", self.link: gr.update(value="", visible=False), self.note: ""}


def build_share_panel(note: gr.Markdown) -> SharePanel:
    """The button and the link; ``note`` is built apart, where a link that cannot be opened is said before any
    scoring has shown the rest."""
    button = gr.Button("Share this comparison", size="sm", elem_id="share-btn")
    # A long link scrolls inside a few lines (ui.page.CSS); the copy button takes it whole.
    link = gr.Textbox(label="Link to this comparison (opens it and scores it again)", visible=False,
                      interactive=False, lines=1, max_lines=3, buttons=["copy"], elem_id="share-link")
    token = gr.Textbox(visible="hidden", elem_id="share-token")
    return SharePanel(button, token, link, note)


def scored_comparison(prompt: str, boxes: list[str], ranked, model: str) -> dict:
    """What a scoring leaves for sharing: every box in order and each one's score (None when blank)."""
    scores: list[float | None] = [None] * len(boxes)
    for r in ranked:
        scores[r.index] = r.score
    return {"prompt": prompt, "boxes": list(boxes), "scores": scores, "model": model}


def share_token(scored: dict | None) -> tuple[str, dict, str]:
    """The hidden token, the link box and the note for the last scoring; the note says why when there is no link."""
    if not scored or "boxes" not in scored:
        return "", gr.update(visible=False), "Score the responses first: the link shares a scored comparison."
    try:
        # The prompt as typed: a conversation travels as its turns, and opens as one.
        token = encode(SharedComparison(scored.get("typed", scored["prompt"]), scored["boxes"], scored["scores"], scored["model"]))
    except ShareProblem as err:
        return "", gr.update(value="", visible=False), f"**No link made.** {err}"
    return token, gr.update(value="", visible=True), ""


def opened_link(request: gr.Request | None, most: int, max_chars: int,
                check: Callable[[str, list[str]], object]) -> tuple[SharedComparison | None, str]:
    """The comparison the page's address carries (None without one), and a message when it cannot be opened.

    ``check(prompt, responses)`` is the page's own validator of a scoring (raising InvalidRequest): a link whose
    comparison it refuses (an empty prompt, every response blank) is not opened, since opening scores it.
    """
    params = getattr(request, "query_params", None) or {}
    token = params.get(PARAM)
    if token is None:
        return None, ""
    try:
        shared = decode(token, max_responses=most, max_chars=max_chars)
        check(shared.prompt, shared.responses)
    except ShareProblem as err:
        return None, f"**The shared link could not be opened.** {err}"
    except InvalidRequest as err:
        return None, (f"**The shared link could not be opened.** The comparison in it cannot be scored: {err} "
                      "Ask for the link again, or type the comparison in.")
    return shared, ""
