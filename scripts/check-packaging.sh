#!/usr/bin/env bash
# Validates the Linux packaging files (a few seconds, offline): the .desktop file
# (desktop-file-validate), the AppStream metainfo (appstreamcli), the Flatpak manifest
# (flatpak-builder's own parser, then scripts/check-packaging.py for the sandbox permissions
# and the files it installs). Part of `make test` and `make check`.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ASSENT_ROOT"

desktop=packaging/linux/dev.assent.Assent.desktop
metainfo=packaging/linux/dev.assent.Assent.metainfo.xml
manifest=packaging/flatpak/dev.assent.Assent.yml

need() {
    command -v "$1" >/dev/null 2>&1 || die "$1 not found: install $2 (scripts/setup.sh test does)"
}
need desktop-file-validate desktop-file-utils
need appstreamcli appstream
need flatpak-builder flatpak-builder

# desktop-file-validate exits 0 on hints; an error makes it exit 1.
desktop-file-validate "$desktop"
echo "desktop-file-validate: $desktop ok"
# --no-net: no URL checks (CI has no network); warnings fail, infos and pedantic notes do not.
appstreamcli validate --no-net --no-color "$metainfo"

# flatpak-builder parses the manifest and its includes. The two includes that come from
# outside (flathub/shared-modules, the generated cargo-sources.json; README) get stand-ins in
# a copy, so the manifest itself is what is checked. Unknown keys are only warnings for
# flatpak-builder: any warning fails here.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$manifest" "$tmp/"
mkdir -p "$tmp/shared-modules/libayatana-appindicator"
echo '{"name":"libayatana-appindicator","buildsystem":"simple","build-commands":[]}' \
    >"$tmp/shared-modules/libayatana-appindicator/libayatana-appindicator-gtk3.json"
echo '[{"type":"inline","contents":"","dest-filename":"stand-in"}]' >"$tmp/cargo-sources.json"
if ! (cd "$tmp" && flatpak-builder --show-manifest "$(basename "$manifest")") >"$tmp/parsed.json" 2>"$tmp/err"; then
    cat "$tmp/err" >&2
    die "flatpak-builder cannot read $manifest"
fi
if grep -qiE 'warning|error|critical' "$tmp/err"; then
    cat "$tmp/err" >&2
    die "flatpak-builder warns about $manifest"
fi
echo "flatpak-builder --show-manifest: $manifest ok"

py=""
for cand in python3 /usr/bin/python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import yaml' 2>/dev/null; then
        py=$cand
        break
    fi
done
[ -n "$py" ] || die "no python3 with PyYAML (apt-get install python3-yaml)"
"$py" scripts/check-packaging.py "$manifest"
