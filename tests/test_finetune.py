"""Fine-tuning: data.classes, init_from (a run, torchvision's weights), head lr, frozen body, the hot dog
ImageFolder loader, the book's CIFAR ResNet-18, and the demonstration that fine-tuning beats scratch."""

from __future__ import annotations

import hashlib
import io
import urllib.request
import zipfile

import pytest
import torch
from torch import nn
from data_files import write_hotdog
from fault_helpers import cli

from d2ltui.tasks.resolve import resolve
from d2ltui.config.schema import DataConfig
from d2ltui.data import load_data
from d2ltui.data.hub import DATA_HUB
from d2ltui.tasks.finetune import load_weights, output_layer, prepare_model
from d2ltui.optim.optimization import Optimization
from d2ltui.errors import UserError
from d2ltui.rundir.store import METRICS, STATUS, read_json, read_metrics
from d2ltui.zoo.build import build_model
from d2ltui.zoo.registry import get_spec, resolve_knobs


def test_classes_keeps_a_subset_relabelled_from_zero():
    full = load_data(DataConfig(name="shapes", num_train=400, num_val=100), "classification", "cpu")
    part = load_data(DataConfig(name="shapes", num_train=400, num_val=100, classes=[9, "half-disk"]),
                     "classification", "cpu")
    assert part.classes == ["ell", "half-disk"] and part.model_knobs["num_classes"] == 2
    for split, whole in ((part.train, full.train), (part.val, full.val)):
        x, y = split
        wx, wy = whole
        keep = (wy == 9) | (wy == 8)
        assert torch.equal(x, wx[keep])  # same images, same order
        assert torch.equal(y, torch.where(wy[keep] == 9, 0, 1))
    with pytest.raises(UserError, match="data.classes: 12 is not a class of shapes"):
        load_data(DataConfig(name="shapes", num_train=40, num_val=10, classes=[12]), "classification", "cpu")
    with pytest.raises(UserError, match="data.classes"):
        resolve("lenet", ["data.classes=(1,1)"])


def _lenet(num_classes: int) -> nn.Module:
    spec = get_spec("lenet")
    return build_model(spec, resolve_knobs(spec, {"num_classes": num_classes, "norm": "batch"}), ((1, 1, 28, 28),))


def test_weights_load_by_name_and_a_head_of_another_size_is_replaced():
    source, target = _lenet(8), _lenet(2)
    head = output_layer(target)
    assert head == output_layer(source) and isinstance(target.get_submodule(head), nn.Linear)
    before = target.get_submodule(head).weight.detach().clone()
    replaced = load_weights(target, source.state_dict(), "test")
    assert replaced == [f"{head}.weight", f"{head}.bias"]
    for key, value in target.state_dict().items():
        if not key.startswith(head):
            assert torch.equal(value, source.state_dict()[key]), key
    assert not torch.equal(target.get_submodule(head).weight, before)  # re-initialised (Xavier)
    wrong = {k: v for k, v in source.state_dict().items()}
    first_conv = next(k for k in wrong if k.endswith("weight") and wrong[k].dim() == 4)
    wrong[first_conv] = torch.zeros(6, 3, 5, 5)
    with pytest.raises(UserError, match=f"layer {first_conv} does not fit .*data.channels=3"):
        load_weights(_lenet(2), wrong, "x")


def test_head_lr_mult_makes_param_groups_and_freeze_trains_only_the_head():
    cfg, _ = resolve("lenet", ["optim.head_lr_mult=10", "optim.lr=0.01", "optim.name=sgd"])
    model = _lenet(10)
    opt = Optimization(cfg.optim, prepare_model(cfg, model, None), total_steps=10)
    lrs = [g["lr"] for g in opt.optimizer.param_groups]
    assert lrs == pytest.approx([0.01, 0.1])
    head = model.get_submodule(output_layer(model))
    assert {id(p) for p in opt.optimizer.param_groups[1]["params"]} == {id(head.weight), id(head.bias)}

    cfg, _ = resolve("lenet", ["train.freeze=body"])
    model = _lenet(10)
    body_before = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith(output_layer(model))}
    opt = Optimization(cfg.optim, prepare_model(cfg, model, None), total_steps=10)
    model.train()
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    opt.step(nn.functional.cross_entropy(model(x), y))
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == [f"{output_layer(model)}.weight", f"{output_layer(model)}.bias"]
    for key, value in model.state_dict().items():
        if key in body_before and "running" not in key and "num_batches" not in key:
            assert torch.equal(value, body_before[key]), key
    with pytest.raises(UserError, match="train.freeze"):
        resolve("lenet", ["train.freeze=all"])
    with pytest.raises(UserError, match="optim.head_lr_mult"):
        resolve("lenet", ["optim.head_lr_mult=0"])


def test_finetuned_beats_scratch_on_held_out_classes_at_the_same_step_budget(tmp_path):
    runs = str(tmp_path)
    quick = ["--set", "data.num_train=3000", "--set", "train.epochs=2", "--plain", "--runs-dir", runs]
    code, out, err = cli("train", "quick-pretrain-shapes", "--run-id", "shapes-0-7", *quick)
    assert code == 0, out + err
    results = {}
    for preset in ("quick-finetune-shapes", "quick-scratch-shapes"):
        code, out, err = cli("train", preset, "--run-id", preset, "--plain", "--runs-dir", runs)
        assert code == 0, out + err
        records, _ = read_metrics(tmp_path / preset / METRICS)
        final = [r for r in records if r["split"] == "val"][-1]  # the last validation, not the best
        results[preset] = (read_json(tmp_path / preset / STATUS)["step"], final["acc"])
    (ft_steps, ft_acc), (sc_steps, sc_acc) = results["quick-finetune-shapes"], results["quick-scratch-shapes"]
    assert ft_steps == sc_steps > 0
    assert ft_acc >= 0.85 and ft_acc > sc_acc + 0.15, results
    config = (tmp_path / "quick-finetune-shapes" / "config.toml").read_text()
    assert str(tmp_path / "shapes-0-7") in config  # the source is pinned to its folder


def test_init_from_errors_are_one_line(tmp_path, monkeypatch):
    code, out, err = cli("train", "quick-finetune-shapes", "--set", "train.init_from=nope", "--runs-dir", str(tmp_path))
    assert code == 2 and "no run 'nope'" in err and "Traceback" not in err
    code, out, err = cli("train", "lenet", "--set", "train.init_from=torchvision:resnet18")
    assert code == 2 and "needs model.name=tv-resnet18" in err
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    code, out, err = cli("train", "tv-resnet18", "--set", "train.init_from=torchvision:resnet18",
                         "--set", "data.download=false", "--set", "data.channels=3", "--runs-dir", str(tmp_path))
    assert code == 2 and "resnet18-f37072fd.pth not found" in err and str(tmp_path / "torch") in err
    assert not [p for p in tmp_path.iterdir() if p.name != "torch"]  # no run was made


def test_torchvision_weights_from_the_hub_cache(tmp_path, monkeypatch):
    """Weights in torchvision's layout placed where the hub cache keeps them load, with a new 2-class head."""
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    imagenet = torchvision.models.resnet18()
    torch.save(imagenet.state_dict(), folder / "resnet18-f37072fd.pth")
    write_hotdog(tmp_path / "data", per_class=2)
    cfg, _ = resolve("fine-tune-hotdog", [f"data.root={tmp_path / 'data'}", "data.download=false",
                                          "data.resize=64", "train.device=cpu"])
    data = load_data(cfg.data, "classification", "cpu")
    spec = get_spec(cfg.model.name)
    model = build_model(spec, resolve_knobs(spec, {"num_classes": 2}), data.input_shape)
    groups = prepare_model(cfg, model, data.prepare)
    for key, value in model.state_dict().items():
        if not key.startswith("fc."):
            assert torch.equal(value, imagenet.state_dict()[key]), key
    assert model.fc.out_features == 2 and [g["lr_mult"] for g in groups] == [1.0, 10.0]
    assert data.prepare.mean == (0.485, 0.456, 0.406) and data.prepare.std == (0.229, 0.224, 0.225)


def test_hotdog_imagefolder_loader(tmp_path):
    write_hotdog(tmp_path, per_class=3)
    cfg = DataConfig(name="hotdog", root=str(tmp_path), download=False, augment=["resized-crop", "flip"])
    dm = load_data(cfg, "classification", "cpu")
    assert dm.classes == ["hotdog", "not-hotdog"] and dm.model_knobs == {"num_classes": 2, "in_channels": 3}
    assert dm.train[0].shape == (6, 3, 256, 256) and dm.train[0].dtype == torch.uint8
    assert dm.train[1].tolist() == [0, 0, 0, 1, 1, 1] and dm.val[0].shape == (6, 3, 256, 256)
    assert dm.input_shape == ((1, 3, 224, 224),)
    x, _ = dm.prepare(dm.train, True)
    v, _ = dm.prepare(dm.val, False)
    assert x.shape == v.shape == (6, 3, 224, 224)
    raw = dm.val[0][:, :, 16:240, 16:240].float() / 255  # the centre 224 of the 256
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    assert torch.allclose(v, (raw - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1), atol=1e-5)
    red = dm.val[0][:3, 0].float().mean() > dm.val[0][:3, 1].float().mean()  # class 0 was written reddish
    assert red
    with pytest.raises(UserError, match=r"hotdog: .*hotdog[/\\]test not found; data.download is off"):
        load_data(DataConfig(name="hotdog", root=str(tmp_path / "none"), download=False), "classification", "cpu")


def test_hotdog_download_is_checked_against_the_books_sha1(tmp_path, monkeypatch):
    src = tmp_path / "src"
    write_hotdog(src, per_class=1)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(src.rglob("*.png")):
            zf.write(path, path.relative_to(src).as_posix())
    payload = buf.getvalue()
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: io.BytesIO(payload))
    root = tmp_path / "root"
    with pytest.raises(UserError, match="hotdog: hotdog.zip: SHA-1 mismatch, expected fba480ff"):
        load_data(DataConfig(name="hotdog", root=str(root)), "classification", "cpu")
    assert not root.exists() or not any(root.rglob("*"))
    entry = DATA_HUB["hotdog"]
    monkeypatch.setitem(DATA_HUB, "hotdog", type(entry)(entry.url, hashlib.sha1(payload).hexdigest()))
    dm = load_data(DataConfig(name="hotdog", root=str(root)), "classification", "cpu")
    assert len(dm.train[0]) == 2 and not (root / "hotdog.zip").exists()


def _book_resnet18(num_classes: int, in_channels: int) -> nn.Module:
    """The book's resnet18 (multiple-gpus-concise.md) with its Residual (section 8.6), transcribed here."""
    class Residual(nn.Module):
        def __init__(self, num_channels, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1, stride=strides)
            self.conv2 = nn.LazyConv2d(num_channels, kernel_size=3, padding=1)
            self.conv3 = nn.LazyConv2d(num_channels, kernel_size=1, stride=strides) if use_1x1conv else None
            self.bn1, self.bn2 = nn.LazyBatchNorm2d(), nn.LazyBatchNorm2d()

        def forward(self, X):
            Y = nn.functional.relu(self.bn1(self.conv1(X)))
            Y = self.bn2(self.conv2(Y))
            if self.conv3:
                X = self.conv3(X)
            return nn.functional.relu(Y + X)

    def resnet_block(in_channels, out_channels, num_residuals, first_block=False):
        blk = []
        for i in range(num_residuals):
            if i == 0 and not first_block:
                blk.append(Residual(out_channels, use_1x1conv=True, strides=2))
            else:
                blk.append(Residual(out_channels))
        return nn.Sequential(*blk)

    net = nn.Sequential(nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1), nn.BatchNorm2d(64), nn.ReLU())
    net.add_module("resnet_block1", resnet_block(64, 64, 2, first_block=True))
    net.add_module("resnet_block2", resnet_block(64, 128, 2))
    net.add_module("resnet_block3", resnet_block(128, 256, 2))
    net.add_module("resnet_block4", resnet_block(256, 512, 2))
    net.add_module("global_avg_pool", nn.AdaptiveAvgPool2d((1, 1)))
    net.add_module("fc", nn.Sequential(nn.Flatten(), nn.Linear(512, num_classes)))
    return net


def test_the_books_cifar_resnet18_is_resnet18_with_the_3x3_stem():
    book = _book_resnet18(10, 3)
    x = torch.randn(2, 3, 32, 32)
    book(x)
    cfg, _ = resolve("augmentation-cifar10", [])
    spec = get_spec(cfg.model.name)
    ours = build_model(spec, resolve_knobs(spec, {**cfg.model.knobs, "in_channels": 3}), ((1, 3, 32, 32),))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(ours) == count(book)
    assert ours(x).shape == book(x).shape == (2, 10)
    assert not any(isinstance(m, nn.MaxPool2d) for m in ours.modules())
    assert cfg.optim.name == "adam" and cfg.optim.lr == 1e-3 and cfg.data.batch_size == 256
    assert cfg.train.epochs == 10 and cfg.data.augment == ["flip"]
    twin, _ = resolve("augmentation-cifar10-none", [])
    assert twin.data.augment == [] and twin.model.knobs == cfg.model.knobs


def test_hotdog_presets_follow_the_book():
    ft, _ = resolve("fine-tune-hotdog", [])
    scratch, _ = resolve("scratch-hotdog", [])
    assert ft.data.augment == ["flip", "resized-crop"] and ft.data.batch_size == 128 and ft.train.epochs == 5
    assert ft.train.init_from == "torchvision:resnet18" and ft.optim.head_lr_mult == 10
    assert ft.optim.name == scratch.optim.name == "sgd"
    # the book's lr 5e-5 (scratch 5e-4) and weight decay 1e-3 on a loss summed over 128: our loss is the mean
    assert ft.optim.lr == pytest.approx(5e-5 * 128) and scratch.optim.lr == pytest.approx(5e-4 * 128)
    assert ft.optim.weight_decay == scratch.optim.weight_decay == pytest.approx(1e-3 / 128)
    assert scratch.train.init_from == "" and scratch.optim.head_lr_mult == 1
    assert scratch.data == ft.data and scratch.model == ft.model
