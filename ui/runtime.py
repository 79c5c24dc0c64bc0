"""Process-level tuning for a long-running server."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

log = logging.getLogger(__name__)

M_ARENA_MAX = -8  # from glibc's malloc.h


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas, as ``MALLOC_ARENA_MAX`` does, unless that variable is set.

    glibc gives each busy thread an arena of its own (up to 8 per core), and freed
    memory stays in the arena it came from; a server with dozens of worker threads
    then keeps growing its resident memory long after its work stopped growing.
    Returns True when the cap was applied; False elsewhere (not Linux with glibc).
    """
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    applied = bool(mallopt(M_ARENA_MAX, arenas))
    if applied:
        log.debug("malloc arenas capped at %d", arenas)
    return applied
