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


@pytest.mark.parametrize(
    "iop", [(1.0, 0, 0, 0, 1, 0), (-1.0, 0, 0, 0, 1, 0), oblique_iop()], ids=["axial", "flipped rows", "oblique"]
)
def test_structures_land_on_the_voxels_they_outline(tmp_path, iop):
    marks = [(1000, slice(2, 6), slice(10, 30), slice(5, 40)), (2000, slice(3, 5), slice(15, 20), slice(12, 18))]
    written, (big, small) = write_marked_series(tmp_path / "ct", marks, iop=iop)
    rt = write_rtstruct(
        tmp_path / "ct" / "rs.dcm",
        written.series_uid,
        [("GTV", (0, 255, 0), small), ("PTV", (255, 0, 0), big), ("Isocenter", None, [[(0, 0, 0)]])],
    )
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
    written, _ = write_marked_series(
        tmp_path / "ct", [], shape=(20, 64, 64), spacing=(1.0, 1.0), step=2.0, origin=(0.0, 0.0, 0.0)
    )
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
    rt = write_rtstruct(
        tmp_path / "rs.dcm", written.series_uid, [("moved", None, between), ("away", None, outside + tilted)]
    )
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
    write_rtstruct(
        tmp_path / "ct" / "rs.dcm", written.series_uid, [("PTV, expanded", (255, 0, 0), big), ("GTV", None, small)]
    )
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
    assert (
        "no RT structure set or DICOM SEG drawn on this series; give one with --rtstruct FILE" in err
        and "\n" not in err
    )
    assert not (tmp_path / "x.nii.gz").exists()


def test_outlines_traced_from_the_sample_organ_draw_that_organ_back(tmp_path):
    from dicom_factory import mask_outlines
    from napari_medseg.samples import ct_phantom_paths

    folder, organ_path = ct_phantom_paths()
    ct, organ = read_volume(folder), read_volume(organ_path).array > 0
    rt = write_rtstruct(tmp_path / "rs.dcm", ct.meta["series_uid"], [("organ", None, mask_outlines(organ, ct.affine))])
    drawn = structures_to_labels(read_structure_set(rt), ct).labels == 1
    assert 2 * (drawn & organ).sum() / (drawn.sum() + organ.sum()) >= 0.995


def test_mask_contours_give_the_mask_back_holes_islands_and_diagonal_touches():
    from napari_medseg.io.rtstruct_write import mask_contours

    rng = np.random.default_rng(7)
    for _ in range(20):
        mask = rng.random((24, 30)) < 0.45  # ragged shapes: holes, islands, pixels touching at corners
        np.testing.assert_array_equal(fill_contours(mask_contours(mask), mask.shape), mask)
    ring = np.zeros((9, 9), bool)
    ring[1:8, 1:8], ring[3:6, 3:6] = True, False
    ring[4, 4] = True  # an island inside the hole
    assert len(mask_contours(ring)) == 3
    np.testing.assert_array_equal(fill_contours(mask_contours(ring), ring.shape), ring)


@pytest.mark.parametrize(
    "iop", [(1.0, 0, 0, 0, 1, 0), (-1.0, 0, 0, 0, 1, 0), oblique_iop()], ids=["axial", "flipped rows", "oblique"]
)
def test_labels_written_as_a_structure_set_read_back_voxel_for_voxel(tmp_path, iop):
    import pydicom

    from napari_medseg.io.rtstruct_write import write_structure_set

    written, _ = write_marked_series(tmp_path / "ct", [], iop=iop, shape=(6, 30, 36))
    volume = read_volume(tmp_path / "ct")
    rng = np.random.default_rng(3)
    labels = np.zeros(volume.shape, np.uint8)
    labels[1:5, 5:25, 4:30] = 1
    labels[2:4, 10:15, 10:20] = 4  # inside label 1: a hole in it
    labels[5] = np.where(rng.random(volume.shape[1:]) < 0.3, 2, 0)  # ragged
    out = write_structure_set(
        tmp_path / "rs.dcm", labels, volume, names={1: "body", 4: "lesion"}, colours={4: "#ff8000"}
    )
    ss = read_structure_set(out)
    assert [s.name for s in ss.structures] == ["body", "label 2", "lesion"]
    assert ss.series_uids == (written.series_uid,) and ss.structures[2].colour == "#ff8000"
    drawn = structures_to_labels(ss, volume)
    assert drawn.warnings == []
    for value, number in ((1, 1), (2, 2), (4, 3)):  # ROIs numbered in label order
        np.testing.assert_array_equal(drawn.labels == number, labels == value)
    ds = pydicom.dcmread(out)
    source = pydicom.dcmread(written.paths[0])
    assert (ds.Modality, ds.StudyInstanceUID, ds.FrameOfReferenceUID) == (
        "RTSTRUCT",
        source.StudyInstanceUID,
        source.FrameOfReferenceUID,
    )
    sops = {pydicom.dcmread(p).SOPInstanceUID: p for p in written.paths}
    for contour in ds.ROIContourSequence[0].ContourSequence:  # each contour names the image it lies on
        image = pydicom.dcmread(sops[contour.ContourImageSequence[0].ReferencedSOPInstanceUID])
        normal = np.cross(np.array(image.ImageOrientationPatient[:3], float), image.ImageOrientationPatient[3:])
        points = np.asarray(contour.ContourData, float).reshape(-1, 3)
        assert np.allclose((points - np.asarray(image.ImagePositionPatient, float)) @ normal, 0, atol=1e-3)


def test_labels_on_an_image_not_from_dicom_cannot_become_a_structure_set(tmp_path):
    from napari_medseg.errors import MedsegError
    from napari_medseg.io.rtstruct_write import write_structure_set
    from napari_medseg.samples import brain_mri_paths

    t1 = read_volume(brain_mri_paths()[0])
    with pytest.raises(MedsegError, match="refers to a DICOM image series"):
        write_structure_set(tmp_path / "rs.dcm", np.ones(t1.shape, np.uint8), t1)
    assert not (tmp_path / "rs.dcm").exists()


def test_cli_round_trip_structures_to_nifti_and_back_to_a_structure_set(tmp_path, capsys):
    from napari_medseg.cli import main

    marks = [(1000, slice(2, 6), slice(10, 30), slice(5, 40)), (2000, slice(3, 5), slice(15, 20), slice(12, 18))]
    written, (big, small) = write_marked_series(tmp_path / "ct", marks, iop=oblique_iop())
    write_rtstruct(tmp_path / "ct" / "rs.dcm", written.series_uid, [("PTV", None, big), ("GTV", None, small)])
    nifti, back = tmp_path / "rois.nii.gz", tmp_path / "out" / "rs_back.dcm"
    assert main(["structures", str(tmp_path / "ct"), "--out", str(nifti)]) == 0
    assert (
        main(["rtstruct", str(nifti), "--image", str(tmp_path / "ct"), "--out", str(back), "--names", "1=PTV,2=GTV"])
        == 0
    )
    ss = read_structure_set(back)
    assert [s.name for s in ss.structures] == ["PTV", "GTV"]
    np.testing.assert_array_equal(
        structures_to_labels(ss, read_volume(tmp_path / "ct")).labels, read_volume(nifti).array
    )
    capsys.readouterr()
    assert main(["rtstruct", str(nifti), "--image", str(tmp_path / "ct"), "--out", str(back), "--names", "PTV"]) == 1
    assert "give LABEL=NAME pairs" in capsys.readouterr().err


def test_cli_refuses_labels_that_are_not_on_the_series_grid(tmp_path, capsys):
    from napari_medseg.cli import main
    from napari_medseg.samples import brain_mri_paths

    write_marked_series(tmp_path / "ct", [(1000, slice(2, 4), slice(10, 20), slice(10, 20))])
    status = main(
        ["rtstruct", str(brain_mri_paths()[1]), "--image", str(tmp_path / "ct"), "--out", str(tmp_path / "rs.dcm")]
    )
    err = capsys.readouterr().err.strip()
    assert status == 1 and "is not on the series' grid" in err and "\n" not in err
    assert not (tmp_path / "rs.dcm").exists()


def test_a_contour_with_a_broken_point_list_is_one_line(tmp_path):
    import pydicom

    written, (box,) = write_marked_series(tmp_path / "ct", [(1000, slice(2, 4), slice(10, 20), slice(10, 20))])
    rt = write_rtstruct(tmp_path / "rs.dcm", written.series_uid, [("box", None, box)])
    ds = pydicom.dcmread(rt)
    ds.ROIContourSequence[0].ContourSequence[0].ContourData = ["1.0", "2.0", "3.0", "4.0"]
    ds.save_as(rt)
    with pytest.raises(VolumeReadError, match=r"rs.dcm: invalid RT structure set \(ContourData holds 4 numbers"):
        read_structure_set(rt)


def test_contours_in_two_planes_count_each_shared_voxel_once(tmp_path):
    written, (big,) = write_marked_series(tmp_path / "ct", [(1000, slice(0, 8), slice(0, 40), slice(0, 48))])
    x0, y0, z0 = -100.0, -80.0, 30.0  # column 0.7 mm, row 0.8 mm, slice 2 mm (write_marked_series' defaults)

    def at(col, row, k):
        return (x0 + 0.7 * col, y0 + 0.8 * row, z0 + 2.0 * k)

    sagittal = np.array([at(20, 10.5, 1.5), at(20, 19.5, 1.5), at(20, 19.5, 5.5), at(20, 10.5, 5.5)])
    axial = np.array([at(15.5, 10.5, 3), at(25.5, 10.5, 3), at(25.5, 19.5, 3), at(15.5, 19.5, 3)])
    rt = write_rtstruct(
        tmp_path / "rs.dcm", written.series_uid, [("body", None, big), ("cross", None, [sagittal, axial])]
    )
    drawn = structures_to_labels(read_structure_set(rt), read_volume(tmp_path / "ct"))
    assert np.count_nonzero(drawn.labels == 2) == 9 * 4 + 9 * 10 - 9
    assert "cross overlaps body in 117 voxels: shown as cross" in drawn.warnings
