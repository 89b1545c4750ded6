//! The tray icon and its menu. On Linux Tauri's tray is an AppIndicator, which reports no
//! clicks, so everything is reachable from the menu: Open Assent, each pending request, Check
//! now, Pause notifications, Start at login, Open demo site, Quit.
//!
//! The menu is built once and then updated in place; only the pending-request items come and
//! go. On Linux a tray host (the panel) reads the menu over D-Bus (com.canonical.dbusmenu) and
//! clicks items by the numeric ID it was given. libdbusmenu numbers every item it sees from a
//! process-wide counter and never reuses a number: giving the indicator a new menu (what
//! `TrayIcon::set_menu` does) renumbers every item, so a click from a menu the host had
//! already read fails with "The ID supplied … does not refer to a menu item we have" and is
//! lost. Changing an item's text, enabled or checked state, or inserting and removing one item
//! of the same GTK menu, leaves every other item's ID alone. Hence: the fixed items live for
//! the app's lifetime, and each pending request keeps one item (keyed by factor and challenge)
//! for as long as it is pending. A request whose place in the list changes is re-inserted and
//! gets a new ID (the list is ordered by arrival, so that should not happen). Only when an
//! in-place update fails is the whole menu replaced, as before.

use std::sync::Mutex;

use chrono::Utc;
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem, Submenu};
use tauri::{AppHandle, Manager, Wry};

use crate::state::AppState;
use assent_core::settings::PausedUntil;
use assent_core::views::PendingChallenge;

/// The tray icon's id (also part of its D-Bus object path on Linux).
pub const TRAY_ID: &str = "main";

const ICON_NORMAL: &[u8] = include_bytes!("../../icons/tray.png");
const ICON_PENDING: &[u8] = include_bytes!("../../icons/tray-pending.png");

/// Menu item ids (stable: the tray test clicks them by label, logs name them by id).
/// The pause's name and its way out, the same words as the window's (ui/src/lib/pause.ts).
const PAUSE_LABEL: &str = "Pause notifications";
const RESUME_LABEL: &str = "Resume notifications";

mod id {
    pub const OPEN: &str = "open";
    pub const CHALLENGE_PREFIX: &str = "challenge:";
    pub const NONE_PENDING: &str = "none_pending";
    pub const CHECK_NOW: &str = "check_now";
    pub const PAUSE_HOUR: &str = "pause_1h";
    pub const PAUSE_FOREVER: &str = "pause_forever";
    pub const RESUME: &str = "resume";
    pub const AUTOSTART: &str = "autostart";
    pub const DEMO: &str = "demo";
    pub const QUIT: &str = "quit";
}

/// Position of the first pending-request item (or of "No pending requests"): after Open
/// Assent and a separator.
const PENDING_AT: usize = 2;

/// A pending request's identity in the menu: (factor SID, challenge SID).
type Key = (String, String);

/// The live menu: handles to the items that change, so they are updated rather than rebuilt.
struct TrayMenu {
    menu: Menu<Wry>,
    none_pending: MenuItem<Wry>,
    none_pending_shown: bool,
    resume: MenuItem<Wry>,
    resume_enabled: bool,
    autostart: CheckMenuItem<Wry>,
    /// The request items in menu order, with the label they show.
    pending: Vec<(Key, MenuItem<Wry>, String)>,
    /// Whether the icon shows the pending variant (`None` until first set).
    icon_pending: Option<bool>,
    tooltip: String,
}

/// Managed state: the live menu. Only touched on the main thread (see [`refresh`]).
struct TrayState(Mutex<TrayMenu>);

/// What the menu should show, read from the app state.
struct Wanted {
    pending: Vec<(Key, String)>,
    paused: bool,
    start_at_login: bool,
}

/// Creates the tray icon with the current state.
pub fn install(app: &AppHandle) -> tauri::Result<()> {
    let tray_menu = build_menu(app)?;
    tauri::tray::TrayIconBuilder::with_id(TRAY_ID)
        .icon(Image::from_bytes(ICON_NORMAL)?)
        .tooltip("Assent")
        .title("Assent")
        .menu(&tray_menu.menu)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu_event)
        .build(app)?;
    app.manage(TrayState(Mutex::new(tray_menu)));
    tracing::info!("tray icon installed");
    refresh(app);
    Ok(())
}

/// Brings the menu and icon up to date with the pending list and settings. Safe from any
/// thread and cheap to call often: the work runs on the main thread (where the menu lives;
/// from there it runs at once), in call order, each run reading the latest state, and an
/// unchanged state changes nothing.
pub fn refresh(app: &AppHandle) {
    let handle = app.clone();
    if let Err(e) = app.run_on_main_thread(move || update(&handle)) {
        tracing::warn!(error = %e, "tray update not scheduled");
    }
}

fn wanted(app: &AppHandle) -> Option<Wanted> {
    let state = app.try_state::<AppState>()?;
    let settings = state.core.settings();
    let pending = dedup_keys(
        state
            .core
            .pending()
            .iter()
            .map(|p| (key_of(p), pending_label(p)))
            .collect(),
    );
    Some(Wanted {
        pending,
        paused: settings.is_paused(Utc::now()),
        start_at_login: settings.start_at_login,
    })
}

fn key_of(p: &PendingChallenge) -> Key {
    (p.factor_sid().to_owned(), p.sid().to_owned())
}

fn pending_label(p: &PendingChallenge) -> String {
    menu_label(&format!("{}: {}", p.account_name, p.challenge.message))
}

/// Keeps the first of each key: two items with one menu id could not be told apart.
fn dedup_keys<T>(items: Vec<(Key, T)>) -> Vec<(Key, T)> {
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .filter(|(k, _)| seen.insert(k.clone()))
        .collect()
}

fn update(app: &AppHandle) {
    let (Some(tray_state), Some(tray), Some(wanted)) = (
        app.try_state::<TrayState>(),
        app.tray_by_id(TRAY_ID),
        wanted(app),
    ) else {
        return;
    };
    // Every critical section leaves the menu handles usable, so a poisoned lock still is.
    let mut live = tray_state.0.lock().unwrap_or_else(|p| p.into_inner());
    if let Err(e) = live.apply(app, &tray, &wanted) {
        // The menu may now differ from what we think it shows: start over with a new one. Its
        // items get new IDs, which loses a click from a menu a host read before (rare: only
        // after a failed update).
        tracing::warn!(error = %e, "tray update failed; rebuilding the menu");
        let rebuilt = build_menu(app).and_then(|mut fresh| {
            tray.set_menu(Some(fresh.menu.clone()))?;
            fresh.apply(app, &tray, &wanted)?;
            Ok(fresh)
        });
        match rebuilt {
            Ok(fresh) => *live = fresh,
            Err(e) => tracing::warn!(error = %e, "tray menu rebuild failed"),
        }
    }
}

/// Builds the fixed part of the menu; the request items are added by [`TrayMenu::apply`].
fn build_menu(app: &AppHandle) -> tauri::Result<TrayMenu> {
    let (settings, demo) = match app.try_state::<AppState>() {
        Some(s) => (s.core.settings(), s.demo_url.is_some()),
        None => (Default::default(), false),
    };
    let paused = settings.is_paused(Utc::now());
    let none_pending = MenuItem::with_id(
        app,
        id::NONE_PENDING,
        "No pending requests",
        false,
        None::<&str>,
    )?;
    let resume = MenuItem::with_id(app, id::RESUME, RESUME_LABEL, paused, None::<&str>)?;
    let autostart = CheckMenuItem::with_id(
        app,
        id::AUTOSTART,
        "Start at login",
        true,
        settings.start_at_login,
        None::<&str>,
    )?;
    let pause = Submenu::with_id_and_items(
        app,
        "pause",
        PAUSE_LABEL,
        true,
        &[
            &MenuItem::with_id(app, id::PAUSE_HOUR, "For 1 hour", true, None::<&str>)?,
            &MenuItem::with_id(app, id::PAUSE_FOREVER, "Until resumed", true, None::<&str>)?,
            &resume,
        ],
    )?;
    let menu = Menu::with_items(
        app,
        &[
            &MenuItem::with_id(app, id::OPEN, "Open Assent", true, None::<&str>)?,
            &PredefinedMenuItem::separator(app)?,
            // PENDING_AT: the request items go here.
            &none_pending,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, id::CHECK_NOW, "Check now", true, None::<&str>)?,
            &pause,
            &autostart,
            &MenuItem::with_id(app, id::DEMO, "Open demo site", demo, None::<&str>)?,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, id::QUIT, "Quit", true, None::<&str>)?,
        ],
    )?;
    Ok(TrayMenu {
        menu,
        none_pending,
        none_pending_shown: true,
        resume,
        resume_enabled: paused,
        autostart,
        pending: Vec::new(),
        icon_pending: None,
        tooltip: "Assent".to_owned(),
    })
}

impl TrayMenu {
    /// Changes only what differs from `wanted`, item by item (see the module docs for why).
    fn apply(
        &mut self,
        app: &AppHandle,
        tray: &tauri::tray::TrayIcon<Wry>,
        wanted: &Wanted,
    ) -> tauri::Result<()> {
        self.apply_pending(app, &wanted.pending)?;
        if self.resume_enabled != wanted.paused {
            self.resume.set_enabled(wanted.paused)?;
            self.resume_enabled = wanted.paused;
        }
        // Compared with the item itself: clicking a check item toggles it before we hear of it.
        if self.autostart.is_checked()? != wanted.start_at_login {
            self.autostart.set_checked(wanted.start_at_login)?;
        }
        let has_pending = !wanted.pending.is_empty();
        if self.icon_pending != Some(has_pending) {
            let icon = if has_pending {
                ICON_PENDING
            } else {
                ICON_NORMAL
            };
            tray.set_icon(Some(Image::from_bytes(icon)?))?;
            self.icon_pending = Some(has_pending);
        }
        let tip = tooltip(wanted.pending.len());
        if self.tooltip != tip {
            tray.set_tooltip(Some(&tip))?;
            self.tooltip = tip;
        }
        Ok(())
    }

    fn apply_pending(&mut self, app: &AppHandle, wanted: &[(Key, String)]) -> tauri::Result<()> {
        if !wanted.is_empty() && self.none_pending_shown {
            self.menu.remove(&self.none_pending)?;
            self.none_pending_shown = false;
        }
        let current: Vec<Key> = self.pending.iter().map(|(k, _, _)| k.clone()).collect();
        let desired: Vec<Key> = wanted.iter().map(|(k, _)| k.clone()).collect();
        for op in plan(&current, &desired) {
            match op {
                Op::Remove(i) => {
                    let (_, item, _) = self.pending.remove(i);
                    self.menu.remove(&item)?;
                }
                Op::Insert(i) => {
                    let ((factor, challenge), label) = &wanted[i];
                    let item = MenuItem::with_id(
                        app,
                        format!("{}{factor}:{challenge}", id::CHALLENGE_PREFIX),
                        label,
                        true,
                        None::<&str>,
                    )?;
                    self.menu.insert(&item, PENDING_AT + i)?;
                    self.pending
                        .insert(i, (wanted[i].0.clone(), item, label.clone()));
                }
            }
        }
        // Same keys in the same order now; the text may still have changed (account renamed).
        for ((_, item, shown), (_, label)) in self.pending.iter_mut().zip(wanted) {
            if shown != label {
                item.set_text(label)?;
                label.clone_into(shown);
            }
        }
        if wanted.is_empty() && !self.none_pending_shown {
            self.menu.insert(&self.none_pending, PENDING_AT)?;
            self.none_pending_shown = true;
        }
        Ok(())
    }
}

/// One step from the current request items to the wanted ones; indices are into the list as
/// it is when the step runs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    /// Remove the item at this index.
    Remove(usize),
    /// Insert the wanted item of this index at the same index.
    Insert(usize),
}

/// The fewest removals and insertions that turn `current` into `desired` (both free of
/// duplicates): the longest run of items common to both, in order, stays untouched and so
/// keeps its D-Bus IDs; everything else is removed or inserted. Removals come first, from the
/// end, then insertions in ascending order, so every index is valid when its step runs.
fn plan<K: PartialEq>(current: &[K], desired: &[K]) -> Vec<Op> {
    let (n, m) = (current.len(), desired.len());
    // lcs[i][j]: length of the longest common subsequence of current[i..] and desired[j..].
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if current[i] == desired[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut keep_current, mut keep_desired) = (vec![false; n], vec![false; m]);
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if current[i] == desired[j] {
            keep_current[i] = true;
            keep_desired[j] = true;
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    let removals = (0..n).rev().filter(|&i| !keep_current[i]).map(Op::Remove);
    let insertions = (0..m).filter(|&j| !keep_desired[j]).map(Op::Insert);
    removals.chain(insertions).collect()
}

fn tooltip(pending: usize) -> String {
    match pending {
        0 => "Assent".to_owned(),
        1 => "Assent: 1 sign-in request".to_owned(),
        n => format!("Assent: {n} sign-in requests"),
    }
}

/// Server text in a menu label: one line, bounded, and `&` escaped (it marks mnemonics).
fn menu_label(text: &str) -> String {
    const MAX: usize = 60;
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut s: String = one_line.chars().take(MAX).collect();
    if one_line.chars().count() > MAX {
        s.push('…');
    }
    s.replace('&', "&&")
}

/// The challenge SID in a request item's id (`challenge:<factor>:<challenge>`).
fn challenge_of(item: &str) -> Option<&str> {
    let rest = item.strip_prefix(id::CHALLENGE_PREFIX)?;
    let (_factor, challenge) = rest.split_once(':')?;
    (!challenge.is_empty()).then_some(challenge)
}

fn on_menu_event(app: &AppHandle, event: MenuEvent) {
    let item = event.id().as_ref().to_owned();
    tracing::info!(item = %item, "tray menu item activated");
    let Some(state) = app.try_state::<AppState>() else {
        return;
    };
    let core = state.core.clone();
    match item.as_str() {
        id::OPEN => crate::window::show(app),
        id::CHECK_NOW => core.watcher().check_now(),
        id::PAUSE_HOUR | id::PAUSE_FOREVER | id::RESUME => {
            let until = match item.as_str() {
                id::PAUSE_HOUR => Some(PausedUntil::Until(Utc::now() + chrono::Duration::hours(1))),
                id::PAUSE_FOREVER => Some(PausedUntil::Forever),
                _ => None,
            };
            if let Err(e) = core.modify_settings(|s| s.paused_until = until) {
                tracing::warn!(code = %e.code(), "cannot change pause");
            }
            refresh(app);
        }
        id::AUTOSTART => {
            let want = !core.settings().start_at_login;
            if let Err(e) = crate::autostart::apply(app, &core, want) {
                tracing::warn!(code = %e.code(), "cannot change start at login");
            }
            refresh(app);
        }
        id::DEMO => {
            if let Err(e) = crate::commands::app::open_demo(app) {
                tracing::warn!(code = %e.code(), "cannot open the demo site");
            }
        }
        id::QUIT => {
            tracing::info!("quit requested from the tray");
            app.exit(0);
        }
        other => {
            if let Some(sid) = challenge_of(other) {
                crate::window::show_challenge(app, sid);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{challenge_of, dedup_keys, menu_label, plan, Op, PAUSE_LABEL, RESUME_LABEL};

    #[test]
    fn pause_has_the_windows_name() {
        let ui = include_str!("../../ui/src/lib/pause.ts");
        assert!(ui.contains(&format!("PAUSE_NAME = \"{PAUSE_LABEL}\";")));
        assert!(ui.contains(&format!("RESUME_LABEL = \"{RESUME_LABEL}\";")));
    }

    #[test]
    fn labels_are_one_line_bounded_and_escape_mnemonics() {
        assert_eq!(menu_label("a\n b  &c"), "a b &&c");
        let long = "x".repeat(100);
        assert_eq!(menu_label(&long).chars().count(), 61);
    }

    /// Runs `ops` on `current` the way `apply_pending` does, taking inserts from `desired`.
    fn run(current: &[&str], desired: &[&str]) -> (Vec<String>, Vec<Op>) {
        let ops = plan(current, desired);
        let mut list: Vec<String> = current.iter().map(|s| s.to_string()).collect();
        for op in &ops {
            match *op {
                Op::Remove(i) => {
                    list.remove(i);
                }
                Op::Insert(i) => list.insert(i, desired[i].to_string()),
            }
        }
        (list, ops)
    }

    #[test]
    fn unchanged_requests_touch_nothing() {
        assert_eq!(plan(&["a", "b"], &["a", "b"]), vec![]);
        assert_eq!(plan::<&str>(&[], &[]), vec![]);
    }

    #[test]
    fn arrivals_and_departures_leave_the_other_items_alone() {
        // A new request at the end, one in the middle gone: only those two change.
        let (list, ops) = run(&["a", "b", "c"], &["a", "c", "d"]);
        assert_eq!(list, ["a", "c", "d"]);
        assert_eq!(ops, vec![Op::Remove(1), Op::Insert(2)]);
        let (list, ops) = run(&[], &["a", "b"]);
        assert_eq!(list, ["a", "b"]);
        assert_eq!(ops, vec![Op::Insert(0), Op::Insert(1)]);
        let (list, ops) = run(&["a", "b"], &[]);
        assert!(list.is_empty());
        assert_eq!(ops, vec![Op::Remove(1), Op::Remove(0)]);
    }

    #[test]
    fn a_reordered_list_ends_in_the_wanted_order() {
        for (current, desired) in [
            (vec!["a", "b", "c"], vec!["c", "b", "a"]),
            (vec!["a", "b", "c"], vec!["b", "c", "a"]),
            (vec!["a", "b"], vec!["x", "b", "y", "a"]),
        ] {
            let (list, _) = run(&current, &desired);
            assert_eq!(list, desired, "from {current:?}");
        }
        // Moving the first item to the end re-inserts only it.
        let (_, ops) = run(&["a", "b", "c"], &["b", "c", "a"]);
        assert_eq!(ops, vec![Op::Remove(0), Op::Insert(2)]);
    }

    #[test]
    fn duplicate_keys_keep_the_first() {
        let k = |f: &str, c: &str| (f.to_owned(), c.to_owned());
        let items = vec![
            (k("YF1", "YC1"), 1),
            (k("YF1", "YC1"), 2),
            (k("YF2", "YC1"), 3),
        ];
        assert_eq!(
            dedup_keys(items),
            vec![(k("YF1", "YC1"), 1), (k("YF2", "YC1"), 3)]
        );
    }

    #[test]
    fn request_item_ids_yield_the_challenge_and_reject_the_rest() {
        assert_eq!(challenge_of("challenge:YF1:YC2"), Some("YC2"));
        // Hostile or stale ids: no challenge to focus.
        assert_eq!(challenge_of("challenge:YC2"), None);
        assert_eq!(challenge_of("challenge:YF1:"), None);
        assert_eq!(challenge_of("check_now"), None);
        assert_eq!(challenge_of(""), None);
    }
}
