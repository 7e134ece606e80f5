"""Keeping Triton out of a process that has Mesa's LLVM loaded (napari on a software OpenGL canvas)."""

from __future__ import annotations

import sys

__all__ = ["keep_triton_out_beside_mesa_llvm"]


def keep_triton_out_beside_mesa_llvm() -> bool:
    """Stop ``import triton`` when Mesa's libLLVM is loaded; True when it was stopped.

    napari's OpenGL canvas on Mesa (llvmpipe, e.g. under Xvfb or without GPU drivers) maps
    libLLVM; loading Triton's own LLVM afterwards segfaults the process (seen here with
    torch 2.15 / triton and Mesa's libLLVM-15). LiteMedSAM imports timm -> torchvision ->
    torch._dynamo, which imports triton when it is installed. The SAM models never need
    Triton, so it is marked missing before they are imported (only when libLLVM is mapped:
    outside napari nothing changes).
    """
    if "triton" in sys.modules:
        return False
    try:
        with open("/proc/self/maps") as maps:
            mesa_llvm = any("libLLVM" in line for line in maps)
    except OSError:  # not Linux
        return False
    if mesa_llvm:
        sys.modules["triton"] = None  # type: ignore[assignment]  # `import triton` now raises ImportError
    return mesa_llvm
