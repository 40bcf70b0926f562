//! The structure the code keeps, checked on every `make test`:
//!
//! - the core's modules import each other one way: no cycle among them;
//! - the room imports nothing above it: only the native protocol, its storage contract and the
//!   leaves every module may use;
//! - every file a comment or a doc names exists in the repository.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// What the room may import: the native protocol, the storage contract, and leaves.
const ROOM_MAY_IMPORT: [&str; 8] = ["backlog", "error", "ids", "json", "message", "protocol", "store", "vec_map"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is in the repository").to_path_buf()
}

fn files_under(dir: &Path, extensions: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if !matches!(name.as_str(), "target" | "node_modules" | "build" | ".git" | "corpus" | "artifacts") {
                files_under(&path, extensions, out);
            }
        } else if extensions.iter().any(|ext| name.ends_with(&format!(".{ext}"))) {
            out.push(path);
        }
    }
}

/// The code of a Rust file without its tests and its comments.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    text.lines()
        .map(|line| if line.trim_start().starts_with("//") { "" } else { line.split(" //").next().unwrap_or_default() })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level core modules a piece of code names (`crate::x`, `crate::{x, y}`).
fn imports(code: &str) -> BTreeSet<String> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        match rest.strip_prefix('{') {
            Some(group) => {
                let group = group.split('}').next().unwrap_or_default();
                found.extend(group.split(',').map(|item| ident(item.trim())).filter(|m| !m.is_empty()));
            }
            None => {
                found.insert(ident(rest));
            }
        }
    }
    found
}

/// Each top-level module of the core and the other top-level modules its code imports.
fn core_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = repo().join("core/src");
    let mut files = Vec::new();
    files_under(&src, &["rs"], &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under core/src");
        let first = relative.components().next().expect("a path").as_os_str().to_string_lossy();
        let module = first.trim_end_matches(".rs").to_owned();
        if module == "lib" {
            continue;
        }
        let code = code_of(&fs::read_to_string(&file).expect("readable"));
        let entry = graph.entry(module.clone()).or_default();
        entry.extend(imports(&code).into_iter().filter(|m| *m != module));
    }
    graph
}

/// A cycle among the modules, as the path that closes it, if there is one.
fn a_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        module: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|m| m == module) {
            let mut cycle = path[at..].to_vec();
            cycle.push(module.to_owned());
            return Some(cycle);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_owned());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(module.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|module| visit(module, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_cores_modules_import_each_other_one_way() {
    let graph = core_graph();
    assert!(graph.len() > 20, "the core's modules were found: {:?}", graph.keys());
    assert_eq!(a_cycle(&graph), None, "an import cycle among the core's modules");
}

#[test]
fn the_room_imports_nothing_above_it() {
    let graph = core_graph();
    let above: Vec<&String> = graph["room"].iter().filter(|m| !ROOM_MAY_IMPORT.contains(&m.as_str())).collect();
    assert!(above.is_empty(), "room imports {above:?}: it may import only {ROOM_MAY_IMPORT:?}");
}

#[test]
fn the_checks_find_a_cycle_and_an_import_where_there_is_one() {
    let code = code_of("use crate::room::Room;\nuse crate::{ids, json::object};\n// crate::config\n");
    assert_eq!(imports(&code), BTreeSet::from(["ids".into(), "json".into(), "room".into()]));
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["c".to_owned()])),
        ("c".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]
    .into();
    assert_eq!(a_cycle(&graph), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
}

/// Folders whose files a build makes (they are not in a clean clone before it).
const GENERATED: [&str; 3] = ["build", "target", "node_modules"];

/// The file paths a text names: words with a `/` and a known extension, not URLs, not what a
/// build makes.
fn named_paths(text: &str) -> Vec<String> {
    const EXTENSIONS: [&str; 9] = ["rs", "md", "mjs", "js", "toml", "sh", "json", "html", "py"];
    let mut found = Vec::new();
    let boundary = |c: char| c.is_whitespace() || "`([\"'".contains(c);
    for word in text.split(boundary) {
        let word = word.trim_end_matches(|c: char| ".,:;)]`'\"".contains(c) || c == '#');
        let word = word.split('#').next().unwrap_or_default();
        let Some((_, ext)) = word.rsplit_once('.') else { continue };
        if !EXTENSIONS.contains(&ext)
            || !word.contains('/')
            || word.starts_with('/')
            || word.contains("://")
            || word.contains(|c: char| "*{}$<>%=".contains(c))
            || word.split('/').any(|part| GENERATED.contains(&part))
        {
            continue;
        }
        found.push(word.to_owned());
    }
    found
}

#[test]
fn every_file_a_comment_or_a_doc_names_exists() {
    let root = repo();
    let mut files = Vec::new();
    for dir in ["core", "durable_objects", "src", "delivery", "platform", "tests", "fuzz", "bench", "scripts", "docs"] {
        files_under(&root.join(dir), &["rs", "md", "mjs", "sh", "toml"], &mut files);
    }
    files_under(&root.join("miniflare"), &["mjs"], &mut files);
    for top in ["README.md", "BENCHMARKS.md", "Makefile", "wrangler.toml", "Cargo.toml", ".ci/run"] {
        files.push(root.join(top));
    }
    let core_src = root.join("core/src");
    let mut missing = Vec::new();
    for file in &files {
        let Ok(text) = fs::read_to_string(file) else { continue };
        for named in named_paths(&text) {
            // From the repository's root, from the file's folder or one above it, or within the
            // core's modules (`auth/jws.rs`).
            let mut bases = vec![root.clone(), core_src.clone()];
            bases.extend(file.ancestors().skip(1).take_while(|dir| dir.starts_with(&root)).map(Path::to_path_buf));
            if !bases.iter().any(|base| base.join(&named).exists()) {
                missing.push(format!("{}: {named}", file.strip_prefix(&root).unwrap_or(file).display()));
            }
        }
    }
    assert!(files.len() > 100, "the repository's files were found ({})", files.len());
    assert!(missing.is_empty(), "files named that do not exist:\n{}", missing.join("\n"));
}

#[test]
fn named_paths_are_words_with_a_folder_and_an_extension() {
    let text =
        "see `core/src/room/mod.rs`, (docs/api.md#routes) and https://x.test/a.md, /v1/x.js, $dir/a.sh, build/index.js";
    assert_eq!(named_paths(text), vec!["core/src/room/mod.rs".to_owned(), "docs/api.md".to_owned()]);
}
