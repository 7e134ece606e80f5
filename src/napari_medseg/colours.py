"""Label colours: the palette for labels that carry no colour of their own."""
from __future__ import annotations

#: Distinct colours (Sasha Trubetskoy's list), cycled for labels 1, 2, 3, ...
DEFAULT_COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45")


def colour_of(label: int, colours: dict[int, str] | None = None) -> str:
    """``#rrggbb`` of ``label``: its own colour when ``colours`` has one, else the palette's."""
    own = (colours or {}).get(label)
    return own or DEFAULT_COLOURS[(label - 1) % len(DEFAULT_COLOURS)]
