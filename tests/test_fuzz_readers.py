"""Seeded fuzzing of the readers (about a minute): real files from pydicom's and nibabel's test data
and our samples, mutated, through ``medseg info``, ``medseg convert`` and the napari reader hook.

Every run must end in a success, a warning or a one-line refusal naming the input: no traceback,
no hang, no memory blow-up. The long run is ``benchmarks/fuzz_readers.py``; the harness and the
meaning of each outcome are in ``tests/fuzz_harness.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def fuzz_runs(tmp_path_factory):
    """One fresh process (no Qt, no viewer) runs 120 mutated inputs plus the special files."""
    out = tmp_path_factory.mktemp("fuzz") / "runs.json"
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(HERE.parent / "src"), str(HERE), os.environ.get("PYTHONPATH", "")])
    )
    done = subprocess.run(
        [
            sys.executable,
            str(HERE / "fuzz_harness.py"),
            "--n",
            "120",
            "--seed",
            "2024",
            "--timeout",
            "20",
            "--memory-gib",
            "3",
            "--json",
            str(out),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert out.exists(), done.stderr[-3000:]
    return json.loads(out.read_text()), done


def test_fuzzed_inputs_never_give_a_traceback_a_hang_or_a_memory_blow_up(fuzz_runs):
    runs, done = fuzz_runs
    bad = [r for r in runs if r["outcome"] in ("traceback", "hang", "memory")]
    assert not bad, "\n".join(f"{r['entry']} {r['case']} ({r['how']}): {r['outcome']} {r['message']}" for r in bad)
    assert len(runs) >= 3 * 120


def test_every_refusal_is_one_line_naming_the_input(fuzz_runs):
    runs, _ = fuzz_runs
    unclear = [r for r in runs if r["outcome"] == "unclear"]
    assert not unclear, "\n".join(f"{r['entry']} {r['case']} ({r['how']}): {r['message']}" for r in unclear)
    counts = Counter(r["outcome"] for r in runs)
    assert counts["clean error"] > 0 and counts["success"] + counts["warning"] > 0  # the mix is real


def test_special_files_are_refused_or_skipped_not_opened(fuzz_runs):
    runs, _ = fuzz_runs
    by_case = {(r["entry"], r["case"]): r for r in runs}
    for entry in ("info", "convert", "reader"):
        assert by_case[(entry, "fifo-in-series")]["outcome"] in ("success", "warning")  # the series still loads
        assert by_case[(entry, "devzero-in-series")]["outcome"] in ("success", "warning")
        for case in ("mhd-devzero", "mhd-passwd", "huge-header", "fifo-file"):
            assert by_case[(entry, case)]["outcome"] == "clean error", by_case[(entry, case)]


def test_libraries_print_nothing_of_their_own(fuzz_runs):
    runs, _ = fuzz_runs
    chatter = [r for r in runs if r["chatter"]]
    assert not chatter, "\n".join(f"{r['entry']} {r['case']} ({r['how']}): {r['message']}" for r in chatter)
