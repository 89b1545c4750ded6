//! verify-emulator (work in progress).
