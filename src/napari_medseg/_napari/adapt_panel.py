"""The *Adapt to this structure* panel of the Interactive SAM widget.

Takes the slices of the chosen label in the labels layer along the viewed axis (the ones
the user accepted or corrected) as training data, fine-tunes a copy of the SAM decoder on
them (:func:`napari_medseg.models.sam.adapter.adapt_steps`) in the widget's worker with a
progress bar and Cancel, saves the adapter under ``<cache>/adapters`` (``medseg models``
lists it), makes the session decode *that label* with it, and re-propagates the structure
from the corrected slices into the preview. Choosing another label value goes back to the
base model; coming back to the label uses its adapter again.
"""

from __future__ import annotations

import time

import numpy as np
from magicgui.widgets import Container, Label, ProgressBar, PushButton, SpinBox

from ..models.sam.adapter import adapt_steps, adapted_predictor
from ..models.sam.adapter_store import default_adapter_folder, save_adapter
from ..models.sam.propagation import Extent

__all__ = ["AdaptPanel"]


def _tagged(steps, tag: str):
    """Yield ``(tag, done, total)`` for each ``(done, total)`` of ``steps``; return its value."""
    while True:
        try:
            done, total = next(steps)
        except StopIteration as finished:
            return finished.value
        yield tag, done, total


class AdaptPanel(Container):
    """Steps, *Adapt to this structure*, progress and a status line, driving ``owner`` (a ``SamWidget``)."""

    def __init__(self, owner):
        super().__init__()
        self.margins = (0, 0, 0, 0)  # no gap above and below the panel in the SAM dock
        self.owner = owner
        self.steps = SpinBox(value=100, min=5, max=2000, label="adapt steps")
        self.steps.tooltip = "Optimiser steps (2 slices each); about 0.3-1.5 s each on a 2-core CPU."
        self.button = PushButton(text="Adapt to this structure")
        self.button.tooltip = (
            "Fine-tune a copy of the model's decoder on this label's slices of the viewed axis, "
            "then re-propagate it. Used for this label only; not a validated model."
        )
        self.button.changed.connect(lambda *_: self.adapt())
        self.progress = ProgressBar(value=0, min=0, max=1, label="adapting")
        self.status = Label(value="Accept or correct a few slices of a structure, then adapt.")
        self.status.native.setWordWrap(True)
        self.extend([self.steps, self.button, self.progress, self.status])
        self._session = self._base = None
        self._adapted: dict[int, object] = {}  # label value -> adapted predictor, for self._session
        owner.label_value.changed.connect(self._label_changed)

    def _base_of(self, session):
        """The base predictor of ``session``; adapters made for an earlier session are forgotten."""
        if session is not self._session:
            self._session, self._base, self._adapted = session, session.predictor, {}
        return self._base

    def _label_changed(self, *_):
        session = self.owner.session
        if session is None:
            return
        base = self._base_of(session)
        value = self.owner.label_value.value
        session.set_predictor(self._adapted.get(value, base))
        self.status.value = (
            f"Label {value} uses its adapter." if value in self._adapted else f"Label {value} uses the base model."
        )

    def adapt(self):
        """Adapt to the chosen label's slices along the viewed axis, then re-propagate it (in a worker)."""
        owner, session = self.owner, self.owner.session
        layer, value = owner.labels_combo.value, owner.label_value.value
        if session is None or owner.busy:
            self.status.value = "Wait for the model to finish its current work, then adapt."
            return
        if layer is None or tuple(layer.data.shape) != session.shape:
            self.status.value = "Choose the labels layer holding the corrected structure (on the image's grid)."
            return
        axis = owner.slice_axis()
        labels = np.asarray(layer.data)
        structure = np.moveaxis(labels == value, axis, 0)
        slices = np.flatnonzero(structure.any(axis=(1, 2))).tolist()
        if len(slices) < 2:
            self.status.value = (
                f"Label {value} is on {len(slices)} slice(s) of this view: accept or correct at "
                "least 2 (better 3-10) slices of the structure first."
            )
            return
        base, stack, keys = self._base_of(session), session.volume.stack(axis), session.volume.key_function(axis)
        first, last = sorted((owner.first.value, owner.last.value))
        extent = Extent(first, min(last, session.shape[axis] - 1))
        image = owner.image_combo.value
        record = {
            "image": image.name,
            "slice_axis": f"array axis {axis}",
            "label_name": str(getattr(layer, "name", "")),
        }
        folder = default_adapter_folder() / f"{image.name}-label{value}-{time.strftime('%Y%m%d-%H%M%S')}"
        made: dict = {}
        steps = self.steps.value

        def work():
            adapter = yield from _tagged(
                adapt_steps(base, stack, structure, slices, label=value, steps=steps, keys=keys, record=record),
                "Adapting",
            )
            made["adapted"] = adapted_predictor(base, adapter)
            save_adapter(adapter, folder)
            session.set_target(labels, value)
            session.set_predictor(made["adapted"])
            session.add_slices(axis, slices)
            change = yield from _tagged(session.propagate_steps(axis, extent), "Re-propagating")
            return adapter, change

        def report(step):
            tag, done, total = step
            self.progress.max, self.progress.value = total, done
            self.status.value = f"{tag}: {done} of {total}. Cancel stops."

        def done(result):
            adapter, change = result
            self._adapted[value] = made["adapted"]
            owner.target_in_session()  # the session holds this label now
            owner.show_change(change)
            card = adapter.card
            scores = (
                f" Held-out slices: Dice {card['dice_before']:.2f} -> {card['dice_after']:.2f}."
                if card.get("dice_after") is not None
                else ""
            )
            self.status.value = (
                f"Adapted to label {value} from {len(slices)} slices in {card['seconds']:.0f} s."
                f"{scores} Re-propagated into the preview: check it, then Accept [G]. "
                f"Saved to {folder}. It learned this structure only; not a validated model."
            )

        def aborted():
            if "adapted" in made:  # cancelled while re-propagating: the adapter stays for this label
                self._adapted[value] = made["adapted"]
            self.status.value = "Adapting cancelled; the preview is unchanged."

        self.status.value = f"Adapting to label {value} on {len(slices)} slices..."
        worker = owner.runner.start(work, done)
        worker.yielded.connect(report)
        worker.aborted.connect(aborted)
