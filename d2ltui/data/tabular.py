"""Tables: any CSV with a target column, and an embedded house-price table with missing values.

The book's preprocessing: numeric columns standardised (mean 0, std 1 over the observed
values), categorical columns one-hot encoded, then the missing values handled by data.impute:
- mean (the book's: standardise, then the holes are 0) / median / most_frequent: numeric holes get
  that statistic; every categorical column gets an indicator column for a missing value (the book's
  `get_dummies(dummy_na=True)`), except under most_frequent, which fills the commonest category;
- constant: numeric holes get 0 on the raw scale, categorical ones as under mean;
- drop_rows / drop_columns: every row / column with a hole goes.
`DataModule.info["impute"]` says how many values each column had filled, or which rows/columns went.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import torch

from d2ltui.data.base import DataModule
from d2ltui.data.common import generator, split
from d2ltui.errors import UserError

MISSING = {"", "na", "nan", "n/a", "null", "none", "?"}
MAX_CATEGORIES = 50
DUMMY_NA = ("mean", "median", "constant")  # strategies giving every categorical column a missing indicator


def _num(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        with path.open(newline="", encoding="utf-8", errors="replace") as f:
            rows = [r for r in csv.reader(f) if r]
    except FileNotFoundError:
        raise UserError(f"data.path: no such file {path}") from None
    except (OSError, csv.Error) as err:
        raise UserError(f"data.path: cannot read {path} as CSV ({err})") from None
    if len(rows) < 3:
        raise UserError(f"data.path: {path} needs a header and at least 2 rows")
    header = [h.strip() for h in rows[0]]
    body = [r + [""] * (len(header) - len(r)) for r in rows[1:]]
    return header, [r[:len(header)] for r in body]


def _is_missing(v: str) -> bool:
    return v.strip().lower() in MISSING


def _encode_features(names, columns, impute):
    """Feature matrix (N, F) and the report of what the imputation touched; columns are lists of str."""
    n = len(columns[0]) if columns else 0
    blocks, feature_names, filled = [], [], {}
    for name, col in zip(names, columns):
        holes = torch.tensor([_is_missing(v) for v in col])
        values = [None if h else _num(v) for v, h in zip(col, holes.tolist())]
        if all(v is not None for v, h in zip(values, holes.tolist()) if not h):  # numeric
            x = torch.tensor([float("nan") if v is None else v for v in values], dtype=torch.float64)
            obs = x[~holes]
            mean, std = obs.mean(), obs.std() if len(obs) > 1 else torch.tensor(1.0)
            std = std if std > 0 else torch.tensor(1.0)
            fill = {"mean": mean, "median": obs.median(), "constant": torch.tensor(0.0),
                    "most_frequent": torch.mode(obs).values}.get(impute, mean) if len(obs) else torch.tensor(0.0)
            x = torch.where(holes, fill, x)
            blocks.append(((x - mean) / std).unsqueeze(1))
            feature_names.append(name)
        else:  # categorical
            cats = [v.strip() for v in col]
            seen = Counter(c for c, h in zip(cats, holes.tolist()) if not h)
            if impute == "most_frequent" and seen:
                top = seen.most_common(1)[0][0]
                cats = [top if h else c for c, h in zip(cats, holes.tolist())]
                levels = sorted(seen)
            else:
                dummy_na = impute in DUMMY_NA or holes.any()  # the book's get_dummies(dummy_na=True)
                levels = sorted(seen) + ([f"{name}=<missing>"] if dummy_na else [])
                cats = [f"{name}=<missing>" if h else c for c, h in zip(cats, holes.tolist())]
            index = {c: i for i, c in enumerate(levels)}
            onehot = torch.zeros(n, len(levels), dtype=torch.float64)
            onehot[torch.arange(n), torch.tensor([index[c] for c in cats], dtype=torch.long)] = 1
            blocks.append(onehot)
            feature_names += [lv if lv.startswith(f"{name}=") else f"{name}={lv}" for lv in levels]
        if holes.any():
            filled[name] = int(holes.sum())
    X = torch.cat(blocks, 1).float() if blocks else torch.zeros(n, 0)
    return X, feature_names, filled


def table_module(cfg, task: str, header: list[str], rows: list[list[str]], target: str, source: str,
                 unlabelled: list[list[str]] = (), drop: tuple[str, ...] = (), log_target: bool = False) -> DataModule:
    """Preprocess a table of strings into a DataModule (see the module docstring).

    `unlabelled` rows (the book's Kaggle test set, in `header`'s columns, target empty) take part
    in the statistics and categories of the features, as the book concatenates them, and are then
    left out; `drop` columns (an Id) are not features; `log_target` trains on log(target).
    With data.folds > 1 the train split is every labelled row in file order and val is empty:
    the fold driver cuts the folds (data/folds.py).
    """
    if target not in header:
        from d2ltui.zoo.registry import suggest

        raise UserError(f"data.target: no column {target!r} in {source}{suggest(target, header)}; "
                        f"columns: {', '.join(header)}")
    t = header.index(target)
    report: dict = {"strategy": cfg.impute, "target_missing_rows": sum(_is_missing(r[t]) for r in rows)}
    rows = [r for r in rows if not _is_missing(r[t])]
    n_labelled = len(rows)
    rows = rows + [list(r) for r in unlabelled]
    names = [h for i, h in enumerate(header) if i != t and h not in drop]
    columns = [[r[i] for r in rows] for i, h in enumerate(header) if i != t and h not in drop]
    # skipped: columns with no value at all, and text columns with too many distinct values (names, ids)
    skipped = [nm for nm, c in zip(names, columns)
               if all(_is_missing(v) for v in c)
               or (any(_num(v) is None for v in c if not _is_missing(v))
                   and len({v for v in c if not _is_missing(v)}) > max(MAX_CATEGORIES, len(rows) // 2))]
    keep = [i for i, nm in enumerate(names) if nm not in skipped]
    names, columns = [names[i] for i in keep], [columns[i] for i in keep]
    if cfg.impute == "drop_rows":
        bad = [any(_is_missing(c[j]) for c in columns) for j in range(len(rows))]
        report["rows_dropped"] = sum(bad[:n_labelled])
        n_labelled -= sum(bad[:n_labelled])
        rows = [r for r, b in zip(rows, bad) if not b]
        columns = [[v for v, b in zip(c, bad) if not b] for c in columns]
    elif cfg.impute == "drop_columns":
        gone = [nm for nm, c in zip(names, columns) if any(_is_missing(v) for v in c)]
        report["columns_dropped"] = gone
        names, columns = ([nm for nm in names if nm not in gone],
                          [c for nm, c in zip(names, columns) if nm not in gone])
    if n_labelled < 2 or not columns:
        raise UserError(f"data.impute={cfg.impute}: nothing left of {source} "
                        f"({n_labelled} rows, {len(columns)} feature columns)")
    X, feature_names, filled = _encode_features(names, columns, cfg.impute)
    X, rows = X[:n_labelled], rows[:n_labelled]
    if cfg.impute not in ("drop_rows", "drop_columns"):
        report["values_filled"] = filled
        report["total_filled"] = sum(filled.values())
    labels = [r[t].strip() for r in rows]
    info = {"source": source, "impute": report, "features": feature_names, "skipped_columns": skipped}
    knobs: dict = {"in_features": X.shape[1]}
    classes: list[str] = []
    if task == "regression":
        nums = [_num(v) for v in labels]
        if any(v is None for v in nums):
            bad = next(v for v in labels if _num(v) is None)
            raise UserError(f"data.target: column {target!r} has non-numeric values such as {bad!r}; "
                            f"use the classification task for a categorical target")
        y = torch.tensor(nums, dtype=torch.float32).unsqueeze(1)
        if log_target:
            if (y <= 0).any():
                raise UserError(f"data.target: column {target!r} has values <= 0, which have no logarithm")
            y = torch.log(y)  # the book's log of the prices
            info["target_transform"] = "log"
    else:
        distinct = set(labels)
        if len(distinct) > MAX_CATEGORIES * 2:
            raise UserError(f"data.target: column {target!r} has {len(distinct)} distinct values, "
                            f"too many classes; use the regression task for a numeric target")
        numeric = all(_num(v) is not None for v in distinct)
        classes = sorted(distinct, key=lambda v: (_num(v), v) if numeric else (0, v))
        index = {c: i for i, c in enumerate(classes)}
        y = torch.tensor([index[v] for v in labels], dtype=torch.int64)
        knobs["num_classes"] = len(classes)
    n = len(y)
    if cfg.folds > 1:
        train, val = (X, y), (X[:0], y[:0])
        info["folds"] = cfg.folds
    else:
        num_val = cfg.num_val or max(1, n // 5)
        num_train = cfg.num_train or n - num_val
        train, val = split((X, y), num_train, num_val, cfg.seed)
    return DataModule(name=cfg.name, task=task, train=train, val=val, input_shape=((1, X.shape[1]),),
                      model_knobs=knobs, classes=classes, info=info)


def load_csv(cfg, task: str) -> DataModule:
    if not cfg.path:
        raise UserError("data.path: csv needs the file to read, e.g. --set data.path=houses.csv")
    if not cfg.target:
        raise UserError("data.target: csv needs the name of the target column, e.g. --set data.target=price")
    path = Path(cfg.path).expanduser()
    header, rows = read_csv(path)
    return table_module(cfg, task, header, rows, cfg.target, str(path))


def house_table(n: int, seed: int) -> tuple[list[str], list[list[str]]]:
    """A house-price table (price in 100k) with numeric and categorical columns and holes."""
    g = generator(seed, 31)
    area = torch.rand(n, generator=g) * 150 + 40
    rooms = (area / 30 + torch.rand(n, generator=g) * 2).floor().clamp(1, 8)
    age = (torch.rand(n, generator=g) * 80).floor()
    roof_names, district_names = ["metal", "slate", "tile"], ["centre", "east", "north", "south", "west"]
    roof = torch.randint(0, 3, (n,), generator=g)
    district = torch.randint(0, 5, (n,), generator=g)
    pool = torch.rand(n, generator=g) * 40 + 10
    price = (0.5 + 0.012 * area + 0.15 * rooms - 0.008 * age + torch.tensor([0.0, 0.3, 0.15])[roof]
             + torch.tensor([0.8, 0.1, 0.3, -0.2, 0.0])[district] + 0.1 * torch.randn(n, generator=g))
    holes = {"area": 0.1, "rooms": 0.15, "age": 0.05, "roof": 0.2, "pool_area": 0.8}
    cols = {"area": [f"{v:.1f}" for v in area.tolist()], "rooms": [str(int(v)) for v in rooms.tolist()],
            "age": [str(int(v)) for v in age.tolist()], "roof": [roof_names[i] for i in roof.tolist()],
            "district": [district_names[i] for i in district.tolist()],
            "pool_area": [f"{v:.1f}" for v in pool.tolist()], "price": [f"{v:.4f}" for v in price.tolist()]}
    for name, rate in holes.items():
        gone = (torch.rand(n, generator=g) < rate).tolist()
        cols[name] = ["NA" if h else v for v, h in zip(cols[name], gone)]
    header = list(cols)
    return header, [list(r) for r in zip(*cols.values())]


def load_tabular_missing(cfg, task: str) -> DataModule:
    """1000 houses (800 train / 200 val), target `price` in units of 100k."""
    n = (cfg.num_train + cfg.num_val) if cfg.num_train and cfg.num_val else 1000
    header, rows = house_table(n, cfg.seed)
    return table_module(cfg, task, header, rows, cfg.target or "price", "tabular-missing")
