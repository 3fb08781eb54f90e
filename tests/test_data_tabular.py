"""CSV and tabular-missing: the book's preprocessing, each imputation/deletion choice and its report."""

from __future__ import annotations

import pytest
import torch

from d2ltui.config.schema import DataConfig
from d2ltui.data import load_data
from d2ltui.errors import UserError

HOUSES = """NumRooms,RoofType,Alley,Area,Price
NA,NA,Pave,80,127500
2,NA,NA,60,106000
4,Slate,Pave,120,178100
NA,NA,Grvl,90,140000
3,Tile,Pave,100,150000
5,Slate,Grvl,150,210000
3,Tile,Pave,95,
2,Tile,Pave,55,99000
6,Slate,NA,200,260000
4,Tile,Grvl,130,170000
"""


@pytest.fixture
def houses(tmp_path):
    path = tmp_path / "houses.csv"
    path.write_text(HOUSES)
    return path


def load(path, impute="mean", task="regression", target="Price", **kw):
    kw = {"num_train": 6, "num_val": 3, **kw}
    cfg = DataConfig(name="csv", path=str(path), target=target, impute=impute, **kw)
    return load_data(cfg, task, "cpu")


def all_rows(dm):
    return torch.cat([dm.train[0], dm.val[0]]), torch.cat([dm.train[1], dm.val[1]])


def test_mean_imputation_standardises_and_reports(houses):
    dm = load(houses, "mean")
    X, y = all_rows(dm)
    rep = dm.info["impute"]
    assert rep["target_missing_rows"] == 1 and rep["values_filled"] == {"NumRooms": 2, "RoofType": 3, "Alley": 2}
    assert rep["total_filled"] == 7
    assert dm.info["features"] == ["NumRooms", "RoofType=Slate", "RoofType=Tile", "RoofType=<missing>",
                                   "Alley=Grvl", "Alley=Pave", "Alley=<missing>", "Area"]
    assert X.shape == (9, 8) and X.dtype == torch.float32 and not X.isnan().any()
    assert X[:, 0].mean().abs() < 1e-5  # standardised, the holes at the mean
    assert (X[:, 1:7].sum(1) == 2).all()  # one level of each categorical column
    assert y.shape == (9, 1) and y.dtype == torch.float32 and sorted(y.squeeze().tolist())[0] == 99000
    assert dm.model_knobs == {"in_features": 8, "num_classes": 1} and dm.input_shape == ((1, 8),)  # 1 output


def test_median_most_frequent_constant(houses):
    rooms = torch.tensor([2.0, 4, 3, 5, 2, 6, 4])  # observed NumRooms of the rows with a target
    mean, std = rooms.mean(), rooms.std()
    for impute, fill in (("median", rooms.median()), ("most_frequent", torch.mode(rooms).values),
                         ("constant", torch.tensor(0.0))):
        X, _ = all_rows(load(houses, impute))
        col = X[:, 0]
        expected = ((fill - mean) / std).item()
        assert (col - expected).abs().lt(1e-5).sum() >= 2, impute
    dm = load(houses, "most_frequent")
    assert "RoofType=<missing>" not in dm.info["features"] and dm.info["impute"]["values_filled"]["RoofType"] == 3
    assert dm.train[0].shape[1] == 6


def test_deletion(houses):
    rows = load(houses, "drop_rows", num_train=0, num_val=0)
    assert rows.info["impute"]["rows_dropped"] == 4 and rows.num_train + len(rows.val[0]) == 5
    assert rows.info["features"] == ["NumRooms", "RoofType=Slate", "RoofType=Tile", "Alley=Grvl", "Alley=Pave", "Area"]
    cols = load(houses, "drop_columns")
    assert cols.info["impute"]["columns_dropped"] == ["NumRooms", "RoofType", "Alley"]
    assert cols.info["features"] == ["Area"] and cols.train[0].shape == (6, 1)


def test_deletion_that_leaves_nothing_is_an_error(tmp_path):
    path = tmp_path / "holes.csv"
    path.write_text("a,b,y\n1,NA,1\nNA,2,2\n3,NA,3\n")
    with pytest.raises(UserError, match="data.impute=drop_columns"):
        load(path, "drop_columns", target="y")
    with pytest.raises(UserError, match="data.impute=drop_rows"):
        load(path, "drop_rows", target="y")


def test_categorical_target_is_classification(houses):
    dm = load(houses, task="classification", target="RoofType")
    assert dm.classes == ["Slate", "Tile"] and dm.model_knobs["num_classes"] == 2
    assert dm.train[1].dtype == torch.int64 and dm.info["impute"]["target_missing_rows"] == 3
    with pytest.raises(UserError, match="data.target.*non-numeric.*classification"):
        load(houses, target="RoofType")


def test_csv_errors(houses, tmp_path):
    with pytest.raises(UserError, match="data.target: no column 'price'.*Price"):
        load(houses, target="price")
    with pytest.raises(UserError, match="data.path"):
        load_data(DataConfig(name="csv", target="y"), "regression", "cpu")
    with pytest.raises(UserError, match="data.target"):
        load_data(DataConfig(name="csv", path=str(houses)), "regression", "cpu")
    with pytest.raises(UserError, match="no such file"):
        load(tmp_path / "none.csv")


def test_tabular_missing_embedded():
    dm = load_data(DataConfig(name="tabular-missing"), "regression", "cpu")
    assert dm.train[0].shape[0] == 800 and dm.val[0].shape[0] == 200 and dm.train[1].shape == (800, 1)
    rep = dm.info["impute"]
    assert set(rep["values_filled"]) == {"area", "rooms", "age", "roof", "pool_area"}
    assert rep["values_filled"]["pool_area"] > 700  # a mostly empty column
    assert not dm.train[0].isnan().any()
    rows = load_data(DataConfig(name="tabular-missing", impute="drop_rows"), "regression", "cpu")
    assert rows.info["impute"]["rows_dropped"] > 500
    cols = load_data(DataConfig(name="tabular-missing", impute="drop_columns"), "regression", "cpu")
    assert "district" not in cols.info["impute"]["columns_dropped"] and cols.model_knobs["in_features"] == 5
    # the table carries signal: least squares on the mean-imputed features beats predicting the mean
    X, y = dm.train
    A = torch.cat([X, torch.ones(len(X), 1)], 1)
    w = torch.linalg.lstsq(A, y).solution
    assert ((A @ w - y) ** 2).mean() < 0.3 * y.var()


def test_empty_and_id_like_columns_are_skipped(tmp_path):
    path = tmp_path / "people.csv"
    lines = ["name,empty,age,label"] + [f"person{i},,{20 + i % 7},{'ab'[i % 2]}" for i in range(120)]
    path.write_text("\n".join(lines) + "\n")
    dm = load(path, task="classification", target="label", num_train=100, num_val=20)
    assert dm.info["skipped_columns"] == ["name", "empty"] and dm.info["features"] == ["age"]
    assert not dm.train[0].isnan().any() and dm.classes == ["a", "b"]
