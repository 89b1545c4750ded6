# The two commands a new user needs (see README): `make run` and `make test`.
# Everything is installed by the scripts themselves (apt, npm, cargo); see scripts/.
SHELL := /usr/bin/env bash

.PHONY: run test check unit bench screenshots setup headless package-windows

## Build and start Assent (with its embedded emulator and demo site); prints the demo URL.
run:
	@scripts/run.sh

## Install everything, then run every check and test (what CI runs).
test:
	@scripts/test.sh

## Inner loop, no headless desktop: formatting, lints, the UI's type check, generated files.
check:
	@scripts/check.sh

## Inner loop: the library, emulator and core tests (no window, no keyring, no X server).
unit:
	cargo nextest run -p verify-push -p verify-emulator -p assent-core

## Run the benchmarks that exist (they print figures; nothing is asserted on speed).
bench:
	@scripts/bench.sh

## Regenerate docs/screenshots/ from the end-to-end tests.
screenshots:
	@scripts/screenshots.sh

## Install dependencies only.
setup:
	@scripts/setup.sh test

## Open a shell on the private headless desktop used by the tests.
headless:
	@scripts/headless.sh bash

## Build a release assent.exe for Windows (x86_64-pc-windows-gnu) and print its size.
package-windows:
	@scripts/windows.sh package
