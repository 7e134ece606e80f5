"""Segmentation models, one module per concept (as in MONAI).

* :mod:`.registry` -- the names that can be picked: models and their kinds, SAM
  architectures, devices (imports no torch);
* :mod:`.segment` -- the one entry point for automatic segmentation
  (:func:`~.segment.segment_volume`);
* :mod:`.weights` -- finding, verifying (SHA-256) and loading weights (``weights_only``);
* :mod:`.devices` -- one meaning of ``"auto"`` for every model;
* :mod:`.onnx_runtime` -- ONNX Runtime export and sessions on the CPU (``NAPARI_MEDSEG_ONNX=0``
  switches it off);
* :mod:`.triton_guard` -- keeping Triton out beside Mesa's LLVM inside napari;
* :mod:`.unet` -- MONAI bundles and checkpoints run by a sliding window (automatic);
* :mod:`.sam` -- the SAM family (prompted).

Submodules are imported on use, so importing this package stays cheap.
"""
