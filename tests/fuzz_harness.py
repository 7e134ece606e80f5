"""Seeded mutation fuzzing of the readers, shared by ``tests/test_fuzz_readers.py`` (a quick run)
and ``benchmarks/fuzz_readers.py`` (a long one).

Inputs are real files (pydicom's and nibabel's test data, our sample data, small NRRD/MHA/MHD
files written by SimpleITK) mutated with a seeded generator: truncations, byte flips,
interesting numbers spliced in, hostile header values (DICOM elements through pydicom, NIfTI
header fields, MetaImage/NRRD header lines), series folders with one damaged slice, and special
files (FIFOs, ``/dev/zero`` links, data files outside the header's folder, huge headers).

Each input goes through each entry point in a *forked* child of one process that imported
everything once (``medseg info``, ``medseg convert`` through ``napari_medseg.cli.main``, and
the napari reader hook ``get_reader`` + the function it returns), with a wall-clock limit
(the child is killed: a *hang*) and an address-space limit (``RLIMIT_AS``). Outcomes:

success      exit 0, no warning
warning      exit 0 with warnings (CLI "warning:" lines, reader warning notifications)
clean error  a refusal: exit 1/2 and the first line ``medseg CMD: ...`` naming the input
             (CLI), or an error notification naming it and no layer (reader), or the
             reader hook declining the path (napari then says no reader fits)
unclear      a refusal that is not one line naming the input
traceback    an uncaught exception, or a crash by signal
hang         killed after the time limit
memory       a MemoryError, or peak memory above 2x the output's size + 256 MiB over the start
chatter      (a flag, counted apart) stderr lines that are not ours (library messages)

Run ``python tests/fuzz_harness.py --n 200`` for a table.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import shutil
import signal
import struct
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ENTRY_POINTS = ("info", "convert", "reader")
OUTCOMES = ("success", "warning", "clean error", "unclear", "traceback", "hang", "memory")
MEMORY_MARGIN = 256 * 2**20


@dataclass
class Case:
    """One fuzzed input: a file or folder, and how it was made."""

    name: str
    path: str
    how: str


@dataclass
class Result:
    entry: str
    case: str
    how: str
    outcome: str
    seconds: float
    extra_mib: float
    chatter: bool
    message: str


# --- seeds -----------------------------------------------------------------------------------------

def _site(module: str) -> Path:
    return Path(__import__(module).__file__).parent


PYDICOM_SEEDS = ("MR_small.dcm", "CT_small.dcm", "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm",
                 "MR_small_bigendian.dcm", "MR_small_implicit.dcm", "JPEG2000.dcm", "rtdose.dcm",
                 "liver_1frame.dcm", "SC_rgb_small_odd.dcm", "rtdose_1frame.dcm", "emri_small.dcm")
NIBABEL_SEEDS = ("anatomical.nii", "example4d.nii.gz", "example_nifti2.nii.gz", "standard.nii.gz",
                 "row_major.dconn.nii")


def write_seeds(folder: Path) -> list[Path]:
    """Copies of the real seed files and small NRRD/NHDR/MHA/MHD files, in ``folder``."""
    import SimpleITK as sitk

    folder.mkdir(parents=True, exist_ok=True)
    seeds = []
    sources = [_site("pydicom") / "data" / "test_files" / n for n in PYDICOM_SEEDS]
    sources += [_site("nibabel") / "tests" / "data" / n for n in NIBABEL_SEEDS]
    repo = Path(__file__).resolve().parents[1]
    sources += [repo / "sample_data" / "ct_phantom_organ.nii.gz", repo / "sample_data" / "ct_phantom" / "slice_000.dcm"]
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
    "Rows": [0, 1, 65535, 3], "Columns": [0, 1, 65535, 5],
    "BitsAllocated": [0, 1, 7, 8, 12, 32, 64, 255], "BitsStored": [0, 1, 17, 64],
    "PixelRepresentation": [1, 2], "SamplesPerPixel": [0, 3, 4],
    "PixelSpacing": ["nan\\1", "0\\0", "-1\\1", "1", "", "inf\\inf", "1e308\\1e308", "1\\2\\3"],
    "ImageOrientationPatient": ["nan\\0\\0\\0\\1\\0", "1\\0\\0\\1\\0\\0", "0\\0\\0\\0\\0\\0", "2\\0\\0\\0\\2\\0",
                                "1\\0\\0\\0\\1", "1e308\\0\\0\\0\\1\\0"],
    "ImagePositionPatient": ["nan\\0\\0", "inf\\0\\0", "1e308\\1e308\\1e308", "0\\0", "-inf\\nan\\0"],
    "RescaleSlope": ["nan", "inf", "0", "-1e308", "1e308"], "RescaleIntercept": ["nan", "-inf", "1e308"],
    "SliceThickness": ["0", "nan", "-5"], "SpacingBetweenSlices": ["0", "nan", "-5", "inf"],
    "PhotometricInterpretation": ["PALETTE COLOR", "RGB", "YBR_FULL", "MONOCHROME1", ""],
    "GridFrameOffsetVector": ["nan\\1", "", "0\\0\\0", "1e308"],
    "HighBit": [0, 31], "PlanarConfiguration": [1, 5],
}
DICOM_DELETE = ("PixelData", "Rows", "ImagePositionPatient", "PixelSpacing", "SeriesInstanceUID",
                "ImageOrientationPatient", "BitsAllocated", "PhotometricInterpretation")
TRANSFER_SYNTAXES = ("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.2",
                     "1.2.840.10008.1.2.1.99", "1.2.3", "1.2.840.10008.1.2", "1.2.840.10008.1.2.4.90")

NIFTI_VALUES = {
    "dim": [[3, 0, 4, 4, 1, 1, 1, 1], [4, 4, 4, 4, 5, 1, 1, 1], [3, 32767, 32767, 32767, 1, 1, 1, 1],
            [-1, 4, 4, 4, 1, 1, 1, 1], [7, 1, 1, 1, 1, 1, 1, 2], [3, 2000, 2000, 2000, 1, 1, 1, 1]],
    "pixdim": [[1, np.nan, 1, 1, 1, 1, 1, 1], [1, 0, 0, 0, 1, 1, 1, 1], [1, -1, 1, 1, 1, 1, 1, 1],
               [0, 1, 1, 1, 1, 1, 1, 1], [np.nan, 1, 1, 1, 1, 1, 1, 1], [1, np.inf, 1, 1, 1, 1, 1, 1]],
    "datatype": [32, 128, 2304, 1792, 0, 255, 1024, 1280, 16, 64, 2048],
    "bitpix": [0, 7, 128], "vox_offset": [0, 1e9, -1, np.nan, 351],
    "scl_slope": [np.nan, np.inf, 0, -1e38], "scl_inter": [np.nan, np.inf],
    "srow_x": [[np.nan, 0, 0, 0], [0, 0, 0, 0]], "srow_y": [[0, np.inf, 0, 0], [0, 0, 0, 0]],
    "srow_z": [[0, 0, 0, np.nan]], "quatern_b": [np.nan, 2.0], "quatern_d": [np.nan, -3.0],
    "qoffset_x": [np.nan, 1e38], "qform_code": [0, 1, -1, 99], "sform_code": [0, 1, -1, 99],
    "intent_code": [3001, 1007, 2003, 1011], "magic": [b"ni1\0", b"xxx\0"],
}

TEXT_VALUES = {
    "dimsize": ["0 0 0", "100000 100000 100000", "-1 5 5", "5 5", "5 5 5 5", "6 7 800000"],
    "sizes": ["0 0 0", "100000 100000 100000", "-1 5 5", "5 5", "8 7 600000"],
    "elementspacing": ["nan 1 1", "0 0 0", "-1 1 1", "inf 1 1", "1e308 1e308 1e308"],
    "elementtype": ["MET_DOUBLE", "MET_FOO", "MET_UCHAR", "MET_LONG_LONG"],
    "transformmatrix": ["nan 0 0 0 1 0 0 0 1", "0 0 0 0 0 0 0 0 0", "1 0 0 1 0 0 0 0 1", "2 0 0 0 2 0 0 0 2"],
    "offset": ["nan 0 0", "inf inf inf"], "ndims": ["4", "0", "2", "-1"],
    "elementdatafile": ["/etc/passwd", "../../x.raw", "/dev/zero", "LIST", "nonexistent.raw", "LOCAL"],
    "compresseddata": ["True"], "elementnumberofchannels": ["3", "0"],
    "space directions": ["(nan,0,0) (0,1,0) (0,0,1)", "(0,0,0) (0,0,0) (0,0,0)", "(1,0,0) (1,0,0) (0,0,1)", "none"],
    "type": ["double", "foo", "uchar", "int64"], "encoding": ["gzip", "bzip2", "raw", "ascii", "hex"],
    "dimension": ["4", "0", "2"], "data file": ["/etc/passwd", "/dev/zero", "../x.raw", "LIST"],
    "space origin": ["(nan,0,0)"], "kinds": ["RGB-color domain domain", "domain domain"],
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
    at = int(rng.integers(0, min(len(data), 2048) - len(value) + 1)) if rng.random() < 0.7 else \
        int(rng.integers(0, len(data) - len(value) + 1))
    return data[:at] + value + data[at + len(value):]


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
    out = hdr.tobytes() + raw[dtype.itemsize:]
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
    structured = {".dcm": "dicom", ".nii": "nifti", ".gz": "nifti", ".mha": "text", ".mhd": "text",
                  ".nrrd": "text", ".nhdr": "text"}.get(path.suffix.lower())
    roll = rng.random()
    if roll < 0.45 and structured is not None:
        try:
            if structured == "dicom":
                return _dicom_field(rng, path)
            data, how = (_nifti_field(rng, data, name.endswith(".gz")) if structured == "nifti"
                         else _text_field(rng, data))
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
    series = sorted((repo / "sample_data" / "ct_phantom").glob("*.dcm"))[:4]
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
    series = sorted((repo / "sample_data" / "ct_phantom").glob("*.dcm"))[:5]
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


# --- running ---------------------------------------------------------------------------------------

def _vm_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _child(entry: str, path: str, out: str) -> dict:
    """Run one entry point in this (forked) process; returns facts for the parent."""
    if entry in ("info", "convert"):
        from napari_medseg.cli import main

        import contextlib
        import io

        argv = ["info", path, "--json"] if entry == "info" else ["convert", path, out]
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            status = main(argv)
        sys.stdout.write(printed.getvalue())
        nbytes = 0
        if entry == "info" and status == 0:  # what it described: at least one byte per voxel
            shapes = [s["shape"] for s in json.loads(printed.getvalue())["series"] if s["shape"]]
            nbytes = int(sum(np.prod(shape) for shape in shapes))
        if entry == "convert" and status == 0 and Path(out).exists():
            import nibabel as nib

            img = nib.load(out)
            nbytes = int(np.prod(img.shape)) * img.get_data_dtype().itemsize
        return {"status": status, "nbytes": nbytes}
    from napari.utils.notifications import notification_manager

    from napari_medseg._napari.reader import get_reader

    notes: list[tuple[str, str]] = []
    notification_manager.notification_ready.connect(lambda n: notes.append((str(n.severity), str(n.message))))
    reader = get_reader(path)
    if reader is None:
        return {"status": 0, "declined": True, "notes": notes, "nbytes": 0}
    layers = reader(path)
    nbytes = sum(int(getattr(layer[0], "nbytes", 0) or 0) for layer in layers if layer and layer[0] is not None)
    return {"status": 0, "layers": len([la for la in layers if la and la[0] is not None]), "notes": notes,
            "nbytes": nbytes}


def run_one(entry: str, case: Case, scratch: Path, timeout_s: float, memory_bytes: int) -> Result:
    """Run ``entry`` on ``case`` in a forked child with time and address-space limits."""
    scratch.mkdir(parents=True, exist_ok=True)
    log, facts, out = scratch / "log.txt", scratch / "facts.json", scratch / "out.nii.gz"
    for p in (log, facts, out):
        p.unlink(missing_ok=True)
    base_rss = _rss_bytes()
    start = time.perf_counter()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            limit = _vm_bytes() + memory_bytes
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            result = _child(entry, case.path, str(out))
            facts.write_text(json.dumps(result))
        except MemoryError:
            traceback.print_exc()
            code = 4
        except BaseException:  # what the harness is looking for: an uncaught exception
            traceback.print_exc()
            code = 3
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
    deadline = start + timeout_s
    status = rusage = None
    while True:
        done, status, rusage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.perf_counter() > deadline:
            os.kill(pid, signal.SIGKILL)
            _, status, rusage = os.wait4(pid, 0)
            break
        time.sleep(0.01)
    seconds = time.perf_counter() - start
    extra = max(0, rusage.ru_maxrss * 1024 - base_rss)
    text = log.read_text(errors="replace") if log.exists() else ""
    info = json.loads(facts.read_text()) if facts.exists() else {}
    outcome, message = classify(entry, case, status, seconds > timeout_s, text, info, extra)
    foreign = [ln for ln in _stderr_like(entry, text)
               if ln.strip() and not ln.startswith(("medseg ", "warning:", "  ", "wrote ", "note:"))]
    if foreign and outcome in ("success", "warning"):
        message = f"chatter: {foreign[0][:200]}"
    return Result(entry, case.name, case.how, outcome, round(seconds, 3), round(extra / 2**20, 1), bool(foreign),
                  message)


def _stderr_like(entry: str, text: str) -> list[str]:
    """Lines of the child's output that are neither the JSON of ``info --json`` nor known output."""
    if entry == "info":
        try:
            start = text.index("{")
            end = text.rindex("}") + 1
            json.loads(text[start:end])
            text = text[:start] + text[end:]
        except ValueError:
            pass
    return text.splitlines()


def _names_input(message: str, case: Case) -> bool:
    return case.path in message or Path(case.path).name in message


def classify(entry, case, status, timed_out, text, info, extra) -> tuple[str, str]:
    """The outcome of one run and the message to keep."""
    first = next((ln for ln in text.splitlines() if ln.startswith("medseg ")), "")
    if timed_out:
        return "hang", ""
    if os.WIFSIGNALED(status):
        return "traceback", f"killed by signal {os.WTERMSIG(status)}"
    code = os.WEXITSTATUS(status)
    if code == 4 or "MemoryError" in text:
        return "memory", text.strip().splitlines()[-1] if text.strip() else ""
    if code == 3 or "Traceback (most recent call last)" in text:
        return "traceback", text.strip().splitlines()[-1] if text.strip() else ""
    if extra > 2 * info.get("nbytes", 0) + MEMORY_MARGIN:
        return "memory", f"{extra / 2**20:.0f} MiB over the start for {info.get('nbytes', 0)} output bytes"
    if entry == "reader":
        if info.get("declined"):
            return "clean error", "declined by get_reader"
        errors = [m for sev, m in info.get("notes", []) if "error" in sev.lower()]
        warns = [m for sev, m in info.get("notes", []) if "warn" in sev.lower()]
        if errors or not info.get("layers"):
            msg = errors[0] if errors else "no layer and no message"
            clean = len(errors) == 1 and "\n" not in msg and _names_input(msg, case)
            return ("clean error" if clean else "unclear"), msg
        return ("warning" if warns else "success"), ""
    status_code = info.get("status", code)
    if status_code in (1, 2):
        lines = [ln for ln in _stderr_like(entry, text) if ln.strip()]
        clean = bool(first) and _names_input(first, case) and (status_code == 2 or len(lines) == 1)
        return ("clean error" if clean else "unclear"), first or (lines[-1] if lines else "")
    if status_code != 0:
        return "unclear", f"exit {status_code}"
    warned = "warning:" in text or '"warnings": [\n        "' in text or '"warnings": ["' in text
    return ("warning" if warned else "success"), ""


def run_all(cases: list[Case], entries=ENTRY_POINTS, timeout_s: float = 30.0, memory_gib: float = 4.0,
            scratch: Path | None = None, progress=None) -> list[Result]:
    """Every case through every entry point; ``progress(i, total, result)`` after each run."""
    scratch = scratch or Path(tempfile.mkdtemp(prefix="fuzz-scratch-"))
    results = []
    total = len(cases) * len(entries)
    for case in cases:
        for entry in entries:
            results.append(run_one(entry, case, scratch, timeout_s, int(memory_gib * 2**30)))
            if progress is not None:
                progress(len(results), total, results[-1])
    return results


def preload() -> None:
    """Import what the entry points use once, before forking (each child then starts at once)."""
    import napari  # noqa: F401
    import napari.layers  # noqa: F401
    import napari.utils.notifications  # noqa: F401
    import nibabel  # noqa: F401
    import pydicom  # noqa: F401
    import SimpleITK  # noqa: F401

    import napari_medseg._napari.autosave  # noqa: F401
    import napari_medseg._napari.layers  # noqa: F401
    import napari_medseg._napari.reader  # noqa: F401
    import napari_medseg.cli  # noqa: F401
    import napari_medseg.io.dicom  # noqa: F401
    import napari_medseg.io.itk  # noqa: F401
    import napari_medseg.io.nifti  # noqa: F401


def table(results: list[Result]) -> str:
    """Markdown table: outcome counts per entry point, and the chatter flag."""
    head = "| entry point | runs | " + " | ".join(OUTCOMES) + " | chatter |"
    rows = [head, "|" + "---|" * (len(OUTCOMES) + 3)]
    for entry in sorted({r.entry for r in results}, key=ENTRY_POINTS.index):
        mine = [r for r in results if r.entry == entry]
        counts = Counter(r.outcome for r in mine)
        rows.append(f"| {entry} | {len(mine)} | " + " | ".join(str(counts.get(o, 0)) for o in OUTCOMES)
                    + f" | {sum(r.chatter for r in mine)} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=60, help="mutated inputs (special files come on top)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per run before it counts as a hang")
    parser.add_argument("--memory-gib", type=float, default=4.0, help="address space a run may add")
    parser.add_argument("--big", action="store_true", help="include a 512 MiB gzip bomb")
    parser.add_argument("--entries", default=",".join(ENTRY_POINTS))
    parser.add_argument("--json", metavar="FILE", help="write every result as JSON")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("NAPARI_MEDSEG_AUTOSAVE", tempfile.mkdtemp(prefix="fuzz-autosave-"))
    work = Path(tempfile.mkdtemp(prefix="fuzz-inputs-"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom's complaints about the values we write on purpose
            cases = make_cases(work, args.n, args.seed, big=args.big)
        preload()

        def progress(i, total, r):
            if not args.quiet and (r.outcome not in ("success", "warning", "clean error") or i % 100 == 0):
                print(f"[{i}/{total}] {r.entry} {r.case} ({r.how}): {r.outcome} {r.message[:160]}", file=sys.stderr)

        start = time.perf_counter()
        results = run_all(cases, args.entries.split(","), args.timeout, args.memory_gib, work / "scratch", progress)
        print(f"{len(cases)} inputs ({args.n} mutated, seed {args.seed}), {len(results)} runs in "
              f"{time.perf_counter() - start:.0f} s; limits {args.timeout:g} s, +{args.memory_gib:g} GiB per run")
        print(table(results))
        if args.json:
            Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    bad = [r for r in results if r.outcome in ("traceback", "hang", "memory", "unclear")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
