#!/usr/bin/env bash
# Tray test (run inside scripts/headless.sh): fake StatusNotifierWatcher + Assent's real tray,
# against a verify-emulator process.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$root/$target ;; esac
app=${ASSENT_APP_BIN:-$target/debug/assent}
emulator=${ASSENT_EMULATOR_BIN:-$target/debug/verify-emulator}
[ -x "$app" ] || { echo "tray test: $app not built (cargo build --features assent/custom-protocol)" >&2; exit 1; }
[ -x "$emulator" ] || { echo "tray test: $emulator not built (cargo build -p verify-emulator)" >&2; exit 1; }
[ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] || { echo "tray test: no session bus; run inside scripts/headless.sh" >&2; exit 1; }
logs=${ASSENT_LOG_DIR:-$root/logs}
mkdir -p "$logs"
# Debian's python3 has python3-dbus-next; a pyenv/venv python on PATH may not.
exec /usr/bin/python3 "$root/tests/tray/sni_watcher.py" "$app" "$emulator" "$logs/tray-app.log"
