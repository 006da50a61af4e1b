//! Process exit codes of the `byoid` binary (stable; CI scripts may branch on them).
//!
//! ```
//! assert_eq!(byoid::exit::OK, 0);
//! ```

/// Every selected case passed (SHOULD misses allowed unless `--strict`).
pub const OK: i32 = 0;
/// Something unexpected went wrong.
pub const UNEXPECTED: i32 = 1;
/// The command line was invalid.
pub const USAGE: i32 = 2;
/// No case matched the filters.
pub const NO_CASES: i32 = 4;
/// Cases were selected but none was judged (every one skipped or in error): a run that
/// tested nothing never passes.
pub const NOTHING_JUDGED: i32 = 5;
/// The catalog, a config file, the mock IdPs or the report directory had a problem.
pub const SETUP_ERROR: i32 = 96;
/// The target never became ready, or exited before.
pub const TARGET_FAILED: i32 = 97;
/// At least one MUST case failed (or SHOULD, with `--strict`), a positive control failed so
/// that its flavor's cases are untestable, or the expected-failures list no longer matches.
pub const CASES_FAILED: i32 = 100;
