"""npe2 reader hook: DICOM folders/files, NIfTI, NRRD, MHA/MHD -> image layers in mm.

A DICOM folder's RT structure sets and DICOM SEGs come as Labels layers on the grid of the
series they were drawn on, one label per ROI or segment, with their names and colours.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import MedsegError
from ..io import is_readable_path, read_all_volumes
from .layers import image_layer_data, label_colormap, labels_layer_data

MAX_NOTICES = 3  # a folder of localizers must not bury the user in pop-ups


def get_reader(path):
    """Return :func:`read_layers` when ``path`` looks like something we read, else None."""
    paths = path if isinstance(path, list) else [path]
    if not paths or not all(is_readable_path(p) for p in paths):
        return None
    return read_layers


def read_layers(path) -> list[tuple]:
    """Read every volume at ``path`` (each DICOM series its own layer).

    All volumes are read before any layer is returned, so a failure adds nothing; the
    failure is shown as a notification and the null-layer sentinel is returned.
    """
    from napari.utils.notifications import show_error, show_info, show_warning

    paths = path if isinstance(path, list) else [path]
    try:
        volumes = [v for p in paths for v in read_all_volumes(p)]
    except MedsegError as exc:
        show_error(str(exc))
        return [(None,)]
    import napari

    from .autosave import ensure_autosave, recovery_note

    ensure_autosave(napari.current_viewer())  # corrections painted on what opens here are never lost
    layers, notes = [], []
    for v in volumes:
        name = v.meta.get("description") or Path(v.meta.get("path", "")).name
        if (note := recovery_note(v, name)) is not None:
            notes.insert(0, note)
        if v.is_oblique:
            _accept_oblique_slicing()
            notes.append(f"{name} is oblique ({v.obliquity_deg:.1f} deg): napari shows each slice in its own "
                         "plane; positions in mm and saved labels keep the true geometry")
        notes += [f"{name}: {w}" for w in v.meta.get("warnings", [])]
        layers.append(image_layer_data(v))
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


def structures_layer_data(path, volume, notes: list[str]) -> tuple:
    """A Labels ``LayerDataTuple`` of the RT structure set or DICOM SEG at ``path`` drawn on ``volume``'s grid."""
    from ..io.annotations import draw_annotation

    label, drawn = draw_annotation(path, volume)
    name = f"{label} (structures)"
    notes += [f"{name}: {w}" for w in drawn.warnings]
    data, kwargs, kind = labels_layer_data(drawn.labels, volume, name, drawn.names)
    kwargs["colormap"] = label_colormap(drawn.colours)
    return data, kwargs, kind


def _accept_oblique_slicing() -> None:
    """Silence napari's per-slice warning for oblique data; the user was told once instead."""
    import warnings

    warnings.filterwarnings("ignore", message="Non-orthogonal slicing is being requested")
