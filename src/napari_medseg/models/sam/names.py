"""Names of the SAM-family architectures, importable without torch (for CLI parsers)."""

SAM_TYPES = ("litemedsam", "medsam", "vit_b", "vit_l", "vit_h")
