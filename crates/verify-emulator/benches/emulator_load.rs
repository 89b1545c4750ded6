//! Load benchmark of the emulator over loopback (work in progress).

fn main() {}
