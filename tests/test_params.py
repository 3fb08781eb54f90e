"""The parameters view: one row per tensor, tied parameters counted once (the book's 121), lazy layers marked."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from d2ltui.cli import app, main
from d2ltui.inspector.params import lazy_modules, parameter_table

runner = CliRunner()


def book_shared_net():
    """parameters.md, "Tied Parameters", transcribed: a shared LazyLinear(8) used twice, X of shape (2, 4)."""
    X = torch.rand(size=(2, 4))
    shared = nn.LazyLinear(8)
    net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(),
                        shared, nn.ReLU(),
                        shared, nn.ReLU(),
                        nn.LazyLinear(1))
    lazy = lazy_modules(net)
    net(X)
    return net, lazy


def test_tied_parameters_count_once_as_in_the_book():
    net, lazy = book_shared_net()
    table = parameter_table(net, lazy)
    # 4*8+8 (first layer) + 8*8+8 (shared, once) + 8*1+1 (output) = 40 + 72 + 9
    assert table.unique_params == 121
    names = [r.name for r in table.rows]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias", "6.weight", "6.bias"]
    tied = {r.name: r.tied_to for r in table.rows if r.tied_to}
    assert tied == {"4.weight": "2.weight", "4.bias": "2.bias"}
    assert table.tied_tensors == 2
    # the book's check: both names hold the same tensor object
    net[2].weight.data[0, 0] = 100
    assert net[4].weight.data[0, 0] == 100


def test_lazy_layers_are_marked_with_the_shapes_they_took():
    net, lazy = book_shared_net()
    rows = {r.name: r for r in parameter_table(net, lazy).rows}
    assert rows["0.weight"].lazy and rows["0.weight"].shape == [8, 4]
    assert rows["6.weight"].shape == [1, 8] and rows["6.bias"].count == 1
    eager = parameter_table(nn.Sequential(nn.Linear(3, 2)))
    assert not any(r.lazy for r in eager.rows)


def test_mean_std_count_and_trainable_per_tensor():
    layer = nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
        layer.bias.copy_(torch.tensor([-1.0, 1.0]))
    layer.bias.requires_grad_(False)
    rows = {r.name: r for r in parameter_table(nn.Sequential(layer)).rows}
    w, b = rows["0.weight"], rows["0.bias"]
    assert (w.count, w.shape, w.trainable) == (6, [2, 3], True)
    assert w.mean == pytest.approx(3.5)
    assert w.std == pytest.approx((17.5 / 5) ** 0.5)  # sample std of 1..6: sum of squared deviations 17.5 over 5
    assert (b.mean, b.std, b.trainable) == (0.0, pytest.approx(2 ** 0.5), False)
    table = parameter_table(nn.Sequential(layer))
    assert (table.unique_params, table.trainable_params) == (8, 6)


def test_cli_params_table_and_json(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    result = runner.invoke(app, ["inspect", "mlp", "--params", "--set", "hidden=(16,)"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    fc1 = next(line for line in lines if line.startswith("fc1.weight"))
    assert "16x784" in fc1 and "12,544" in fc1 and "lazy" in fc1
    assert "unique params 12,730 (trainable 12,730)" in result.output  # 784*16+16 + 16*10+10
    result = runner.invoke(app, ["inspect", "lenet", "--params", "--json", "--set", "init=constant"])
    data = json.loads(result.output)
    rows = {r["name"]: r for r in data["parameters"]}
    assert data["unique_params"] == data["total_params"] == 61706
    assert rows["conv1.weight"]["mean"] == 1.0 and rows["conv1.weight"]["std"] == 0.0
    assert rows["conv1.bias"]["mean"] == 0.0 and rows["conv1.weight"]["shape"] == [6, 1, 5, 5]


def test_cli_params_bad_input_is_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["inspect", "alexnet", "--params", "--input", "1x1x28x28"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("d2l-tui: error:")
