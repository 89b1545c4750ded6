//! Helpers shared by the emulator's black-box tests and its load benchmark: an independent
//! device implementation (P-256, device JWT, challenge JWS) and the OpenAPI spec loader.
#![allow(dead_code)] // each test target uses a different subset

pub mod device;
pub mod spec;
