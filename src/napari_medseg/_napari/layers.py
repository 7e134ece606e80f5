"""Conversions between :class:`~napari_medseg.volume.Volume` and napari layers.

napari world axes are (z, y, x) = (Superior, Posterior, Left) in mm (LPS reversed),
so a layer's ``affine`` is ``napari_affine(volume.affine)``; see ``volume.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..colours import colour_of
from ..ct_windows import is_ct, window_limits
from ..orientation import AXIS_LABELS
from ..volume import FileOrder, Volume, affine_from_napari, napari_affine
from . import sources

UNITS = ("mm", "mm", "mm")


def _layer_metadata(volume: Volume, ct: bool) -> dict[str, Any]:
    keep = ("path", "series_uid", "modality", "description", "format", "warnings", "window", "label_names", "source_id")
    meta = {k: volume.meta[k] for k in keep if k in volume.meta}
    if ct:
        meta["value_unit"] = "HU"  # shown with the value under the cursor
    return {"medseg": meta}


def image_layer_data(volume: Volume, name: str | None = None) -> tuple:
    """A napari ``LayerDataTuple`` for an image volume read by our readers, in physical space (mm).

    The volume is registered as a source (:func:`sources.remember`): labels drawn on the
    layer are saved on its grid.
    """
    sources.remember(volume)
    ct = is_ct(volume)
    kwargs: dict[str, Any] = {
        "name": name or volume.meta.get("description") or "volume",
        "affine": napari_affine(volume.affine),
        "units": UNITS,
        "axis_labels": AXIS_LABELS,
        "metadata": _layer_metadata(volume, ct),
    }
    window = volume.meta.get("window")
    if window:
        center, width = window
        kwargs["contrast_limits"] = (center - width / 2, center + width / 2)
    elif ct:
        kwargs["contrast_limits"] = window_limits("soft_tissue")
    return (volume.array, kwargs, "image")


def labels_layer_kwargs(
    reference: Volume, name: str, label_names: dict[int, str] | None = None, colours: dict[int, str] | None = None
) -> dict[str, Any]:
    """Keyword arguments for a Labels layer on ``reference``'s grid, with label names and colours.

    Labels without a colour of their own take the palette's (:func:`label_colormap`), so the same
    value looks the same in every layer: a reference and a model's result side by side.
    """
    kwargs: dict[str, Any] = {
        "name": name,
        "affine": napari_affine(reference.affine),
        "units": UNITS,
        "axis_labels": AXIS_LABELS,
        "metadata": {
            "medseg": {
                "source": reference.meta.get("path"),
                "source_id": reference.meta.get("source_id"),
                "label_names": dict(label_names or {}),
            }
        },
    }
    if label_names:
        values = [0] + sorted(label_names)
        kwargs["features"] = {"index": values, "name": ["background"] + [label_names[v] for v in sorted(label_names)]}
    kwargs["colormap"] = label_colormap(colours or {})
    return kwargs


#: Label values given the palette's colours in every colormap; larger ones share :data:`_BEYOND`.
_PALETTE_VALUES = 255
_BEYOND = "#ffe119"


def label_colormap(colours: dict[int, str]):
    """napari colormap: background transparent, each label its colour (``#rrggbb``).

    Every other value is visible too: 1-255 in the palette's colours (:func:`colours.colour_of`),
    larger ones in one more colour. A value picked in napari's own layer controls (its *new*
    label button) must never paint invisibly.
    """
    from napari.utils.colormaps import DirectLabelColormap

    color_dict: dict = {None: _BEYOND, 0: (0, 0, 0, 0)}
    color_dict.update({v: colour_of(v) for v in range(1, _PALETTE_VALUES + 1)})
    color_dict.update({int(k): v for k, v in colours.items()})
    return DirectLabelColormap(color_dict=color_dict)


def label_names_from_features(features) -> dict[int, str]:
    """Label value -> name from a Labels layer's ``features`` (``name`` column; ``index`` or row number)."""
    if features is None or "name" not in features:
        return {}
    values = features["index"] if "index" in features else range(len(features))
    return {int(k): str(name) for k, name in zip(values, features["name"])}


def label_colours(colormap, labels) -> dict[int, str]:
    """Label value -> ``#rrggbb`` as a Labels layer's ``colormap`` draws it."""
    labels = [int(k) for k in labels]
    if not labels:
        return {}
    rgba = np.asarray(colormap.map(np.asarray(labels)))
    return {k: "#{:02x}{:02x}{:02x}".format(*(int(round(255 * c)) for c in rgb[:3])) for k, rgb in zip(labels, rgba)}


def labels_layer_data(
    labels: np.ndarray,
    reference: Volume,
    name: str,
    label_names: dict[int, str] | None = None,
    colours: dict[int, str] | None = None,
) -> tuple:
    """A napari ``LayerDataTuple`` for a label map on ``reference``'s grid.

    The layer carries ``reference``'s source id (when it has one, see
    :func:`sources.remember`), so the writers save it on that grid.
    """
    return (labels, labels_layer_kwargs(reference, name, label_names, colours), "labels")


def world_affine_from_state(state: dict[str, Any]) -> np.ndarray:
    """Data -> world 4x4 matrix of a 3D layer from its state (affine, scale, translate, ...).

    napari composes ``affine @ (translate, rotate, shear, scale)``; writer hooks get
    these entries separately in their ``meta`` dict.
    """
    from napari.utils.transforms import Affine

    physical = Affine(
        scale=state.get("scale", (1, 1, 1)),
        translate=state.get("translate", (0, 0, 0)),
        rotate=state.get("rotate"),
        shear=state.get("shear"),
        ndim=3,
    ).affine_matrix
    extra = state.get("affine")
    extra = np.eye(4) if extra is None else np.asarray(getattr(extra, "affine_matrix", extra), float)
    return extra @ physical


def layer_grid(layer) -> dict[str, Any]:
    """Transform keyword arguments that put a new layer on ``layer``'s data grid (units included)."""
    return {
        "scale": layer.scale,
        "translate": layer.translate,
        "rotate": layer.rotate,
        "shear": layer.shear,
        "affine": layer.affine.affine_matrix,
        "units": layer.units,
    }


def volume_from_layer(layer) -> Volume:
    """A Volume for a 3D napari Image or Labels layer (its data and world geometry).

    The file voxel order and provenance of the source are recovered when the layer lies
    on a volume our readers opened (:func:`sources.find`), so results save back in the
    source's own order; otherwise the layer's own geometry, unproven (writers refuse
    such labels, see :func:`reference_for_labels`).
    """
    if layer.ndim != 3:
        raise ValueError(f"layer {layer.name!r} is {layer.ndim}D; a 3D volume is needed")
    return volume_from_data(np.asarray(layer.data), layer_grid(layer), layer.metadata)


def volume_from_data(data: np.ndarray, state: dict[str, Any], metadata: dict | None = None) -> Volume:
    """A Volume from layer data and the layer's transform entries (see world_affine_from_state)."""
    affine = affine_from_napari(world_affine_from_state(state))
    meta = dict((metadata or {}).get("medseg", {}))
    source = sources.find(data.shape, affine, meta, open_ids=_open_source_ids())
    if source is not None:
        return Volume(data, source.affine.copy(), source.file_order, _merged(source.meta, meta))
    meta.pop("source_id", None)  # not (or no longer) on that source's grid
    return Volume(data, affine, FileOrder(), meta)


def reference_for_labels(data: np.ndarray, state: dict[str, Any], *, dicom: bool = False) -> Volume:
    """The labels layer's data on the grid of the image it was drawn on, proven (see :mod:`.sources`).

    Parameters
    ----------
    data : (Z, Y, X) ndarray
        The layer's labels.
    state : dict
        The layer's state as writer hooks get it (transforms, ``metadata``, ``name``).
    dicom : bool
        The output refers to a DICOM series (RT structure set, SEG).

    Raises
    ------
    MedsegError
        When no grid can be proven (a layer from another reader or with a hand-made
        transform, moved off its image, or on a grid several images share); the message
        says how to fix it.
    """
    affine = affine_from_napari(world_affine_from_state(state))
    meta = dict((state.get("metadata") or {}).get("medseg", {}))
    name = str(state.get("name") or "labels")
    source = sources.require_source(data.shape, affine, meta, dicom=dicom, open_ids=_open_source_ids(), name=name)
    return Volume(data, source.affine.copy(), source.file_order, _merged(source.meta, meta))


def _open_source_ids() -> set[str] | None:
    """Source ids of the layers in the current napari viewer (None without a viewer)."""
    import napari

    viewer = napari.current_viewer()
    if viewer is None:
        return None
    return {sid for layer in viewer.layers if (sid := (layer.metadata.get("medseg") or {}).get("source_id"))}


def _merged(source_meta: dict[str, Any], layer_meta: dict[str, Any]) -> dict[str, Any]:
    """The source's provenance with the layer's own entries (those set) on top."""
    return {**source_meta, **{k: v for k, v in layer_meta.items() if v is not None}}
