#!/usr/bin/env bash
# Runs CMD (default: the verify-push tests with the real keychain) on a private session bus
# with an unlocked gnome-keyring Secret Service. Minimal form of scripts/headless.sh for this
# crate alone: gnome-keyring-daemon --unlock reads the password from stdin and creates the
# login collection under XDG_DATA_HOME; HOME stays unchanged; --foreground keeps the daemon a
# child we can kill (without it, it forks and outlives dbus-run-session).
#   crates/verify-push/scripts/keyring-test.sh [CMD ARGS...]
set -euo pipefail
if [ -z "${VP_KEYRING_INNER:-}" ]; then
    exec dbus-run-session -- env VP_KEYRING_INNER=1 bash "$0" "$@"
fi
unset VP_KEYRING_INNER
STATE=$(mktemp -d)
export XDG_DATA_HOME=$STATE/share XDG_RUNTIME_DIR=$STATE/run
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
printf 'verify-push-test' | gnome-keyring-daemon --foreground --unlock --components=secrets \
    >"$STATE/gnome-keyring.log" 2>&1 &
GKD=$!
trap 'kill $GKD 2>/dev/null || true; wait $GKD 2>/dev/null || true; rm -rf "$STATE"' EXIT
for _ in $(seq 200); do
    if dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q true; then
        break
    fi
    sleep 0.1
done
export ASSENT_TEST_KEYRING=1
if [ $# -eq 0 ]; then
    set -- cargo nextest run -p verify-push
fi
"$@"
