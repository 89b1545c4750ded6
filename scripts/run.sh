#!/usr/bin/env bash
# `make run`: installs what is needed, builds, starts Assent and prints the demo URL.
# Assent embeds the Verify Push emulator and its demo relying party on 127.0.0.1:8790
# (ASSENT_EMULATOR_ADDR overrides).
# Without a display (no DISPLAY/WAYLAND_DISPLAY) the app runs on a private Xvfb desktop.
#   PROFILE=release make run   builds optimised binaries (slower to build)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ASSENT_ROOT"

profile=${PROFILE:-debug}
profile_flag=()
[ "$profile" = release ] && profile_flag=(--release)
bin_dir=$(assent_target_dir)/$profile
addr=${ASSENT_EMULATOR_ADDR:-127.0.0.1:8790}
data_dir=${ASSENT_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/assent}

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

launch_app() {
    "$bin_dir/assent" "$@" &
    child=$!
    trap 'kill "$child" 2>/dev/null || true' INT TERM
    if [ "$addr" = off ]; then
        echo "Assent is running (embedded emulator disabled by ASSENT_EMULATOR_ADDR=off)."
    elif wait_http "http://$addr/demo/"; then
        echo
        echo "Assent is running. Demo relying party: http://$addr/demo/"
        echo "(enrol from the demo page, then sign in there and answer in Assent; Ctrl-C quits)"
        echo
    else
        echo "Assent started, but the demo at http://$addr/demo/ did not answer (see its log)." >&2
    fi
    wait "$child"
}

if [ "${1:-}" = --launch-only ]; then
    shift
    launch_app "$@"
    exit $?
fi

scripts/setup.sh run
(cd ui && npm run build)
say "cargo build -p assent --features assent/custom-protocol ${profile_flag[*]}"
cargo build -p assent --features assent/custom-protocol "${profile_flag[@]}"
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    notice "no display: running Assent on a private Xvfb desktop (window not visible)"
    exec scripts/headless.sh "$0" --launch-only "$@"
fi
launch_app "$@"
