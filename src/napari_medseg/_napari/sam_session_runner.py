"""The Interactive SAM widget's session: built, re-targeted and driven in one worker at a time.

The widget turns prompts into *steps* (callables ``session -> Change``) and hands them to a
:class:`SessionRunner`. The runner queues them and runs the queue in a napari thread
worker, first (re)building the :class:`~napari_medseg.models.sam.InteractiveSession` when the
image or a model setting changed, and re-reading the structure from the labels layer when the
target (layer, label value) changed or was edited. When no foreground work is left, it embeds
the viewed axis' slices in the background (:class:`.sam_embedding.BackgroundEmbedder`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from magicgui.widgets import ProgressBar
from napari.qt.threading import create_worker

from ..cache import cache_root
from ..library_warnings import quietly
from ..models.sam import InteractiveSession, load_predictor
from .sam_embedding import BackgroundEmbedder

__all__ = ["SessionRequest", "SessionRunner"]


@dataclass(frozen=True)
class SessionRequest:
    """What the session must be built from, read from the widget when a queue starts.

    Attributes
    ----------
    settings : tuple
        ``(image id, model, checkpoint, window, modality, device)``: a change rebuilds the session.
    target : tuple
        ``(labels layer id or None, label value)``: a change re-reads the structure.
    image : (Z, Y, X) array, the image layer's data.
    labels : (Z, Y, X) array or None, the labels layer's data when it lies on the image's grid.
    """

    settings: tuple
    target: tuple
    image: np.ndarray
    labels: np.ndarray | None


class SessionRunner:
    """Owns the widget's session and its workers.

    Parameters
    ----------
    progress, embedding_progress : magicgui ProgressBar
        The model's work (busy indicator, or steps when known) and the slices embedded.
    request : callable
        Returns the :class:`SessionRequest` for the widget's current choices (None: no image).
    on_changes : callable(changes, retargeted, describe)
        Receives the queued steps' changes on the GUI thread; ``retargeted`` when the structure
        was re-read from the labels layer.
    say : callable(str)
        Shows a status line (what runs, or an error).
    embed_from : callable
        ``(axis, current slice)`` whose slices are embedded in the background when idle.
    """

    def __init__(
        self,
        progress: ProgressBar,
        embedding_progress: ProgressBar,
        request: Callable[[], SessionRequest | None],
        on_changes: Callable[[list, bool, str], None],
        say: Callable[[str], None],
        embed_from: Callable[[], tuple[int, int]],
    ):
        self.progress, self.request, self.on_changes, self.say = progress, request, on_changes, say
        self.embed_from = embed_from
        self.session: InteractiveSession | None = None
        self._settings: tuple | None = None
        self._target: tuple | None = None
        self._queue: list = []  # steps waiting for the worker
        self._describe = ""  # the status line of the latest queued steps, shown when they are done
        self.worker = None
        self.embedder = BackgroundEmbedder(embedding_progress, lambda: self.worker is not None, self._failed)
        self.closing = False

    @property
    def busy(self) -> bool:
        """True while the model works on the user's interactions."""
        return self.worker is not None

    @property
    def idle(self) -> bool:
        """True when no model work (foreground or background embedding) is running."""
        return self.worker is None and not self.embedder.running

    def drop(self) -> None:
        """Forget the session (an image or model setting changed): the next steps build a new one."""
        self.embedder.stop()
        self.session, self._settings, self._target = None, None, None

    def target_edited(self) -> None:
        """The labels layer was painted, undone or written: re-read the structure before the next step."""
        self._target = None

    def target_current(self, target: tuple) -> None:
        """The session's structure is now what the labels layer holds for ``target`` (after Accept)."""
        self._target = target

    def submit(self, steps: list, describe: str = "") -> None:
        """Queue steps (callables ``session -> Change``); run the queue in a worker unless one runs."""
        self._queue.extend(steps)
        self._describe = describe or self._describe
        if self.worker is None and not self.closing:
            self._run_queue()

    def _run_queue(self) -> None:
        describe, self._describe = self._describe, ""
        request = self.request()
        if request is None:
            return
        settings, target = request.settings, request.target
        rebuild = self.session is None or self._settings != settings
        retarget = rebuild or self._target != target
        steps, self._queue = self._queue, []
        session = self.session

        def work():
            nonlocal session
            if rebuild or session is None:
                _, model, checkpoint, window, modality, device = settings
                predictor = load_predictor(model, checkpoint, device, cache_dir=cache_root() / "sam-embeddings")
                session = InteractiveSession(predictor, np.asarray(request.image), window, modality)
            if retarget:
                session.set_target(request.labels, target[1])
            return session, [step(session) for step in steps]

        def done(result):
            self.session, changes = result
            self._settings, self._target = settings, target
            self.on_changes(changes, retarget, describe)

        self.say("Loading the model and windowing the image..." if rebuild else "Working...")
        self.start(work, done)

    def start(self, work, on_done):
        """Run ``work`` (a function or generator) in the worker; ``on_done`` gets its result. Returns the worker."""
        self.progress.max, self.progress.value = 0, 0  # busy indicator until steps are known
        worker = create_worker(quietly(work))
        worker.returned.connect(on_done)
        worker.errored.connect(self._failed)
        worker.finished.connect(self._finished)
        self.worker = worker
        worker.start()
        return worker

    def _failed(self, exc: Exception) -> None:
        self.say(f"Error: {exc}")

    def _finished(self) -> None:
        self.worker = None
        self.progress.max, self.progress.value = 1, 1
        if self.closing:
            return
        if self._queue:
            self._run_queue()
        else:
            self.embed()

    def embed(self) -> None:
        """Embed the viewed axis' slices in the background (when a session exists)."""
        if not self.closing and self.session is not None:
            self.embedder.start(self.session, *self.embed_from())

    def cancel(self) -> None:
        """Stop a running worker (a propagation, an adaptation) after its current step."""
        if self.worker is not None:
            self.worker.quit()

    def shutdown(self) -> None:
        """Stop all background work for good (the dock or the viewer closes)."""
        self.closing = True
        self.embedder.stop()
        self.cancel()
