"""ZeroGPU on a Hugging Face Space: there the GPU exists only inside functions decorated with ``spaces.GPU``.

:func:`gpu` is that decorator on a ZeroGPU Space and does nothing anywhere else. ZeroGPU is the
``spaces`` package being importable AND the Space's ``SPACES_ZERO_GPU`` variable being true (the
package's own test: "1", "t" or "true", any case). ``spaces`` is imported only then, and it must be
imported before CUDA is initialised: the app calls :func:`detect` before any model loads.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable, Mapping

ZERO_GPU_VARIABLE = "SPACES_ZERO_GPU"
TRUE_WORDS = ("1", "t", "true")

_state: dict[str, object] = {}  # "decorator": the GPU decorator once detected (None off ZeroGPU)


def on_zerogpu(env: Mapping[str, str] | None = None) -> bool:
    """Whether this process runs on ZeroGPU hardware with the ``spaces`` package at hand (imports nothing)."""
    env = os.environ if env is None else env
    if env.get(ZERO_GPU_VARIABLE, "").strip().lower() not in TRUE_WORDS:
        return False
    return importlib.util.find_spec("spaces") is not None


def detect() -> bool:
    """Look once, and on ZeroGPU import ``spaces`` now (before CUDA starts); True on ZeroGPU."""
    if "decorator" not in _state:
        _state["decorator"] = importlib.import_module("spaces").GPU if on_zerogpu() else None
    return _state["decorator"] is not None


def gpu(fn: Callable, seconds: int | None = None) -> Callable:
    """``spaces.GPU(fn)`` on ZeroGPU (``spaces.GPU(duration=seconds)(fn)`` when ``seconds`` is given: how long the
    call may hold the GPU), ``fn`` itself elsewhere.

    ``spaces.GPU`` keeps the function's name, docstring and signature (``functools.wraps``), so
    Gradio still sees its parameters (a ``gr.Progress`` among them) through the wrapper.
    """
    detect()
    decorator = _state["decorator"]
    if decorator is None:
        return fn
    return decorator(fn) if seconds is None else decorator(duration=seconds)(fn)
