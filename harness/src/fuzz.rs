//! `byoid fuzz`: proptest-driven mutations of genuine tokens. (In progress.)

/// Command-line arguments of `byoid fuzz`.
#[derive(clap::Args, Debug, Clone)]
pub struct FuzzArgs {}

/// Runs the fuzzer; returns the process exit code.
pub async fn run(_args: FuzzArgs) -> i32 {
    eprintln!("error: `byoid fuzz` is not implemented yet");
    crate::exit::UNEXPECTED
}
