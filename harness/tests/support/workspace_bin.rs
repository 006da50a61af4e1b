//! Binaries of other workspace packages for the harness's tests (Cargo gives a test the paths
//! of its own package's binaries only).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The binary `bin` of workspace package `package` (sources under `dir`), never older than
/// its sources: the one next to `byoid` when a build made it after their last change (`cargo
/// test --workspace` does), else built now with this test's features (`-p byoid` unifies
/// them: the package alone, no dependency rebuilt).
pub fn built(package: &str, bin: &str, dir: &str) -> PathBuf {
    let byoid = Path::new(env!("CARGO_BIN_EXE_byoid"));
    let sibling = byoid.with_file_name(format!("{bin}{}", std::env::consts::EXE_SUFFIX));
    let inputs = [dir, "Cargo.toml", "Cargo.lock"]
        .iter()
        .filter_map(|p| newest(&root().join(p)))
        .max()
        .expect("the package's sources");
    if modified(&sibling).is_some_and(|m| m >= inputs) {
        return sibling;
    }
    let profile_dir = byoid.parent().expect("a profile folder");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev",
        Some(p) => p,
    };
    let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(root())
        .args(["build", "-p", "byoid", "-p", package])
        .args(["--bin", bin, "--profile", profile])
        .args([
            "--message-format",
            "json-render-diagnostics",
            "--target-dir",
        ])
        .arg(profile_dir.parent().expect("a target folder"))
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo build -p {package}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["target"]["name"] == bin)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo names the {bin} executable"))
}

fn modified(p: &Path) -> Option<SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// The newest modification time of a file or of the files under a folder (`tests/` and
/// `proptest-regressions/` aside: they are not built into the binary).
fn newest(p: &Path) -> Option<SystemTime> {
    if !p.is_dir() {
        return modified(p);
    }
    std::fs::read_dir(p)
        .ok()?
        .flatten()
        .filter(|e| {
            !matches!(
                e.file_name().to_str(),
                Some("tests" | "proptest-regressions")
            )
        })
        .filter_map(|e| newest(&e.path()))
        .max()
}
