#!/usr/bin/env bash
# Installs what building, running and testing Assent needs on Debian/Ubuntu.
# Usage: scripts/setup.sh [run|test]   (default: test = everything)
# Idempotent and quiet when everything is present; never prompts (CI has no stdin).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ASSENT_ROOT"
mode=${1:-test}

# Build dependencies of Tauri 2 on Linux (Tauri's prerequisites list) plus libdbus for
# keyring's secret-service (tao's dbus crate needs it too).
build_pkgs=(build-essential pkg-config file curl wget libssl-dev libdbus-1-dev
    libwebkit2gtk-4.1-dev libsoup-3.0-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev
    xdg-utils desktop-file-utils)
# The last two: the assent:// scheme registration at start (xdg-mime, update-desktop-database;
# without them the deep-link plugin warns on every start).
# What the headless tests use: X server, keyring, notification daemon, WebDriver, tray watcher.
test_pkgs=(xvfb xauth dbus dbus-x11 libglib2.0-bin imagemagick x11-utils x11-xserver-utils xdotool fonts-dejavu-core
    webkit2gtk-driver gnome-keyring libsecret-tools dunst libnotify-bin keyutils chromium
    python3 python3-dbus-next python3-venv
    appstream flatpak-builder python3-yaml
    gcc-mingw-w64-x86-64 wine wine64)
# The line before the last validates the packaging files (scripts/check-packaging.sh, with
# desktop-file-utils from the build list).
# The last line is the Windows build (scripts/windows.sh): mingw-w64 for the C in aws-lc-sys
# and ring, Wine to run the Windows test binaries.

pkgs=("${build_pkgs[@]}")
case $mode in
    test) pkgs+=("${test_pkgs[@]}") ;;
    run)
        # Without a display `make run` falls back to a private Xvfb desktop.
        if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
            pkgs+=(xvfb xauth dbus dbus-x11 gnome-keyring dunst fonts-dejavu-core libglib2.0-bin)
        fi
        ;;
    *) die "usage: scripts/setup.sh [run|test]" ;;
esac

install_apt() {
    if ! command -v apt-get >/dev/null 2>&1; then
        notice "apt-get not found: install the equivalents of these packages yourself: ${pkgs[*]}"
        return 0
    fi
    local missing=() p
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        echo "apt: all ${#pkgs[@]} packages present"
        return 0
    fi
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to install: ${missing[*]}"
        sudo=(sudo)
    fi
    say "apt: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq
    "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" </dev/null
}

install_ui() {
    if ! have_ui; then
        notice "ui/ not present yet: skipping npm ci"
        return 0
    fi
    command -v npm >/dev/null 2>&1 || die "npm not found: install Node.js 20+ and npm"
    # npm ci wipes node_modules; skip it when the lock file is unchanged since the last install.
    local stamp=ui/node_modules/.assent-lock.sha256 want
    want=$(sha256sum ui/package-lock.json 2>/dev/null | cut -d' ' -f1 || true)
    if [ -n "$want" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        echo "npm: ui/node_modules up to date"
        return 0
    fi
    say "npm ci (ui)"
    if [ -f ui/package-lock.json ]; then
        (cd ui && npm ci --no-audit --no-fund </dev/null)
        printf '%s\n' "$want" >"$stamp"
    else
        (cd ui && npm install --no-audit --no-fund </dev/null)
    fi
}

install_test_tools() {
    if [ -x tools/bin/tauri-driver ]; then
        echo "tauri-driver: $(tools/bin/tauri-driver --help 2>&1 | head -n1 || true) (tools/bin)"
    else
        say "cargo install tauri-driver --locked --root tools"
        cargo install tauri-driver --locked --root tools </dev/null
    fi
    if ! cargo nextest --version >/dev/null 2>&1; then
        say "cargo install cargo-nextest --locked"
        cargo install cargo-nextest --locked </dev/null
    fi
    # The fuzz smoke run (scripts/fuzz.sh) needs cargo-fuzz; stable Rust is enough with
    # `--sanitizer none`.
    if [ -x tools/bin/cargo-fuzz ] || command -v cargo-fuzz >/dev/null 2>&1; then
        echo "cargo-fuzz: present"
    else
        say "cargo install cargo-fuzz --locked --root tools"
        cargo install cargo-fuzz --locked --root tools </dev/null
    fi
}

# The Windows target for scripts/windows.sh (clippy, tests under Wine, package-windows).
install_windows_target() {
    local t=x86_64-pc-windows-gnu
    if ! command -v rustup >/dev/null 2>&1; then
        notice "rustup not found: add the Rust target $t for your toolchain yourself"
        return 0
    fi
    if rustup target list --installed | grep -qx "$t"; then
        echo "rustup: target $t present"
    else
        say "rustup target add $t"
        rustup target add "$t" </dev/null
    fi
}

command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust with rustup (https://rustup.rs)"
install_apt
install_ui
if [ "$mode" = test ]; then
    install_test_tools
    install_windows_target
fi
