"""The book's optimizers and schedules (chapter 12) against the book's own code, transcribed here, and in training."""

from __future__ import annotations

import json
import math

import pytest
import torch

from fault_helpers import cli

from d2ltui.config.schema import OPTIMIZERS, SCHEDULES, OptimConfig, unused_fields
from d2ltui.errors import UserError
from d2ltui.labs.optimizer_paths import OBJECTIVES, optim_config, trajectory
from d2ltui.optim import make_optimizer, schedule_curve
from d2ltui.rundir.store import METRICS


# -- the book's train_2d and its trainers (sections 12.3, 12.6-12.10), transcribed ---------------------------
def train_2d(trainer, steps=20):
    """The book's d2l.train_2d: 20 steps of `trainer` from (-5, -2) with state s1, s2 = 0."""
    x1, x2, s1, s2 = -5, -2, 0, 0
    results = [(x1, x2)]
    for _ in range(steps):
        x1, x2, s1, s2 = trainer(x1, x2, s1, s2)
        results.append((x1, x2))
    return results


def book_gd_2d(eta, grad):
    def gd_2d(x1, x2, s1, s2):
        g1, g2 = grad(x1, x2)
        return (x1 - eta * g1, x2 - eta * g2, 0, 0)
    return gd_2d


def book_momentum_2d(eta, beta):
    def momentum_2d(x1, x2, v1, v2):
        v1 = beta * v1 + 0.2 * x1
        v2 = beta * v2 + 4 * x2
        return x1 - eta * v1, x2 - eta * v2, v1, v2
    return momentum_2d


def book_adagrad_2d(eta):
    def adagrad_2d(x1, x2, s1, s2):
        eps = 1e-6
        g1, g2 = 0.2 * x1, 4 * x2
        s1 += g1 ** 2
        s2 += g2 ** 2
        x1 -= eta / math.sqrt(s1 + eps) * g1
        x2 -= eta / math.sqrt(s2 + eps) * g2
        return x1, x2, s1, s2
    return adagrad_2d


def book_rmsprop_2d(eta, gamma):
    def rmsprop_2d(x1, x2, s1, s2):
        g1, g2, eps = 0.2 * x1, 4 * x2, 1e-6
        s1 = gamma * s1 + (1 - gamma) * g1 ** 2
        s2 = gamma * s2 + (1 - gamma) * g2 ** 2
        x1 -= eta / math.sqrt(s1 + eps) * g1
        x2 -= eta / math.sqrt(s2 + eps) * g2
        return x1, x2, s1, s2
    return rmsprop_2d


def book_per_coordinate(update, steps=20):
    """The book's from-scratch `adadelta`/`adam` (one state per parameter) on 0.1 x1^2 + 2 x2^2 from (-5, -2)."""
    x, states, results = [-5.0, -2.0], [dict(), dict()], [(-5.0, -2.0)]
    for t in range(1, steps + 1):
        grads = [0.2 * x[0], 4 * x[1]]
        x = [update(p, g, s, t) for p, g, s in zip(x, grads, states)]
        results.append(tuple(x))
    return results


def book_adadelta(rho):
    def adadelta(p, grad, state, t):
        eps = 1e-5
        s, delta = state.get("s", 0.0), state.get("delta", 0.0)
        s = rho * s + (1 - rho) * grad ** 2
        g = (math.sqrt(delta + eps) / math.sqrt(s + eps)) * grad
        p -= g
        state["s"], state["delta"] = s, rho * delta + (1 - rho) * g * g
        return p
    return adadelta


def book_adam(lr):
    def adam(p, grad, state, t):
        beta1, beta2, eps = 0.9, 0.999, 1e-6
        v, s = state.get("v", 0.0), state.get("s", 0.0)
        v = beta1 * v + (1 - beta1) * grad
        s = beta2 * s + (1 - beta2) * grad ** 2
        v_bias_corr = v / (1 - beta1 ** t)
        s_bias_corr = s / (1 - beta2 ** t)
        state["v"], state["s"] = v, s
        return p - lr * v_bias_corr / (math.sqrt(s_bias_corr) + eps)
    return adam


def ours(function, method, lr, **knobs):
    settings = {"momentum": 0.0, "rho": 0.9, "beta1": 0.9, "beta2": 0.999, "eps": 0.0} | knobs
    return trajectory(OBJECTIVES[function], optim_config(method, lr, **settings), (-5.0, -2.0), 20)


ILL = lambda x1, x2: (0.2 * x1, 4 * x2)  # noqa: E731 - the gradient of 0.1 x1^2 + 2 x2^2


@pytest.mark.parametrize("case, book, mine, tol", [
    ("gd on x1^2 + 2 x2^2, eta 0.1 (12.3)", train_2d(book_gd_2d(0.1, lambda x1, x2: (2 * x1, 4 * x2))),
     ours("elliptic", "gd", 0.1), 1e-9),
    ("gd, eta 0.4 (12.6)", train_2d(book_gd_2d(0.4, ILL)), ours("ill-conditioned", "gd", 0.4), 1e-9),
    ("gd, eta 0.6 diverges in x2 (12.6)", train_2d(book_gd_2d(0.6, ILL)), ours("ill-conditioned", "gd", 0.6), 1e-6),
    ("momentum, eta 0.6, beta 0.5 (12.6)", train_2d(book_momentum_2d(0.6, 0.5)),
     ours("ill-conditioned", "momentum", 0.6, momentum=0.5), 1e-9),
    ("momentum, eta 0.6, beta 0.25 (12.6)", train_2d(book_momentum_2d(0.6, 0.25)),
     ours("ill-conditioned", "momentum", 0.6, momentum=0.25), 1e-9),
    ("adagrad, eta 0.4 (12.7)", train_2d(book_adagrad_2d(0.4)), ours("ill-conditioned", "adagrad", 0.4), 1e-5),
    ("adagrad, eta 2 (12.7)", train_2d(book_adagrad_2d(2)), ours("ill-conditioned", "adagrad", 2.0), 1e-5),
    ("rmsprop, eta 0.4, gamma 0.9 (12.8)", train_2d(book_rmsprop_2d(0.4, 0.9)),
     ours("ill-conditioned", "rmsprop", 0.4, rho=0.9), 1e-5),
    ("adadelta, rho 0.9 (12.9)", book_per_coordinate(book_adadelta(0.9)),
     ours("ill-conditioned", "adadelta", 1.0, rho=0.9, eps=1e-5), 1e-12),
    ("adam, eta 0.4 (12.10)", book_per_coordinate(book_adam(0.4)),
     ours("ill-conditioned", "adam", 0.4, eps=1e-6), 1e-9),
])
def test_twenty_steps_land_where_the_books_code_lands(case, book, mine, tol):
    assert len(mine) == len(book) == 21, case
    for (b1, b2), (m1, m2) in zip(book, mine):
        assert m1 == pytest.approx(b1, rel=tol, abs=tol) and m2 == pytest.approx(b2, rel=tol, abs=tol), case


def test_the_books_point_gd_diverges_at_06_and_momentum_fixes_it():
    gd, momentum = ours("ill-conditioned", "gd", 0.6), ours("ill-conditioned", "momentum", 0.6, momentum=0.5)
    assert abs(gd[-1][1]) > 1000 and abs(gd[-1][0]) < 0.5  # x2 = -2 (1 - 0.6 * 4)^20: |x2| = 2 * 1.4^20
    assert abs(momentum[-1][0]) < 0.01 and abs(momentum[-1][1]) < 0.01


def test_each_optimizer_is_torchs_with_the_books_knobs():
    p = [torch.nn.Parameter(torch.zeros(2))]
    built = {name: make_optimizer(OptimConfig(name=name, momentum=0.9 if name == "sgd" else 0.0,
                                              nesterov=name == "sgd", rho=0.8, beta1=0.5, eps=1e-7), p)
             for name in OPTIMIZERS}
    assert {n: type(o).__name__ for n, o in built.items()} == {
        "sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "adagrad": "Adagrad", "rmsprop": "RMSprop", "adadelta": "Adadelta"}
    groups = {n: o.param_groups[0] for n, o in built.items()}
    assert groups["sgd"]["nesterov"] and groups["sgd"]["momentum"] == 0.9
    assert groups["rmsprop"]["alpha"] == 0.8 and groups["adadelta"]["rho"] == 0.8
    assert groups["adam"]["betas"] == (0.5, 0.999) and groups["adam"]["eps"] == 1e-7
    assert make_optimizer(OptimConfig(name="adam"), p).param_groups[0]["eps"] == 1e-8  # eps 0: torch's own


# -- the book's schedulers (section 12.11), transcribed ---------------------------------------------------------
class FactorScheduler:
    def __init__(self, factor=1, stop_factor_lr=1e-7, base_lr=0.1):
        self.factor = factor
        self.stop_factor_lr = stop_factor_lr
        self.base_lr = base_lr

    def __call__(self, num_update):
        self.base_lr = max(self.stop_factor_lr, self.base_lr * self.factor)
        return self.base_lr


class CosineScheduler:
    def __init__(self, max_update, base_lr=0.01, final_lr=0, warmup_steps=0, warmup_begin_lr=0):
        self.base_lr_orig = base_lr
        self.max_update = max_update
        self.final_lr = final_lr
        self.warmup_steps = warmup_steps
        self.warmup_begin_lr = warmup_begin_lr
        self.max_steps = self.max_update - self.warmup_steps

    def get_warmup_lr(self, epoch):
        increase = (self.base_lr_orig - self.warmup_begin_lr) * float(epoch) / float(self.warmup_steps)
        return self.warmup_begin_lr + increase

    def __call__(self, epoch):
        if epoch < self.warmup_steps:
            return self.get_warmup_lr(epoch)
        if epoch <= self.max_update:
            self.base_lr = self.final_lr + (self.base_lr_orig - self.final_lr) * (
                1 + math.cos(math.pi * (epoch - self.warmup_steps) / self.max_steps)) / 2
        return self.base_lr


def test_factor_is_the_books_factor_scheduler():
    scheduler = FactorScheduler(factor=0.9, stop_factor_lr=1e-2, base_lr=2.0)
    book = [scheduler(t) for t in range(60)]  # the book's t-th value is its lr after t + 1 updates
    mine = schedule_curve(OptimConfig(lr=2.0, schedule="factor", factor=0.9, min_lr=1e-2), 61)
    assert mine[0] == 2.0 and mine[1:] == pytest.approx(book, rel=1e-12)
    assert book[-1] == 1e-2  # the floor is reached


def test_factor_counts_epochs_of_steps():
    mine = schedule_curve(OptimConfig(lr=1.0, schedule="factor", factor=0.5), 9, steps_per_epoch=3)
    assert mine == pytest.approx([1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25])


def test_multi_factor_is_the_books_multistep_lr():
    net = torch.nn.Linear(2, 1)
    trainer = torch.optim.SGD(net.parameters(), lr=0.5)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(trainer, milestones=[15, 30], gamma=0.5)

    def get_lr(trainer, scheduler):
        lr = scheduler.get_last_lr()[0]
        trainer.step()
        scheduler.step()
        return lr
    book = [get_lr(trainer, scheduler) for t in range(30)]
    mine = schedule_curve(OptimConfig(lr=0.5, schedule="multi-factor", factor=0.5, milestones=[15, 30]), 30)
    assert mine == book and mine[14:16] == [0.5, 0.25]


@pytest.mark.parametrize("warmup", [0, 5])
def test_cosine_warmup_is_the_books_cosine_scheduler(warmup):
    scheduler = CosineScheduler(20, warmup_steps=warmup, base_lr=0.3, final_lr=0.01)
    book = [scheduler(t) for t in range(20)]
    mine = schedule_curve(OptimConfig(lr=0.3, schedule="cosine-warmup", warmup_steps=warmup, min_lr=0.01), 20)
    assert mine == pytest.approx(book, rel=1e-9, abs=1e-9)


def test_one_cycle_rises_to_lr_then_falls_far_below():
    lrs = schedule_curve(OptimConfig(lr=0.4, schedule="one-cycle", pct_start=0.25), 40)
    peak = lrs.index(max(lrs))
    assert lrs[0] == pytest.approx(0.4 / 25) and max(lrs) == pytest.approx(0.4) and peak == 9  # 0.25 * 40 - 1
    assert lrs[-1] < 0.4 / 25 / 100 and all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1:]))


@pytest.mark.parametrize("sets, message", [
    (["optim.schedule=multi-factor"], "optim.milestones: schedule multi-factor needs"),
    (["optim.schedule=one-cycle", "optim.warmup_steps=3"], "optim.warmup_steps: schedule one-cycle takes no warm-up"),
    (["optim.nesterov=true"], "optim.nesterov: Nesterov momentum needs optim.momentum > 0"),
    (["optim.milestones=[0, 3]"], "optim.milestones: 0: each item must be a whole number >= 1"),
    (["optim.name=lbfgs"], "optim.name: unknown 'lbfgs'"),
])
def test_bad_pairs_are_one_line_naming_the_key(sets, message):
    from d2ltui.tasks.resolve import resolve

    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        resolve("mlp", sets)


def test_fields_the_optimizer_ignores_are_named():
    assert unused_fields(OptimConfig(name="adam", momentum=0.9, rho=0.5)) == [
        "optim.momentum=0.9 (used by sgd, rmsprop)", "optim.rho=0.5 (used by rmsprop, adadelta)"]
    assert unused_fields(OptimConfig(name="sgd", momentum=0.9, schedule="multi-factor", milestones=[2])) == []


# -- in training: every optimizer and every schedule, and the lr the run logs is the builder's ----------------
PAIRS = list(zip([*OPTIMIZERS, "sgd"], SCHEDULES))  # each optimizer and each schedule at least once


@pytest.mark.parametrize("name, schedule", PAIRS)
def test_lenet_trains_a_few_steps_with_each_optimizer_and_schedule(tmp_path, name, schedule):
    sets = {"optim.name": name, "optim.schedule": schedule, "optim.lr": 0.05, "optim.milestones": "[1]",
            "optim.momentum": 0.9 if name == "sgd" else 0.0, "optim.nesterov": str(name == "sgd").lower(),
            "optim.warmup_steps": 2 if schedule in ("cosine", "cosine-warmup") else 0}
    args = ["lenet", "--set", "data.name=shapes", "--set", "data.num_train=48", "--set", "data.num_val=16",
            "--set", "data.batch_size=16", "--set", "train.epochs=2", "--set", "train.log_every=1",
            "--set", "train.layer_stats_every=0", "--plain", "--runs-dir", str(tmp_path), "--run-id", "r"]
    for key, value in sets.items():
        args += ["--set", f"{key}={value}"]
    code, _, err = cli("train", *args)
    assert code == 0, err
    train = [json.loads(line) for line in (tmp_path / "r" / METRICS).read_text().splitlines()]
    train = [r for r in train if r["split"] == "train"]
    assert [r["step"] for r in train] == [1, 2, 3, 4, 5, 6] and all(math.isfinite(r["loss"]) for r in train)
    cfg = OptimConfig(name=name, schedule=schedule, lr=0.05, milestones=[1], warmup_steps=sets["optim.warmup_steps"])
    curve = schedule_curve(cfg, 6, steps_per_epoch=3)
    assert [r["lr"] for r in train[:-1]] == pytest.approx(curve[1:], rel=1e-9, abs=1e-12)  # the lr after each step


@pytest.mark.parametrize("schedule", ["multi-factor", "one-cycle"])
def test_killed_and_resumed_the_new_schedules_give_the_same_curve(tmp_path, monkeypatch, schedule):
    from test_engine_resume import BASE, Killed, kill_after_validation, lines

    args = [*BASE, "--set", f"optim.schedule={schedule}", "--set", "optim.milestones=[1]", "--set", "optim.name=adam",
            "--set", "optim.lr=0.01", "--runs-dir", str(tmp_path)]
    assert cli("train", *args, "--run-id", "whole")[0] == 0
    with monkeypatch.context() as patch:
        kill_after_validation(patch, 8)
        with pytest.raises(Killed):
            cli("train", *args, "--run-id", "cut")
    code, _, err = cli("train", "--resume", "cut", "--runs-dir", str(tmp_path), "--plain")
    assert code == 0, err
    whole = lines(tmp_path / "whole")
    assert lines(tmp_path / "cut") == whole
    lrs = [r["lr"] for r in whole if r["split"] == "train"]
    assert len(set(lrs)) >= 2 and lrs[6] != lrs[-1]  # the schedule moves the lr after the kill at step 8


def test_train_says_which_set_field_the_optimizer_ignores(tmp_path):
    code, _, err = cli("train", "mlp", "--set", "data.name=moons", "--set", "train.max_steps=1", "--set", "optim.name=adam",
                       "--set", "optim.momentum=0.9", "--plain", "--runs-dir", str(tmp_path))
    assert code == 0
    assert "note: optim.momentum=0.9 (used by sgd, rmsprop) does nothing with optim.name=adam" in err
