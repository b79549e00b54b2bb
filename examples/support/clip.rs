//! Where the examples find their input when none is given: no path is compiled in, so a
//! copied binary works anywhere.

use std::path::PathBuf;

/// The clip the examples decode by default.
pub const DEFAULT_CLIP: &str = "h264_640x360_b3.h264";

/// `given`, else [`DEFAULT_CLIP`] next to the running binary, in the current directory or in
/// `./tests/data`; an error naming every place looked at otherwise.
pub fn clip_path(given: Option<String>) -> Result<PathBuf, String> {
    if let Some(path) = given {
        return Ok(PathBuf::from(path));
    }
    let mut looked = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(PathBuf::from))
    {
        looked.push(dir.join(DEFAULT_CLIP));
    }
    looked.push(PathBuf::from(DEFAULT_CLIP));
    looked.push(PathBuf::from("tests/data").join(DEFAULT_CLIP));
    if let Some(found) = looked.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    let places: Vec<String> = looked.iter().map(|p| p.display().to_string()).collect();
    Err(format!(
        "no input file given, and the default clip {DEFAULT_CLIP} is in none of: {}; \
         pass a file as the argument (e.g. tests/data/{DEFAULT_CLIP} of the source tree)",
        places.join(", ")
    ))
}
