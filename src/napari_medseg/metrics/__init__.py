"""Evaluation metrics in millimetres: Dice, Jaccard, Hausdorff, HD95, ASSD, NSD, volumes.

No napari or Qt here. Entry points:

``evaluate_labels(pred, ref, spacing)``  two label arrays + voxel size -> list of records
``evaluate_volumes(pred, ref)``          two :class:`~napari_medseg.volume.Volume` s (grid checked)
``summarize(cases)``                     per-label statistics over many cases

The conventions are stated in :mod:`napari_medseg.metrics.evaluate`.
"""

from .evaluate import (
    RECORD_FIELDS,
    SURFACES,
    Evaluation,
    LabelMetrics,
    as_label_array,
    evaluate_labels,
    evaluate_volumes,
)
from .summary import LabelSummary, summarize

__all__ = [
    "RECORD_FIELDS",
    "SURFACES",
    "Evaluation",
    "LabelMetrics",
    "LabelSummary",
    "as_label_array",
    "evaluate_labels",
    "evaluate_volumes",
    "summarize",
]
