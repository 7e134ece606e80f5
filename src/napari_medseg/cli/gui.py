"""``medseg gui``: napari with the plugin's widgets docked and the sample data loaded."""
from __future__ import annotations

PLUGIN = "napari-medseg"
WIDGETS = ("Segment (U-Net)", "Interactive SAM", "Evaluate")


def add_parser(sub) -> None:
    p = sub.add_parser("gui", help="open napari with the plugin's widgets and the sample brain MRI")
    p.add_argument("--no-sample", action="store_true", help="start without the sample data")
    p.add_argument("--screenshot", help="save a screenshot of the window to this PNG and exit")
    p.set_defaults(func=run)


def open_viewer(load_sample: bool = True):
    """A napari viewer with the plugin's widgets docked (and the sample MRI, by default)."""
    import napari
    from napari.utils.notifications import show_warning

    viewer = napari.Viewer(title="napari-medseg")
    if load_sample:
        viewer.open_sample(PLUGIN, "brain_mri")
    for name in WIDGETS:
        try:
            viewer.window.add_plugin_dock_widget(PLUGIN, name, tabify=True)
        except Exception as exc:  # a widget that fails to build must not stop the others
            show_warning(f"{name}: could not open ({exc})")
    return viewer


def run(args) -> int:
    import napari

    viewer = open_viewer(load_sample=not args.no_sample)
    viewer.window.resize(1500, 900)
    if args.screenshot:
        from qtpy.QtWidgets import QApplication

        for _ in range(20):
            QApplication.processEvents()
        viewer.screenshot(args.screenshot, canvas_only=False)
        viewer.close()
        return 0
    napari.run()
    return 0
