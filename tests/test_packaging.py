"""The npe2 manifest is found by napari both from the editable install and from a built wheel."""
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

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


def test_manifest_found_from_editable_install(tmp_path):
    lines = _run(sys.executable, tmp_path)
    assert lines[1] == "['Evaluate', 'Fill between slices', 'Fine-tune (U-Net)', 'Interactive SAM', 'Recover labels', 'Segment (U-Net)']"
    assert lines[2] == "['brain_mri', 'ct_series']"
    assert lines[3] == "True"


def test_manifest_and_sample_data_ship_in_the_wheel(tmp_path):
    wheel_dir = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheel_dir), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = wheel_dir.glob("napari_medseg-*.whl")
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    # the wheel's package first; dependencies from this environment, whose .pth files
    # (the editable install's path hook among them) are not processed on PYTHONPATH
    site = sysconfig.get_paths()["purelib"]
    python = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    if not python.exists():
        pytest.skip(f"base interpreter {python} not found")
    lines = _run(str(python), tmp_path, env_path=f"{target}:{site}")
    assert lines[0].startswith(str(target))
    assert lines[1] == "['Evaluate', 'Fill between slices', 'Fine-tune (U-Net)', 'Interactive SAM', 'Recover labels', 'Segment (U-Net)']"
    assert lines[3] == "True"
