#!/usr/bin/env bash
# One prepared GPU check (for a machine with a CUDA GPU and no network, e.g. this project's lent H100):
#   the CUDA path of training (FREEDOM/LATTICE on Baby-sized data, the 63k-item LATTICE graph) and the
#   extraction benchmark on randomly initialised full-size models (Qwen2-VL-2B, ResNet-50, BERT-base).
# Usage (repository root):  bash benchmarks/gpu_check.sh [OUT_DIR]
# The machine's own python3 must hold torch with CUDA. This project pins transformers 4.51.3 and
# peft 0.15.2; where the machine has other versions, carry wheels in .whl/ (Python 3.12, manylinux):
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_17_x86_64 -d .whl transformers==4.51.3 tokenizers==0.21.4 peft==0.15.2 \
#     huggingface-hub==0.36.2
# (add others the import check below reports missing). Each step has its own time limit.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-${OUT:-gpu-check-out}}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
python3 - <<'PY' 2>&1 | tee "$OUT/env.txt"
import importlib, torch
print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")
for name in ("transformers", "peft", "pandas", "pyarrow", "scipy", "PIL", "yaml", "jsonschema"):
    try:
        print(name, getattr(importlib.import_module(name), "__version__", "?"))
    except Exception as exc:  # report, do not stop: the benches below say what they miss
        print(name, "MISSING", exc)
PY
timeout 240 python3 benchmarks/bench_train.py --device cuda --data synthetic --big-items 63000 2>&1 | tee "$OUT/bench_train_cuda.txt"
timeout 300 python3 benchmarks/bench_extract.py --device cuda --random-full-size --n-items 512 --batch-size 32 \
  --models-dir /tmp/vlmrec-random-models 2>&1 | tee "$OUT/bench_extract_cuda.txt"
echo "figures in $OUT"
