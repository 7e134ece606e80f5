"""``medseg gui``: napari with the plugin's widgets docked and the sample data at work.

The sample brain MRI opens with its reference tissue labels and is segmented by the
shipped ``brain-tissue`` U-Net; the sample CT opens (hidden, toggle its eye to see it)
with a LiteMedSAM result propagated from one box. Both models run in worker threads.
"""

from __future__ import annotations

PLUGIN = "napari-medseg"
WIDGETS = ("Segment (U-Net)", "Interactive SAM", "Evaluate")


def add_parser(sub) -> None:
    p = sub.add_parser("gui", help="open napari with the plugin's widgets and the sample data")
    p.add_argument("--no-sample", action="store_true", help="start without the sample data")
    p.add_argument(
        "--screenshot", help="save a screenshot of the window to this PNG once the models are done, and exit"
    )
    p.set_defaults(func=run)


UNET_LAYER = "tissue (brain-tissue U-Net)"


def add_sample_result(viewer, result, evaluate=None) -> None:
    """Show one of the sample workers' results: ``("unet", volume, SegmentationResult)`` or
    ``("sam", ct volume, mask)``. The U-Net's labels come in the model's names and colours and
    stay the selected layer (the docks' label tables and Save follow it)."""
    from .._napari.layers import image_layer_data, labels_layer_kwargs

    kind, volume, out = result
    if kind == "unet":
        layer = viewer.add_labels(out.labels, **labels_layer_kwargs(volume, UNET_LAYER, out.label_names, out.colours))
        if evaluate is not None:  # ready to score the U-Net against the reference in one click
            evaluate.reset_choices()
            evaluate.pred.value = layer
            evaluate.ref.value = viewer.layers["tissue (reference)"]
    else:
        data, kwargs, _ = image_layer_data(volume, "CT phantom")
        viewer.add_image(data, visible=False, **kwargs)
        viewer.add_labels(out, visible=False, **labels_layer_kwargs(volume, "organ (LiteMedSAM box)", {1: "organ"}))
    if UNET_LAYER in viewer.layers:
        viewer.layers.selection.active = viewer.layers[UNET_LAYER]


def _segment_samples(viewer, evaluate=None):
    """Start the U-Net on the sample MRI and LiteMedSAM on the sample CT; return the worker."""
    from napari.qt.threading import thread_worker

    from ..demo import BOX_MARGIN_VOXELS, box_around
    from ..io import read_volume
    from ..library_warnings import quiet_library_warnings
    from ..models.sam import segment_box_3d
    from ..models.segment import segment_volume
    from ..samples import ct_phantom_paths, load_brain_mri

    @thread_worker
    def work():
        quiet_library_warnings()  # in the worker's thread, where napari would show each as a notification
        t1, _ = load_brain_mri()
        seg = segment_volume(t1, "brain-tissue")
        yield ("unet", t1, seg)
        folder, truth_path = ct_phantom_paths()
        ct = read_volume(folder)
        box = box_around(read_volume(truth_path).array > 0, BOX_MARGIN_VOXELS)
        yield ("sam", ct, segment_box_3d(ct, box, slice_axis=0, model="litemedsam"))

    worker = work()
    worker.yielded.connect(lambda result: add_sample_result(viewer, result, evaluate))
    return worker


def open_viewer(load_sample: bool = True):
    """A napari viewer with the plugin's widgets docked (and the sample data, by default).

    Returns the viewer and the worker segmenting the samples (None without samples).
    """
    import napari
    from napari.utils.notifications import show_error, show_info

    viewer = napari.Viewer(title="napari-medseg")
    viewer.window.resize(1500, 900)
    from ..models.triton_guard import keep_triton_out_beside_mesa_llvm

    keep_triton_out_beside_mesa_llvm()  # the canvas has mapped Mesa's LLVM now; Triton's would crash beside it
    docked = {}
    for name in WIDGETS:
        try:
            _, docked[name] = viewer.window.add_plugin_dock_widget(PLUGIN, name, tabify=True)
        except Exception as exc:  # a widget that fails to build must not stop the others
            show_error(f"{name}: could not open ({exc})")
    if not load_sample:
        return viewer, None
    viewer.open_sample(PLUGIN, "brain_mri")
    show_info("segmenting the sample MRI (brain-tissue U-Net) and the sample CT (LiteMedSAM) in the background")
    worker = _segment_samples(viewer, docked.get("Evaluate"))
    worker.errored.connect(lambda exc: show_error(f"sample segmentation failed: {exc}"))
    worker.start()
    return viewer, worker


def run(args) -> int:
    import napari

    viewer, worker = open_viewer(load_sample=not args.no_sample)
    if args.screenshot:
        from qtpy.QtCore import QTimer

        def shoot():
            viewer.screenshot(args.screenshot, canvas_only=False)
            viewer.close()

        if worker is None:
            QTimer.singleShot(1000, shoot)
        else:
            worker.finished.connect(lambda: QTimer.singleShot(500, shoot))
    napari.run()
    return 0
