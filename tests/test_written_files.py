"""Files we write look like any other program's: umask permissions, no temporaries after a kill, NIfTI codes kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from napari_medseg.io import read_volume, write_labels
from napari_medseg.io.atomic import atomic_path

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture
def umask():
    """Set the process umask for one test (restored afterwards)."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def _nifti(path: Path, sform_code: int = 1, qform_code: int = 1) -> Path:
    affine = np.array([[-0.9, 0, 0, 30.0], [0, 1.1, 0, -40.0], [0, 0, 3.0, 5.0], [0, 0, 0, 1]])
    img = nib.Nifti1Image(np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6), affine)
    img.set_sform(affine, code=sform_code)
    img.set_qform(affine, code=qform_code)
    nib.save(img, str(path))
    return path


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_new_files_get_the_umask_permissions_not_0600(tmp_path, umask, mask, mode):
    umask(mask)
    source = read_volume(_nifti(tmp_path / "image.nii.gz"))
    out = write_labels(tmp_path / "labels.nii.gz", np.ones(source.shape, np.uint8), source)
    assert out.stat().st_mode & 0o777 == mode


def test_a_replaced_file_keeps_its_mode(tmp_path, umask):
    source = read_volume(_nifti(tmp_path / "image.nii.gz"))
    out = write_labels(tmp_path / "labels.nrrd", np.ones(source.shape, np.uint8), source)
    out.chmod(0o600)
    write_labels(out, np.zeros(source.shape, np.uint8), source)
    assert out.stat().st_mode & 0o777 == 0o600 and not read_volume(out).array.any()


_KILLED_WRITER = """
import sys, time
sys.path.insert(0, {src!r})
from napari_medseg.io.atomic import atomic_path
with atomic_path({target!r}) as tmp:
    tmp.write_bytes(b"x" * 1_000_000)  # half-written output
    print("writing", flush=True)
    time.sleep(60)
"""


def test_a_write_killed_midway_leaves_no_temporary_after_the_next_write(tmp_path):
    target = tmp_path / "out" / "labels.nii.gz"
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER.format(src=SRC, target=str(target))], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    left = [p.name for p in target.parent.iterdir()]
    assert len(left) == 1 and left[0].startswith(".labels.nii.gz.medseg-") and not target.exists()
    source = read_volume(_nifti(tmp_path / "image.nii.gz"))
    write_labels(tmp_path / "out" / "other.nii.gz", np.ones(source.shape, np.uint8), source)  # any later write
    assert sorted(p.name for p in target.parent.iterdir()) == ["other.nii.gz"]


def test_a_running_writers_temporary_is_left_alone(tmp_path):
    with atomic_path(tmp_path / "a.nii.gz") as first:
        first.write_bytes(b"in progress")
        with atomic_path(tmp_path / "b.nii.gz") as second:  # same process: still writing, must survive
            second.write_bytes(b"b")
        assert first.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.nii.gz", "b.nii.gz"]


@pytest.mark.parametrize("codes", [(4, 0), (2, 1), (1, 1), (0, 2)])
def test_nifti_sform_and_qform_codes_are_kept_from_the_source(tmp_path, codes):
    source = read_volume(_nifti(tmp_path / "image.nii.gz", *codes))
    out = write_labels(tmp_path / "labels.nii.gz", np.ones(source.shape, np.uint8), source)
    header = nib.load(str(out)).header
    assert (int(header["sform_code"]), int(header["qform_code"])) == codes
    np.testing.assert_allclose(read_volume(out).affine, source.affine, atol=1e-5)


def test_labels_of_a_dicom_series_are_written_as_scanner_coordinates(tmp_path):
    from dicom_factory import write_series

    write_series(tmp_path / "ct", np.zeros((3, 6, 7), np.int16))
    ct = read_volume(tmp_path / "ct")
    header = nib.load(str(write_labels(tmp_path / "l.nii.gz", np.zeros(ct.shape, np.uint8), ct))).header
    assert (int(header["sform_code"]), int(header["qform_code"])) == (1, 1)
