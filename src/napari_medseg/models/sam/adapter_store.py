"""Adapters on disk: ``ADAPTER_DIR/decoder.pt`` (a state dict) and ``ADAPTER_DIR/adapter.json`` (its card).

The weights are loaded with ``torch.load(weights_only=True)`` (:func:`..weights.load_state_dict`)
and must match the SHA-256 the card records; a card whose base model hash differs from the
model it is loaded for is refused. Adapters the GUI makes are saved under
:func:`default_adapter_folder` (``<cache root>/adapters``), which ``medseg models`` lists.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ...cache import cache_root
from ...errors import MedsegError
from ...io.atomic import atomic_path
from ..weights import CheckpointError, file_sha256, load_state_dict
from .adapter import Adapter

__all__ = [
    "CARD",
    "WEIGHTS",
    "default_adapter_folder",
    "is_adapter",
    "list_adapters",
    "load_adapter",
    "read_card",
    "save_adapter",
]

WEIGHTS, CARD = "decoder.pt", "adapter.json"
_REQUIRED = ("base_model", "base_sha256", "label", "weights_sha256")


def default_adapter_folder() -> Path:
    """Where saved adapters are kept and listed by default: ``<cache root>/adapters``."""
    return cache_root() / "adapters"


def is_adapter(path: str | Path) -> bool:
    """True when ``path`` is a folder holding an adapter card and weights."""
    path = Path(path)
    return (path / CARD).is_file() and (path / WEIGHTS).is_file()


def save_adapter(adapter: Adapter, directory: str | Path) -> Path:
    """Write ``decoder.pt`` and ``adapter.json`` into ``directory`` (created; each file atomically).

    The card gains ``weights_sha256`` (of ``decoder.pt``) so a changed file is refused on load.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise MedsegError(f"{directory}: exists and is not a folder; choose a folder for the adapter")
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(directory / WEIGHTS) as tmp:
        torch.save(adapter.state, tmp)
    adapter.card["weights_sha256"] = file_sha256(directory / WEIGHTS)
    with atomic_path(directory / CARD) as tmp:
        Path(tmp).write_text(json.dumps(adapter.card, indent=2) + "\n")
    return directory


def read_card(directory: str | Path) -> dict:
    """The adapter card of ``directory`` (JSON only; loads no weights).

    Raises
    ------
    MedsegError
        No card, unreadable JSON, or a field missing.
    """
    path = Path(directory) / CARD
    if not path.is_file():
        raise MedsegError(f"{directory}: not an adapter folder (no {CARD}); make one with `medseg adapt`")
    try:
        card = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise MedsegError(f"{path}: not a readable adapter card ({exc})") from None
    missing = [k for k in _REQUIRED if not isinstance(card, dict) or k not in card]
    if missing:
        raise MedsegError(f"{path}: the adapter card lacks {', '.join(missing)}")
    return card


def load_adapter(directory: str | Path, base_sha256: str | None = None) -> Adapter:
    """Load the adapter in ``directory``, checking its weights and, given ``base_sha256``, its base model.

    Raises
    ------
    MedsegError
        Card or weights missing or altered (SHA-256 differs from the card's), or the adapter
        was trained on another base model than ``base_sha256``.
    """
    directory = Path(directory)
    card = read_card(directory)
    if base_sha256 is not None and card["base_sha256"] != base_sha256:
        raise MedsegError(
            f"{directory}: this adapter was trained on {card['base_model']} with SHA-256 "
            f"{str(card['base_sha256'])[:12]}..., not on the model in use ({base_sha256[:12]}...); "
            "adapt again from that model"
        )
    weights = directory / WEIGHTS
    if not weights.is_file():
        raise CheckpointError(f"{weights}: adapter weights not found")
    if file_sha256(weights) != card["weights_sha256"]:
        raise CheckpointError(f"{weights}: SHA-256 differs from the one in {CARD}: the weights were changed")
    state = load_state_dict(weights)
    if not state or not all(k.startswith(("mask_decoder.", "prompt_encoder.")) for k in state):
        raise CheckpointError(f"{weights}: holds weights other than a SAM decoder's")
    return Adapter(state, card)


def list_adapters(folder: str | Path | None = None) -> list[tuple[Path, dict]]:
    """``(folder, card)`` of every adapter directly inside ``folder`` (default :func:`default_adapter_folder`),
    sorted by name; a folder whose card cannot be read comes with ``{"error": message}`` instead."""
    folder = Path(folder) if folder is not None else default_adapter_folder()
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(p for p in folder.iterdir() if is_adapter(p)):
        try:
            found.append((path, read_card(path)))
        except MedsegError as exc:
            found.append((path, {"error": str(exc)}))
    return found
