"""Search spaces of a sweep: `--sample KEY=loguniform(a,b)` (and uniform, randint, choice) drawn with a seed.

A space maps a config key to a domain; `sample_settings(space, n, seed)` draws n settings, the
same ones for the same seed. Ranges follow the book's chapter 19: `loguniform(1e-2,1)` draws
log-uniformly in [a, b], `randint(32,256)` an integer in [a, b] (both ends included), `choice(a,b,c)`
one of the values. Imports no torch.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from typing import Any

from d2ltui.config.overrides import parse_text
from d2ltui.errors import UserError

KINDS = ("loguniform", "uniform", "randint", "choice")
_CALL = re.compile(r"^\s*([a-z_]+)\s*\((.*)\)\s*$", re.S)


@dataclass(frozen=True)
class Domain:
    """One key's range: kind (one of KINDS) and its arguments (bounds, or the choices)."""

    kind: str
    args: tuple

    def sample(self, rng: random.Random) -> Any:
        if self.kind == "loguniform":
            low, high = self.args
            return float(f"{math.exp(rng.uniform(math.log(low), math.log(high))):.4g}")
        if self.kind == "uniform":
            return float(f"{rng.uniform(*self.args):.4g}")
        if self.kind == "randint":
            return rng.randint(*self.args)
        return rng.choice(self.args)

    def __str__(self) -> str:
        return f"{self.kind}({','.join(map(str, self.args))})"


def parse_domain(text: str, where: str) -> Domain:
    """`loguniform(1e-3,1)` -> Domain; a UserError naming `where` (the option or preset key) otherwise."""
    from d2ltui.config.overrides import split_values

    match = _CALL.match(text)
    if not match or match.group(1) not in KINDS:
        raise UserError(f"{where}: expected one of {', '.join(k + '(...)' for k in KINDS)}, got {text!r}")
    kind = match.group(1)
    args = tuple(parse_text(v) for v in split_values(match.group(2)) if v.strip())
    if kind == "choice":
        if not args:
            raise UserError(f"{where}: choice(...) needs at least one value")
        return Domain(kind, args)
    numbers = all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)
    if len(args) != 2 or not numbers:
        raise UserError(f"{where}: {kind}(LOW,HIGH) takes two numbers, got {text!r}")
    low, high = args
    if kind == "randint" and not (isinstance(low, int) and isinstance(high, int)):
        raise UserError(f"{where}: randint(LOW,HIGH) takes two integers, got {text!r}")
    if not (low <= high if kind == "randint" else low < high):
        raise UserError(f"{where}: {kind}({low},{high}): LOW must be below HIGH")
    if kind == "loguniform" and low <= 0:
        raise UserError(f"{where}: loguniform({low},{high}): the bounds must be > 0")
    return Domain(kind, (low, high))


def parse_samples(items: list[str]) -> dict[str, Domain]:
    """`--sample KEY=DOMAIN` options -> {section.key: Domain} (keys normalised as `--grid` does)."""
    from d2ltui.engine.orchestration.sweep import grid_key

    space: dict[str, Domain] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--sample {item!r}: expected KEY=loguniform(a,b), randint(a,b) or choice(a,b,...)")
        space[grid_key(key)] = parse_domain(text, f"--sample {key.strip()}")
    return space


def sample_settings(space: dict[str, Domain], n: int, seed: int) -> list[dict[str, Any]]:
    """n settings drawn from `space`, key by key in the space's order; the same for the same seed."""
    rng = random.Random(seed)
    return [{key: domain.sample(rng) for key, domain in space.items()} for _ in range(n)]
