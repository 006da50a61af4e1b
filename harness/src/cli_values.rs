//! Parsers for command-line values that clap's own cannot bound: every duration is a finite
//! number of seconds above 0 and below a ceiling, and counts have a range. A value outside is
//! a usage error (exit 2) that says what is allowed, never a silent clamp or a panic.
//!
//! ```
//! use byoid::cli_values::{jobs, request_timeout};
//! assert_eq!(request_timeout("0.5"), Ok(0.5));
//! for bad in ["0", "-1", "nan", "inf", "121", "soon"] {
//!     assert!(request_timeout(bad).is_err(), "{bad}");
//! }
//! assert_eq!(jobs("8"), Ok(8));
//! assert!(jobs("0").is_err() && jobs("257").is_err());
//! ```

fn seconds(text: &str, max: f64) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= max => Ok(s),
        _ => Err(format!(
            "`{text}` is not a number of seconds above 0 and at most {max}"
        )),
    }
}

/// A per-request time limit: above 0, at most 120 s.
pub fn request_timeout(text: &str) -> Result<f64, String> {
    seconds(text, 120.0)
}

/// How long to wait for a target to become ready: above 0, at most 600 s.
pub fn ready_timeout(text: &str) -> Result<f64, String> {
    seconds(text, 600.0)
}

/// A whole run's limit: above 0, at most a day.
pub fn deadline(text: &str) -> Result<f64, String> {
    seconds(text, 86_400.0)
}

/// Cases in flight at once: 1 to 256.
pub fn jobs(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n @ 1..=256) => Ok(n),
        _ => Err(format!("`{text}` is not a whole number from 1 to 256")),
    }
}
