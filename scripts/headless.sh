#!/usr/bin/env bash
# Runs CMD on a private headless desktop:
#   dbus-run-session + Xvfb (DISPLAY) + unlocked gnome-keyring Secret Service + dunst
#   (tests/dunst config, actions answered by tests/dunst/dmenu-pick.sh) + dbus-monitor of
#   notifications + tauri-driver (when installed).
# Usage: scripts/headless.sh CMD [ARGS...]; exits with CMD's status.
# State goes under .ci-home/run-<pid>/ (removed afterwards unless ASSENT_KEEP_STATE=1),
# logs under logs/headless/<time>-<pid>/ (logs/headless/latest is the newest). Exported for CMD:
#   DISPLAY, ASSENT_WEBDRIVER_URL (if tauri-driver runs), ASSENT_DUNST_PICK_FILE,
#   ASSENT_DBUS_MONITOR_LOG, ASSENT_LOG_DIR (this run's log folder), ASSENT_HEADLESS=1.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

[ $# -gt 0 ] || die "usage: scripts/headless.sh CMD [ARGS...]"

if [ -z "${ASSENT_HEADLESS_INNER:-}" ]; then
    command -v dbus-run-session >/dev/null 2>&1 || die "dbus-run-session missing: run scripts/setup.sh"
    # A private session bus: nothing leaks to (or from) the caller's desktop.
    exec dbus-run-session -- env ASSENT_HEADLESS_INNER=1 bash "$0" "$@"
fi
unset ASSENT_HEADLESS_INNER

for tool in Xvfb gnome-keyring-daemon dunst dbus-send dbus-monitor; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool missing: run scripts/setup.sh"
done

# Each run logs to its own folder (several helpers may run tests at once); `latest` points to
# the newest, and only the 10 newest are kept.
mkdir -p "$ASSENT_ROOT/logs/headless"
LOGS=$ASSENT_ROOT/logs/headless/$(date -u +%Y%m%dT%H%M%S)-$$
STATE=$ASSENT_ROOT/.ci-home/run-$$
mkdir -p "$LOGS" "$STATE"
ln -sfn "$(basename "$LOGS")" "$ASSENT_ROOT/logs/headless/latest"
# shellcheck disable=SC2012 # names are ours: timestamp-pid
ls -1d "$ASSENT_ROOT"/logs/headless/2*/ 2>/dev/null | sort | head -n -10 | xargs -r rm -rf
export ASSENT_LOG_DIR=$LOGS
PIDS=()

cleanup() {
    local rc=$? i
    # Reverse start order: tauri-driver first, the X server last.
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "${PIDS[i]}" 2>/dev/null || true; done
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do wait "${PIDS[i]}" 2>/dev/null || true; done
    if [ -z "${ASSENT_KEEP_STATE:-}" ]; then rm -rf "$STATE"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

has_name() {
    dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner "string:$1" 2>/dev/null | grep -q true
}
# wait_for DESCRIPTION CMD...: polls CMD for up to 20 s.
wait_for() {
    local what=$1 i
    shift
    for ((i = 0; i < 200; i++)); do
        if "$@"; then return 0; fi
        sleep 0.1
    done
    die "headless desktop: timed out waiting for $what (see $LOGS/)"
}
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
    local p=$1
    while ! port_free "$p"; do p=$((p + 2)); done
    printf '%s\n' "$p"
}

# X server: -displayfd lets Xvfb choose a free display number (no races between parallel runs).
Xvfb -displayfd 5 -screen 0 1280x800x24 -nolisten tcp 5>"$STATE/display" >"$LOGS/xvfb.log" 2>&1 &
PIDS+=($!)
wait_for "Xvfb" test -s "$STATE/display"
export DISPLAY=":$(head -n1 "$STATE/display")"

# Secret Service. Don't change HOME (rustup would break); XDG dirs are enough.
export XDG_DATA_HOME=$STATE/share XDG_RUNTIME_DIR=$STATE/run
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
# --foreground so the daemon dies with us; --unlock reads the login password from stdin.
printf 'assent-ci' | gnome-keyring-daemon --foreground --unlock --components=secrets \
    >"$LOGS/gnome-keyring.log" 2>&1 &
PIDS+=($!)
wait_for "gnome-keyring (org.freedesktop.secrets)" has_name org.freedesktop.secrets

# Notification log first, so the very first Notify is captured.
export ASSENT_DBUS_MONITOR_LOG=$LOGS/dbus-monitor.log
dbus-monitor --session "interface='org.freedesktop.Notifications'" >"$ASSENT_DBUS_MONITOR_LOG" 2>&1 &
PIDS+=($!)

# dunst: started by us before anything calls Notify (else D-Bus activates a second one).
export ASSENT_DUNST_PICK_FILE=$STATE/dunst-pick ASSENT_DUNST_OFFERED_LOG=$LOGS/dmenu-offered.log
: >"$ASSENT_DUNST_PICK_FILE"
sed "s|@ROOT@|$ASSENT_ROOT|g" "$ASSENT_ROOT/tests/dunst/dunstrc.in" >"$STATE/dunstrc"
dunst -config "$STATE/dunstrc" >"$LOGS/dunst.log" 2>&1 &
PIDS+=($!)
wait_for "dunst (org.freedesktop.Notifications)" has_name org.freedesktop.Notifications

# tauri-driver (WebDriver for the real window) on 4444, or the next free port if 4444 is taken.
driver=""
if [ -x "$ASSENT_ROOT/tools/bin/tauri-driver" ]; then
    driver=$ASSENT_ROOT/tools/bin/tauri-driver
elif command -v tauri-driver >/dev/null 2>&1; then
    driver=$(command -v tauri-driver)
fi
native=/usr/bin/WebKitWebDriver
if [ -n "$driver" ] && [ -x "$native" ]; then
    # Another run may grab the same port between our check and tauri-driver's bind; tauri-driver
    # then exits at once, so "still alive and answering" proves the port is ours.
    started=""
    for attempt in 1 2 3 4 5; do
        if [ "$attempt" -eq 1 ] && port_free 4444 && port_free 4445; then
            port=4444
        else
            port=$(pick_port $((20000 + RANDOM % 20000 * 2)))
        fi
        native_port=$(pick_port $((port + 1)))
        "$driver" --port "$port" --native-port "$native_port" --native-driver "$native" \
            >"$LOGS/tauri-driver.log" 2>&1 &
        driver_pid=$!
        for ((i = 0; i < 100; i++)); do
            kill -0 "$driver_pid" 2>/dev/null || break
            curl -sf -o /dev/null "http://127.0.0.1:$port/status" && break
            sleep 0.1
        done
        sleep 0.3
        if kill -0 "$driver_pid" 2>/dev/null && curl -sf -o /dev/null "http://127.0.0.1:$port/status"; then
            PIDS+=("$driver_pid")
            started=yes
            break
        fi
        kill "$driver_pid" 2>/dev/null || true
        wait "$driver_pid" 2>/dev/null || true
    done
    [ -n "$started" ] || die "tauri-driver did not start (see $LOGS/tauri-driver.log)"
    export ASSENT_WEBDRIVER_URL=http://127.0.0.1:$port
else
    notice "tauri-driver or $native not installed: no WebDriver (run scripts/setup.sh test)"
fi

export ASSENT_HEADLESS=1
echo "headless desktop: DISPLAY=$DISPLAY${ASSENT_WEBDRIVER_URL:+ webdriver=$ASSENT_WEBDRIVER_URL} logs=$LOGS"
set +e
"$@"
rc=$?
set -e
exit "$rc"
