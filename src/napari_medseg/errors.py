"""Exceptions a user can cause. Their message is shown as-is by the GUI and the CLI."""


class MedsegError(Exception):
    """Base class: an error with a message written for the user, not a traceback."""


class VolumeReadError(MedsegError):
    """A file or folder could not be read as a volume (the message names it and why)."""


class AmbiguousInputError(VolumeReadError):
    """A path holds several things (series) where one is needed; the message lists them and how to choose."""


class GridMismatchError(MedsegError):
    """Two volumes that must share a voxel grid do not."""
