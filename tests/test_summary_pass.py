"""Where the summary's pass runs (real CPU tensors or meta) and that its numbers are torch's own."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from d2ltui.inspector.summary import CPU, CPU_PASS_PARAMS, META, construct, display_root, pass_device, summarize
from d2ltui.zoo.build import example_inputs
from d2ltui.zoo.registry import all_specs, get_spec, resolve_knobs

NAMES = [s.name for s in all_specs()]
TABULAR = ("value-iteration", "q-learning")  # a table lookup: no FLOPs to count
# inputs at which a real CPU pass of the larger image models stays quick
SMALL = {"nin": ((1, 1, 96, 96),), **{name: ((1, 1, 64, 64),) for name in ("resnext", "densenet")}}


def torch_flop_counts(spec, knobs, shapes):
    """torch's FlopCounterMode over a plain meta pass: total and per module (by dotted name)."""
    model = construct(spec, knobs)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*example_inputs(spec, knobs, shapes, META))
    root = type(model).__name__
    per = {name[len(root) + 1:]: int(sum(ops.values())) for name, ops in counter.get_flop_counts().items()
           if name.startswith(root + ".")}
    return counter.get_total_flops(), per, display_root(model)[0]


@pytest.mark.parametrize("name", [n for n in NAMES if get_spec(n).task not in TABULAR])
def test_flops_are_torchs_flop_counter_numbers_row_by_row(name):
    spec = get_spec(name)
    s = summarize(spec, depth=9)
    total, per, prefix = torch_flop_counts(spec, s.knobs, spec.default_input)
    assert s.flops == total > 0
    ran = [r for r in s.layers if r.calls]
    assert ran and all(r.flops == per.get(prefix + r.name, 0) for r in ran), name
    assert any(r.flops for r in ran)


@pytest.mark.parametrize("name", NAMES)
def test_cpu_and_meta_passes_give_the_same_summary(name):
    spec = get_spec(name)
    shapes = SMALL.get(name, spec.default_input)
    knobs = resolve_knobs(spec)
    model = construct(spec, knobs)
    if sum(p.numel() for p in model.parameters() if not isinstance(p, torch.nn.UninitializedParameter)) > CPU_PASS_PARAMS:
        assert pass_device(spec, model, ((1, 1, 1, 1),) * len(shapes)) == META  # never on the CPU
        return
    cpu = summarize(spec, shapes=shapes, depth=9, device="cpu").to_dict()
    meta = summarize(spec, shapes=shapes, depth=9, device="meta").to_dict()
    assert cpu["error"] is None and (cpu["flops"] > 0 or spec.task in TABULAR)
    if name != "lstm-lm":  # a fused CPU kernel, no FLOP formula: pass_device keeps it on meta
        assert cpu == meta


def test_small_models_run_on_the_cpu_and_large_inputs_on_meta():
    lenet = get_spec("lenet")
    model = construct(lenet, resolve_knobs(lenet))
    assert pass_device(lenet, model, lenet.default_input) == CPU
    assert pass_device(lenet, model, ((1, 1, 1024, 1024),)) == META
    assert pass_device(lenet, model, ((4096, 1, 28, 28),)) == META
    vgg = get_spec("vgg11")
    assert pass_device(vgg, construct(vgg, resolve_knobs(vgg)), ((1, 1, 8, 8),)) == META
    lstm = get_spec("lstm-lm")
    assert pass_device(lstm, construct(lstm, resolve_knobs(lstm)), lstm.default_input) == META
    cpu_fail = summarize(lenet, shapes=((1, 1, 2, 2),))  # a failure on the CPU path is explained as on meta
    assert cpu_fail.failure.layer_type == summarize(lenet, shapes=((1, 1, 2, 2),), device="meta").failure.layer_type
    assert cpu_fail.failure.suggestion and summarize(lenet, shapes=cpu_fail.failure.suggestion).error is None


def test_a_summary_leaves_torchs_random_state_and_threads_alone():
    torch.manual_seed(3)
    expected = torch.rand(4)
    threads = torch.get_num_threads()
    torch.manual_seed(3)
    summarize("lenet")
    summarize("lenet", shapes=((1, 1, 2, 2),))  # a failure, and the search for a working input
    assert torch.equal(torch.rand(4), expected) and torch.get_num_threads() == threads


def test_the_first_lenet_summary_imports_none_of_torchs_meta_or_compile_machinery():
    # LeNet's FLOPs, 2 per multiply-add: 6x28x28 outputs x 25 taps, 16x10x10 x 150, then 400x120, 120x84, 84x10
    flops = 2 * (6 * 28 * 28 * 25 + 16 * 10 * 10 * 150 + 400 * 120 + 120 * 84 + 84 * 10)
    code = ("import sys; from d2ltui.inspector.summary import summarize; s = summarize('lenet'); "
            f"assert s.error is None and s.flops == {flops}, s.flops; "
            "print(sorted(m for m in ('torch._dynamo', 'torch.fx.experimental.symbolic_shapes', 'torchvision') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
