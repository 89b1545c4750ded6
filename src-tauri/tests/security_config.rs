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
