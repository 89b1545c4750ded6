#!/usr/bin/env bash
# The Windows build, cross-compiled from Linux (x86_64-pc-windows-gnu, mingw-w64) and tested
# under Wine. scripts/setup.sh installs the target, mingw-w64 and Wine.
# Usage: scripts/windows.sh clippy    clippy of the whole workspace for Windows (-D warnings)
#        scripts/windows.sh test      verify-push and assent-core tests, run under Wine
#        scripts/windows.sh package   release assent.exe; prints its size beside the Linux binary
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ASSENT_ROOT"

TARGET=x86_64-pc-windows-gnu
features=$(assent_features)
target_dir=$(assent_target_dir)

need_toolchain() {
    command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 ||
        die "x86_64-w64-mingw32-gcc not found: run scripts/setup.sh test (package gcc-mingw-w64-x86-64)"
    if command -v rustup >/dev/null 2>&1; then
        rustup target list --installed | grep -qx "$TARGET" ||
            die "Rust target $TARGET missing: run scripts/setup.sh test (rustup target add $TARGET)"
    fi
}

# A private Wine prefix under the target dir, created headless on first use. No display is
# needed: wineboot's dialogs are skipped without one, and the tests open no windows.
wine_env() {
    command -v wine >/dev/null 2>&1 || die "wine not found: run scripts/setup.sh test (package wine)"
    export WINEPREFIX=$target_dir/wine/prefix
    export WINEDEBUG=-all
    # Wine's own 'install Mono/Gecko?' prompts: never wanted, never answered.
    export WINEDLLOVERRIDES="mscoree,mshtml="
    export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine
    if [ ! -f "$WINEPREFIX/system.reg" ]; then
        say "wineboot: creating the Wine prefix $WINEPREFIX"
        mkdir -p "$WINEPREFIX"
        env -u DISPLAY -u WAYLAND_DISPLAY wineboot --init </dev/null
    fi
    # Wine 8 has no bcryptprimitives.dll, which Rust's std imports (ProcessPrng): without a
    # stand-in no test binary starts ("status c0000135", exit 53).
    local dll=$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll
    local src=scripts/windows/bcryptprimitives.c
    if [ ! -f "$dll" ] || [ "$src" -nt "$dll" ]; then
        x86_64-w64-mingw32-gcc -O2 -shared -o "$dll" "$src" scripts/windows/bcryptprimitives.def -ladvapi32
    fi
    # A wineserver left from an earlier run with other settings would be reused; start clean.
    wineserver -k 2>/dev/null || true
}

case ${1:-} in
    clippy)
        need_toolchain
        # shellcheck disable=SC2086 # $features is one flag or empty
        cargo clippy --target "$TARGET" --workspace --all-targets $features -- -D warnings
        ;;
    test)
        need_toolchain
        wine_env
        # The library with its in-process emulator over loopback, and the app's core. The
        # Secret Service tests stay off (ASSENT_TEST_KEYRING unset); tests/credential_manager.rs
        # runs OsKeyStore against Wine's Credential Manager, the rest use the in-memory and file
        # key stores.
        # killed_writer_never_corrupts_the_store kills its child 5-80 ms after spawning it; a
        # Wine process takes longer than that to start, so the child dies before its first
        # write and the test can only see the initial version. It runs natively on Linux.
        env -u ASSENT_TEST_KEYRING -u DISPLAY cargo nextest run --target "$TARGET" \
            -p verify-push -p assent-core --profile ci \
            -E 'not (package(verify-push) & test(=killed_writer_never_corrupts_the_store))'
        wineserver -k 2>/dev/null || true
        ;;
    package)
        need_toolchain
        # shellcheck disable=SC2086
        cargo build --release --target "$TARGET" -p assent $features
        exe=$target_dir/$TARGET/release/assent.exe
        [ -f "$exe" ] || die "no $exe after the build"
        linux=$target_dir/release/assent
        printf '%-10s %10s  %s\n' platform bytes file
        printf '%-10s %10s  %s\n' windows "$(stat -c %s "$exe")" "$exe"
        if [ -f "$linux" ]; then
            printf '%-10s %10s  %s\n' linux "$(stat -c %s "$linux")" "$linux"
        else
            notice "no Linux release binary at $linux yet (cargo build --release -p assent $features)"
        fi
        ;;
    *) die "usage: scripts/windows.sh clippy|test|package" ;;
esac
