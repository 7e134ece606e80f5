"""Clicks that correct, 3D corrections, Accept that removes, propagation that stops.

The first tests drive ``corrections`` with a stand-in decoder (a box 'segments' the
brightest connected object inside it) so the logic is pinned without the model; the
others run LiteMedSAM on small CT-like volumes.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_medseg.models.sam import InteractiveSession
from napari_medseg.models.sam.corrections import apply_click, object_at
from napari_medseg.models.sam.propagation import structure_ends
from napari_medseg.models.sam.simulated_user import next_click
from test_sam_model import ct_phantom, dice, predictor  # noqa: F401  (fixture)


def two_organs(shape=(96, 96)):
    """A slice with two touching discs (the target left, a neighbour right)."""
    yy, xx = np.indices(shape)
    target = (yy - 48) ** 2 + (xx - 38) ** 2 <= 16**2
    neighbour = ((yy - 48) ** 2 + (xx - 66) ** 2 <= 12**2) & ~target
    return target, neighbour


def objects_decoder(objects):
    """Stand-in for SAM: a box gives the largest of ``objects`` (bool masks) that has at least
    half of itself inside the box (IoU 0.9), else the biggest piece of an object it cuts (0.5)."""

    def decode(boxes):
        masks, iou = [], []
        for x0, y0, x1, y1 in np.asarray(boxes):
            inside = np.zeros(objects[0].shape, bool)
            inside[int(np.ceil(y0)) : int(y1) + 1, int(np.ceil(x0)) : int(x1) + 1] = True
            fits = [o for o in objects if o.any() and (o & inside).sum() >= 0.5 * o.sum()]
            if fits:
                masks.append(max(fits, key=lambda o: o.sum()))
                iou.append(0.9)
            else:
                cut = [o & inside for o in objects if (o & inside).any()]
                masks.append(max(cut, key=lambda o: o.sum()) if cut else np.zeros_like(inside))
                iou.append(0.5)
        return np.array(masks), np.array(iou)

    return decode


def test_object_at_finds_the_enclosed_object_under_a_click():
    target, neighbour = two_organs()
    decode = objects_decoder([target, neighbour])
    assert np.array_equal(object_at(decode, target.shape, 66, 48), neighbour)
    assert np.array_equal(object_at(decode, target.shape, 38, 48), target)


def test_negative_click_in_a_leak_removes_the_neighbour_and_keeps_the_target():
    target, neighbour = two_organs()
    leaked = target | neighbour
    out = apply_click(objects_decoder([target, neighbour]), leaked, [(70.0, 48.0, False)])
    assert np.array_equal(out, target)


def test_positive_click_adds_only_the_region_it_points_into():
    target, neighbour = two_organs()
    partial = target & (np.indices(target.shape)[1] < 40)  # the right part of the target missed
    out = apply_click(objects_decoder([target, neighbour]), partial, [(48.0, 48.0, True)])
    assert dice(out, target) > dice(partial, target) + 0.2
    assert not (out & neighbour).any()  # the neighbour, far from the click, is untouched


def test_an_earlier_click_is_not_undone_by_a_later_edit():
    target, neighbour = two_organs()
    leaked = target | neighbour
    # the user said (60, 48) belongs to the structure; a later negative click in the neighbour
    out = apply_click(objects_decoder([target, neighbour]), leaked, [(60.0, 48.0, True), (72.0, 48.0, False)])
    assert out[48, 60] and not out[48, 72]


def test_structure_ends_on_vanishing_shrinking_jumping_or_unconfident_masks():
    previous = np.zeros((64, 64), bool)
    previous[20:40, 20:40] = True
    small = np.zeros_like(previous)
    small[30:33, 30:33] = True
    far = np.zeros_like(previous)
    far[0:20, 44:64] = True
    assert structure_ends(np.zeros_like(previous), 0.9, previous, 0.95)
    assert structure_ends(small, 0.9, previous, 0.95)
    assert structure_ends(previous, 0.6, previous, 0.95)
    assert structure_ends(far, 0.95, previous, 0.95)
    assert not structure_ends(previous, 0.9, previous, 0.95)


# ---- LiteMedSAM ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def organ_case():
    vol, organ = ct_phantom(shape=(14, 128, 128))
    return vol, organ


def box_of(mask2d, grow=0):
    rows, cols = np.nonzero(mask2d)
    return (cols.min() - grow, rows.min() - grow, cols.max() + grow, rows.max() + grow)


def test_click_alone_segments_the_organ_under_it(predictor, organ_case):  # noqa: F811
    vol, organ = organ_case
    session = InteractiveSession(predictor, vol)
    k = 7
    rows, cols = np.nonzero(organ[k])
    session.add_click(0, k, cols.mean(), rows.mean(), True, carry=False)
    assert session.mask[k].any()
    assert dice(session.mask[k], organ[k]) >= 0.7


def test_clicks_never_make_a_too_large_box_worse(predictor, organ_case):  # noqa: F811
    vol, organ = organ_case
    session = InteractiveSession(predictor, vol)
    k = 7
    session.add_box(0, k, box_of(organ[k], grow=25))  # a sloppy box: the model takes in too much
    scores = [dice(session.mask[k], organ[k])]
    for _ in range(3):
        session.add_click(0, k, *next_click(session.mask[k], organ[k]), carry=False)
        scores.append(dice(session.mask[k], organ[k]))
    assert all(b >= a - 0.005 for a, b in zip(scores, scores[1:])), scores
    assert scores[-1] >= scores[0]


def test_propagation_stops_where_the_organ_ends_and_a_3d_correction_wipes_no_slice(predictor, organ_case):  # noqa: F811
    vol, organ = organ_case
    session = InteractiveSession(predictor, vol)
    zs = np.flatnonzero(organ.any(axis=(1, 2)))
    k = int(zs[len(zs) // 2])
    session.add_box(0, k, box_of(organ[k]), propagate=True)  # default range: the whole volume
    outside = np.ones(len(organ), bool)
    outside[zs] = False
    assert not session.mask[outside].any()  # no blobs on slices without the organ
    assert dice(session.mask, organ) >= 0.85
    before = session.mask.any(axis=(1, 2)).copy()
    j = int(zs[1])
    session.add_click(0, j, *next_click(session.mask[j], organ[j]))
    after = session.mask.any(axis=(1, 2))
    assert not (before & ~after).any()  # no slice that held the organ was emptied


def test_accept_removes_a_false_positive_and_keeps_other_labels(predictor, organ_case):  # noqa: F811
    vol, organ = organ_case
    labels = np.zeros(vol.shape, np.uint16)
    k = 7
    labels[organ] = 3
    labels[k, 5:15, 5:15] = 3  # a false positive of label 3 on slice k, far from the organ
    labels[k, 0:3, 0:3] = 9  # another structure
    session = InteractiveSession(predictor, vol)
    session.set_target(labels, 3)
    session.add_click(0, k, 10.0, 10.0, False, carry=False)
    indices, values = session.label_edit(labels, 3)
    labels[indices] = values
    assert not (labels[k, 5:15, 5:15] == 3).any()
    assert (labels[k, 0:3, 0:3] == 9).all()
    assert np.array_equal(labels[np.arange(len(labels)) != k] == 3, organ[np.arange(len(labels)) != k])


def test_cli_click_alone_and_correcting_an_existing_label_map(predictor, tmp_path):  # noqa: F811
    import nibabel as nib

    from napari_medseg.cli import main

    vol, organ = ct_phantom(shape=(14, 128, 128))
    affine = np.diag([1.5, 1.5, 3.0, 1.0])  # file (i, j, k) = array (x, y, z) transposed
    nib.save(nib.Nifti1Image(np.ascontiguousarray(vol.transpose(2, 1, 0)), affine), tmp_path / "ct.nii.gz")
    truth = organ.transpose(2, 1, 0)
    i, j, k = (int(round(v)) for v in np.mean(np.nonzero(truth[:, :, 7:8]), axis=1))
    assert (
        main(
            [
                "segment",
                str(tmp_path / "ct.nii.gz"),
                "--model",
                "litemedsam",
                "--device",
                "cpu",
                "--points",
                f"{i},{j},7,+1",
                "--out",
                str(tmp_path / "click.nii.gz"),
            ]
        )
        == 0
    )
    clicked = np.asarray(nib.load(tmp_path / "click.nii.gz").dataobj) > 0
    assert clicked[:, :, 7].any() and dice(clicked[:, :, 7], truth[:, :, 7]) >= 0.7  # a click alone segments
    assert clicked[:, :, 6].any() and clicked[:, :, 8].any()  # and is carried to the neighbouring slices

    existing = (truth * 2).astype(np.uint8)  # the organ as label 2, with a false positive on slice 7
    existing[5:15, 5:15, 7] = 2
    existing[0:3, 0:3, 0] = 5  # another label
    nib.save(nib.Nifti1Image(existing, affine), tmp_path / "existing.nii.gz")
    assert (
        main(
            [
                "segment",
                str(tmp_path / "ct.nii.gz"),
                "--model",
                "litemedsam",
                "--device",
                "cpu",
                "--labels",
                str(tmp_path / "existing.nii.gz"),
                "--label",
                "2",
                "--points",
                "10,10,7,-1",
                "--out",
                str(tmp_path / "fixed.nii.gz"),
            ]
        )
        == 0
    )
    fixed = np.asarray(nib.load(tmp_path / "fixed.nii.gz").dataobj)
    assert not (fixed[5:15, 5:15, 7] == 2).any()  # the false positive is gone
    assert (fixed[0:3, 0:3, 0] == 5).all()  # other labels kept
    assert np.array_equal(fixed[:, :, 9:] == 2, truth[:, :, 9:])  # far from the click, nothing changed


def test_nan_voxels_are_refused_before_the_model_runs():
    from napari_medseg.errors import MedsegError

    image = np.zeros((4, 16, 16), np.float32)
    image[1, 2, 3] = np.nan

    class Unused:  # a predictor that must never be reached
        def __getattr__(self, name):
            raise AssertionError("the model was used on NaN input")

    with pytest.raises(MedsegError, match="NaN or infinite"):
        InteractiveSession(Unused(), image)
