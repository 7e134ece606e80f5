"""Synthetic whole-head MRI from label maps (SynthSeg-style domain randomisation).

The anatomy is the MNI ICBM152 2009 template shipped by nilearn (1 mm, skull-stripped T1
and grey/white-matter probability maps). Tissue maps are built once from it:

* grey and white matter: the template's probability maps;
* CSF: what is left inside the template's brain mask (``T1 > 0``);
* outside the brain, the distance to the brain mask (mm) drives randomly thick shells at
  each draw: extra-cerebral CSF, inner table, diploe, outer table, muscle, fat, skin; below
  the template's lowest slice, a neck of soft tissue.

Each draw (:meth:`HeadSynth.sample`) warps those maps (random rotation, scaling,
left/right mirror, elastic field) onto a patch of the training grid (2 or 1.5 mm), gives each tissue
a random intensity and texture (a quarter of the time a random MR contrast, otherwise a
jittered T1, T2, PD or FLAIR), and then blurs, resamples to a random slice thickness,
multiplies by a bias field, applies a gamma and adds noise. Three draws in ten are
skull-stripped the way the template is (zero outside the brain mask). Targets follow the
sample's rule (:func:`napari_medseg.samples.brain_tissue_labels`) on the warped maps, with
the rest of the brain mask as CSF: 0 outside the brain, 1 grey matter, 2 white matter, 3 CSF.

Everything runs in torch on the CPU from one seeded generator.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import nilearn
import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import distance_transform_edt

MNI = str(Path(nilearn.__file__).parent / "datasets" / "data" / "mni_icbm152_{}_tal_nlin_sym_09a_converted.nii.gz")
PAD_MM = 28  # room for skull and scalp around the template's brain
NECK_MM = 40  # soft tissue below the template's lowest slice
#: Tissue classes the intensities are drawn for (targets use only the first three + the mask).
TISSUES = ("grey matter", "white matter", "csf", "inner table", "diploe", "outer table", "muscle", "fat", "skin")
#: Typical tissue intensities (0-1) of common MR contrasts, in TISSUES order; jittered per draw.
CONTRASTS = {
    "T1": (0.55, 0.80, 0.20, 0.05, 0.70, 0.05, 0.45, 0.95, 0.60),
    "T2": (0.55, 0.40, 0.95, 0.05, 0.50, 0.05, 0.30, 0.60, 0.50),
    "PD": (0.75, 0.62, 0.85, 0.05, 0.60, 0.05, 0.55, 0.80, 0.70),
    "FLAIR": (0.65, 0.45, 0.08, 0.05, 0.55, 0.05, 0.35, 0.70, 0.55),
}


def template_maps() -> tuple[np.ndarray, np.ndarray]:
    """The 1 mm template as tissue maps, padded for a head.

    Returns
    -------
    maps : (4, X, Y, Z) float32, RAS voxel order, 1 mm
        grey matter and white matter probabilities, brain mask (0/1), and the distance (mm)
        from the brain mask outside it (0 inside); the neck below the template's lowest
        slice is marked by a negative distance ``-1``.
    affine : (4, 4) RAS affine of ``maps``
    """
    t1 = nib.load(MNI.format("t1"))
    gm = np.asanyarray(nib.load(MNI.format("gm")).dataobj).astype(np.float32) / 255.0
    wm = np.asanyarray(nib.load(MNI.format("wm")).dataobj).astype(np.float32) / 255.0
    brain = (np.asanyarray(t1.dataobj) > 0).astype(np.float32)
    pad = ((PAD_MM, PAD_MM), (PAD_MM, PAD_MM), (NECK_MM, PAD_MM))
    gm, wm, brain = (np.pad(a, pad) for a in (gm, wm, brain))
    distance = distance_transform_edt(brain < 0.5).astype(np.float32)
    # The template stops at its lowest slice (brainstem cut): below it a neck of soft tissue
    # whose cross-section is the head's at that level (brain plus 12 mm).
    lowest = NECK_MM
    footprint = distance[:, :, lowest] <= 12.0
    distance[:, :, :lowest][footprint] = -1.0
    affine = t1.affine.copy()
    affine[:3, 3] -= affine[:3, :3] @ np.array([pad[0][0], pad[1][0], pad[2][0]])
    return np.stack([gm, wm, brain, distance]), affine


def labels_from_maps(gm: np.ndarray, wm: np.ndarray, brain: np.ndarray) -> np.ndarray:
    """Targets: the sample's grey/white rule, CSF for the rest of the brain mask (uint8, 0-3)."""
    from napari_medseg.samples import brain_tissue_labels

    return brain_tissue_labels(gm, wm, brain)


def _smooth_field(gen: torch.Generator, shape, coarse: int, scale: float) -> torch.Tensor:
    """A smooth random field: ``coarse``^3 normal values times ``scale``, upsampled (cubic-ish)."""
    field = torch.randn((1, 1, coarse, coarse, coarse), generator=gen) * scale
    return F.interpolate(field, size=tuple(shape), mode="trilinear", align_corners=True)[0, 0]


def _shell(distance: torch.Tensor, inner: torch.Tensor, outer: torch.Tensor) -> torch.Tensor:
    """Soft membership of ``inner < distance <= outer`` (0.5 mm ramps)."""
    return torch.sigmoid((distance - inner) * 2.0) * torch.sigmoid((outer - distance) * 2.0)


class HeadSynth:
    """Draws (image, labels) patches on a regular grid (``voxel_mm``) from the template's tissue maps.

    Parameters
    ----------
    patch : int, edge of the cubic patch in voxels of ``voxel_mm``
    seed : int
    voxel_mm : float, the network's grid spacing
    spread_mm : float, patch centres are drawn this far (mm, per axis) around the brain's centre;
        wide enough and patches hold the air around the head
    """

    def __init__(self, patch: int = 96, seed: int = 0, voxel_mm: float = 2.0, spread_mm: float = 18.0):
        maps, affine = template_maps()
        self.maps = torch.from_numpy(maps)[None]  # (1, 4, X, Y, Z)
        self.shape = np.array(maps.shape[1:])
        self.affine = affine
        self.patch = patch
        self.voxel_mm = voxel_mm
        self.spread_mm = spread_mm
        self.gen = torch.Generator().manual_seed(seed)
        brain = maps[2] > 0.5
        idx = np.argwhere(brain)
        self.centre_mm = (affine[:3, :3] @ idx.mean(0) + affine[:3, 3]).astype(np.float32)

    def _u(self, lo: float, hi: float, n: int | None = None):
        r = torch.rand((n,) if n else (1,), generator=self.gen) * (hi - lo) + lo
        return r if n else float(r)

    def _grid(self) -> torch.Tensor:
        """Sampling grid (1, P, P, P, 3) into the template maps, with a random warp."""
        p = self.patch
        axis = torch.linspace(-(p - 1) / 2, (p - 1) / 2, p) * self.voxel_mm
        mm = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), -1)  # (P, P, P, 3), patch-centred mm
        angles = [self._u(-0.35, 0.35) for _ in range(3)]
        rot = torch.eye(3)
        for i, a in enumerate(angles):
            c, s = np.cos(a), np.sin(a)
            j, k = [x for x in range(3) if x != i]
            r = torch.eye(3)
            r[j, j], r[j, k], r[k, j], r[k, k] = c, -s, s, c
            rot = rot @ r
        scale = torch.diag(self._u(0.85, 1.15, 3))
        if self._u(0, 1) < 0.5:
            scale[0, 0] *= -1  # left/right mirror
        lin = rot @ scale
        elastic = torch.stack([_smooth_field(self.gen, (p, p, p), 5, self._u(0, 3.5)) for _ in range(3)], -1)
        spread = self._u(-self.spread_mm, self.spread_mm, 3)
        shift = torch.from_numpy(self.centre_mm) + spread + torch.tensor([0.0, 0.0, self._u(-25, 10)])
        world = mm @ lin.T + elastic + shift
        inv = torch.from_numpy(np.linalg.inv(self.affine)).float()
        vox = world @ inv[:3, :3].T + inv[:3, 3]
        norm = vox / torch.from_numpy(self.shape - 1).float() * 2 - 1
        return norm.flip(-1)[None]  # grid_sample wants (z, y, x) order for (D, H, W) = (X, Y, Z)

    def _tissues(self, maps: torch.Tensor) -> torch.Tensor:
        """(9, P, P, P) soft memberships of TISSUES from warped (gm, wm, brain, distance)."""
        gm, wm, brain, dist = maps
        shape = gm.shape
        vary = 1.0 + _smooth_field(self.gen, shape, 4, 0.25)  # local thickness variation
        edges = np.cumsum([self._u(0.0, 3.0), self._u(1.0, 2.5), self._u(1.5, 5.0), self._u(1.0, 2.5),
                           self._u(1.0, 8.0), self._u(1.0, 8.0), self._u(0.8, 2.0)])  # fmt: skip
        d = dist.clamp(min=0)
        outside = (1 - brain).clamp(0, 1)
        bounds = [torch.zeros_like(d)] + [torch.as_tensor(float(e)) * vary for e in edges]
        shells = [_shell(d, bounds[i], bounds[i + 1]) * outside for i in range(len(edges))]
        neck = (dist < -0.5).float()
        csf = (brain - gm - wm).clamp(min=0) + shells[0]
        muscle = shells[4] + neck
        return torch.stack([gm, wm, csf, shells[1], shells[2], shells[3], muscle, shells[5], shells[6]])

    def _intensities(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and texture sd per tissue: a random contrast, or a jittered common one."""
        n = len(TISSUES)
        if self._u(0, 1) < 0.25:
            means = self._u(0, 1, n)
        else:
            name = list(CONTRASTS)[int(self._u(0, len(CONTRASTS) - 1e-6))]
            means = (torch.tensor(CONTRASTS[name]) + self._u(-0.08, 0.08, n)).clamp(0, 1)
        sds = self._u(0.0, 0.04, n)
        return means, sds

    def _acquire(self, image: torch.Tensor) -> torch.Tensor:
        """Blur, slice thickness, bias field, gamma and noise on a (P, P, P) image."""
        x = image[None, None]
        sigma = self._u(0.0, 0.8)
        if sigma > 0.1:
            x = _gaussian(x, [sigma] * 3)
        if self._u(0, 1) < 0.5:  # thick slices along one axis: 1.5-3 voxels
            axis = int(self._u(0, 3 - 1e-6))
            factor = self._u(1.5, 3.0)
            sig = [0.0, 0.0, 0.0]
            sig[axis] = 0.42 * factor
            x = _gaussian(x, sig)
            size = list(x.shape[2:])
            low = size.copy()
            low[axis] = max(2, int(round(size[axis] / factor)))
            x = F.interpolate(F.interpolate(x, size=low, mode="trilinear"), size=size, mode="trilinear")
        x = x[0, 0]
        x = x * torch.exp(_smooth_field(self.gen, x.shape, 4, self._u(0.0, 0.2)))
        x = x.clamp(min=0)
        x = x / x.max().clamp(min=1e-6)
        x = x ** float(np.exp(self._u(-0.25, 0.25)))
        return x + torch.randn(x.shape, generator=self.gen) * self._u(0.0, 0.03)

    def sample(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One draw: image ``(1, P, P, P)`` float32 in [0, 1] (percentile-scaled) and labels ``(1, P, P, P)`` int64."""
        maps = F.grid_sample(self.maps, self._grid(), mode="bilinear", padding_mode="border", align_corners=True)[0]
        tissues = self._tissues(maps)
        means, sds = self._intensities()
        texture = (tissues * sds[:, None, None, None]).sum(0) * torch.randn(tissues.shape[1:], generator=self.gen)
        image = (tissues * means[:, None, None, None]).sum(0) + texture
        image = image + self._u(0.0, 0.05)  # background level
        brain = maps[2]
        stripped = self._u(0, 1) < 0.3
        image = self._acquire(image)
        if stripped:
            image = image * (brain >= 0.5)
        labels = labels_from_maps(maps[0].numpy(), maps[1].numpy(), brain.numpy())
        return scale_percentiles(image)[None].float(), torch.from_numpy(labels.astype(np.int64))[None]


def _gaussian(x: torch.Tensor, sigmas) -> torch.Tensor:
    """Separable Gaussian blur of a (1, 1, X, Y, Z) tensor, ``sigmas`` in voxels per axis."""
    for axis, s in enumerate(sigmas):
        if s <= 0.05:
            continue
        radius = max(1, int(np.ceil(3 * s)))
        t = torch.arange(-radius, radius + 1, dtype=torch.float32)
        k = torch.exp(-0.5 * (t / s) ** 2)
        k = k / k.sum()
        shape = [1, 1, 1, 1, 1]
        shape[2 + axis] = k.numel()
        pad = [0] * 6
        pad[2 * (2 - axis)] = pad[2 * (2 - axis) + 1] = radius
        x = F.conv3d(F.pad(x, pad, mode="replicate"), k.view(shape))
    return x


def scale_percentiles(image: torch.Tensor) -> torch.Tensor:
    """The bundle's normalisation: 0.5th-99.5th percentile to 0-1, clipped.

    Same as MONAI's ``ScaleIntensityRangePercentiles(0.5, 99.5, 0, 1, clip=True)`` in
    the bundle's ``configs/inference.json``.
    """
    from monai.transforms import ScaleIntensityRangePercentiles

    return torch.as_tensor(ScaleIntensityRangePercentiles(0.5, 99.5, 0.0, 1.0, clip=True)(image))
