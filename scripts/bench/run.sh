#!/usr/bin/env bash
# `make bench`: builds release binaries, runs every measurement (repeated), prints ONE table
# (figure | unit | median | p95 | min | max | n | target | met?) and writes results/bench.json
# (results/ is git-ignored). Targets are read from the table, never asserted: the exit status
# only says whether every measurement could run.
#
# Knobs (env): BENCH_QUICK=1 (shorter: 2 min soak, fewer runs), BENCH_SOAK_SECS (600),
# BENCH_NOTIFY_N (50), BENCH_APPROVE_N (30), BENCH_STARTUP_RUNS (5), BENCH_TP_RUNS (5),
# BENCH_TP_SECS (5), BENCH_SKIP_BUILD=1 (reuse the binaries), BENCH_TARGET_DIR (target-bench).
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
cd "$ASSENT_ROOT"

HERE=$ASSENT_ROOT/scripts/bench
export BENCH_TARGET_DIR=${BENCH_TARGET_DIR:-$ASSENT_ROOT/target-bench}
export CARGO_TARGET_DIR=$BENCH_TARGET_DIR
export BENCH_RESULTS=$ASSENT_ROOT/results BENCH_LOGS=$ASSENT_ROOT/results/logs
quick=${BENCH_QUICK:-0}
failed=()
step() { say "bench: $*"; }
# run_step NAME CMD...: runs CMD; a failure is recorded and reported, the other steps still run.
run_step() {
    local name=$1
    shift
    if ! "$@"; then
        failed+=("$name")
        notice "bench step '$name' failed; its figures are missing from the table"
    fi
}

rm -rf "$BENCH_RESULTS/parts" "$BENCH_LOGS"
mkdir -p "$BENCH_RESULTS/parts" "$BENCH_LOGS"

# Python with `cryptography` (the bench's device signs ES256 JWTs) and `dbus_next` (the window
# phase clicks the tray menu); Debian's python3 has both (python3-cryptography, python3-dbus-next).
PY=""
for cand in /usr/bin/python3 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import cryptography, dbus_next' 2>/dev/null; then
        PY=$(command -v "$cand")
        break
    fi
done
[ -n "$PY" ] || die "no python3 with the cryptography and dbus_next modules (apt-get install python3-cryptography python3-dbus-next)"

# Load generator and desktop probes from apt; Prism and the Tauri CLI from npm, in the target dir.
missing_apt=()
command -v wrk >/dev/null 2>&1 || missing_apt+=(wrk)
command -v xdotool >/dev/null 2>&1 || missing_apt+=(xdotool)
if [ ${#missing_apt[@]} -gt 0 ]; then
    step "apt-get install ${missing_apt[*]}"
    apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing_apt[@]}" >/dev/null
fi
NODE_DIR=$BENCH_TARGET_DIR/node
if [ ! -x "$NODE_DIR/node_modules/.bin/prism" ] || [ ! -x "$NODE_DIR/node_modules/.bin/tauri" ]; then
    step "npm install @stoplight/prism-cli @tauri-apps/cli (into $NODE_DIR)"
    mkdir -p "$NODE_DIR"
    [ -f "$NODE_DIR/package.json" ] || echo '{"name":"assent-bench-tools","private":true}' >"$NODE_DIR/package.json"
    (cd "$NODE_DIR" && npm install --no-audit --no-fund @stoplight/prism-cli@5 @tauri-apps/cli@2 >/dev/null)
fi

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    if have_ui; then
        step "ui build (embedded by the release binary)"
        [ -d ui/node_modules ] || (cd ui && npm ci --no-audit --no-fund >/dev/null)
        npm --prefix ui run build >/dev/null
    fi
    step "cargo build --release assent + verify-emulator ($CARGO_TARGET_DIR)"
    cargo build --release -p assent -p verify-emulator --features assent/custom-protocol
    step "cargo build --release hello-tauri (its own workspace, $BENCH_TARGET_DIR/hello-tauri)"
    (cd benches/hello-tauri &&
        CARGO_TARGET_DIR=$BENCH_TARGET_DIR/hello-tauri cargo build --release --features custom-protocol)
fi

# .deb from the Tauri bundler, bundling the binary built above (no second compile).
deb=-
step ".deb bundle (tauri bundle --bundles deb)"
rm -rf "$BENCH_TARGET_DIR/release/bundle/deb"
if "$NODE_DIR/node_modules/.bin/tauri" bundle --bundles deb --ci >"$BENCH_LOGS/bundle.log" 2>&1; then
    deb=$(find "$BENCH_TARGET_DIR/release/bundle/deb" -maxdepth 1 -name '*.deb' | head -n1)
    deb=${deb:--}
else
    export BENCH_DEB_WHY="tauri bundle failed (see results/logs/bundle.log)"
    failed+=(deb)
fi
run_step sizes "$PY" "$HERE/sizes.py" "$deb"

step "library: verify-push approve round trip (cargo bench)"
runs=200
[ "$quick" = 1 ] && runs=100
run_step library-bench bash -c "VP_BENCH_RUNS=$runs cargo bench -p verify-push --bench roundtrip 2>&1 | tee '$BENCH_LOGS/library.txt'; exit \${PIPESTATUS[0]}"
run_step library "$PY" "$HERE/library.py" "$BENCH_LOGS/library.txt"

step "emulator load bench (cargo bench, writes results/emulator-bench.json)"
rm -f "$BENCH_RESULTS/emulator-bench.json"
tp_runs=5
[ "$quick" = 1 ] && tp_runs=3
run_step emulator-load env BENCH_RUNS="${BENCH_TP_RUNS:-$tp_runs}" BENCH_SECS="${BENCH_TP_SECS:-5}" \
    cargo bench -p verify-emulator --bench emulator_load

step "emulator vs Prism throughput (wrk)"
run_step throughput "$PY" "$HERE/throughput.py"

step "desktop: notification latency, approve via the window, cold start, memory, idle CPU"
run_step desktop "$ASSENT_ROOT/scripts/headless.sh" "$PY" "$HERE/desktop.py"

step "table"
BENCH_QUICK=$quick "$PY" "$HERE/table.py"
if [ ${#failed[@]} -gt 0 ]; then
    notice "steps that failed: ${failed[*]} (figures marked 'not measured' or missing)"
    exit 1
fi
