"""Which package may import which: the core never imports napari or Qt, io never imports metrics or models."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from napari_medseg.colours import DEFAULT_COLOURS, colour_of, palette_rgb
from napari_medseg.label_maps import present_labels, voxel_counts
from napari_medseg.metrics.overlap import label_volumes_ml

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "napari_medseg"


def _imported_modules(path: Path) -> set[str]:
    """Absolute names of the modules a source file imports (relative imports resolved)."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = parts[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:  # "from . import x" imports the module x when there is one
                sub = PACKAGE.parent.joinpath(*module.split("."), alias.name)
                names.add(f"{module}.{alias.name}" if sub.is_dir() or sub.with_suffix(".py").is_file() else module)
    return names


def _sources(sub: str = "") -> list[Path]:
    return sorted((PACKAGE / sub).rglob("*.py"))


#: Fronts that open napari: the plugin package and ``medseg gui``.
FRONTS = ("_napari", "gui.py")


@pytest.mark.parametrize("path", [p for p in _sources() if not set(FRONTS) & set(p.parts)], ids=lambda p: p.name)
def test_the_core_imports_neither_napari_nor_qt(path):
    gui = ("napari", "qtpy", "PyQt5", "PyQt6", "magicgui", "superqt")
    bad = {m for m in _imported_modules(path) if m.split(".")[0] in gui}
    assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", _sources("io"), ids=lambda p: p.name)
def test_io_imports_neither_metrics_nor_models_nor_its_own_package_init(path):
    mods = _imported_modules(path)
    bad = {m for m in mods if m.startswith(("napari_medseg.metrics", "napari_medseg.models"))}
    if path.name != "__init__.py":
        bad |= {m for m in mods if m == "napari_medseg.io"}
    assert not bad, f"{path.relative_to(PACKAGE)} imports {sorted(bad)}"


def test_there_are_no_symlinks_inside_the_package():
    assert not [p for p in PACKAGE.rglob("*") if p.is_symlink()]


def test_present_labels_are_the_nonzero_values_with_voxels_and_volumes_count_them():
    labels = np.zeros((4, 5, 6), np.uint8)
    labels[0, 0, :3], labels[3, 4, 5] = 7, 2
    assert present_labels(labels) == [2, 7]
    assert present_labels(np.zeros((2, 2, 2), np.uint8)) == []
    assert voxel_counts(labels, chunk=7).tolist() == [116, 0, 1, 0, 0, 0, 0, 3]
    assert label_volumes_ml(labels, (2.0, 1.0, 0.5)) == {2: 0.001, 7: 0.003}


def test_overviews_and_layers_share_one_palette():
    rgb = palette_rgb()
    assert rgb.shape == (len(DEFAULT_COLOURS), 3)
    for label in (1, 5, len(DEFAULT_COLOURS) + 2):
        hex_colour = "#" + "".join(f"{int(v):02x}" for v in rgb[(label - 1) % len(rgb)])
        assert hex_colour == colour_of(label)


def test_no_module_of_the_package_is_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in _sources() if (n := len(p.read_text().splitlines())) > 400}
    assert not long, f"split these by concept: {long}"


def test_the_adapt_panel_drives_the_sam_widget_through_its_public_interface():
    tree = ast.parse((PACKAGE / "_napari" / "adapt_panel.py").read_text())
    private = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and isinstance(node.value, ast.Name)
        and node.value.id == "owner"
    }
    assert not private, f"adapt_panel reads SamWidget's private attributes {sorted(private)}"
