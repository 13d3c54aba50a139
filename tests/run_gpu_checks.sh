#!/usr/bin/env bash
# On a machine with a CUDA GPU: the GPU tests, then the benchmark on the GPU, in one go (under 5 minutes).
# Usage: bash tests/run_gpu_checks.sh   (after `pip install -e '.[dev]'`)
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU visible to torch')"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true

# the tests that need CUDA (they skip elsewhere), and DDP/mixed precision on this machine
pytest -q -rs tests/test_distributed.py tests/test_backprop.py

# one real training run on the GPU with mixed precision: data on the device, metrics.json written
run_dir=$(mktemp -d)
python -m src.train trainer=gpu trainer.precision=bf16-mixed trainer.max_epochs=10 hydra.run.dir="$run_dir"
cat "$run_dir/metrics.json"

# the benchmark's pipelines (they run on the CPU threads given; src.train uses trainer=cpu by default)
python -m src.bench --preset digits,mnist --batch-size 10,100 --seconds 1 --repeats 2 --markdown
