#!/usr/bin/env bash
# Install mmstpn and the OpenMMLab stack it needs into the current Python.
# Idempotent: every step is skipped when what it installs is already there.
#   TORCH_SPEC  : torch requirement (default torch==2.13.0, the CPU wheel on
#                 this machine; on a GPU cluster install a CUDA torch first,
#                 e.g. `pip install torch --index-url .../cu121`, and it is kept)
#   WITH_TESTS=1: also install the test requirements
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}

if ! $PY -c "import torch" 2>/dev/null; then
  echo "[setup] installing $TORCH_SPEC"
  $PY -m pip install -q "$TORCH_SPEC"
fi

if ! $PY - <<'PYEOF' 2>/dev/null
import mmcv, mmcv.ops  # noqa: F401  (mmcv.ops fails without compiled ops)
from mmcv.ops import nms  # noqa: F401
assert mmcv.__version__ == '2.1.0', mmcv.__version__
PYEOF
then
  echo "[setup] building mmcv 2.1.0 with its compiled ops (about 9 min on 2 cores, once per machine)"
  # mmcv's setup.py imports pkg_resources: setuptools 82+ has none.
  $PY -m pip install -q "setuptools>=77.0.3,<81" wheel ninja
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} CFLAGS="-DNDEBUG -g0 -fwrapv -O3 -Wall" \
    $PY -m pip install -q --no-build-isolation mmcv==2.1.0
fi

# (re)install when mmstpn is missing or installed from another checkout
HERE=$(pwd -P)
WHERE=$(cd / && $PY -c "import mmstpn, mmdet, mmengine, pycocotools, trackeval, lap, motmetrics, imagecorruptions, os; print(os.path.dirname(os.path.dirname(os.path.realpath(mmstpn.__file__))))" 2>/dev/null || true)
if [ "$WHERE" != "$HERE" ]; then
  echo "[setup] installing mmstpn (editable) with mmdet 3.3.0 and mmengine 0.10.x"
  $PY -m pip install -q --no-build-isolation -e .
fi

if [ "${WITH_TESTS:-0}" = "1" ] && ! $PY -c "import pytest" 2>/dev/null \
   || { [ "${WITH_TESTS:-0}" = "1" ] && ! command -v ruff >/dev/null; }; then
  echo "[setup] installing test requirements"
  $PY -m pip install -q -r requirements/tests.txt
fi
echo "[setup] ok: $($PY -c 'import torch, mmcv, mmdet, mmengine; print("torch", torch.__version__, "mmcv", mmcv.__version__, "mmdet", mmdet.__version__, "mmengine", mmengine.__version__)')"
