//! Generates the Tauri context (config, embedded dist/, icons).

fn main() {
    tauri_build::build();
}
