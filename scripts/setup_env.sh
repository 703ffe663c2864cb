#!/usr/bin/env bash
# Install mmstpn and the OpenMMLab stack it needs into the current Python.
# Idempotent: every step is skipped when what it installs is already there.
#   TORCH_SPEC  : torch requirement (default torch==2.13.0, the CPU wheel on
#                 this machine; on a GPU cluster install a CUDA torch first,
#                 e.g. `pip install torch --index-url .../cu121`, and it is kept)
#   MAX_JOBS    : compile jobs of the mmcv build (default: the usable cores)
#   MMCV_PREBUILT=1: take OpenMMLab's prebuilt mmcv 2.1.0 wheel (torch 2.1.x
#                 with CUDA 11.8 / 12.1 only) instead of building it
#   WITH_TESTS=1: also install the test requirements
# mmcv is built WITH its compiled ops (CUDA ops too when torch is a CUDA
# build: FORCE_CUDA=1, no GPU needed on the build node) by
# scripts/mmcv_install.py, in a throwaway venv: its build-only setuptools<81
# never reaches this environment. See docs/getting_started.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}

if ! $PY -c "import torch" 2>/dev/null; then
  echo "[setup] installing $TORCH_SPEC"
  $PY -m pip install -q "$TORCH_SPEC"
fi

# skips (prints why) when mmcv 2.1.0 with the ops this torch needs is there;
# a build takes about 9 min on 2 cores, once per machine
$PY scripts/mmcv_install.py

# (re)install when mmstpn is missing, installed from another checkout, or
# its editable install predates the mim links (mmstpn/.mim -> configs, ...)
HERE=$(pwd -P)
WHERE=$(cd / && $PY -c "import mmstpn, mmdet, mmengine, pycocotools, trackeval, lap, motmetrics, imagecorruptions, os; print(os.path.dirname(os.path.dirname(os.path.realpath(mmstpn.__file__))))" 2>/dev/null || true)
if [ "$WHERE" != "$HERE" ] || [ ! -e mmstpn/.mim/configs ]; then
  echo "[setup] installing mmstpn (editable) with the tested mmdet 3.3.0 / mmengine 0.10.7 (requirements/*.txt)"
  $PY -m pip install -q --no-build-isolation -e ".[mot,robustness]" \
    -r requirements/runtime.txt -r requirements/mot.txt -r requirements/robustness.txt
fi

if [ "${WITH_TESTS:-0}" = "1" ] && ! $PY -c "import pytest, build" 2>/dev/null \
   || { [ "${WITH_TESTS:-0}" = "1" ] && ! command -v ruff >/dev/null; }; then
  echo "[setup] installing test requirements"
  $PY -m pip install -q -r requirements/tests.txt
fi
echo "[setup] ok: $($PY -c 'import torch, mmcv, mmcv.ops, mmdet, mmengine; print("torch", torch.__version__, "mmcv", mmcv.__version__, "(ops:", "CUDA " + mmcv.ops.get_compiling_cuda_version() if torch.version.cuda else "CPU", ") mmdet", mmdet.__version__, "mmengine", mmengine.__version__)')"
