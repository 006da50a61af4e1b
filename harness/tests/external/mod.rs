//! The switch for suites that need more than Rust (Node, Python, Go, Chromium).

/// Whether a suite that needs an external runtime runs. `scripts/external-suites.sh` (which
/// `.ci/run` runs) installs every runtime and sets `BYOID_EXTERNAL_SUITES=1`; there a missing
/// runtime fails the test. Without it the suite is skipped with a note on stderr, so the
/// README's `cargo test` passes on a machine that has only Rust.
pub fn external_suite(what: &str) -> bool {
    if std::env::var_os("BYOID_EXTERNAL_SUITES").is_some_and(|v| v == "1") {
        return true;
    }
    eprintln!("skipped: {what}; scripts/external-suites.sh installs what it needs and runs it");
    false
}
