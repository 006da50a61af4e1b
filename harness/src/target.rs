//! Launching or attaching to the target (contract section 1), and noticing when it dies.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::client::{self, Outgoing};

/// Which target to test.
#[derive(Clone, Debug)]
pub enum TargetSpec {
    /// The built-in reference validator, in this process, with these defects.
    Builtin {
        /// Defect names (see `byoid-reference --list-defects`).
        defects: Vec<String>,
    },
    /// A command run with `sh -c` (launched mode).
    Command(String),
    /// A running target at this URL (attached mode).
    Url(String),
}

impl TargetSpec {
    /// A short description for reports.
    pub fn describe(&self) -> String {
        match self {
            TargetSpec::Builtin { defects } if defects.is_empty() => "builtin:reference".into(),
            TargetSpec::Builtin { defects } => format!("builtin:reference+{}", defects.join("+")),
            TargetSpec::Command(c) => format!("command:{c}"),
            TargetSpec::Url(u) => format!("url:{u}"),
        }
    }
}

/// The target flags `byoid scenarios`, `bench` and `fuzz` share.
///
/// ```
/// use clap::Parser;
/// #[derive(Parser)]
/// struct Cli {
///     #[command(flatten)]
///     target: byoid::target::TargetArgs,
/// }
/// let cli = Cli::parse_from(["byoid", "--defect", "none-accepted"]);
/// assert_eq!(cli.target.spec().describe(), "builtin:reference+none-accepted");
/// assert!(!cli.target.defects_misplaced());
/// ```
#[derive(clap::Args, Debug, Clone, Default)]
pub struct TargetArgs {
    /// Launch the target with this shell command (it gets BYOID_PORT and BYOID_MANIFEST).
    #[arg(long, conflicts_with = "target_url")]
    pub target_cmd: Option<String>,
    /// Drive a target that is already running at this loopback http:// URL (use with
    /// --idp-listen and --manifest-out where the command has them).
    #[arg(long)]
    pub target_url: Option<String>,
    /// Plant a defect in the built-in reference validator (repeatable; see
    /// `byoid-reference --list-defects`).
    #[arg(long = "defect")]
    pub defects: Vec<String>,
}

impl TargetArgs {
    /// The target the flags name: the command, else the URL, else the built-in reference
    /// with the defects.
    pub fn spec(&self) -> TargetSpec {
        match (&self.target_cmd, &self.target_url) {
            (Some(cmd), _) => TargetSpec::Command(cmd.clone()),
            (None, Some(url)) => TargetSpec::Url(url.clone()),
            (None, None) => TargetSpec::Builtin {
                defects: self.defects.clone(),
            },
        }
    }

    /// `--defect` given with a target other than the built-in reference (where it means nothing).
    pub fn defects_misplaced(&self) -> bool {
        !self.defects.is_empty() && (self.target_cmd.is_some() || self.target_url.is_some())
    }
}

/// Why the target could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// It never answered `/healthz` with 2xx.
    #[error("the target never became ready within {secs} s (last: {last})\n{tail}")]
    NeverReady {
        /// The limit.
        secs: u64,
        /// The last thing seen.
        last: String,
        /// The tail of its stderr.
        tail: String,
    },
    /// It exited before becoming ready.
    #[error("the target exited before becoming ready ({status})\n{tail}")]
    Exited {
        /// Exit status.
        status: String,
        /// The tail of its stderr.
        tail: String,
    },
    /// The built-in target's configuration was refused.
    #[error("the built-in reference validator refused its configuration: {0}")]
    Builtin(String),
    /// Anything about starting it.
    #[error("cannot start the target: {0}")]
    Spawn(String),
}

/// A target in use.
pub struct RunningTarget {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// What it is.
    pub description: String,
    child: Option<tokio::process::Child>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

const STDERR_LINES: usize = 40;

impl RunningTarget {
    /// Starts (or attaches to) the target and waits until `/healthz` answers 2xx.
    pub async fn start(
        spec: &TargetSpec,
        manifest_path: &Path,
        ready_timeout: Duration,
    ) -> Result<RunningTarget, TargetError> {
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let mut target = match spec {
            TargetSpec::Builtin { defects } => {
                let text = std::fs::read_to_string(manifest_path)
                    .map_err(|e| TargetError::Builtin(e.to_string()))?;
                let manifest = byoid_reference::manifest::Manifest::from_json(&text)
                    .map_err(|e| TargetError::Builtin(e.to_string()))?;
                let mut config = byoid_reference::Config::new(manifest);
                for d in defects {
                    let defect = byoid_reference::defect::Defect::from_name(d)
                        .ok_or_else(|| TargetError::Builtin(format!("unknown defect `{d}`")))?;
                    config.defects.insert(defect);
                }
                config.unknown_kid_cooldown = Duration::from_millis(1000);
                // Loopback IdPs answer in microseconds; a short fetch limit keeps the
                // slow-IdP cases short without changing what they test.
                config.fetch_timeout = Duration::from_millis(500);
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .map_err(|e| TargetError::Spawn(e.to_string()))?;
                let addr = listener
                    .local_addr()
                    .map_err(|e| TargetError::Spawn(e.to_string()))?
                    .to_string();
                let task = tokio::spawn(async move {
                    let _ = byoid_reference::serve(listener, config).await;
                });
                RunningTarget {
                    addr,
                    description: spec.describe(),
                    child: None,
                    stderr,
                    task: Some(task),
                }
            }
            TargetSpec::Command(cmd) => {
                let port = free_port().map_err(|e| TargetError::Spawn(e.to_string()))?;
                let mut command = tokio::process::Command::new("sh");
                command
                    .arg("-c")
                    .arg(cmd)
                    .env("BYOID_PORT", port.to_string())
                    .env("BYOID_MANIFEST", manifest_path)
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .kill_on_drop(true)
                    .process_group(0);
                let mut child = command
                    .spawn()
                    .map_err(|e| TargetError::Spawn(format!("`sh -c {cmd}`: {e}")))?;
                if let Some(err) = child.stderr.take() {
                    let buf = stderr.clone();
                    tokio::spawn(async move {
                        let mut lines = BufReader::new(err).lines();
                        while let Ok(Some(line)) = lines.next_line().await {
                            let mut b = buf.lock().unwrap_or_else(|e| e.into_inner());
                            if b.len() == STDERR_LINES {
                                b.pop_front();
                            }
                            b.push_back(line.chars().take(500).collect());
                        }
                    });
                }
                RunningTarget {
                    addr: format!("127.0.0.1:{port}"),
                    description: spec.describe(),
                    child: Some(child),
                    stderr,
                    task: None,
                }
            }
            TargetSpec::Url(url) => {
                let addr = url
                    .trim_start_matches("http://")
                    .split('/')
                    .next()
                    .unwrap_or_default()
                    .replace("localhost", "127.0.0.1");
                if !addr.starts_with("127.") && !addr.starts_with("[::1]") {
                    return Err(TargetError::Spawn(format!("`{url}` is not a loopback http:// URL: byoid only tests targets on this machine")));
                }
                RunningTarget {
                    addr,
                    description: spec.describe(),
                    child: None,
                    stderr,
                    task: None,
                }
            }
        };
        target.wait_ready(ready_timeout).await?;
        Ok(target)
    }

    async fn wait_ready(&mut self, limit: Duration) -> Result<(), TargetError> {
        let start = Instant::now();
        let mut last = String::from("nothing yet");
        let req = Outgoing {
            method: "GET".into(),
            path: "/healthz".into(),
            headers: vec![],
            body: String::new(),
        };
        let mut delay = Duration::from_millis(10);
        while start.elapsed() < limit {
            if let Some(status) = self.exit_status() {
                tokio::time::sleep(Duration::from_millis(50)).await; // let stderr drain
                return Err(TargetError::Exited {
                    status,
                    tail: self.stderr_tail(),
                });
            }
            match client::send(&self.addr, &self.addr, &req, Duration::from_secs(2)).await {
                Ok(a) if (200..300).contains(&a.status) => return Ok(()),
                Ok(a) => last = format!("/healthz answered {}", a.status),
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(200));
        }
        Err(TargetError::NeverReady {
            secs: limit.as_secs(),
            last,
            tail: self.stderr_tail(),
        })
    }

    /// The exit status, if a launched target has exited.
    pub fn exit_status(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(s)) => Some(s.to_string()),
            _ => None,
        }
    }

    /// The last lines of a launched target's stderr, indented, or empty.
    pub fn stderr_tail(&self) -> String {
        let b = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        if b.is_empty() {
            return String::new();
        }
        let mut s = String::from("  stderr (last lines):\n");
        for l in b.iter() {
            s.push_str("    ");
            s.push_str(l);
            s.push('\n');
        }
        s
    }

    /// Ends the target: the whole process group of a launched one.
    pub async fn stop(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(mut child) = self.child.take() {
            // Only a child that still runs has a process group of ours to signal; a reaped
            // one's id may already belong to someone else.
            if let (Ok(None), Some(pid)) = (child.try_wait(), child.id()) {
                // SIGTERM to the group first, then SIGKILL after a grace period.
                signal_group(pid, libc::SIGTERM);
                if tokio::time::timeout(Duration::from_secs(2), child.wait())
                    .await
                    .is_err()
                {
                    signal_group(pid, libc::SIGKILL);
                    let _ = child.kill().await;
                }
            }
        }
    }
}

/// Signals the process group `pgid` (the launched target and everything it started).
fn signal_group(pgid: u32, signal: libc::c_int) {
    // Never 0 or 1 (our own group, or every process): only a real child's group.
    if let Ok(pgid) = libc::pid_t::try_from(pgid) {
        if pgid > 1 {
            // SAFETY: killpg only sends a signal; a stale or foreign pgid fails with ESRCH/EPERM.
            unsafe {
                libc::killpg(pgid, signal);
            }
        }
    }
}

fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Writes the manifest as pretty JSON.
pub fn write_manifest(path: &PathBuf, manifest: &serde_json::Value) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    std::fs::write(
        path,
        serde_json::to_vec_pretty(manifest).unwrap_or_default(),
    )
}
