"""Records as text: CSV rows (atomic file writes), a fixed-width table, and summary lines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from ..io.tables import csv_text
from ..io.tables import write_csv as write_table
from .evaluate import RECORD_FIELDS, LabelMetrics
from .summary import SUMMARY_METRICS, LabelSummary

__all__ = ["records_to_rows", "rows_to_csv_text", "write_csv", "format_table", "format_summary"]

TABLE_COLUMNS = ("label", "dice", "hd_mm", "hd95_mm", "assd_mm", "nsd", "volume_pred_ml", "volume_ref_ml", "status")


def records_to_rows(
    records: Iterable[LabelMetrics], *, case: str | None = None, names: Mapping[int, str] | None = None
) -> list[dict]:
    """One dict per record, in :data:`RECORD_FIELDS` order.

    ``case`` adds a leading ``case`` column (folder mode); ``names`` adds a ``name``
    column after ``label`` (label names, e.g. from a napari layer).
    """
    rows = []
    for record in records:
        row = {"case": case} if case is not None else {}
        values = record.as_dict()
        row["label"] = values.pop("label")
        if names is not None:
            row["name"] = names.get(record.label, "")
        row.update(values)
        rows.append(row)
    return rows


def rows_to_csv_text(rows: list[dict], delimiter: str = ",") -> str:
    """CSV (or TSV with ``delimiter="\\t"``) text with a header; ``None`` -> empty cell ("" for no rows)."""
    return csv_text(rows, list(rows[0]), delimiter) if rows else ""


def write_csv(path: str | Path, rows: list[dict]) -> Path:
    """Write rows as CSV, atomically (a temporary file renamed onto ``path``); no rows: the header only."""
    return write_table(path, rows, list(rows[0]) if rows else RECORD_FIELDS)


def format_ml(ml: float) -> str:
    """A volume for people: two decimals below 10 ml (small lesions), one above."""
    return f"{ml:.2f}" if abs(ml) < 10 else f"{ml:.1f}"


def describe_volumes(labels, spacing, label_names: dict[int, str]) -> str:
    """``"1 grey matter 612.3 ml, 2 white matter 481.0 ml"``: every named label, absent ones as 0.00 ml."""
    from .overlap import label_volumes_ml

    volumes = label_volumes_ml(labels, spacing, labels_of_interest=label_names)
    return ", ".join(f"{k} {label_names[k]} {format_ml(ml)} ml" for k, ml in volumes.items())


def _short(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e5 else f"{value:.1f}"
    return str(value)


def format_table(records: Iterable[LabelMetrics], names: Mapping[int, str] | None = None) -> str:
    """A fixed-width text table of the main columns (``-`` = undefined)."""
    columns = TABLE_COLUMNS if names is None else ("label", "name") + TABLE_COLUMNS[1:]
    lines = [list(columns)]
    for row in records_to_rows(records, names=names):
        lines.append([_short(row[c]) for c in columns])
    widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(line, widths)) for line in lines)


def format_summary(summaries: list[LabelSummary]) -> str:
    """Per label: status counts, then mean, median and IQR of each metric with its n."""
    out = []
    for s in summaries:
        c = s.status_counts
        out.append(
            f"label {s.label}: {s.n_cases} cases (ok {c['ok']}, both empty {c['both_empty']}, "
            f"prediction empty {c['pred_empty']}, reference empty {c['ref_empty']})"
        )
        out.append(
            f"  {'metric':<15}{'mean':>10}{'median':>10}{'q25':>10}{'q75':>10}{'IQR':>10}{'n':>5}{'undefined':>10}"
        )
        for m in SUMMARY_METRICS:
            st = s.stats[m]
            cells = [_short(v) for v in (st.mean, st.median, st.q25, st.q75, st.iqr)]
            out.append(f"  {m:<15}" + "".join(f"{v:>10}" for v in cells) + f"{st.n:>5}{st.n_undefined:>10}")
    return "\n".join(out)
