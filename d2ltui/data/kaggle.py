"""The book's Kaggle house prices (section 5.7): train and test CSVs from the DATA_HUB, log-price target."""

from __future__ import annotations

from d2ltui.data.base import DataModule
from d2ltui.data.fetch import ensure_file
from d2ltui.data.hub import DATA_HUB, download_hub
from d2ltui.data.registry import data_root
from d2ltui.data.tabular import read_csv, table_module
from d2ltui.errors import UserError

TARGET = "SalePrice"


def load_kaggle_house(cfg, task: str) -> DataModule:
    """`<root>/kaggle_house_pred_train.csv` (and the test file, whose features join the statistics).

    The book's preprocessing: the Id column goes, numeric columns are standardised over train and
    test together and their holes become 0, categorical columns are one-hot with a column for
    missing; the target is log(SalePrice). Both files are downloaded (SHA-1 checked) when missing.
    """
    root = data_root(cfg)
    paths = {}
    for key in ("kaggle_house_train", "kaggle_house_test"):
        entry = DATA_HUB[key]
        paths[key] = ensure_file("kaggle-house", root / entry.filename, root, cfg.download,
                                 lambda key=key: download_hub(key, root),
                                 f"Put {entry.filename} there (from {entry.url}) or set data.root")
    header, rows = read_csv(paths["kaggle_house_train"])
    test_header, test_rows = read_csv(paths["kaggle_house_test"])
    if TARGET not in header:
        raise UserError(f"kaggle-house: {paths['kaggle_house_train']} has no {TARGET} column")
    missing = [h for h in header if h != TARGET and h not in test_header]
    if missing:
        raise UserError(f"kaggle-house: {paths['kaggle_house_test']} lacks the column(s) {', '.join(missing[:5])}")
    where = [test_header.index(h) if h != TARGET else None for h in header]
    unlabelled = [["" if i is None else r[i] for i in where] for r in test_rows]
    return table_module(cfg, task, header, rows, TARGET, str(paths["kaggle_house_train"]),
                        unlabelled=unlabelled, drop=("Id",), log_target=True)
