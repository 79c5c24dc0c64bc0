"""Process tuning for the server."""

import sys

import pytest

from ui import runtime


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_malloc_arenas_are_capped_on_glibc(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert runtime.limit_malloc_arenas(2) is True


def test_an_explicit_malloc_arena_max_is_left_to_glibc(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    monkeypatch.setattr(runtime.ctypes, "CDLL", lambda *a, **k: pytest.fail("mallopt must not be called"))
    assert runtime.limit_malloc_arenas(2) is False
