//! The Linux login item: an XDG autostart entry, `$XDG_CONFIG_HOME/autostart/Assent.desktop`.
//!
//! Written here instead of by tauri-plugin-autostart because its backend (auto-launch 0.6)
//! always uses `$HOME/.config/autostart`, ignoring `XDG_CONFIG_HOME` (so with that variable set
//! the session never read the entry), and writes the program path into `Exec=` unquoted (a path
//! with a space, `%` or `$` started nothing, or something else). Rules followed: the XDG Base
//! Directory spec (a relative or empty `XDG_CONFIG_HOME` is ignored) and the Desktop Entry
//! spec's `Exec` quoting and string escapes.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use assent_core::{jsonfile, AppError};

/// File name of the entry (the plugin used the same, so older entries are found and removed).
pub const FILE_NAME: &str = "Assent.desktop";

/// Where the entry lives and what it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginEntry {
    /// `<config dir>/autostart/Assent.desktop`, the file the session reads.
    pub path: PathBuf,
    /// `$HOME/.config/autostart/Assent.desktop` when that differs from `path`: where earlier
    /// versions (the plugin) wrote it. Removed when start at login is turned off.
    pub legacy_path: Option<PathBuf>,
    /// The program and its arguments, unquoted.
    pub command: Vec<String>,
}

impl LoginEntry {
    /// The entry for this process: this executable (or the AppImage it runs from), `args`,
    /// under the directories the environment names.
    pub fn for_this_binary(args: &[&str]) -> Result<Self, AppError> {
        let home = directories::BaseDirs::new()
            .map(|b| b.home_dir().to_path_buf())
            .ok_or_else(|| desktop("no home directory, so no autostart folder"))?;
        let program = program_path()?;
        let mut command = vec![program];
        command.extend(args.iter().map(|a| (*a).to_owned()));
        Self::new(std::env::var_os("XDG_CONFIG_HOME"), &home, command)
    }

    /// The entry for `command` given the environment's `XDG_CONFIG_HOME` and home directory.
    pub fn new(
        xdg_config_home: Option<OsString>,
        home: &Path,
        command: Vec<String>,
    ) -> Result<Self, AppError> {
        let default_config = home.join(".config");
        // Base Directory spec: only an absolute path counts; otherwise use the default.
        let config = xdg_config_home
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .unwrap_or_else(|| default_config.clone());
        let path = config.join("autostart").join(FILE_NAME);
        let legacy = default_config.join("autostart").join(FILE_NAME);
        if command.is_empty() {
            return Err(desktop("autostart entry without a program"));
        }
        Ok(LoginEntry {
            legacy_path: (legacy != path).then_some(legacy),
            path,
            command,
        })
    }

    /// Whether the session will start Assent: the entry exists and is not switched off
    /// (`Hidden=true` or `X-GNOME-Autostart-enabled=false`, as desktop settings tools do).
    pub fn is_enabled(&self) -> Result<bool, AppError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => Ok(!switched_off(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(desktop(format!("cannot read {}: {e}", self.path.display()))),
        }
    }

    /// Writes (atomically) or removes the entry.
    pub fn set(&self, enabled: bool) -> Result<(), AppError> {
        if enabled {
            self.write()
        } else {
            remove(&self.path)?;
            if let Some(legacy) = &self.legacy_path {
                remove(legacy)?;
            }
            Ok(())
        }
    }

    /// The `.desktop` text.
    pub fn contents(&self) -> Result<String, AppError> {
        let exec = self
            .command
            .iter()
            .map(|a| exec_arg(a))
            .collect::<Result<Vec<_>, _>>()?
            .join(" ");
        Ok(format!(
            "[Desktop Entry]\nType=Application\nVersion=1.0\nName=Assent\n\
             Comment=Approve sign-in requests (starts in the tray)\nExec={exec}\n\
             Terminal=false\nStartupNotify=false\nX-GNOME-Autostart-enabled=true\n"
        ))
    }

    fn write(&self) -> Result<(), AppError> {
        let dir = self
            .path
            .parent()
            .ok_or_else(|| desktop("autostart path has no folder"))?;
        std::fs::create_dir_all(dir)
            .map_err(|e| desktop(format!("cannot create {}: {e}", dir.display())))?;
        // A half-written entry could start something odd at the next login.
        jsonfile::write_atomic(&self.path, self.contents()?.as_bytes(), false)
            .map_err(|e| desktop(format!("cannot write {}: {e}", self.path.display())))
    }
}

fn desktop(message: impl Into<String>) -> AppError {
    AppError::Desktop(message.into())
}

fn remove(path: &Path) -> Result<(), AppError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(desktop(format!("cannot remove {}: {e}", path.display()))),
    }
}

/// The program the login item starts: the AppImage when running from one (its mount point
/// changes every start), else this executable.
fn program_path() -> Result<String, AppError> {
    if let Some(appimage) = std::env::var_os("APPIMAGE").filter(|p| !p.is_empty()) {
        return appimage
            .into_string()
            .map_err(|_| desktop("the AppImage path is not UTF-8"));
    }
    let exe = std::env::current_exe()
        .map_err(|e| desktop(format!("cannot find this program's path: {e}")))?;
    let exe = exe
        .into_os_string()
        .into_string()
        .map_err(|_| desktop("this program's path is not UTF-8"))?;
    // Linux reports a replaced binary (an upgrade while running) as "<path> (deleted)"; the
    // new file at <path> is the one to start.
    Ok(exe
        .strip_suffix(" (deleted)")
        .map(str::to_owned)
        .unwrap_or(exe))
}

/// One `Exec` argument: `%` doubled (field codes), quoted when it holds a reserved character,
/// then escaped as a desktop-file string value (which doubles the quoting backslashes).
fn exec_arg(arg: &str) -> Result<String, AppError> {
    if arg.chars().any(char::is_control) {
        return Err(desktop(format!(
            "cannot start {arg:?} at login: control characters"
        )));
    }
    const RESERVED: &str = " \t\"'\\><~|&;$*?#()`";
    let arg = arg.replace('%', "%%");
    let quoted = if arg.is_empty() || arg.chars().any(|c| RESERVED.contains(c)) {
        let mut q = String::from("\"");
        for c in arg.chars() {
            if matches!(c, '"' | '`' | '$' | '\\') {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        q
    } else {
        arg
    };
    Ok(quoted.replace('\\', "\\\\"))
}

/// True when the entry's keys switch it off.
fn switched_off(text: &str) -> bool {
    text.lines().map(str::trim).any(|l| {
        matches!(
            l.replace(' ', "").as_str(),
            "Hidden=true" | "X-GNOME-Autostart-enabled=false"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(xdg: Option<&str>, home: &str, command: &[&str]) -> LoginEntry {
        LoginEntry::new(
            xdg.map(OsString::from),
            Path::new(home),
            command.iter().map(|s| (*s).to_owned()).collect(),
        )
        .expect("entry")
    }

    #[test]
    fn honours_an_absolute_xdg_config_home_only() {
        let e = entry(Some("/x/conf"), "/home/a", &["/bin/assent"]);
        assert_eq!(e.path, Path::new("/x/conf/autostart/Assent.desktop"));
        assert_eq!(
            e.legacy_path.as_deref(),
            Some(Path::new("/home/a/.config/autostart/Assent.desktop"))
        );
        for ignored in [None, Some(""), Some("relative/conf")] {
            let e = entry(ignored, "/home/a", &["/bin/assent"]);
            assert_eq!(
                e.path,
                Path::new("/home/a/.config/autostart/Assent.desktop")
            );
            assert_eq!(e.legacy_path, None);
        }
    }

    #[test]
    fn exec_quotes_reserved_characters_and_escapes_percent() {
        let plain = entry(None, "/h", &["/opt/assent/assent", "--hidden"]);
        assert!(plain
            .contents()
            .expect("text")
            .contains("\nExec=/opt/assent/assent --hidden\n"));
        let odd = entry(None, "/h", &["/home/a/My Apps/100%/$x\"y\\z", "--hidden"]);
        // Spec quoting gives "/home/a/My Apps/100%%/\$x\"y\\z"; the string escape then doubles
        // every backslash.
        assert!(
            odd.contents()
                .expect("text")
                .contains(r#"Exec="/home/a/My Apps/100%%/\\$x\\"y\\\\z" --hidden"#),
            "{}",
            odd.contents().expect("text")
        );
        assert!(exec_arg("a\nb").is_err());
    }

    #[test]
    fn set_writes_and_removes_both_places() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("home");
        let conf = dir.path().join("conf");
        let e = LoginEntry::new(
            Some(conf.clone().into_os_string()),
            &home,
            vec!["/bin/assent".into(), "--hidden".into()],
        )
        .expect("entry");
        assert!(!e.is_enabled().expect("read"));
        e.set(true).expect("enable");
        assert!(e.is_enabled().expect("read"));
        assert!(conf.join("autostart/Assent.desktop").is_file());
        assert!(!home.join(".config/autostart/Assent.desktop").exists());

        // An entry an older version left under ~/.config goes too.
        let legacy = e.legacy_path.clone().expect("legacy path");
        std::fs::create_dir_all(legacy.parent().expect("parent")).expect("mkdir");
        std::fs::write(&legacy, "[Desktop Entry]\n").expect("legacy entry");
        e.set(false).expect("disable");
        assert!(!e.path.exists() && !legacy.exists());
        assert!(!e.is_enabled().expect("read"));
        e.set(false).expect("disabling twice is fine");
    }

    #[test]
    fn an_entry_switched_off_by_the_desktop_counts_as_off() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = LoginEntry::new(None, dir.path(), vec!["/bin/assent".into()]).expect("entry");
        e.set(true).expect("enable");
        let text = std::fs::read_to_string(&e.path).expect("read");
        std::fs::write(
            &e.path,
            text.replace(
                "X-GNOME-Autostart-enabled=true",
                "X-GNOME-Autostart-enabled=false",
            ),
        )
        .expect("edit");
        assert!(!e.is_enabled().expect("read"));
    }
}
