"""End to end: drive the installed `d2l-tui` in tmux as a user would: train LeNet for one epoch on shapes, and
train the quick GAN detached, attach to it at once and watch its scatter of real and generated points."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time

import pytest

# Skipped only on a developer machine without tmux; in CI (CI set) a missing tmux fails the test.
pytestmark = pytest.mark.skipif(not os.environ.get("CI") and not (shutil.which("tmux") and shutil.which("d2l-tui")),
                                reason="needs tmux and the installed d2l-tui")


class Tmux:
    def __init__(self, name: str, env: dict[str, str], command: str = "d2l-tui") -> None:
        """A session running `command` (a shell line) with `env`; the pane stays a while after it exits."""
        self.name = name
        exports = " ".join(f"export {k}={shlex.quote(v)};" for k, v in env.items())
        subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "100", "-y", "30",
                        f"{exports} export TERM=xterm-256color; {command}; sleep 30"], check=True)

    def send(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)
        time.sleep(0.3)

    def type(self, text: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, "-l", text], check=True)
        time.sleep(0.3)

    def screen(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True,
                              text=True).stdout

    def wait_for(self, *texts: str, timeout: float = 60.0, unless: str = "") -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if all(t in screen for t in texts):
                return screen
            if unless and unless in screen:
                raise AssertionError(f"{unless!r} on screen:\n{screen}")
            time.sleep(0.3)
        raise AssertionError(f"{texts} not on screen after {timeout}s:\n{self.screen()}")

    def quit_app(self, timeout: float = 15.0) -> None:
        """Press q and wait until the app has left the screen."""
        self.send("q")
        deadline = time.monotonic() + timeout
        while "d2l-tui" in self.screen() and time.monotonic() < deadline:
            time.sleep(0.3)

    def kill(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def test_train_lenet_one_epoch_in_tmux(tmp_path):
    runs = tmp_path / "runs"
    tmux = Tmux(f"d2ltui-e2e-{os.getpid()}", {"D2LTUI_RUNS_DIR": str(runs), "XDG_DATA_HOME": str(tmp_path),
                                                "D2LTUI_PIXELS": "off"})
    try:
        tmux.wait_for("LeNet-5", "Conv2d", "61,706")  # lenet is picked, its layers are shown
        tmux.send("t")
        tmux.wait_for("num_train")
        tmux.send("Tab", "Tab", "Tab", "C-a", "C-k")  # dataset -> optimizer -> init -> batch size
        tmux.type("16")
        tmux.send("Tab", "C-a", "C-k")  # epochs
        tmux.type("1")
        tmux.send("Tab", "C-a", "C-k")  # num_train
        tmux.type("256")
        tmux.send("C-p")
        tmux.type("start training")
        tmux.send("Enter")
        screen = tmux.wait_for("FINISHED", "predicted/true", "lenet on shapes", "train", "val",
                               timeout=120, unless="FAILED")
        assert "loss" in screen and "acc" in screen
        assert any(ch in screen for ch in "⠁⠂⠄⡀⢀⠈⠐⠠⣀⠤⠒⠉⢄⡠⠔⠊")  # braille curve points
        assert "▀" in screen  # the half-block prediction grid
        tmux.quit_app()
        (run,) = list(runs.iterdir())
        status = json.loads((run / "status.json").read_text())
        assert status["state"] == "finished"
        assert "epochs = 1" in (run / "config.toml").read_text()
        assert "d2l-tui" not in tmux.screen()  # the app has exited
        assert_no_engine_left(runs)
    finally:
        tmux.kill()


def assert_no_engine_left(runs) -> None:
    deadline = time.monotonic() + 10  # a finished engine may take a moment to exit
    while (leftover := subprocess.run(["pgrep", "-f", f"d2ltui train.*{runs}"], capture_output=True,
                                      text=True).stdout.split()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not leftover, f"processes left running: {leftover}"


def test_train_quick_gan_detached_then_attach_at_once_in_tmux(tmp_path):
    """The user's path: `train quick-gan --detach` prints the run id, `attach` opens it before the engine has
    written its config (no "no run" error), and the dashboard shows the scatter and both losses."""
    runs = tmp_path / "runs"
    line = (f"RUN=$(d2l-tui train quick-gan --detach --runs-dir {shlex.quote(str(runs))}) "
            f"&& d2l-tui attach \"$RUN\" --runs-dir {shlex.quote(str(runs))}")
    tmux = Tmux(f"d2ltui-gan-{os.getpid()}", {"XDG_DATA_HOME": str(tmp_path)}, line)
    try:
        tmux.wait_for("gan on gaussian-2d", timeout=30, unless="d2l-tui: error")  # attached: the head read config.toml
        # the scatter's title ("real and generated points") wraps with the panel's width
        screen = tmux.wait_for("FINISHED", "epoch 4/4", "real and", "points", "•• real", "•• generated",
                               "loss (D, G)", "train D", "val G", timeout=90, unless="FAILED")
        assert "no run" not in screen and "CRASHED" not in screen
        assert screen.count("•") > 20  # the scatter's points, beyond the legend's four markers
        tmux.quit_app()
        (run,) = list(runs.iterdir())
        assert json.loads((run / "status.json").read_text())["state"] == "finished"
        assert 'name = "gaussian-2d"' in (run / "config.toml").read_text()
        assert '"kind": "gan-points"' in (run / "samples.json").read_text()
        assert_no_engine_left(runs)
    finally:
        tmux.kill()


def test_palette_finds_dcgan_and_lands_on_its_inspector_in_tmux(tmp_path):
    env = {"D2LTUI_RUNS_DIR": str(tmp_path / "runs"), "XDG_DATA_HOME": str(tmp_path), "D2LTUI_PIXELS": "off"}
    if os.environ.get("PYTHONPATH"):  # a checkout under test, not only the installed package
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    tmux = Tmux(f"d2ltui-palette-{os.getpid()}", env)
    try:
        tmux.wait_for("LeNet-5", "61,706")
        tmux.send("C-p")
        tmux.type("dcgan")
        tmux.wait_for("model  dcgan", "preset dcgan")  # each hit says what it is
        tmux.send("Enter")
        screen = tmux.wait_for("dcgan: DCGAN", "generator", "discriminator", "6,342,400", unless="Traceback")
        assert "model  dcgan" not in screen  # the palette has closed on the inspector of the DCGAN
        tmux.quit_app()
    finally:
        tmux.kill()
