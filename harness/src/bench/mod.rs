//! `byoid bench`: the load mode. (In progress.)

/// Command-line arguments of `byoid bench`.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {}

/// Runs the load mode; returns the process exit code.
pub async fn run(_args: BenchArgs) -> i32 {
    eprintln!("error: `byoid bench` is not implemented yet");
    crate::exit::UNEXPECTED
}
