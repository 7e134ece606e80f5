"""A user bundle's config is code: it runs only once trusted, remembered by content hash."""

from __future__ import annotations

import json

import pytest

from napari_medseg.cli import main
from napari_medseg.errors import MedsegError
from napari_medseg.models.registry import SHIPPED_BUNDLES
from napari_medseg.models.unet import trust
from napari_medseg.models.unet.bundle import load_bundle
from napari_medseg.models.unet.trust import UntrustedBundleError
from test_bundle_parity import write_spleen_style_bundle


@pytest.fixture
def user_bundle(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDSEG_CONFIG_DIR", str(tmp_path / "config"))
    root = write_spleen_style_bundle(tmp_path / "bundle")
    marker = tmp_path / "config_code_ran"
    cfg_path = root / "configs" / "inference.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["network_def"]["spatial_dims"] = f"$open({str(marker)!r}, 'w').close() or 3"  # leaves a trace if evaluated
    cfg_path.write_text(json.dumps(cfg))
    return root, marker


def test_untrusted_bundle_is_refused_before_any_config_code_runs(user_bundle):
    root, marker = user_bundle
    with pytest.raises(UntrustedBundleError, match="--trust-bundle"):
        load_bundle(root)
    assert not marker.exists()


def test_trust_is_remembered_by_content_and_lost_when_the_config_changes(user_bundle):
    root, marker = user_bundle
    load_bundle(root, trust_now=True)
    assert marker.exists()
    load_bundle(root)  # remembered: no flag needed any more
    cfg_path = root / "configs" / "inference.json"
    cfg_path.write_text(cfg_path.read_text().replace('"overlap": 0.5', '"overlap": 0.25'))
    with pytest.raises(UntrustedBundleError):
        load_bundle(root)


def test_cli_refuses_an_untrusted_bundle_in_one_line(user_bundle, tmp_path, capsys):
    root, marker = user_bundle
    from napari_medseg.samples import brain_mri_paths

    status = main(["segment", str(brain_mri_paths()[0]), "--model", str(root), "--out", str(tmp_path / "o.nii.gz")])
    err = capsys.readouterr().err.strip()
    assert status == 1 and len(err.splitlines()) == 1 and "--trust-bundle" in err
    assert not marker.exists() and not (tmp_path / "o.nii.gz").exists()


def test_shipped_bundle_is_trusted_without_asking(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDSEG_CONFIG_DIR", str(tmp_path / "empty_config"))
    assert trust.is_trusted(SHIPPED_BUNDLES / "brain_tissue")
    assert not (tmp_path / "empty_config").exists()


def test_an_edited_script_the_config_imports_asks_for_trust_again(user_bundle, tmp_path):
    root, _ = user_bundle
    ran = tmp_path / "hook_ran"
    (root / "scripts").mkdir()
    hook = root / "scripts" / "hook.py"
    hook.write_text(f"open({str(ran)!r}, 'w').write('reviewed')\n")
    cfg_path = root / "configs" / "inference.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["network_def"]["spatial_dims"] = "$exec(open(@bundle_root + '/scripts/hook.py').read()) or 3"
    cfg_path.write_text(json.dumps(cfg))
    load_bundle(root, trust_now=True)
    assert ran.read_text() == "reviewed"
    (root / "scripts" / "__pycache__").mkdir()  # Python's own caches and the weights do not count
    (root / "scripts" / "__pycache__" / "hook.cpython-311.pyc").write_bytes(b"cache")
    load_bundle(root)
    hook.write_text(f"open({str(ran)!r}, 'w').write('edited after review')\n")
    with pytest.raises(UntrustedBundleError):
        load_bundle(root)
    assert ran.read_text() == "reviewed"


def test_weights_do_not_count_in_the_trust_hash_but_other_files_do(user_bundle):
    root, _ = user_bundle
    before = trust.bundle_digest(root)
    weights = root / "models" / "model.pt"
    weights.write_bytes(weights.read_bytes() + b"\0")
    assert trust.bundle_digest(root) == before
    (root / "models" / "extra.py").write_text("print('hello')\n")
    assert trust.bundle_digest(root) != before


def test_a_config_that_is_not_valid_json_is_one_line(user_bundle):
    root, _ = user_bundle
    (root / "configs" / "inference.json").write_text('{"network_def": {')
    with pytest.raises(MedsegError) as err:
        load_bundle(root, trust_now=True)
    assert "inference.json" in str(err.value) and "\n" not in str(err.value)
