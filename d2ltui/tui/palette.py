"""The command palette's finders: every model, preset, lab, run and action, fuzzy-matched, each hit with its kind."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path
from typing import Any, Callable

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

WEIGHT = {"model": 1.0, "lab": 1.0, "preset": 0.98, "run": 0.97, "sweep": 0.97}  # a model before its namesake preset
RUN_HITS = 12  # runs offered for one query: only these have their status read (thousands of runs stay instant)


def display(kind: str, name: Content | str) -> Content:
    """'model  lenet': the kind, dimmed and padded, then the (highlighted) name."""
    return Content.assemble((f"{kind:<7}", "dim"), name)


def escaped(text: str) -> str:
    return text.replace("[", r"\[")


class Everything(Provider):
    """Models (open in the inspector), presets (load in the training panel), labs (open) and runs (open their
    dashboard, or overlay with the marked runs). The registries and the runs folder's listing import no torch."""

    async def startup(self) -> None:
        from d2ltui.config.presets import list_presets
        from d2ltui.labs.registry import all_labs
        from d2ltui.tui.runrows import run_entries
        from d2ltui.zoo.registry import all_specs

        app: Any = self.app
        self.items: list[tuple[str, str, str, Callable]] = [
            *(("model", s.name, s.doc, partial(app.open_model, s.name)) for s in all_specs()),
            *(("preset", p.name, f"{p.model} on {p.data}: {p.description}", partial(app.open_preset, p.name))
              for p in list_presets()),
            *(("lab", s.name, s.title, partial(app.open_lab, s.name)) for s in all_labs())]
        self.runs = await asyncio.to_thread(run_entries, app.runs_dir)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for kind, name, help_text, command in self.items:
            if (score := matcher.match(name)) > 0:
                yield Hit(score * WEIGHT[kind], display(kind, matcher.highlight(name)), command, text=name,
                          help=escaped(help_text))
        scored = sorted(((matcher.match(entry.id), entry) for entry in self.runs), key=lambda hit: -hit[0])
        best = [(score, entry) for score, entry in scored[:RUN_HITS] if score > 0]
        for (score, entry), state in zip(best, await asyncio.to_thread(_states, [e for _, e in best])):
            kind = "sweep" if entry.kind == "sweep" else "run"
            yield Hit(score * WEIGHT[kind], display(kind, matcher.highlight(entry.id)), partial(self.app.open_entry, entry),
                      text=entry.id, help=escaped(state))
            if (marked := _marked(self.screen)) and entry.kind == "run":
                yield Hit(score * WEIGHT["run"] * 0.99, display("run", matcher.highlight(entry.id)),
                          partial(self.screen.overlay_with, entry.path), text=f"overlay {entry.id}",
                          help=f"overlay with the {len(marked)} marked run(s)")


def _states(entries: list) -> list[str]:
    """The shown runs' state lines, read only for the hits offered."""
    from d2ltui.rundir.store import read_status

    out = []
    for entry in entries:
        if entry.kind == "sweep":
            out.append("sweep: open its overlay and table")
            continue
        status = read_status(Path(entry.path)) if Path(entry.path).is_dir() else {"state": "pending"}
        message = status.get("message") or ""
        out.append(f"{status.get('state', '?')}{': ' + str(message) if message else ''}")
    return out


def _marked(screen: Any) -> set[str]:
    return getattr(screen, "marked", set()) if hasattr(screen, "overlay_with") else set()


class Actions(Provider):
    """Every action of the app and of the screen the palette was opened on (the app's system commands)."""

    async def discover(self) -> Hits:
        for name, help_text, callback, discover in sorted(self.app.get_system_commands(self.screen),
                                                             key=lambda command: command[0]):
            if discover:
                yield DiscoveryHit(display("action", name), callback, text=name, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback, *_ in self.app.get_system_commands(self.screen):
            if (score := matcher.match(name)) > 0:
                yield Hit(score, display("action", matcher.highlight(name)), callback, text=name, help=help_text)
