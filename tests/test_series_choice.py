"""The series chooser's rules without napari: which series of a study are ticked, and their distinct names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom

from dicom_factory import write_series
from napari_medseg.io.series_choice import choose_series, load_choices, study_choices
from napari_medseg.io.series_summary import SeriesSummary

STUDY_98892003 = Path(pydicom.__file__).parent / "data" / "test_files" / "dicomdirtests" / "98892003"


def _summary(description, number="", localizer=False, decodable=True, modality="MR"):
    return SeriesSummary(
        None,
        modality,
        description,
        10,
        (10, 8, 8),
        (2.0, 1.0, 1.0),
        number=number,
        localizer=localizer,
        decodable=decodable,
    )


def test_localizers_by_image_type_or_description_and_undecodable_series_are_unticked():
    rows = choose_series(
        [
            _summary("T1 axial", "3"),
            _summary("FAST LOCALIZER", "1"),
            _summary("3-plane", "2", localizer=True),  # ImageType LOCALIZER
            _summary("Topogram 0.6 T20s", "4", modality="CT"),
            _summary("T2 JPEG 2000", "5", decodable=False),
        ]
    )
    assert [(localizer, ticked) for _, localizer, ticked in rows] == [
        (False, True),
        (True, False),
        (True, False),
        (True, False),
        (False, False),
    ]


def test_names_are_number_and_description_with_parts_and_repeats_told_apart():
    summaries = [_summary("T1", "3"), _summary("T1", "3"), _summary("T1", "3"), _summary("", ""), _summary("T2", "")]
    names = [name for name, _, _ in choose_series(summaries, uids=["a", "a", "b", "c", "d"])]
    assert names == ["3: T1 [part 1]", "3: T1 [part 2]", "3: T1", "MR series", "T2"]
    folders = choose_series([_summary("T1", "3"), _summary("T1", "3")], uids=["a", "b"], folders=["MR1", "MR2"])
    assert [name for name, _, _ in folders] == ["3: T1 (MR1)", "3: T1 (MR2)"]
    repeats = choose_series([_summary("T1", "3")] * 3, uids=["a", "b", "c"])
    assert [name for name, _, _ in repeats] == ["3: T1", "3: T1 (2)", "3: T1 (3)"]


def test_the_98892003_study_lists_17_series_all_localizers_unticked_with_distinct_names():
    choices = study_choices(STUDY_98892003)
    assert len(choices) == 17
    assert len({c.name for c in choices}) == 17
    assert all(c.localizer and not c.ticked for c in choices)  # FAST LOCALIZER, RF FAST PILOT, a radial set
    assert "1: FAST LOCALIZER" in {c.name for c in choices}


def test_a_study_folder_ticks_the_scan_not_the_scout_and_loads_only_what_is_chosen(tmp_path):
    rng = np.random.default_rng(3)
    scan = rng.integers(0, 900, (6, 10, 12)).astype(np.int16)
    write_series(tmp_path / "study" / "s3", scan, description="Abdomen 2.5mm", series_number=3, slice_spacing=2.5)
    write_series(
        tmp_path / "study" / "s1",
        rng.integers(0, 900, (1, 20, 20)).astype(np.int16),
        description="Topogram",
        series_number=1,
        image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
    )
    choices = study_choices(tmp_path / "study")
    by_name = {c.name: c for c in choices}
    assert set(by_name) == {"3: Abdomen 2.5mm", "1: Topogram"}
    assert by_name["3: Abdomen 2.5mm"].ticked and not by_name["1: Topogram"].ticked
    assert "12 x 10 x 6 voxels, 1 x 1 x 2.5 mm (12 x 10 x 15 mm)" in by_name["3: Abdomen 2.5mm"].details()
    ((name, volume),) = load_choices([c for c in choices if c.ticked])
    assert name == "3: Abdomen 2.5mm"
    np.testing.assert_array_equal(volume.array, scan)


def test_cli_picks_a_series_by_its_number_and_refuses_a_number_two_series_share(tmp_path, capsys):
    from napari_medseg.cli import main
    from napari_medseg.io import read_volume

    rng = np.random.default_rng(4)
    scan = rng.integers(0, 900, (5, 8, 9)).astype(np.int16)
    write_series(tmp_path / "study" / "a", scan, description="T1", series_number=3)
    write_series(tmp_path / "study" / "b", scan[:2], description="T2", series_number=4)
    write_series(tmp_path / "study" / "c", scan[:3], description="T2 again", series_number=4)
    assert main(["convert", str(tmp_path / "study"), str(tmp_path / "t1.nii.gz"), "--series", "3"]) == 0
    np.testing.assert_array_equal(read_volume(tmp_path / "t1.nii.gz").array, scan)
    assert main(["convert", str(tmp_path / "study"), str(tmp_path / "t2.nii.gz"), "--series", "4"]) == 3
    assert "2 series are numbered 4" in capsys.readouterr().err
    assert not (tmp_path / "t2.nii.gz").exists()
    main(["info", str(tmp_path / "study")])
    assert "series 3 'T1'" in capsys.readouterr().out
