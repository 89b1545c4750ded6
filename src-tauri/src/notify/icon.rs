//! The icon a notification carries (`app_icon`): the icon theme's `assent` when the package
//! installed one, else the app's own PNG, written once into its data directory (an uninstalled
//! build, `cargo run`, the end-to-end tests).

use std::path::{Path, PathBuf};

/// The theme icon name the `.deb` installs (`/usr/share/icons/hicolor/*/apps/assent.png`).
pub const ICON_NAME: &str = "assent";

/// The app icon, embedded so an uninstalled build has one too.
const PNG: &[u8] = include_bytes!("../../../icons/128x128.png");

/// Theme icon sizes looked for, largest first.
const SIZES: [&str; 4] = ["256x256", "128x128", "64x64", "32x32"];

/// `app_icon` for notifications: [`ICON_NAME`] when a theme under `data_dirs` has it, else
/// the absolute path of the PNG written into `<data_dir>/icons/`. `None` only when neither
/// works (the notification then shows without an icon).
pub fn resolve(data_dirs: &[PathBuf], data_dir: &Path) -> Option<String> {
    let installed = data_dirs.iter().any(|d| {
        SIZES.iter().any(|s| {
            d.join("icons/hicolor")
                .join(s)
                .join("apps")
                .join(format!("{ICON_NAME}.png"))
                .is_file()
        })
    });
    if installed {
        return Some(ICON_NAME.to_owned());
    }
    let path = data_dir.join("icons").join(format!("{ICON_NAME}.png"));
    if std::fs::read(&path).ok().as_deref() != Some(PNG) {
        let written = std::fs::create_dir_all(path.parent()?)
            .and_then(|()| assent_core::jsonfile::write_atomic(&path, PNG, false));
        if let Err(e) = written {
            tracing::warn!(error = %e, "notification icon not written; notifications show none");
            return None;
        }
    }
    let abs = std::path::absolute(&path).ok()?;
    abs.to_str().map(str::to_owned)
}

/// `$XDG_DATA_HOME` and `$XDG_DATA_DIRS` with the spec's defaults: where icon themes live.
pub fn xdg_data_dirs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(h) => out.push(PathBuf::from(h)),
        None => {
            if let Some(home) = std::env::var_os("HOME") {
                out.push(PathBuf::from(home).join(".local/share"));
            }
        }
    }
    let dirs = std::env::var("XDG_DATA_DIRS")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "/usr/local/share:/usr/share".to_owned());
    out.extend(dirs.split(':').filter(|d| !d.is_empty()).map(PathBuf::from));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_installed_theme_icon_is_named() {
        let theme = tempfile::tempdir().unwrap();
        let apps = theme.path().join("icons/hicolor/128x128/apps");
        std::fs::create_dir_all(&apps).unwrap();
        std::fs::write(apps.join("assent.png"), PNG).unwrap();
        let data = tempfile::tempdir().unwrap();
        let got = resolve(
            &[PathBuf::from("/nonexistent"), theme.path().into()],
            data.path(),
        );
        assert_eq!(got.as_deref(), Some("assent"));
        assert!(!data.path().join("icons").exists(), "nothing written");
    }

    #[test]
    fn without_one_the_png_is_written_and_its_absolute_path_given() {
        let data = tempfile::tempdir().unwrap();
        let got = resolve(&[], data.path()).expect("an icon");
        let path = PathBuf::from(&got);
        assert!(path.is_absolute(), "{got}");
        assert_eq!(std::fs::read(&path).unwrap(), PNG);
        // A damaged file is replaced; a correct one is left alone.
        std::fs::write(&path, b"not a png").unwrap();
        assert_eq!(resolve(&[], data.path()).as_deref(), Some(got.as_str()));
        assert_eq!(std::fs::read(&path).unwrap(), PNG);
    }

    #[test]
    fn an_unwritable_data_dir_gives_no_icon_not_an_error() {
        let data = tempfile::tempdir().unwrap();
        let file = data.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(resolve(&[], &file), None);
    }
}
