"""Library deprecations are filtered inside the thread that runs the work, generators included."""

from __future__ import annotations

import inspect
import warnings

from napari_medseg.library_warnings import quietly


def _deprecated_in_timm():
    warnings.warn_explicit(
        "Importing from timm.models.layers is deprecated",
        FutureWarning,
        "timm/models/layers/__init__.py",
        49,
        module="timm.models.layers",
    )


def test_quietly_filters_library_deprecations_that_always_would_show():
    def work(x):
        _deprecated_in_timm()
        warnings.warn("a warning of ours", UserWarning, stacklevel=2)
        return x + 1

    with warnings.catch_warnings(record=True) as caught:
        warnings.filterwarnings("always")  # what superqt's worker sets in its thread
        assert quietly(work)(1) == 2
    assert [str(w.message) for w in caught] == ["a warning of ours"]


def test_quietly_keeps_a_generator_function_a_generator_function():
    def work(n):
        _deprecated_in_timm()
        received = yield 0
        yield received
        return n

    wrapped = quietly(work)
    assert inspect.isgeneratorfunction(wrapped)  # napari then makes a generator worker (progress, abort)
    with warnings.catch_warnings(record=True) as caught:
        warnings.filterwarnings("always")
        gen = wrapped(5)
        assert next(gen) == 0 and gen.send("hello") == "hello"
        try:
            next(gen)
        except StopIteration as stop:
            assert stop.value == 5
    assert caught == []
