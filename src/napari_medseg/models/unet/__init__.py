"""3D U-Nets (any MONAI network) run by a sliding window: automatic segmentation.

* :mod:`.bundle` -- MONAI bundles in the model zoo's layout -> :class:`~.pipeline.Pipeline`;
* :mod:`.checkpoint_description` -- a network described by a JSON/YAML file plus a state dict;
* :mod:`.trust` -- which bundles may run their config code;
* :mod:`.zoo` -- fetching bundles from the MONAI model zoo;
* :mod:`.pipeline` -- a model ready to run (network, transforms, inferer, labels);
* :mod:`.metatensor` -- Volume <-> the MetaTensor ``LoadImaged`` would give, and labels back;
* :mod:`.inference` -- running a pipeline: devices, GPU memory fallback, progress, cancel;
* :mod:`.resample_grid` -- axis-aligned sampling grids (MONAI's, without the matrix product);
* :mod:`.onnx_network` -- the sliding window's batches through ONNX Runtime on the CPU.
"""
