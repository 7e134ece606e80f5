"""What C and C++ libraries print straight to file descriptor 2, collected instead of shown.

ITK's MetaIO, OpenJPEG and libjpeg write their complaints to stderr themselves; a clinician's
terminal (and our one-line refusals) should carry our message, with theirs as its reason.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading

__all__ = ["native_stderr"]

_STDERR_LOCK = threading.Lock()


@contextlib.contextmanager
def native_stderr(into: list[str]):
    """Collect what native code prints on stderr while the block runs into ``into`` (one item a line).

    File descriptor 2 is redirected while the block runs (under a lock): anything another
    thread prints in that time is collected too instead of shown.
    """
    with _STDERR_LOCK, tempfile.TemporaryFile() as tmp:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read(1 << 16).decode("utf-8", errors="replace")
            into.extend(" ".join(line.split()) for line in text.splitlines() if line.strip())
