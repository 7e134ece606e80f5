"""Folder mode: pair prediction and reference files by name, evaluate every pair."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MedsegError
from ..io.folders import find_cases
from .evaluate import LabelMetrics, both_empty_record, evaluate_volumes

__all__ = ["FolderEvaluation", "pair_cases", "evaluate_folders"]


def pair_cases(
    pred_dir: str | Path, ref_dir: str | Path
) -> tuple[dict[str, tuple[Path, Path]], list[Path], list[Path]]:
    """Pair volumes of two folders by case name (:func:`napari_medseg.io.folders.case_name`).

    Returns
    -------
    pairs : dict of case name -> (prediction path, reference path), sorted by name
    unpaired_pred, unpaired_ref : lists of Path
    """
    preds, refs = find_cases(pred_dir), find_cases(ref_dir)
    pairs = {name: (preds[name], refs[name]) for name in sorted(set(preds) & set(refs))}
    return (pairs, [p for n, p in preds.items() if n not in refs], [p for n, p in refs.items() if n not in preds])


@dataclass
class FolderEvaluation:
    """Records per case, failures per case (message), what did not pair, and notes."""

    cases: dict[str, list[LabelMetrics]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    unpaired_pred: list[Path] = field(default_factory=list)
    unpaired_ref: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def evaluate_folders(
    pred_dir,
    ref_dir,
    *,
    labels=None,
    tolerance_mm: float = 2.0,
    surface: str = "voxel",
    resample: bool = False,
    on_case: Callable[[int, int, str], None] | None = None,
) -> FolderEvaluation:
    """Evaluate every prediction/reference pair of two folders.

    A case that fails (unreadable, different grids, not a label map) is recorded in
    ``failures`` and the others go on. Without ``labels``, every label found in any
    case is evaluated in every case: a case where it is absent from both masks gets a
    ``both_empty`` record instead of being left out.

    Raises
    ------
    MedsegError
        No file pairs by name.
    """
    from ..io import read_volume

    pairs, unpaired_pred, unpaired_ref = pair_cases(pred_dir, ref_dir)
    if not pairs:
        raise MedsegError(
            f"no prediction in {pred_dir} has a reference of the same name in {ref_dir} "
            f"({len(unpaired_pred)} and {len(unpaired_ref)} volumes found)"
        )
    result = FolderEvaluation(unpaired_pred=unpaired_pred, unpaired_ref=unpaired_ref)
    for i, (name, (pred_path, ref_path)) in enumerate(pairs.items(), start=1):
        if on_case is not None:
            on_case(i, len(pairs), name)
        try:
            evaluation = evaluate_volumes(
                read_volume(pred_path),
                read_volume(ref_path),
                resample=resample,
                labels=labels,
                tolerance_mm=tolerance_mm,
                surface=surface,
            )
        except MedsegError as exc:
            result.failures[name] = str(exc)
            continue
        result.cases[name] = evaluation.records
        if evaluation.note:
            result.notes.append(f"{name}: {evaluation.note}")
    if labels is None:
        every = sorted({r.label for records in result.cases.values() for r in records})
        for records in result.cases.values():
            present = {r.label for r in records}
            records.extend(both_empty_record(lb, tolerance_mm, surface) for lb in every if lb not in present)
            records.sort(key=lambda r: r.label)
    return result
