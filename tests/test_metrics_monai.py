"""Our metrics against MONAI 1.6 and SimpleITK on random anisotropic multi-label volumes."""

import warnings

import numpy as np
import pytest
from scipy import ndimage

from napari_medseg.metrics import evaluate_labels

torch = pytest.importorskip("torch")
monai_metrics = pytest.importorskip("monai.metrics")

SPACING = (2.5, 0.8, 1.1)
N_LABELS = 3


def random_label_pair(seed: int, shape=(24, 40, 36)):
    """Two label maps of smooth random blobs; the prediction is perturbed, with islands."""
    rng = np.random.default_rng(seed)

    def blobs(noise_seed):
        field = ndimage.gaussian_filter(np.random.default_rng(noise_seed).standard_normal(shape), (1.0, 3.0, 2.5))
        cuts = np.quantile(field, [0.55, 0.7, 0.85])
        return np.digitize(field, cuts).astype(np.uint8)  # 0..3, label 3 touches borders too

    ref = blobs(seed)
    pred = np.roll(ref, (1, -2, 1), axis=(0, 1, 2))
    flip = rng.random(shape) < 0.03
    pred[flip] = rng.integers(0, N_LABELS + 1, flip.sum())
    return pred, ref


def one_hot(labels):
    return torch.from_numpy(np.stack([labels == c for c in range(N_LABELS + 1)])[None].astype(np.float32))


@pytest.fixture(scope="module", params=[0, 1])
def pair_and_monai(request):
    pred, ref = random_label_pair(request.param)
    border = np.concatenate([ref[[0, -1]].ravel(), ref[:, [0, -1]].ravel(), ref[:, :, [0, -1]].ravel()])
    assert set(np.unique(border)) >= {1, 2, 3}  # the image-border convention is exercised for every label
    p, r = one_hot(pred), one_hot(ref)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        monai = {
            "dice": monai_metrics.compute_dice(p, r, include_background=False)[0].numpy(),
            "hd_mm": monai_metrics.compute_hausdorff_distance(p, r, include_background=False, spacing=SPACING)[
                0
            ].numpy(),
            "hd95_mm": monai_metrics.compute_hausdorff_distance(
                p, r, include_background=False, spacing=SPACING, percentile=95
            )[0].numpy(),
            "assd_mm": monai_metrics.compute_average_surface_distance(
                p, r, include_background=False, symmetric=True, spacing=SPACING
            )[0].numpy(),
            "nsd": monai_metrics.compute_surface_dice(
                p, r, [1.5] * N_LABELS, include_background=False, spacing=SPACING
            )[0].numpy(),
            "nsd_area": monai_metrics.compute_surface_dice(
                p, r, [1.5] * N_LABELS, include_background=False, spacing=SPACING, use_subvoxels=True
            )[0].numpy(),
        }
    return pred, ref, monai


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dice", "hd_mm", "hd95_mm", "assd_mm", "nsd"])
def test_voxel_metrics_match_monai_on_anisotropic_multilabel(pair_and_monai, name):
    pred, ref, monai = pair_and_monai
    records = evaluate_labels(pred, ref, SPACING, tolerance_mm=1.5)
    assert [r.label for r in records] == [1, 2, 3]
    ours = np.array([getattr(r, name) for r in records])
    np.testing.assert_allclose(ours, monai[name], rtol=1e-4)


@pytest.mark.slow
def test_area_weighted_nsd_matches_monai_subvoxel_surface_dice(pair_and_monai):
    pred, ref, monai = pair_and_monai
    records = evaluate_labels(pred, ref, SPACING, tolerance_mm=1.5, surface="area")
    np.testing.assert_allclose([r.nsd for r in records], monai["nsd_area"], rtol=1e-4)
    voxel = evaluate_labels(pred, ref, SPACING, tolerance_mm=1.5)
    assert not np.allclose([r.nsd for r in records], [r.nsd for r in voxel], rtol=1e-3)  # a real variant


def test_hausdorff_matches_simpleitk_filter_on_whole_masks():
    """SimpleITK measures between all voxels of the masks; the max coincides with the surface HD."""
    sitk = pytest.importorskip("SimpleITK")
    pred, ref = random_label_pair(3)
    records = evaluate_labels(pred, ref, SPACING)
    for record in records:
        images = []
        for labels in (pred, ref):
            image = sitk.GetImageFromArray((labels == record.label).astype(np.uint8))
            image.SetSpacing(SPACING[::-1])  # SimpleITK spacing is (x, y, z) = array axes (2, 1, 0)
            images.append(image)
        hd_filter = sitk.HausdorffDistanceImageFilter()
        hd_filter.Execute(*images)
        assert record.hd_mm == pytest.approx(hd_filter.GetHausdorffDistance(), rel=1e-6)


def test_surfel_area_table_equals_monai_table():
    from monai.metrics.utils import create_table_neighbour_code_to_surface_area

    from napari_medseg.metrics.boundary import surfel_area_table

    expected, _ = create_table_neighbour_code_to_surface_area(SPACING)
    np.testing.assert_allclose(surfel_area_table(SPACING), expected.double().numpy(), rtol=1e-6)


def test_hausdorff_differs_from_simpleitk_all_voxel_filter_for_a_mask_with_a_cavity():
    """Where the definitions part: SimpleITK measures between all voxels, we (and MONAI) between surfaces.

    A hollow shell against the filled ball: the shell's cavity surface is 7 mm inside the
    ball's surface (our HD), while the deepest cavity voxel is only ~5 mm from the shell
    (SimpleITK's HD).
    """
    sitk = pytest.importorskip("SimpleITK")
    z, y, x = np.ogrid[:31, :31, :31]
    r = np.sqrt((z - 15) ** 2 + (y - 15) ** 2 + (x - 15) ** 2)
    ball = (r <= 12).astype(np.uint8)
    shell = ((r <= 12) & (r > 5)).astype(np.uint8)
    (record,) = evaluate_labels(shell, ball, (1.0, 1.0, 1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        monai_hd = float(
            monai_metrics.compute_hausdorff_distance(
                torch.from_numpy(shell)[None, None].float(), torch.from_numpy(ball)[None, None].float()
            )
        )
    hd_filter = sitk.HausdorffDistanceImageFilter()
    hd_filter.Execute(sitk.GetImageFromArray(shell), sitk.GetImageFromArray(ball))
    assert record.hd_mm == pytest.approx(monai_hd, rel=1e-6)
    assert 6.0 < record.hd_mm < 8.0 and hd_filter.GetHausdorffDistance() < 6.0
