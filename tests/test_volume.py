import numpy as np
import pytest

from conftest import rotation
from napari_medseg.volume import (
    FileOrder,
    Volume,
    affine_from_napari,
    canonical_file_order,
    napari_affine,
    smallest_label_dtype,
)

RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _lps_of_file_index(file_affine_lps, idx):
    return (file_affine_lps @ np.r_[idx, 1.0])[:3]


@pytest.mark.parametrize("seed", range(6))
def test_reordered_volume_keeps_every_voxel_at_its_patient_position(seed):
    rng = np.random.default_rng(seed)
    perm = rng.permutation(3)
    flips = np.diag(rng.choice([-1, 1], 3))
    lin = (
        rotation(rng.normal(size=3), rng.uniform(0, 25)) @ np.eye(3)[:, perm] @ flips @ np.diag(rng.uniform(0.5, 3, 3))
    )
    aff = np.eye(4)
    aff[:3, :3] = lin
    aff[:3, 3] = rng.uniform(-100, 100, 3)
    data = rng.normal(size=(5, 7, 9))
    vol = Volume.from_file_order(data, aff)
    for _ in range(20):
        f = np.array([rng.integers(s) for s in data.shape])
        p = _lps_of_file_index(aff, f)
        c = np.linalg.solve(vol.affine, np.r_[p, 1.0])[:3]
        assert np.allclose(c, np.round(c), atol=1e-6)
        assert vol.array[tuple(np.round(c).astype(int))] == data[tuple(f)]


def test_canonical_axes_point_superior_posterior_left():
    # a RAS-canonical NIfTI (i -> R, j -> A, k -> S), as MNI templates are stored
    vol = Volume.from_file_order(np.zeros((4, 5, 6)), RAS_TO_LPS @ np.diag([1.0, 2.0, 3.0, 1.0]))
    assert vol.shape == (6, 5, 4)
    # array axis 0 -> +z (S), 1 -> +y (P), 2 -> +x (L), all positive
    assert np.allclose(vol.affine[:3, :3], [[0, 0, 1], [0, 2, 0], [3, 0, 0]])
    assert not vol.is_oblique
    assert np.allclose(vol.spacing, [3, 2, 1])


def test_file_order_roundtrip_restores_source_voxel_order():
    order = FileOrder(perm=(2, 0, 1), flips=(0, 2))
    data = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    assert np.array_equal(order.to_file(order.to_canonical(data)), data)


def test_file_affine_is_the_source_affine(oblique_ras_affine):
    lps = RAS_TO_LPS @ oblique_ras_affine
    vol = Volume.from_file_order(np.zeros((4, 5, 6)), lps)
    assert vol.file_shape == (4, 5, 6)
    assert np.allclose(vol.file_affine, lps)
    assert vol.is_oblique


def test_canonical_order_of_identity_lps_is_reversal():
    assert canonical_file_order(np.eye(4)) == FileOrder((2, 1, 0), ())


def test_napari_world_is_lps_reversed():
    rng = np.random.default_rng(3)
    aff = np.eye(4)
    aff[:3, :3] = rng.normal(size=(3, 3))
    aff[:3, 3] = rng.normal(size=3)
    idx = np.array([1.0, 2.0, 3.0, 1.0])
    lps = aff @ idx
    world = napari_affine(aff) @ idx
    assert np.allclose(world[:3], lps[2::-1])
    assert np.allclose(affine_from_napari(napari_affine(aff)), aff)


@pytest.mark.parametrize(
    "values, dtype", [([0, 1, 255], np.uint8), ([0, 256], np.uint16), ([70000], np.uint32), ([0.0, 3.0], np.uint8)]
)
def test_smallest_label_dtype(values, dtype):
    assert smallest_label_dtype(np.array(values)) == dtype


@pytest.mark.parametrize("values", [[-1, 2], [0.5]])
def test_smallest_label_dtype_rejects_negative_and_fractional(values):
    with pytest.raises(ValueError):
        smallest_label_dtype(np.array(values))


def test_volume_rejects_wrong_dimensions():
    with pytest.raises(ValueError, match="3D"):
        Volume(np.zeros((3, 3)), np.eye(4))


def test_obliquity_angle_of_a_tilted_volume():
    lin = rotation([1, 0, 0], 17.0) @ np.diag([1.0, 1.0, 2.0])
    aff = np.eye(4)
    aff[:3, :3] = lin
    vol = Volume.from_file_order(np.zeros((3, 3, 3)), aff)
    assert vol.obliquity_deg == pytest.approx(17.0, abs=1e-6)
    assert vol.is_oblique


def test_ct_layers_open_in_the_soft_tissue_window_and_mr_in_napari_default():
    from napari_medseg._napari.layers import image_layer_data

    ct = Volume(np.full((2, 3, 4), -1000, np.int16), np.eye(4))
    mr = Volume(np.arange(24, dtype=np.int16).reshape(2, 3, 4), np.eye(4))
    assert image_layer_data(ct)[1]["contrast_limits"] == (-160.0, 240.0)
    assert "contrast_limits" not in image_layer_data(mr)[1]
