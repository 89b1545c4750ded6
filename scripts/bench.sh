#!/usr/bin/env bash
# Runs the benchmarks that exist. They print figures; nothing here asserts on speed.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ASSENT_ROOT"
ran=0

if [ -f crates/verify-emulator/src/bin/verify-emulator-bench.rs ] ||
    grep -q 'verify-emulator-bench' crates/verify-emulator/Cargo.toml 2>/dev/null; then
    say "verify-emulator-bench (release)"
    cargo run --release -p verify-emulator --bin verify-emulator-bench -- "$@"
    ran=$((ran + 1))
else
    notice "crates/verify-emulator has no verify-emulator-bench binary yet"
fi

if [ -d crates/verify-push/benches ]; then
    say "verify-push benches"
    cargo bench -p verify-push
    ran=$((ran + 1))
else
    notice "crates/verify-push has no benches/ yet"
fi

echo "bench: $ran benchmark suite(s) run"
