#!/usr/bin/env bash
# Runs the twilio-python helper-library tests against a real `verify-emulator serve` process.
# Creates a venv under target/python-venv (or $VENV) with the pinned requirements.
# Needs python3 with the venv module (Debian: apt-get install python3-venv).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../../.." && pwd)"
venv="${VENV:-$repo/target/python-venv}"
python="${PYTHON:-python3}"

if [[ ! -x "$venv/bin/python" ]]; then
  "$python" -m venv "$venv" || {
    echo "python3 -m venv failed: on Debian install python3-venv" >&2
    exit 1
  }
fi
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  echo "$want" >"$stamp"
fi

target_dir="${CARGO_TARGET_DIR:-target}"
[[ "$target_dir" = /* ]] || target_dir="$repo/$target_dir"
export VERIFY_EMULATOR_BIN="${VERIFY_EMULATOR_BIN:-$target_dir/debug/verify-emulator}"
if [[ ! -x "$VERIFY_EMULATOR_BIN" ]]; then
  (cd "$repo" && cargo build -p verify-emulator --bin verify-emulator)
fi
cd "$here"
exec "$venv/bin/python" -m pytest "$@"
