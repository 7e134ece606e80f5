"""Segmentation models: MONAI bundles and checkpoints (automatic), SAM family (prompted).

Automatic segmentation goes through :func:`napari_medseg.models.segment.segment_volume`;
what can be picked is listed by :func:`napari_medseg.models.registry.available_models`.
Submodules are imported on use, so importing this package stays cheap.
"""
