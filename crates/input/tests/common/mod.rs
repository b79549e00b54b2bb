//! Helpers shared by the input crate's tests: where the workspace's test clips are, a
//! counting allocator and a generated input for the memory bounds.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The workspace's `tests/data` folder (the clips are shared with the GPU tests).
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data")
}

/// A file of the workspace's `tests/data`.
pub fn data(name: &str) -> PathBuf {
    data_dir().join(name)
}

pub mod counting;
pub mod generated;
