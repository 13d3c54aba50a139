#!/usr/bin/env bash
# On a machine with a CUDA GPU: the GPU tests, then the benchmark on the GPU, in one go (under 5 minutes).
# Usage: bash tests/run_gpu_checks.sh   (after `pip install -e '.[dev]'`)
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU visible to torch')"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true

# the tests that need CUDA (they skip elsewhere), and DDP/mixed precision on this machine
pytest -q -rs tests/test_distributed.py tests/test_backprop.py
# the benchmark's pipelines, epochs and command line on the GPU (~10 tests)
pytest -q -rs tests/test_bench.py -k cuda

# one real training run on the GPU with mixed precision: data on the device, metrics.json written
run_dir=$(mktemp -d)
python -m src.train trainer=gpu trainer.precision=bf16-mixed trainer.max_epochs=10 hydra.run.dir="$run_dir"
cat "$run_dir/metrics.json"

# the benchmark on the GPU: data and networks of the torch pipelines on the device (src.train with
# trainer=gpu), nielsen-numpy on the CPU. 10,000 MNIST images (real ones when ../shared/data holds them)
# keep the slowest pipelines' one whole epoch short: about a minute on CPUs for the 2 presets x 2 batch sizes x 6 pipelines x 2 rounds.
python -m benchmarks --device cuda --preset digits,mnist --batch-size 10,100 --train-size 10000 \
    --seconds 1 --repeats 2 --markdown
