"""The GAN and RL loops in the engine: what they log and draw, NaN caught, and their data (the 2-D Gaussian,
sprites, Fashion-MNIST and the book's Pokemon zip in their real layouts, FrozenLake's MDP)."""

from __future__ import annotations

import hashlib
import zipfile

import numpy as np
import pytest
import torch
from data_files import write_idx
from PIL import Image

from d2ltui.rundir.writer import RunWriter
from d2ltui.tasks.resolve import resolve
from d2ltui.config.schema import RunConfig, dump_toml
from d2ltui.data.registry import load_data
from d2ltui.rundir.checkpoint import load_checkpoint
from d2ltui.engine.loop.trainer import fit
from d2ltui.errors import UserError
from d2ltui.rundir.store import CHECKPOINT, RunDir

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def train(tmp_path, target: str, *overrides: str, data=None):
    cfg, _ = resolve(target, list(overrides))
    run = RunWriter.create(tmp_path, dump_toml(cfg), target)
    return fit(cfg, run, data=data), run


def test_gaussian_2d_is_the_books_affine_map():
    cfg = RunConfig().data
    cfg.name = "gaussian-2d"
    data = load_data(cfg, "gan")
    (X,) = data.train
    assert X.shape == (1000, 2) and data.val[0].shape == (200, 2)
    assert X.mean(0).tolist() == pytest.approx([1.0, 2.0], abs=0.15)  # mean b
    A = torch.tensor([[1.0, 2.0], [-0.1, 0.5]])
    assert torch.cov(X.T).reshape(-1).tolist() == pytest.approx((A.T @ A).reshape(-1).tolist(), abs=0.3)  # A^T A


def test_gan_logs_both_losses_and_draws_real_against_generated(tmp_path):
    result, run = train(tmp_path, "gan", "data.num_train=80", "train.epochs=2", "train.log_every=5")
    assert result.state == "finished", result.message
    train_lines = [r for r in run.metrics() if r["split"] == "train"]
    assert len(train_lines) == 4 and all({"loss_d", "loss_g", "loss"} <= r.keys() for r in train_lines)
    assert all(r["loss"] == pytest.approx(r["loss_d"] + r["loss_g"], rel=1e-5) for r in train_lines)
    assert {"loss_d", "loss_g"} <= result.val.keys()
    samples = run.samples()
    assert samples["kind"] == "gan-points" and len(samples["real"]) == len(samples["generated"]) == 100
    state = load_checkpoint(run.path / CHECKPOINT)
    assert {"optimizer", "optimizer_g", "scheduler_g"} <= state.keys()
    assert state["optimizer"]["param_groups"][0]["lr"] == 0.05 and state["optimizer_g"]["param_groups"][0]["lr"] == 0.005
    assert len(state["optimizer"]["state"]) == 6 and len(state["optimizer_g"]["state"]) == 2  # D's and G's tensors


def test_dcgan_draws_the_same_latent_batch_each_epoch(tmp_path):
    result, run = train(tmp_path, "quick-dcgan-sprites", "model.base_width=4", "data.num_train=16", "data.num_val=8",
                        "data.batch_size=8", "train.epochs=1")
    assert result.state == "finished", result.message
    samples = run.samples()
    assert samples["kind"] == "gan-images" and len(samples["items"]) == 21
    image = samples["items"][0]["rgb"]
    assert (len(image), len(image[0]), len(image[0][0])) == (32, 32, 3)
    assert all(0 <= v <= 255 for row in image for px in row for v in px)


def test_a_gan_whose_loss_is_nan_is_caught_before_the_step(tmp_path):
    cfg = RunConfig().data
    cfg.name = "gaussian-2d"
    data = load_data(cfg, "gan")
    data.train[0][3, 0] = float("nan")  # in the first batch whichever the order: batch 8 of 8 points
    data.train = (data.train[0][:8],)
    result, run = train(tmp_path, "gan", "data.batch_size=8", data=data)
    assert result.state == "diverged" and "at step 1" in result.message
    assert run.status()["state"] == "diverged"


def test_value_iteration_with_a_nan_reward_is_caught(tmp_path):
    cfg = RunConfig().data
    cfg.name = "frozenlake-4x4"
    env = load_data(cfg, "value-iteration")
    env.train[1][10, 1, 14] = float("nan")  # the reward of one move into the square beside the goal
    result, run = train(tmp_path, "value-iteration", data=env)
    assert result.state == "diverged" and "at step 1" in result.message


def test_frozenlake_mdp_is_gymnasiums():
    cfg = RunConfig().data
    for name, states, slippery in (("frozenlake-4x4", 16, False), ("frozenlake-8x8-slippery", 64, True)):
        cfg.name = name
        env = load_data(cfg, "q-learning")
        P, R = env.transitions
        assert P.shape == (states, 4, states) and env.model_knobs == {"num_states": states, "num_actions": 4}
        assert torch.allclose(P.sum(-1), torch.ones(states, 4, dtype=torch.float64))
        assert env.info["is_slippery"] is slippery and len(env.map) == int(states ** 0.5)
        assert int((P > 0).sum(-1).max()) == (3 if slippery else 1)  # slipping: 1/3 each to three cells
        goal = "".join(env.map).index("G")
        assert R[:, :, goal].max() == 1.0 and R.sum() == R[:, :, goal].sum()  # reward 1 only on reaching G


def test_q_learning_logs_return_and_success_and_writes_values_and_policy(tmp_path):
    result, run = train(tmp_path, "q-learning", "train.epochs=12")
    assert result.state == "finished", result.message
    train_lines = [r for r in run.metrics() if r["split"] == "train"]
    assert len(train_lines) == 12 and all({"loss", "return", "success"} <= r.keys() for r in train_lines)
    assert all(0.0 <= r["success"] <= 1.0 and 0.0 <= r["return"] <= 1.0 for r in train_lines)
    samples = run.samples()
    assert len(samples["values"]) == 16 and len(samples["policy"]) == 16 and samples["step_name"] == "episode"
    assert [h["step"] for h in samples["history"]] == list(range(13))
    state = load_checkpoint(run.path / CHECKPOINT)
    assert state["model"]["table"].dtype == torch.float64
    assert samples["values"] == pytest.approx(state["model"]["table"].max(1).values.tolist(), abs=1e-5)


def test_fashion_mnist_for_a_gan_is_64x64_colour_in_minus_one_to_one(tmp_path):
    write_idx(tmp_path, "FashionMNIST", n_train=12, n_test=4)
    cfg = RunConfig().data
    cfg.name, cfg.root, cfg.download = "fashion-mnist", str(tmp_path), False
    data = load_data(cfg, "gan")
    assert len(data.train) == 1 and data.model_knobs == {"in_channels": 3}
    (x,) = data.prepare((data.train[0][:4],), True)
    assert x.shape == (4, 3, 64, 64) and -1.0 <= float(x.min()) and float(x.max()) <= 1.0 and float(x.min()) < -0.5


def _write_pokemon(folder) -> None:
    for cls in ("001", "002"):
        (folder / cls).mkdir(parents=True)
        for i in range(3):
            pixels = np.full((96, 96, 3), (40 * i, 100, 200), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / cls / f"{i}.png")


def test_pokemon_reads_the_image_folder_layout(tmp_path):
    _write_pokemon(tmp_path / "pokemon")
    cfg = RunConfig().data
    cfg.name, cfg.root, cfg.download, cfg.num_val = "pokemon", str(tmp_path), False, 2
    data = load_data(cfg, "gan")
    assert data.train[0].shape == (5, 3, 64, 64) and data.val[0].shape == (1, 3, 64, 64)  # val at most a fifth
    assert data.train[0].dtype == torch.uint8 and data.input_shape == ((1, 3, 64, 64),)


def test_pokemon_zip_is_checked_against_the_books_sha1(tmp_path, monkeypatch):
    from d2ltui.data.hub import DATA_HUB, HubEntry

    assert DATA_HUB["pokemon"].sha1 == "c065c0e2593b8b161a2d7873e42418bf6a21106c"
    src = tmp_path / "src"
    _write_pokemon(src / "pokemon")
    archive = tmp_path / "served" / "pokemon.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted((src / "pokemon").rglob("*.png")):
            z.write(path, path.relative_to(src))
    root = tmp_path / "root"
    cfg = RunConfig().data
    cfg.name, cfg.root, cfg.num_val = "pokemon", str(root), 2
    monkeypatch.setitem(DATA_HUB, "pokemon", HubEntry(archive.as_uri(), DATA_HUB["pokemon"].sha1))
    with pytest.raises(UserError, match="SHA-1"):  # not the book's file: refused, nothing left behind
        load_data(cfg, "gan")
    assert not (root / "pokemon.zip").exists() and not (root / "pokemon").exists()
    digest = hashlib.sha1(archive.read_bytes()).hexdigest()
    monkeypatch.setitem(DATA_HUB, "pokemon", HubEntry(archive.as_uri(), digest))
    assert load_data(cfg, "gan").train[0].shape == (5, 3, 64, 64)
    assert (root / "pokemon" / "001" / "0.png").exists()


def test_pokemon_offline_and_missing_is_one_line(tmp_path):
    cfg = RunConfig().data
    cfg.name, cfg.root, cfg.download = "pokemon", str(tmp_path), False
    with pytest.raises(UserError, match=r"^pokemon: .*pokemon not found; data.download is off"):
        load_data(cfg, "gan")


@pytest.mark.parametrize("override,message", [("model.gamma=1.5", "gamma"), ("model.epsilon=-0.1", "epsilon"),
                                              ("optim.lr_g=-1", "optim.lr_g")])
def test_bad_rl_and_gan_settings_name_the_field(override, message):
    target = "gan" if "lr_g" in override else "q-learning"
    with pytest.raises(UserError, match=message):
        resolve(target, [override])
