//! The AppImage's blank-window workaround. An AppImage carries the build machine's WebKitGTK,
//! and that WebKit's DMA-BUF renderer paints a blank white window on many other machines' GPU
//! stacks (Mesa, NVIDIA, Wayland; tauri-apps/tauri#8655 and its many duplicates). Inside an
//! AppImage the app therefore asks WebKit for its older, always-working renderer, unless the
//! user set the variable themselves. Packages that use the system's WebKit (.deb, Flatpak)
//! are left alone.

use std::ffi::OsStr;

/// The WebKitGTK switch for the DMA-BUF renderer.
pub const DMABUF_VAR: &str = "WEBKIT_DISABLE_DMABUF_RENDERER";

/// Whether to set [`DMABUF_VAR`] to `1`: only inside an AppImage (`APPIMAGE`, set by its
/// runtime) and only when the user has not chosen a value (even `0`).
pub fn should_disable_dmabuf(appimage: Option<&OsStr>, current: Option<&OsStr>) -> bool {
    appimage.is_some_and(|p| !p.is_empty()) && current.is_none()
}

/// Applies the workaround to this process. Call first thing in `main`, before any thread
/// exists (the environment is not thread-safe) and before WebKit starts.
pub fn apply() {
    let appimage = std::env::var_os("APPIMAGE");
    let current = std::env::var_os(DMABUF_VAR);
    if should_disable_dmabuf(appimage.as_deref(), current.as_deref()) {
        std::env::set_var(DMABUF_VAR, "1");
    }
}

#[cfg(test)]
mod tests {
    use super::should_disable_dmabuf;
    use std::ffi::OsStr;

    #[test]
    fn only_an_appimage_without_the_users_choice_gets_the_old_renderer() {
        let img = Some(OsStr::new("/home/u/Assent.AppImage"));
        assert!(should_disable_dmabuf(img, None));
        assert!(
            !should_disable_dmabuf(img, Some(OsStr::new("0"))),
            "the user's 0 stands"
        );
        assert!(!should_disable_dmabuf(img, Some(OsStr::new("1"))));
        assert!(
            !should_disable_dmabuf(None, None),
            ".deb and Flatpak use the system WebKit"
        );
        assert!(!should_disable_dmabuf(Some(OsStr::new("")), None));
    }
}
