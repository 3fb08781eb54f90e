"""Tabular agents of chapter 17: a Q table (a float64 buffer, so checkpoints hold it) and the agent's settings."""

from __future__ import annotations

import torch
from torch import nn

ACTIONS = ("left", "down", "right", "up")  # FrozenLake's action ids 0..3


class TabularAgent(nn.Module):
    """Q(s, a) for every state and action, all zeros at first; V(s) = max_a Q(s, a), the greedy policy argmax.

    `forward(states)` is the rows of Q for the given state ids. `gamma` is the discount; `alpha` (the
    learning rate) and `epsilon` (the exploration rate of epsilon-greedy) matter to Q-learning only.
    """

    def __init__(self, num_states: int, num_actions: int, gamma: float, alpha: float = 0.0,
                 epsilon: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("table", torch.zeros(num_states, num_actions, dtype=torch.float64))
        self.gamma, self.alpha, self.epsilon = gamma, alpha, epsilon

    def forward(self, states: torch.Tensor) -> torch.Tensor:
        return self.table[states]

    def values(self) -> torch.Tensor:
        return self.table.max(1).values

    def policy(self) -> torch.Tensor:
        """The greedy action of each state (the first of tied actions, as numpy's argmax in the book)."""
        return self.table.argmax(1)


def value_iteration(num_states: int = 16, num_actions: int = 4, gamma: float = 0.95) -> TabularAgent:
    """Value iteration (section 17.2): Q_k+1(s, a) = sum_s' P(s'|s, a) [r + gamma V_k(s')]."""
    return TabularAgent(num_states, num_actions, gamma)


def q_learning(num_states: int = 16, num_actions: int = 4, gamma: float = 0.95, alpha: float = 0.9,
               epsilon: float = 0.9) -> TabularAgent:
    """Q-learning (section 17.3): Q(s, a) += alpha (r + gamma max_a' Q(s', a') - Q(s, a)), epsilon-greedy."""
    return TabularAgent(num_states, num_actions, gamma, alpha, epsilon)
