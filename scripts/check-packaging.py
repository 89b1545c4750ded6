#!/usr/bin/env python3
"""Checks the Flatpak manifest against what Assent needs inside the sandbox, and that the
manifest, the .desktop file, the AppStream metainfo and tauri.conf.json agree on the app's id,
binary and files. Usage: check-packaging.py [MANIFEST]. Exit 1 with one line per problem."""

import configparser
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "packaging/flatpak/dev.assent.Assent.yml"
DESKTOP = ROOT / "packaging/linux/dev.assent.Assent.desktop"
METAINFO = ROOT / "packaging/linux/dev.assent.Assent.metainfo.xml"

# What the app does inside the sandbox, and the permission each needs.
NEEDED_ARGS = {
    "--talk-name=org.freedesktop.secrets": "keys in the Secret Service (keyring crate)",
    "--talk-name=org.freedesktop.Notifications": "notifications with Approve/Deny",
    "--talk-name=org.kde.StatusNotifierWatcher": "the tray icon",
    "--share=network": "the Verify API and the loopback emulator",
    "--socket=wayland": "the window",
    "--socket=fallback-x11": "the window without Wayland",
    "--share=ipc": "X11 shared memory",
    "--env=ASSENT_NO_SCHEME_REGISTRATION=1": "no xdg-mime from inside the sandbox",
}
# Broad holes a reviewer (or Flathub) would refuse: the whole session bus, the home folder.
FORBIDDEN_PREFIXES = ("--socket=session-bus", "--socket=system-bus", "--filesystem=home",
                      "--filesystem=host", "--device=all")


def check_manifest(path: Path, problems: list[str]) -> dict:
    m = yaml.safe_load(path.read_text())
    if not isinstance(m, dict):
        problems.append(f"{path}: not a YAML mapping")
        return {}
    for key in ("app-id", "runtime", "runtime-version", "sdk", "command", "finish-args", "modules"):
        if key not in m:
            problems.append(f"{path}: missing key '{key}'")
    args = m.get("finish-args") or []
    for arg, why in NEEDED_ARGS.items():
        if arg not in args:
            problems.append(f"{path}: finish-args lack {arg} ({why})")
    for arg in args:
        if arg.startswith(FORBIDDEN_PREFIXES):
            problems.append(f"{path}: finish-args grant {arg}: too broad for this app")
    if m.get("command") != "assent":
        problems.append(f"{path}: command is {m.get('command')!r}, the binary is 'assent'")
    apps = [mod for mod in m.get("modules", []) if isinstance(mod, dict) and mod.get("name") == "assent"]
    if len(apps) != 1:
        problems.append(f"{path}: expected one module named 'assent'")
        return m
    commands = "\n".join(apps[0].get("build-commands", []))
    app_id = m.get("app-id", "")
    for installed in (f"/app/share/applications/{app_id}.desktop",
                      f"/app/share/metainfo/{app_id}.metainfo.xml",
                      "/app/bin/assent"):
        if installed not in commands:
            problems.append(f"{path}: the assent module does not install {installed}")
    for line in apps[0].get("build-commands", []):
        words = line.split()
        if words[:1] == ["install"]:
            src = words[-2]
            if not (ROOT / src).exists() and not src.startswith("target/"):
                problems.append(f"{path}: installs {src}, which is not in the repository")
    if "custom-protocol" not in commands:
        problems.append(f"{path}: the build must embed the UI (--features assent/custom-protocol)")
    return m


def check_desktop(app_id: str, problems: list[str]) -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(DESKTOP)
    d = entry["Desktop Entry"]
    if DESKTOP.name != f"{app_id}.desktop":
        problems.append(f"{DESKTOP}: name must be {app_id}.desktop")
    if d.get("Icon") != app_id:
        problems.append(f"{DESKTOP}: Icon={d.get('Icon')}, must be the app id {app_id}")
    if not d.get("Exec", "").startswith("assent "):
        problems.append(f"{DESKTOP}: Exec must start the 'assent' binary")
    if "x-scheme-handler/assent" not in d.get("MimeType", ""):
        problems.append(f"{DESKTOP}: MimeType lacks x-scheme-handler/assent (enrolment links)")


def check_metainfo(app_id: str, problems: list[str]) -> None:
    root = ET.parse(METAINFO).getroot()
    if root.findtext("id") != app_id:
        problems.append(f"{METAINFO}: <id> is {root.findtext('id')!r}, expected {app_id}")
    if root.findtext("launchable") != DESKTOP.name:
        problems.append(f"{METAINFO}: <launchable> must name {DESKTOP.name}")
    versions = [r.get("version") for r in root.iter("release")]
    cargo_version = next(
        line.split('"')[1]
        for line in (ROOT / "Cargo.toml").read_text().splitlines()
        if line.startswith("version = ")
    )
    if cargo_version not in versions:
        problems.append(f"{METAINFO}: no <release> for version {cargo_version} (Cargo.toml)")


def main() -> int:
    manifest = Path(sys.argv[1]) if len(sys.argv) > 1 else MANIFEST
    problems: list[str] = []
    m = check_manifest(manifest, problems)
    app_id = m.get("app-id", "")
    conf = json.loads((ROOT / "src-tauri/tauri.conf.json").read_text())
    if conf.get("identifier") != app_id:
        problems.append(f"tauri.conf.json identifier {conf.get('identifier')!r} != app-id {app_id!r}")
    check_desktop(app_id, problems)
    check_metainfo(app_id, problems)
    for p in problems:
        print(f"packaging: {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"packaging: {manifest.name}, {DESKTOP.name} and {METAINFO.name} agree ({app_id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
