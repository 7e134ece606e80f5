"""Per-label statistics over many cases; undefined values are counted, never dropped silently."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .evaluate import LabelMetrics

__all__ = ["SUMMARY_METRICS", "MetricStats", "LabelSummary", "summarize"]

SUMMARY_METRICS = ("dice", "jaccard", "hd_mm", "hd95_mm", "assd_mm", "nsd", "volume_diff_ml")


@dataclass(frozen=True)
class MetricStats:
    """Statistics of one metric over the cases where it is defined.

    ``n`` cases had a value; ``n_undefined`` had ``None`` (one mask empty). The
    quartiles use linear interpolation; all are ``None`` when ``n == 0``.
    """

    n: int
    n_undefined: int
    mean: float | None
    median: float | None
    q25: float | None
    q75: float | None

    @property
    def iqr(self) -> float | None:
        if self.q75 is None or self.q25 is None:
            return None
        return self.q75 - self.q25


@dataclass(frozen=True)
class LabelSummary:
    """One label over all cases: status counts and :class:`MetricStats` per metric."""

    label: int
    n_cases: int
    status_counts: dict[str, int]
    stats: dict[str, MetricStats] = field(default_factory=dict)


def _stats(values: list) -> MetricStats:
    defined = np.array([v for v in values if v is not None], dtype=float)
    n_undefined = len(values) - defined.size
    if defined.size == 0:
        return MetricStats(0, n_undefined, None, None, None, None)
    q25, median, q75 = np.percentile(defined, [25, 50, 75])
    return MetricStats(int(defined.size), n_undefined, float(defined.mean()), float(median), float(q25), float(q75))


def summarize(cases: dict[str, list[LabelMetrics]]) -> list[LabelSummary]:
    """Per-label statistics over cases.

    Parameters
    ----------
    cases : dict of case name -> list of LabelMetrics
        Each case's records (see :func:`~napari_medseg.metrics.evaluate_labels`).

    Returns
    -------
    list of LabelSummary
        In label order. ``status_counts`` counts ``ok``, ``both_empty``,
        ``pred_empty`` and ``ref_empty`` cases; distances of the one-empty cases are
        undefined and appear in ``n_undefined``, not in the statistics.
    """
    by_label: dict[int, list[LabelMetrics]] = {}
    for records in cases.values():
        for record in records:
            by_label.setdefault(record.label, []).append(record)
    out = []
    for label in sorted(by_label):
        records = by_label[label]
        counts = {s: sum(r.status == s for r in records) for s in ("ok", "both_empty", "pred_empty", "ref_empty")}
        stats = {m: _stats([getattr(r, m) for r in records]) for m in SUMMARY_METRICS}
        out.append(LabelSummary(label, len(records), counts, stats))
    return out
