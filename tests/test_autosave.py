"""Autosave: recovery snapshots of painted labels, on their image's grid, and restoring them in napari."""

from __future__ import annotations

import json
import time

import nibabel as nib
import numpy as np

from napari_medseg.autosave import discard, list_snapshots, load_snapshot, prune, save_snapshot
from napari_medseg.io import read_volume
from napari_medseg.samples import brain_mri_paths

PLUGIN = "napari-medseg"


def flipped_copy(tmp_path):
    """The sample MRI stored with flipped axes: file order differs from the package's order."""
    img = nib.load(brain_mri_paths()[0])
    flip = np.diag([-1.0, 1.0, -1.0, 1.0])
    flip[:3, 3] = [img.shape[0] - 1, 0, img.shape[2] - 1]
    path = tmp_path / "t1_flipped.nii.gz"
    nib.save(nib.Nifti1Image(np.asanyarray(img.dataobj)[::-1, :, ::-1].copy(), img.affine @ flip), path)
    return path


def test_a_snapshot_keeps_labels_on_the_image_grid_one_per_layer(tmp_path):
    image = read_volume(flipped_copy(tmp_path))
    labels = np.zeros(image.shape, np.uint8)
    labels[30:40, 50:60, 20:30] = 2
    first = save_snapshot(labels, image, "tumour / edited", {2: "tumour"}, folder=tmp_path / "snaps")
    labels[31, 51, 21] = 0
    second = save_snapshot(labels, image, "tumour / edited", {2: "tumour"}, folder=tmp_path / "snaps")
    (listed,) = list_snapshots(image, folder=tmp_path / "snaps")  # replaced, not piled up
    assert listed.path == first.path == second.path and listed.label_names == {2: "tumour"}
    assert listed.layer == "tumour / edited" and listed.source == str(image.meta["path"])
    restored = load_snapshot(listed)
    assert restored.same_grid(image)
    np.testing.assert_array_equal(restored.array, labels)
    assert np.array_equal(nib.load(listed.path).affine, nib.load(image.meta["path"]).affine)  # source file order
    other = read_volume(brain_mri_paths()[0])
    assert list_snapshots(other, folder=tmp_path / "snaps") == []
    discard(listed)
    assert list_snapshots(folder=tmp_path / "snaps") == []


def test_old_snapshots_are_pruned_and_broken_sidecars_ignored(tmp_path):
    image = read_volume(brain_mri_paths()[0])
    folder = tmp_path / "snaps"
    old = save_snapshot(np.zeros(image.shape, np.uint8), image, "old", folder=folder)
    new = save_snapshot(np.zeros(image.shape, np.uint8), image, "new", folder=folder)
    sidecar = old.path.with_name(old.path.name.replace(".nii.gz", ".json"))
    info = json.loads(sidecar.read_text())
    info["saved_at"] -= 15 * 86400
    sidecar.write_text(json.dumps(info))
    (folder / "junk.json").write_text("{not json")
    assert prune(14, folder=folder) == 1
    assert [s.layer for s in list_snapshots(folder=folder)] == [new.layer]
    assert not old.path.exists()


def test_painting_in_napari_is_snapshotted_and_restores_on_the_image(make_napari_viewer, qtbot, tmp_path, monkeypatch):
    import napari_medseg._napari.autosave as autosave_napari

    monkeypatch.setattr(autosave_napari, "DELAY_S", 0.2)
    path = flipped_copy(tmp_path)
    viewer = make_napari_viewer()
    (image,) = viewer.open(str(path), plugin=PLUGIN)  # the reader starts autosave for this viewer
    watcher = autosave_napari.ensure_autosave(viewer)
    labels = viewer.add_labels(
        np.zeros(image.data.shape, np.uint8), name="lesion", affine=image.affine, units=image.units
    )
    labels.paint((40, 50, 30), 3)  # a brush stroke
    qtbot.waitUntil(lambda: bool(watcher.saved) and watcher.worker is None, timeout=30_000)
    (snapshot,) = list_snapshots()
    assert snapshot.layer == "lesion"
    np.testing.assert_array_equal(load_snapshot(snapshot).array, labels.data)
    assert autosave_napari.recovery_note(read_volume(path), "t1").startswith("t1: 1 autosaved label map(s)")

    recover = autosave_napari.RecoverWidget(viewer)
    restored = recover.restore()
    assert restored.name == "lesion (recovered)" and recover.status.startswith("restored lesion")
    np.testing.assert_array_equal(restored.data, labels.data)
    np.testing.assert_allclose(restored.affine.affine_matrix, image.affine.affine_matrix)
    recover.discard()
    assert list_snapshots() == []


def _labels_on_sample(viewer, name="lesion"):
    (image,) = viewer.open(str(brain_mri_paths()[0]), plugin=PLUGIN)
    return viewer.add_labels(np.zeros(image.data.shape, np.uint8), name=name, affine=image.affine, units=image.units)


def test_continuous_strokes_are_snapshotted_within_the_longest_wait(make_napari_viewer, qtbot):
    """Scaled down from strokes every 5 s, a 15 s pause and a 60 s deadline: the quiet period never comes."""
    from napari_medseg._napari.autosave import AutosaveWatcher

    viewer = make_napari_viewer()
    labels = _labels_on_sample(viewer)
    watcher = AutosaveWatcher(viewer, delay_s=0.3, max_wait_s=1.2)
    start = time.time()
    for k in range(30):  # a stroke every 0.1 s for 3 s
        labels.paint((40, 50, 10 + k), 1)
        qtbot.wait(100)
    painting_ended = time.time()
    qtbot.waitUntil(lambda: watcher.worker is None, timeout=30_000)
    during = [s for s in watcher.saved if s.saved_at < painting_ended]
    assert len(during) >= 2  # the deadline fired while the strokes went on
    assert during[0].saved_at - start < 1.2 + 1.0  # the first at most one deadline (+ the write) after stroke 1


def test_a_removed_layer_and_quitting_write_the_last_strokes(make_napari_viewer, qtbot):
    from qtpy.QtWidgets import QApplication

    from napari_medseg._napari.autosave import AutosaveWatcher

    viewer = make_napari_viewer()
    kept, closed = _labels_on_sample(viewer, "kept"), _labels_on_sample(viewer, "closed")
    watcher = AutosaveWatcher(viewer)  # the timers (one hour in tests) never fire here
    closed.paint((30, 30, 30), 2)
    viewer.layers.remove(closed)
    qtbot.waitUntil(lambda: watcher.worker is None and bool(watcher.saved), timeout=30_000)
    assert [s.layer for s in watcher.saved] == ["closed"]
    kept.paint((20, 20, 20), 1)
    QApplication.instance().aboutToQuit.emit()  # what closing napari's last window does
    assert [s.layer for s in watcher.saved] == ["closed", "kept"]  # written before the application goes
    np.testing.assert_array_equal(load_snapshot(watcher.saved[-1]).array, kept.data)


def test_closing_the_viewer_writes_the_unsaved_strokes(make_napari_viewer, qtbot):
    from napari_medseg._napari.autosave import AutosaveWatcher

    viewer = make_napari_viewer()
    labels = _labels_on_sample(viewer)
    watcher = AutosaveWatcher(viewer)
    labels.paint((25, 25, 25), 4)
    expected = np.array(labels.data)
    viewer.close()  # napari removes every layer, then closes the window
    qtbot.waitUntil(lambda: watcher.worker is None and bool(watcher.saved), timeout=30_000)
    (snapshot,) = watcher.saved
    np.testing.assert_array_equal(load_snapshot(snapshot).array, expected)
