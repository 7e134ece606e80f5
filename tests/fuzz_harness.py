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
import json
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fuzz_inputs import Case, make_cases

ENTRY_POINTS = ("info", "convert", "reader")
OUTCOMES = ("success", "warning", "clean error", "unclear", "traceback", "hang", "memory")
MEMORY_MARGIN = 256 * 2**20


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
        import contextlib
        import io

        from napari_medseg.cli import main

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
    return {
        "status": 0,
        "layers": len([la for la in layers if la and la[0] is not None]),
        "notes": notes,
        "nbytes": nbytes,
    }


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
            start_rss = _rss_bytes()  # the child's own resident start (a fork does not count all it shares)
            result = _child(entry, case.path, str(out))
            facts.write_text(json.dumps(result | {"start_rss": start_rss}))
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
    text = log.read_text(errors="replace") if log.exists() else ""
    info = json.loads(facts.read_text()) if facts.exists() else {}
    extra = max(0, rusage.ru_maxrss * 1024 - info.get("start_rss", base_rss))
    outcome, message = classify(entry, case, status, seconds > timeout_s, text, info, extra)
    foreign = [
        ln
        for ln in _stderr_like(entry, text)
        if ln.strip() and not ln.startswith(("medseg ", "warning:", "  ", "wrote ", "note:"))
    ]
    if foreign and outcome in ("success", "warning"):
        message = f"chatter: {foreign[0][:200]}"
    return Result(
        entry, case.name, case.how, outcome, round(seconds, 3), round(extra / 2**20, 1), bool(foreign), message
    )


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
    if status_code in (1, 2, 3):
        lines = [ln for ln in _stderr_like(entry, text) if ln.strip()]
        clean = bool(first) and _names_input(first, case) and (status_code == 2 or len(lines) == 1)
        return ("clean error" if clean else "unclear"), first or (lines[-1] if lines else "")
    if status_code != 0:
        return "unclear", f"exit {status_code}"
    warned = "warning:" in text or '"warnings": [\n        "' in text or '"warnings": ["' in text
    return ("warning" if warned else "success"), ""


def run_all(
    cases: list[Case],
    entries=ENTRY_POINTS,
    timeout_s: float = 30.0,
    memory_gib: float = 4.0,
    scratch: Path | None = None,
    progress=None,
) -> list[Result]:
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
    import napari
    import napari.layers
    import napari.utils.notifications  # noqa: F401
    import nibabel  # noqa: F401
    import pydicom  # noqa: F401
    import SimpleITK  # noqa: F401

    import napari_medseg._napari.autosave
    import napari_medseg._napari.layers
    import napari_medseg._napari.reader
    import napari_medseg.cli
    import napari_medseg.io.dicom
    import napari_medseg.io.itk
    import napari_medseg.io.nifti  # noqa: F401


def table(results: list[Result]) -> str:
    """Markdown table: outcome counts per entry point, and the chatter flag."""
    head = "| entry point | runs | " + " | ".join(OUTCOMES) + " | chatter |"
    rows = [head, "|" + "---|" * (len(OUTCOMES) + 3)]
    for entry in sorted({r.entry for r in results}, key=ENTRY_POINTS.index):
        mine = [r for r in results if r.entry == entry]
        counts = Counter(r.outcome for r in mine)
        rows.append(
            f"| {entry} | {len(mine)} | "
            + " | ".join(str(counts.get(o, 0)) for o in OUTCOMES)
            + f" | {sum(r.chatter for r in mine)} |"
        )
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
        print(
            f"{len(cases)} inputs ({args.n} mutated, seed {args.seed}), {len(results)} runs in "
            f"{time.perf_counter() - start:.0f} s; limits {args.timeout:g} s, +{args.memory_gib:g} GiB per run"
        )
        print(table(results))
        if args.json:
            Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    bad = [r for r in results if r.outcome in ("traceback", "hang", "memory", "unclear")]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
