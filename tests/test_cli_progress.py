"""CLI progress: a tqdm bar on stderr when it is a terminal, nothing joined by carriage returns in a log."""

from __future__ import annotations

import io
import sys

import numpy as np

from dicom_factory import write_series
from napari_medseg.cli import main
from napari_medseg.cli.progress import TerminalProgress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_draws_a_bar_on_a_terminal_stderr_and_nothing_on_stdout(monkeypatch, capsys):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    progress = TerminalProgress(desc="segment ")
    for k in range(1, 5):
        progress(k / 4, f"window {k} of 4")
    count = TerminalProgress(desc="SAM ", unit="slice").count
    for done in range(1, 4):
        count(done, 3)
    drawn = terminal.getvalue()
    assert "segment 100.0%" in drawn and "window 4 of 4" in drawn
    assert "SAM " in drawn and "3/3" in drawn and "slice" in drawn
    assert capsys.readouterr().out == ""


def test_progress_writes_nothing_when_stderr_is_a_log_file_or_quiet(monkeypatch):
    log = io.StringIO()  # not a terminal: a file or a pipe
    monkeypatch.setattr(sys, "stderr", log)
    for quiet in (False, True):
        progress = TerminalProgress(quiet=quiet)
        for k in range(1, 101):
            progress(k / 100, "working")
        TerminalProgress(quiet=quiet).count(5, 5)
    assert log.getvalue() == ""


def test_segment_cli_progress_goes_to_stderr_and_a_log_gets_whole_lines(tmp_path, monkeypatch, capsys):
    rng = np.random.default_rng(0)
    write_series(tmp_path / "mr", rng.integers(0, 500, (6, 16, 22)).astype(np.int16), modality="MR")
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    out = tmp_path / "seg.nii.gz"
    assert main(["segment", str(tmp_path / "mr"), "--model", "brain-tissue", "--out", str(out)]) == 0
    assert "segment 100.0%" in terminal.getvalue() and f"wrote {out}" in terminal.getvalue()
    assert capsys.readouterr().out == ""  # stdout is for data only
    monkeypatch.undo()  # stderr is pytest's capture again: not a terminal, like a log file
    assert main(["segment", str(tmp_path / "mr"), "--model", "brain-tissue", "--out", str(tmp_path / "b.nii.gz")]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "\r" not in captured.err
    assert [line for line in captured.err.splitlines() if line.strip()] == [
        line for line in captured.err.splitlines() if line.startswith(("wrote ", "note: "))
    ]
