"""Where a network runs: one meaning of ``"auto"`` for every model (CUDA, then Apple MPS, then CPU)."""

from __future__ import annotations

import torch

from ..errors import MedsegError
from .registry import DEVICES

__all__ = ["DEVICES", "resolve_device"]


def _has_mps() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def resolve_device(requested: str | torch.device | None = "auto") -> torch.device:
    """The torch device for ``"auto"`` / ``"cpu"`` / ``"cuda"`` / ``"mps"`` (or a ``torch.device``).

    ``"auto"`` (or None) picks CUDA when available, then Apple MPS, then the CPU. A device
    that is absent on this machine is a user error, not a silent fallback.

    Raises
    ------
    MedsegError
        Unknown name, or CUDA / MPS requested but not available.
    """
    if isinstance(requested, torch.device):
        requested = str(requested)
    name = (requested or "auto").lower()
    kind = name.split(":")[0]  # "cuda:1" -> "cuda"
    if kind == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if _has_mps() else "cpu")
    if kind not in DEVICES:
        raise MedsegError(f"unknown device {requested!r}; choose one of {', '.join(DEVICES)}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise MedsegError("--device cuda: no CUDA GPU is available on this machine; use --device auto or cpu")
    if kind == "mps" and not _has_mps():
        raise MedsegError("--device mps: Apple MPS is not available on this machine; use --device auto or cpu")
    return torch.device(name)
