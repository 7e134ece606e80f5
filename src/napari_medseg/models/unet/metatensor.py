"""Volume <-> MetaTensor: what MONAI's ``LoadImaged`` would give for the volume's file, and back.

A :class:`~.pipeline.Pipeline`'s transforms work on MONAI dictionaries whose image is a
``MetaTensor`` in the volume's *file* voxel order with a RAS affine, exactly what
``LoadImaged`` would give for the file, so that a bundle's
``Orientationd``/``Spacingd``/``Invertd`` behave as in ``python -m monai.bundle run``.
The predicted labels come back on the volume's (z, y, x) grid.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ...errors import MedsegError
from ...volume import Volume

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def ras_file_affine(volume: Volume) -> np.ndarray:
    """RAS affine (NIfTI convention) of the volume's file voxel order."""
    return _LPS_TO_RAS @ volume.file_affine


def volume_to_metatensor(volume: Volume, dtype: torch.dtype = torch.float32, channel_first: bool = False):
    """The MetaTensor ``LoadImaged`` (NibabelReader) would give for the volume's file.

    The array is in the source file's voxel order (the inverse of the reordering done
    on read) and the affine is RAS, so MONAI transforms see what they would see when
    loading the file themselves.

    Parameters
    ----------
    volume : Volume
    dtype : torch.dtype
        Voxel type after loading (``LoadImaged``'s ``dtype``, float32 by default).
    channel_first : bool
        Add a leading channel axis (``LoadImaged(ensure_channel_first=True)``).

    Returns
    -------
    monai.data.MetaTensor of shape ``file_shape`` (or ``(1, *file_shape)``).
    """
    import nibabel as nib
    from monai.data import MetaTensor
    from monai.data.image_reader import NibabelReader
    from monai.transforms import EnsureChannelFirst

    image = nib.Nifti1Image(np.asarray(volume.to_file_order()), ras_file_affine(volume))  # a view, for the header
    reader = NibabelReader()
    reader.filenames = [str(volume.meta.get("path", "volume"))]  # what read() would have recorded
    _, meta = reader.get_data(image)
    meta["filename_or_obj"] = reader.filenames[0]
    # LoadImaged converts the type, then copies to C order; the same values in one pass
    tensor = MetaTensor.ensure_torch_and_prune_meta(file_order_tensor(volume, dtype), meta)
    if channel_first:
        tensor = EnsureChannelFirst()(tensor)
    return tensor


def labels_on_volume_grid(pred, volume: Volume) -> np.ndarray:
    """Label map in the volume's (z, y, x) order from a channel-first prediction.

    ``pred`` is ``(1, *file_shape)`` in file voxel order (after ``Invertd``). When the
    model's transforms could not invert (no ``Invertd``), the prediction is resampled
    back to the input grid with nearest neighbour from its own affine.

    Returns
    -------
    ndarray, shape ``volume.shape``, smallest unsigned integer dtype.
    """
    from ...volume import smallest_label_dtype

    pred = _back_on_file_grid(pred, volume)
    labels = torch.as_tensor(pred.as_tensor() if hasattr(pred, "as_tensor") else pred).detach().cpu()
    if labels.ndim == 4:
        if labels.shape[0] != 1:
            raise MedsegError(
                f"the model returned {labels.shape[0]} channels after post-processing; expected a label map"
            )
        labels = labels[0]
    if labels.is_floating_point():
        labels = torch.round(labels)
    lo, hi = (int(v) for v in torch.aminmax(labels)) if labels.numel() else (0, 0)
    if lo < 0:
        raise MedsegError(f"the model returned negative labels ({lo})")
    dtype = getattr(torch, smallest_label_dtype(np.array([lo, hi])).name)
    order = volume.file_order
    if order.flips:  # flip the small type (torch.flip copies)
        labels = labels.to(dtype).flip(order.flips)
    return contiguous_copy(labels.permute(order.perm), dtype).numpy()


def file_order_tensor(volume: Volume, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The volume's voxels in its file's voxel order, as a C-contiguous tensor of ``dtype``.

    Reordering and type conversion are one pass (torch copies a permuted array about twice
    as fast as numpy on two cores); file axes that were flipped on reading take one more.
    """
    array = volume.array
    if any(stride < 0 for stride in array.strides):
        array = np.ascontiguousarray(array)
    order = volume.file_order
    with warnings.catch_warnings():  # a read-only array (e.g. a memory map) is only read here
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        source = torch.from_numpy(array)
    tensor = contiguous_copy(source.permute(tuple(int(a) for a in np.argsort(order.perm))), dtype)
    return tensor.flip(order.flips) if order.flips else tensor


def contiguous_copy(tensor: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A new C-contiguous tensor of ``dtype`` with ``tensor``'s values (any strides), in one pass."""
    return torch.empty(tensor.shape, dtype=dtype).copy_(tensor)


def _back_on_file_grid(pred, volume: Volume):
    if tuple(pred.shape[-3:]) == tuple(volume.file_shape):
        return pred
    from monai.data import MetaTensor
    from monai.transforms import SpatialResample

    if not isinstance(pred, MetaTensor):
        raise MedsegError(
            f"the model returned a {tuple(pred.shape[-3:])} grid without geometry; cannot put it back on the "
            f"input grid {volume.file_shape}"
        )
    back = SpatialResample(mode="nearest", padding_mode="zeros")(
        pred.float(), dst_affine=torch.as_tensor(ras_file_affine(volume)), spatial_size=volume.file_shape
    )
    return back
