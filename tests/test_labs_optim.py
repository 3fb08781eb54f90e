"""The optimization and Gaussian-process labs: the book's GP formulas transcribed here, figures, CLI JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fault_helpers import cli

from d2ltui.config.schema import OptimConfig
from d2ltui.labs.registry import compute, get_lab
from d2ltui.optim import schedule_curve


# -- the book's section 18.3 code, transcribed (d2l.rbfkernel: amplitude 1) -------------------------------------
def rbfkernel(x1, x2, ls=4.0):
    dist = np.abs(x1[:, None] - x2[None, :])
    return np.exp(-dist ** 2 / (2 * ls ** 2))


def book_posterior(train_x, train_y, test_x, ell, post_sig_est):
    K_x_xstar = rbfkernel(train_x, test_x, ls=ell)
    K_x_x = rbfkernel(train_x, train_x, ls=ell)
    K_xstar_xstar = rbfkernel(test_x, test_x, ls=ell)
    post_mean = K_x_xstar.T @ np.linalg.inv((K_x_x + post_sig_est ** 2 * np.eye(train_x.shape[0]))) @ train_y
    post_cov = K_xstar_xstar - K_x_xstar.T @ np.linalg.inv((K_x_x + post_sig_est ** 2 * np.eye(train_x.shape[0]))) @ K_x_xstar
    lw_bd = post_mean - 2 * np.sqrt(np.diag(post_cov))
    up_bd = post_mean + 2 * np.sqrt(np.diag(post_cov))
    return post_mean, lw_bd, up_bd


def book_neg_mll(pars, train_x, train_y):
    K = rbfkernel(train_x, train_x, ls=pars[0])
    kernel_term = -0.5 * train_y @ np.linalg.inv(K + pars[1] ** 2 * np.eye(train_x.shape[0])) @ train_y
    logdet = -0.5 * np.log(np.linalg.det(K + pars[1] ** 2 * np.eye(train_x.shape[0])))
    const = -train_x.shape[0] / 2. * np.log(2 * np.pi)
    return -(kernel_term + logdet + const)


def gp(**knobs):
    fig = compute("gaussian-process", knobs)
    data = fig.panel("posterior mean with its 95% band").points["data"]
    return fig, np.array(data["x"]), np.array(data["y"])


def test_the_books_data_sin_x_plus_half_sin_4x_with_noise_025():
    _, x, y = gp(seed=3)
    assert np.allclose(x, np.linspace(0, 5, 50), atol=1e-6)
    noise = y - (np.sin(x) + 0.5 * np.sin(4 * x))
    assert 0.18 < noise.std() < 0.32 and abs(noise.mean()) < 0.1


@pytest.mark.parametrize("ell, sig", [(0.2, 0.25), (0.299, 0.24), (1.0, 0.5)])
def test_posterior_mean_and_band_are_the_books(ell, sig):
    fig, x, y = gp(length_scale=ell, noise=sig)
    post = fig.panel("posterior mean with its 95% band")
    test_x = np.linspace(0, 5, 500)
    mean, low, high = book_posterior(x, y, test_x, ell, sig)
    for i in (0, 77, 250, 431, 499):
        assert post.x[i] == pytest.approx(test_x[i], abs=1e-4)
        assert post.series["mean"][i] == pytest.approx(mean[i], abs=2e-4)
        assert post.series["-2 sd"][i] == pytest.approx(low[i], abs=2e-4)
        assert post.series["+2 sd"][i] == pytest.approx(high[i], abs=2e-4)
    assert post.series["truth"][250] == pytest.approx(np.sin(test_x[250]) + 0.5 * np.sin(4 * test_x[250]), abs=1e-4)


def test_amplitude_scales_the_prior_and_its_band():
    fig, _, _ = gp(amplitude=2.0, samples=3)
    prior = fig.panel("prior samples")
    assert set(prior.series) == {"sample 1", "sample 2", "sample 3", "+2 sd", "-2 sd"}
    assert prior.series["+2 sd"][0] == 4.0
    spread = np.std([prior.series[f"sample {i}"] for i in (1, 2, 3)])
    assert 0.5 < spread < 4.0


def test_the_fit_is_an_optimum_of_the_books_marginal_likelihood():
    fig, x, y = gp(length_scale=0.4, noise=0.5, fit="length-noise")
    (ell, amplitude, sig), = fig.panel("hyperparameters").rows
    assert amplitude == 1.0 and fig.knobs["length_scale"] == 0.4  # the knobs stay as set
    best = book_neg_mll([ell, sig], x, y)
    for d_ell, d_sig in ((0.02, 0), (-0.02, 0), (0, 0.02), (0, -0.02)):
        assert best < book_neg_mll([ell * (1 + d_ell), sig * (1 + d_sig)], x, y)
    assert 0.2 < sig < 0.32  # close to the true noise, as the book finds
    assert f"log marginal likelihood {-best:.3f}" in fig.notes[1]


# -- optimizer-paths and lr-schedules ------------------------------------------------------------------------------
def test_optimizer_paths_draws_each_optimizer_over_the_contours():
    fig = compute("optimizer-paths", {"optimizers": "gd,momentum,adam", "lr": "0.6"})
    plane = fig.panel("f = 0.1 x1^2 + 2 x2^2, lr 0.6")
    assert list(plane.paths) == ["gd", "momentum", "adam"] and len(plane.points["contours"]["x"]) > 200
    assert plane.paths["momentum"]["x"][0] == -5.0 and len(plane.paths["momentum"]["x"]) == 21
    assert len(plane.paths["gd"]["x"]) < 21  # cut where it leaves the view: it diverges in x2
    rows = {r[0]: r for r in fig.panel("after 20 steps from (-5, -2)").rows}
    assert rows["gd"][3] == pytest.approx(-2 * (1 - 0.6 * 4) ** 20, rel=1e-6)
    assert fig.notes[0].startswith("gd diverges") and fig.notes[1].startswith("momentum: f")
    assert len(fig.panel("log10 f over the steps").series["adam"]) == 21


def test_rosenbrock_starts_at_its_own_point_unless_told():
    fig = compute("optimizer-paths", {"function": "rosenbrock", "optimizers": "adam", "lr": "0.01", "steps": "5"})
    assert fig.panels[0].paths["adam"]["x"][0] == -1.5
    fig = compute("optimizer-paths", {"function": "rosenbrock", "optimizers": "adam", "start": "(0, 0)"})
    assert fig.panels[0].paths["adam"]["y"][0] == 0.0


def test_lr_schedules_are_the_training_builders_curves():
    fig = compute("lr-schedules", {"schedules": "factor,multi-factor", "steps_per_epoch": "2", "milestones": "(3,)"})
    curves = fig.panel("learning rate over the steps")
    assert curves.x == list(range(60))
    want = schedule_curve(OptimConfig(lr=0.5, schedule="multi-factor", factor=0.9, milestones=[3]), 60, 2)
    assert curves.series["multi-factor"] == pytest.approx(want) and curves.series["multi-factor"][5:7] == [0.5, 0.45]
    assert curves.series["factor"][:4] == pytest.approx([0.5, 0.5, 0.45, 0.45])


@pytest.mark.parametrize("name", ["optimizer-paths", "lr-schedules", "gaussian-process"])
def test_cli_json_of_each_lab(name):
    code, out, err = cli("lab", name, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["lab"] == name and data["knobs"] == {k: (list(v) if isinstance(v, tuple) else v)
                                                      for k, v in get_lab(name).defaults().items()}
    assert data["panels"] and all(p["kind"] in ("curves", "table") for p in data["panels"])


@pytest.mark.parametrize("name, knob, message", [
    ("optimizer-paths", "optimizers=gd,lbfgs", "knob optimizers: unknown 'lbfgs'"),
    ("lr-schedules", "milestones=(0,)", "knob milestones: expected up to 10 epochs"),
    ("gaussian-process", "fit=yes", "knob fit: 'yes' is not one of none, length-noise, all"),
])
def test_a_bad_knob_is_one_line(name, knob, message):
    code, out, err = cli("lab", name, "--set", knob)
    assert code == 2 and message in err and "Traceback" not in err
