#!/usr/bin/env bash
# The SDK's tests against a live host. conftest.py starts the built sandbox-host (SANDBOX_HOST_BINARY,
# default .build/debug/sandbox-host of this checkout) on a free port with a data directory under the
# temp directory made here, and a fake model provider on loopback; it stops the host when the tests
# end. This script removes the directory however pytest ends (killed outright included: the host
# then gets SIGTERM through PR_SET_PDEATHSIG, and is waited for here before anything is removed).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import httpx, pytest" 2>/dev/null || python3 -m pip install -q httpx pytest

work=$(mktemp -d "${TMPDIR:-/tmp}/sdk-tests-XXXXXX")
cleanup() {
  local pid
  pid=$(cat "$work/host.pid" 2>/dev/null || true)
  if [ -n "$pid" ]; then
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  # Project volumes a killed host left mounted: unmounted, never walked into.
  awk -v root="$(realpath "$work")" '$5 == root || index($5, root "/") == 1 { print $5 }' /proc/self/mountinfo \
    | sort -r | while read -r point; do umount -l "$point" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

if [ $# -eq 0 ]; then set -- tests; fi
# In the background so that a signal to this script reaches pytest at once (its teardown stops
# the host), rather than after pytest ends.
SDK_TEST_WORK_DIR="$work" python3 -m pytest -q -p no:cacheprovider -p no:benchmark "$@" &
tests=$!
trap 'kill -TERM "$tests" 2>/dev/null; wait "$tests"; exit 143' TERM
trap 'kill -INT "$tests" 2>/dev/null; wait "$tests"; exit 130' INT
status=0
wait "$tests" || status=$?
exit "$status"
