"""A uint8 slice to a SAM-family model input, prompts to its frame, logits back to a mask.

Each checkpoint family is fed the way it was trained:

* **LiteMedSAM** (256): grey -> 3 channels, longest side resized to 256 with area
  interpolation (OpenCV ``INTER_AREA``), min-max to [0, 1], zero-padded bottom/right to
  256x256; boxes scaled by ``256 / max(H, W)`` and truncated to integers; logits cropped to
  the resized size, bilinear back to HxW, ``sigmoid > 0.5``.
* **MedSAM** (1024): squashed to 1024x1024 (cubic, anti-aliased), min-max; boxes scaled per
  axis; ``sigmoid`` of the 256x256 logits resized bilinearly to HxW, ``> 0.5``.
* **SAM ViT-B/L/H** (1024): Meta's ``ResizeLongestSide`` and pixel mean/std, padded;
  logits upscaled to 1024, cropped, resized to HxW, ``> 0``.

Slices are (rows, columns) = (H, W) arrays; boxes are ``(x0, y0, x1, y1)`` and points
``(x, y)`` in pixel indices of the slice (x = column), as SAM takes them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["SliceGeometry", "SliceTransform", "resize_longest_side_area"]

_SAM_MEAN = np.array([123.675, 116.28, 103.53], np.float32)
_SAM_STD = np.array([58.395, 57.12, 57.375], np.float32)


@dataclass(frozen=True)
class SliceGeometry:
    """Sizes that link a slice to the model frame.

    ``(height, width)`` of the slice; ``(new_height, new_width)`` of its resized image
    inside the ``input_size`` square model frame (before padding).
    """

    height: int
    width: int
    new_height: int
    new_width: int
    input_size: int


def resize_longest_side_area(slice_u8: np.ndarray, target: int = 256) -> np.ndarray:
    """Resize a (H, W) uint8 slice so its longest side is ``target`` (OpenCV INTER_AREA).

    The new size is ``round_half_up(H * s), round_half_up(W * s)`` with ``s = target / max(H, W)``.
    """
    import cv2

    h, w = slice_u8.shape[:2]
    scale = target / max(h, w)
    new_h, new_w = int(h * scale + 0.5), int(w * scale + 0.5)
    return cv2.resize(np.ascontiguousarray(slice_u8), (new_w, new_h), interpolation=cv2.INTER_AREA)


def _minmax(image: np.ndarray) -> np.ndarray:
    image = image.astype(np.float32)
    low = image.min()
    return (image - low) / np.clip(image.max() - low, 1e-8, None)


class SliceTransform:
    """Pre- and post-processing of one SAM family (``sam_type``) for slices of any size.

    Parameters
    ----------
    sam_type : str
        ``"litemedsam"``, ``"medsam"``, ``"vit_b"``, ``"vit_l"`` or ``"vit_h"``.
    input_size : int
        The square side of the model input (256 or 1024).
    """

    def __init__(self, sam_type: str, input_size: int):
        self.sam_type = sam_type
        self.input_size = input_size
        self.keeps_aspect = sam_type != "medsam"

    @property
    def name(self) -> str:
        """Identifies this preprocessing in embedding-cache keys."""
        return f"{self.sam_type}-{self.input_size}-v1"

    def geometry(self, height: int, width: int) -> SliceGeometry:
        """Where a (height, width) slice lands in the model frame."""
        s = self.input_size
        if not self.keeps_aspect:
            return SliceGeometry(height, width, s, s, s)
        scale = s / max(height, width)
        return SliceGeometry(height, width, int(height * scale + 0.5), int(width * scale + 0.5), s)

    def image(self, slice_u8: np.ndarray) -> tuple[np.ndarray, SliceGeometry]:
        """The (3, S, S) float32 model input of a (H, W) uint8 slice, and its geometry."""
        h, w = slice_u8.shape
        geo = self.geometry(h, w)
        s = self.input_size
        if self.sam_type == "litemedsam":
            grey = _minmax(resize_longest_side_area(slice_u8, s))
        elif self.sam_type == "medsam":
            from skimage.transform import resize

            grey = resize(slice_u8, (s, s), order=3, preserve_range=True, anti_aliasing=True).astype(np.uint8)
            grey = _minmax(grey)
        else:
            from segment_anything.utils.transforms import ResizeLongestSide

            rgb = ResizeLongestSide(s).apply_image(np.repeat(slice_u8[:, :, None], 3, axis=2))
            rgb = (rgb.astype(np.float32) - _SAM_MEAN) / _SAM_STD
            out = np.zeros((3, s, s), np.float32)
            out[:, : rgb.shape[0], : rgb.shape[1]] = rgb.transpose(2, 0, 1)
            return out, geo
        out = np.zeros((3, s, s), np.float32)
        out[:, : grey.shape[0], : grey.shape[1]] = grey
        return out, geo

    def box(self, box_xyxy, geo: SliceGeometry) -> np.ndarray:
        """A slice box ``(x0, y0, x1, y1)`` in the model frame, shape (4,) float32."""
        box = np.asarray(box_xyxy, np.float64).reshape(4)
        if self.sam_type == "litemedsam":  # the official script truncates to integers
            return np.trunc(box * (self.input_size / max(geo.height, geo.width))).astype(np.float32)
        return (box * np.tile(self._xy_scale(geo), 2)).astype(np.float32)

    def points(self, points_xy, geo: SliceGeometry) -> np.ndarray:
        """Slice points (N, 2) ``(x, y)`` in the model frame, float32."""
        return (np.asarray(points_xy, np.float64).reshape(-1, 2) * self._xy_scale(geo)).astype(np.float32)

    def _xy_scale(self, geo: SliceGeometry) -> np.ndarray:
        if self.keeps_aspect:
            s = self.input_size / max(geo.height, geo.width)
            return np.array([s, s])
        return np.array([self.input_size / geo.width, self.input_size / geo.height])

    def masks(self, low_res_logits: torch.Tensor, geo: SliceGeometry) -> torch.Tensor:
        """(B, 1, s, s) low-resolution logits to (B, H, W) bool masks on the slice grid."""
        size = (geo.height, geo.width)
        if self.sam_type == "litemedsam":  # its decoder's logits are 256x256: the model frame
            crop = low_res_logits[..., : geo.new_height, : geo.new_width]
            up = F.interpolate(crop, size=size, mode="bilinear", align_corners=False)
            return (torch.sigmoid(up) > 0.5)[:, 0]
        if self.sam_type == "medsam":
            prob = torch.sigmoid(low_res_logits)
            return (F.interpolate(prob, size=size, mode="bilinear", align_corners=False) > 0.5)[:, 0]
        s = self.input_size
        up = F.interpolate(low_res_logits, (s, s), mode="bilinear", align_corners=False)
        up = up[..., : geo.new_height, : geo.new_width]
        return (F.interpolate(up, size=size, mode="bilinear", align_corners=False) > 0)[:, 0]
