"""Sampling grids for axis-aligned resampling, built by broadcasting instead of a matrix product.

MONAI's ``Spacingd`` and its inverse in ``Invertd`` resample through
``torch.nn.functional.affine_grid`` + ``grid_sample``. On the CPU, ``affine_grid`` multiplies
a (D*H*W, 4) base grid by the 4x3 transform, in float64 by default: 1.1-2.6 s for a
512 x 512 x 120 output, more than the interpolation itself. When the transform has no
rotation or shear (``Orientationd`` followed by ``Spacingd`` on a non-oblique image: the
model zoo's usual recipe), each grid coordinate depends on one output axis only, and
:func:`axis_aligned_affine_grid` computes it as ``base * scale + offset`` on a 1D vector
and broadcasts it: 5x faster, and equal bit for bit to ``affine_grid`` here (the products
by zero in the matrix product add nothing; ``tests/test_unet_fast_paths.py`` checks the
equality), so the bundle's labels do not change.

:func:`axis_aligned_grids` makes MONAI use it while a pipeline runs, in the running thread
only, without replacing torch's function (two runs at once in two threads, or other code
calling ``affine_grid`` meanwhile, are unaffected); any other transform (rotations, 2D, CUDA)
goes to ``affine_grid`` unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F

_LOCK = threading.Lock()
_THREAD = threading.local()  # .depth: how many axis_aligned_grids() this thread is inside


def base_coordinates(n: int, dtype: torch.dtype, align_corners: bool) -> torch.Tensor:
    """Normalised voxel centres along one axis, as ``affine_grid`` places them.

    Returns
    -------
    (n,) tensor in [-1, 1] (``align_corners=True``) or ``[-1 + 1/n, 1 - 1/n]``.
    """
    coords = torch.linspace(-1, 1, n, dtype=dtype)
    return coords if align_corners else coords * (n - 1) / n


def axis_aligned_affine_grid(
    theta: torch.Tensor, size: Sequence[int], align_corners: bool = False
) -> torch.Tensor | None:
    """``F.affine_grid(theta, size, align_corners)`` for a 3D transform without rotation.

    Parameters
    ----------
    theta : (N, 3, 4) float tensor on the CPU; normalised coordinates (x, y, z) = (W, H, D).
    size : (N, C, D, H, W)
    align_corners : bool

    Returns
    -------
    (N, D, H, W, 3) tensor, or None when ``theta`` rotates or shears (or is not a CPU 3D
    transform), for the caller to use ``affine_grid`` instead.
    """
    size = [int(s) for s in size]
    if (
        len(size) != 5
        or theta.dim() != 3
        or tuple(theta.shape[1:]) != (3, 4)
        or theta.device.type != "cpu"
        or not theta.is_floating_point()
        or theta.requires_grad
    ):
        return None
    linear = theta[:, :, :3]
    if bool((linear - torch.diag_embed(torch.diagonal(linear, dim1=1, dim2=2))).any()):
        return None
    n, _, depth, height, width = size
    grid = torch.empty(n, depth, height, width, 3, dtype=theta.dtype)
    for b in range(n):
        for axis, length, shape in ((0, width, (1, 1, -1)), (1, height, (1, -1, 1)), (2, depth, (-1, 1, 1))):
            line = base_coordinates(length, theta.dtype, bool(align_corners)) * theta[b, axis, axis] + theta[b, axis, 3]
            grid[b, ..., axis] = line.reshape(shape)
    return grid


class _Functional:
    """``torch.nn.functional`` as MONAI's resampling sees it: ``affine_grid`` is ours in threads
    inside :func:`axis_aligned_grids`, torch's everywhere else; every other name is torch's."""

    def __getattr__(self, name: str):
        return getattr(F, name)

    @staticmethod
    def affine_grid(theta, size, align_corners=None):
        if getattr(_THREAD, "depth", 0):
            grid = axis_aligned_affine_grid(theta, size, bool(align_corners))
            if grid is not None:
                return grid
        return F.affine_grid(theta, size, align_corners=align_corners)


class _TorchNN:
    """``torch.nn`` with :class:`_Functional` as its ``functional``, for MONAI's spatial_transforms module."""

    functional = _Functional()

    def __getattr__(self, name: str):
        return getattr(torch.nn, name)


def _route_monai_resampling() -> None:
    """Let MONAI's ``AffineTransform`` (behind ``Spacingd`` and ``Invertd``) look up ``affine_grid``
    through :class:`_TorchNN` (once per process). Torch itself is never patched, and MONAI behaves
    as before in every thread that is not inside :func:`axis_aligned_grids`."""
    from monai.networks.layers import spatial_transforms

    with _LOCK:
        if not isinstance(spatial_transforms.nn, _TorchNN):
            spatial_transforms.nn = _TorchNN()  # type: ignore[assignment]  # MONAI types it as torch.nn


@contextmanager
def axis_aligned_grids() -> Iterator[None]:
    """While inside, in this thread only, MONAI's resampling builds rotation-free 3D grids by
    broadcasting (:func:`axis_aligned_affine_grid`); other transforms go to torch's ``affine_grid``.

    ``torch.nn.functional.affine_grid`` is never replaced: other threads, other libraries and
    user code calling it see torch's own function. Nested uses are fine.
    """
    _route_monai_resampling()
    _THREAD.depth = getattr(_THREAD, "depth", 0) + 1
    try:
        yield
    finally:
        _THREAD.depth -= 1
