"""Folder -> folder segmentation: every case of a folder, on this machine or on a Dask cluster.

``segment_folder(in_dir, out_dir, "brain-tissue")`` segments each case of ``in_dir``
(volume files and DICOM series sub-folders, named as in
:func:`napari_medseg.io.folders.find_cases`) and writes ``out_dir/<case>.nii.gz`` on the
case's own grid (voxel order and affine of its source), then ``out_dir/segment_report.csv``
(one row per case) and ``out_dir/segment_volumes.csv`` (each case's volume of every model
label, in ml: the numbers a tissue or organ volume study needs).

* A case that fails (unreadable, wrong dimensionality, model error) is recorded with its
  message and the others go on; the report and the return value say which failed.
* An output that already exists is kept (``skipped``) unless ``overwrite``: an interrupted
  batch resumes where it stopped. Every write is atomic, so a killed run leaves no half file.
  The volumes of a kept output are measured from that file, so a resumed batch's volume table
  is complete.
* The model is checked once before any case runs (a missing model, an untrusted bundle or a
  prompted SAM model stops the batch with one message).
* With a Dask ``distributed.Client``, cases are spread over the cluster's workers; each
  worker process builds the model once (:func:`~napari_medseg.models.segment.load_pipeline`
  caches it) and reads and writes the paths it is given, so inputs and outputs must be on
  storage every worker sees. Without a client, cases run one after the other here: the
  network already uses every core of this machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import MedsegError
from .io.folders import find_cases
from .io.tables import write_csv

__all__ = [
    "CaseResult",
    "segment_case",
    "segment_folder",
    "write_report",
    "write_volumes",
    "REPORT_NAME",
    "VOLUMES_NAME",
]

REPORT_NAME = "segment_report.csv"
VOLUMES_NAME = "segment_volumes.csv"
REPORT_FIELDS = ("case", "input", "output", "status", "seconds", "device", "message")


@dataclass(frozen=True)
class CaseResult:
    """What happened to one case.

    Attributes
    ----------
    case : str, the case name.
    input, output : str, paths.
    status : {"done", "skipped", "failed"}
    seconds : float, wall time of reading, segmenting and writing (0 when skipped).
    device : str, where the network ran (empty unless done).
    message : str, the error of a failed case, or the model's notes.
    volumes_ml : dict int -> float, each model label's volume in the output (empty when failed).
    """

    case: str
    input: str
    output: str
    status: str
    seconds: float
    device: str = ""
    message: str = ""
    volumes_ml: dict = field(default_factory=dict)


def segment_case(
    case: str,
    source: str | Path,
    output: str | Path,
    model: str,
    device: str = "auto",
    trust_bundle: bool = False,
    argmax_first: bool | None = None,
) -> CaseResult:
    """Read, segment and write one case; errors become a ``failed`` result, never an exception.

    Runs wherever it is called: in this process or on a Dask worker.
    """
    from .io import read_volume, write_labels
    from .metrics.overlap import label_volumes_ml
    from .models.segment import segment_volume

    start = time.perf_counter()
    try:
        volume = read_volume(source)
        result = segment_volume(volume, model, device=device, trust_bundle=trust_bundle, argmax_first=argmax_first)
        write_labels(output, result.labels, volume)
        volumes = label_volumes_ml(result.labels, volume.spacing, labels_of_interest=result.label_names)
    except MedsegError as exc:
        return CaseResult(case, str(source), str(output), "failed", time.perf_counter() - start, message=str(exc))
    except Exception as exc:  # one broken case must not end a batch: recorded in the report with its type
        return CaseResult(
            case,
            str(source),
            str(output),
            "failed",
            time.perf_counter() - start,
            message=f"{type(exc).__name__}: {exc}",
        )
    return CaseResult(
        case,
        str(source),
        str(output),
        "done",
        time.perf_counter() - start,
        result.device,
        "; ".join(result.messages),
        volumes,
    )


def kept_case(case: str, source: str | Path, output: str | Path, label_names: dict[int, str]) -> CaseResult:
    """A case whose output exists: ``skipped``, with the volumes measured from that output."""
    from .io import read_volume
    from .metrics.overlap import label_volumes_ml

    try:
        labels = read_volume(output)
    except MedsegError as exc:
        return CaseResult(
            case,
            str(source),
            str(output),
            "failed",
            0.0,
            message=f"the existing output cannot be read ({exc}); use overwrite to redo it",
        )
    volumes = label_volumes_ml(labels.array, labels.spacing, labels_of_interest=label_names)
    return CaseResult(
        case,
        str(source),
        str(output),
        "skipped",
        0.0,
        message="output exists (use overwrite to redo)",
        volumes_ml=volumes,
    )


def segment_folder(
    in_dir: str | Path,
    out_dir: str | Path,
    model: str = "brain-tissue",
    *,
    device: str = "auto",
    trust_bundle: bool = False,
    argmax_first: bool | None = None,
    overwrite: bool = False,
    client=None,
    on_case: Callable[[int, int, CaseResult], None] | None = None,
) -> list[CaseResult]:
    """Segment every case of ``in_dir`` into ``out_dir`` and write the report there.

    Parameters
    ----------
    in_dir, out_dir : folders (``out_dir`` is created).
    model : registry name, bundle folder or checkpoint description (not a prompted SAM model).
    device : {"auto", "cpu", "cuda", "mps"}, on the machine that runs each case.
    trust_bundle : bool, trust a user bundle (see :mod:`napari_medseg.models.unet.trust`).
    argmax_first : bool, optional, see :func:`napari_medseg.models.segment.load_pipeline`.
    overwrite : bool, segment cases whose output already exists.
    client : ``distributed.Client``, optional; cases run on its workers.
    on_case : callable(done, total, result), optional; called as each case finishes.

    Returns
    -------
    list of CaseResult, sorted by case name.

    Raises
    ------
    MedsegError
        No cases in ``in_dir``, ``out_dir`` is ``in_dir`` or inside it (or not writable), or a
        model that cannot run (all before any case starts).
    """
    from .io.outputs import check_output_folder
    from .models.segment import load_pipeline

    check_output_folder(out_dir, [in_dir])
    cases = find_cases(in_dir)
    if not cases:
        raise MedsegError(f"{in_dir}: no volumes (.nii, .nii.gz, .nrrd, .mha, .mhd) or DICOM sub-folders")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pipeline = load_pipeline(model, trust_bundle, argmax_first)  # fails here, once, for a missing or untrusted model
    outputs = {name: out_dir / f"{name}.nii.gz" for name in cases}
    todo = [name for name in cases if overwrite or not outputs[name].exists()]
    results = [kept_case(name, cases[name], outputs[name], pipeline.label_names) for name in cases if name not in todo]
    total = len(cases)
    for result in results:
        _report(on_case, len(results), total, result)
    run_args = {"model": str(model), "device": device, "trust_bundle": trust_bundle, "argmax_first": argmax_first}
    if client is None:
        for name in todo:
            results.append(segment_case(name, cases[name], outputs[name], **run_args))
            _report(on_case, len(results), total, results[-1])
    else:
        from distributed import as_completed

        futures = client.map(
            segment_case, todo, [str(cases[n]) for n in todo], [str(outputs[n]) for n in todo], pure=False, **run_args
        )
        for future in as_completed(futures):
            results.append(future.result())
            _report(on_case, len(results), total, results[-1])
    results.sort(key=lambda r: r.case)
    write_report(results, out_dir / REPORT_NAME)
    write_volumes(results, pipeline.label_names, out_dir / VOLUMES_NAME)
    return results


def _report(on_case, done: int, total: int, result: CaseResult) -> None:
    if on_case is not None:
        on_case(done, total, result)


def write_report(results: list[CaseResult], path: str | Path) -> Path:
    """One CSV row per case (``case, input, output, status, seconds, device, message``), atomically."""
    rows = [
        {name: getattr(result, name) for name in REPORT_FIELDS} | {"seconds": f"{result.seconds:.2f}"}
        for result in results
    ]
    return write_csv(path, rows, REPORT_FIELDS)


def write_volumes(results: list[CaseResult], label_names: dict[int, str], path: str | Path) -> Path:
    """One CSV row per case and model label (``case, label, name, volume_ml``), atomically.

    Failed cases have no row: their status is in the report.
    """
    rows = [
        {"case": result.case, "label": label, "name": label_names.get(label, ""), "volume_ml": f"{ml:.3f}"}
        for result in results
        for label, ml in result.volumes_ml.items()
    ]
    return write_csv(path, rows, ("case", "label", "name", "volume_ml"))
