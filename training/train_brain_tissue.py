"""Train the shipped ``brain-tissue`` 3D U-Net (1 grey matter, 2 white matter) on the MNI template.

Data: the MNI ICBM152 2009 (sym, release a) T1 template and its grey/white-matter
probability maps, as shipped by nilearn (1 mm, skull-stripped). Targets follow the
sample's rule, :func:`napari_medseg.samples.brain_tissue_labels` (argmax of rest/GM/WM).

One subject only, so augmentation carries the generalisation:

* resolution: the T1 is pre-resampled to 2 mm from 1, 1.5, 2 (block average) and 3 mm
  grids (what ``Spacingd`` does to such acquisitions), plus random low-resolution
  simulation and Gaussian blur;
* space: random rotation (+-17 deg), scale (+-15 %), translation and elastic deformation
  (MONAI ``Rand3DElasticd``), applied to the T1 and the probability maps together so the
  targets stay exact;
* intensity: bias field, gamma, histogram shift, contrast inversion, Gaussian noise;
  then the bundle's own normalisation (z-score of non-zero voxels).

The network definition is read from the bundle's ``configs/inference.json`` so training
and inference cannot disagree. Seeded; on a shared 2-core CPU the default 1200
iterations took 54 min here beside four busy processes (1 s per iteration when quiet).

Run::

    .venv/bin/python training/train_brain_tissue.py            # writes the bundle's models/model.pt
    .venv/bin/python training/train_brain_tissue.py --iterations 20 --out /tmp/m.pt   # smoke test
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import nibabel as nib
import nilearn
import numpy as np
import torch
from monai.bundle import ConfigParser
from monai.inferers import sliding_window_inference
from monai.losses import DiceCELoss
from monai.transforms import (
    NormalizeIntensity,
    Rand3DElasticd,
    RandAdjustContrast,
    RandBiasField,
    RandGaussianNoise,
    RandGaussianSmooth,
    RandHistogramShift,
    RandSimulateLowResolution,
    RandSpatialCropd,
)
from monai.utils import set_determinism
from nibabel.processing import resample_from_to

from napari_medseg.samples import brain_mri_paths, brain_tissue_labels

BUNDLE = Path(__file__).resolve().parents[1] / "src" / "napari_medseg" / "models" / "bundles" / "brain_tissue"
MNI = str(Path(nilearn.__file__).parent / "datasets" / "data" / "mni_icbm152_{}_tal_nlin_sym_09a_converted.nii.gz")
PATCH = (64, 64, 64)


def network_from_bundle():
    """The U-Net exactly as the bundle's ``network_def`` builds it."""
    parser = ConfigParser()
    parser.read_config(BUNDLE / "configs" / "inference.json")
    return parser.get_parsed_content("network_def")


def grid_2mm() -> tuple[tuple[int, int, int], np.ndarray]:
    """The sample's 2 mm grid (shape, RAS affine): the grid the network works on."""
    img = nib.load(brain_mri_paths()[0])
    return img.shape, img.affine


def _resampled(img: nib.Nifti1Image, voxel_mm: float, offset_mm: float) -> nib.Nifti1Image:
    """``img`` resampled (linear) to an isotropic ``voxel_mm`` grid over the same field of view."""
    shape = tuple(int(np.ceil(s / voxel_mm)) for s in img.shape)
    affine = img.affine.copy()
    affine[:3, :3] = np.diag([voxel_mm] * 3)
    affine[:3, 3] = img.affine[:3, 3] + offset_mm
    return resample_from_to(img, (shape, affine), order=1)


def training_inputs() -> tuple[list[np.ndarray], np.ndarray]:
    """T1 variants on the 2 mm grid (one per simulated acquisition) and the GM/WM maps.

    Returns
    -------
    t1s : list of (X, Y, Z) float32 arrays, RAS voxel order, 2 mm
    probs : (2, X, Y, Z) float32, grey and white matter probabilities in [0, 1]
    """
    target = grid_2mm()
    t1 = nib.load(MNI.format("t1"))
    t1 = nib.Nifti1Image(np.asanyarray(t1.dataobj).astype(np.float32), t1.affine)
    t1s = [resample_from_to(t1, target, order=1).get_fdata(dtype=np.float32)]  # block average, as the sample
    for voxel_mm, offset in ((1.0, 0.0), (1.5, 0.25), (3.0, 1.0), (2.5, 0.5)):
        acquired = t1 if voxel_mm == 1.0 else _resampled(t1, voxel_mm, offset)
        t1s.append(resample_from_to(acquired, target, order=1).get_fdata(dtype=np.float32))
    probs = np.stack(
        [
            resample_from_to(nib.load(MNI.format(k)), target, order=1).get_fdata(dtype=np.float32) / 255.0
            for k in ("gm", "wm")
        ]
    )
    for t in t1s:
        t[t < 1e-3] = 0.0  # keep the skull-stripped background exactly zero
    return t1s, probs


class Augment:
    """Random patch + spatial + intensity augmentation of one (T1, GM, WM) stack.

    Call with a ``(3, X, Y, Z)`` float32 array (T1, GM prob, WM prob); returns the
    normalised image ``(1, *PATCH)`` and labels ``(1, *PATCH)`` (0/1/2, int64).
    """

    def __init__(self, seed: int):
        self.rng = np.random.RandomState(seed)
        self.spatial = Rand3DElasticd(
            keys="stack",
            sigma_range=(6, 9),
            magnitude_range=(40, 160),
            prob=1.0,
            rotate_range=(0.3, 0.3, 0.3),
            scale_range=(0.15, 0.15, 0.15),
            translate_range=(14, 18, 12),
            spatial_size=PATCH,
            mode="bilinear",
            padding_mode="zeros",
        )
        self.crop = RandSpatialCropd(keys="stack", roi_size=PATCH, random_size=False)
        self.intensity = [
            RandBiasField(prob=0.5, coeff_range=(0.2, 0.6)),
            RandAdjustContrast(prob=0.5, gamma=(0.5, 2.0)),
            RandHistogramShift(prob=0.3, num_control_points=(5, 10)),
            RandSimulateLowResolution(prob=0.25, zoom_range=(0.4, 1.0)),
            RandGaussianSmooth(prob=0.2, sigma_x=(0.3, 1.0), sigma_y=(0.3, 1.0), sigma_z=(0.3, 1.0)),
        ]
        self.noise = RandGaussianNoise(prob=0.5, mean=0.0, std=0.06)
        self.normalise = NormalizeIntensity(nonzero=True)
        for i, t in enumerate([self.spatial, self.crop, *self.intensity, self.noise]):
            t.set_random_state(seed + 1 + i)

    def __call__(self, stack: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        d = {"stack": torch.as_tensor(stack)}
        d = self.spatial(d) if self.rng.rand() < 0.8 else self.crop(d)
        out = torch.as_tensor(d["stack"]).float()
        image, gm, wm = out[:1], out[1], out[2]
        labels = torch.from_numpy(brain_tissue_labels(gm.numpy(), wm.numpy())).long()[None]
        mask = image > 1e-3
        image = image / image.max().clamp(min=1e-6)
        for t in self.intensity:
            image = torch.as_tensor(t(image)).float()
        if self.rng.rand() < 0.15:  # inverted contrast (T2-like): bright CSF, dark white matter
            image = 1.2 - image / image[mask].max().clamp(min=1e-6) if mask.any() else image
        image = torch.as_tensor(self.noise(image)).float()
        image = torch.where(mask, image.clamp(min=1e-3), torch.zeros_like(image))  # background stays zero
        return torch.as_tensor(self.normalise(image)).float(), labels


def sample_dice(net, device) -> dict[str, float]:
    """Dice per tissue on the shipped 2 mm sample (the bundle's preprocessing: z-score of non-zero)."""
    t1_path, labels_path = brain_mri_paths()
    t1 = torch.from_numpy(nib.load(t1_path).get_fdata(dtype=np.float32))[None, None]
    truth = np.asanyarray(nib.load(labels_path).dataobj)
    x = NormalizeIntensity(nonzero=True)(t1[0]).float()[None].to(device)
    net.eval()
    with torch.no_grad():
        pred = sliding_window_inference(x, (96, 96, 96), 1, net, overlap=0.25).argmax(1)[0].cpu().numpy()
    net.train()
    return {
        name: float(2 * ((pred == k) & (truth == k)).sum() / ((pred == k).sum() + (truth == k).sum()))
        for k, name in ((1, "grey matter"), (2, "white matter"))
    }


def save_atomic(state: dict, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=1200)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=20261124)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--save-every", type=int, default=100)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--out", type=Path, default=BUNDLE / "models" / "model.pt")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    set_determinism(seed=args.seed)
    device = torch.device("cpu")
    t1s, probs = training_inputs()
    stacks = [np.concatenate([t[None], probs]).astype(np.float32) for t in t1s]
    augment = Augment(args.seed)
    pick = np.random.RandomState(args.seed + 99)

    net = network_from_bundle().to(device)
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-5)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.iterations, pct_start=0.05)
    print(
        json.dumps(
            {
                "parameters": sum(p.numel() for p in net.parameters()),
                "variants": len(stacks),
                "iterations": args.iterations,
                "batch": args.batch,
                "patch": PATCH,
            }
        ),
        flush=True,
    )
    start, running = time.time(), []
    for it in range(1, args.iterations + 1):
        pairs = [augment(stacks[pick.randint(len(stacks))]) for _ in range(args.batch)]
        x = torch.stack([p[0] for p in pairs]).to(device)
        y = torch.stack([p[1] for p in pairs]).to(device)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        sched.step()
        running.append(float(loss))
        if it % 25 == 0:
            print(
                f"it {it} loss {np.mean(running):.4f} lr {sched.get_last_lr()[0]:.2e} "
                f"elapsed {time.time() - start:.0f}s",
                flush=True,
            )
            running = []
        if it % args.save_every == 0 or it == args.iterations:
            save_atomic(net.state_dict(), args.out)
        if it % args.eval_every == 0 or it == args.iterations:
            print(f"it {it} sample dice {json.dumps(sample_dice(net, device))}", flush=True)
    print(f"done in {time.time() - start:.0f}s -> {args.out}", flush=True)


if __name__ == "__main__":
    main()
