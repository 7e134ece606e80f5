"""Command-line conventions: --version, distinct exit statuses, data on stdout and diagnostics on stderr."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import numpy as np

from dicom_factory import write_series
from napari_medseg.cli import (
    EXIT_AMBIGUOUS,
    EXIT_ERROR,
    EXIT_PARTIAL,
    EXIT_USAGE,
    batch_status,
    main,
)

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _medseg(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {SRC!r}); from napari_medseg.cli import main; sys.exit(main())",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_version_prints_the_package_version():
    done = _medseg("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"medseg {version('napari-medseg')}"


def test_exit_statuses_are_distinct_and_as_documented(tmp_path):
    assert len({0, EXIT_ERROR, EXIT_USAGE, EXIT_AMBIGUOUS, EXIT_PARTIAL}) == 5
    assert _medseg("convert").returncode == EXIT_USAGE == 2  # argparse's usage error
    assert _medseg("convert", str(tmp_path / "missing"), str(tmp_path / "o.nii.gz")).returncode == EXIT_ERROR
    for k in range(2):
        write_series(tmp_path / "two" / str(k), np.zeros((2, 4, 4), np.int16))
    ambiguous = _medseg("info", str(tmp_path / "two"))
    assert ambiguous.returncode == 0  # listing several series is what info is for
    assert _medseg("convert", str(tmp_path / "two"), str(tmp_path / "o.nii.gz")).returncode == EXIT_AMBIGUOUS
    assert (
        _medseg("structures", str(tmp_path / "two"), "--out", str(tmp_path / "o.nii.gz")).returncode == EXIT_AMBIGUOUS
    )  # the same from any command that reads one series
    assert (batch_status(0, 3), batch_status(1, 3), batch_status(3, 3)) == (0, EXIT_PARTIAL, EXIT_ERROR)


def test_convert_writes_its_diagnostics_to_stderr_not_stdout(tmp_path, capsys):
    write_series(tmp_path / "ct", np.zeros((2, 4, 4), np.int16))
    assert main(["convert", str(tmp_path / "ct"), str(tmp_path / "ct.nii.gz")]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "wrote" in captured.err
