"""Golden numbers of chapters 17 and 20: GAN parameter counts, the inspector's two networks, and value
iteration's optimal values on the book's 4x4 FrozenLake, each worked out here independently."""

from __future__ import annotations

import json
from collections import deque

import pytest
import torch

from d2ltui.rundir.writer import RunWriter
from d2ltui.tasks.resolve import resolve
from d2ltui.config.schema import dump_toml
from d2ltui.engine.loop.trainer import fit
from d2ltui.rundir.store import RunDir
from d2ltui.zoo.build import build_model
from d2ltui.zoo.registry import get_spec, resolve_knobs

BOOK_MAP = ["SFFF", "FHFH", "FFFH", "HFFG"]  # gymnasium's (and the book's) 4x4 FrozenLake


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def build(name: str, **knobs):
    spec = get_spec(name)
    return build_model(spec, resolve_knobs(spec, knobs), None, "cpu")


def test_gan_parameter_counts_are_the_books():
    net = build("gan")
    # generator nn.Linear(2, 2); discriminator Linear(2, 5), Tanh, Linear(5, 3), Tanh, Linear(3, 1)
    assert count(net.generator) == 2 * 2 + 2
    assert count(net.discriminator) == (2 * 5 + 5) + (5 * 3 + 3) + (3 * 1 + 1) == 37


def dcgan_counts(latent: int, n: int, c: int = 3) -> tuple[int, int]:
    """G_block / D_block of section 20.2: a 4x4 (transposed) conv without bias and a batch norm (2 per channel)."""
    conv = lambda i, o: i * o * 4 * 4  # noqa: E731
    g = [(latent, 8 * n), (8 * n, 4 * n), (4 * n, 2 * n), (2 * n, n)]
    d = [(c, n), (n, 2 * n), (2 * n, 4 * n), (4 * n, 8 * n)]
    net_g = sum(conv(i, o) + 2 * o for i, o in g) + conv(n, c)
    net_d = sum(conv(i, o) + 2 * o for i, o in d) + conv(8 * n, 1)
    return net_g, net_d


@pytest.mark.parametrize("latent,width", [(100, 64), (100, 16), (32, 8)])
def test_dcgan_parameter_counts_are_the_books(latent, width):
    net = build("dcgan", latent_dim=latent, base_width=width)
    assert (count(net.generator), count(net.discriminator)) == dcgan_counts(latent, width)
    if (latent, width) == (100, 64):
        assert (count(net.generator), count(net.discriminator)) == (3_576_704, 2_765_696)
    z = torch.randn(2, latent, 1, 1)
    assert net.generator(z).shape == (2, 3, 64, 64)
    assert net.discriminator(net.generator(z)).shape == (2, 1)


def test_the_book_initialises_every_gan_parameter_from_n_0_002():
    weights = torch.cat([p.detach().reshape(-1) for p in build("dcgan", base_width=8).parameters()])
    assert abs(float(weights.mean())) < 0.002 and float(weights.std()) == pytest.approx(0.02, rel=0.05)


@pytest.mark.parametrize("name", ["gan", "dcgan"])
def test_inspect_json_shows_generator_and_discriminator(name):
    from fault_helpers import cli

    code, out, err = cli("inspect", name, "--json")
    assert code == 0, err
    rows = {row["name"]: row for row in json.loads(out)["layers"]}
    net = build(name)
    assert rows["generator"]["params"] == count(net.generator)
    assert rows["discriminator"]["params"] == count(net.discriminator)
    assert rows["discriminator"]["output_shape"][-1] == 1
    if name == "dcgan":
        assert rows["generator"]["output_shape"] == [1, 3, 64, 64]


def optimal_values(grid: list[str], gamma: float) -> list[float]:
    """V*(s) on a deterministic grid, reward 1 on entering G: gamma^(d - 1) with d the fewest moves from s to G
    through non-hole cells (breadth-first search backwards from G); holes, the goal and cut-off cells are 0."""
    rows, cols = len(grid), len(grid[0])
    goal = next((r, c) for r in range(rows) for c in range(cols) if grid[r][c] == "G")
    dist = {goal: 0}
    queue = deque([goal])
    while queue:
        r, c = queue.popleft()
        for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if 0 <= nr < rows and 0 <= nc < cols and (nr, nc) not in dist and grid[nr][nc] in "SF":
                dist[(nr, nc)] = dist[(r, c)] + 1
                queue.append((nr, nc))
    return [0.0 if (r, c) == goal or (r, c) not in dist else gamma ** (dist[(r, c)] - 1)
            for r in range(rows) for c in range(cols)]


def test_optimal_values_by_hand():
    v = optimal_values(BOOK_MAP, 0.95)
    assert v[14] == 1.0 and v[10] == 0.95 and v[0] == pytest.approx(0.95 ** 5) and v[5] == 0.0


def test_value_iteration_reaches_the_exact_optimal_values_of_the_book(tmp_path):
    cfg, _ = resolve("value-iteration")
    assert (cfg.model.knobs["gamma"], cfg.train.epochs, cfg.data.name) == (0.95, 10, "frozenlake-4x4")
    run = RunWriter.create(tmp_path, dump_toml(cfg), "vi")
    result = fit(cfg, run)
    assert result.state == "finished", result.message
    samples = run.samples()
    assert samples["map"] == BOOK_MAP
    assert samples["values"] == pytest.approx(optimal_values(BOOK_MAP, 0.95), abs=1e-5)
    # the greedy policy walks from S to G along a shortest path
    moves = {0: (0, -1), 1: (1, 0), 2: (0, 1), 3: (-1, 0)}  # left, down, right, up
    r = c = 0
    for _ in range(6):
        dr, dc = moves[samples["policy"][r * 4 + c]]
        r, c = r + dr, c + dc
    assert BOOK_MAP[r][c] == "G"
    assert [h["step"] for h in samples["history"]] == list(range(11))
    assert samples["history"][0]["values"] == [0.0] * 16
    # after k sweeps exactly the states at most k moves from the goal have their optimal value
    for k in (1, 3, 6):
        expected = [v if v >= 0.95 ** (k - 1) - 1e-9 else 0.0 for v in optimal_values(BOOK_MAP, 0.95)]
        assert samples["history"][k]["values"] == pytest.approx(expected, abs=1e-5)
    assert result.val["success"] == 1.0
    train = [r for r in run.metrics() if r["split"] == "train"]
    assert train[-1]["loss"] == 0.0 and train[0]["return"] == 0.0 and train[5]["return"] == pytest.approx(0.95 ** 5)
