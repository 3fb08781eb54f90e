"""The value grid of a reinforcement-learning run: each cell's map letter, greedy action and value, shaded
from dark (low) to light (high) like the book's figures, for any iteration or episode kept in samples.json."""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text

ARROWS = ("←", "↓", "→", "↑")  # FrozenLake's actions 0..3: left, down, right, up
TERMINAL = "HG"  # no action is taken from a hole or the goal


def entry(samples: dict[str, Any], index: int | None) -> tuple[dict[str, Any], int, int]:
    """(the values and policy shown, its position, how many there are): the latest unless `index` picks one."""
    history = samples.get("history") or []
    if not history:
        return {"step": None, "values": samples.get("values", []), "policy": samples.get("policy", [])}, 0, 1
    pos = len(history) - 1 if index is None else max(0, min(index, len(history) - 1))
    return history[pos], pos, len(history)


def _shade(value: float, top: float) -> Style:
    level = int(40 + 200 * max(0.0, min(1.0, value / top))) if top > 0 else 40
    return Style(bgcolor=f"#{level:02x}{level:02x}{level:02x}", color="black" if level > 140 else "white")


def _cell(letter: str, arrow: str, value: float, width: int) -> str:
    """' S→0.77' (7 columns), ' S→77' (5: hundredths) or ' S→' (3), whichever the panel's width allows."""
    if width >= 7:
        return f" {letter}{arrow}{value:4.2f}"
    if width >= 5:
        return f" {letter}{arrow}{min(99, round(value * 100)):02d}"
    return f" {letter}{arrow}"


def value_grid(samples: dict[str, Any], index: int | None = None, width: int = 80) -> Text:
    """The map with, per cell, its letter, the greedy action's arrow and V(s) (to two decimals where the
    panel is wide enough, else in hundredths, else the shade alone)."""
    grid = samples.get("map") or []
    shown, pos, count = entry(samples, index)
    values, policy = shown.get("values") or [], shown.get("policy") or []
    name = samples.get("step_name", "step")
    step = shown.get("step")
    where = f"{name} {step}" if step is not None else "latest"
    out = Text(f"{where} ({pos + 1} of {count} kept)", "bold")
    out.append("  [ ] step through, { } first/last\n", "dim")
    top = max(values, default=0.0) or 1.0
    cols = len(grid[0]) if grid else 0
    cell = width // max(cols, 1)
    for r, row in enumerate(grid):
        for c, letter in enumerate(row):
            s = r * cols + c
            if s >= len(values):
                out.append(" ?".ljust(min(cell, 7)))
                continue
            arrow = " " if letter in TERMINAL or s >= len(policy) else ARROWS[int(policy[s]) % 4]
            out.append(_cell(letter, arrow, values[s], cell), _shade(values[s], top))
        out.append("\n")
    out.append("S start  F frozen  H hole  G goal", "dim")
    if samples.get("slippery"):
        out.append("  (slippery ice)", "dim")
    return out
