# Shared helpers for the scripts in this folder (sourced, not run).
# shellcheck shell=bash

# Repository root, whatever the caller's working directory.
ASSENT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export ASSENT_ROOT

# Cargo target dir as cargo itself resolves it (CI uses target/, helpers their own).
assent_target_dir() {
    local dir=${CARGO_TARGET_DIR:-$ASSENT_ROOT/target}
    case $dir in /*) ;; *) dir=$ASSENT_ROOT/$dir ;; esac
    printf '%s\n' "$dir"
}

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
notice() { printf 'NOTICE: %s\n' "$*"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# True when the Tauri app crate exists (other helpers add it while this harness is in use).
have_app() { [ -f "$ASSENT_ROOT/src-tauri/Cargo.toml" ]; }
have_ui() { [ -f "$ASSENT_ROOT/ui/package.json" ]; }
have_e2e() { [ -f "$ASSENT_ROOT/tests/e2e/Cargo.toml" ] && grep -q '"tests/e2e"' "$ASSENT_ROOT/Cargo.toml"; }

# Cargo feature flags every build/test step shares, so artifacts are reused between steps.
assent_features() {
    if have_app; then printf '%s\n' "--features=assent/custom-protocol"; fi
}

# The one cargo build of the workspace that `make test` and `make run` share (debug profile,
# every target, the same features). Building less here (say `-p assent`) would unify the
# dependencies' features differently (dev-dependencies such as tokio's test-util count only
# for test targets), so the two would rebuild each other's world in turn.
assent_build_args() {
    printf '%s\n' --workspace --all-targets
    assent_features
}
