"""Background slice embedding for the Interactive SAM dock (run under xvfb)."""

from __future__ import annotations

import threading

from magicgui.widgets import ProgressBar

from napari_medseg._napari.sam_embedding import BackgroundEmbedder


class SlowSession:
    """What the embedder uses of an InteractiveSession: a shape, a cache test, ``embed`` (gated)."""

    shape = (6, 8, 8)

    def __init__(self):
        self.gate, self.embedded = threading.Event(), []

    def is_embedded(self, axis, index):
        return False

    def embed(self, axis, indices):
        self.gate.wait(10)
        self.embedded.extend(indices)


def test_progress_arriving_after_the_dock_is_gone_touches_no_deleted_widget(qtbot):
    """Closing the dock (or napari) mid-embedding: a slice already under way reports into nothing.

    The widget's ``destroyed`` hook stops the embedder; the progress of the slice being embedded
    then arrives with the progress bar deleted, which used to raise in a Qt slot and abort napari.
    """
    bar, errors, session = ProgressBar(), [], SlowSession()
    embedder = BackgroundEmbedder(bar, lambda: False, errors.append)
    embedder.start(session, 0, 2)
    assert embedder.running and bar.max == 6
    with qtbot.waitSignal(bar.native.destroyed, timeout=5000):
        bar.native.deleteLater()
    embedder.stop()  # what the dock's destroyed hook does (SessionRunner.shutdown)
    session.gate.set()  # the slice under way finishes and yields its progress
    qtbot.waitUntil(lambda: not embedder.running, timeout=10_000)
    assert session.embedded == [2] and errors == []  # stopped after that slice, nothing raised


def test_progress_counts_slices_nearest_first(qtbot):
    bar, errors, session = ProgressBar(), [], SlowSession()
    session.gate.set()
    embedder = BackgroundEmbedder(bar, lambda: False, errors.append)
    embedder.start(session, 0, 4)
    qtbot.waitUntil(lambda: not embedder.running, timeout=10_000)
    assert session.embedded == [4, 3, 5, 2, 1, 0] and bar.value == 6 and errors == []
