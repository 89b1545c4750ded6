//! The window's security settings, read from the files Tauri builds into the binary: a strict
//! CSP with no inline or eval'd script, no global Tauri object, and a capability set that grants
//! only the app's own commands and event listening.

use std::path::Path;

fn read_json(rel: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    let text = std::fs::read_to_string(&path).expect("readable config");
    serde_json::from_str(&text).expect("valid JSON")
}

/// Each directive of the CSP, as (name, sources).
fn directives(csp: &str) -> Vec<(String, Vec<String>)> {
    csp.split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let mut words = d.split_whitespace().map(str::to_owned);
            let name = words.next().expect("directive name");
            (name, words.collect())
        })
        .collect()
}

#[test]
fn csp_allows_only_own_scripts_and_styles() {
    let conf = read_json("tauri.conf.json");
    let csp = conf["app"]["security"]["csp"]
        .as_str()
        .expect("a CSP string, not null");
    let dirs = directives(csp);
    let get = |name: &str| {
        dirs.iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| panic!("CSP lacks {name}: {csp}"))
    };
    assert_eq!(get("default-src"), ["'self'"]);
    assert_eq!(get("script-src"), ["'self'"]);
    assert_eq!(get("style-src"), ["'self'"]);
    for (name, sources) in &dirs {
        for s in sources {
            let tight = !s.contains("unsafe-") && s != "*" && !s.starts_with("http:");
            // The IPC bridge's own origin is the one plain-http source WebKitGTK needs.
            assert!(
                tight || s == "http://ipc.localhost",
                "{name} allows {s}: {csp}"
            );
        }
    }
    assert_eq!(conf["app"]["withGlobalTauri"], serde_json::json!(false));
    assert_eq!(
        conf["app"]["security"]["freezePrototype"],
        serde_json::json!(true)
    );
}

#[test]
fn a_plain_build_embeds_the_ui_instead_of_trusting_a_dev_server() {
    let manifest = read_repo("Cargo.toml");
    let default = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("default ="))
        .expect("a default feature list");
    assert!(default.contains("\"custom-protocol\""), "{default}");
}

#[test]
fn capabilities_grant_only_app_commands_and_event_listening() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("capabilities");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("capabilities dir") {
        let path = entry.expect("entry").path();
        let cap: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        assert_eq!(cap["windows"], serde_json::json!(["main"]), "{path:?}");
        assert!(
            cap.get("remote").is_none(),
            "no remote origin may call in: {path:?}"
        );
        for p in cap["permissions"].as_array().expect("permission list") {
            let p = p.as_str().expect("plain permission identifiers only");
            seen += 1;
            let plugin_or_core = p.contains(':');
            assert!(
                !plugin_or_core
                    || p == "core:event:allow-listen"
                    || p == "core:event:allow-unlisten",
                "{path:?} grants {p}: only the app's own commands and event listening are allowed"
            );
            assert!(p.starts_with("allow-") || plugin_or_core, "{p}");
        }
    }
    assert!(
        seen > 0,
        "no capability grants anything: the window could not work"
    );
}

fn read_repo(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// The double-quoted strings of `text`.
fn quoted(text: &str) -> Vec<String> {
    text.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// build.rs `COMMANDS` (what gets an `allow-…` permission).
fn build_rs_commands() -> Vec<String> {
    let text = read_repo("build.rs");
    let start = text
        .find("const COMMANDS: &[&str] = &[")
        .expect("COMMANDS in build.rs");
    let list = &text[start..];
    let end = list.find("];").expect("end of COMMANDS");
    sorted(quoted(&list[..end]))
}

/// The `app_commands!` handler list (what the binary can actually run).
fn handler_commands() -> Vec<String> {
    let text = read_repo("src/commands/mod.rs");
    let start = text.find("generate_handler![").expect("generate_handler!");
    let list = &text[start..];
    let end = list.find(']').expect("end of generate_handler!");
    sorted(
        list[..end]
            .lines()
            .filter_map(|l| l.trim().strip_prefix("$crate::commands::"))
            .filter_map(|path| path.trim_end_matches(',').rsplit("::").next())
            .map(str::to_owned)
            .collect(),
    )
}

/// The app's own `allow-…` permissions of the capability file, as command names.
fn capability_commands() -> Vec<String> {
    let cap = read_json("capabilities/default.json");
    sorted(
        cap["permissions"]
            .as_array()
            .expect("permission list")
            .iter()
            .filter_map(|p| p.as_str()?.strip_prefix("allow-"))
            .map(|p| p.replace('-', "_"))
            .collect(),
    )
}

/// Every command ui/src/lib/ipc.ts invokes (`call<T>("name", …)`).
fn ipc_ts_commands() -> Vec<String> {
    let text = read_repo("../ui/src/lib/ipc.ts");
    let mut names: Vec<String> = text
        .split("call<")
        .skip(1)
        .filter_map(|rest| {
            // `call<T>("name", …)`, the name possibly on the next line (prettier wraps long calls).
            let after = rest[rest.find(">(")? + 2..]
                .trim_start()
                .strip_prefix('"')?;
            Some(after[..after.find('"')?].to_owned())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The command table of docs/design.md ("src-tauri ↔ ui").
fn design_doc_commands() -> Vec<String> {
    let text = read_repo("../docs/design.md");
    let start = text
        .find("| command | args | returns |")
        .expect("command table");
    sorted(
        text[start..]
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .filter_map(|l| l.split('|').nth(1))
            .flat_map(|cell| {
                cell.split('`')
                    .skip(1)
                    .step_by(2)
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect(),
    )
}

#[test]
fn every_list_of_commands_names_the_same_commands() {
    let build = build_rs_commands();
    assert!(build.len() > 10, "too few commands parsed: {build:?}");
    let lists = [
        (
            "src-tauri/src/commands/mod.rs app_commands!",
            handler_commands(),
        ),
        ("src-tauri/capabilities/default.json", capability_commands()),
        ("ui/src/lib/ipc.ts", ipc_ts_commands()),
        ("docs/design.md command table", design_doc_commands()),
    ];
    for (name, list) in lists {
        let missing: Vec<_> = build.iter().filter(|c| !list.contains(c)).collect();
        let extra: Vec<_> = list.iter().filter(|c| !build.contains(c)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{name} differs from src-tauri/build.rs COMMANDS: missing {missing:?}, extra {extra:?}"
        );
    }
}
