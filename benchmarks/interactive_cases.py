"""Held-out cases for the simulated-user benchmark (``bench_interactive.py``): three families.

* ``ct_organs``: seeded synthetic abdominal CT volumes (1 x 1 mm pixels, 2.5 mm slices),
  each with a target organ of a random shape (lobed ellipsoid, kidney with a notch,
  crescent, tube) and neighbours of similar HU touching it, so a box leaks; every organ
  is a structure.
* ``mni_deep``: deep structures of the MNI ICBM152 2009 T1 shipped in ``sample_data``
  (2 mm): grey-matter nuclei and the lateral ventricles, found as components of the
  tissue labels away from the cortex.
* ``sample_ct``: the sample CT series with its organ, kidneys, psoas muscles and
  vertebral body (truth from the phantom's own formulas).

Nothing here was used to build or tune a model: the corrections are training-free.
Each case is ``(family, name, image (Z, Y, X) float, truth (Z, Y, X) bool)``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]


def _organ_shape(kind: str, x, y, z, centre, radii, rng) -> np.ndarray:
    dx, dy, dz = x - centre[0], y - centre[1], z - centre[2]
    angle = np.arctan2(dy, dx)
    r = (dx / radii[0]) ** 2 + (dy / radii[1]) ** 2 + (dz / radii[2]) ** 2
    if kind == "lobed":
        lobes = (
            1
            + rng.uniform(0.05, 0.2) * np.cos(2 * angle + rng.uniform(0, 6))
            + rng.uniform(0.03, 0.12) * np.sin(3 * angle + rng.uniform(0, 6))
        )
        return r < lobes**2
    if kind == "kidney":
        notch = ((dx + radii[0] * 0.9) / (radii[0] * 0.5)) ** 2 + (dy / (radii[1] * 0.35)) ** 2 < 1
        return (r < 1) & ~notch
    if kind == "crescent":
        inner = ((dx + radii[0] * 0.7) / radii[0]) ** 2 + (dy / (radii[1] * 0.8)) ** 2 + (dz / radii[2]) ** 2
        return (r < 1) & (inner > 1)
    # tube: a vessel running along z with a drifting centre
    cx = centre[0] + 6 * np.sin(z / 20.0)
    return ((x - cx) / radii[0]) ** 2 + (dy / radii[0]) ** 2 < 1


def ct_organ_volume(seed: int, shape=(24, 160, 160)):
    """(HU image, {name: mask}) of one synthetic abdominal CT; see the module docstring."""
    rng = np.random.default_rng(seed)
    k, r, c = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    x, y, z = c - 80.0, r - 80.0, (k - shape[0] / 2) * 2.5
    body = (x / 74.0) ** 2 + (y / 60.0) ** 2
    hu = np.full(shape, -1000.0)
    hu[body < 1] = -100.0
    hu[body < 0.88**2] = 45.0
    cavity = body < 0.80**2
    hu[cavity] = -90.0
    hu[(x / 14) ** 2 + ((y - 38) / 12) ** 2 < 1] = 700.0  # vertebra
    kinds = ["lobed", "kidney", "crescent", "tube"]
    target_kind = kinds[seed % 4]
    organ_hu = rng.uniform(40, 90)
    centre = (rng.uniform(-30, 10), rng.uniform(-20, 10), rng.uniform(-8, 8))
    radii = (rng.uniform(14, 24), rng.uniform(12, 20), rng.uniform(18, 26))
    if target_kind == "tube":
        radii = (rng.uniform(6, 10),) * 3
    structures = {f"{target_kind}": _organ_shape(target_kind, x, y, z, centre, radii, rng) & cavity}
    # neighbours of similar HU touching the target (a box around the target reaches them)
    for n in range(2):
        angle = rng.uniform(0, 2 * np.pi)
        reach = radii[0] + rng.uniform(6, 12)
        nc = (centre[0] + reach * np.cos(angle), centre[1] + reach * np.sin(angle), centre[2] + rng.uniform(-5, 5))
        nr = (rng.uniform(8, 14), rng.uniform(8, 14), rng.uniform(15, 25))
        kind = ["lobed", "kidney"][n]
        mask = _organ_shape(kind, x, y, z, nc, nr, rng) & cavity
        for other in structures.values():
            mask &= ~other
        structures[f"neighbour{n + 1}_{kind}"] = mask
    for n, mask in enumerate(structures.values()):
        hu[mask] = organ_hu if n == 0 else organ_hu + rng.uniform(-15, 15)
    hu = ndimage.gaussian_filter(hu, (0.3, 0.6, 0.6)) + rng.normal(0, 12, shape) * (body < 1)
    return hu.astype(np.float32), {name: m for name, m in structures.items() if m.sum() > 200}


def ct_organs(n_volumes: int = 8):
    for seed in range(n_volumes):
        hu, structures = ct_organ_volume(1000 + seed)
        for name, mask in structures.items():
            yield "ct_organs", f"v{seed}/{name}", hu, mask


def mni_deep():
    """Deep grey nuclei and lateral ventricles of the sample MRI (2 mm), by component."""
    from napari_medseg.samples import load_brain_mri

    t1, tissue = load_brain_mri()
    image, labels = t1.array.astype(np.float32), tissue.array
    brain = ndimage.binary_fill_holes(labels > 0)
    depth = ndimage.distance_transform_edt(brain)
    found = []
    for value, name, min_depth in ((1, "nucleus", 9), (0, "ventricle", 7)):
        candidate = (labels == value) & (depth > min_depth) & brain
        candidate = ndimage.binary_opening(candidate, iterations=1)
        comps, n = ndimage.label(candidate)
        sizes = ndimage.sum(candidate, comps, range(1, n + 1))
        for i in np.argsort(sizes)[::-1][:4]:
            if sizes[i] >= 150:
                found.append((f"{name}{len(found)}", comps == i + 1))
    for name, mask in found:
        yield "mni_deep", name, image, mask


def sample_ct():
    """The sample CT with truth for its organ, kidneys, psoas muscles and vertebral body."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import make_ct_phantom as phantom  # the formulas the sample was made from

    from napari_medseg.io import read_volume
    from napari_medseg.samples import sample_dir

    ct = read_volume(sample_dir() / "ct_phantom")
    organ = read_volume(sample_dir() / "ct_phantom_organ.nii.gz").array > 0
    x, y, z = phantom.grid_mm()  # (slice, row, column) as written; the reader keeps that order here
    assert x.shape == ct.shape
    body = (x / 72.0) ** 2 + ((y - 5.0) / 58.0) ** 2
    cavity = body < 0.80**2
    truth = {"organ": organ}
    for side, label in ((-1, "right"), (1, "left")):
        truth[f"kidney_{label}"] = phantom.ellipsoid(x, y, z, (side * 45.0, 25.0, -25.0), (13.0, 14.0, 25.0)) < 1
        truth[f"psoas_{label}"] = (
            (phantom.ellipsoid(x, y, z, (side * 22.0, 38.0, 0.0), (9.0, 12.0, 1e3)) < 1)
            & cavity
            & ~truth[f"kidney_{label}"]
        )
    truth["vertebra"] = phantom.ellipsoid(x, y, z, (0.0, 35.0, 0.0), (14.0, 12.0, 1e3)) < 1
    for name, mask in truth.items():
        yield "sample_ct", name, ct.array.astype(np.float32), mask


def all_cases(n_ct_volumes: int = 8):
    """Every case of the three families, in a fixed order."""
    yield from ct_organs(n_ct_volumes)
    yield from mni_deep()
    yield from sample_ct()
