#!/usr/bin/env bash
# Regenerates the TypeScript bindings of the IPC types (ui/src/lib/bindings, from assent-core's
# Rust types via ts-rs) and fails when they differ from what is committed.
# Usage: scripts/check-bindings.sh   (called by scripts/test.sh; commit the folder after a change)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ASSENT_ROOT"

dir=ui/src/lib/bindings
ASSENT_WRITE_BINDINGS=1 cargo test --quiet -p assent-core --lib \
    bindings::tests::committed_bindings_match_the_rust_types

untracked=$(git ls-files --others --exclude-standard -- "$dir")
if ! git diff --exit-code -- "$dir" || [ -n "$untracked" ]; then
    [ -z "$untracked" ] || printf 'new, not committed:\n%s\n' "$untracked" >&2
    echo "check-bindings: $dir is out of date with the Rust types; review and commit it" >&2
    exit 1
fi
echo "check-bindings: $dir matches the Rust types"
