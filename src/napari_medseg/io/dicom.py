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
CR) are each their own 2D image. A UID that was split gets ids ``UID.1``, ``UID.2``,
... (largest part first); an unsplit one keeps the UID as its id.

Localizers are *split off*, not dropped: a scout mixed into an axial series, a
tri-planar pilot or a radial set (pydicom's ``98892003/MR700``: seven images, seven
orientations) is never stacked into a volume, but each part stays available as its
own series (a 2D image is a one-slice volume). Dropping them would make a folder of
pilots look empty and hide images a user may want to check; the warnings say which
parts are localizers and how many images were kept out of the main volume.

Spacing, gaps and tilt
----------------------
The slice spacing comes from the positions along the normal, never from
SliceThickness (used only for a single slice). With uneven gaps or missing slices
the series still loads, as dcm2niix does, with a loud warning naming each odd gap in
mm; the affine uses the *median* gap (the nominal spacing: SimpleITK's mean over a
gap would misplace every slice). With gantry tilt the slices are stacked along the
normal and each slice is shifted in its own plane (linear interpolation) so that
every voxel sits at its true position, as dcm2niix's tilt correction does (SimpleITK
stacks without the shift, misplacing slices by the drift); the warning gives the angle
and the drift. Nothing else is resampled. Of slices sharing a position, the lowest
InstanceNumber is kept and the others reported.
"""
from __future__ import annotations

import warnings as _warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import VolumeReadError
from ..volume import Volume, canonical_file_order
from . import SeriesSummary
from .checks import require_fits_in_memory
from .dicom_geometry import in_plane_offsets, same_orientation, stack_affine, stack_geometry, untilt_stack
from .dicom_pixels import read_stack, rescale_stack
from .dicom_scan import (
    SliceHeader,
    StructureSetFile,
    Unreadable,
    is_dicom_file,
    list_files,
    read_file_headers,
    read_headers,
)

#: In-plane drift between slices below this many pixels is rounding in the headers, not gantry tilt.
TILT_TOL_PIXELS = 0.01

__all__ = ["DicomSeries", "scan", "is_dicom_file"]


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
        RT structure set files found beside it that were drawn on this series
        (:mod:`napari_medseg.io.rtstruct` draws them).
    """

    series_uid: str
    series_id: str
    modality: str
    description: str
    slices: list[SliceHeader]
    root: Path
    warnings: list[str] = field(default_factory=list)
    structure_sets: list[Path] = field(default_factory=list)

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
        """Shape and spacing (volume axis order, mm) from the headers, without decoding pixels."""
        ordered, affine, warns = self._plan()
        try:
            order = canonical_file_order(affine)
        except ValueError as exc:  # the header checks should leave none; never a traceback
            raise VolumeReadError(f"{ordered[0].path}: unusable geometry: {exc}") from None
        file_shape = (len(ordered), *ordered[0].size)
        spacing = np.linalg.norm(affine[:3, :3], axis=0)
        return SeriesSummary(
            series_uid=self.series_id,
            modality=self.modality,
            description=self.description,
            n_files=self.n_files,
            shape=tuple(int(file_shape[p]) for p in order.perm),
            spacing_mm=tuple(float(spacing[p]) for p in order.perm),
            warnings=warns,
            structure_sets=[str(p) for p in self.structure_sets],
        )

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
            ((center, width) or None), ``n_files``, ``warnings`` and ``structure_sets``
            (paths of the RT structure sets drawn on this series).

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
        require_fits_in_memory(len(ordered) * first.rows * first.columns * 4, ordered[0].path,
                               f"{len(ordered)} slices of {first.rows} x {first.columns}")
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
            "description": self.description,
            "path": str(self.root),
            "format": "dicom",
            "window": ordered[0].window,
            "n_files": self.n_files,
            "warnings": warns,
            "structure_sets": [str(p) for p in self.structure_sets],
        }
        # file voxel order = ITK's (column, row, slice), as NIfTI from dcm2niix, ITK-SNAP and Slicer index it
        return Volume.from_file_order(array.transpose(2, 1, 0), affine[:, [2, 1, 0, 3]], meta)


def _split_key(s: SliceHeader):
    geometry = None if s.has_geometry else s.path
    return (s.size, s.localizer, s.echo, geometry)


def _split_uid(slices: list[SliceHeader]) -> list[list[SliceHeader]]:
    """Split the images of one SeriesInstanceUID into stackable parts, largest first."""
    parts: list[list[SliceHeader]] = []
    for s in slices:
        for part in parts:
            if _split_key(part[0]) == _split_key(s) and same_orientation(part[0].iop, s.iop):
                part.append(s)
                break
        else:
            parts.append([s])
    parts.sort(key=lambda p: (p[0].localizer, -len(p), min(s.instance for s in p), str(p[0].path)))
    return parts


def _split_reasons(parts: list[list[SliceHeader]]) -> str:
    firsts = [p[0] for p in parts]
    reasons = []
    if len({f.size for f in firsts}) > 1:
        reasons.append("image size")
    if any(not same_orientation(firsts[0].iop, f.iop) for f in firsts):
        reasons.append("orientation")
    if len({f.echo for f in firsts}) > 1:
        reasons.append("echo number")
    if len({f.localizer for f in firsts}) > 1:
        reasons.append("localizer image type")
    if any(not f.has_geometry for f in firsts):
        reasons.append("missing patient geometry")
    return ", ".join(reasons)


def _series_for_uid(uid: str, slices: list[SliceHeader], root: Path) -> list[DicomSeries]:
    parts = _split_uid(slices)
    first = slices[0]
    if len(parts) == 1:
        return [DicomSeries(uid, uid, first.modality, first.description, parts[0], root)]
    total = len(slices)
    reasons = _split_reasons(parts)
    ids = [f"{uid}.{k + 1}" for k in range(len(parts))]
    localizer_ids = [i for i, p in zip(ids, parts) if p[0].localizer]
    out = []
    radial = all(len(p) == 1 for p in parts) and "orientation" in reasons
    for sid, part in zip(ids, parts):
        warns = [f"series {uid} split into {len(parts)} parts by {reasons}; "
                 f"this part holds {len(part)} of its {total} images"]
        if part[0].localizer:
            warns.append("localizer image(s) (ImageType LOCALIZER): kept apart, not stacked into a volume")
        elif localizer_ids:
            warns.append(f"localizer image(s) removed from this series (kept as {', '.join(localizer_ids)})")
        if radial:
            warns.append(f"each of the {len(parts)} images has its own orientation "
                         "(radial or multi-planar localizer): not stacked")
        out.append(DicomSeries(uid, sid, first.modality, first.description, part, root, warns))
    return out


def _attach_structure_sets(found: list[DicomSeries], structure_sets) -> None:
    """Give each series the RT structure sets drawn on it; say so for sets whose series is absent."""
    for ss in structure_sets:
        targets = [s for s in found if s.series_uid in ss.series_uids and not s.slices[0].localizer]
        for series in targets:
            series.structure_sets.append(ss.path)
        if not targets:
            for series in found:
                series.warnings.append(f"RT structure set {ss.path.name} refers to series "
                                       f"{', '.join(ss.series_uids) or '(none named)'}, which is not in this folder")


def require_image(path: Path, result) -> None:
    """Raise a one-line :class:`VolumeReadError` when a single file is no usable image."""
    if isinstance(result, Unreadable):
        raise VolumeReadError(result.message())
    if isinstance(result, StructureSetFile):
        raise VolumeReadError(f"{path}: an RT structure set (contours, no image): open the folder that holds it "
                              "with its image series, or run 'medseg structures FOLDER --out LABELS'")
    if result is None:
        what = "a DICOM file without image data (no Pixel Data)" if is_dicom_file(path) else "not a DICOM file"
        raise VolumeReadError(f"{path}: {what}")


def scan(path: str | Path, workers: int | None = None) -> list[DicomSeries]:
    """Find the DICOM series in a folder (recursively) or a single (multi-frame) file.

    Parameters
    ----------
    path : str or Path
        A folder (files without extension are fine; non-DICOM files are skipped
        silently) or one DICOM file.
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
        if path.is_file():
            result = read_file_headers(path)
            require_image(path, result)
            slices, unreadable, structure_sets = result, [], []
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
