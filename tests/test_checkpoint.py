"""Checkpoints: atomic saves that fail safely, loads that refuse damaged or malicious files."""

from __future__ import annotations

import os
import pickle
import random
import zipfile

import pytest
import torch

from d2ltui.rundir import writer as rundir
from d2ltui.rundir.checkpoint import CheckpointWriteError, capture_rng, load_checkpoint, restore_rng
from d2ltui.rundir.writer import save_checkpoint
from d2ltui.errors import UserError


def _state(value: float = 1.0) -> dict:
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    with torch.no_grad():
        model.weight.fill_(value)
    return {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": 7, "epoch": 1,
            "rng": capture_rng()}


def test_round_trip_is_bitwise(tmp_path):
    state = _state()
    save_checkpoint(tmp_path / "checkpoint.pt", state)
    back = load_checkpoint(tmp_path / "checkpoint.pt")
    assert back["step"] == 7
    for k, v in state["model"].items():
        assert torch.equal(back["model"][k], v)
    assert back["optimizer"]["param_groups"][0]["momentum"] == 0.9


def test_rng_states_restore_exactly():
    torch.manual_seed(3)
    random.seed(3)
    random.gauss(0, 1)  # leaves a cached gauss value in Python's state
    saved = capture_rng()
    expected = (torch.rand(4), random.random(), random.gauss(0, 1))
    torch.rand(100)
    random.random()
    restore_rng(saved)
    assert torch.equal(torch.rand(4), expected[0])
    assert (random.random(), random.gauss(0, 1)) == expected[1:]


@pytest.mark.parametrize("fail_at", ["write", "fsync", "replace"])
def test_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch, fail_at):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, _state(1.0))
    before = path.read_bytes()
    err = OSError(28, "No space left on device")

    def boom(*_a, **_k):
        raise err

    if fail_at == "write":
        real_open = open

        class Full:
            def __init__(self, f):
                self.f = f

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

            def write(self, data):
                self.f.write(data[: len(data) // 2])  # half the bytes land, then the disk is full
                raise err

            def __getattr__(self, name):
                return getattr(self.f, name)

        monkeypatch.setattr("builtins.open", lambda p, m="r", *a, **k: Full(real_open(p, m, *a, **k))
                            if m == "wb" else real_open(p, m, *a, **k))
    else:
        monkeypatch.setattr(rundir.os, fail_at, boom)
    with pytest.raises(CheckpointWriteError, match="No space left on device.*previous checkpoint is kept"):
        save_checkpoint(path, _state(2.0))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]
    assert torch.all(load_checkpoint(path)["model"]["weight"] == 1.0)


def test_a_refused_save_is_one_line_naming_the_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(rundir.os, "replace", lambda *_: (_ for _ in ()).throw(PermissionError(13, "Permission denied")))
    with pytest.raises(CheckpointWriteError) as caught:
        save_checkpoint(tmp_path / "checkpoint.pt", _state())
    assert str(caught.value) == "checkpoint not saved to checkpoint.pt (Permission denied); no earlier checkpoint exists"
    monkeypatch.undo()
    save_checkpoint(tmp_path / "checkpoint.pt", _state())
    err = CheckpointWriteError(28, "No space left on device", "checkpoint not saved")
    assert isinstance(err, OSError) and err.strerror == "No space left on device" and str(err) == "checkpoint not saved"


def test_a_missing_folder_is_a_real_write_error(tmp_path):
    """No monkeypatching: the OS itself refuses the temp file; the error still is one clear line."""
    path = tmp_path / "sub" / "checkpoint.pt"
    with pytest.raises(CheckpointWriteError, match="No such file"):
        save_checkpoint(path, _state())  # the folder is missing: a real OSError from the OS


@pytest.mark.parametrize("cut", [0, 1, 100, 0.5, -10])
def test_truncated_checkpoint_is_one_clear_line(tmp_path, cut):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, _state())
    data = path.read_bytes()
    n = int(len(data) * cut) if isinstance(cut, float) else (cut if cut >= 0 else len(data) + cut)
    path.write_bytes(data[:n])
    with pytest.raises(UserError) as info:
        load_checkpoint(path)
    assert "corrupted, truncated or not a checkpoint" in str(info.value) and "\n" not in str(info.value)


def test_corrupted_bytes_inside_the_archive_are_refused(tmp_path):
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, _state())
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = next(n for n in names if n.endswith("data.pkl"))
        members = {n: z.read(n) for n in names}
    members[pkl] = bytes(b ^ 0x5A for b in members[pkl])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for n, b in members.items():
            z.writestr(n, b)
    with pytest.raises(UserError, match="checkpoint"):
        load_checkpoint(path)
    path.write_bytes(os.urandom(4096))
    with pytest.raises(UserError, match="corrupted"):
        load_checkpoint(path)


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("how", ["torch.save", "raw pickle", "pickle protocol 2"])
def test_malicious_pickle_runs_nothing(tmp_path, how):
    marker = tmp_path / "pwned"
    path = tmp_path / "checkpoint.pt"
    payload = {"model": {"weight": torch.ones(2)}, "evil": _Payload(marker)}
    if how == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload, protocol=2 if "2" in how else 4))
    with pytest.raises(UserError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "nothing was executed" in message and "\n" not in message
    if how == "torch.save":
        assert "refused" in message and "system" in message
    assert not marker.exists()
    pickle.loads(pickle.dumps(_Payload(marker)))  # the payload is real: unpickling it does run code
    assert marker.exists()


def test_not_a_checkpoint(tmp_path):
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(UserError, match="not a d2ltui checkpoint"):
        load_checkpoint(tmp_path / "list.pt")
    with pytest.raises(UserError, match="no checkpoint there"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(UserError, match="no checkpoint there"):
        load_checkpoint(tmp_path)
