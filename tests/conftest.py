"""Shared fixtures: small synthetic volumes with awkward geometry."""

from __future__ import annotations

import os

import numpy as np
import pytest

#: Fixtures that open a napari viewer or a Qt application: their tests are marked ``gui``.
GUI_FIXTURES = {"make_napari_viewer", "make_napari_viewer_proxy", "qtbot", "qapp"}


def pytest_collection_modifyitems(config, items):
    """Mark every test that uses a viewer or Qt fixture as ``gui`` (``pytest -m "not gui"`` skips them)."""
    for item in items:
        if GUI_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.gui)


@pytest.fixture(autouse=True)
def _throwaway_autosave(tmp_path, monkeypatch):
    """Autosave snapshots go to each test's temporary folder; the timer is set by the tests that use it."""
    monkeypatch.setenv("NAPARI_MEDSEG_AUTOSAVE", str(tmp_path / "autosave"))
    monkeypatch.setattr("napari_medseg._napari.autosave.DELAY_S", 3600.0, raising=False)
    monkeypatch.setattr("napari_medseg._napari.autosave.MAX_WAIT_S", 3600.0, raising=False)


@pytest.fixture(autouse=True, scope="session")
def _throwaway_model_cache(tmp_path_factory):
    """Exported networks and embeddings go to pytest's temporary folder, not the user's cache."""
    old = os.environ.get("NAPARI_MEDSEG_CACHE")
    os.environ["NAPARI_MEDSEG_CACHE"] = str(tmp_path_factory.mktemp("model-cache"))
    yield
    if old is None:
        del os.environ["NAPARI_MEDSEG_CACHE"]
    else:
        os.environ["NAPARI_MEDSEG_CACHE"] = old


def rotation(axis: np.ndarray, angle_deg: float) -> np.ndarray:
    """3x3 rotation matrix about ``axis`` (Rodrigues)."""
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    a = np.deg2rad(angle_deg)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


@pytest.fixture
def oblique_ras_affine() -> np.ndarray:
    """A NIfTI (RAS) affine with permuted, flipped, oblique and anisotropic axes."""
    perm_flip = np.array([[0, 0, -1], [1, 0, 0], [0, -1, 0]], float)  # i->-S.. etc
    lin = rotation([1, 2, 0.5], 12.0) @ perm_flip @ np.diag([0.7, 1.3, 2.5])
    aff = np.eye(4)
    aff[:3, :3] = lin
    aff[:3, 3] = [-40.5, 12.25, 60.0]
    return aff


@pytest.fixture
def random_image() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(-1000, 2000, size=(13, 17, 11)).astype(np.int16)
