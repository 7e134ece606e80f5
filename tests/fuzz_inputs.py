"""Fuzzed inputs for the reader fuzzing of ``tests/fuzz_harness.py``: real seed files, seeded mutations.

Seeds are real files (pydicom's and nibabel's test data, our sample data, small NRRD/NHDR/MHA/MHD
files written by SimpleITK). Mutations, chosen by a seeded generator: truncation, bit flips,
interesting numbers (0, -1, 2**31, NaN, inf...) spliced in, hostile header values (DICOM elements
through pydicom, NIfTI header fields, MetaImage/NRRD header lines), DICOM series folders with one
damaged slice, and special files (FIFOs, links to ``/dev/zero``, data files outside the header's
folder, a 64 GB header, optionally a 512 MiB gzip bomb).
"""

from __future__ import annotations

import gzip
import os
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class Case:
    """One fuzzed input: a file or folder, and how it was made."""

    name: str
    path: str
    how: str


# --- seeds -----------------------------------------------------------------------------------------


def _site(module: str) -> Path:
    return Path(__import__(module).__file__).parent


PYDICOM_SEEDS = (
    "MR_small.dcm",
    "CT_small.dcm",
    "MR_small_RLE.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_implicit.dcm",
    "JPEG2000.dcm",
    "rtdose.dcm",
    "liver_1frame.dcm",
    "SC_rgb_small_odd.dcm",
    "rtdose_1frame.dcm",
    "emri_small.dcm",
)
NIBABEL_SEEDS = (
    "anatomical.nii",
    "example4d.nii.gz",
    "example_nifti2.nii.gz",
    "standard.nii.gz",
    "row_major.dconn.nii",
)


def write_seeds(folder: Path) -> list[Path]:
    """Copies of the real seed files and small NRRD/NHDR/MHA/MHD files, in ``folder``."""
    import SimpleITK as sitk

    folder.mkdir(parents=True, exist_ok=True)
    seeds = []
    sources = [_site("pydicom") / "data" / "test_files" / n for n in PYDICOM_SEEDS]
    sources += [_site("nibabel") / "tests" / "data" / n for n in NIBABEL_SEEDS]
    repo = Path(__file__).resolve().parents[1]
    sources += [
        repo / "src" / "napari_medseg" / "sample_data" / "ct_phantom_organ.nii.gz",
        repo / "src" / "napari_medseg" / "sample_data" / "ct_phantom" / "slice_000.dcm",
    ]
    for src in sources:
        if src.is_file():
            seeds.append(Path(shutil.copy(src, folder / src.name)))
    image = sitk.GetImageFromArray(np.arange(6 * 7 * 8, dtype=np.int16).reshape(6, 7, 8))
    image.SetSpacing((0.8, 0.9, 2.0))
    image.SetOrigin((1.0, -2.0, 3.0))
    for name in ("small.nrrd", "small.mha"):
        sitk.WriteImage(image, str(folder / name))
        seeds.append(folder / name)
    for name in ("meta.mhd", "detached.nhdr"):  # detached headers: the data file is written beside them
        sitk.WriteImage(image, str(folder / name))
        seeds.append(folder / name)
    return seeds


# --- mutations -------------------------------------------------------------------------------------

INTERESTING = [struct.pack("<I", v) for v in (0, 1, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFF, 0x10000)]
INTERESTING += [struct.pack("<f", v) for v in (float("nan"), float("inf"), -float("inf"), 0.0, 1e38, -1.0)]
INTERESTING += [struct.pack("<d", v) for v in (float("nan"), float("inf"), 1e308)]

DICOM_VALUES = {
    "NumberOfFrames": ["0", "-1", "2000000000", "1A", "3", "65535"],
    "Rows": [0, 1, 65535, 3],
    "Columns": [0, 1, 65535, 5],
    "BitsAllocated": [0, 1, 7, 8, 12, 32, 64, 255],
    "BitsStored": [0, 1, 17, 64],
    "PixelRepresentation": [1, 2],
    "SamplesPerPixel": [0, 3, 4],
    "PixelSpacing": ["nan\\1", "0\\0", "-1\\1", "1", "", "inf\\inf", "1e308\\1e308", "1\\2\\3"],
    "ImageOrientationPatient": [
        "nan\\0\\0\\0\\1\\0",
        "1\\0\\0\\1\\0\\0",
        "0\\0\\0\\0\\0\\0",
        "2\\0\\0\\0\\2\\0",
        "1\\0\\0\\0\\1",
        "1e308\\0\\0\\0\\1\\0",
    ],
    "ImagePositionPatient": ["nan\\0\\0", "inf\\0\\0", "1e308\\1e308\\1e308", "0\\0", "-inf\\nan\\0"],
    "RescaleSlope": ["nan", "inf", "0", "-1e308", "1e308"],
    "RescaleIntercept": ["nan", "-inf", "1e308"],
    "SliceThickness": ["0", "nan", "-5"],
    "SpacingBetweenSlices": ["0", "nan", "-5", "inf"],
    "PhotometricInterpretation": ["PALETTE COLOR", "RGB", "YBR_FULL", "MONOCHROME1", ""],
    "GridFrameOffsetVector": ["nan\\1", "", "0\\0\\0", "1e308"],
    "HighBit": [0, 31],
    "PlanarConfiguration": [1, 5],
}
DICOM_DELETE = (
    "PixelData",
    "Rows",
    "ImagePositionPatient",
    "PixelSpacing",
    "SeriesInstanceUID",
    "ImageOrientationPatient",
    "BitsAllocated",
    "PhotometricInterpretation",
)
TRANSFER_SYNTAXES = (
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.1.99",
    "1.2.3",
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.4.90",
)

NIFTI_VALUES = {
    "dim": [
        [3, 0, 4, 4, 1, 1, 1, 1],
        [4, 4, 4, 4, 5, 1, 1, 1],
        [3, 32767, 32767, 32767, 1, 1, 1, 1],
        [-1, 4, 4, 4, 1, 1, 1, 1],
        [7, 1, 1, 1, 1, 1, 1, 2],
        [3, 2000, 2000, 2000, 1, 1, 1, 1],
    ],
    "pixdim": [
        [1, np.nan, 1, 1, 1, 1, 1, 1],
        [1, 0, 0, 0, 1, 1, 1, 1],
        [1, -1, 1, 1, 1, 1, 1, 1],
        [0, 1, 1, 1, 1, 1, 1, 1],
        [np.nan, 1, 1, 1, 1, 1, 1, 1],
        [1, np.inf, 1, 1, 1, 1, 1, 1],
    ],
    "datatype": [32, 128, 2304, 1792, 0, 255, 1024, 1280, 16, 64, 2048],
    "bitpix": [0, 7, 128],
    "vox_offset": [0, 1e9, -1, np.nan, 351],
    "scl_slope": [np.nan, np.inf, 0, -1e38],
    "scl_inter": [np.nan, np.inf],
    "srow_x": [[np.nan, 0, 0, 0], [0, 0, 0, 0]],
    "srow_y": [[0, np.inf, 0, 0], [0, 0, 0, 0]],
    "srow_z": [[0, 0, 0, np.nan]],
    "quatern_b": [np.nan, 2.0],
    "quatern_d": [np.nan, -3.0],
    "qoffset_x": [np.nan, 1e38],
    "qform_code": [0, 1, -1, 99],
    "sform_code": [0, 1, -1, 99],
    "intent_code": [3001, 1007, 2003, 1011],
    "magic": [b"ni1\0", b"xxx\0"],
}

TEXT_VALUES = {
    "dimsize": ["0 0 0", "100000 100000 100000", "-1 5 5", "5 5", "5 5 5 5", "6 7 800000"],
    "sizes": ["0 0 0", "100000 100000 100000", "-1 5 5", "5 5", "8 7 600000"],
    "elementspacing": ["nan 1 1", "0 0 0", "-1 1 1", "inf 1 1", "1e308 1e308 1e308"],
    "elementtype": ["MET_DOUBLE", "MET_FOO", "MET_UCHAR", "MET_LONG_LONG"],
    "transformmatrix": ["nan 0 0 0 1 0 0 0 1", "0 0 0 0 0 0 0 0 0", "1 0 0 1 0 0 0 0 1", "2 0 0 0 2 0 0 0 2"],
    "offset": ["nan 0 0", "inf inf inf"],
    "ndims": ["4", "0", "2", "-1"],
    "elementdatafile": ["/etc/passwd", "../../x.raw", "/dev/zero", "LIST", "nonexistent.raw", "LOCAL"],
    "compresseddata": ["True"],
    "elementnumberofchannels": ["3", "0"],
    "space directions": ["(nan,0,0) (0,1,0) (0,0,1)", "(0,0,0) (0,0,0) (0,0,0)", "(1,0,0) (1,0,0) (0,0,1)", "none"],
    "type": ["double", "foo", "uchar", "int64"],
    "encoding": ["gzip", "bzip2", "raw", "ascii", "hex"],
    "dimension": ["4", "0", "2"],
    "data file": ["/etc/passwd", "/dev/zero", "../x.raw", "LIST"],
    "space origin": ["(nan,0,0)"],
    "kinds": ["RGB-color domain domain", "domain domain"],
}
GENERIC_TEXT = ["nan", "0", "-1", "1e308", "", "99999999999999999999", "\x00\x01"]


def _truncate(rng, data: bytes) -> bytes:
    return data[: int(rng.integers(0, max(1, len(data))))]


def _flip(rng, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        if buf:
            buf[int(rng.integers(0, len(buf)))] ^= 1 << int(rng.integers(0, 8))
    return bytes(buf)


def _splice(rng, data: bytes) -> bytes:
    value = INTERESTING[int(rng.integers(0, len(INTERESTING)))]
    if len(data) <= len(value):
        return data
    at = (
        int(rng.integers(0, min(len(data), 2048) - len(value) + 1))
        if rng.random() < 0.7
        else int(rng.integers(0, len(data) - len(value) + 1))
    )
    return data[:at] + value + data[at + len(value) :]


def _dicom_field(rng, path: Path) -> str:
    import pydicom
    from pydicom import config

    config.settings.writing_validation_mode = config.IGNORE
    ds = pydicom.dcmread(path, force=True)
    roll = rng.random()
    if roll < 0.12:
        keyword = DICOM_DELETE[int(rng.integers(0, len(DICOM_DELETE)))]
        if keyword in ds:
            delattr(ds, keyword)
        how = f"delete {keyword}"
    elif roll < 0.22 and getattr(ds, "file_meta", None) is not None:
        uid = TRANSFER_SYNTAXES[int(rng.integers(0, len(TRANSFER_SYNTAXES)))]
        ds.file_meta.TransferSyntaxUID = uid
        how = f"TransferSyntaxUID={uid}"
    else:
        keyword = list(DICOM_VALUES)[int(rng.integers(0, len(DICOM_VALUES)))]
        values = DICOM_VALUES[keyword]
        value = values[int(rng.integers(0, len(values)))]
        setattr(ds, keyword, value)
        how = f"{keyword}={value!r}"
    try:
        ds.save_as(path)
    except Exception as exc:  # pydicom refuses some combinations: that input stays unmutated
        how += f" (not saved: {type(exc).__name__})"
    return how


def _nifti_field(rng, data: bytes, gz: bool) -> tuple[bytes, str]:
    import nibabel as nib

    raw = gzip.decompress(data) if gz else data
    header_class = nib.Nifti2Header if struct.unpack("<i", raw[:4])[0] == 540 else nib.Nifti1Header
    dtype = header_class.template_dtype
    if len(raw) < dtype.itemsize:
        return data, "nifti field (too short)"
    hdr = np.frombuffer(raw[: dtype.itemsize], dtype=dtype).copy()
    key = list(NIFTI_VALUES)[int(rng.integers(0, len(NIFTI_VALUES)))]
    values = NIFTI_VALUES[key]
    value = values[int(rng.integers(0, len(values)))]
    if key not in dtype.names:
        return data, f"nifti field {key} absent"
    hdr[key] = value
    out = hdr.tobytes() + raw[dtype.itemsize :]
    return (gzip.compress(out, 1) if gz else out), f"{key}={value!r}"


def _text_field(rng, data: bytes) -> tuple[bytes, str]:
    text = data.decode("latin-1")
    head_end = text.find("\n\n") if "\n\n" in text else len(text)
    lines = text[:head_end].split("\n")
    keyed = [i for i, ln in enumerate(lines) if "=" in ln or ":" in ln]
    if not keyed:
        return data, "text field (no header)"
    i = keyed[int(rng.integers(0, len(keyed)))]
    sep = "=" if "=" in lines[i] and (":" not in lines[i] or lines[i].index("=") < lines[i].index(":")) else ":"
    key = lines[i].split(sep)[0].strip()
    pool = TEXT_VALUES.get(key.lower(), GENERIC_TEXT)
    value = pool[int(rng.integers(0, len(pool)))]
    lines[i] = f"{key} {sep} {value}" if sep == "=" else f"{key}: {value}"
    return ("\n".join(lines) + text[head_end:]).encode("latin-1"), f"{key}={value!r}"


def _mutate_file(rng, path: Path) -> str:
    """Mutate one file in place; returns how."""
    data = path.read_bytes()
    name = path.name.lower()
    structured = {
        ".dcm": "dicom",
        ".nii": "nifti",
        ".gz": "nifti",
        ".mha": "text",
        ".mhd": "text",
        ".nrrd": "text",
        ".nhdr": "text",
    }.get(path.suffix.lower())
    roll = rng.random()
    if roll < 0.45 and structured is not None:
        try:
            if structured == "dicom":
                return _dicom_field(rng, path)
            data, how = (
                _nifti_field(rng, data, name.endswith(".gz")) if structured == "nifti" else _text_field(rng, data)
            )
        except Exception as exc:  # a seed already too damaged for a structured edit: flip bits instead
            data, how = _flip(rng, data), f"flip bits ({structured} edit failed: {type(exc).__name__})"
    elif roll < 0.6:
        data, how = _truncate(rng, data), "truncate"
    elif roll < 0.8:
        data, how = _flip(rng, data), "flip bits"
    else:
        data, how = _splice(rng, data), "splice number"
    path.write_bytes(data)
    return how


def _copy_seed(seed: Path, folder: Path) -> Path:
    """Copy a seed (with its detached data file) into ``folder``; returns the copy's path."""
    folder.mkdir(parents=True, exist_ok=True)
    for extra in seed.parent.glob(seed.stem + ".*"):
        if extra != seed and extra.suffix.lower() in (".raw", ".zraw", ".gz") and seed.suffix in (".mhd", ".nhdr"):
            shutil.copy(extra, folder / extra.name)
    return Path(shutil.copy(seed, folder / seed.name))


def special_cases(work: Path, big: bool) -> list[Case]:
    """Special files and hostile layouts, always included."""
    repo = Path(__file__).resolve().parents[1]
    series = sorted((repo / "src" / "napari_medseg" / "sample_data" / "ct_phantom").glob("*.dcm"))[:4]
    cases = []

    def folder_with_series(name: str) -> Path:
        d = work / name
        d.mkdir(parents=True)
        for p in series:
            shutil.copy(p, d / p.name)
        return d

    if hasattr(os, "mkfifo"):
        d = folder_with_series("special_fifo_in_series")
        os.mkfifo(d / "pipe.dcm")
        cases.append(Case("fifo-in-series", str(d), "FIFO named .dcm beside a series"))
        (work / "special_fifo").mkdir()
        os.mkfifo(work / "special_fifo" / "p.nii.gz")
        cases.append(Case("fifo-file", str(work / "special_fifo" / "p.nii.gz"), "FIFO named .nii.gz"))
    d = folder_with_series("special_devzero_in_series")
    (d / "zero.dcm").symlink_to("/dev/zero")
    cases.append(Case("devzero-in-series", str(d), "link to /dev/zero beside a series"))
    (work / "special_devzero").mkdir()
    (work / "special_devzero" / "zero.dcm").symlink_to("/dev/zero")
    cases.append(Case("devzero-file", str(work / "special_devzero" / "zero.dcm"), "link to /dev/zero"))
    for target, label in (("/dev/zero", "mhd-devzero"), ("/etc/passwd", "mhd-passwd")):
        (work / f"special_{label}").mkdir()
        p = work / f"special_{label}" / "a.mhd"
        p.write_text(f"NDims = 3\nDimSize = 64 64 64\nElementType = MET_UCHAR\nElementDataFile = {target}\n")
        cases.append(Case(label, str(p), f"ElementDataFile {target}"))
    (work / "special_empty").mkdir()
    for name in ("empty.nii", "empty.dcm", "empty.nrrd"):
        (work / "special_empty" / name).write_bytes(b"")
        cases.append(Case(f"empty-{name}", str(work / "special_empty" / name), "empty file"))
    (work / "special_dir.nii.gz").mkdir()
    cases.append(Case("folder-named-nii", str(work / "special_dir.nii.gz"), "a folder named .nii.gz"))
    import nibabel as nib

    hdr = nib.Nifti1Header()
    hdr.set_data_shape((2000, 2000, 2000))
    hdr.set_data_dtype(np.float64)
    (work / "special_huge").mkdir()
    p = work / "special_huge" / "huge.nii.gz"
    p.write_bytes(gzip.compress(hdr.binaryblock + b"\0" * 4 + b"\0" * 4096))
    cases.append(Case("huge-header", str(p), "header of 64 GB, 4 KB of data"))
    if big:  # a gzip bomb: 512 MiB of zeros in a 0.5 MB file (a real, large image)
        hdr.set_data_shape((1024, 1024, 512))
        hdr.set_data_dtype(np.uint8)
        (work / "special_bomb").mkdir()
        p = work / "special_bomb" / "bomb.nii.gz"
        with gzip.open(p, "wb", compresslevel=9) as fp:
            fp.write(hdr.binaryblock + b"\0" * 4)
            block = b"\0" * (1 << 24)
            for _ in range(32):
                fp.write(block)
        cases.append(Case("gzip-bomb", str(p), "512 MiB of zeros, gzip"))
    return cases


def make_cases(work: Path, n: int, seed: int, big: bool = False) -> list[Case]:
    """``n`` mutated inputs (about one in six a series folder with one damaged slice) and the special ones."""
    rng = np.random.default_rng(seed)
    seeds = write_seeds(work / "seeds")
    repo = Path(__file__).resolve().parents[1]
    series = sorted((repo / "src" / "napari_medseg" / "sample_data" / "ct_phantom").glob("*.dcm"))[:5]
    cases = special_cases(work, big)
    for i in range(n):
        if rng.random() < 1 / 6:
            d = work / f"case{i:05d}"
            d.mkdir()
            for p in series:
                shutil.copy(p, d / p.name)
            victim = d / series[int(rng.integers(0, len(series)))].name
            how = f"series, {victim.name}: {_mutate_file(rng, victim)}"
            cases.append(Case(f"case{i:05d}", str(d), how))
            continue
        source = seeds[int(rng.integers(0, len(seeds)))]
        path = _copy_seed(source, work / f"case{i:05d}")
        target = path
        if source.suffix in (".mhd", ".nhdr") and rng.random() < 0.3:  # damage the data file instead
            target = next((p for p in path.parent.iterdir() if p != path), path)
        how = f"{source.name}: {_mutate_file(rng, target)}"
        if rng.random() < 0.15:  # a second mutation on top
            how += f" + {_mutate_file(rng, target)}"
        cases.append(Case(f"case{i:05d}", str(path), how))
    return cases
