"""Progress on the command line: a tqdm bar on stderr, fed by the package's progress callbacks.

The bar is drawn only when stderr is a terminal (tqdm's ``disable=None``): in a log file or a
pipe nothing is drawn, so no ``\\r``-joined line builds up; the "wrote ..." lines and notes
still go to stderr, and stdout keeps only data (tables, JSON).
"""

from __future__ import annotations

import sys


class TerminalProgress:
    """A progress callback drawing one tqdm bar on stderr (when it is a terminal).

    Call it as ``progress(fraction, message)`` (fraction in [0, 1], as the segmentation
    and fine-tuning callbacks report) or use :meth:`count` as ``(done, total)`` (as the
    SAM propagation and adapter callbacks report). The bar closes itself at 100 %.

    Parameters
    ----------
    quiet : bool
        Draw nothing (``--quiet``).
    desc : str
        Label shown before the bar.
    unit : str
        What :meth:`count` counts (``slice``, ``step``).
    """

    def __init__(self, quiet: bool = False, desc: str = "", unit: str = "it"):
        self.quiet, self.desc, self.unit = quiet, desc, unit
        self._bar = None

    def _open(self, total: float, unit: str, bar_format: str | None = None):
        from tqdm import tqdm

        if self._bar is None:
            self._bar = tqdm(
                total=total,
                desc=self.desc or None,
                unit=unit,
                file=sys.stderr,
                disable=True if self.quiet else None,  # None: off when stderr is not a terminal
                mininterval=0.5,
                dynamic_ncols=True,
                leave=True,
                bar_format=bar_format,
            )
        return self._bar

    def __call__(self, fraction: float, message: str = "") -> None:
        """Report ``fraction`` (0..1) of the work done, with what is being done."""
        bar = self._open(100.0, "%", "{desc}{percentage:5.1f}%|{bar}| {elapsed}<{remaining}{postfix}")
        bar.update(max(0.0, min(100.0, 100.0 * fraction)) - bar.n)
        if message:
            bar.set_postfix_str(message[:60], refresh=False)
        if fraction >= 1.0:
            self.close()

    def count(self, done: int, total: int) -> None:
        """Report ``done`` of ``total`` items (slices, steps)."""
        bar = self._open(total, self.unit)
        bar.total = total
        bar.update(done - bar.n)
        if done >= total:
            self.close()

    def close(self) -> None:
        """End the bar (its last state stays on the terminal)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
