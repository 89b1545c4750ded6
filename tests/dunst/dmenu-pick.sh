#!/usr/bin/env bash
# dunst runs this as its "dmenu" when `dunstctl context` is called. It reads the offered actions
# on stdin (lines like `#Approve (summary) [3,approve]`) and prints the one matching the pattern
# in $ASSENT_DUNST_PICK_FILE (a grep -E pattern, case-insensitive; default "approve").
# The choice goes through a file because dunst, not dunstctl, runs this script.
set -u
offered=$(cat)
log=${ASSENT_DUNST_OFFERED_LOG:-/dev/null}
printf '%s\n' "$offered" >>"$log"
pattern=approve
if [ -n "${ASSENT_DUNST_PICK_FILE:-}" ] && [ -s "$ASSENT_DUNST_PICK_FILE" ]; then
    pattern=$(head -n1 "$ASSENT_DUNST_PICK_FILE")
fi
printf '%s\n' "$offered" | grep -m1 -i -E -- "$pattern"
