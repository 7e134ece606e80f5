"""Simulated user correcting LiteMedSAM: our interactive session against the behaviour before it.

Protocol (RITM / SAM / SAM-Med): the box is the truth's bounding box on a slice, each side
jittered by 0-3 px; then 10 clicks (up to 20 while Dice < 0.9, for NoC), each at the interior point farthest from the
border of the largest error region (positive in a false negative region, negative in a
false positive one). 2D: on the slices at 30 %, 50 % and 70 % of each structure's extent.
3D: the box on the middle slice propagated through the whole volume (the default range),
then corrections, each one click on the slice whose mask is worst (most wrong voxels).

* **ours**: ``InteractiveSession`` (``corrections.apply_click``; propagation that stops
  where the structure ends; corrections carried to the neighbouring slices).
* **before**: what the code did before (re-implemented here, compact): every click decoded
  from scratch with the box (``masks=None``), a click alone as a point prompt; propagation
  until the mask vanishes; a 3D click re-prompts only its own slice and becomes a new seed
  that the other slices propagate from.

Cases: ``interactive_cases.py`` (synthetic CT organs, MNI deep structures, the sample CT).
No model was trained or tuned on them. Run:
``.venv/bin/python benchmarks/bench_interactive.py [--ct-volumes 8] [--families ct_organs,mni_deep,sample_ct]``
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from interactive_cases import ct_organs, mni_deep, sample_ct  # noqa: E402

from napari_medseg.models.sam import InteractiveSession, load_predictor  # noqa: E402
from napari_medseg.models.sam.propagation import default_margin, mask_box  # noqa: E402
from napari_medseg.models.sam.simulated_user import next_click  # noqa: E402

CLICKS = 10
NOC_CAP = 20


def dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int((a & b).sum()) / total


def jittered_box(truth2d: np.ndarray, rng) -> tuple:
    h, w = truth2d.shape
    box = np.array(mask_box(truth2d), float) + rng.integers(-3, 4, 4)
    return tuple(np.clip(box, 0, [w - 1, h - 1, w - 1, h - 1]))


# ---- the behaviour before this work, compact -----------------------------------------------------
def before_decode(predictor, embedding, geo, box, clicks):
    points = np.array([[x, y] for x, y, _ in clicks]) if clicks else None
    labels = np.array([int(i) for _, _, i in clicks]) if clicks else None
    return predictor.predict_with(embedding, geo, box, points, labels)


def before_propagate(predictor, stack, seeds: dict, keys) -> np.ndarray:
    """Seeds: index -> (box, clicks); each seed fills towards the next, until the mask vanishes."""
    n, h, w = stack.shape
    geo, margin = predictor.transform.geometry(h, w), default_margin((h, w))
    out, distance = np.zeros((n, h, w), bool), np.full(n, 10**9)
    indices = sorted(seeds)
    for k, seed in enumerate(indices):
        low = 0 if k == 0 else indices[k - 1] + 1
        high = n - 1 if k == len(indices) - 1 else indices[k + 1] - 1
        box, clicks = seeds[seed]
        own = (
            before_decode(predictor, predictor.embed([stack[seed]], [keys(seed)])[0], geo, box, clicks)
            if (box is not None or clicks)
            else np.zeros((h, w), bool)
        )
        out[seed], distance[seed] = own, 0
        for step, stop in ((1, high), (-1, low)):
            previous, z = own, seed + step
            while (z <= stop) if step == 1 else (z >= stop):
                b = mask_box(previous, margin)
                if b is None:
                    break
                mask = predictor.predict_with(predictor.embed([stack[z]], [keys(z)])[0], geo, b)
                if abs(z - seed) < distance[z]:
                    out[z], distance[z] = mask, abs(z - seed)
                previous, z = mask, z + step
    return out


# ---- protocols ------------------------------------------------------------------------------------
def run_2d(predictor, session, truth, rng, record):
    stack = session.volume.stack(0)
    zs = np.flatnonzero(truth.any(axis=(1, 2)))
    for q in (0.3, 0.5, 0.7):
        z = int(zs[int(q * (len(zs) - 1))])
        gt = truth[z]
        embedding = predictor.embed([stack[z]], [session.volume.key_function(0)(z)])[0]
        geo = predictor.transform.geometry(*gt.shape)
        box = jittered_box(gt, rng)
        for method in ("ours", "before"):
            session.set_target(None)
            if method == "ours":
                session.add_box(0, z, box)
                mask = session.mask[z].copy()
            else:
                mask = before_decode(predictor, embedding, geo, box, [])
            clicks, curve, times = [], [dice(mask, gt)], []
            for n in range(NOC_CAP):
                click = next_click(mask, gt)
                if click is None or (n >= CLICKS and curve[-1] >= 0.9):  # NoC@90 known, Dice@10 recorded
                    curve.append(curve[-1])
                    continue
                clicks.append(click)
                start = time.perf_counter()
                if method == "ours":
                    session.add_click(0, z, *click, carry=False)
                    mask = session.mask[z].copy()
                else:
                    mask = before_decode(predictor, embedding, geo, box, clicks)
                times.append(time.perf_counter() - start)
                curve.append(dice(mask, gt))
            record[method]["curves"].append(curve)
            record[method]["click_s"].extend(times)
        # a click alone
        click = next_click(np.zeros_like(gt), gt)
        session.set_target(None)
        session.add_click(0, z, *click, carry=False)
        record["ours"]["alone"].append(dice(session.mask[z], gt))
        record["before"]["alone"].append(dice(before_decode(predictor, embedding, geo, None, [click]), gt))


def worst_slice(pred: np.ndarray, truth: np.ndarray) -> int:
    return int(np.argmax((pred ^ truth).sum(axis=(1, 2))))


def run_3d(predictor, session, truth, rng, record):
    zs = np.flatnonzero(truth.any(axis=(1, 2)))
    mid = int(zs[len(zs) // 2])
    box = jittered_box(truth[mid], rng)
    stack, keys = session.volume.stack(0), session.volume.key_function(0)
    # ours
    session.set_target(None)
    start = time.perf_counter()
    session.add_box(0, mid, box, propagate=True)
    record["ours"]["propagate_s"].append(time.perf_counter() - start)
    curve = [dice(session.mask, truth)]
    outside = [int(session.mask[: zs[0]].sum() + session.mask[zs[-1] + 1 :].sum())]
    for _ in range(5):
        z = worst_slice(session.mask, truth)
        click = next_click(session.mask[z], truth[z])
        if click is not None:
            start = time.perf_counter()
            session.add_click(0, z, *click)
            record["ours"]["correct_s"].append(time.perf_counter() - start)
        curve.append(dice(session.mask, truth))
    record["ours"]["curves3d"].append(curve)
    record["ours"]["outside"].append(outside[0])
    # before
    seeds = {mid: (box, [])}
    start = time.perf_counter()
    mask = before_propagate(predictor, stack, seeds, keys)
    record["before"]["propagate_s"].append(time.perf_counter() - start)
    curve = [dice(mask, truth)]
    record["before"]["outside"].append(int(mask[: zs[0]].sum() + mask[zs[-1] + 1 :].sum()))
    for _ in range(5):
        z = worst_slice(mask, truth)
        click = next_click(mask[z], truth[z])
        if click is not None:
            box_z, clicks = seeds.get(z, (None, []))
            seeds[z] = (box_z, clicks + [click])
            mask = before_propagate(predictor, stack, seeds, keys)
        curve.append(dice(mask, truth))
    record["before"]["curves3d"].append(curve)


def noc(curve, threshold):
    hits = [k for k, d in enumerate(curve) if d >= threshold]
    return hits[0] if hits else NOC_CAP


def report(family: str, record: dict) -> None:
    print(f"\n## {family}: {len(record['ours']['curves3d'])} structures, {len(record['ours']['curves'])} slices")
    print(
        "| method | Dice after 0 / 1 / 3 / 5 / 10 clicks | box < 0.9: 0 -> 5 clicks | NoC@85 | NoC@90 "
        "| click alone | 3D Dice after 0 / 1 / 3 / 5 corrections | voxels outside the true slices |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for method in ("before", "ours"):
        r = record[method]
        curves = np.array(r["curves"])
        low = curves[:, 0] < 0.9
        lows = f"{curves[low, 0].mean():.3f} -> {curves[low, 5].mean():.3f} (n={low.sum()})" if low.any() else "n=0"
        c3 = np.array(r["curves3d"])
        print(
            f"| {method} | {' / '.join(f'{curves[:, k].mean():.3f}' for k in (0, 1, 3, 5, 10))} | {lows} "
            f"| {np.mean([noc(c, 0.85) for c in curves]):.2f} | {np.mean([noc(c, 0.90) for c in curves]):.2f} "
            f"| {np.mean(r['alone']):.3f} | {' / '.join(f'{c3[:, k].mean():.3f}' for k in (0, 1, 3, 5))} "
            f"| {int(np.sum(r['outside']))} |"
        )
    ours = np.array(record["ours"]["curves"])
    drops = [ours[:, k].mean() - ours[:, k - 1].mean() for k in range(1, CLICKS + 1)]
    c3 = np.array(record["ours"]["curves3d"])
    print(
        f"ours: worst change of the mean Dice from one click to the next {min(drops):+.4f} (target >= -0.005); "
        f"3D Dice raised by 3 corrections on {np.mean(c3[:, 3] > c3[:, 0]) * 100:.0f} % of structures"
    )
    for method in ("before", "ours"):
        r = record[method]
        timing = f"propagation median {np.median(r['propagate_s']):.2f} s"
        if r["correct_s"]:
            timing += f", 3D correction median {np.median(r['correct_s']):.2f} s (max {np.max(r['correct_s']):.2f} s)"
        if r["click_s"]:
            timing += f", 2D click median {np.median(r['click_s']) * 1000:.0f} ms"
        print(f"{method}: {timing}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ct-volumes", type=int, default=8)
    parser.add_argument("--families", default="ct_organs,mni_deep,sample_ct")
    args = parser.parse_args()
    families = {"ct_organs": lambda: ct_organs(args.ct_volumes), "mni_deep": mni_deep, "sample_ct": sample_ct}
    predictor = load_predictor("litemedsam", device="cpu")
    rng = np.random.default_rng(20261201)
    started = time.perf_counter()
    for family in args.families.split(","):
        record = {m: defaultdict(list) for m in ("ours", "before")}
        session, image_id = None, None
        for _, name, image, truth in families[family]():
            if session is None or image_id != id(image):
                session, image_id = InteractiveSession(predictor, image), id(image)
                session.embed(0, range(image.shape[0]))
            run_2d(predictor, session, truth, rng, record)
            run_3d(predictor, session, truth, rng, record)
            o, b = record["ours"], record["before"]
            print(
                f"  {family}/{name}: 2D 0->5 clicks ours {np.mean([c[5] for c in o['curves'][-3:]]):.3f} "
                f"before {np.mean([c[5] for c in b['curves'][-3:]]):.3f}; 3D 0->3 corrections ours "
                f"{o['curves3d'][-1][0]:.3f}->{o['curves3d'][-1][3]:.3f} before "
                f"{b['curves3d'][-1][0]:.3f}->{b['curves3d'][-1][3]:.3f}",
                flush=True,
            )
        report(family, record)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
