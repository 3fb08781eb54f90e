"""Environments of chapter 17 as data: gymnasium's FrozenLake-v1 (4x4 or 8x8, slippery or not) and its MDP."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from d2ltui.data.base import DataModule
from d2ltui.errors import UserError

ENV_ID = "FrozenLake-v1"


@dataclass
class Environment(DataModule):
    """An environment whose one "example" is its MDP: `train` = `val` = (P, R) with P[s, a, s'] the transition
    probabilities and R[s, a, s'] the rewards (float64), read from gymnasium's model of the environment.

    `make_env()` builds a fresh gymnasium environment; `map` is the grid's rows of letters (S start,
    F frozen, H hole, G goal). An epoch of an RL task is one iteration or one episode, so `num_train` is 1.
    """

    env_kwargs: dict[str, Any] = field(default_factory=dict)
    map: list[str] = field(default_factory=list)

    def make_env(self):
        import gymnasium

        return gymnasium.make(ENV_ID, **self.env_kwargs)

    @property
    def num_train(self) -> int:
        return 1

    @property
    def transitions(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.train[0], self.train[1]


def mdp(env) -> tuple[torch.Tensor, torch.Tensor]:
    """(P, R) of a toy-text environment from its table env.P[s][a] = [(p, s', r, done), ...]."""
    table = env.unwrapped.P
    S, A = len(table), len(table[0])
    P = torch.zeros(S, A, S, dtype=torch.float64)
    R = torch.zeros(S, A, S, dtype=torch.float64)
    for s, actions in table.items():
        for a, outcomes in actions.items():
            for p, nxt, r, _done in outcomes:
                P[s, a, nxt] += p
                R[s, a, nxt] = r
    return P, R


def load_frozenlake(cfg, task: str) -> Environment:
    """frozenlake-4x4 | frozenlake-8x8, with -slippery for the stochastic ice (the book's map is 4x4, not slippery)."""
    try:
        import gymnasium  # noqa: F401
    except ImportError:
        raise UserError(f"{cfg.name}: needs the gymnasium package (pip install gymnasium)") from None
    size = "8x8" if "8x8" in cfg.name else "4x4"
    kwargs = {"map_name": size, "is_slippery": cfg.name.endswith("-slippery")}
    env = gymnasium.make(ENV_ID, **kwargs)
    P, R = mdp(env)
    rows = ["".join(c.decode() for c in row) for row in env.unwrapped.desc]
    env.close()
    S, A = P.shape[:2]
    return Environment(
        name=cfg.name, task=task, train=(P, R), val=(P, R), input_shape=((1,),),
        model_knobs={"num_states": S, "num_actions": A},
        info={"env": ENV_ID, **kwargs}, env_kwargs=kwargs, map=rows)
