//! Where `unsafe` may live: the layers above the driver owners deny it, and each exception
//! they allow is one listed here, so a new one is a visible change to this test. Also keeps
//! every source file under 700 lines, the names of the root crate's types apart, and its
//! imports pointing downward.

use std::path::Path;

fn read(path: &str) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    std::fs::read_to_string(Path::new(root).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn rust_files(dir: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    let mut stack = vec![root.join(dir)];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// `(file, allows)`: every `allow(...unsafe_code...)` attribute in the module's files.
fn allows(module: &str) -> Vec<(String, usize)> {
    rust_files(module)
        .into_iter()
        .map(|file| {
            let n = read(&file)
                .lines()
                .filter(|l| {
                    let l = l.trim_start();
                    l.starts_with("#[allow(") && l.contains("unsafe_code")
                })
                .count();
            (file, n)
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[test]
fn decode_encode_and_convert_deny_unsafe_code_with_only_the_listed_exceptions() {
    for module in ["src/decode", "src/encode", "src/convert"] {
        let top = read(&format!("{module}/mod.rs"));
        assert!(
            top.lines().any(|l| l.trim() == "#![deny(unsafe_code)]"),
            "{module}/mod.rs does not deny unsafe_code"
        );
    }
    let owned = |v: &[(&str, usize)]| -> Vec<(String, usize)> {
        v.iter().map(|(f, n)| ((*f).to_owned(), *n)).collect()
    };
    assert_eq!(allows("src/decode"), owned(&[("src/decode/planes.rs", 1)]));
    assert_eq!(allows("src/encode"), owned(&[("src/encode/frame.rs", 1)]));
    assert_eq!(
        allows("src/convert"),
        owned(&[("src/convert/converter.rs", 3)])
    );
    assert!(read("crates/input/src/lib.rs").contains("#![forbid(unsafe_code)]"));
    assert!(read("crates/media/src/lib.rs").contains("#![forbid(unsafe_code)]"));
}

/// Every file of the crate's source stays under 700 lines: one that grows past that holds
/// more than one responsibility and is split (a type's methods in its own file).
#[test]
fn source_files_stay_under_700_lines() {
    let long: Vec<String> = rust_files("src")
        .into_iter()
        .filter_map(|file| {
            let lines = read(&file).lines().count();
            (lines > 700).then(|| format!("{file} has {lines} lines"))
        })
        .collect();
    assert!(long.is_empty(), "{}", long.join("\n"));
}

/// Every struct, enum, trait and type alias declared at the top level of a file under `src/`
/// (not inside a function, `impl` or test module), with the files that declare it.
fn top_level_types() -> std::collections::BTreeMap<String, Vec<String>> {
    let mut names: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for file in rust_files("src") {
        for line in read(&file).lines() {
            let rest = line
                .strip_prefix("pub(crate) ")
                .or_else(|| line.strip_prefix("pub(super) "))
                .or_else(|| line.strip_prefix("pub "))
                .unwrap_or(line);
            let Some(rest) = ["struct ", "enum ", "trait ", "type "]
                .iter()
                .find_map(|kind| rest.strip_prefix(kind))
            else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.entry(name).or_default().push(file.clone());
        }
    }
    names
}

#[test]
fn no_two_types_of_the_root_crate_share_a_name() {
    let shared: Vec<_> = top_level_types()
        .into_iter()
        .filter(|(_, files)| files.len() > 1)
        .collect();
    assert!(shared.is_empty(), "types sharing a name: {shared:?}");
}

/// Whether `line` names a card, a driver branch, an issue or an issue's section: history,
/// which belongs in CHANGELOG.md and BENCHMARKS.md, not in the code. A standard's section
/// (`H.273 §8.3`) is not history.
fn names_history(line: &str) -> bool {
    let lower = line.to_lowercase();
    let cards = ["a1", "h1", "h2"].map(|card| format!("{card}00"));
    let digit_after = |needle: &str| {
        lower.match_indices(needle).any(|(at, _)| {
            let before = &lower[..at];
            let rest = &lower[at + needle.len()..];
            rest.starts_with(|c: char| c.is_ascii_digit())
                && !(needle == "\u{a7}" && before.trim_end().ends_with("h.273"))
        })
    };
    cards.iter().any(|card| lower.contains(card.as_str()))
        || digit_after("issue ")
        || digit_after("\u{a7}")
        || lower.match_indices("r5").any(|(at, _)| {
            let rest = &lower.as_bytes()[at + 2..];
            rest.len() >= 2
                && rest[..2].iter().all(u8::is_ascii_digit)
                && rest.get(2).is_none_or(|c| !c.is_ascii_digit())
                && !lower[..at].ends_with(|c: char| c.is_ascii_alphanumeric())
        })
}

#[test]
fn code_and_its_comments_carry_no_history() {
    let mut found = Vec::new();
    for dir in ["src", "tests", "examples", "benches"] {
        for file in rust_files(dir) {
            for (n, line) in read(&file).lines().enumerate() {
                if names_history(line) {
                    found.push(format!("{file}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "history in the code:\n{}",
        found.join("\n")
    );
}

/// The root crate's modules from the bottom up; a module may name (`crate::x`) only modules
/// of a lower rank, so no import points upward and none goes round in a circle. Doc comments
/// may link anywhere.
const LAYERS: [(&str, usize); 10] = [
    ("error", 0),
    ("unwind", 0),
    ("init", 1),
    ("ffi", 2),
    ("cuda", 3),
    ("driver", 4),
    ("phase", 5),
    ("decode", 6),
    ("encode", 6),
    ("convert", 7),
];

#[test]
fn modules_import_only_modules_below_them() {
    let rank = |m: &str| LAYERS.iter().find(|(n, _)| *n == m).map(|&(_, r)| r);
    let mut upward = Vec::new();
    for file in rust_files("src") {
        let Some(module) = file
            .strip_prefix("src/")
            .and_then(|f| f.split('/').next())
            .map(|m| m.trim_end_matches(".rs"))
        else {
            continue;
        };
        let Some(own) = rank(module) else {
            assert_eq!(module, "lib", "{file}: a module missing from LAYERS");
            continue;
        };
        for (n, line) in read(&file).lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for (at, _) in code.match_indices("crate::") {
                let named: String = code[at + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if let Some(theirs) = rank(&named) {
                    if named != module && theirs >= own {
                        upward.push(format!("{file}:{}: {module} names {named}", n + 1));
                    }
                }
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that do not point down: {upward:#?}"
    );
}
