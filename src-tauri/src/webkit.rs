//! What WebKit keeps after the last web view is gone. WebKitGTK ends the web process with its
//! view but keeps the network process (and its caches) for the life of the app, tens of MiB
//! for a tray icon (tauri-apps/tauri#14626). Once the window has been closed for a moment, end
//! it; WebKit starts a new one with the next view. Elsewhere this does nothing.

use std::time::Duration;

use tauri::{AppHandle, Manager};

/// How long after the window closed the network process is ended (a reopen within it reuses
/// the running one).
pub const GRACE: Duration = Duration::from_secs(2);

/// After [`GRACE`], if still no window exists, ends WebKit's network process and returns freed
/// heap to the system.
pub fn release_after_last_view(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(GRACE).await;
        if app.get_webview_window(crate::window::MAIN).is_some() || crate::window::is_opening() {
            return;
        }
        let ended = imp::end_network_processes();
        imp::trim_heap();
        tracing::info!(ended, "released WebKit's leftovers after the window closed");
    });
}

#[cfg(target_os = "linux")]
mod imp {
    /// SIGTERMs this process's WebKitNetworkProcess children; returns how many.
    pub fn end_network_processes() -> usize {
        let me = std::process::id();
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return 0;
        };
        let mut ended = 0;
        for pid in dir
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        {
            if parent_of(pid) != Some(me) || !is_network_process(pid) {
                continue;
            }
            let Ok(raw) = libc::pid_t::try_from(pid) else {
                continue;
            };
            // SAFETY: kill(2) with a pid read from /proc and a valid signal number has no
            // memory effects; a pid that went away in between just fails with ESRCH.
            #[allow(unsafe_code)]
            let rc = unsafe { libc::kill(raw, libc::SIGTERM) };
            if rc == 0 {
                ended += 1;
            }
        }
        ended
    }

    fn parent_of(pid: u32) -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the
        // last ')'.
        let rest = &stat[stat.rfind(')')? + 1..];
        rest.split_whitespace().nth(1)?.parse().ok()
    }

    fn is_network_process(pid: u32) -> bool {
        // The kernel keeps 15 bytes of the name: "WebKitNetworkPr".
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|c| c.trim_end().starts_with("WebKitNetwork"))
    }

    /// glibc keeps freed heap mapped; after a web view's teardown that is several MiB.
    pub fn trim_heap() {
        #[cfg(target_env = "gnu")]
        // SAFETY: malloc_trim only releases free memory at the top of glibc's heaps.
        #[allow(unsafe_code)]
        unsafe {
            libc::malloc_trim(0);
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn reads_the_parent_of_a_real_child() {
            let mut child = std::process::Command::new("sleep")
                .arg("5")
                .spawn()
                .expect("spawn sleep");
            assert_eq!(super::parent_of(child.id()), Some(std::process::id()));
            assert!(!super::is_network_process(child.id()));
            child.kill().ok();
            child.wait().ok();
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub fn end_network_processes() -> usize {
        0
    }

    pub fn trim_heap() {}
}
