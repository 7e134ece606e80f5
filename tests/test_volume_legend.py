"""The volume legend: each label's colour, name and volume in ml, recounted after every edit."""

from __future__ import annotations

import numpy as np
import pandas as pd

from napari_medseg._napari.layers import label_colours, label_names_from_features
from napari_medseg._napari.volume_legend import VolumeLegend, legend_html


def test_legend_html_shows_names_when_known_and_escapes_them():
    html = legend_html({1: 12.34, 2: 0.0, 7: 1.006}, {1: "grey matter", 2: "white <matter>"}, {1: "#ff0000"})
    first, second, third = html.split("<br>")
    assert "color:#ff0000" in first and first.endswith("1 grey matter: 12.3 ml")
    assert second.endswith("2 white &lt;matter&gt;: 0.00 ml")
    assert third.endswith("7: 1.01 ml")  # no name: the value alone; two decimals below 10 ml


def test_label_names_follow_the_index_column_or_the_row_number():
    features = pd.DataFrame({"index": [0, 2, 5], "name": ["background", "liver", "spleen"]})
    assert label_names_from_features(features) == {0: "background", 2: "liver", 5: "spleen"}
    assert label_names_from_features(pd.DataFrame({"name": ["background", "organ"]})) == {0: "background", 1: "organ"}
    assert label_names_from_features(pd.DataFrame()) == {}


def test_legend_follows_paint_undo_and_removal_of_its_layer(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    data = np.zeros((10, 20, 30), np.uint16)
    data[2:4, 5:10, 5:15] = 3  # 100 voxels of label 3
    layer = viewer.add_labels(data, scale=(2.0, 0.5, 0.5), units="mm")  # 0.5 mm^3 voxels
    legend = VolumeLegend(viewer)
    legend.follow(layer)
    assert legend.value.endswith("3: 0.05 ml") and "<br>" not in legend.value  # 100 x 0.5 mm^3
    assert label_colours(layer.colormap, [3])[3] in legend.value
    layer.data_setitem((np.repeat(0, 400), np.repeat(np.arange(20), 20), np.tile(np.arange(20), 20)), 5)
    qtbot.waitUntil(lambda: "5: 0.20 ml" in legend.value, timeout=5_000)  # 400 voxels painted
    layer.undo()
    qtbot.waitUntil(lambda: "5:" not in legend.value, timeout=5_000)
    legend.follow(layer, labels=[3, 4])  # listed even when absent
    assert legend.value.split("<br>")[1].endswith("4: 0.00 ml")
    viewer.layers.remove(layer)
    assert legend.value == "" and legend.layer is None
