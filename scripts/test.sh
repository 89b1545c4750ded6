#!/usr/bin/env bash
# Runs every check and test of the repository, in order, stopping at the first failure.
# Usage: scripts/test.sh            (what `make test` and .ci/run call)
#   ASSENT_SKIP_SETUP=1   don't run scripts/setup.sh (already done)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ASSENT_ROOT"
STEP_LOGS=$ASSENT_ROOT/logs/steps
rm -rf "$STEP_LOGS"
mkdir -p "$STEP_LOGS"

STEPS=()   # "name|status|seconds|note"
started=$SECONDS

summary() {
    local line name status secs note
    echo
    echo "==================== make test summary ===================="
    for line in "${STEPS[@]}"; do
        IFS='|' read -r name status secs note <<<"$line"
        printf '  %-8s %-22s %5ss  %s\n' "$status" "$name" "$secs" "$note"
    done
    echo "  total $((SECONDS - started))s"
    echo "==========================================================="
}

# step NAME CMD...: runs CMD, records the result; on failure prints the summary and exits 1.
step() {
    local name=$1 t0=$SECONDS rc=0
    shift
    say "[$name] $*"
    # Output goes to the terminal and to logs/steps/<name>.log (read back for the totals).
    set +e
    "$@" 2>&1 | tee "$STEP_LOGS/$name.log"
    rc=${PIPESTATUS[0]}
    set -e
    if [ "$rc" -ne 0 ]; then
        STEPS+=("$name|FAILED|$((SECONDS - t0))|exit $rc")
        summary
        echo "make test: FAILED at step '$name' (exit $rc): $*" >&2
        echo "Logs of the headless desktop and the app: logs/headless/latest/ (and logs/)." >&2
        exit 1
    fi
    STEPS+=("$name|ok|$((SECONDS - t0))|")
}

skip() {
    local name=$1 why=$2
    notice "skipping step '$name': $why"
    STEPS+=("$name|SKIPPED|0|$why")
}

features=$(assent_features)

if [ -z "${ASSENT_SKIP_SETUP:-}" ]; then
    step setup scripts/setup.sh test
else
    skip setup "ASSENT_SKIP_SETUP is set"
fi

step fmt cargo fmt --all --check
# .desktop, AppStream metainfo and Flatpak manifest (offline, about a second).
step packaging scripts/check-packaging.sh
step bindings scripts/check-bindings.sh
step ui-check bash -c 'cd ui && npm run check'
step ui-test bash -c 'cd ui && npm test'
# The app embeds ui/dist (custom-protocol), so it must exist before cargo compiles the app.
step ui-build bash -c 'cd ui && npm run build'
# shellcheck disable=SC2086 # $features is one flag or empty
step clippy cargo clippy --workspace --all-targets $features -- -D warnings
# The same command as `make run` (assent_build_args), so neither rebuilds after the other.
mapfile -t build_args < <(assent_build_args)
step build cargo build "${build_args[@]}"
# Windows: the whole workspace through clippy for x86_64-pc-windows-gnu, then the library and
# core tests run under Wine (scripts/windows.sh).
step win-clippy scripts/windows.sh clippy
step win-test scripts/windows.sh test

# Headless part: each step gets a fresh private desktop (bus, X, keyring, dunst, tauri-driver).
# shellcheck disable=SC2086
step nextest scripts/headless.sh env ASSENT_TEST_KEYRING=1 ASSENT_E2E=1 \
    cargo nextest run --workspace $features --profile ci

step python scripts/headless.sh bash crates/verify-emulator/tests/python/run.sh

# Bounded fuzz smoke run of every target (the long run is documented in fuzz/README.md).
step fuzz-smoke scripts/fuzz.sh "${FUZZ_SMOKE_SECS:-20}"
step tray scripts/headless.sh tests/tray/run.sh

# Totals over the test runners (nextest, pytest, tray), as one plain closing line.
totals() {
    local passed=0 failed=0 p f line
    strip() { sed 's/\x1b\[[0-9;]*m//g' "$1" 2>/dev/null; }
    # nextest: "Summary [ 12.3s] 139 tests run: 137 passed, 2 failed, 1 skipped"
    line=$(strip "$STEP_LOGS/nextest.log" | grep -E 'Summary .* tests? run:' | tail -n1)
    p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+' || true)
    f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+' || true)
    passed=$((passed + ${p:-0})) failed=$((failed + ${f:-0}))
    # pytest: "===== 12 passed, 1 skipped in 3.21s ====="
    line=$(strip "$STEP_LOGS/python.log" | grep -E '[0-9]+ (passed|failed)' | grep -E ' in [0-9.]+s' | tail -n1)
    p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+' || true)
    f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+' || true)
    passed=$((passed + ${p:-0})) failed=$((failed + ${f:-0}))
    # tray: "tray: 6 passed, 0 failed"
    line=$(strip "$STEP_LOGS/tray.log" | grep -E '^tray: [0-9]+ passed, [0-9]+ failed' | tail -n1)
    p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+' || true)
    f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+' || true)
    passed=$((passed + ${p:-0})) failed=$((failed + ${f:-0}))
    echo "total: $passed passed, $failed failed"
}

summary
echo "make test: all steps passed"
totals
