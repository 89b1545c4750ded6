#!/usr/bin/env bash
# `make run`: installs what is needed, builds, starts Assent and prints one block saying where
# the demo is and how to quit. Assent embeds the Verify Push emulator and its demo relying
# party on 127.0.0.1:8790 (ASSENT_EMULATOR_ADDR overrides).
# It builds exactly what `make test` builds (scripts/lib.sh assent_build_args: debug, every
# target, the same features), so after `make test` nothing is compiled again.
# Without a display (no DISPLAY/WAYLAND_DISPLAY) the app runs on a private Xvfb desktop.
# What the app prints (including the emulator's request log) goes to logs/run/assent.log; the
# setup and UI build logs sit beside it.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ASSENT_ROOT"

bin_dir=$(assent_target_dir)/debug
addr=${ASSENT_EMULATOR_ADDR:-127.0.0.1:8790}
run_logs=$ASSENT_ROOT/logs/run
app_log=$run_logs/assent.log
mkdir -p "$run_logs"
export ASSENT_RUN_T0=${ASSENT_RUN_T0:-$(date +%s.%N)}

# wait_http URL: up to 60 s for URL to answer.
wait_http() {
    local i
    for ((i = 0; i < 600; i++)); do
        curl -sf -o /dev/null "$1" && return 0
        kill -0 "$child" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

ready_block() {
    local secs where
    secs=$(awk -v a="$ASSENT_RUN_T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    where="the Assent window and its tray icon"
    [ -n "${ASSENT_HEADLESS:-}" ] && where="on a private Xvfb desktop (no display here, so not visible)"
    cat <<EOF

  Assent is running (ready in ${secs} s), ${where}.
    Demo site:  http://$addr/demo/
                create a user, enrol this desktop, then sign in there and answer in Assent
    App log:    ${app_log#"$ASSENT_ROOT"/}  (the emulator's API requests: http://$addr/demo/requests)
    Quit:       Ctrl-C here, or Quit in the tray menu

EOF
}

launch_app() {
    "$bin_dir/assent" "$@" >"$app_log" 2>&1 &
    child=$!
    trap 'kill "$child" 2>/dev/null || true' INT TERM
    if [ "$addr" = off ]; then
        echo "Assent is running (embedded emulator disabled by ASSENT_EMULATOR_ADDR=off). Ctrl-C quits."
    elif wait_http "http://$addr/demo/"; then
        ready_block
    else
        echo "Assent started, but the demo at http://$addr/demo/ did not answer. Last lines of $app_log:" >&2
        tail -n 20 "$app_log" >&2
    fi
    local rc=0
    wait "$child" || rc=$?
    # 130/143: Ctrl-C or a TERM, the ordinary way to stop.
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 130 ] && [ "$rc" -ne 143 ]; then
        echo "Assent exited with status $rc. Last lines of $app_log:" >&2
        tail -n 20 "$app_log" >&2
    fi
    return "$rc"
}

if [ "${1:-}" = --launch-only ]; then
    shift
    launch_app "$@"
    exit $?
fi

# quietly LOG CMD...: runs CMD with its output in LOG, shown only when it fails.
quietly() {
    local log=$1
    shift
    if ! "$@" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "$* failed (full log: ${log#"$ASSENT_ROOT"/})"
    fi
}

echo "make run: checking dependencies (log: logs/run/setup.log)"
quietly "$run_logs/setup.log" scripts/setup.sh run
# The UI is rebuilt only when a source is newer than ui/dist (vite takes seconds).
if [ ! -f ui/dist/index.html ] ||
    [ -n "$(find ui/src ui/index.html ui/package.json ui/package-lock.json ui/vite.config.* \
        -newer ui/dist/index.html -print -quit 2>/dev/null)" ]; then
    echo "make run: building the UI (log: logs/run/ui-build.log)"
    quietly "$run_logs/ui-build.log" bash -c 'cd ui && npm run build'
fi
mapfile -t build_args < <(assent_build_args)
echo "make run: cargo build ${build_args[*]}"
cargo build "${build_args[@]}"
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    # headless.sh's own notices go to its log folder; the ready block says where Assent is.
    exec scripts/headless.sh "$0" --launch-only "$@"
fi
launch_app "$@"
