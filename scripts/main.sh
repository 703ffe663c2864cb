#!/usr/bin/env bash
# The main job: install (idempotent), then train + evaluate the single-frame
# baseline and STPN on the embedded deteriorated-video set (CPU, < 20 min on
# 2 cores). Extra arguments go to tools/misc/toy_vid_experiment.py.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
exec ${PYTHON:-python3} tools/misc/toy_vid_experiment.py "$@"
