"""Per-layer statistics: values on hand-built tiny networks against values worked out here, hooks only while
a step records, layers.jsonl under the crash and resume rules of metrics.jsonl."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from d2ltui.rundir.writer import RunWriter
from d2ltui.tasks.resolve import validate
from d2ltui.config.schema import from_dict
from d2ltui.engine.loop.cadence import LayerStatsPolicy
from d2ltui.engine.loop.layerstats import LayerProbe
from d2ltui.engine.loop.recorder import truncate_metrics
from d2ltui.errors import UserError
from d2ltui.rundir.store import LAYERS, RunDir, read_metrics

LR = 0.5


def tiny_net() -> nn.Sequential:
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.Sigmoid(), nn.Linear(2, 1))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, -1.0, 0.5], [-2.0, -1.0, -1.0], [0.5, 0.5, 0.5], [-1.0, 2.0, 0.0]]))
        net[0].bias.copy_(torch.tensor([0.1, -5.0, 0.0, -0.2]))  # unit 2 is dead on the inputs below
        net[2].weight.copy_(torch.tensor([[4.0, 3.0, -2.0, 5.0], [-0.5, 0.2, 0.1, 0.3]]))
        net[2].bias.copy_(torch.tensor([1.0, 0.0]))
        net[4].weight.copy_(torch.tensor([[1.5, -2.0]]))
        net[4].bias.copy_(torch.tensor([0.3]))
    return net


X = torch.tensor([[1.0, 0.0, 2.0], [0.5, 1.0, -1.0], [2.0, 2.0, 0.0], [-1.0, 0.5, 1.0]])
Y = torch.tensor([[1.0], [0.0], [2.0], [-1.0]])


def sgd_step(net, optimizer):
    optimizer.zero_grad(set_to_none=True)
    F.mse_loss(net(X), Y).backward()
    optimizer.step()


def by_layer(records):
    return {r["layer"]: r for r in records}


def test_statistics_of_a_tiny_network_match_a_hand_computation():
    net = tiny_net()
    params = [p.detach().clone().requires_grad_(True) for p in net.parameters()]
    w1, b1, w2, b2, w3, b3 = params
    # the same network written out by hand
    h = torch.relu(X @ w1.T + b1)
    s = torch.sigmoid(h @ w2.T + b2)
    out = s @ w3.T + b3
    grads = torch.autograd.grad(F.mse_loss(out, Y), params)
    h, s, out = h.detach(), s.detach(), out.detach()

    probe = LayerProbe(net)
    probe.around(sgd_step, net, torch.optim.SGD(net.parameters(), lr=LR))
    got = by_layer(probe.records)
    assert list(got) == ["0", "2", "4"]

    fc1, fc2, fc3 = got["0"], got["2"], got["4"]
    assert (fc1["act"], fc2["act"], fc3["act"]) == ("ReLU", "Sigmoid", "output")
    assert fc1["act_mean"] == pytest.approx(h.mean().item(), rel=1e-5)
    assert fc1["act_std"] == pytest.approx(h.std(unbiased=False).item(), rel=1e-5)
    dead_units = sum(bool((h[:, j] == 0).all()) for j in range(4))
    assert dead_units >= 1 and fc1["dead"] == pytest.approx(dead_units / 4) and fc1["saturated"] is None
    flat = ((s < 0.01) | (s > 0.99)).float().mean().item()
    assert 0 < flat < 1 and fc2["saturated"] == pytest.approx(flat) and fc2["dead"] is None
    assert fc2["act_std"] == pytest.approx(s.std(unbiased=False).item(), rel=1e-5)
    assert fc3["act_mean"] == pytest.approx(out.mean().item(), rel=1e-5)
    assert fc3["saturated"] is None and fc3["dead"] is None

    for (layer, i) in (("0", 0), ("2", 2), ("4", 4)):
        g = torch.cat([grads[i].reshape(-1), grads[i + 1].reshape(-1)])
        w = torch.cat([params[i].detach().reshape(-1), params[i + 1].detach().reshape(-1)])
        w_after = w - LR * g  # plain SGD
        assert got[layer]["grad_norm"] == pytest.approx(g.norm().item(), rel=1e-5)
        assert got[layer]["weight_norm"] == pytest.approx(w_after.norm().item(), rel=1e-5)
        assert got[layer]["update_ratio"] == pytest.approx((LR * g).norm().item() / w.norm().item(), rel=1e-4)


def test_a_shared_layer_sums_over_its_calls_and_hooks_leave_after_the_step():
    shared = nn.Linear(2, 2)
    net = nn.Sequential(shared, nn.Tanh(), shared, nn.Tanh())
    with torch.no_grad():
        shared.weight.copy_(torch.tensor([[3.0, -1.0], [0.5, 2.0]]))
        shared.bias.zero_()
    x = torch.tensor([[1.0, 0.5], [-0.2, 0.3], [2.0, -1.0]])
    with torch.no_grad():
        a1 = torch.tanh(x @ shared.weight.T)
        a2 = torch.tanh(a1 @ shared.weight.T)
    both = torch.cat([a1.reshape(-1), a2.reshape(-1)])
    probe = LayerProbe(net)
    probe.around(lambda: net(x).sum().backward())
    (rec,) = probe.records
    assert rec["act"] == "Tanh"
    assert rec["act_mean"] == pytest.approx(both.mean().item(), rel=1e-5)
    assert rec["act_std"] == pytest.approx(both.std(unbiased=False).item(), rel=1e-5)
    assert rec["saturated"] == pytest.approx((both.abs() > 0.99).float().mean().item())
    assert rec["update_ratio"] == 0.0  # no optimizer step: nothing changed
    assert not net[0]._forward_hooks and not net[1]._forward_hooks
    assert not shared.weight._post_accumulate_grad_hooks


def test_hooks_are_removed_when_the_step_fails():
    net = tiny_net()

    def failing():
        net(X)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        LayerProbe(net).around(failing)
    assert all(not m._forward_hooks for m in net.modules())
    assert all(not p._post_accumulate_grad_hooks for p in net.parameters())


def test_cadence_and_bound():
    assert [s for s in range(1, 11) if LayerStatsPolicy(4).due(s)] == [1, 4, 8]
    assert not any(LayerStatsPolicy(0).due(s) for s in range(1, 10))
    with pytest.raises(UserError, match="train.layer_stats_every"):
        validate(from_dict({"model": {"name": "mlp"}, "data": {"name": "moons"}, "train": {"layer_stats_every": -1}}))


def quick_cfg(**train):
    return from_dict({"model": {"name": "mlp", "hidden": [8]}, "data": {"name": "moons", "num_train": 96,
                                                                       "num_val": 32, "batch_size": 16},
                      "train": {"epochs": 2, **train}})


def test_fit_writes_layers_jsonl_on_the_recorded_steps_only(tmp_path):
    from d2ltui.engine.loop.trainer import fit

    run = RunWriter.create(tmp_path, "", "r")
    assert fit(quick_cfg(layer_stats_every=4), run).state == "finished"
    records = run.layers()
    assert sorted({r["step"] for r in records}) == [1, 4, 8, 12]  # 12 steps: 96 / 16 per epoch, two epochs
    assert {r["layer"] for r in records} == {"fc1", "fc2"}
    assert all(set(r) >= {"step", "layer", "act_mean", "act_std", "grad_norm", "weight_norm", "update_ratio"}
               for r in records)
    off = RunWriter.create(tmp_path, "", "off")
    fit(quick_cfg(layer_stats_every=0), off)
    assert not (off.path / LAYERS).exists()


def test_layers_jsonl_crash_rules(tmp_path):
    run = RunWriter.create(tmp_path, "", "r")
    run.append_layers([{"step": 1, "layer": "fc1", "grad_norm": 1.0}, {"step": 5, "layer": "fc1", "grad_norm": 2.0}])
    with open(run.path / LAYERS, "ab") as f:
        f.write(b'{"step": 10, "layer": "fc1", "gra')  # killed mid-line
    records, _ = read_metrics(run.path / LAYERS)
    assert [r["step"] for r in records] == [1, 5]  # the cut line is skipped
    resumed = RunWriter(run.path)  # a resumed writer closes the cut line off before appending
    resumed.append_layers([{"step": 6, "layer": "fc1", "grad_norm": 3.0}])
    assert [r["step"] for r in resumed.layers()] == [1, 5, 6]
    assert truncate_metrics(resumed, 5) >= 2  # resume from a checkpoint at step 5: the cut line and step 6 go
    lines = (run.path / LAYERS).read_bytes().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 5]
