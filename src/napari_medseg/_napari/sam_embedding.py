"""Background embedding of a volume's slices for the Interactive SAM widget.

As soon as an image is chosen, every slice of the viewed axis is embedded in a napari
thread worker, nearest to the current slice first, one slice at a time and paused while
the user's own interactions run, with a progress bar in the dock. The embeddings land in
the predictor's cache (in memory and on disk, keyed by the image's content), so boxes,
clicks and propagation later only run the small decoder.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from magicgui.widgets import ProgressBar
from napari.qt.threading import create_worker

from ..library_warnings import quietly
from ..models.sam import InteractiveSession

__all__ = ["BackgroundEmbedder"]


class BackgroundEmbedder:
    """Embeds the slices of one axis of a session in a worker, reporting to ``bar``.

    Parameters
    ----------
    bar : magicgui ProgressBar
        Shows slices embedded out of the axis' slices.
    busy : callable
        True while foreground work runs; embedding waits meanwhile.
    on_error : callable
        Receives an exception raised in the worker.
    """

    def __init__(self, bar: ProgressBar, busy: Callable[[], bool], on_error: Callable[[Exception], None]):
        self.bar, self.busy, self.on_error = bar, busy, on_error
        self.worker = None
        self._stop = threading.Event()

    @property
    def running(self) -> bool:
        return self.worker is not None

    def stop(self) -> None:
        """Stop after the slice being embedded."""
        self._stop.set()

    def start(self, session: InteractiveSession, axis: int, current: int) -> None:
        """Embed every slice of ``axis`` not cached yet, nearest to ``current`` first."""
        if self.worker is not None:
            return
        order = sorted(range(session.shape[axis]), key=lambda i: abs(i - current))
        todo = [i for i in order if not session.is_embedded(axis, i)]
        self.bar.max, self.bar.value = len(order), len(order) - len(todo)
        if not todo:
            return
        self._stop.clear()
        stop, busy, already = self._stop, self.busy, len(order) - len(todo)

        def work():
            for done, i in enumerate(todo, start=already + 1):
                while busy() and not stop.is_set():  # the user's interactions go first
                    time.sleep(0.05)
                if stop.is_set():
                    return
                session.embed(axis, [i])
                yield done

        def show(done: int) -> None:
            if not stop.is_set():  # stopped: the dock (and its bar) may be gone already
                self.bar.value = done

        worker = create_worker(quietly(work))
        worker.yielded.connect(show)
        worker.errored.connect(self.on_error)
        worker.finished.connect(lambda: setattr(self, "worker", None))
        self.worker = worker
        worker.start()
