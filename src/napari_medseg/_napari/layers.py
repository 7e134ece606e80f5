"""Conversions between :class:`~napari_medseg.volume.Volume` and napari layers.

napari world axes are (z, y, x) = (Superior, Posterior, Left) in mm (LPS reversed),
so a layer's ``affine`` is ``napari_affine(volume.affine)``; see ``volume.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ct_windows import is_ct, window_limits
from ..orientation import AXIS_LABELS
from ..volume import FileOrder, Volume, affine_from_napari, napari_affine
from . import sources

UNITS = ("mm", "mm", "mm")


def _layer_metadata(volume: Volume, ct: bool) -> dict[str, Any]:
    keep = ("path", "series_uid", "modality", "description", "format", "warnings", "window", "label_names")
    meta = {k: volume.meta[k] for k in keep if k in volume.meta}
    if ct:
        meta["value_unit"] = "HU"  # shown with the value under the cursor
    return {"medseg": meta}


def image_layer_data(volume: Volume, name: str | None = None) -> tuple:
    """A napari ``LayerDataTuple`` for an image volume, in physical space (mm)."""
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


def labels_layer_kwargs(reference: Volume, name: str, label_names: dict[int, str] | None = None) -> dict[str, Any]:
    """Keyword arguments for a Labels layer on ``reference``'s grid (with label names)."""
    kwargs: dict[str, Any] = {
        "name": name,
        "affine": napari_affine(reference.affine),
        "units": UNITS,
        "axis_labels": AXIS_LABELS,
        "metadata": {"medseg": {"source": reference.meta.get("path"), "label_names": dict(label_names or {})}},
    }
    if label_names:
        values = [0] + sorted(label_names)
        kwargs["features"] = {"index": values, "name": ["background"] + [label_names[v] for v in sorted(label_names)]}
    return kwargs


def label_colormap(colours: dict[int, str]):
    """napari colormap: background transparent, each label its colour (``#rrggbb``)."""
    from napari.utils.colormaps import DirectLabelColormap

    color_dict = {None: (0, 0, 0, 0), 0: (0, 0, 0, 0), **{int(k): v for k, v in colours.items()}}
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
    labels: np.ndarray, reference: Volume, name: str, label_names: dict[int, str] | None = None
) -> tuple:
    """A napari ``LayerDataTuple`` for a label map on ``reference``'s grid."""
    sources.remember(reference)
    return (labels, labels_layer_kwargs(reference, name, label_names), "labels")


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

    The file voxel order of the source is recovered when a volume opened in this
    session has the same grid, so results save back in the source's own order.
    """
    if layer.ndim != 3:
        raise ValueError(f"layer {layer.name!r} is {layer.ndim}D; a 3D volume is needed")
    return volume_from_data(np.asarray(layer.data), layer_grid(layer), layer.metadata)


def volume_from_data(data: np.ndarray, state: dict[str, Any], metadata: dict | None = None) -> Volume:
    """A Volume from layer data and the layer's transform entries (see world_affine_from_state)."""
    affine = affine_from_napari(world_affine_from_state(state))
    source = sources.find(data.shape, affine)
    meta = dict((metadata or {}).get("medseg", {}))
    if source is not None:
        meta = {**source.meta, **meta}
        return Volume(data, source.affine.copy(), source.file_order, meta)
    return Volume(data, affine, FileOrder(), meta)
