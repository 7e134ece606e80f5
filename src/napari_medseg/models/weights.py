"""Loading a state dict into a network safely (``weights_only=True``), with user-facing errors."""
from __future__ import annotations

from pathlib import Path

import torch

from ..errors import MedsegError

_NESTED_KEYS = ("model", "state_dict", "network")


def load_weights(network: torch.nn.Module, path: Path, described_as: str) -> torch.nn.Module:
    """Load the weights at ``path`` into ``network`` and return it.

    ``torch.load(weights_only=True)`` refuses pickled code; a state dict nested under
    ``model``, ``state_dict`` or ``network`` (as training scripts save them) is unwrapped.
    ``described_as`` names the architecture in the error when the shapes do not fit.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # missing/truncated file, pickle payloads refused by weights_only
        raise MedsegError(f"{path}: cannot load the weights safely ({type(exc).__name__}: {exc})") from None
    for key in _NESTED_KEYS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    try:
        network.load_state_dict(state)
    except RuntimeError as exc:
        raise MedsegError(f"{path}: weights do not fit {described_as}: {str(exc).splitlines()[0]}") from None
    return network
