"""Deprecation chatter of the libraries we call (timm, MONAI), kept from users: it is not theirs to fix.

The command line calls :func:`quiet_library_warnings` once. napari thread workers need it
inside each worker: superqt's worker turns every warning to "always" for its thread and
napari shows each as a notification (a clinician saw "Importing from timm.models.registry is
deprecated" pop up), so work handed to ``create_worker`` is wrapped in :func:`quietly`,
whose filters come first.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
#: Modules whose FutureWarnings (API deprecations inside the library) users never see.
LIBRARY_MODULES = r"(timm|monai)\."


def quiet_library_warnings() -> None:
    """Hide the libraries' deprecation warnings and MONAI's log line about NVIDIA's GPU decoder."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning, module=LIBRARY_MODULES)
    warnings.filterwarnings("ignore", message=".*NvImgCodec.*")
    # MONAI logs that NVIDIA's GPU image decoder is absent each time it loads: nothing to fix for CPU users
    logging.getLogger("monai.data.nvimgcodec_pydicom_plugin").setLevel(logging.ERROR)


def quietly(function: Callable[..., T]) -> Callable[..., T]:
    """``function`` with :func:`quiet_library_warnings` applied first, in whatever thread runs it.

    A generator function stays a generator function (napari makes a generator worker of it,
    with progress and abort), and the filters are applied when it starts running.
    """
    if inspect.isgeneratorfunction(function):

        @functools.wraps(function)
        def run_generator(*args, **kwargs):
            quiet_library_warnings()
            return (yield from function(*args, **kwargs))

        return run_generator

    @functools.wraps(function)
    def run(*args, **kwargs) -> T:
        quiet_library_warnings()
        return function(*args, **kwargs)

    return run
