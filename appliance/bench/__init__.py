"""`agma bench`: a registry of timed rows, measured side by side in one run.

A bench is a function ``fn(args) -> list[dict]`` registered under a name; each row is a dict
with at least ``name`` and ``median_us`` (per frame pair) and any ratios it measured in the
same run. Timings live here, never in unit tests.

Every bench is a module of this package (``MODULES``): it may import every stage and the runtime
(tests/test_layering.py), so no stage imports the benches or another stage for them.
"""
from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any

BenchFn = Callable[[Any], list]
_REGISTRY: dict[str, BenchFn] = {}
_NAMED_ONLY: set[str] = set()

#: The modules that register bench rows when imported (optional ones may be missing on a box).
MODULES = ("appliance.bench.triangulate", "appliance.bench.store", "appliance.bench.decode",
           "appliance.bench.decode_cuda", "appliance.bench.engine", "appliance.bench.daemon", "appliance.bench.ring",
           "appliance.bench.camera", "appliance.bench.fleet", "appliance.bench.soak", "appliance.bench.preprocess",
           "appliance.bench.stages")


def register(name: str, default: bool = True) -> Callable[[BenchFn], BenchFn]:
    """Decorator: add a bench under ``name`` (``agma bench NAME``). default=False: it runs only when
    named (a bench that starts processes or takes minutes, e.g. ``daemon``)."""

    def deco(fn: BenchFn) -> BenchFn:
        _REGISTRY[name] = fn
        if not default:
            _NAMED_ONLY.add(name)
        return fn

    return deco


def registry() -> dict[str, BenchFn]:
    return dict(_REGISTRY)


def load() -> dict[str, BenchFn]:
    """Import every bench module (``MODULES``; a missing optional one is left out) -> the registry."""
    for mod in MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise
    return registry()


def default_names() -> list[str]:
    """The benches `agma bench` runs when none is named."""
    return sorted(n for n in _REGISTRY if n not in _NAMED_ONLY)


def median_us(fn: Callable[[], object], repeat: int = 50, warmup: int = 3, min_time_s: float = 0.0) -> float:
    """Median wall time of ``fn()`` in microseconds over ``repeat`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    samples = []
    t_end = time.perf_counter() + min_time_s
    while len(samples) < repeat or time.perf_counter() < t_end:
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) / 1000.0)
    samples.sort()
    return samples[len(samples) // 2]


def alloc_peak_bytes(fn: Callable[[], object], repeat: int = 20, warmup: int = 3) -> int:
    """Median over ``repeat`` calls of the most memory ``fn()`` had allocated at once beyond what was
    live before the call (tracemalloc: Python objects and NumPy/OpenCV array data): a new
    2.65 MB batch per call shows as >= 2.65 MB, buffers reused across calls as a few hundred bytes
    of Python objects. A call that keeps what it allocates counts it too. Measured apart from the
    timings (tracing slows every allocation)."""
    import tracemalloc  # noqa: PLC0415 - only for this measurement

    for _ in range(warmup):
        fn()
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        samples = []
        for _ in range(repeat):
            before, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            fn()
            _, peak = tracemalloc.get_traced_memory()
            samples.append(max(0, peak - before))
    finally:
        if started:
            tracemalloc.stop()
    samples.sort()
    return int(samples[len(samples) // 2])
