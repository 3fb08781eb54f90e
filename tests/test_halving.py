"""Successive halving and ASHA on a toy objective worked out by hand; search spaces parsed and sampled."""

from __future__ import annotations

import pytest

from d2ltui.engine.orchestration.halving import ASHA, SuccessiveHalving, rung_levels, rung_sizes
from d2ltui.engine.orchestration.search import parse_domain, parse_samples, sample_settings
from d2ltui.errors import UserError

# error(trial, epochs) = q + c / epochs: a fast starter (d), late bloomers (c, a), a flat one (e)
TOY = {"a": (0.10, 0.8), "b": (0.30, 0.1), "c": (0.05, 1.2), "d": (0.20, 0.2),
       "e": (0.40, 0.0), "f": (0.15, 0.64), "g": (0.50, 0.4), "h": (0.25, 0.52)}


def error(trial: str, epochs: int) -> float:
    q, c = TOY[trial]
    return q + c / epochs


def drive(scheduler, slots: int) -> list[tuple[str, int]]:
    """Run the scheduler with `slots` workers, the oldest job reporting first; the jobs in start order."""
    running: list[tuple[str, int]] = []
    while True:
        while len(running) < slots and (job := scheduler.next_job()):
            running.append(job)
        if not running:
            return scheduler.started
        trial, rung = running.pop(0)
        scheduler.report(trial, rung, error(trial, scheduler.levels[rung]))


def test_the_books_rungs():
    assert rung_levels(2, 10, 2) == [2, 4, 8, 10]  # the book's K = 3 after appending r_max
    assert rung_levels(1, 9, 3) == [1, 3, 9]
    assert rung_sizes(8, 2, 4) == [8, 4, 2, 1]
    with pytest.raises(UserError, match="eta"):
        rung_levels(2, 10, 1)


def test_successive_halving_by_hand():
    sh = SuccessiveHalving(list(TOY), rung_levels(2, 10, 2), 2)
    jobs = drive(sh, slots=3)
    per_rung = [[t for t, r in jobs if r == rung] for rung in range(4)]
    # at 2 epochs: d .30, b .35, e .40, f .47, a .50, h .51, c .65, g .70 -> d b e f go on
    assert per_rung[0] == list(TOY)
    assert per_rung[1] == ["d", "b", "e", "f"]
    # at 4 epochs: d .25, f .31, b .325, e .40 -> d f; at 8: d .225, f .23 -> d
    assert per_rung[2] == ["d", "f"]
    assert per_rung[3] == ["d"]
    # a rung starts only when the one below has filled
    first_up = jobs.index(("d", 1))
    assert all(r == 0 for _, r in jobs[:first_up]) and first_up == 8
    states = {t: (sh.state(t), sh.levels[sh.rung_reached(t)]) for t in TOY}
    assert states == {"a": ("stopped", 2), "b": ("stopped", 4), "c": ("stopped", 2), "d": ("finished", 10),
                      "e": ("stopped", 4), "f": ("stopped", 8), "g": ("stopped", 2), "h": ("stopped", 2)}
    assert sh.done()


def test_successive_halving_waits_for_the_rung():
    sh = SuccessiveHalving(["x", "y", "z", "w"], [1, 2], 2)
    for _ in range(4):
        sh.next_job()
    for trial in ("x", "y", "z"):
        sh.report(trial, 0, 0.1)
    assert sh.next_job() is None  # w has not reported: rung 0 is not full
    assert sh.state("x") == "waiting"
    sh.report("w", 0, 0.05)
    assert sh.next_job() == ("w", 1)


def test_asha_never_waits_for_a_rung_to_fill():
    asha = ASHA(list("abcd"), [1, 2, 4], 2)
    assert [asha.next_job(), asha.next_job()] == [("a", 0), ("b", 0)]
    asha.report("a", 0, 0.5)
    assert asha.next_job() == ("c", 0)  # one result: nothing in its top half yet, a new trial starts
    asha.report("b", 0, 0.3)
    # b is the best half of {a, b} at rung 0 and goes up while c still runs and d has not started
    assert asha.next_job() == ("b", 1)
    assert asha.state("a") == "waiting" and asha.state("c") == "running"
    assert asha.next_job() == ("d", 0)
    asha.report("c", 0, 0.9)
    asha.report("d", 0, 0.1)
    asha.report("b", 1, 0.2)
    assert asha.next_job() == ("d", 1)  # d tops rung 0 now ({a .5, b .3, c .9, d .1} -> top 2: d, b)
    asha.report("d", 1, 0.15)
    assert asha.next_job() == ("d", 2)  # rung 1 {b .2, d .15}: d is its top half
    asha.report("d", 2, 0.1)
    assert asha.next_job() is None and asha.done()
    assert {t: asha.state(t) for t in "abcd"} == {"a": "stopped", "b": "stopped", "c": "stopped", "d": "finished"}


def test_a_failed_trial_never_goes_on():
    sh = SuccessiveHalving(["x", "y"], [1, 2], 2)
    sh.next_job(), sh.next_job()
    sh.report("x", 0, None)
    sh.report("y", 0, 0.7)
    assert sh.next_job() == ("y", 1)


def test_search_space_parsing_and_seeded_sampling():
    space = parse_samples(["lr=loguniform(1e-2,1)", "batch_size=randint(32,256)", "optim.name=choice(sgd,adam)"])
    assert list(space) == ["optim.lr", "data.batch_size", "optim.name"]
    first, again = sample_settings(space, 20, seed=3), sample_settings(space, 20, seed=3)
    assert first == again and first != sample_settings(space, 20, seed=4)
    assert all(0.01 <= s["optim.lr"] <= 1 and 32 <= s["data.batch_size"] <= 256 for s in first)
    assert {s["optim.name"] for s in first} == {"sgd", "adam"}
    lrs = sorted(s["optim.lr"] for s in sample_settings(space, 400, seed=0))
    assert 0.05 < lrs[200] < 0.2  # log-uniform: the median near sqrt(0.01 * 1) = 0.1, not 0.5


@pytest.mark.parametrize("text", ["loguniform(1,0)", "loguniform(0,1)", "randint(1.5,3)", "normal(0,1)",
                                  "choice()", "uniform(1)"])
def test_bad_domains_name_the_option(text):
    with pytest.raises(UserError, match="--sample lr"):
        parse_domain(text, "--sample lr")


def test_the_books_hpo_preset_plans_its_rungs_and_space():
    from d2ltui.cli.searching import plan_search
    from d2ltui.cli.sweeping import sweep_preset

    table = sweep_preset("hpo-lenet")
    settings, search, overrides = plan_search("hpo-lenet", {}, 1, [], None, table, {})
    assert search["scheduler"] == {"name": "successive-halving", "r_min": 2, "r_max": 10, "eta": 2,
                                   "rungs": [2, 4, 8, 10]}
    assert search["space"] == {"optim.lr": "loguniform(0.01,1)", "data.batch_size": "randint(32,256)"}
    assert len(settings) == 8 and overrides == ["train.epochs=10"]  # the book's n0 = eta^K = 2^3
    assert all(0.01 <= s["optim.lr"] <= 1 and 32 <= s["data.batch_size"] <= 256 for s in settings)
    options = {"sample": None, "trials": 3, "scheduler": "asha", "r_min": None, "r_max": None, "eta": None}
    settings, search, _ = plan_search("hpo-lenet", {}, 1, [], None, table, options)
    assert len(settings) == 3 and search["scheduler"]["name"] == "asha"  # options win over the preset


def test_bad_sample_is_one_line_and_exit_2(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "D2LTUI_RUNS_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "d2ltui", "sweep", "quick-linear", "--sample", "lr=loguniform(1,0)"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0
    assert "--sample lr" in out.stderr and "Traceback" not in out.stderr
    assert not any(tmp_path.iterdir())  # nothing planned
