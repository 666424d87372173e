#!/usr/bin/env bash
# One short session on a CUDA machine: versions, then the forward and training-step benchmarks in fp32 and bf16
# for the paper's model and the two FER2013-based ones, each table written to OUTDIR.
# Usage (repository root): bash bench/gpu.sh OUTDIR
set -uo pipefail
out="${1:-bench-gpu}"
mkdir -p "$out"
export PYTHONPATH="$PWD:$PWD/bench${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
python=${PYTHON:-python3}
run() {  # name, command...: one table, kept even when another step fails
    local name=$1
    shift
    echo "== $name"
    timeout 240 "$@" 2>&1 | tee "$out/$name.md"
}
{
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    $python -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, torch.cuda.get_device_name())"
} 2>&1 | tee "$out/device.txt"
run forward_paper $python bench/model_forward.py --device cuda --batch-sizes 1 8 32 --repeats 10
run forward_fer2013_av $python bench/model_forward.py --device cuda --preset fer2013-audio-visual --batch-sizes 1 8 32 --repeats 10
run forward_fer2013_faces $python bench/model_forward.py --device cuda --preset fer2013-faces --batch-sizes 1 32 256 --repeats 10
run train_paper $python bench/train_step.py --device cuda --batch-size 16 --steps 8 --workers 4
run train_fer2013_av $python bench/train_step.py --device cuda --preset fer2013-audio-visual --batch-size 16 --steps 8 --workers 4
run train_image_stage $python bench/train_step.py --device cuda --preset image-stage --batch-size 64 --steps 8 --workers 4
