"""Autosave in napari: Labels layers the user paints on are snapshotted while they work.

Thin glue over :mod:`napari_medseg.autosave`. :func:`ensure_autosave` starts one watcher
per viewer; the plugin's reader and widgets call it, so it runs from the moment an image
is opened with MedSeg or a MedSeg widget is docked. The watcher listens to each 3D Labels
layer's ``paint`` event (brush, fill, erase, SAM's Accept) and snapshots the edited layers
:data:`DELAY_S` seconds after the strokes pause, and at the latest :data:`MAX_WAIT_S`
seconds after the oldest unsaved stroke however long the user keeps painting (a deadline,
not a debounce that restarts with every stroke). The layers are copied on the GUI thread
and written in a worker thread, so painting never waits for the disk. A layer removed with
unsaved strokes is snapshotted at once; when the application quits, whatever is unsaved is
written before it goes. :class:`RecoverWidget` lists the snapshots and restores one as a
new Labels layer on its image's grid.
"""

from __future__ import annotations

import os
import time
import weakref

import numpy as np
from magicgui.widgets import ComboBox, Container, Label, PushButton
from napari.layers import Labels
from napari.qt.threading import create_worker
from napari.utils.notifications import show_info, show_warning
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QApplication

from ..autosave import Snapshot, discard, list_snapshots, load_snapshot, prune, save_snapshot
from ..library_warnings import quietly
from .docking import tabify_when_docked
from .layers import label_names_from_features, labels_layer_data, volume_from_layer

#: Seconds after the last stroke before the edited layers are saved.
DELAY_S = float(os.environ.get("NAPARI_MEDSEG_AUTOSAVE_DELAY", "15"))
#: Seconds at most between an unsaved stroke and its snapshot, however long the strokes go on.
MAX_WAIT_S = float(os.environ.get("NAPARI_MEDSEG_AUTOSAVE_MAX_WAIT", "60"))

_WATCHERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def ensure_autosave(viewer) -> AutosaveWatcher | None:
    """The viewer's autosave watcher, started on first use (None without a viewer)."""
    if viewer is None:
        return None
    if viewer not in _WATCHERS:
        _WATCHERS[viewer] = AutosaveWatcher(viewer)
    return _WATCHERS[viewer]


def _write(jobs: list[tuple]) -> list[Snapshot]:
    return [save_snapshot(data, volume.with_array(data), name, names) for data, volume, name, names in jobs]


class AutosaveWatcher:
    """Saves recovery snapshots of the viewer's edited Labels layers.

    Parameters
    ----------
    viewer : napari.Viewer
    delay_s, max_wait_s : float, optional
        Quiet period after the last stroke, and longest wait after the oldest unsaved
        stroke (seconds); default :data:`DELAY_S` and :data:`MAX_WAIT_S`.

    Attributes
    ----------
    saved : list of Snapshot, written by this watcher, oldest first.
    worker : the running save worker, or None.
    """

    def __init__(self, viewer, delay_s: float | None = None, max_wait_s: float | None = None):
        self.viewer = viewer
        self.delay_s = DELAY_S if delay_s is None else float(delay_s)
        self.max_wait_s = MAX_WAIT_S if max_wait_s is None else float(max_wait_s)
        self.saved: list[Snapshot] = []
        self.worker = None
        self._dirty: dict[int, Labels] = {}
        self._queued: list[tuple] = []  # copied layers waiting for the worker
        self._oldest_unsaved: float | None = None  # time.monotonic() of the oldest unsaved stroke
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.save_now)
        try:
            prune()
        except OSError as exc:
            show_warning(f"MedSeg autosave: old snapshots could not be removed ({exc})")
        viewer.layers.events.inserted.connect(lambda event: self._watch(event.value))
        viewer.layers.events.removed.connect(lambda event: self._removed(event.value))
        flush = weakref.WeakMethod(self.flush)  # the application must not keep a closed viewer alive
        QApplication.instance().aboutToQuit.connect(lambda: flush() and flush()())
        for layer in viewer.layers:
            self._watch(layer)

    def _watch(self, layer) -> None:
        if isinstance(layer, Labels) and layer.ndim == 3:
            layer.events.paint.connect(lambda _event, layer=layer: self._edited(layer))

    def _edited(self, layer) -> None:
        self._dirty[id(layer)] = layer
        now = time.monotonic()
        if self._oldest_unsaved is None:
            self._oldest_unsaved = now
        due = min(self.delay_s, self._oldest_unsaved + self.max_wait_s - now)
        self._timer.start(max(0, int(1000 * due)))

    def _removed(self, layer) -> None:
        if id(layer) in self._dirty:  # closing a layer must not lose its last strokes
            self._queued += self._take_jobs(only=layer)
            self._start()

    def _take_jobs(self, only=None) -> list[tuple]:
        """Copy the edited layers (all, or ``only`` that one) and mark them saved."""
        jobs = []
        for key, layer in list(self._dirty.items()):
            if only is not None and layer is not only:
                continue
            del self._dirty[key]
            try:
                volume = volume_from_layer(layer)
            except ValueError as exc:  # a geometry we cannot save on: say so, keep the others
                show_warning(f"MedSeg autosave skipped {layer.name!r}: {exc}")
                continue
            names = {k: v for k, v in label_names_from_features(layer.features).items() if k != 0}
            jobs.append((np.array(layer.data, copy=True), volume, layer.name, names))
        if not self._dirty:
            self._oldest_unsaved = None
            self._timer.stop()
        return jobs

    def save_now(self) -> None:
        """Snapshot every edited layer (copied now, written in a worker thread)."""
        self._queued += self._take_jobs()
        self._start()

    def _start(self) -> None:
        if self.worker is not None or not self._queued:  # one save at a time; the next starts when it ends
            return
        jobs, self._queued = self._queued, []
        self.worker = create_worker(quietly(_write), jobs)
        self.worker.returned.connect(self.saved.extend)
        self.worker.errored.connect(lambda exc: show_warning(f"MedSeg autosave failed: {exc}"))
        self.worker.finished.connect(self._finished)
        self.worker.start()

    def _finished(self) -> None:
        self.worker = None
        self._start()

    def flush(self) -> None:
        """Write every unsaved edit now, in this thread (the application is quitting)."""
        jobs, self._queued = self._queued + self._take_jobs(), []
        try:
            self.saved += _write(jobs)
        except (OSError, ValueError) as exc:
            show_warning(f"MedSeg autosave failed: {exc}")


def recovery_note(volume, name: str) -> str | None:
    """A line telling the user that snapshots of this image were kept, or None."""
    snapshots = list_snapshots(volume)
    if not snapshots:
        return None
    return (
        f"{name}: {len(snapshots)} autosaved label map(s), the latest {snapshots[0].describe()}; "
        "restore with Plugins > MedSeg > Recover labels"
    )


class RecoverWidget(Container):
    """Dock widget: choose an autosaved snapshot; Restore adds it as a Labels layer; Discard removes it."""

    def __init__(self, napari_viewer):
        self.viewer = napari_viewer
        self._snapshot = ComboBox(label="snapshot", choices=self._choices)
        self._restore = PushButton(text="Restore as a new layer")
        self._discard = PushButton(text="Discard")
        self._status = Label(value="")
        self._status.native.setWordWrap(True)  # magicgui has no option for it
        super().__init__(widgets=[self._snapshot, self._restore, self._discard, self._status])
        tabify_when_docked(self)  # opened beside our other docks: a tab, not a squeeze
        self._restore.changed.connect(self.restore)
        self._discard.changed.connect(self.discard)
        ensure_autosave(napari_viewer)
        self._status.value = "" if list_snapshots() else "no autosaved labels"

    def _choices(self, _widget=None) -> list:
        return [(s.describe(), s) for s in list_snapshots()]

    @property
    def status(self) -> str:
        return self._status.value

    def restore(self, *_args):
        """Add the chosen snapshot to the viewer, on its image's grid."""
        snapshot = self._snapshot.value
        if snapshot is None:
            self._status.value = "no autosaved labels"
            return None
        volume = load_snapshot(snapshot)
        data, kwargs, _ = labels_layer_data(volume.array, volume, f"{snapshot.layer} (recovered)", snapshot.label_names)
        layer = self.viewer.add_labels(data, **kwargs)
        self._status.value = f"restored {snapshot.describe()}"
        show_info(f"MedSeg: restored {snapshot.describe()}")
        return layer

    def discard(self, *_args):
        """Remove the chosen snapshot for good."""
        snapshot = self._snapshot.value
        if snapshot is None:
            return
        discard(snapshot)
        self._snapshot.reset_choices()
        self._status.value = f"discarded {snapshot.describe()}"
