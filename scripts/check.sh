#!/usr/bin/env bash
# The quick checks of `make check`: formatting, clippy on every crate, the UI's type check and
# the unused-dependency scan. Assumes `make setup` (or `make test`) has installed the tools.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ASSENT_ROOT"
features=$(assent_features)

say "cargo fmt --check"
cargo fmt --all --check
say "packaging files (.desktop, metainfo, Flatpak manifest)"
scripts/check-packaging.sh
say "svelte-check"
(cd ui && npm run check)
# The app embeds ui/dist; clippy of src-tauri needs it to exist.
[ -d ui/dist ] || (cd ui && npm run build)
say "clippy"
# shellcheck disable=SC2086 # $features is one flag or empty
cargo clippy --workspace --all-targets $features -- -D warnings
if [ -x scripts/check-bindings.sh ]; then
    say "generated TypeScript bindings"
    scripts/check-bindings.sh
fi
say "cargo shear (unused dependencies)"
if ! command -v cargo-shear >/dev/null 2>&1 && [ ! -x tools/bin/cargo-shear ]; then
    # The newest releases need a newer rustc than the one toolchain this machine has.
    cargo install cargo-shear@1.5.1 --locked --root tools </dev/null
fi
PATH=$ASSENT_ROOT/tools/bin:$PATH cargo shear
echo "make check: all passed"
