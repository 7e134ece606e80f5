"""What a path holds, one series (or non-DICOM file) at a time: the rows of ``medseg info``."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SeriesSummary"]


@dataclass
class SeriesSummary:
    """What ``medseg info`` reports for one series (or one non-DICOM file)."""

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
    number: str = ""  # SeriesNumber
    localizer: bool = False  # ImageType LOCALIZER, or one image of a radial / multi-planar set

    def as_dict(self) -> dict:
        return {
            "series_uid": self.series_uid,
            "modality": self.modality,
            "description": self.description,
            "n_files": self.n_files,
            "shape": list(self.shape) if self.shape else None,
            "spacing_mm": [round(float(s), 6) for s in self.spacing_mm] if self.spacing_mm else None,
            "warnings": list(self.warnings),
            "structure_sets": list(self.structure_sets),
            "transfer_syntaxes": list(self.transfer_syntaxes),
            "decodable": self.decodable,
            "series_number": self.number,
            "localizer": self.localizer,
        }
