"""DICOM series: find them in a folder or file, and load each as a :class:`~napari_medseg.volume.Volume`.

``scan(path)`` reads headers only and groups 2D images into series;
``DicomSeries.load()`` decodes the pixels of one series in parallel, sorts the slices
by position along the slice normal (never by InstanceNumber or file name), applies
RescaleSlope/Intercept and builds the LPS affine. Everything questionable about the
stack (uneven spacing or missing slices, gantry tilt, duplicated positions,
localizers kept apart, unreadable files) is reported in ``meta['warnings']`` and in
``summary().warnings`` rather than silently papered over.

How images are grouped
----------------------
Images are grouped by SeriesInstanceUID, then split further inside one UID where
the image size (Rows/Columns), the orientation (ImageOrientationPatient, within
1e-3 per cosine), the echo number or the LOCALIZER image type differ. Images
without patient geometry (no ImagePositionPatient/ImageOrientationPatient, e.g.
CR) are each their own 2D image. Slices that repeat the same positions are split into
phases by TemporalPositionIdentifier or AcquisitionNumber (:mod:`.dicom_parts`). A UID
that was split gets ids ``UID.1``, ``UID.2``, ... (largest part first, phases in order);
an unsplit one keeps the UID as its id. A DICOMDIR file stands for the files it lists.

Localizers are *split off*, not dropped: a scout in an axial series or a radial set (pydicom's
``98892003/MR700``) is never stacked; each part stays its own series flagged ``localizer``.

Spacing, gaps and tilt
----------------------
The slice spacing comes from the positions along the normal, never from SliceThickness
(used only for a single slice). With uneven gaps or missing slices the series still loads,
as dcm2niix does, with a loud warning naming each odd gap in mm; the affine uses the
*median* gap (SimpleITK's mean over a gap would misplace every slice). With gantry tilt
the slices are stacked along the normal and each is shifted in its own plane (linear
interpolation) so that every voxel sits at its true position, as dcm2niix's tilt
correction does (SimpleITK stacks without the shift); the warning gives the angle and
the drift. Nothing else is resampled. Of slices sharing a position, the lowest
InstanceNumber is kept and the others reported.
"""

from __future__ import annotations

import warnings as _warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import MedsegError, VolumeReadError
from ..volume import Volume, canonical_file_order
from .checks import require_fits_in_memory
from .dicom_files import is_dicom_file, list_files
from .dicom_geometry import in_plane_offsets, stack_affine, stack_geometry, untilt_stack
from .dicom_parts import PHASE_KEYS, phase_key, split_reasons, split_uid
from .dicom_pixels import read_stack, rescale_stack, transfer_syntax_name
from .dicom_scan import SliceHeader, StructureSetFile, Unreadable, read_file_headers, read_headers
from .dicomdir import dicomdir_files, is_dicomdir
from .series_summary import DICOM_AXES, SeriesSummary

#: In-plane drift between slices below this many pixels is rounding in the headers, not gantry tilt.
TILT_TOL_PIXELS = 0.01

__all__ = ["DicomSeries", "scan", "is_dicom_file", "source_slices"]


@dataclass
class DicomSeries:
    """One stack of 2D images that loads as one volume.

    Attributes
    ----------
    series_uid : str
        SeriesInstanceUID.
    series_id : str
        Unique within one scan: the UID, or ``UID.1``, ``UID.2``... when the UID
        was split by orientation, size, echo or localizer.
    modality, description : str
        Modality and SeriesDescription.
    slices : list of SliceHeader
        The 2D images (frames), in file order.
    root : Path
        The file or folder that was scanned.
    warnings : list of str
        Problems found while scanning (split series, unreadable files).
    structure_sets : list of Path
        RT structure sets and DICOM SEGs found beside it that were drawn on this series
        (:mod:`napari_medseg.io.rtstruct` and :mod:`napari_medseg.io.seg` draw them).
    """

    series_uid: str
    series_id: str
    modality: str
    description: str
    slices: list[SliceHeader]
    root: Path
    warnings: list[str] = field(default_factory=list)
    structure_sets: list[Path] = field(default_factory=list)
    part: int | None = None  # 1-based part of a split SeriesInstanceUID (None: not split)
    n_parts: int = 1
    localizer: bool = False  # ImageType LOCALIZER, or one image of a radial or multi-planar set

    @property
    def files(self) -> list[Path]:
        """Distinct files of this series, in stacking order (by position along the normal)."""
        order = self._geometry().order
        seen: dict[Path, None] = {}
        for i in order:
            seen.setdefault(self.slices[i].path, None)
        for s in self.slices:
            seen.setdefault(s.path, None)
        return list(seen)

    @property
    def n_files(self) -> int:
        return len({s.path for s in self.slices})

    def _geometry(self):
        first = self.slices[0]
        return stack_geometry(
            [s.position for s in self.slices], first.iop, first.fallback_spacing, [s.instance for s in self.slices]
        )

    def stacked_slices(self) -> list[SliceHeader]:
        """The slices in stacking order: slice ``k`` of the loaded volume's file order is item ``k``."""
        return self._plan()[0]

    def _plan(self):
        """Sorted slices, their (slice, row, column) LPS affine and the warnings of the stack."""
        geo = self._geometry()
        ordered = [self.slices[i] for i in geo.order]
        first = ordered[0]
        warns = list(self.warnings) + list(geo.warnings)
        if not first.has_geometry:
            warns.append("no ImagePositionPatient/ImageOrientationPatient: placed at the origin, axial")
        spacings = {s.pixel_spacing for s in ordered}
        if len(spacings) > 1:
            warns.append(f"PixelSpacing differs between slices {sorted(spacings)}; using {first.pixel_spacing}")
        warns += list(dict.fromkeys(note for s in ordered for note in s.notes))
        problems = [s.problem for s in ordered if s.problem]
        if problems:
            warns.append(f"{len(problems)} file(s) cannot be loaded, so neither can this series: {problems[0]}")
        affine = stack_affine(first.iop, first.pixel_spacing, first.position, geo.spacing_mm)
        return ordered, affine, warns

    def summary(self) -> SeriesSummary:
        """Shape and spacing (file voxel order: column, row, slice; mm) from the headers, without decoding pixels."""
        ordered, affine, warns = self._plan()
        try:
            canonical_file_order(affine)
        except ValueError as exc:  # the header checks should leave none; never a traceback
            raise VolumeReadError(f"{ordered[0].path}: unusable geometry: {exc}") from None
        stack_shape = (len(ordered), *ordered[0].size)  # (slice, row, column), as ``affine`` indexes it
        spacing = np.linalg.norm(affine[:3, :3], axis=0)
        decodable = self._decodable(ordered, warns)
        return SeriesSummary(
            series_uid=self.series_uid,
            modality=self.modality,
            description=self.description,
            number=self.slices[0].series_number,
            localizer=self.localizer,
            n_files=self.n_files,
            shape=(int(stack_shape[2]), int(stack_shape[1]), int(stack_shape[0])),
            spacing_mm=(float(spacing[2]), float(spacing[1]), float(spacing[0])),
            warnings=warns,
            structure_sets=[str(p) for p in self.structure_sets],
            transfer_syntaxes=sorted({s.ref.layout.transfer_syntax for s in ordered}),
            decodable=decodable,
            axes=DICOM_AXES,
            series_id=self.series_id,
            part=self.part,
            n_parts=self.n_parts,
        )

    @staticmethod
    def _decodable(ordered: list[SliceHeader], warns: list[str]) -> bool:
        """Whether the pixels decode, tried on one file per transfer syntax that is not read straight from disk."""
        tried = {}
        for s in ordered:
            if not s.ref.layout.native and s.ref.layout.transfer_syntax not in tried:
                tried[s.ref.layout.transfer_syntax] = s
        for syntax, s in tried.items():
            try:
                with _warnings.catch_warnings():
                    _warnings.simplefilter("ignore")
                    read_stack([s.ref], workers=1)
            except VolumeReadError as exc:
                warns.append(f"pixel data in {transfer_syntax_name(syntax)} cannot be decoded: {exc}")
                return False
        return True

    def load(self, workers: int | None = None, progress=None) -> Volume:
        """Decode and stack the series.

        Parameters
        ----------
        workers : int, optional
            Decoding threads (default: a few per CPU core).
        progress : callable, optional
            ``progress(done, total)``, called from the decoding threads.

        Returns
        -------
        Volume
            Array in the package's (z, y, x) order; int16 for CT-like data with slope
            1 and a whole intercept, the stored integer type when no rescale applies,
            float32 otherwise. ``meta`` holds ``modality``, ``series_uid``,
            ``series_id``, ``description``, ``path``, ``format`` ('dicom'), ``window``
            ((center, width) or None), ``n_files``, ``warnings``, ``structure_sets``
            (paths of the RT structure sets and DICOM SEGs drawn on this series) and
            ``dicom_slices`` ((file, frame) of slice k of the file order, for writers).

        Raises
        ------
        VolumeReadError
            When any slice cannot be decoded (one line naming the file and why).
        """
        ordered, affine, warns = self._plan()
        problems = [s.problem for s in ordered if s.problem]
        if problems:  # refused before any pixel memory is allocated
            more = f" (and {len(problems) - 1} more file(s))" if len(problems) > 1 else ""
            raise VolumeReadError(problems[0] + more)
        first = ordered[0].ref.layout
        require_fits_in_memory(
            len(ordered) * first.rows * first.columns * 4,
            ordered[0].path,
            f"{len(ordered)} slices of {first.rows} x {first.columns}",
        )
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")  # pydicom's validation warnings; errors still raise
            raw = read_stack([s.ref for s in ordered], workers=workers, progress=progress)
        array = rescale_stack(raw, [s.slope for s in ordered], [s.intercept for s in ordered])
        offsets = in_plane_offsets([s.position for s in ordered], ordered[0].iop, ordered[0].pixel_spacing)
        if np.abs(offsets).max(initial=0.0) > TILT_TOL_PIXELS:  # gantry tilt: true positions, not a sheared stack
            array = untilt_stack(array, offsets)
        meta = {
            "modality": self.modality,
            "series_uid": self.series_uid,
            "series_id": self.series_id,
            "part": self.part,
            "description": self.description,
            "path": str(self.root),
            "format": "dicom",
            "window": ordered[0].window,
            "n_files": self.n_files,
            "warnings": warns,
            "structure_sets": [str(p) for p in self.structure_sets],
            "dicom_slices": tuple((str(s.path), s.ref.frame) for s in ordered),  # what writers refer to
        }
        # file voxel order = ITK's (column, row, slice), as NIfTI from dcm2niix, ITK-SNAP and Slicer index it
        return Volume.from_file_order(array.transpose(2, 1, 0), affine[:, [2, 1, 0, 3]], meta)


def _series_for_uid(uid: str, slices: list[SliceHeader], root: Path) -> list[DicomSeries]:
    parts = split_uid(slices)
    first = slices[0]
    if len(parts) == 1:
        return [DicomSeries(uid, uid, first.modality, first.description, parts[0], root, localizer=first.localizer)]
    total = len(slices)
    reasons = split_reasons(parts)
    ids = [f"{uid}.{k + 1}" for k in range(len(parts))]
    localizer_ids = [i for i, p in zip(ids, parts) if p[0].localizer]
    out = []
    radial = all(len(p) == 1 for p in parts) and "orientation" in reasons
    for index, (sid, part) in enumerate(zip(ids, parts), start=1):
        warns = [
            (
                f"series {uid} split into {len(parts)} parts by {reasons}; "
                f"this part holds {len(part)} of its {total} images"
            )
        ]
        if part[0].localizer:
            warns.append("localizer image(s) (ImageType LOCALIZER): kept apart, not stacked into a volume")
        elif localizer_ids:
            warns.append(f"localizer image(s) removed from this series (kept as {', '.join(localizer_ids)})")
        if radial:
            warns.append(
                f"each of the {len(parts)} images has its own orientation "
                "(radial or multi-planar localizer): not stacked"
            )
        if (k := phase_key(parts)) is not None:
            warns.append(f"phase {PHASE_KEYS[k]} = {part[0].phase[k]}: pick one phase with its series id")
        series = DicomSeries(uid, sid, first.modality, first.description, part, root, warns, part=index)
        series.n_parts, series.localizer = len(parts), part[0].localizer or radial
        out.append(series)
    return out


def _attach_structure_sets(found: list[DicomSeries], structure_sets: list[StructureSetFile]) -> None:
    """Give each series the RT structure sets and SEGs drawn on it; say so for those whose series is absent."""
    for ss in structure_sets:
        targets = [s for s in found if s.series_uid in ss.series_uids and not s.slices[0].localizer]
        for series in targets:
            series.structure_sets.append(ss.path)
        if not targets:
            for series in found:
                series.warnings.append(
                    f"{ss.description} {ss.path.name} refers to series "
                    f"{', '.join(ss.series_uids) or '(none named)'}, which is not in this folder"
                )


def require_image(path: Path, result: list[SliceHeader] | StructureSetFile | Unreadable | None) -> list[SliceHeader]:
    """A single file's image records; a one-line :class:`VolumeReadError` when it is no usable image."""
    if isinstance(result, Unreadable):
        raise VolumeReadError(result.message())
    if isinstance(result, StructureSetFile):
        what = "a DICOM SEG (segments" if result.kind == "SEG" else "an RT structure set (contours"
        raise VolumeReadError(
            f"{path}: {what}, no image): open the folder that holds it with its image series, "
            "or run 'medseg structures FOLDER --out LABELS'"
        )
    if result is None:
        what = "a DICOM file without image data (no Pixel Data)" if is_dicom_file(path) else "not a DICOM file"
        raise VolumeReadError(f"{path}: {what}")
    return result


def source_slices(volume: Volume, out: str | Path | None = None) -> tuple[str, list[tuple[Path, int]]]:
    """The DICOM images ``volume`` was read from: its SeriesInstanceUID and, per slice, (file, frame).

    Item ``k`` is slice ``k`` of the volume's file order (the series' stacking order). They
    come from ``meta['dicom_slices']``, recorded when the series was loaded; a volume known
    only by its folder and series id (e.g. a napari layer's metadata) is scanned again.
    ``out``, the file about to be written, must not be one of them.

    Raises
    ------
    MedsegError
        ``volume`` was not read from DICOM, its images are no longer there, or ``out`` is one.
    """
    meta = volume.meta
    if meta.get("format") != "dicom" or not meta.get("path"):
        raise MedsegError(
            "an RT structure set or a DICOM SEG refers to a DICOM image series: draw the labels on an "
            f"image opened from DICOM (this one comes from "
            f"{Path(meta['path']).name if meta.get('path') else 'no file'})"
        )
    recorded = meta.get("dicom_slices")
    if recorded and meta.get("series_uid") and all(Path(p).is_file() for p in {p for p, _ in recorded}):
        uid, slices = meta["series_uid"], [(Path(p), int(frame)) for p, frame in recorded]
    else:
        wanted = meta.get("series_id") or meta.get("series_uid")
        found = [s for s in scan(meta["path"]) if s.series_id == wanted]
        if not found:
            raise MedsegError(f"series {wanted} is no longer in {meta['path']}: cannot refer to its images")
        uid, slices = found[0].series_uid, [(s.path, s.ref.frame) for s in found[0].stacked_slices()]
    if out is not None and Path(out).resolve() in {image.resolve() for image, _ in slices}:
        raise MedsegError(f"{out}: an image of the series itself; refusing to overwrite it, choose another name")
    return uid, slices


def scan(path: str | Path, workers: int | None = None) -> list[DicomSeries]:
    """Find the DICOM series in a folder (recursively) or a single (multi-frame) file.

    Parameters
    ----------
    path : str or Path
        A folder (files without extension are fine; non-DICOM files are skipped
        silently), a DICOMDIR (the files it lists) or one DICOM file.
    workers : int, optional
        Threads for header reading.

    Returns
    -------
    list of DicomSeries
        Ordered by SeriesInstanceUID then part; empty when the folder holds no
        DICOM image. Files that look like DICOM but are unreadable are reported in
        every series' warnings.

    Raises
    ------
    VolumeReadError
        ``path`` is a single file that is not a usable DICOM image, or every DICOM
        file found is unreadable (the message names the first one and why).
    """
    path = Path(path)
    if not path.exists():
        raise VolumeReadError(f"{path}: no such file or folder")
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")  # pydicom's validation warnings on odd headers
        if is_dicomdir(path):  # a media directory: the files it lists
            slices, unreadable, structure_sets = read_headers(dicomdir_files(path), workers=workers)
        elif path.is_file():
            slices, unreadable, structure_sets = require_image(path, read_file_headers(path)), [], []
        else:
            slices, unreadable, structure_sets = read_headers(list_files(path), workers=workers)
    if not slices and unreadable:
        raise VolumeReadError(unreadable[0].message())
    by_uid: dict[str, list[SliceHeader]] = {}
    for s in slices:
        by_uid.setdefault(s.series_uid, []).append(s)
    found = []
    for uid in sorted(by_uid):
        found.extend(_series_for_uid(uid, by_uid[uid], path))
    _attach_structure_sets(found, structure_sets)
    if unreadable:
        shown = "; ".join(u.message() for u in unreadable[:3])
        more = f" and {len(unreadable) - 3} more" if len(unreadable) > 3 else ""
        for series in found:
            series.warnings.append(f"skipped {len(unreadable)} unreadable DICOM file(s): {shown}{more}")
    return found
