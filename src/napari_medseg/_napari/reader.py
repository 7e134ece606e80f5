"""npe2 reader hook: DICOM folders/files, NIfTI, NRRD, MHA/MHD -> image layers in mm.

A folder holding several DICOM series opens the series chooser instead (:mod:`.series_chooser`);
each series' layer is named "number: description", distinct within the study.

Label maps (NIfTI intent label, or a file with an ITK-SNAP label description beside it,
see :mod:`napari_medseg.io.label_table`) open as Labels layers with their names and colours.

A DICOM folder's RT structure sets and DICOM SEGs come as Labels layers on the grid of the
series they were drawn on, one label per ROI or segment, with their names and colours.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import MedsegError
from ..io import is_itk, is_nifti, is_readable_path, read_volume
from . import sources
from .layers import image_layer_data, labels_layer_data

MAX_NOTICES = 3  # a folder of localizers must not bury the user in pop-ups


def get_reader(path):
    """Return :func:`read_layers` when ``path`` looks like something we read, else None."""
    paths = path if isinstance(path, list) else [path]
    if not paths or not all(is_readable_path(p) for p in paths):
        return None
    return read_layers


def read_layers(path) -> list[tuple]:
    """Read every volume at ``path``; a DICOM folder holding several series opens the series chooser.

    With a napari viewer, a folder (or DICOMDIR) of several series adds nothing here: the
    chooser is docked (:mod:`.series_chooser`) and opens the series the user ticks. Without
    one, every series is read, each under its distinct name. All volumes are read before any
    layer is returned, so a failure adds nothing; it is shown as a notification and the
    null-layer sentinel is returned.
    """
    from napari.utils.notifications import show_error

    from ..io.series_choice import load_choices, study_choices

    viewer = _viewer_with_window()
    named = []
    try:
        for p in path if isinstance(path, list) else [path]:
            if Path(p).is_file() and (is_nifti(Path(p)) or is_itk(Path(p))):
                named.append((None, read_volume(p)))
                continue
            choices = study_choices(p)
            if len(choices) > 1 and viewer is not None:
                from .series_chooser import show_series_chooser

                show_series_chooser(viewer, p, choices)
            else:
                named += load_choices(choices)
    except MedsegError as exc:
        show_error(str(exc))
        return [(None,)]
    return volume_layers(named) or [(None,)]


def _viewer_with_window():
    """The current napari viewer when it has a window to dock the chooser in, else None."""
    import napari

    viewer = napari.current_viewer()
    return viewer if getattr(viewer, "window", None) is not None else None


def volume_layers(named: list[tuple[str | None, object]]) -> list[tuple]:
    """``LayerDataTuple``s of ``(name, volume)`` pairs (name None: the file's), with their structure sets.

    Also switches on autosave and the orientation display, and shows the volumes' notes
    (at most :data:`MAX_NOTICES`, then a count).
    """
    import napari
    from napari.utils.notifications import show_info, show_warning

    from .autosave import ensure_autosave, recovery_note
    from .orientation import ensure_orientation

    ensure_autosave(napari.current_viewer())  # corrections painted on what opens here are never lost
    ensure_orientation(napari.current_viewer())  # superior up, anatomical letters, labelled cursor
    sources.follow_new_labels(napari.current_viewer())  # New Labels keep the link to their image
    layers, notes = [], []
    for name, v in named:
        name = name or v.meta.get("description") or Path(v.meta.get("path", "")).name
        if (note := recovery_note(v, name)) is not None:
            notes.insert(0, note)
        if v.is_oblique:
            _accept_oblique_slicing()
            notes.append(
                f"{name} is oblique ({v.obliquity_deg:.1f} deg): napari shows each slice in its own "
                "plane; positions in mm and saved labels keep the true geometry"
            )
        notes += [f"{name}: {w}" for w in v.meta.get("warnings", [])]
        layers.append(_layer_data(v, name, notes))
        for structure_set in v.meta.get("structure_sets", []):
            try:
                layers.append(structures_layer_data(structure_set, v, notes))
            except MedsegError as exc:  # the image still opens; the user is told why its contours did not
                notes.append(str(exc))
    for note in notes[:MAX_NOTICES]:
        show_warning(note)
    if len(notes) > MAX_NOTICES:
        show_info(f"... and {len(notes) - MAX_NOTICES} more notes; `medseg info PATH` lists them all")
    return layers


def _layer_data(volume, name: str, notes: list[str]) -> tuple:
    """A label map as Labels (names, colours), anything else, or a label map napari cannot show so, as an Image."""
    if volume.meta.get("labels"):
        try:
            return label_map_layer_data(volume, name)
        except ValueError as exc:  # negative or fractional values: not usable as labels
            notes.append(f"{name} is marked as a label map but {exc}; opened as an image")
    return image_layer_data(volume, name)


def label_map_layer_data(volume, name: str) -> tuple:
    """A Labels ``LayerDataTuple`` for a label map file, with its names and colours (sidecar)."""
    from ..volume import smallest_label_dtype

    names, colours = volume.meta.get("label_names") or {}, volume.meta.get("label_colours") or {}
    labels = np.asarray(volume.array)
    if labels.dtype.kind not in "iu":  # e.g. float label maps: napari Labels need integers
        labels = labels.astype(smallest_label_dtype(labels))
    sources.remember(volume)  # the file's own grid: saving the layer writes it back there
    data, kwargs, kind = labels_layer_data(labels, volume, name, names, colours)
    kwargs["metadata"]["medseg"]["path"] = volume.meta.get("path")
    return data, kwargs, kind


def structures_layer_data(path, volume, notes: list[str]) -> tuple:
    """A Labels ``LayerDataTuple`` of the RT structure set or DICOM SEG at ``path`` drawn on ``volume``'s grid."""
    from ..io.annotations import draw_annotation

    label, drawn = draw_annotation(path, volume)
    name = f"{label} (structures)"
    notes += [f"{name}: {w}" for w in drawn.warnings]
    return labels_layer_data(drawn.labels, volume, name, drawn.names, drawn.colours)


def _accept_oblique_slicing() -> None:
    """Silence napari's per-slice warning for oblique data; the user was told once instead."""
    import warnings

    warnings.filterwarnings("ignore", message="Non-orthogonal slicing is being requested")
