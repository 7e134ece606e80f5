"""What a path holds, one series (or non-DICOM file) at a time: the rows of ``medseg info``."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SeriesSummary", "DICOM_AXES", "FILE_AXES"]

#: Names of a DICOM series' file voxel axes (ITK's order, as ``--box I,J,K`` indexes them).
DICOM_AXES = ("column", "row", "slice")
#: Names of a NIfTI/NRRD/MHA file's voxel axes.
FILE_AXES = ("i", "j", "k")


@dataclass
class SeriesSummary:
    """What ``medseg info`` reports for one series (or one non-DICOM file).

    ``shape`` and ``spacing_mm`` are in the **file's voxel order** (the order
    ``--box I,J,K`` takes), whose axes ``axes`` names: ``("column", "row", "slice")``
    for a DICOM series, ``("i", "j", "k")`` for a file. ``series_uid`` is the true
    SeriesInstanceUID (None for a file); when one UID was split into stackable parts
    (phases, orientations, localizers), ``part`` is this part's index (1-based, of
    ``n_parts``) and ``series_id`` (``UID.part``) is what ``--series`` takes to pick it.
    """

    series_uid: str | None
    modality: str
    description: str
    n_files: int
    shape: tuple[int, int, int] | None
    spacing_mm: tuple[float, float, float] | None
    warnings: list[str] = field(default_factory=list)
    structure_sets: list[str] = field(default_factory=list)
    transfer_syntaxes: list[str] = field(default_factory=list)  # DICOM TransferSyntaxUIDs of its files
    decodable: bool | None = None  # False: its pixel data cannot be decoded here (the warnings say why)
    axes: tuple[str, str, str] = FILE_AXES
    series_id: str | None = None  # --series value; the UID itself unless the UID was split
    part: int | None = None  # 1-based part of a split SeriesInstanceUID, None when not split
    n_parts: int = 1
    number: str = ""  # SeriesNumber
    localizer: bool = False  # ImageType LOCALIZER, or one image of a radial / multi-planar set

    def as_dict(self) -> dict:
        """The JSON record of ``medseg info --json`` (schema in docs/cli.md)."""
        return {
            "series_uid": self.series_uid,
            "series_id": self.series_id if self.series_id is not None else self.series_uid,
            "part": self.part,
            "n_parts": self.n_parts,
            "modality": self.modality,
            "description": self.description,
            "n_files": self.n_files,
            "axes": list(self.axes),
            "shape": list(self.shape) if self.shape else None,
            "spacing_mm": [round(float(s), 6) for s in self.spacing_mm] if self.spacing_mm else None,
            "warnings": list(self.warnings),
            "structure_sets": list(self.structure_sets),
            "transfer_syntaxes": list(self.transfer_syntaxes),
            "decodable": self.decodable,
            "series_number": self.number,
            "localizer": self.localizer,
        }
