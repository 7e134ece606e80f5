"""How the Segment and Fine-tune widgets run a model job in a napari worker.

A job's expected failures (cancelled, untrusted bundle, bad input: a
:class:`~napari_medseg.errors.MedsegError`) come back as a :class:`Failed` result rather than
as an exception (napari workers re-raise returned exceptions and show a traceback), and the
job's progress callback reaches the GUI thread through a :class:`ProgressRelay` signal.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from qtpy.QtCore import QObject, Signal

from ..errors import MedsegError

__all__ = ["Failed", "ProgressRelay", "returning_failures"]

T = TypeVar("T")


@dataclass
class Failed:
    """An expected failure returned by the worker."""

    error: MedsegError


class ProgressRelay(QObject):
    """Carries progress ``(fraction, message)`` from the worker thread to the GUI thread (queued signal)."""

    changed = Signal(float, str)


def returning_failures(job: Callable[[], T]) -> Callable[[], T | Failed]:
    """``job`` that returns :class:`Failed` instead of raising a MedsegError."""

    @functools.wraps(job)
    def run() -> T | Failed:
        try:
            return job()
        except MedsegError as exc:
            return Failed(exc)

    return run
