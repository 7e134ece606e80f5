"""``medseg adapt IMAGE LABELS --label N --slices K0,K1,... --out ADAPTER_DIR``: teach LiteMedSAM one structure.

Fine-tunes a copy of the SAM model's mask decoder on the slices of label N in LABELS
(:mod:`napari_medseg.models.sam.adapter`) and saves the adapter (``decoder.pt`` +
``adapter.json``). Slices are voxel indices along the file's K axis, as ``--box`` takes
them (``cli/sam_segment.py``); the default is every slice that holds label N. Use the
adapter with ``medseg segment IMAGE --model litemedsam --adapter ADAPTER_DIR --label N``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..ct_windows import WINDOWS
from ..errors import MedsegError
from ..models.registry import DEVICES, SAM_TYPES
from .progress import TerminalProgress


def add_parser(sub) -> None:
    p = sub.add_parser(
        "adapt",
        help="fine-tune LiteMedSAM's decoder on corrected slices of one structure",
        description="Teach a SAM model one structure from its corrected slices; writes an adapter "
        "folder. An adapter learns one structure from one user's corrections: it is not "
        "a validated model.",
    )
    p.add_argument("image", help="the image (NIfTI / NRRD / MHA file or DICOM folder)")
    p.add_argument("labels", help="label map on IMAGE's grid holding the corrected structure")
    p.add_argument("--label", type=int, required=True, metavar="N", help="the structure's label value in LABELS")
    p.add_argument("--label-name", default="", help="the structure's name, recorded in the card")
    p.add_argument("--model", default="litemedsam", help="litemedsam (default) or a SAM .pth with --sam-type")
    p.add_argument("--sam-type", choices=SAM_TYPES, default=None, help="architecture of a --model .pth file")
    p.add_argument(
        "--slices",
        metavar="K0,K1,...",
        help="corrected slices: voxel indices along INPUT's K axis (default: every slice holding label N)",
    )
    p.add_argument(
        "--out",
        help="new adapter folder to write (default: <cache>/adapters/<image>-label<N>-<time>, "
        "listed by `medseg models`)",
    )
    p.add_argument("--steps", type=int, default=100, help="optimiser steps of 2 slices each (default 100)")
    p.add_argument("--prompt-encoder", action="store_true", help="fine-tune the prompt encoder too")
    p.add_argument(
        "--window",
        metavar="PRESET|L,W",
        help=f"CT window: {', '.join(WINDOWS)} or LEVEL,WIDTH (default: soft_tissue for CT)",
    )
    p.add_argument(
        "--modality", choices=("auto", "CT", "MR"), default="auto", help="intensity handling, as for segment"
    )
    p.add_argument("--device", choices=DEVICES, default="auto", help="where the network runs")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run)


def _slices(text: str | None, present: np.ndarray, n: int) -> list[int]:
    """File K indices from ``--slices`` (checked against 0..n-1), or every K in ``present``."""
    if not text:
        return [int(k) for k in np.flatnonzero(present)]
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise MedsegError(f"--slices {text!r}: expected comma-separated integers") from None
    outside = [k for k in values if not 0 <= k < n]
    if outside:
        raise MedsegError(f"--slices: {outside} outside INPUT's K axis (0..{n - 1})")
    return sorted(set(values))


def run(args) -> int:
    from ..io import read_volume
    from ..models.sam import InteractiveSession, load_predictor
    from ..models.sam.adapter import adapt
    from ..models.sam.adapter_store import default_adapter_folder, save_adapter
    from .sam_segment import _model_and_type, _to_array_indices

    volume, labels = read_volume(args.image), read_volume(args.labels)
    if labels.shape != volume.shape or not np.allclose(labels.affine, volume.affine, atol=1e-3):
        raise MedsegError(f"{args.labels}: not on IMAGE's grid (shape {labels.shape} vs {volume.shape})")
    if args.steps < 1:
        raise MedsegError("--steps must be at least 1")
    structure = labels.array == args.label
    axis = volume.file_order.perm.index(2)  # the array axis that the file's K became
    file_k = np.flatnonzero(np.moveaxis(labels.to_file_order(structure.astype(np.uint8)), 2, 0).any(axis=(1, 2)))
    present = np.zeros(volume.file_shape[2], bool)
    present[file_k] = True
    chosen = _slices(args.slices, present, volume.file_shape[2])
    empty = [k for k in chosen if not present[k]]
    if not chosen or empty:
        raise MedsegError(
            f"label {args.label} is absent from slice(s) {empty or 'all'} of {args.labels}; "
            "give slices holding the corrected structure"
        )
    along = _to_array_indices(volume, np.array([[0.0, 0.0, k] for k in chosen]))[:, axis]
    array_index = {k: int(round(i)) for k, i in zip(chosen, along)}

    name = f"{Path(args.image).name.split('.')[0]}-label{args.label}-{time.strftime('%Y%m%d-%H%M%S')}"
    out = Path(args.out) if args.out else default_adapter_folder() / name
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise MedsegError(
            f"--out {out}: exists and is not an empty folder; choose a new folder (adapters are never overwritten)"
        )
    sam_type, checkpoint = _model_and_type(args)
    modality = None if args.modality == "auto" else args.modality
    predictor = load_predictor(sam_type, checkpoint, args.device)
    session = InteractiveSession(predictor, volume.array, args.window, modality)

    progress = TerminalProgress(args.quiet, "adapting ", "step").count

    record = {
        "image": str(Path(args.image).resolve()),
        "label_name": args.label_name,
        "slices_file_k": chosen,
        "slice_axis": "file K",
    }
    adapter = adapt(
        predictor,
        session.volume.stack(axis),
        np.moveaxis(structure, axis, 0),
        sorted(array_index.values()),
        label=args.label,
        steps=args.steps,
        train_prompt_encoder=args.prompt_encoder,
        keys=session.volume.key_function(axis),
        record=record,
        progress=progress,
    )
    save_adapter(adapter, out)
    card = adapter.card
    held = ", ".join(str(k) for k in sorted(k for k, i in array_index.items() if i in card["held_out"])) or "none"
    scores = (
        f"held-out slices ({held}): Dice {card['dice_before']:.3f} -> {card['dice_after']:.3f}"
        if card["dice_after"] is not None
        else "no held-out slices (fewer than 5 given)"
    )
    print(
        f"adapter for label {args.label} from {len(chosen)} slices, {args.steps} steps in {card['seconds']:.0f} s; "
        f"{scores}; written to {out}"
    )
    return 0
