"""The napari edge of the package: reader/writer hooks, sample data and widgets.

Everything here is short and calls the Qt-free core (``napari_medseg.io``,
``napari_medseg.models``, ``napari_medseg.metrics``).
"""
