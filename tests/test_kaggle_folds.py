"""Kaggle house prices: the book's preprocessing and log target, log_rmse, an MLP regressing, K-fold runs."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from d2ltui.rundir.writer import RunWriter
from d2ltui.tasks.resolve import resolve
from d2ltui.config.schema import DataConfig, dump_toml
from d2ltui.data import load_data
from d2ltui.data.folds import fold_data, fold_indices
from d2ltui.engine.loop.control import Control
from d2ltui.engine.orchestration.folds import fit_folds
from d2ltui.tasks.supervised import Regression, log_rmse
from d2ltui.errors import UserError
from d2ltui.rundir.runs import list_runs
from d2ltui.rundir.store import RunDir

TRAIN = """Id,MSSubClass,MSZoning,LotFrontage,Street,SalePrice
1,60,RL,65,Pave,208500
2,20,RL,80,Pave,181500
3,60,RM,NA,Grvl,223500
4,70,RL,60,Pave,140000
5,60,NA,84,Pave,250000
6,50,RM,85,Pave,143000
"""
TEST = """Id,MSSubClass,MSZoning,LotFrontage,Street
1461,20,RH,80,Pave
1462,20,RL,NA,Pave
1463,60,RL,74,Pave
"""

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def root(tmp_path):
    (tmp_path / "kaggle_house_pred_train.csv").write_text(TRAIN)
    (tmp_path / "kaggle_house_pred_test.csv").write_text(TEST)
    return tmp_path


def standardised(values):
    """The book's: (x - mean) / std over the observed values (sample std), then the holes are 0."""
    seen = [v for v in values if v is not None]
    mean = sum(seen) / len(seen)
    std = math.sqrt(sum((v - mean) ** 2 for v in seen) / (len(seen) - 1))
    return [0.0 if v is None else (v - mean) / std for v in values]


def test_kaggle_house_is_preprocessed_as_the_book(root):
    dm = load_data(DataConfig(name="kaggle-house", root=str(root), download=False, folds=2), "regression", "cpu")
    X, y = dm.train  # with folds the train split is every labelled row in file order
    assert dm.info["features"] == ["MSSubClass", "MSZoning=RH", "MSZoning=RL", "MSZoning=RM", "MSZoning=<missing>",
                                   "LotFrontage", "Street=Grvl", "Street=Pave", "Street=<missing>"]
    # numeric statistics over train and test together, as the book concatenates them
    sub = standardised([60, 20, 60, 70, 60, 50, 20, 20, 60])[:6]
    lot = standardised([65, 80, None, 60, 84, 85, 80, None, 74])[:6]
    zoning = ["RL", "RL", "RM", "RL", None, "RM"]
    expected = [[s, 0, z == "RL", z == "RM", z is None, f, st == "Grvl", st == "Pave", 0]
                for s, z, f, st in zip(sub, zoning, lot, ["Pave", "Pave", "Grvl", "Pave", "Pave", "Pave"])]
    assert torch.allclose(X, torch.tensor(expected, dtype=torch.float32), atol=1e-5)
    prices = [208500, 181500, 223500, 140000, 250000, 143000]
    assert torch.allclose(y.squeeze(1), torch.tensor([math.log(p) for p in prices]), atol=1e-5)
    assert dm.model_knobs == {"in_features": 9, "num_classes": 1} and dm.info["target_transform"] == "log"
    assert len(dm.val[0]) == 0 and dm.info["folds"] == 2


def test_kaggle_house_split_missing_files_and_bad_prices(root, tmp_path):
    dm = load_data(DataConfig(name="kaggle-house", root=str(root), download=False, num_train=4, num_val=2),
                   "regression", "cpu")
    assert dm.train[0].shape == (4, 9) and dm.val[0].shape == (2, 9)
    empty = tmp_path / "none"
    with pytest.raises(UserError, match="kaggle-house: .*kaggle_house_pred_train.csv not found") as err:
        load_data(DataConfig(name="kaggle-house", root=str(empty), download=False), "regression", "cpu")
    assert "\n" not in str(err.value) and not empty.exists()
    (root / "kaggle_house_pred_train.csv").write_text(TRAIN.replace("143000", "0"))
    with pytest.raises(UserError, match="no logarithm"):
        load_data(DataConfig(name="kaggle-house", root=str(root), download=False), "regression", "cpu")


def test_csv_gets_the_same_preprocessing(root, tmp_path):
    path = tmp_path / "houses.csv"
    path.write_text(TRAIN)
    dm = load_data(DataConfig(name="csv", path=str(path), target="SalePrice", folds=2), "regression", "cpu")
    assert "Street=<missing>" in dm.info["features"]  # a missing column even where nothing is missing
    lot = standardised([65, 80, None, 60, 84, 85])
    col = dm.info["features"].index("LotFrontage")
    assert torch.allclose(dm.train[0][:, col], torch.tensor(lot, dtype=torch.float32), atol=1e-5)


def test_log_rmse_is_the_books_measure():
    preds, labels = [100.0, 0.5, 300.0], [110.0, 2.0, 250.0]
    # d2l (older edition): sqrt(mean((log(clamp(preds, 1, inf)) - log(labels)) ** 2))
    by_hand = math.sqrt(sum((math.log(max(p, 1.0)) - math.log(t)) ** 2 for p, t in zip(preds, labels)) / 3)
    assert log_rmse(torch.tensor(preds), torch.tensor(labels)) == pytest.approx(by_hand, rel=1e-12)
    logs = torch.tensor(preds).log(), torch.tensor(labels).log()  # on a log-price target: the same number
    assert log_rmse(*logs, log_space=True) == pytest.approx(by_hand, rel=1e-6)


def test_regression_reports_log_rmse_on_a_log_target(root):
    dm = load_data(DataConfig(name="kaggle-house", root=str(root), download=False, num_train=4, num_val=2),
                   "regression", "cpu")
    task = Regression(dm)
    torch.manual_seed(0)
    model = nn.Linear(9, 1)
    stats = task.evaluate(model, dm.prepare)
    with torch.no_grad():
        preds = model(dm.val[0]).squeeze(1).tolist()
    y = dm.val[1].squeeze(1).tolist()
    by_hand = math.sqrt(sum((math.log(max(math.exp(p), 1.0)) - t) ** 2 for p, t in zip(preds, y)) / len(y))
    assert task.metric == "log_rmse" and stats["log_rmse"] == pytest.approx(by_hand, rel=1e-5)
    plain = load_data(DataConfig(name="tabular-missing", num_train=8, num_val=4), "regression", "cpu")
    assert Regression(plain).metric is None


def test_fold_splits_are_the_books():
    for i, val in enumerate(([0, 1], [2, 3], [4, 5])):  # fold_size = 7 // 3 = 2; the last row always trains
        train, got = fold_indices(7, i, 3)
        assert got.tolist() == val and train.tolist() == [r for r in range(7) if r not in val]
    with pytest.raises(UserError, match="data.folds"):
        fold_indices(3, 0, 5)


def test_mlp_regresses_on_regression_data():
    cfg, _ = resolve("mlp", ["data.name=tabular-missing"])
    assert cfg.data.name == "tabular-missing"
    with pytest.raises(UserError, match="does not fit the task"):
        resolve("mlp", ["data.name=python-docs"])
    with pytest.raises(UserError, match="data.folds"):
        resolve("gru-lm", ["data.folds=3"])


def fold_run(tmp_path, root, extra=()):
    cfg, _ = resolve("kaggle-house", [f"data.root={root}", "data.download=false", "data.folds=3",
                                      "data.batch_size=2", "train.epochs=2", "train.device=cpu", *extra])
    data = load_data(cfg.data, "regression", "cpu")
    return cfg, data, RunWriter.create(tmp_path / "runs", dump_toml(cfg), "kfold")


def test_k_fold_run_records_each_fold_and_the_mean(tmp_path, root):
    cfg, data, run = fold_run(tmp_path, root)
    result = fit_folds(cfg, run, [], Control(), data)
    records = run.metrics()
    folds = [r for r in records if r["split"] == "fold"]
    cv = [r for r in records if r["split"] == "cv"]
    assert [r["fold"] for r in folds] == [1, 2, 3] and len(cv) == 1
    assert {r.get("fold") for r in records if r["split"] in ("train", "val")} == {1, 2, 3}
    steps = [r["step"] for r in records if r["split"] == "train"]
    assert steps == sorted(steps)  # each fold's steps follow the folds before it
    mean = sum(r["log_rmse"] for r in folds) / 3
    assert cv[0]["log_rmse"] == pytest.approx(mean) and result.val["log_rmse"] == pytest.approx(mean)
    for r in folds:  # a fold's line repeats its last validation
        assert r["log_rmse"] == [v for v in records if v["split"] == "val" and v["fold"] == r["fold"]][-1]["log_rmse"]
    status = run.status()
    assert status["state"] == "finished" and f"3-fold mean val log_rmse {mean:.4g}" in status["message"]
    summary = next(s for s in list_runs(tmp_path / "runs") if s.id == run.id)
    assert summary.metric == "log_rmse" and summary.best == pytest.approx(mean)
    # each fold trains on the others: fold i of 3 over the 6 houses validates on rows 2i, 2i + 1
    assert torch.equal(fold_data(data, 1, 3).val[1], data.train[1][2:4])


def test_k_fold_resume_skips_finished_folds(tmp_path, root):
    cfg, data, run = fold_run(tmp_path, root)
    control = Control()

    def stop_in_fold_two(event):
        if getattr(event, "record", {}).get("fold") == 2:
            control.stop.set()

    stopped = fit_folds(cfg, run, [stop_in_fold_two], control, data)
    assert stopped.state == "stopped" and run.status()["state"] == "stopped"
    fold_one = [r for r in run.metrics() if r.get("fold") == 1]
    done = fit_folds(cfg, run, [], Control(), data, resume=True)
    records = run.metrics()
    assert done.state == "finished" and [r for r in records if r.get("fold") == 1] == fold_one
    assert [r["fold"] for r in records if r["split"] == "fold"] == [1, 2, 3]
    assert sum(r["split"] == "val" and r["fold"] == 2 for r in records) == 2  # fold 2 retrained once, 2 epochs
    with pytest.raises(UserError, match="already finished its 3 folds"):
        fit_folds(cfg, run, [], Control(), data, resume=True)


def test_train_command_runs_the_folds_of_an_mlp(tmp_path, root, capsys):
    from d2ltui.cli.training import run_train

    code = run_train("mlp", ["data.name=kaggle-house", f"data.root={root}", "data.download=false", "data.folds=2",
                             "data.batch_size=2", "train.epochs=1", "optim.lr=0.01", "hidden=(8,)"],
                     device="cpu", runs_dir=str(tmp_path / "runs"), plain=True)
    out = capsys.readouterr().out
    assert code == 0 and "2-fold mean val log_rmse" in out
    run = RunDir.find(next(iter((tmp_path / "runs").iterdir())).name, str(tmp_path / "runs"))
    assert [r["split"] for r in run.metrics()][-1] == "cv"
