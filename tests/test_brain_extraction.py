"""Brain extraction with the brain-tissue model: the mask rule, the model on a whole head, CLI and widget."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from napari_medseg.cli import main
from napari_medseg.models.brain_extraction import brain_mask, skull_strip
from napari_medseg.samples import brain_mri_paths, whole_head_mri


def dice(a, b):
    return 2 * np.logical_and(a, b).sum() / (a.sum() + b.sum())


def test_brain_mask_keeps_the_largest_part_with_its_holes_filled():
    labels = np.zeros((20, 20, 20), np.uint8)
    labels[4:14, 4:14, 4:14] = 1
    labels[8:10, 8:10, 8:10] = 0  # a hole (e.g. unlabelled voxels in a ventricle)
    labels[6, 6, 6] = 3
    labels[17:19, 17:19, 17:19] = 2  # a stray blob in the scalp
    mask = brain_mask(labels)
    assert mask[8:10, 8:10, 8:10].all()
    assert not mask[17:19, 17:19, 17:19].any()
    assert mask.sum() == 1000


def test_brain_mask_of_nothing_is_empty():
    assert not brain_mask(np.zeros((4, 5, 6), np.uint8)).any()


@pytest.mark.slow
def test_skull_strip_removes_a_scalp_and_skull_around_the_sample_brain():
    head, brain = whole_head_mri()
    stripped, mask = skull_strip(head, device="cpu")
    assert dice(mask, brain) >= 0.9
    scalp = ~ndimage.binary_dilation(brain, iterations=3) & (head.array > 60)
    assert (stripped.array[scalp] == 0).mean() >= 0.98  # bright scalp fat and diploe are gone
    np.testing.assert_array_equal(stripped.array[mask], head.array[mask])  # the brain's voxels are untouched
    assert stripped.array.dtype == head.array.dtype and stripped.shape == head.shape


@pytest.mark.slow
def test_cli_skullstrip_writes_the_brain_and_its_mask_on_the_image_grid(tmp_path, capsys):
    t1_path = brain_mri_paths()[0]
    out, mask_path = tmp_path / "brain.nii.gz", tmp_path / "mask.nii.gz"
    assert main(["skullstrip", str(t1_path), "--out", str(out), "--mask", str(mask_path), "--device", "cpu"]) == 0
    src = nib.load(t1_path)
    brain, mask = nib.load(out), nib.load(mask_path)
    np.testing.assert_allclose(brain.affine, src.affine, atol=1e-5)
    assert mask.shape == src.shape
    m = np.asanyarray(mask.dataobj) > 0
    assert dice(m, np.asanyarray(src.dataobj) > 0) >= 0.9
    assert not np.asanyarray(brain.dataobj)[~m].any()
    assert "brain" in capsys.readouterr().err


def test_cli_skullstrip_refuses_one_file_for_both_outputs(tmp_path, capsys):
    out = tmp_path / "same.nii.gz"
    assert main(["skullstrip", str(brain_mri_paths()[0]), "--out", str(out), "--mask", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "same file" in err[0]
    assert not out.exists()


@pytest.mark.slow
def test_widget_adds_the_stripped_image_and_mask_on_the_image_grid(qtbot, make_napari_viewer):
    import napari

    from napari_medseg._napari.sample_data import brain_mri
    from napari_medseg._napari.skullstrip_widget import SkullStripWidget

    viewer = make_napari_viewer()
    for data, kwargs, kind in brain_mri():
        getattr(viewer, f"add_{kind}")(data, **kwargs)
    image = next(layer for layer in viewer.layers if isinstance(layer, napari.layers.Image))
    widget = SkullStripWidget(viewer)
    widget.image_combo.value = image
    widget.run()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=180_000)
    stripped = viewer.layers[f"{image.name} (brain)"]
    mask = viewer.layers[f"{image.name} brain mask"]
    assert isinstance(mask, napari.layers.Labels)
    np.testing.assert_allclose(stripped.affine.affine_matrix, image.affine.affine_matrix)
    np.testing.assert_allclose(mask.affine.affine_matrix, image.affine.affine_matrix)
    inside = np.asarray(mask.data) > 0
    assert dice(inside, np.asarray(image.data) > 0) >= 0.9
    assert not np.asarray(stripped.data)[~inside].any()
    assert "ml" in widget.status.value
