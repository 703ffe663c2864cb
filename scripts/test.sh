#!/usr/bin/env bash
# Install what the tests need (idempotent), then run lint and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_TESTS=1 bash scripts/setup_env.sh
PY=${PYTHON:-python3}
echo "[test] ruff"
$PY -m ruff check . || ruff check .
echo "[test] pytest"
exec $PY -m pytest -q "$@"
