"""DICOM SEG: labels -> SEG -> highdicom -> labels voxel for voxel, and SEGs found beside their series."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from dicom_factory import (
    oblique_iop,
    write_enhanced_ct,
    write_marked_series,
    write_series,
)
from napari_medseg.errors import MedsegError, VolumeReadError
from napari_medseg.io import dicom, read_volume
from napari_medseg.io.dicom_derived import PATIENT_STUDY_TYPE2
from napari_medseg.io.seg import read_segmentation, segmentation_to_labels
from napari_medseg.io.seg_write import property_codes, write_segmentation

hd = pytest.importorskip("highdicom")
GEOMETRIES = {
    "axial": {"iop": (1.0, 0, 0, 0, 1, 0)},
    "oblique": {"iop": oblique_iop()},
    "flipped": {"iop": (-1.0, 0, 0, 0, -1, 0), "slice_spacing": -2.0},
}  # rows, columns and slices reversed


def _series(folder, geometry: str, shape=(7, 24, 30)):
    kw = {"pixel_spacing": (0.8, 0.7), "slice_spacing": 2.0, "origin": (-20.0, 10.0, 5.0), **GEOMETRIES[geometry]}
    written = write_series(folder, np.zeros(shape, np.int16), **kw)
    return written, read_volume(folder)


def _labels(shape) -> np.ndarray:
    """Three labels with a gap (no label 3), one touching the border, two overlapping none."""
    labels = np.zeros(shape, np.uint8)
    labels[1:5, 3:12, 4:15] = 1
    labels[2:4, 14:24, 0:6] = 2  # touches the border
    labels[5, 5:9, 20:27] = 4  # one slice only
    return labels


def _sources(series) -> list:
    """The series' images as highdicom wants them: with its Type 2 patient and study attributes (empty)."""
    sources = [pydicom.dcmread(p) for p in series.files]
    for ds in sources:
        for keyword in PATIENT_STUDY_TYPE2:
            setattr(ds, keyword, ds.get(keyword, ""))
    return sources


def _highdicom_labels(seg_path, series) -> np.ndarray:
    """highdicom's reading of a SEG, as (slice, row, column) in the series' stacking order."""
    seg = hd.seg.segread(seg_path)
    uids = [str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in series.files]
    return seg.get_pixels_by_source_instance(uids, combine_segments=True, relabel=False)


@pytest.mark.parametrize("geometry", list(GEOMETRIES))
def test_our_seg_reads_in_highdicom_and_its_rewrite_reads_back_here_voxel_for_voxel(tmp_path, geometry):
    _, volume = _series(tmp_path / "ct", geometry)
    labels = _labels(volume.shape)
    out = write_segmentation(
        tmp_path / "seg.dcm", labels, volume, {1: "liver", 2: "spleen", 4: "lesion"}, {1: "#ff0000"}
    )
    series = dicom.scan(tmp_path / "ct")[0]
    stacked = volume.to_file_order(labels).transpose(2, 1, 0)  # (slice, row, column) of the DICOM images
    theirs = _highdicom_labels(out, series)
    np.testing.assert_array_equal(theirs, stacked)  # highdicom sees our voxels where we put them

    ours = segmentation_to_labels(read_segmentation(out), volume)
    np.testing.assert_array_equal(ours.labels, labels)
    assert ours.names == {1: "liver", 2: "spleen", 3: "label 3", 4: "lesion"}
    assert ours.colours[1] == "#ff0000" and ours.warnings == []

    sources = _sources(series)  # highdicom writes what it read; we read that back
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=n,
            segment_label=f"s{n}",
            segmented_property_category=hd.sr.CodedConcept("85756007", "SCT", "Tissue"),
            segmented_property_type=hd.sr.CodedConcept("85756007", "SCT", "Tissue"),
            algorithm_type="MANUAL",
        )
        for n in range(1, 5)
    ]
    rewritten = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=theirs,
        segmentation_type="BINARY",
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=2,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="test",
        manufacturer_model_name="test",
        software_versions="1",
        device_serial_number="1",
    )
    rewritten.save_as(tmp_path / "rewritten.dcm")
    again = segmentation_to_labels(read_segmentation(tmp_path / "rewritten.dcm"), volume)
    np.testing.assert_array_equal(again.labels, labels)


def test_a_fractional_seg_counts_pixels_of_probability_at_least_one_half(tmp_path):
    _, volume = _series(tmp_path / "ct", "oblique")
    series = dicom.scan(tmp_path / "ct")[0]
    rng = np.random.default_rng(1)
    probability = rng.random((len(series.files), 24, 30)).astype(np.float32)
    sources = _sources(series)
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=probability,
        segmentation_type="FRACTIONAL",
        segment_descriptions=[
            hd.seg.SegmentDescription(
                segment_number=1,
                segment_label="tumour",
                segmented_property_category=hd.sr.CodedConcept("85756007", "SCT", "Tissue"),
                segmented_property_type=hd.sr.CodedConcept("85756007", "SCT", "Tissue"),
                algorithm_type="MANUAL",
            )
        ],
        series_instance_uid=hd.UID(),
        series_number=2,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="test",
        manufacturer_model_name="test",
        software_versions="1",
        device_serial_number="1",
        max_fractional_value=200,
    )
    seg.save_as(tmp_path / "fractional.dcm")
    drawn = segmentation_to_labels(read_segmentation(tmp_path / "fractional.dcm"), volume)
    stored = np.round(probability * 200)  # what the file holds, 0..200
    expected = volume.file_order.to_canonical((stored >= 100).transpose(2, 1, 0))
    np.testing.assert_array_equal(drawn.labels == 1, expected)
    assert drawn.names == {1: "tumour"}


def test_frames_in_any_order_land_on_the_same_voxels(tmp_path):
    _, volume = _series(tmp_path / "ct", "axial")
    labels = _labels(volume.shape)
    out = write_segmentation(tmp_path / "seg.dcm", labels, volume)
    ds = pydicom.dcmread(out)
    frames = ds.pixel_array
    order = np.random.default_rng(2).permutation(len(frames))
    ds.PerFrameFunctionalGroupsSequence = [ds.PerFrameFunctionalGroupsSequence[i] for i in order]
    ds.PixelData = pydicom.pixels.pack_bits(frames[order])
    del ds.DimensionIndexSequence
    ds.save_as(tmp_path / "shuffled.dcm")
    np.testing.assert_array_equal(
        segmentation_to_labels(read_segmentation(tmp_path / "shuffled.dcm"), volume).labels, labels
    )


def test_a_seg_of_a_multi_frame_image_refers_to_its_frames(tmp_path):
    (tmp_path / "ct").mkdir()
    rng = np.random.default_rng(3)
    write_enhanced_ct(
        tmp_path / "ct" / "enhanced.dcm",
        np.zeros((6, 16, 20), np.int16),
        iop=oblique_iop(),
        frame_order=rng.permutation(6),
        pixel_spacing=(0.9, 0.6),
        slice_spacing=1.5,
    )
    volume = read_volume(tmp_path / "ct")
    labels = np.zeros(volume.shape, np.uint8)
    labels[1:4, 2:9, 3:11] = 1
    out = write_segmentation(tmp_path / "ct" / "seg.dcm", labels, volume)
    assert dicom.scan(tmp_path / "ct")[0].structure_sets == [out]
    np.testing.assert_array_equal(segmentation_to_labels(read_segmentation(out), volume).labels, labels)


def test_a_seg_in_a_folder_is_attached_to_its_series_and_never_read_as_an_image(tmp_path, capsys):
    from napari_medseg.cli import main

    written, volume = _series(tmp_path / "ct", "axial")
    out = write_segmentation(tmp_path / "ct" / "seg.dcm", _labels(volume.shape), volume)
    found = dicom.scan(tmp_path / "ct")
    assert len(found) == 1 and found[0].series_uid == written.series_uid
    assert found[0].structure_sets == [out] and found[0].summary().structure_sets == [str(out)]
    with pytest.raises(VolumeReadError, match="a DICOM SEG .segments, no image"):
        read_volume(out)
    assert main(["convert", str(out), str(tmp_path / "seg.nii.gz")]) == 1
    err = capsys.readouterr().err.strip()
    assert "DICOM SEG" in err and "\n" not in err and not (tmp_path / "seg.nii.gz").exists()


def test_cli_seg_then_structures_gives_the_labels_back_with_their_names(tmp_path, capsys):
    from napari_medseg.cli import main

    marks = [(1000, slice(2, 6), slice(10, 30), slice(5, 40)), (2000, slice(3, 5), slice(15, 20), slice(12, 18))]
    write_marked_series(tmp_path / "ct", marks, iop=(-1.0, 0, 0, 0, 1, 0))
    image = read_volume(tmp_path / "ct")
    labels = image.with_array((image.array == 1000).astype(np.uint8) + 2 * (image.array == 2000))
    from napari_medseg.io import write_labels

    write_labels(tmp_path / "labels.nii.gz", labels.array, image)
    seg = tmp_path / "ct" / "seg.dcm"
    assert (
        main(
            [
                "seg",
                str(tmp_path / "labels.nii.gz"),
                "--image",
                str(tmp_path / "ct"),
                "--out",
                str(seg),
                "--names",
                "1=liver,2=left kidney",
                "--algorithm-type",
                "AUTOMATIC",
            ]
        )
        == 0
    )
    ds = pydicom.dcmread(seg)
    assert [s.SegmentLabel for s in ds.SegmentSequence] == ["liver", "left kidney"]
    assert ds.SegmentSequence[1].SegmentedPropertyTypeCodeSequence[0].CodeMeaning == "Kidney"
    assert ds.SegmentSequence[0].SegmentedPropertyCategoryCodeSequence[0].CodeMeaning == "Anatomical Structure"
    assert ds.SegmentSequence[0].SegmentAlgorithmType == "AUTOMATIC"
    assert ds.SegmentSequence[0].SegmentationAlgorithmIdentificationSequence[0].AlgorithmName == "napari-medseg"
    capsys.readouterr()
    assert main(["structures", str(tmp_path / "ct"), "--out", str(tmp_path / "back.nii.gz")]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1].startswith("1,liver,") and table[2].startswith("2,left kidney,")
    np.testing.assert_array_equal(read_volume(tmp_path / "back.nii.gz").array, labels.array)


def test_a_seg_made_on_another_grid_is_refused_not_resampled(tmp_path):
    _, volume = _series(tmp_path / "ct", "axial")
    out = write_segmentation(tmp_path / "seg.dcm", _labels(volume.shape), volume)
    _, other = _series(tmp_path / "fine", "axial", shape=(7, 48, 60))
    other = type(other)(other.array, other.affine @ np.diag([1.0, 0.5, 0.5, 1.0]), other.file_order, other.meta)
    with pytest.raises(VolumeReadError, match="not on this image's voxel grid"):
        segmentation_to_labels(read_segmentation(out), other)


def test_labels_on_an_image_not_from_dicom_cannot_become_a_seg(tmp_path):
    from napari_medseg.samples import brain_mri_paths

    t1 = read_volume(brain_mri_paths()[0])
    with pytest.raises(MedsegError, match="refers to a DICOM image series"):
        write_segmentation(tmp_path / "seg.dcm", np.ones(t1.shape, np.uint8), t1)
    assert not (tmp_path / "seg.dcm").exists()


def test_segment_codes_follow_known_organ_names():
    assert property_codes("Liver")[1].meaning == "Liver"
    assert property_codes("left_kidney")[1].meaning == "Kidney"
    assert property_codes("my lesion 2")[1].meaning == "Tissue"


def test_a_labelmap_seg_reads_each_pixel_as_its_segment(tmp_path):
    _, volume = _series(tmp_path / "ct", "flipped")
    series = dicom.scan(tmp_path / "ct")[0]
    labels = _labels(volume.shape)
    labels[labels == 4] = 3  # LABELMAP segments are numbered 1..N
    stacked = np.ascontiguousarray(volume.to_file_order(labels).transpose(2, 1, 0))
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=n,
            segment_label=f"s{n}",
            segmented_property_category=hd.sr.CodedConcept("85756007", "SCT", "Tissue"),
            segmented_property_type=hd.sr.CodedConcept("85756007", "SCT", "Tissue"),
            algorithm_type="MANUAL",
        )
        for n in (1, 2, 3)
    ]
    seg = hd.seg.Segmentation(
        source_images=_sources(series),
        pixel_array=stacked,
        segmentation_type="LABELMAP",
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=2,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="test",
        manufacturer_model_name="test",
        software_versions="1",
        device_serial_number="1",
    )
    seg.save_as(tmp_path / "labelmap.dcm")
    drawn = segmentation_to_labels(read_segmentation(tmp_path / "labelmap.dcm"), volume)
    assert read_segmentation(tmp_path / "labelmap.dcm").kind == "LABELMAP"
    np.testing.assert_array_equal(drawn.labels, labels)


def test_frames_partly_outside_a_cropped_image_are_clipped_and_counted(tmp_path):
    _, volume = _series(tmp_path / "ct", "oblique")
    labels = _labels(volume.shape)
    out = write_segmentation(tmp_path / "seg.dcm", labels, volume)
    corner = np.array([1, 4, 2])  # the crop keeps array[1:, 4:20, 2:]
    shifted = volume.affine.copy()
    shifted[:3, 3] = volume.affine[:3, :3] @ corner + volume.affine[:3, 3]
    cropped = type(volume)(volume.array[1:, 4:20, 2:], shifted, volume.file_order, {})
    drawn = segmentation_to_labels(read_segmentation(out), cropped)
    np.testing.assert_array_equal(drawn.labels, labels[1:, 4:20, 2:])
    lost = int(np.count_nonzero(labels)) - int(np.count_nonzero(labels[1:, 4:20, 2:]))
    assert drawn.warnings == [f"{lost} segmented pixels of seg.dcm lie outside this image; left out"]


def test_overlapping_segments_show_the_smaller_one_and_say_so(tmp_path):
    _, volume = _series(tmp_path / "ct", "oblique")
    series = dicom.scan(tmp_path / "ct")[0]
    masks = np.zeros((len(series.files), 24, 30, 2), bool)
    masks[1:6, 2:20, 3:25, 0] = True  # PTV
    masks[2:4, 5:9, 6:10, 1] = True  # GTV inside it
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=n,
            segment_label=name,
            segmented_property_category=hd.sr.CodedConcept("85756007", "SCT", "Tissue"),
            segmented_property_type=hd.sr.CodedConcept("85756007", "SCT", "Tissue"),
            algorithm_type="MANUAL",
        )
        for n, name in ((1, "PTV"), (2, "GTV"))
    ]
    seg = hd.seg.Segmentation(
        source_images=_sources(series),
        pixel_array=masks,
        segmentation_type="BINARY",
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=2,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="test",
        manufacturer_model_name="test",
        software_versions="1",
        device_serial_number="1",
    )
    seg.save_as(tmp_path / "overlap.dcm")
    drawn = segmentation_to_labels(read_segmentation(tmp_path / "overlap.dcm"), volume)
    to_volume = volume.file_order.to_canonical
    np.testing.assert_array_equal(drawn.labels == 2, to_volume(masks[..., 1].transpose(2, 1, 0)))
    np.testing.assert_array_equal(drawn.labels == 1, to_volume((masks[..., 0] & ~masks[..., 1]).transpose(2, 1, 0)))
    assert drawn.warnings == [f"GTV overlaps PTV in {masks[..., 1].sum()} voxels: shown as GTV"]


@pytest.mark.parametrize("writer", ["seg", "rtstruct"])
def test_a_writer_never_overwrites_an_image_of_the_series(tmp_path, writer):
    from napari_medseg.io.rtstruct_write import write_structure_set

    written, volume = _series(tmp_path / "ct", "axial")
    before = written.paths[3].read_bytes()
    write = write_segmentation if writer == "seg" else write_structure_set
    with pytest.raises(MedsegError, match="refusing to overwrite"):
        write(written.paths[3], _labels(volume.shape), volume)
    assert written.paths[3].read_bytes() == before
