"""The per-process model cache: one load per configuration, also when the first calls race."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from mdfql.models.cache import ModelCache


def test_racing_first_calls_load_once_and_share_the_model() -> None:
    calls: list[tuple[str, int]] = []

    def load(key: tuple[str, int]) -> dict[str, object]:
        calls.append(key)
        time.sleep(0.05)  # long enough for every other caller to arrive while this loads
        return {"key": key}

    cache: ModelCache[tuple[str, int], dict[str, object]] = ModelCache(load)
    with ThreadPoolExecutor(8) as pool:
        models = list(pool.map(cache.get, [("a", 1)] * 8 + [("b", 2)] * 8))
    assert all(m is models[0] for m in models[:8]) and all(m is models[8] for m in models[8:])
    assert models[0] is not models[8] and models[8] == {"key": ("b", 2)}
    assert sorted(calls) == [("a", 1), ("b", 2)]
    assert set(cache.loaded()) == {("a", 1), ("b", 2)}


def test_a_failed_load_is_not_cached() -> None:
    calls = []

    def load(key: str) -> str:
        calls.append(key)
        if len(calls) == 1:
            raise FileNotFoundError(key)
        return key.upper()

    cache: ModelCache[str, str] = ModelCache(load)
    with pytest.raises(FileNotFoundError):
        cache.get("m")
    assert cache.loaded() == {}
    assert cache.get("m") == "M" and cache.get("m") == "M" and calls == ["m", "m"]
