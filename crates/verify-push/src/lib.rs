//! verify-push (work in progress).
