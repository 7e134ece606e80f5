"""LiteMedSAM: our predictor against the official inference steps run naively.

Naive = LiteMedSAM's official per-slice steps as published (3 channels, cv2 INTER_AREA,
min-max, pad, PyTorch encoder under ``no_grad``, decoder, crop + bilinear), one slice at a
time, no cache, no batching. Ours = ``napari_medseg.models.sam`` (encoder through ONNX
Runtime on the CPU, ``inference_mode``, embeddings cached). Measurements alternate between
the two so a busy machine slows both alike; medians are printed with their ratios.

Run: ``.venv/bin/python benchmarks/bench_sam.py [--device cpu|cuda] [--repeats 3] [--threads N]``
Uses the sample CT series (``sample_data/ct_phantom``, 40 x 160 x 160, organ on 22 slices).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from napari_medseg.io import read_volume
from napari_medseg.models.sam import SamSession, SlicePrompt, load_predictor
from napari_medseg.models.sam.propagation import Extent, default_margin, mask_box
from napari_medseg.samples import sample_dir

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from test_sam_model import official_decode, official_embed  # noqa: E402  the official steps, as the tests pin them


def official_propagate(net, stack_u8, mid: int, first: int, last: int, box, device) -> np.ndarray:
    """The official 3D loop: middle slice from the box, then each slice from the previous mask's box."""
    out = np.zeros(stack_u8.shape, np.uint8)
    margin = default_margin(stack_u8.shape[1:])
    for step, stop in ((1, last), (-1, first)):
        z = mid if step == 1 else mid - 1
        while (z <= stop) if step == 1 else (z >= stop):
            prompt = box if z == mid else mask_box(out[z - step] > 0, margin)
            if prompt is None:
                break
            embedding, new_size = official_embed(net, stack_u8[z], device)
            out[z] = official_decode(net, embedding, new_size, stack_u8.shape[1:], prompt)
            z += step
    return out


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def dice(a, b) -> float:
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    return 2.0 * (a & b).sum() / max(a.sum() + b.sum(), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch / ONNX Runtime threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    volume = read_volume(sample_dir() / "ct_phantom")
    organ = read_volume(sample_dir() / "ct_phantom_organ.nii.gz").array > 0
    predictor = load_predictor("litemedsam", device=args.device)
    net = predictor.network
    session = SamSession(predictor, volume.array)
    stack = session.stack(0)
    zs = np.flatnonzero(organ.any(axis=(1, 2)))
    first, last, mid = int(zs[0]), int(zs[-1]), int(zs[len(zs) // 2])
    rows, cols = np.nonzero(organ[mid])
    box = (int(cols.min()), int(rows.min()), int(cols.max()), int(rows.max()))
    geo = predictor.transform.geometry(*stack.shape[1:])
    print(
        f"device {device}, torch threads {torch.get_num_threads()}, encoder backend "
        f"{type(predictor.encoder).__name__}, volume {volume.shape}, organ slices {first}..{last}"
    )

    # warm both paths once
    official_decode(net, *official_embed(net, stack[mid], device), stack.shape[1:], box)
    predictor.embed([stack[mid]])

    naive_embed, naive_decode, our_embed, our_embed_batched, our_decode, our_update = [], [], [], [], [], []
    for r in range(args.repeats):
        z = first + r % (last - first + 1)
        t, (emb, new_size) = timed(lambda: official_embed(net, stack[z], device))
        naive_embed.append(t)
        naive_decode.append(timed(lambda: official_decode(net, emb, new_size, stack.shape[1:], box))[0])
        t, (ours,) = timed(lambda: predictor.embed([stack[z]]))
        our_embed.append(t)
        batch = [stack[min(z + i, last)] for i in range(predictor.batch_size)]
        our_embed_batched.append(timed(lambda: predictor.embed(batch))[0] / len(batch))
        our_decode.append(timed(lambda: predictor.predict_with(ours, geo, box))[0])
        key = session.key_function(0)(mid)
        session.segment_slice(0, SlicePrompt(mid, box))  # cache the embedding
        assert predictor.is_cached(key)
        for shrink in (0, 2, 4):
            shrunk = (box[0] + shrink, box[1] + shrink, box[2] - shrink, box[3] - shrink)
            our_update.append(timed(lambda: session.segment_slice(0, SlicePrompt(mid, shrunk)))[0])

    med = statistics.median
    naive_slice = med(naive_embed) + med(naive_decode)
    ours_slice = med(our_embed) + med(our_decode)
    print(f"per slice (median of {args.repeats}):")
    print(
        f"  embedding   naive {med(naive_embed):.3f} s | ours {med(our_embed):.3f} s "
        f"(batch of {predictor.batch_size}: {med(our_embed_batched):.3f} s/slice) | "
        f"ratio {med(our_embed) / med(naive_embed):.2f}"
    )
    print(
        f"  decoding    naive {med(naive_decode):.3f} s | ours {med(our_decode):.3f} s | "
        f"ratio {med(our_decode) / med(naive_decode):.2f}"
    )
    print(
        f"  slice total naive {naive_slice:.3f} s | ours {ours_slice:.3f} s | ratio {ours_slice / naive_slice:.2f} "
        f"(target <= 0.5)"
    )
    print(
        f"prompt update with cached embedding: median {med(our_update) * 1000:.0f} ms, max "
        f"{max(our_update) * 1000:.0f} ms over {len(our_update)} (target < 150 ms); naive re-runs the whole slice: "
        f"{naive_slice * 1000:.0f} ms"
    )

    extent = Extent(first, last, box=None)
    t_naive, naive_mask = timed(lambda: official_propagate(net, stack, mid, first, last, box, device))
    predictor.cache.clear()
    t_ours, our_mask = timed(lambda: session.propagate(0, [SlicePrompt(mid, box)], extent))
    print(
        f"propagation over slices {first}..{last} ({last - first + 1}), cold cache: naive {t_naive:.1f} s | "
        f"ours {t_ours:.1f} s | ratio {t_ours / t_naive:.2f}"
    )
    print(
        f"  Dice to the organ truth: naive {dice(naive_mask, organ):.3f} | ours {dice(our_mask, organ):.3f}; "
        f"ours vs naive {dice(our_mask, naive_mask):.3f}"
    )


if __name__ == "__main__":
    main()
