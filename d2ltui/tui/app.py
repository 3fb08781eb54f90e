"""The workbench app: one factory for the CLI and the tests, run launching and safe quitting."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.binding import Binding

from d2ltui.tui.palette import Actions, Everything
from d2ltui.tui.screens.browse import BrowseScreen

if TYPE_CHECKING:  # run directories, launching and dialogs load on first use, after the first paint
    from d2ltui.config.schema import RunConfig
    from d2ltui.engine.launching.processes import Launch
    from d2ltui.rundir.runs import RunEntry


class WorkbenchApp(App):
    """Browse, configure, train and watch, compare runs."""

    CSS_PATH = "app.tcss"
    TITLE = "d2l-tui"
    COMMANDS = {Everything, Actions}  # the palette finds models, presets, labs, runs and actions
    BINDINGS = [
        Binding("q", "quit", "Quit", tooltip="quit (asks first when a run goes on)"),
        Binding("question_mark", "help", "Help", key_display="?", tooltip="this help"),
        Binding("r", "runs", "Runs", tooltip="the runs screen"),
    ]

    def __init__(self, runs_dir: str | Path | None = None, attach: str | None = None) -> None:
        super().__init__()
        self._runs_dir = Path(runs_dir).expanduser() if runs_dir else None
        self.attach = attach
        self.launches: list[Launch] = []

    @property
    def runs_dir(self) -> Path:
        """The folder of run directories (the default one is looked up on first use)."""
        if self._runs_dir is None:
            from d2ltui.paths import default_runs_dir

            self._runs_dir = default_runs_dir()
        return self._runs_dir

    def on_mount(self) -> None:
        self.push_screen(BrowseScreen())
        if self.attach:
            from d2ltui.rundir.store import RunDir

            self.open_run(RunDir.find(self.attach, self.runs_dir, starting=True).path)
        self.set_timer(1.0, lambda: self.run_worker(self._announce_live_runs, thread=True, group="startup"))

    def _announce_live_runs(self) -> None:
        """After the first paint: say which runs (from any terminal) are training right now."""
        from d2ltui.rundir.states import LIVE_STATES
        from d2ltui.rundir.runs import list_runs

        from d2ltui.errors import UserError

        try:
            live = [run.id for run in list_runs(self.runs_dir) if run.state in LIVE_STATES]
        except (UserError, OSError) as err:
            self.call_from_thread(self.notify, str(err), title="runs folder", severity="error")
            return
        if live:
            self.call_from_thread(self.notify, f"{', '.join(live[:3])}{' ...' if len(live) > 3 else ''}: "
                                  "press r for the runs screen", title=f"{len(live)} run(s) training")

    def get_system_commands(self, screen):
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help", "Keys and what they do", self.action_help)
        yield SystemCommand("Runs", "Every run: compare, resume, delete, attach", self.action_runs)
        if isinstance(screen, BrowseScreen):
            yield SystemCommand("Start training", "Start a run with the Train tab's settings", screen.action_start)
            yield SystemCommand("Cycle normalisation", "none -> batch -> layer", screen.action_cycle_norm)
            yield SystemCommand("Edit input shape", "Focus the input shape field", screen.action_focus_input)
            yield SystemCommand("Train tab", "Show the configuration panel", lambda: screen.run_action("show_tab('train')"))
            yield SystemCommand("Layers tab", "Show the layer table", lambda: screen.run_action("show_tab('layers')"))
        else:  # every other screen: each of its key bindings, by its footer name
            for binding in screen.BINDINGS:
                yield SystemCommand(binding.description, f"the {binding.key} key on this screen",
                                    lambda action=binding.action: screen.run_action(action))

    # intents
    def start_run(self, cfg: RunConfig | None = None, nproc: int = 0, resume: str = "") -> Launch | None:
        """Write the validated `cfg` as a new run's config.toml (or reopen run `resume`) and start its job."""
        from d2ltui.engine.job import create_run, reopen_run
        from d2ltui.engine.launching.processes import start_job
        from d2ltui.errors import UserError

        try:
            run = reopen_run(resume, [], None, self.runs_dir) if resume else create_run(cfg, self.runs_dir)
        except UserError as err:
            self.notify(str(err), title="cannot start", severity="error")
            return None
        launch = start_job(run.path, bool(resume), nproc)
        self.launches.append(launch)
        self.open_run(launch.path, launch)
        return launch

    def open_run(self, path: Path, launch: Launch | None = None) -> None:
        from d2ltui.tui.screens.dashboard import DashboardScreen

        self.push_screen(DashboardScreen(path, launch))

    def go_home(self) -> BrowseScreen:
        """Back to the home screen (the screens above it are closed)."""
        while not isinstance(self.screen, BrowseScreen) and len(self.screen_stack) > 1:
            self.pop_screen()
        return self.screen  # type: ignore[return-value]

    def open_model(self, name: str) -> None:
        """The palette's model: shown in the inspector of the home screen."""
        self.go_home().show_model(name)

    async def open_preset(self, name: str) -> None:
        """The palette's preset: loaded into the training panel of the home screen."""
        await self.go_home().open_preset(name)

    def open_lab(self, name: str) -> None:
        from d2ltui.tui.screens.lab import LabScreen

        self.push_screen(LabScreen(name))

    def open_entry(self, entry: RunEntry) -> None:
        """The palette's run: its dashboard; a sweep: its overlay and table."""
        if entry.kind == "sweep":
            from d2ltui.tui.screens.sweep import SweepScreen

            self.push_screen(SweepScreen(entry.path))
        elif not entry.path.is_dir():
            self.notify(f"{entry.id} has not started yet", severity="warning")
        else:
            self.open_run(entry.path)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """The runs key is not offered on the runs screen itself."""
        runs = sys.modules.get("d2ltui.tui.screens.runs")  # not loaded: no runs screen was opened
        return not (action == "runs" and runs is not None and isinstance(self.screen, runs.RunsScreen))

    def live_launches(self) -> list[Launch]:
        """Runs this app started that still train (one that has recorded its end is just exiting)."""
        from d2ltui.rundir.states import END_STATES
        from d2ltui.rundir.store import read_status

        return [launch for launch in self.launches
                if launch.alive() and read_status(launch.path).get("state") not in END_STATES]

    # actions
    def action_help(self) -> None:
        from d2ltui.tui.screens.dialogs import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_runs(self) -> None:
        from d2ltui.tui.screens.runs import RunsScreen

        if not isinstance(self.screen, RunsScreen):
            self.push_screen(RunsScreen())

    async def action_quit(self) -> None:
        live = self.live_launches()
        if not live:
            self.exit()
            return
        question = f"{len(live)} run(s) still training ({', '.join(l.run_id for l in live)}). Stop or leave running?"
        choices = [("stop", "Stop them"), ("leave", "Leave running"), ("cancel", "Cancel")]
        from d2ltui.tui.screens.dialogs import ChoiceScreen

        self.push_screen(ChoiceScreen(question, choices), self._quit_choice)

    def _quit_choice(self, choice: str | None) -> None:
        if choice == "leave":
            self.exit()
        elif choice == "stop":
            for launch in self.live_launches():
                launch.send("stop")
            self.notify("stopping: waiting for the runs to checkpoint and exit")
            self._stop_ticks = 0
            self.set_interval(0.2, self._exit_when_stopped)

    def _exit_when_stopped(self) -> None:
        self._stop_ticks += 1
        if self._stop_ticks == 150:  # 30 s without exiting: force it
            for launch in self.launches:
                launch.send("kill")
        if not any(launch.alive() for launch in self.launches):
            self.exit()


def create_app(runs_dir: str | Path | None = None, attach: str | None = None) -> WorkbenchApp:
    """The app factory the CLI and the tests share."""
    return WorkbenchApp(runs_dir=runs_dir, attach=attach)


def run_app(runs_dir: str | Path | None = None, attach: str | None = None) -> None:
    """Run the workbench in this terminal (an unknown run to attach, or a runs folder that is a file, is a
    UserError before start); a crash exits non-zero."""
    if runs_dir:
        from d2ltui.paths import resolve_runs_dir

        resolve_runs_dir(runs_dir)
    if attach is not None:  # `attach ""` is refused, not the home screen
        from d2ltui.rundir.store import RunDir

        RunDir.find(attach, runs_dir, starting=True)  # a just-detached run: the dashboard waits for it
    from d2ltui.tui import pixels

    pixels.probe()  # the terminal answers graphics queries only before Textual owns it
    app = create_app(runs_dir, attach)
    app.run()
    if app.return_code:  # an unhandled error: Textual printed it; the shell hears of it too
        raise SystemExit(app.return_code)
