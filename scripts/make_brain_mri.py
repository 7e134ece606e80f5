"""Build the package's sample_data/brain_mri/ from the MNI ICBM152 2009 template that nilearn ships.

Run: ``.venv/bin/python scripts/make_brain_mri.py`` (needs nilearn, the dev extra).
Deterministic: the same nilearn files give byte-identical outputs.
"""

from pathlib import Path

import nibabel as nib
import nilearn
import numpy as np
from nibabel.processing import resample_from_to

from napari_medseg.samples import brain_mri_paths, brain_tissue_labels

SRC = Path(nilearn.__file__).parent / "datasets" / "data"
NAME = "mni_icbm152_{}_tal_nlin_sym_09a_converted.nii.gz"
VOXEL_MM = 2.0


def main() -> None:
    t1 = nib.load(SRC / NAME.format("t1"))
    shape = tuple(int(np.ceil(s / VOXEL_MM)) for s in t1.shape)
    affine = t1.affine.copy()
    affine[:3, :3] *= VOXEL_MM
    # keep the field of view: first 2 mm voxel centred between the first two 1 mm voxels
    affine[:3, 3] = t1.affine[:3, 3] + 0.5 * np.diag(t1.affine)[:3]
    target = (shape, affine)
    out_t1, out_labels = brain_mri_paths()
    out_t1.parent.mkdir(parents=True, exist_ok=True)

    t1_2mm = resample_from_to(t1, target, order=1).get_fdata()
    prob = {
        k: resample_from_to(nib.load(SRC / NAME.format(k)), target, order=1).get_fdata() / 255.0 for k in ("gm", "wm")
    }
    brain = nib.Nifti1Image((np.asanyarray(t1.dataobj) > 0).astype(np.float32), t1.affine)
    labels = brain_tissue_labels(prob["gm"], prob["wm"], resample_from_to(brain, target, order=1).get_fdata())

    for data, path in ((np.round(t1_2mm).astype(np.int16), out_t1), (labels, out_labels)):
        img = nib.Nifti1Image(data, affine)
        img.set_sform(affine, code=1)
        img.set_qform(affine, code=1)
        img.header.set_xyzt_units("mm")
        nib.save(img, path)
        print(f"wrote {path}: shape {data.shape}, {path.stat().st_size / 1e3:.0f} kB")
    print("voxels per label:", {int(v): int(c) for v, c in zip(*np.unique(labels, return_counts=True))})


if __name__ == "__main__":
    main()
