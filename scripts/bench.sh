#!/usr/bin/env bash
# `make bench`: runs the benchmarks that exist. They print figures; nothing asserts on speed.
#   verify-emulator: the verify-emulator-bench binary if there is one, else its cargo benches
#   verify-push (and any other crate): its cargo benches, if it has a benches/ folder
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ASSENT_ROOT"
ran=0

for dir in crates/*/; do
    crate=$(basename "$dir")
    if [ "$crate" = verify-emulator ] &&
        { [ -f "$dir/src/bin/verify-emulator-bench.rs" ] ||
            grep -q 'name *= *"verify-emulator-bench"' "$dir/Cargo.toml"; }; then
        say "$crate: verify-emulator-bench (release)"
        cargo run --release -p verify-emulator --bin verify-emulator-bench
        ran=$((ran + 1))
    elif [ -d "$dir/benches" ]; then
        say "$crate: cargo bench"
        cargo bench -p "$crate"
        ran=$((ran + 1))
    else
        notice "$crate has no benchmarks yet"
    fi
done

echo "bench: $ran benchmark suite(s) run"
