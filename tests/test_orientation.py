"""Orientation in napari: superior up in coronal/sagittal views, anatomical letters, a labelled cursor."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from napari_medseg.orientation import AXIS_LABELS, cursor_text, edge_letters

PLUGIN = "napari-medseg"


@pytest.fixture
def marked_ct(tmp_path):
    """A CT-like RAS NIfTI (air -1000 HU) with a bright block at the superior, anterior, right corner."""
    data = np.full((40, 40, 40), -1000, np.int16)  # (i, j, k) = (R->L... RAS: +i right, +j anterior, +k superior)
    data[8:32, 8:32, 8:32] = 40
    data[30:38, 30:38, 30:38] = 1000  # right (+i), anterior (+j), superior (+k)
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    img = nib.Nifti1Image(data, affine)
    img.set_sform(affine, code=1)
    img.set_qform(affine, code=1)
    path = tmp_path / "marked.nii.gz"
    nib.save(img, str(path))
    return path


def _bright_centre(viewer) -> tuple[float, float]:
    """(row, column) of the bright block on the canvas, as fractions of its height and width."""
    shot = viewer.screenshot(canvas_only=True, flash=False)[..., :3].astype(int)
    rows, cols = np.nonzero(shot.sum(axis=2) > 600)
    return rows.mean() / shot.shape[0], cols.mean() / shot.shape[1]


@pytest.mark.parametrize(
    ("order", "plane", "letters", "bright_at"),
    [
        ((0, 1, 2), "axial", {"top": "A", "bottom": "P", "left": "R", "right": "L"}, ("top", "left")),
        ((1, 0, 2), "coronal", {"top": "S", "bottom": "I", "left": "R", "right": "L"}, ("top", "left")),
        ((2, 0, 1), "sagittal", {"top": "S", "bottom": "I", "left": "A", "right": "P"}, ("top", "left")),
    ],
)
def test_each_plane_shows_its_letters_and_superior_up(make_napari_viewer, marked_ct, order, plane, letters, bright_at):
    from napari_medseg._napari.orientation import ensure_orientation

    viewer = make_napari_viewer(show=True)
    (layer,) = viewer.open(str(marked_ct), plugin=PLUGIN)
    layer.contrast_limits = (-1000, 1000)
    guide = ensure_orientation(viewer)
    assert tuple(viewer.dims.axis_labels) == AXIS_LABELS
    viewer.dims.order = order
    viewer.dims.set_point(
        order[0], 34.0 if order[0] == 0 else -34.0
    )  # the slice through the bright block (S 34, P -34, L -34)
    viewer.reset_view()
    assert guide.plane == plane and guide.letters == letters
    overlays = viewer.canvas.overlays
    assert overlays["text"].text.startswith(plane)
    assert {edge: overlays[f"medseg_{edge}"].text for edge in letters} == letters
    row, col = _bright_centre(viewer)  # the block (superior / anterior / right) is where the letters say
    assert (row < 0.5) == (bright_at[0] == "top") and (col < 0.5) == (bright_at[1] == "left")


def test_cursor_readout_names_ras_lps_and_hounsfield_units(make_napari_viewer, marked_ct):
    from napari_medseg._napari.orientation import ensure_orientation

    viewer = make_napari_viewer()
    viewer.open(str(marked_ct), plugin=PLUGIN)
    guide = ensure_orientation(viewer)
    # RAS voxel (34, 34, 34) is in the bright block: LPS (-34, -34, 34), napari world (S, P, L) = (34, -34, -34)
    viewer.dims.set_point(0, 34.0)  # the axial slice the cursor is on
    guide.move((34.0, -34.0, -34.0))
    assert guide.cursor == "RAS 34.0, 34.0, 34.0 mm\nLPS -34.0, -34.0, 34.0 mm\n1000 HU"
    assert guide.cursor in viewer.canvas.overlays["text"].text


def test_edge_letters_follow_the_camera():
    assert edge_letters((0, 2), up=True) == {"top": "S", "bottom": "I", "left": "R", "right": "L"}
    assert edge_letters((0, 2), up=False, right=False) == {"top": "I", "bottom": "S", "left": "L", "right": "R"}
    assert cursor_text((1, 2, 3)) == "RAS -3.0, -2.0, 1.0 mm\nLPS 3.0, 2.0, 1.0 mm"
    assert cursor_text((0.0, 0.01, 0.0)).startswith("RAS 0.0, 0.0, 0.0 mm")  # no "-0.0"


def test_no_letters_for_data_that_is_not_in_patient_space(make_napari_viewer):
    from napari_medseg._napari.orientation import ensure_orientation

    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((5, 6, 7)))  # a microscopy stack: its axes are not S, P, L
    guide = ensure_orientation(viewer)
    viewer.dims.order = (1, 0, 2)
    assert guide.plane == "" and not viewer.canvas.overlays["medseg_top"].visible
    assert viewer.camera.orientation2d[0] == "down"  # napari's default left alone
