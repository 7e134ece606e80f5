"""RT structure sets: contours drawn on the referenced series' grid, found beside it when scanning."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom.data
import pytest

from dicom_factory import oblique_iop, write_marked_series, write_rtstruct
from napari_medseg.errors import VolumeReadError
from napari_medseg.io import dicom, read_volume
from napari_medseg.io.rtstruct import fill_contours, read_structure_set, structures_to_labels

TEST_FILES = Path(pydicom.data.get_testdata_file("CT_small.dcm")).parent


def test_fill_takes_pixel_centres_inside_by_the_even_odd_rule():
    square = np.array([[1.5, 2.5], [1.5, 6.5], [4.5, 6.5], [4.5, 2.5]])  # pixel edges around rows 2-4, cols 3-6
    expected = np.zeros((8, 10), bool)
    expected[2:5, 3:7] = True
    np.testing.assert_array_equal(fill_contours([square], (8, 10)), expected)
    hole = np.array([[2.5, 3.5], [2.5, 5.5], [3.5, 5.5], [3.5, 3.5]])  # a contour inside another: a hole
    expected[3, 4:6] = False
    np.testing.assert_array_equal(fill_contours([square, hole[::-1]], (8, 10)), expected)
    t = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    circle = np.stack([100 + 40 * np.sin(t), 90 + 40 * np.cos(t)], axis=1)
    assert abs(fill_contours([circle], (200, 200)).sum() / (np.pi * 40**2) - 1) < 0.005
    assert fill_contours([np.array([[-5.0, -5], [-5, 20], [20, 20], [20, -5]])], (8, 10)).all()  # clipped


@pytest.mark.parametrize("iop", [(1.0, 0, 0, 0, 1, 0), (-1.0, 0, 0, 0, 1, 0), oblique_iop()],
                         ids=["axial", "flipped rows", "oblique"])
def test_structures_land_on_the_voxels_they_outline(tmp_path, iop):
    marks = [(1000, slice(2, 6), slice(10, 30), slice(5, 40)), (2000, slice(3, 5), slice(15, 20), slice(12, 18))]
    written, (big, small) = write_marked_series(tmp_path / "ct", marks, iop=iop)
    rt = write_rtstruct(tmp_path / "ct" / "rs.dcm", written.series_uid,
                        [("GTV", (0, 255, 0), small), ("PTV", (255, 0, 0), big), ("Isocenter", None, [[(0, 0, 0)]])])
    (series,) = dicom.scan(tmp_path / "ct")
    assert series.structure_sets == [rt]
    assert series.summary().structure_sets == [str(rt)]  # what `medseg info` lists
    volume = series.load()
    assert volume.meta["structure_sets"] == [str(rt)]
    drawn = structures_to_labels(read_structure_set(rt), volume)
    assert drawn.names == {1: "GTV", 2: "PTV"} and drawn.colours == {1: "#00ff00", 2: "#ff0000"}
    np.testing.assert_array_equal(drawn.labels == 1, volume.array == 2000)  # the smaller ROI drawn last, on top
    np.testing.assert_array_equal(drawn.labels == 2, volume.array == 1000)
    assert f"GTV overlaps PTV in {np.count_nonzero(volume.array == 2000)} voxels: shown as GTV" in drawn.warnings
    assert any("Isocenter" in w and "no volume" in w for w in drawn.warnings)


def test_a_sphere_drawn_slice_by_slice_has_the_volume_of_its_discs(tmp_path):
    written, _ = write_marked_series(tmp_path / "ct", [], shape=(20, 64, 64), spacing=(1.0, 1.0), step=2.0,
                                origin=(0.0, 0.0, 0.0))
    t = np.linspace(0, 2 * np.pi, 120, endpoint=False)
    contours, discs_mm3 = [], 0.0
    for k in range(20):
        z = 2.0 * k
        r2 = 18.0**2 - (z - 19.0) ** 2
        if r2 <= 0:
            continue
        r = np.sqrt(r2)
        contours.append(np.stack([32 + r * np.cos(t), 30 + r * np.sin(t), np.full_like(t, z)], axis=1))
        discs_mm3 += np.pi * r2 * 2.0
    rt = write_rtstruct(tmp_path / "rs.dcm", written.series_uid, [("ball", None, contours)])
    drawn = structures_to_labels(read_structure_set(rt), read_volume(tmp_path / "ct"))
    assert abs(np.count_nonzero(drawn.labels == 1) * 2.0 / discs_mm3 - 1) < 0.01
    assert drawn.warnings == []


def test_contours_off_the_slices_or_outside_are_reported_not_dropped_silently(tmp_path):
    written, (box,) = write_marked_series(tmp_path / "ct", [(1000, slice(2, 4), slice(10, 20), slice(10, 20))])
    between = [c + [0.0, 0.0, 0.8] for c in box]  # 0.4 of a 2 mm slice off: drawn on the nearest slice
    outside = [box[0] + [0.0, 0.0, 100.0]]
    tilted = [np.array([[0.0, 0, 30], [10, 0, 40], [10, 10, 40], [0, 10, 30]])]
    rt = write_rtstruct(tmp_path / "rs.dcm", written.series_uid,
                        [("moved", None, between), ("away", None, outside + tilted)])
    drawn = structures_to_labels(read_structure_set(rt), read_volume(tmp_path / "ct"))
    np.testing.assert_array_equal(drawn.labels == 1, read_volume(tmp_path / "ct").array == 1000)
    assert "moved: 2 of 2 contours lie between this image's slices; each drawn on the nearest slice" in drawn.warnings
    assert "away: 2 of 2 contours are tilted to this image's slices or outside it; skipped" in drawn.warnings
    assert "away: no voxel centre lies inside its contours on this image" in drawn.warnings


def test_a_structure_set_for_another_series_is_reported(tmp_path):
    written, (box,) = write_marked_series(tmp_path / "ct", [(1000, slice(2, 4), slice(10, 20), slice(10, 20))])
    write_rtstruct(tmp_path / "ct" / "rs.dcm", "1.2.3.999", [("box", None, box)])
    (series,) = dicom.scan(tmp_path / "ct")
    assert series.structure_sets == []
    assert any("rs.dcm refers to series 1.2.3.999, which is not in this folder" in w for w in series.warnings)
    drawn = structures_to_labels(read_structure_set(tmp_path / "ct" / "rs.dcm"), series.load())
    assert any("drawn on series 1.2.3.999" in w for w in drawn.warnings)  # placed by mm, and the user is told


def test_pydicoms_structure_set_reads_its_rois_colours_and_contour_kinds():
    ss = read_structure_set(TEST_FILES / "rtstruct.dcm")
    assert [s.name for s in ss.structures] == ["patient", "Isocenter 1", "Isocenter 2"]
    patient, iso1, _ = ss.structures
    assert patient.colour == "#dca078" and len(patient.contours) == 3 and patient.contours[0].shape == (5, 3)
    assert iso1.contours == () and iso1.other_contours == 1  # a POINT marker
    assert ss.series_uids == ("1.2.826.0.1.3680043.8.498.2010020400001.2.1.1",)


def test_a_file_that_is_no_structure_set_is_one_line():
    with pytest.raises(VolumeReadError, match="not an RT structure set"):
        read_structure_set(TEST_FILES / "CT_small.dcm")


def test_cli_writes_the_structures_on_the_series_grid_with_names_and_volumes(tmp_path, capsys):
    from napari_medseg.cli import main

    marks = [(1000, slice(2, 6), slice(10, 30), slice(5, 40)), (2000, slice(3, 5), slice(15, 20), slice(12, 18))]
    written, (big, small) = write_marked_series(tmp_path / "ct", marks, iop=(-1.0, 0, 0, 0, 1, 0))
    write_rtstruct(tmp_path / "ct" / "rs.dcm", written.series_uid, [("PTV, expanded", (255, 0, 0), big),
                                                                     ("GTV", None, small)])
    out, table = tmp_path / "rois.nii.gz", tmp_path / "rois.csv"
    assert main(["structures", str(tmp_path / "ct"), "--out", str(out), "--csv", str(table)]) == 0
    stdout = capsys.readouterr().out
    image, labels = read_volume(tmp_path / "ct"), read_volume(out)
    assert np.allclose(labels.affine, image.affine)
    np.testing.assert_array_equal(labels.array == 2, image.array == 2000)
    np.testing.assert_array_equal(labels.array == 1, image.array == 1000)
    voxel_ml = 0.8 * 0.7 * 2.0 / 1000
    lines = table.read_text().splitlines()
    assert lines == stdout.splitlines()
    assert lines[0] == "label,name,colour,volume_ml"
    assert lines[1] == f'1,"PTV, expanded",#ff0000,{np.count_nonzero(image.array == 1000) * voxel_ml:.3f}'
    assert lines[2] == f"2,GTV,#3cb44b,{np.count_nonzero(image.array == 2000) * voxel_ml:.3f}"  # palette colour


def test_cli_without_a_structure_set_is_one_line(tmp_path, capsys):
    from napari_medseg.cli import main

    write_marked_series(tmp_path / "ct", [(1000, slice(2, 4), slice(10, 20), slice(10, 20))])
    assert main(["structures", str(tmp_path / "ct"), "--out", str(tmp_path / "x.nii.gz")]) == 1
    err = capsys.readouterr().err.strip()
    assert "no RT structure set drawn on this series; give one with --rtstruct FILE" in err and "\n" not in err
    assert not (tmp_path / "x.nii.gz").exists()


def test_outlines_traced_from_the_sample_organ_draw_that_organ_back(tmp_path):
    from dicom_factory import mask_outlines
    from napari_medseg.samples import ct_phantom_paths

    folder, organ_path = ct_phantom_paths()
    ct, organ = read_volume(folder), read_volume(organ_path).array > 0
    rt = write_rtstruct(tmp_path / "rs.dcm", ct.meta["series_uid"], [("organ", None, mask_outlines(organ, ct.affine))])
    drawn = structures_to_labels(read_structure_set(rt), ct).labels == 1
    assert 2 * (drawn & organ).sum() / (drawn.sum() + organ.sum()) >= 0.995
