"""Reinforcement-learning tasks on a gymnasium environment: value iteration (a step is one sweep of the MDP)
and Q-learning (a step is one epsilon-greedy episode). Each epoch is one step, so every iteration or episode
is validated (the greedy policy's success) and drawn (values and policy)."""

from __future__ import annotations

from typing import Any

import torch

from d2ltui.errors import UserError
from d2ltui.tasks.base import StepContext, StepStats, Task
from d2ltui.zoo.rl import ACTIONS

HISTORY = 256  # values and policies kept for the dashboard to step through (the latest ones)
EVAL_EPISODES = 100  # greedy rollouts on slippery ice (one suffices on deterministic ice)
EVAL_SEED = 10_000  # their seeds, apart from training's


class EpisodeBatches:
    """The RL source of "batches": one per epoch, the epoch's index; nothing to shuffle or shard."""

    steps_per_epoch = 1

    def order(self, generator: torch.Generator) -> torch.Tensor:
        return torch.zeros(1, dtype=torch.int64)

    def start(self, order: torch.Tensor) -> None:
        pass

    def get(self, b: int) -> int:
        return b


class TabularTask(Task):
    """What value iteration and Q-learning share: the agent's table, the history of values and policies,
    greedy evaluation, the random state (a generator for episode seeds and exploration) and the samples.

    Train lines: `loss` (the largest change of V in a sweep, or the mean |TD error| of an episode),
    `return` (discounted return of the episode, or of a greedy rollout for value iteration) and `success`
    (the fraction of episodes so far that reached the goal). Val lines: the greedy policy's `return` and
    `success`."""

    metric = "success"

    @classmethod
    def learning_bar(cls, data):
        """Most greedy episodes reach the goal."""
        return "success", 0.5

    def setup(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.agent = ctx.model
        self.env = self.data.make_env()
        self.gen = torch.Generator().manual_seed(ctx.cfg.train.seed)
        S = self.agent.table.shape[0]
        self.hist_values = self.agent.values().cpu()[None]
        self.hist_policy = self.agent.policy().cpu()[None]
        self.hist_steps = torch.zeros(1, dtype=torch.int64)
        self.counts = torch.zeros(2, dtype=torch.int64)  # episodes, successes
        self.step_count = 0
        self.slippery = bool(self.data.info.get("is_slippery"))
        assert S == len(self.data.map) * len(self.data.map[0])

    def batches(self) -> EpisodeBatches:
        return EpisodeBatches()

    def lr(self) -> float:
        return float(self.agent.alpha)

    # -- what every step ends with ---------------------------------------------------------------
    def finish_step(self, table: torch.Tensor, loss: float, ret: float, success: bool, steps: int) -> StepStats:
        self.agent.table.copy_(table)
        self.counts += torch.tensor([1, int(success)])
        step = int(self.hist_steps[-1]) + 1
        self.hist_values = torch.cat([self.hist_values, table.max(1).values[None]])[-HISTORY:]
        self.hist_policy = torch.cat([self.hist_policy, table.argmax(1)[None]])[-HISTORY:]
        self.hist_steps = torch.cat([self.hist_steps, torch.tensor([step])])[-HISTORY:]
        loss_t = torch.tensor(loss, dtype=torch.float64)
        self.ctx.check(loss_t)
        rate = float(self.counts[1]) / float(self.counts[0])
        return StepStats(loss_t, 1, None, steps, {"return": ret, "success": rate})

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.agent.state_dict(), "rl_generator": self.gen.get_state(),
                "rl_counts": self.counts.clone(), "rl_history_values": self.hist_values.clone(),
                "rl_history_policy": self.hist_policy.clone(), "rl_history_steps": self.hist_steps.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.agent.load_state_dict(state["model"])
        self.gen.set_state(state["rl_generator"])
        self.counts = state["rl_counts"].clone()
        self.hist_values, self.hist_policy = state["rl_history_values"].clone(), state["rl_history_policy"].clone()
        self.hist_steps = state["rl_history_steps"].clone()

    # -- greedy evaluation -----------------------------------------------------------------------
    def rollout(self, policy: list[int], seed: int) -> tuple[float, bool]:
        """(discounted return, goal reached) of one episode following `policy`."""
        state, _ = self.env.reset(seed=seed)
        ret, discount, done, reward = 0.0, 1.0, False, 0.0
        while not done:
            state, reward, terminated, truncated, _ = self.env.step(policy[state])
            ret += discount * float(reward)
            discount *= self.agent.gamma
            done = terminated or truncated
        return ret, float(reward) > 0

    @torch.no_grad()
    def evaluate(self, model, prepare) -> dict[str, float]:
        policy = model.policy().tolist()
        runs = [self.rollout(policy, EVAL_SEED + i) for i in range(EVAL_EPISODES if self.slippery else 1)]
        return {"return": sum(r for r, _ in runs) / len(runs), "success": sum(s for _, s in runs) / len(runs)}

    def samples(self, model, prepare) -> dict[str, Any]:
        return {"kind": "rl-values", "task": self.name, "map": list(self.data.map), "actions": list(ACTIONS),
                "slippery": self.slippery, "step_name": self.step_name,
                "values": [round(v, 5) for v in model.values().tolist()], "policy": model.policy().tolist(),
                "history": [{"step": int(k), "values": [round(v, 5) for v in vals], "policy": pol}
                            for k, vals, pol in zip(self.hist_steps.tolist(), self.hist_values.tolist(),
                                                    self.hist_policy.tolist())]}


    @classmethod
    def hint(cls, card):
        return "give a state: its number, or its row and column on the map (e.g. 1,2)"

    @classmethod
    def answer(cls, model, card, cfg, text):
        """A state in (its id, or row,col on a square map), the greedy action and the state's value out."""
        count = int(model.table.shape[0])
        side = round(count ** 0.5)
        parts = text.replace(",", " ").split()
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            numbers = []
        if len(numbers) == 2 and side * side == count and all(0 <= v < side for v in numbers):
            state = numbers[0] * side + numbers[1]
        elif len(numbers) == 1 and 0 <= numbers[0] < count:
            state = numbers[0]
        else:
            where = f", or a row and a column in 0..{side - 1}" if side * side == count else ""
            raise UserError(f"input: {text!r} is not a state: give a number in 0..{count - 1}{where}")
        action, value = ACTIONS[int(model.policy()[state])], float(model.values()[state])
        at = f" (row {state // side}, column {state % side})" if side * side == count else ""
        return {"task": cls.name, "input": text, "state": state, "action": action, "value": round(value, 5),
                "q": [round(v, 5) for v in model.table[state].tolist()],
                "said": [f"state {state}{at}: the greedy action is {action}, the state's value {value:.4f}"]}


class ValueIteration(TabularTask):
    """Q_k+1(s, a) = sum_s' P(s'|s, a) (R(s, a, s') + gamma V_k(s')), V_k+1 = max_a Q_k+1, from the known MDP."""

    name = "value-iteration"
    step_name = "iteration"

    def train_step(self, batch) -> StepStats:
        P, R = (t.cpu() for t in self.data.transitions)
        table = self.agent.table.detach().cpu()
        V = table.max(1).values
        Q = (P * (R + self.agent.gamma * V)).sum(-1)
        loss = float((Q.max(1).values - V).abs().max())
        ret, success = self.rollout(Q.argmax(1).tolist(), EVAL_SEED)
        return self.finish_step(Q, loss, ret, success, 1)


class QLearning(TabularTask):
    """The book's Q-learning: epsilon-greedy actions, Q(s, a) += alpha (r + gamma max Q(s', .) - Q(s, a));
    each episode's environment seed and every exploration draw come from the task's generator."""

    name = "q-learning"
    step_name = "episode"

    def train_step(self, batch) -> StepStats:
        agent, g = self.agent, self.gen
        Q = agent.table.detach().cpu().clone()
        A = Q.shape[1]
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=g))
        state, _ = self.env.reset(seed=seed)
        done, ret, discount, reward, errors, steps = False, 0.0, 1.0, 0.0, 0.0, 0
        while not done:
            if float(torch.rand(1, generator=g)) < agent.epsilon:
                action = int(torch.randint(0, A, (1,), generator=g))
            else:
                action = int(Q[state].argmax())
            nxt, reward, terminated, truncated, _ = self.env.step(action)
            y = float(reward) + agent.gamma * float(Q[nxt].max())
            error = y - float(Q[state, action])
            Q[state, action] += agent.alpha * error
            errors, steps = errors + abs(error), steps + 1
            ret += discount * float(reward)
            discount *= agent.gamma
            state, done = nxt, terminated or truncated
        return self.finish_step(Q, errors / steps, ret, float(reward) > 0, steps)
