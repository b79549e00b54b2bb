//! Opening NVIDIA's libraries at run time: the one loader [`super::cuda`],
//! [`super::nvcuvid`] and [`super::nvenc`] share.
//!
//! Invariants:
//! - **Opened once, by soname, kept.** Each library is opened by the file name the driver
//!   installs (`libcuda.so.1`, ...), once per process: its function table holds the
//!   [`DynamicLibrary`] and lives in a `static` [`Loaded`], so the library is never unloaded and
//!   the function pointers never dangle.
//! - **Resolved up front.** Every entry point a module uses is resolved when its table is
//!   built, into a typed fn pointer; a driver lacking one is one clear
//!   [`Error::SymbolNotFound`] naming the library and the symbol at first use, never a
//!   failure in the middle of a stream.
//! - **The outcome is cached.** A library or symbol that is missing the first time is the
//!   same error on every later call; the load is not retried.

use std::sync::OnceLock;

use crate::error::{Error, Result};

/// Why a library could not be loaded, kept in its [`Loaded`] for every later caller.
#[derive(Debug, Clone)]
pub(crate) enum LoadFailure {
    /// The file could not be opened: what the dynamic loader said.
    Missing(String),
    /// An entry point is absent: its name, and why.
    Symbol(&'static str, String),
}

/// A cached load failure as the crate's error, given the library's file name.
pub(crate) trait Failure {
    fn to_error(&self, library: &'static str) -> Error;
}

impl Failure for LoadFailure {
    fn to_error(&self, library: &'static str) -> Error {
        match self {
            LoadFailure::Missing(reason) => Error::LibraryNotFound {
                name: library,
                reason: reason.clone(),
            },
            LoadFailure::Symbol(symbol, reason) => Error::SymbolNotFound {
                library,
                symbol,
                reason: reason.clone(),
            },
        }
    }
}

/// An opened library, kept mapped for as long as this value lives (in a function table
/// inside a [`Loaded`] `static`: for the life of the process).
pub(crate) struct DynamicLibrary(libloading::Library);

impl DynamicLibrary {
    /// Opens `soname` (no search of other names or paths beyond the dynamic loader's own).
    pub(crate) fn open(soname: &'static str) -> Result<DynamicLibrary, LoadFailure> {
        // SAFETY: opening an NVIDIA driver library runs only its (trusted) initializers.
        unsafe { libloading::Library::new(soname) }
            .map(DynamicLibrary)
            .map_err(|e| LoadFailure::Missing(e.to_string()))
    }

    /// Resolves `name` as `T`.
    ///
    /// # Safety
    /// `T` must be the C signature the library's header documents for `name`, with any
    /// status enum returned as `u32` (same size and ABI as the C enum).
    pub(crate) unsafe fn symbol<T: Copy>(&self, name: &'static str) -> Result<T, LoadFailure> {
        let mut bytes = name.as_bytes().to_vec();
        bytes.push(0);
        // SAFETY: guaranteed by the caller.
        match unsafe { self.0.get::<T>(&bytes) } {
            Ok(sym) => Ok(*sym),
            Err(e) => Err(LoadFailure::Symbol(name, e.to_string())),
        }
    }
}

/// One library's function table, built at most once per process by `load`, with the
/// outcome cached. Meant to be a `static`.
pub(crate) struct Loaded<T, F = LoadFailure> {
    library: &'static str,
    load: fn() -> Result<T, F>,
    cell: OnceLock<Result<T, F>>,
}

impl<T, F: Failure> Loaded<T, F> {
    /// A table for `library` (its file name, for errors), built by `load` on first use.
    pub(crate) const fn new(library: &'static str, load: fn() -> Result<T, F>) -> Self {
        Loaded {
            library,
            load,
            cell: OnceLock::new(),
        }
    }

    /// Loads the library once per process; later calls return the cached outcome.
    pub(crate) fn get(&'static self) -> Result<&'static T> {
        match self.cell.get_or_init(self.load) {
            Ok(table) => Ok(table),
            Err(failure) => Err(failure.to_error(self.library)),
        }
    }
}
