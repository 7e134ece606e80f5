"""The napari session `make run` opens (`medseg gui`), run for real in a child process.

A child process, because a crash there (e.g. Triton's LLVM loaded beside Mesa's) must fail
this test rather than kill the test run.
"""

import os
import subprocess
import sys

import pytest


@pytest.mark.gui
@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs an X display (run under xvfb-run)")
def test_gui_session_segments_the_samples_and_screenshots(tmp_path):
    shot = tmp_path / "gui.png"
    code = "import sys; from napari_medseg.cli import main; sys.exit(main(['gui', '--screenshot', sys.argv[1]]))"
    proc = subprocess.run([sys.executable, "-c", code, str(shot)], capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "could not open" not in proc.stderr and "failed" not in proc.stderr
    # library deprecations raised in the model workers never reach the user as notifications
    assert "FutureWarning" not in proc.stderr and "deprecated" not in proc.stderr, proc.stderr[-2000:]
    from PIL import Image

    assert Image.open(shot).size[0] >= 1000


@pytest.mark.gui
def test_the_unet_result_shows_in_the_models_colours_and_stays_selected(make_napari_viewer):
    """After both sample results arrive, the U-Net's labels carry the model's colours and names,
    and it is the selected layer (not the hidden SAM result added after it)."""
    from types import SimpleNamespace

    import numpy as np
    from napari.utils.colormaps.standardize_color import transform_color

    from napari_medseg.cli.gui import UNET_LAYER, add_sample_result
    from napari_medseg.samples import load_brain_mri

    viewer = make_napari_viewer()
    t1, truth = load_brain_mri()
    colours = {1: "#e6194b", 2: "#3cb44b", 3: "#4363d8"}
    names = {1: "grey matter", 2: "white matter", 3: "CSF"}
    add_sample_result(viewer, ("unet", t1, SimpleNamespace(labels=truth.array, label_names=names, colours=colours)))
    add_sample_result(viewer, ("sam", t1, (truth.array == 2).astype(np.uint8)))
    layer = viewer.layers[UNET_LAYER]
    assert viewer.layers.selection.active is layer
    for value, colour in colours.items():
        np.testing.assert_allclose(layer.colormap.map(value)[:3], transform_color(colour)[0][:3], atol=1e-6)
    assert list(layer.features["name"]) == ["background", *names.values()]
