"""napari-medseg: medical image segmentation in napari, in physical space."""

from importlib.metadata import PackageNotFoundError, version

from .volume import Volume

try:
    __version__ = version("napari-medseg")  # set at install time from the git tag (hatch-vcs)
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "unknown"
__all__ = ["Volume", "__version__"]
