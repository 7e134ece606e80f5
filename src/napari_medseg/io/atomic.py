"""Atomic file writes: write to a temporary file beside the target, then rename.

Files written here get the permissions any other program would give them: a new file
``0666`` less the process umask (``mkstemp`` alone makes ``0600``), a replaced file keeps
its mode. A process killed mid-write (SIGKILL, power loss) cannot remove its temporary
file, so temporary names carry the host and process id
(``.NAME.medseg-HOST-PID-RANDOM.tmpSUFFIX``) and every later write into the same folder
removes those left by processes of this host that are no longer running.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
from pathlib import Path

__all__ = ["atomic_path", "new_file_mode", "remove_stale_temporaries"]

_TEMP = re.compile(r"^\..+\.medseg-(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)-[A-Za-z0-9_]+\.tmp")


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname())[:32] or "host"


def new_file_mode() -> int:
    """``0o666`` less the process umask (read from /proc on Linux, so no thread ever changes it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fp:
            for line in fp:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass  # not Linux, or a kernel before 4.7: ask os.umask below
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove temporary files left in ``folder`` by killed processes of this host; return them."""
    removed: list[Path] = []
    host = _host()
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = _TEMP.match(name)
        if match and match["host"] == host and int(match["pid"]) != os.getpid() and not _running(int(match["pid"])):
            with contextlib.suppress(FileNotFoundError):  # another process cleaned it first
                os.unlink(Path(folder) / name)
                removed.append(Path(folder) / name)
    return removed


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    The temporary name keeps the target's suffixes (``.nii.gz``), so writers that pick
    a format from the extension behave the same. On error the temporary file is removed
    and ``path`` is left untouched. See the module docstring for modes and killed writes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent)
    suffix = "".join(path.suffixes)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.medseg-{_host()}-{os.getpid()}-", suffix=f".tmp{suffix}", dir=path.parent
    )
    os.close(fd)
    try:
        yield Path(tmp)
        try:
            mode = os.stat(path).st_mode & 0o7777  # a replaced file keeps its mode
        except FileNotFoundError:
            mode = new_file_mode()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
