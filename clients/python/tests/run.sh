#!/usr/bin/env bash
# The SDK's tests against a live host: conftest.py starts the built sandbox-host (SANDBOX_HOST_BINARY,
# default .build/debug/sandbox-host of this checkout) on a free port with a temp data directory and a
# fake model provider, and stops and removes them however the run ends.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import httpx, pytest" 2>/dev/null || python3 -m pip install -q httpx pytest
if [ $# -eq 0 ]; then set -- tests; fi
exec python3 -m pytest -q -p no:cacheprovider -p no:benchmark "$@"
