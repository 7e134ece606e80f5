"""Our RT structure sets and DICOM SEGs pass dicom3tools' dciodvfy (Debian ``dicom3tools``; skipped without it)."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from dicom_factory import oblique_iop, write_series
from napari_medseg.io import read_volume
from napari_medseg.io.rtstruct_write import write_structure_set

pytestmark = pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (Debian dicom3tools) not installed")


def _errors(path) -> list[str]:
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=120)
    return [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]


@pytest.fixture(params=["axial", "oblique"])
def drawn(request, tmp_path):
    """A series lacking every optional patient/study attribute, and two labels on it."""
    iop = oblique_iop() if request.param == "oblique" else (1.0, 0, 0, 0, 1, 0)
    write_series(tmp_path / "ct", np.zeros((6, 20, 24), np.int16), iop=iop)
    volume = read_volume(tmp_path / "ct")
    labels = np.zeros(volume.shape, np.uint8)
    labels[1:4, 3:9, 5:12] = 1
    labels[2:5, 10:15, 2:6] = 2
    return tmp_path, volume, labels


def test_rt_structure_sets_are_dciodvfy_clean(drawn):
    tmp_path, volume, labels = drawn
    out = write_structure_set(tmp_path / "rs.dcm", labels, volume, {1: "liver", 2: "spleen"})
    assert _errors(out) == []


def test_segs_are_dciodvfy_clean(drawn):
    pytest.importorskip("highdicom")
    from napari_medseg.io.seg_write import write_segmentation

    tmp_path, volume, labels = drawn
    out = write_segmentation(tmp_path / "seg.dcm", labels, volume, {1: "liver", 2: "spleen"})
    assert _errors(out) == []
