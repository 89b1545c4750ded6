#!/usr/bin/env bash
# `make bench`: builds release binaries, runs every measurement several times and prints one
# table (results/bench.json too). Nothing asserts on speed. See scripts/bench/README.md.
#   BENCH_QUICK=1   shorter soak (2 min instead of 10) and fewer repetitions
exec "$(dirname "$0")/bench/run.sh" "$@"
