"""Train the shipped ``brain-tissue`` 3D U-Net (1 grey matter, 2 white matter, 3 CSF) from label maps.

SynthSeg-style domain randomisation (Billot et al., Medical Image Analysis 2023): every
training image is drawn from the MNI ICBM152 2009 template's tissue maps with a random
warp, random tissue intensities (any contrast), skull and scalp of random thickness,
blur, slice thickness, bias field, gamma and noise (:mod:`synthetic_heads`). The network
never sees the template's own T1, so the held-out variants of
``training/evaluate_brain_tissue.py`` (built from that T1 and its contrast-remapped
versions) measure generalisation from synthetic images to real intensities.

The network definition and the input normalisation are read from the bundle's
``configs/inference.json`` so training and inference cannot disagree. Seeded; CPU only.

Run (the shipped weights: five stages, 2 mm then the bundle's 1.5 mm grid; see the bundle's README)::

    .venv/bin/python training/train_brain_tissue.py --out stage1.pt
    .venv/bin/python training/train_brain_tissue.py --init stage1.pt --iterations 2500 --lr 5e-4 \\
        --spread-mm 60 --seed 20261202 --out stage2.pt
    .venv/bin/python training/train_brain_tissue.py --init stage2.pt --iterations 1500 --lr 2e-4 \\
        --spread-mm 60 --seed 20261203 --out stage3.pt
    .venv/bin/python training/train_brain_tissue.py --init stage3.pt --iterations 2500 --lr 3e-4 \\
        --spread-mm 60 --seed 20261204 --voxel-mm 1.5 --out stage4.pt
    .venv/bin/python training/train_brain_tissue.py --init stage4.pt --iterations 2000 --lr 1.5e-4 \\
        --spread-mm 60 --seed 20261205 --voxel-mm 1.5          # writes the bundle's models/model.pt
    .venv/bin/python training/train_brain_tissue.py --iterations 20 --out /tmp/m.pt   # smoke test
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from monai.bundle import ConfigParser
from monai.inferers import sliding_window_inference
from monai.losses import DiceCELoss
from monai.utils import set_determinism
from synthetic_heads import HeadSynth, scale_percentiles

from napari_medseg.samples import brain_mri_paths

BUNDLE = Path(__file__).resolve().parents[1] / "src" / "napari_medseg" / "models" / "bundles" / "brain_tissue"


def network_from_bundle():
    """The U-Net exactly as the bundle's ``network_def`` builds it."""
    parser = ConfigParser()
    parser.read_config(BUNDLE / "configs" / "inference.json")
    return parser.get_parsed_content("network_def")


def sample_dice(net) -> dict[str, float]:
    """Grey/white Dice on the shipped sample at its own 2 mm (skull-stripped T1), the bundle's normalisation.

    A progress check only: a network trained on another grid is measured at the bundle's
    spacing by ``evaluate_brain_tissue.py``.
    """
    t1_path, labels_path = brain_mri_paths()
    t1 = torch.from_numpy(nib.load(t1_path).get_fdata(dtype=np.float32))[None]
    truth = np.asanyarray(nib.load(labels_path).dataobj)
    x = scale_percentiles(t1).float()[None]
    net.eval()
    with torch.no_grad():
        pred = sliding_window_inference(x, (96, 96, 96), 1, net, overlap=0.25).argmax(1)[0].numpy()
    net.train()
    return {
        name: round(float(2 * ((pred == k) & (truth == k)).sum() / ((pred == k).sum() + (truth == k).sum())), 4)
        for k, name in ((1, "grey matter"), (2, "white matter"))
    }


def save_atomic(state: dict, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=6000)
    ap.add_argument("--patch", type=int, default=64, help="cubic patch edge, voxels of --voxel-mm")
    ap.add_argument(
        "--voxel-mm", type=float, default=2.0, help="training grid (mm): 2 in stages 1-3, the bundle's 1.5 in 4-5"
    )
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20261201)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--save-every", type=int, default=50)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--spread-mm", type=float, default=18.0, help="patch centres within this of the brain's centre")
    ap.add_argument("--init", type=Path, help="start from these weights (the second stage)")
    ap.add_argument("--out", type=Path, default=BUNDLE / "models" / "model.pt")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    set_determinism(seed=args.seed)
    synth = HeadSynth(patch=args.patch, seed=args.seed, voxel_mm=args.voxel_mm, spread_mm=args.spread_mm)
    net = network_from_bundle()
    if args.init:
        net.load_state_dict(torch.load(args.init, weights_only=True))
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-5)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.iterations, pct_start=0.05)
    print(
        json.dumps(
            {
                "parameters": sum(p.numel() for p in net.parameters()),
                "iterations": args.iterations,
                "patch": args.patch,
                "batch": args.batch,
                "seed": args.seed,
                "spread_mm": args.spread_mm,
                "voxel_mm": args.voxel_mm,
                "init": str(args.init) if args.init else None,
            }
        ),
        flush=True,
    )
    start, running = time.time(), []
    for it in range(1, args.iterations + 1):
        pairs = [synth.sample() for _ in range(args.batch)]
        x, y = torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        sched.step()
        running.append(float(loss.detach()))
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
            print(f"it {it} sample dice {json.dumps(sample_dice(net))}", flush=True)
    print(f"done in {time.time() - start:.0f}s -> {args.out}", flush=True)


if __name__ == "__main__":
    main()
