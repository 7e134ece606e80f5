"""Label names and colours beside a label map, as an ITK-SNAP label description file.

A label map ``organ.nii.gz`` (or ``.nii``, ``.nrrd``, ``.mha``) gets ``organ.labels.txt``:
ITK-SNAP's own text format (*Segmentation > Import Label Descriptions*), one line per
label::

    #  IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL
         0     0    0    0     0    0   0  "Clear Label"
         1   230   25   75     1    1   1  "liver"

Our reader opens a file with such a sidecar (or a NIfTI whose intent is
``NIFTI_INTENT_LABEL``) as a label map with these names and colours.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from .atomic import atomic_path

__all__ = ["SUFFIX", "label_table_path", "read_label_table", "write_label_table"]

SUFFIX = ".labels.txt"
_VOLUME_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")

_HEADER = """################################################
# ITK-SnAP Label Description File (written by napari-medseg)
# File format:
# IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL
# Fields:
#    IDX:   Zero-based index
#    -R-:   Red color component (0..255)
#    -G-:   Green color component (0..255)
#    -B-:   Blue color component (0..255)
#    -A-:   Label transparency (0.00 .. 1.00)
#    VIS:   Label visibility (0 or 1)
#    MSH:   Label mesh visibility (0 or 1)
#  LABEL:   Label description
################################################
"""


def label_table_path(volume_path: str | Path) -> Path:
    """The sidecar of a label map: ``organ.nii.gz`` -> ``organ.labels.txt`` (same folder)."""
    path = Path(volume_path)
    lower = path.name.lower()
    stem = next((path.name[: -len(s)] for s in _VOLUME_SUFFIXES if lower.endswith(s)), path.stem)
    return path.with_name(stem + SUFFIX)


def write_label_table(path: str | Path, names: dict[int, str], colours: dict[int, str]) -> Path:
    """Write an ITK-SNAP label description file (atomic).

    Parameters
    ----------
    path : the ``.labels.txt`` file to write.
    names : label value -> name; labels without a name are called ``label N``.
    colours : label value -> ``#rrggbb``; labels without a colour are grey.
    """
    lines = [_HEADER.rstrip("\n"), f'{0:5d} {0:5d} {0:4d} {0:4d} {0:8g} {0:2d} {0:2d}    "Clear Label"']
    for value in sorted(set(names) | set(colours)):
        if value == 0:
            continue
        rgb = colours.get(value, "#808080").lstrip("#")
        r, g, b = (int(rgb[i : i + 2], 16) for i in (0, 2, 4))
        name = str(names.get(value) or f"label {value}").replace('"', "'")
        lines.append(f'{value:5d} {r:5d} {g:4d} {b:4d} {1:8g} {1:2d} {1:2d}    "{name}"')
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Path(path)


def read_label_table(path: str | Path) -> tuple[dict[int, str], dict[int, str]]:
    """Names and ``#rrggbb`` colours of the labels > 0 in an ITK-SNAP label description file.

    Lines that do not parse (comments, blank lines) are skipped.
    """
    names, colours = {}, {}
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            fields = shlex.split(line)
            value, r, g, b = (int(float(f)) for f in fields[:4])
        except ValueError:
            continue
        if value <= 0 or len(fields) < 8:
            continue
        names[value] = fields[7]
        colours[value] = "#{:02x}{:02x}{:02x}".format(*(max(0, min(255, c)) for c in (r, g, b)))
    return names, colours
