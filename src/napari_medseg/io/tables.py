"""Tables written as CSV: one header of named columns, one line per row, written atomically.

Metrics (``medseg evaluate --csv``, the Evaluate widget's export and clipboard), batch reports
and ROI volume tables all go through :func:`csv_text`, so every table the package writes reads
the same way: ``\\n`` line ends, undefined values (``None``) as empty cells, floats at full
precision (``repr``) unless the caller formatted them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from .atomic import atomic_path

__all__ = ["csv_text", "write_csv"]


def csv_text(rows: Iterable[Mapping[str, object]], columns: Sequence[str], delimiter: str = ",") -> str:
    """CSV (or TSV with ``delimiter="\\t"``) text: a header of ``columns``, then one line per row.

    A key missing from a row, or ``None``, gives an empty cell; a key not in ``columns`` raises
    ``ValueError``.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), delimiter=delimiter, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_csv(path: str | Path, rows: Iterable[Mapping[str, object]], columns: Sequence[str]) -> Path:
    """Write :func:`csv_text` of ``rows`` to ``path`` atomically (a temporary file renamed onto it)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(csv_text(rows, columns), encoding="utf-8")
    return path
