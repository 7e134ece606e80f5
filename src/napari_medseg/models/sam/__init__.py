"""SAM-family interactive segmentation: LiteMedSAM (default, offline), MedSAM, SAM ViT-B/L/H.

Flow: ``build_network`` (verified weights) -> ``SamPredictor`` (embed a slice, predict
from prompts, embeddings cached) -> ``SamSession`` (a windowed volume sliced along any
axis) -> ``propagate`` (3D). ``segment_box_3d`` does all of it for a box on a Volume.
"""
from .embedding_cache import EmbeddingCache, stack_signature
from .intensity import WINDOWS, choose_mapping, looks_like_ct, to_uint8
from .networks import SAM_TYPES, SamNetwork, build_network, resolve_device
from .predictor import SamPredictor
from .propagation import Extent, PropagationCancelled, SlicePrompt, propagate
from .session import SamSession
from .volume_prompts import load_predictor, prompts_from_box, segment_box_3d

__all__ = [
    "SAM_TYPES", "WINDOWS", "EmbeddingCache", "Extent", "PropagationCancelled", "SamNetwork", "SamPredictor",
    "SamSession", "SlicePrompt", "build_network", "choose_mapping", "load_predictor", "looks_like_ct",
    "prompts_from_box", "propagate", "resolve_device", "segment_box_3d", "stack_signature", "to_uint8",
]
