"""A user bundle's config is code: it runs only once trusted, remembered by content hash."""
from __future__ import annotations

import json

import pytest

from napari_medseg.cli import main
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
