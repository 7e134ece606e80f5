"""SAM-family interactive segmentation: LiteMedSAM (default, offline), MedSAM, SAM ViT-B/L/H.

Flow: ``build_network`` (verified weights) -> ``SamPredictor`` (embed a slice, decode
box prompts, embeddings cached) -> ``SamSession`` (a windowed volume sliced along any
axis) -> ``InteractiveSession`` (one structure: boxes, corrective clicks and strokes on
any slice, propagation that stops where the structure ends). ``segment_box_3d`` drives
it for the CLI and the demo.
"""

from importlib import import_module

_EXPORTS = {
    "EmbeddingCache": "embedding_cache",
    "stack_signature": "embedding_cache",
    "choose_mapping": "intensity",
    "to_uint8": "intensity",
    "SamNetwork": "networks",
    "build_network": "networks",
    "SamPredictor": "predictor",
    "Extent": "propagation",
    "PropagationCancelled": "propagation",
    "SlicePrompt": "propagation",
    "propagate": "propagation",
    "SamSession": "session",
    "load_predictor": "volume_prompts",
    "box_prompt": "volume_prompts",
    "segment_box_3d": "volume_prompts",
    "Change": "interactive",
    "InteractiveSession": "interactive",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    """Import submodules on first use: the package itself stays free of torch."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
