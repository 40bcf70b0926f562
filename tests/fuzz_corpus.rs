//! Every input the fuzz targets keep, run through the same checks on stable: the seeds
//! (`fuzz/seeds/`), the minimized corpus `make fuzz` grows (`fuzz/corpus/`), and each input
//! that once made a target fail (`fuzz/regressions/`, kept for good). See
//! docs/reliability.md.

use herald_tests::checks::targets;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// The files of one target in every kept directory.
fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut files = Vec::new();
    for kind in ["seeds", "corpus", "regressions"] {
        let Ok(dir) = std::fs::read_dir(fuzz.join(kind).join(target)) else { continue };
        files.extend(dir.map(|entry| entry.unwrap().path()).filter(|path| path.is_file()));
    }
    files.sort();
    files
}

/// Runs `check` on each of `target`'s inputs; fails naming every input that failed.
fn replay(target: &str, check: fn(&[u8])) {
    let files = inputs(target);
    assert!(files.iter().any(|f| f.to_string_lossy().contains("/seeds/")), "{target} has no seeds");
    let failed: Vec<String> = files
        .iter()
        .filter(|file| {
            let data = std::fs::read(file).unwrap();
            catch_unwind(AssertUnwindSafe(|| check(&data))).is_err()
        })
        .map(|file| file.display().to_string())
        .collect();
    assert!(failed.is_empty(), "{} of {} inputs failed: {failed:#?}", failed.len(), files.len());
}

#[test]
fn the_native_frame_inputs_pass_their_checks() {
    replay("fuzz_native_frame", targets::native_frame);
}

#[test]
fn the_engineio_inputs_pass_their_checks() {
    replay("fuzz_engineio", targets::engineio);
}

#[test]
fn the_socketio_inputs_pass_their_checks() {
    replay("fuzz_socketio", targets::socketio);
}

#[test]
fn the_dialects_inputs_pass_their_checks() {
    replay("fuzz_dialects", targets::dialects);
}

#[test]
fn the_jws_inputs_pass_their_checks() {
    replay("fuzz_jws", targets::jws);
}

#[test]
fn the_query_inputs_pass_their_checks() {
    replay("fuzz_query", targets::query);
}

#[test]
fn the_token_sources_inputs_pass_their_checks() {
    replay("fuzz_token_sources", targets::token_sources);
}

#[test]
fn the_rest_bodies_inputs_pass_their_checks() {
    replay("fuzz_rest_bodies", targets::rest_bodies);
}

#[test]
fn the_provider_answers_inputs_pass_their_checks() {
    replay("fuzz_provider_answers", targets::provider_answers);
}

#[test]
fn the_push_answers_inputs_pass_their_checks() {
    replay("fuzz_push_answers", targets::push_answers);
}

#[test]
fn the_receipts_inputs_pass_their_checks() {
    replay("fuzz_receipts", targets::receipts);
}

#[test]
fn the_internal_inputs_pass_their_checks() {
    replay("fuzz_internal", targets::internal);
}
