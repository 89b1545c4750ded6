//! The Windows login item: value `Assent` under `HKCU\Software\Microsoft\Windows\CurrentVersion\Run`.
//!
//! Written here instead of by tauri-plugin-autostart because its backend (auto-launch 0.6)
//! writes the program path into the value unquoted (`C:\Program Files\Assent\assent.exe
//! --hidden` makes Windows try `C:\Program.exe` first) and, when Assent runs elevated, writes
//! the machine-wide `HKLM` key instead of the user's. Task Manager's "Disable" is honoured: it
//! keeps the value and marks it off under `Explorer\StartupApproved\Run`.
//!
//! The command-line text is built by [`command_line`], which compiles everywhere so its quoting
//! is tested on every platform.

use assent_core::AppError;

/// Name of the registry value (the plugin used the same, so older entries are replaced).
pub const VALUE_NAME: &str = "Assent";

/// The command line for the `Run` value: the program always quoted (Windows paths cannot hold
/// `"`), each argument quoted by the rules `CommandLineToArgvW` and the C runtime parse.
pub fn command_line(program: &str, args: &[&str]) -> Result<String, AppError> {
    if program.is_empty() || program.contains('"') || program.chars().any(char::is_control) {
        return Err(AppError::Desktop(format!(
            "cannot start {program:?} at login: not a usable program path"
        )));
    }
    let mut line = format!("\"{program}\"");
    for arg in args {
        if arg.chars().any(char::is_control) {
            return Err(AppError::Desktop(format!(
                "cannot start at login with argument {arg:?}: control characters"
            )));
        }
        line.push(' ');
        line.push_str(&quote_arg(arg));
    }
    Ok(line)
}

/// One argument as the C runtime splits it back: bare when it has no blank or quote; otherwise
/// in quotes, with backslashes doubled only where they precede a quote.
fn quote_arg(arg: &str) -> String {
    if !arg.is_empty() && !arg.contains([' ', '\t', '"']) {
        return arg.to_owned();
    }
    let mut out = String::from("\"");
    let mut backslashes = 0usize;
    for c in arg.chars() {
        match c {
            '\\' => backslashes += 1,
            '"' => {
                out.push_str(&"\\".repeat(backslashes * 2 + 1));
                out.push('"');
                backslashes = 0;
            }
            c => {
                out.push_str(&"\\".repeat(backslashes));
                out.push(c);
                backslashes = 0;
            }
        }
    }
    // Before the closing quote every backslash is doubled.
    out.push_str(&"\\".repeat(backslashes * 2));
    out.push('"');
    out
}

/// True when a `StartupApproved\Run` value says the entry is switched off (Task Manager writes
/// an odd first byte for "Disabled", an even one for "Enabled").
#[cfg_attr(not(windows), allow(dead_code))]
fn approved_says_off(value: &[u8]) -> bool {
    value.first().is_some_and(|b| b & 1 == 1)
}

#[cfg(windows)]
mod registry {
    use windows_registry::{Type, CURRENT_USER};

    use super::{approved_says_off, command_line, VALUE_NAME};
    use assent_core::AppError;

    const RUN: &str = r"Software\Microsoft\Windows\CurrentVersion\Run";
    const APPROVED: &str =
        r"Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run";
    // What Task Manager writes for "Enabled": 2, then a zero FILETIME.
    const APPROVED_ON: [u8; 12] = [2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    // HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND): no such key or value.
    const NOT_FOUND: i32 = 0x8007_0002_u32 as i32;

    fn fail(what: &str, e: impl std::fmt::Display) -> AppError {
        AppError::Desktop(format!("cannot {what} start at login (registry): {e}"))
    }

    /// True for the HRESULT of a missing key or value.
    fn missing(hresult: i32) -> bool {
        hresult == NOT_FOUND
    }

    /// Whether Windows will start Assent at the next login.
    pub fn is_enabled() -> Result<bool, AppError> {
        let run = match CURRENT_USER.open(RUN) {
            Ok(k) => k,
            Err(e) if missing(e.code().0) => return Ok(false),
            Err(e) => return Err(fail("read", e)),
        };
        match run.get_string(VALUE_NAME) {
            Ok(_) => {}
            Err(e) if missing(e.code().0) => return Ok(false),
            Err(e) => return Err(fail("read", e)),
        }
        let off = CURRENT_USER
            .open(APPROVED)
            .and_then(|k| k.get_value(VALUE_NAME))
            .map(|v| approved_says_off(&v))
            .unwrap_or(false);
        Ok(!off)
    }

    /// Writes or removes the `Run` value for `program` + `args`.
    pub fn set(enabled: bool, program: &str, args: &[&str]) -> Result<(), AppError> {
        if enabled {
            let line = command_line(program, args)?;
            CURRENT_USER
                .create(RUN)
                .and_then(|k| k.set_string(VALUE_NAME, &line))
                .map_err(|e| fail("turn on", e))?;
            // Turning it on here overrides an earlier "Disabled" in Task Manager.
            if let Ok(k) = CURRENT_USER.options().write().open(APPROVED) {
                k.set_bytes(VALUE_NAME, Type::Bytes, &APPROVED_ON)
                    .map_err(|e| fail("turn on", e))?;
            }
            return Ok(());
        }
        match CURRENT_USER
            .options()
            .write()
            .open(RUN)
            .and_then(|k| k.remove_value(VALUE_NAME))
        {
            Ok(()) => Ok(()),
            Err(e) if missing(e.code().0) => Ok(()),
            Err(e) => Err(fail("turn off", e)),
        }
    }
}

#[cfg(windows)]
pub use registry::{is_enabled, set};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_is_always_quoted_and_plain_args_stay_bare() {
        assert_eq!(
            command_line(r"C:\Program Files\Assent\assent.exe", &["--hidden"]).expect("line"),
            r#""C:\Program Files\Assent\assent.exe" --hidden"#
        );
    }

    #[test]
    fn arguments_round_trip_through_the_c_runtime_rules() {
        assert_eq!(quote_arg("a b"), r#""a b""#);
        assert_eq!(quote_arg(""), r#""""#);
        assert_eq!(quote_arg(r#"say "hi""#), r#""say \"hi\"""#);
        // Backslashes stay single unless a quote follows them.
        assert_eq!(quote_arg(r"C:\dir with space\"), r#""C:\dir with space\\""#);
        assert_eq!(quote_arg(r#"a\"b"#), r#""a\\\"b""#);
        assert_eq!(quote_arg(r"C:\plain\path"), r"C:\plain\path");
    }

    #[test]
    fn hostile_paths_and_arguments_are_refused() {
        for program in ["", "C:\\a\"b.exe", "C:\\a\nb.exe", "C:\\a\0.exe"] {
            let e = command_line(program, &[]).expect_err(program);
            assert_eq!(e.code().as_str(), "desktop");
        }
        let e = command_line(r"C:\a.exe", &["--x\r\n--evil"]).expect_err("newline arg");
        assert!(e.to_string().contains("control characters"));
    }

    #[test]
    fn task_manager_disable_flag_is_read() {
        assert!(!approved_says_off(&[2, 0, 0, 0]));
        assert!(approved_says_off(&[3, 0, 0, 0]));
        assert!(!approved_says_off(&[]));
    }
}
