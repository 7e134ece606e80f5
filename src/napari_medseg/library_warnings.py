"""Deprecation chatter of the libraries we call (timm, MONAI), kept from users: it is not theirs to fix.

The command line calls :func:`quiet_library_warnings` once. napari thread workers need it
inside each worker: superqt's worker turns every warning to "always" for its thread and
napari shows each as a notification (a clinician saw "Importing from timm.models.registry is
deprecated" pop up), so work handed to ``create_worker`` is wrapped in :func:`quietly`,
whose filters come first.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import warnings
from collections.abc import Callable, Iterator
from typing import TypeVar

T = TypeVar("T")
#: Modules whose FutureWarnings (API deprecations inside the library) users never see.
LIBRARY_MODULES = r"(timm|monai)\."


def quiet_library_warnings() -> None:
    """Hide the libraries' deprecation warnings and MONAI's log line about NVIDIA's GPU decoder."""
    import logging

    warnings.filterwarnings("ignore", category=FutureWarning, module=LIBRARY_MODULES)
    warnings.filterwarnings("ignore", message=".*NvImgCodec.*")
    # MONAI logs that NVIDIA's GPU image decoder is absent each time it loads: nothing to fix for CPU users
    logging.getLogger("monai.data.nvimgcodec_pydicom_plugin").setLevel(logging.ERROR)


@contextlib.contextmanager
def quiet_model_run() -> Iterator[None]:
    """While inside: FutureWarnings (torch, MONAI, timm) and MONAI's UserWarnings hidden, for a
    command-line model run whose output users read; the filters are restored on leaving."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"monai\.")
        yield


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
