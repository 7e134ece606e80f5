"""napari-medseg: medical image segmentation in napari, in physical space."""
from .volume import Volume

__version__ = "0.1.0"
__all__ = ["Volume", "__version__"]
