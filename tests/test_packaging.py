"""The npe2 manifest is found by napari both from the editable install and from a built wheel."""

import ast
import re
import subprocess
import sys
import sysconfig
import textwrap
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]

CHECK = textwrap.dedent(
    """
    import sys, npe2, napari_medseg
    from napari_medseg.samples import brain_mri_paths
    pm = npe2.PluginManager(); pm.discover()
    m = pm.get_manifest("napari-medseg")
    print(napari_medseg.__file__)
    print(sorted(w.display_name for w in m.contributions.widgets))
    print(sorted(s.key for s in m.contributions.sample_data))
    print(all(p.is_file() for p in brain_mri_paths()))
    """
)


def _run(python: str, cwd: Path, env_path: str | None = None) -> list[str]:
    env = None
    if env_path is not None:
        env = {"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    out = subprocess.run([python, "-c", CHECK], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()


@pytest.mark.slow
def test_manifest_found_from_editable_install(tmp_path):
    lines = _run(sys.executable, tmp_path)
    assert lines[1] == (
        "['Evaluate', 'Fill between slices', 'Fine-tune (U-Net)', 'Interactive SAM', 'Open DICOM series', "
        "'Recover labels', 'Save labels', 'Segment (U-Net)', 'Skull-strip']"
    )
    assert lines[2] == "['brain_mri', 'ct_series']"
    assert lines[3] == "True"


@pytest.mark.slow
def test_manifest_and_sample_data_ship_in_the_wheel(tmp_path):
    wheel_dir = tmp_path / "wheel"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheel_dir),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = wheel_dir.glob("napari_medseg-*.whl")
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    # the wheel's package first; dependencies from this environment, whose .pth files
    # (the editable install's path hook among them) are not processed on PYTHONPATH
    site = sysconfig.get_paths()["purelib"]
    python = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    if not python.exists():
        pytest.skip(f"base interpreter {python} not found")
    lines = _run(str(python), tmp_path, env_path=f"{target}:{site}")
    assert lines[0].startswith(str(target))
    assert lines[1] == (
        "['Evaluate', 'Fill between slices', 'Fine-tune (U-Net)', 'Interactive SAM', 'Open DICOM series', "
        "'Recover labels', 'Save labels', 'Segment (U-Net)', 'Skull-strip']"
    )
    assert lines[3] == "True"


#: Declared dependencies the package needs without importing them itself.
USED_WITHOUT_IMPORT = {
    "onnx": "torch.onnx.export writes the ONNX files with it",
    "npe2": "napari reads the plugin manifest through it",
    "pylibjpeg": "pydicom's pixel backend for JPEG Lossless / JPEG 2000, found by pydicom",
    "pylibjpeg-libjpeg": "pylibjpeg's JPEG and JPEG-LS plugin, found by pylibjpeg",
    "pylibjpeg-openjpeg": "pylibjpeg's JPEG 2000 plugin, found by pylibjpeg",
    "pyjpegls": "pydicom's JPEG-LS backend, found by pydicom",
}


def _imported_distributions() -> dict[str, set[str]]:
    """Distribution name (normalised) -> source files that import one of its top-level modules."""
    to_dist = packages_distributions()
    found: dict[str, set[str]] = {}
    for path in (ROOT / "src" / "napari_medseg").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                if top in sys.stdlib_module_names or top == "napari_medseg":
                    continue
                for dist in to_dist.get(top, [top]):
                    found.setdefault(_normalise(dist), set()).add(path.name)
    return found


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_names(requirements: list[str]) -> set[str]:
    return {_normalise(re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0]) for r in requirements}


def test_declared_dependencies_match_the_imports():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    required = _requirement_names(project["dependencies"])
    optional = set().union(*(_requirement_names(v) for v in project["optional-dependencies"].values()))
    imported = _imported_distributions()
    undeclared = {d: sorted(files) for d, files in imported.items() if d not in required | optional}
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"
    unused = required - set(imported) - set(USED_WITHOUT_IMPORT)
    assert not unused, f"declared but never imported: {sorted(unused)}"


def test_manifest_validates_with_hub_categories_and_the_package_has_hub_metadata():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_file(ROOT / "src" / "napari_medseg" / "napari.yaml")  # validates (pydantic)
    assert manifest.display_name == "MedSeg"
    assert {"Segmentation", "IO", "Measurement"} <= {str(c) for c in manifest.categories}
    out = subprocess.run(
        [sys.executable, "-m", "npe2", "validate", str(ROOT / "src" / "napari_medseg" / "napari.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0 and "valid" in out.stdout, out.stdout + out.stderr
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["authors"] and {"Homepage", "Documentation", "Issues", "Changelog"} <= set(project["urls"])
    assert "Framework :: napari" in project["classifiers"]
    assert any(c.startswith("Topic :: Scientific/Engineering :: Medical") for c in project["classifiers"])
