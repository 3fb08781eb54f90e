"""Successive halving and ASHA (the book's chapter 19): which trials go on to the next rung, with no processes.

Rungs are epochs: r_min, r_min*eta, r_min*eta^2, ... below r_max, then r_max itself (the book's
`rung_levels`). A scheduler is told each trial's score at a rung (`report`; lower is better, None
for a trial that failed) and answers which job to start next (`next_job`: a trial and a rung, or
None when nothing can start now). Successive halving runs every trial at the first rung, waits for
the rung to fill and sends the best 1/eta on; ASHA never waits: a free slot promotes a trial in the
top 1/eta of the results a rung has so far, or else starts a new trial.
"""

from __future__ import annotations

import math

from d2ltui.errors import UserError

SCHEDULERS = ("successive-halving", "asha")


def rung_levels(r_min: int, r_max: int, eta: int) -> list[int]:
    """[r_min, r_min*eta, ...] up to r_max, with r_max as the last rung: (2, 10, 2) -> [2, 4, 8, 10]."""
    if not (isinstance(r_min, int) and isinstance(r_max, int) and isinstance(eta, int)):
        raise UserError(f"r_min, r_max and eta must be integers, got {r_min!r}, {r_max!r}, {eta!r}")
    if r_min < 1 or r_max < r_min or eta < 2:
        raise UserError(f"rungs: need 1 <= r_min <= r_max and eta >= 2, got r_min={r_min}, r_max={r_max}, eta={eta}")
    levels = [r_min]
    while levels[-1] * eta <= r_max:
        levels.append(levels[-1] * eta)
    return levels if levels[-1] == r_max else levels + [r_max]


def rung_sizes(n: int, eta: int, rungs: int) -> list[int]:
    """How many trials successive halving runs at each rung: n, n//eta, n//eta^2, ... (at least one)."""
    return [max(1, n // eta ** i) for i in range(rungs)]


def best(scores: dict[str, float | None], k: int) -> list[str]:
    """The k trials of lowest score (ties in the order reported); a failed trial (None or NaN) never goes on."""
    scored = [t for t, s in scores.items() if s is not None and not math.isnan(s)]
    return sorted(scored, key=lambda t: scores[t])[:max(0, k)]


class RungScheduler:
    """What both schedulers keep: the trials, the rungs, each rung's scores and the jobs started."""

    name = ""

    def __init__(self, trials: list[str], levels: list[int], eta: int) -> None:
        self.trials, self.levels, self.eta = list(trials), list(levels), eta
        self.scores: list[dict[str, float | None]] = [{} for _ in levels]
        self.started: list[tuple[str, int]] = []  # (trial, rung) in the order started

    def report(self, trial: str, rung: int, score: float | None) -> None:
        self.scores[rung][trial] = score

    def mark(self, trial: str, rung: int) -> tuple[str, int]:
        self.started.append((trial, rung))
        return trial, rung

    def running(self) -> list[tuple[str, int]]:
        return [(t, r) for t, r in self.started if t not in self.scores[r]]

    def candidate(self) -> tuple[str, int] | None:
        raise NotImplementedError

    def next_job(self) -> tuple[str, int] | None:
        """The job to start now (marked started), or None: wait for a result, or the search is done."""
        job = self.candidate()
        return self.mark(*job) if job else None

    def done(self) -> bool:
        return not self.running() and self.candidate() is None

    def rung_reached(self, trial: str) -> int | None:
        reached = [r for r in range(len(self.levels)) if trial in self.scores[r]]
        return reached[-1] if reached else None

    def decided(self, rung: int) -> bool:
        """Whether a trial scored at `rung` and not sent on can no longer be sent on."""
        return self.done()

    def state(self, trial: str) -> str:
        """pending, running, waiting (at a rung, not yet decided), stopped (early, at a rung) or finished."""
        if any(t == trial for t, _ in self.running()):
            return "running"
        rung = self.rung_reached(trial)
        if rung is None:
            return "pending"
        if rung == len(self.levels) - 1:
            return "finished"
        return "stopped" if self.decided(rung) else "waiting"


class SuccessiveHalving(RungScheduler):
    """Synchronous: rung i runs n//eta^i trials, the best of rung i-1 once all of rung i-1 have reported."""

    name = "successive-halving"

    def __init__(self, trials: list[str], levels: list[int], eta: int) -> None:
        super().__init__(trials, levels, eta)
        self.sizes = rung_sizes(len(trials), eta, len(levels))

    def queue(self, rung: int) -> list[str] | None:
        """The trials that run at `rung`, or None while the rung below has not filled."""
        if rung == 0:
            return self.trials
        below = self.queue(rung - 1)
        if below is None or any(t not in self.scores[rung - 1] for t in below):
            return None
        return best({t: self.scores[rung - 1][t] for t in below}, self.sizes[rung])

    def candidate(self) -> tuple[str, int] | None:
        for rung in range(len(self.levels)):
            queue = self.queue(rung)
            if queue is None:
                return None
            for trial in queue:
                if (trial, rung) not in self.started:
                    return trial, rung
        return None

    def decided(self, rung: int) -> bool:
        return rung + 1 < len(self.levels) and self.queue(rung + 1) is not None


class ASHA(RungScheduler):
    """Asynchronous successive halving: promote from the highest rung that can, else start a new trial."""

    name = "asha"

    def candidate(self) -> tuple[str, int] | None:
        for rung in reversed(range(len(self.levels) - 1)):
            scores = self.scores[rung]
            for trial in best(scores, len(scores) // self.eta):
                if (trial, rung + 1) not in self.started:
                    return trial, rung + 1
        fresh = [t for t in self.trials if (t, 0) not in self.started]
        return (fresh[0], 0) if fresh else None


def make_scheduler(name: str, trials: list[str], levels: list[int], eta: int) -> RungScheduler:
    if name not in SCHEDULERS:
        raise UserError(f"--scheduler {name!r}: expected one of {', '.join(SCHEDULERS)}")
    return (SuccessiveHalving if name == "successive-halving" else ASHA)(trials, levels, eta)
