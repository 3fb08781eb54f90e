#!/usr/bin/env bash
# The GPU check, for a machine with CUDA: the GPU-marked tests, throughput against the book's figures,
# and one NCCL job through torchrun. Everything it prints goes to $OUT/gpu_check.log too when OUT is set.
#
#   bash benchmarks/gpu_check.sh            # from the repository root, after `pip install -e ".[dev]"`
#
# The book reports about 55,000 samples/s for LeNet at 28x28 and about 5,000 for ResNet-18 at 96x96.
set -uo pipefail
cd "$(dirname "$0")/.."
log=${OUT:-/tmp}/gpu_check.log
exec > >(tee "$log") 2>&1
export PYTHONUNBUFFERED=1
py=${PYTHON:-python}

echo "== device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi"
$py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available())"

echo "== GPU-marked tests"
$py -m pytest -q -m gpu -p no:cacheprovider tests
tests_rc=$?

echo "== throughput (samples/s; the book: LeNet@28 ~55,000, ResNet-18@96 ~5,000)"
$py benchmarks/bench_train.py --model lenet --size 28 --device cuda --repeats 2 --only bare,engine
lenet_rc=$?
$py benchmarks/bench_train.py --model resnet18 --size 96 --device cuda --repeats 1 --epochs 1 \
    --num-train 20000 --num-test 2000 --only bare,engine
resnet_rc=$?

echo "== one NCCL job (--nproc 1)"
runs=$(mktemp -d)
$py -m d2ltui train quick-lenet-shapes --nproc 1 --device cuda --runs-dir "$runs" --set train.epochs=1 --plain
nccl_rc=$?
$py -m d2ltui runs --runs-dir "$runs"
grep -h '"backend"\|nccl' "$runs"/*/output.log 2>/dev/null | head -3

echo "== summary: tests $tests_rc, lenet $lenet_rc, resnet18 $resnet_rc, nccl job $nccl_rc"
[ "$tests_rc" = 0 ] && [ "$lenet_rc" = 0 ] && [ "$resnet_rc" = 0 ] && [ "$nccl_rc" = 0 ]
