"""A sweep whose folder refuses writes part-way: each member it cannot start is one line, the sweep ends with a
non-zero exit and whole records, and `--resume` once the disk takes writes again finishes the rest."""

from __future__ import annotations

import errno
import json
import os

import pytest
from fault_helpers import cli

from d2ltui.rundir import writer
from d2ltui.rundir.store import CONFIG, read_status
from d2ltui.rundir.sweeps import read_sweep

pytestmark = pytest.mark.slow
SWEEP = ["sweep", "quick-linear", "--grid", "optim.lr=0.01,0.02,0.03", "--parallel", "1",
         "--set", "data.num_train=32", "--set", "data.num_val=16", "--set", "train.epochs=1"]


def test_a_sweep_folder_that_refuses_writes_mid_way(tmp_path, monkeypatch):
    real, configs = writer.put_bytes, []

    def full_after_the_first_member(path, data, append=False):
        if path.name == CONFIG or path.name.startswith(f".{CONFIG}."):
            configs.append(path)
            if len(configs) > 1:  # the first member started; then the disk is full
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, data, append)

    monkeypatch.setattr(writer, "put_bytes", full_after_the_first_member)
    code, out, err = cli(*SWEEP, "--json", "--runs-dir", str(tmp_path))
    monkeypatch.undo()
    assert code == 1 and "Traceback" not in out + err, out + err
    refused = [line for line in err.splitlines() if "cannot start" in line]
    assert len(refused) == 2 and all("No space left on device" in line for line in refused), err
    path = next(tmp_path.glob("*/sweep.json")).parent
    record = read_sweep(path)  # the sweep's own record is whole
    first, *rest = (path / m["id"] for m in record["members"])
    assert read_status(first)["state"] == "finished"
    assert all(not (m / CONFIG).exists() for m in rest)  # nothing half-made claims to be a run
    table = json.loads(out)
    assert [s for r in table["rows"] for s in r["states"]].count("finished") == 1  # the table says what ran
    code, runs_out, err = cli("runs", "--runs-dir", str(tmp_path))
    assert code == 0 and path.name in runs_out, err

    done = cli("sweep", "--resume", path.name, "--json", "--runs-dir", str(tmp_path))
    assert done[0] == 0, done[1] + done[2]
    assert all(read_status(m)["state"] == "finished" for m in (first, *rest))
    assert f"started {first.name}" not in done[2]
