#!/usr/bin/env bash
# The GPU check, for a machine with CUDA, in one call (under 8 minutes on an H100): the GPU-marked tests
# (channels-last and device-resident data, bf16 as `auto`, DDP over NCCL through torchrun), then
# throughput as ratios measured in this one run on this device, and one table with the targets:
#   engine / bare loop (same model, batch, precision, data on the device)  >= 0.95
#   engine / the book's loop (DataLoader, fp32), LeNet@28 and ResNet-18@96 >= 3
#   ResNet-18 at 32x32 (CIFAR-10 size), bf16-mixed, compiled: engine MFU   >= 20% (H100/H200)
# Everything it prints goes to $OUT/gpu_check.log too when OUT is set.
#
#   bash benchmarks/gpu_check.sh            # from the repository root, after `pip install -e ".[dev,gpu]"`
set -uo pipefail
cd "$(dirname "$0")/.."
log=${OUT:-/tmp}/gpu_check.log
results=$(mktemp)
exec > >(tee "$log") 2>&1
export PYTHONUNBUFFERED=1
py=${PYTHON:-python}

echo "== device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi"
$py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"

echo "== GPU-marked tests"
timeout 180 $py -m pytest -q -m gpu -p no:cacheprovider tests
tests_rc=$?

bench() {  # one benchmark; its RESULT line is kept for the table
    timeout "$1" $py benchmarks/bench_train.py --device cuda --no-cold "${@:2}" | tee -a "$results.raw"
}
echo "== LeNet@28, auto precision: engine vs bare vs the book (DataLoader, fp32)"
bench 120 --model lenet --size 28 --repeats 1 --epochs 2 --workers 4 --precision auto
echo "== ResNet-18@96, auto precision: engine vs bare vs the book"
bench 150 --model resnet18 --size 96 --repeats 1 --epochs 1 --num-train 20000 --num-test 1000 --precision auto
echo "== ResNet-18@32 (CIFAR-10 size), bf16-mixed, compiled: engine vs bare, MFU"
bench 200 --model resnet18 --size 32 --repeats 1 --epochs 2 --num-train 30000 --num-test 1000 --batch-size 512 \
    --precision bf16-mixed --compile --only bare,engine
grep '^RESULT ' "$results.raw" | sed 's/^RESULT //' > "$results"

echo "== table (measured in this run, on this device)"
$py - "$results" "$tests_rc" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
ok = sys.argv[2] == "0"
print(f"{'check':58} {'measured':>10} {'target':>8}  ok")
print(f"{'GPU-marked tests (channels_last, device data, auto bf16, NCCL DDP)':58} {'rc ' + sys.argv[2]:>10} {'rc 0':>8}  {'yes' if ok else 'NO'}")
for r in rows:
    name = f"{r['model']}@{r['size']} {r['precision']}{' compiled' if r['compile'] else ''}"
    checks = [("engine/bare", r.get("engine_vs_bare"), 0.95)]
    if "engine_vs_book" in r:
        checks.append(("engine/book (fp32 DataLoader)", r["engine_vs_book"], 3.0))
    if r["compile"]:
        checks.append(("engine MFU" + ("" if r.get("engine_mfu") is not None else " (device not in the table)"),
                       r.get("engine_mfu"), 0.20))
    for label, value, target in checks:
        good = value is not None and value >= target
        ok &= good
        shown = "-" if value is None else f"{value:.3f}"
        print(f"{name + ': ' + label:58} {shown:>10} {target:>8}  {'yes' if good else 'NO'}")
    print(f"{name + ': samples/s engine, bare, book':58} " + ", ".join(
        f"{r.get(k + '_rate', 0):,.0f}" for k in ("engine", "bare", "book") if k + "_rate" in r))
print("device:", rows[0]["device"] if rows else "?")
sys.exit(0 if ok and len(rows) == 3 else 1)
PY
