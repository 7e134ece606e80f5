"""Which series of a study folder to open, and under which names: the series chooser's rules.

A study folder (or DICOMDIR) often holds a dozen series: localizers, the scans a
reader wants, reformats. :func:`study_choices` lists them as :class:`SeriesChoice`
rows, each with a layer name that is distinct within the study (``"3: T1 axial"``,
Slicer's "number: description"), its size in voxels and mm, its warnings and its
structure sets, ticked unless it is a localizer or cannot be decoded here.
:func:`load_choices` reads the ones the user kept. The napari chooser
(``_napari/series_chooser.py``) only shows these rows; ``medseg info`` lists the same
series and ``--series`` picks one on the command line.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import VolumeReadError
from ..volume import Volume
from .series_summary import SeriesSummary

if TYPE_CHECKING:
    from .dicom import DicomSeries

__all__ = ["LOCALIZER_WORDS", "SeriesChoice", "choose_series", "is_localizer", "load_choices", "study_choices"]

#: SeriesDescription words scanners use for planning images (matched case-insensitively).
LOCALIZER_WORDS = ("localizer", "localiser", "scout", "pilot", "survey", "surview", "topogram", "scanogram")


@dataclass(frozen=True)
class SeriesChoice:
    """One row of the series chooser.

    Attributes
    ----------
    summary : SeriesSummary
        What the headers say (shape and spacing in volume axis order (z, y, x), mm).
    name : str
        Layer name, distinct among the rows of one study.
    localizer : bool
        A planning image (see :func:`is_localizer`).
    ticked : bool
        Opened unless the user unticks it: not a localizer, and decodable here.
    series : object
        The :class:`~napari_medseg.io.dicom.DicomSeries` that loads it.
    """

    summary: SeriesSummary
    name: str
    localizer: bool
    ticked: bool
    series: DicomSeries

    @property
    def series_id(self) -> str | None:
        """What ``--series`` takes to pick this row (the UID, or ``UID.part`` for a split series)."""
        return self.summary.series_id or self.summary.series_uid

    def detail_lines(self) -> list[str]:
        """Modality, size in voxels, spacing and extent in mm (file order: column, row, slice); flags, warnings."""
        s = self.summary
        lines = [f"{s.modality or '?'}, {' x '.join(map(str, s.shape))} voxels" if s.shape else s.modality or "?"]
        if s.shape and s.spacing_mm:
            extent = [n * d for n, d in zip(s.shape, s.spacing_mm)]
            lines.append(
                f"{' x '.join(f'{d:.3g}' for d in s.spacing_mm)} mm ({' x '.join(f'{e:.0f}' for e in extent)} mm)"
            )
        flags = ["localizer"] if self.localizer else []
        if s.warnings:
            flags.append(f"{len(s.warnings)} warning(s)")
        flags += [f"+ {Path(p).name}" for p in s.structure_sets]
        return lines + ([", ".join(flags)] if flags else [])

    def details(self) -> str:
        """:meth:`detail_lines` on one line."""
        return ", ".join(self.detail_lines())


def is_localizer(summary: SeriesSummary) -> bool:
    """Whether a series is a planning image: ImageType LOCALIZER, one image of a radial set,
    or a description naming one (:data:`LOCALIZER_WORDS`, e.g. "FAST LOCALIZER", "Scout")."""
    words = summary.description.lower()
    return summary.localizer or any(w in words for w in LOCALIZER_WORDS)


def choose_series(
    summaries: list[SeriesSummary], uids: list[str] | None = None, folders: list[str] | None = None
) -> list[tuple[str, bool, bool]]:
    """Layer name, localizer flag and default tick of each series, in the given order.

    Parameters
    ----------
    summaries : list of SeriesSummary
        The series of one study.
    uids : list of str, optional
        SeriesInstanceUID of each (rows sharing one were split into parts); default each
        row its own.
    folders : list of str, optional
        Sub-folder of each, relative to the study folder ("" at its top).

    Returns
    -------
    list of (name, localizer, ticked)
        Names are ``"<SeriesNumber>: <SeriesDescription>"`` (the description alone without a
        number; the modality when both are empty); the parts of one UID get ``" [part k]"``;
        rows still sharing a name get their sub-folder ``" (MR2)"`` when that tells them apart,
        then ``" (2)"``, ``" (3)"``... Localizers and series whose pixels cannot be decoded
        (``decodable`` False) are unticked.
    """
    uids = uids or [str(k) for k in range(len(summaries))]
    per_uid, seen = Counter(uids), Counter[str]()
    names = []
    for summary, uid in zip(summaries, uids):
        name = _base_name(summary)
        if per_uid[uid] > 1:
            seen[uid] += 1
            name += f" [part {seen[uid]}]"
        names.append(name)
    names = _distinct(names, folders or [""] * len(names))
    out = []
    for summary, name in zip(summaries, names):
        localizer = is_localizer(summary)
        out.append((name, localizer, not localizer and summary.decodable is not False))
    return out


def _base_name(summary: SeriesSummary) -> str:
    description = " ".join(summary.description.split()) or f"{summary.modality or 'DICOM'} series"
    return f"{summary.number}: {description}" if summary.number else description


def _distinct(names: list[str], folders: list[str]) -> list[str]:
    """``names`` made distinct: a shared name gets its folder when that differs, then a counter."""
    counts = Counter(names)
    hinted = {}
    for name in counts:
        rows = [k for k, n in enumerate(names) if n == name]
        if len(rows) > 1 and len({folders[k] for k in rows}) > 1:
            hinted.update({k: f"{name} ({folders[k]})" if folders[k] else name for k in rows})
    names = [hinted.get(k, n) for k, n in enumerate(names)]
    counts, seen, out = Counter(names), Counter[str](), []
    for name in names:
        seen[name] += 1
        out.append(f"{name} ({seen[name]})" if counts[name] > 1 and seen[name] > 1 else name)
    return out


def _folder_hint(series, root: Path) -> str:
    """The sub-folder of ``series``' first file relative to the scanned ``root`` ("" at its top)."""
    top = root if root.is_dir() else root.parent
    try:
        relative = series.slices[0].path.parent.relative_to(top)
    except ValueError:  # a DICOMDIR may list files outside its folder
        return ""
    return "" if relative == Path(".") else relative.as_posix()


def _study_order(series: DicomSeries) -> tuple:
    """Sort key of a study's series: SeriesNumber (numerically; unnumbered last), description, id."""
    number = series.slices[0].series_number if series.slices else ""
    rank = (0, int(number)) if number.isdigit() else (1, 0)
    return (*rank, series.description, series.series_id)


def study_choices(path: str | Path) -> list[SeriesChoice]:
    """The series of a DICOM folder, DICOMDIR or file as chooser rows (headers only, no pixels).

    Raises
    ------
    VolumeReadError
        Nothing there, or no DICOM image series in it.
    """
    from . import dicom

    found = sorted(dicom.scan(path), key=_study_order)  # as the scanner numbered them, not by random UIDs
    if not found:
        raise VolumeReadError(f"{path}: no DICOM image series found")
    summaries = [s.summary() for s in found]
    rows = choose_series(summaries, [s.series_uid for s in found], [_folder_hint(s, Path(path)) for s in found])
    return [
        SeriesChoice(summary, name, localizer, ticked, series)
        for summary, (name, localizer, ticked), series in zip(summaries, rows, found)
    ]


def load_choices(choices: list[SeriesChoice], progress=None) -> list[tuple[str, Volume]]:
    """Decode the given series: ``(layer name, volume)`` each, all read before any is returned.

    ``progress(done, total)`` is called after each series.
    """
    from .checks import with_nonfinite_warning

    out = []
    for k, choice in enumerate(choices):
        out.append((choice.name, with_nonfinite_warning(choice.series.load())))
        if progress is not None:
            progress(k + 1, len(choices))
    return out
