//! Launching or attaching to the target (contract section 1), and noticing when it dies.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

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
    /// A router built from the run's manifest and served by this process on an ephemeral
    /// loopback port: a Rust validator tested from its own `cargo test`.
    InProcess(InProcessTarget),
}

/// A validator in this process: a function from the run's manifest (contract section 2, as
/// JSON) to the axum [`Router`](axum::Router) that serves it. Any tower service becomes one
/// with [`Router::fallback_service`](axum::Router::fallback_service). It is served over real
/// HTTP on `127.0.0.1:0`, since some cases need exact bytes on the wire.
///
/// ```
/// use byoid::target::{InProcessTarget, TargetSpec};
/// let target = InProcessTarget::new("hello", |_manifest: &serde_json::Value| {
///     axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" }))
/// });
/// assert_eq!(TargetSpec::InProcess(target).describe(), "in-process:hello");
/// ```
#[derive(Clone)]
pub struct InProcessTarget {
    name: String,
    make: Arc<dyn Fn(&serde_json::Value) -> axum::Router + Send + Sync>,
}

impl InProcessTarget {
    /// A target named `name` in reports, whose router `make` builds from the manifest.
    pub fn new(
        name: impl Into<String>,
        make: impl Fn(&serde_json::Value) -> axum::Router + Send + Sync + 'static,
    ) -> Self {
        InProcessTarget {
            name: name.into(),
            make: Arc::new(make),
        }
    }
}

impl std::fmt::Debug for InProcessTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InProcessTarget({:?})", self.name)
    }
}

impl TargetSpec {
    /// A short description for reports.
    pub fn describe(&self) -> String {
        match self {
            TargetSpec::Builtin { defects } if defects.is_empty() => "builtin:reference".into(),
            TargetSpec::Builtin { defects } => format!("builtin:reference+{}", defects.join("+")),
            TargetSpec::Command(c) => format!("command:{c}"),
            TargetSpec::Url(u) => format!("url:{u}"),
            TargetSpec::InProcess(t) => format!("in-process:{}", t.name),
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

    /// Refuses a `--target-url` that is not a loopback `http://` URL with a port, before
    /// anything starts (a usage error).
    pub fn check_url(&self) -> Result<(), String> {
        match &self.target_url {
            Some(url) => loopback_addr(url).map(|_| ()),
            None => Ok(()),
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
    /// It never answered `/healthz` (or its profile's readiness path) with 2xx.
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
    /// The launched target's process group, until it has been ended.
    pgid: Option<u32>,
    stderr: Arc<Mutex<StderrTail>>,
    /// Reads the launched target's stderr until it closes.
    stderr_reader: Option<tokio::task::JoinHandle<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The built-in target's configuration, for an instance of its own per case.
    builtin: Option<Arc<byoid_reference::Config>>,
}

/// The most of a target's stderr kept: the tail, whatever it writes (a flood without a
/// newline included).
pub const STDERR_TAIL_BYTES: usize = 64 * 1024;
/// The most lines of that tail shown in a message.
const STDERR_LINES: usize = 40;

/// The last [`STDERR_TAIL_BYTES`] a launched target wrote to stderr.
#[derive(Default)]
struct StderrTail {
    bytes: VecDeque<u8>,
}

impl StderrTail {
    fn push(&mut self, chunk: &[u8]) {
        self.bytes.extend(chunk);
        let excess = self.bytes.len().saturating_sub(STDERR_TAIL_BYTES);
        self.bytes.drain(..excess);
    }

    /// The last lines, each cut to 500 characters, control characters escaped.
    fn lines(&self) -> Vec<String> {
        let (a, b) = self.bytes.as_slices();
        let text = String::from_utf8_lossy(&[a, b].concat()).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(STDERR_LINES)..]
            .iter()
            .map(|l| {
                crate::report::console::printable(&l.chars().take(500).collect::<String>())
                    .into_owned()
            })
            .collect()
    }
}

impl RunningTarget {
    /// Starts (or attaches to) the target and waits until `/healthz` answers 2xx.
    pub async fn start(
        spec: &TargetSpec,
        manifest_path: &Path,
        ready_timeout: Duration,
    ) -> Result<RunningTarget, TargetError> {
        RunningTarget::start_with_health(spec, manifest_path, ready_timeout, "/healthz").await
    }

    /// Like [`RunningTarget::start`], waiting for `health` (a profile's readiness path).
    pub async fn start_with_health(
        spec: &TargetSpec,
        manifest_path: &Path,
        ready_timeout: Duration,
        health: &str,
    ) -> Result<RunningTarget, TargetError> {
        let stderr = Arc::new(Mutex::new(StderrTail::default()));
        let mut builtin = None;
        let mut target = match spec {
            TargetSpec::Builtin { defects } => {
                let text = std::fs::read_to_string(manifest_path)
                    .map_err(|e| TargetError::Builtin(e.to_string()))?;
                let mut config = builtin_config(defects, &text)?;
                // The instances of the run's cases share one client, as one process would:
                // its pooled connections to the IdPs are reused from case to case.
                config.http_client = byoid_reference::validate::build_client(&config);
                // Each case's instance is told only its own tenants (`CaseTargets::for_case`):
                // keep the run's list out of the configuration every case clones.
                let mut per_case = config.clone();
                per_case.manifest.tenants.clear();
                builtin = Some(Arc::new(per_case));
                let served = serve_builtin(config).await;
                RunningTarget::in_this_process(spec, served, stderr)?
            }
            TargetSpec::InProcess(t) => {
                let text = std::fs::read_to_string(manifest_path)
                    .map_err(|e| TargetError::Spawn(format!("the manifest: {e}")))?;
                let manifest: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| TargetError::Spawn(format!("the manifest: {e}")))?;
                let served = serve_router((t.make)(&manifest)).await;
                RunningTarget::in_this_process(spec, served, stderr)?
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
                let stderr_reader = child.stderr.take().map(|mut err| {
                    let buf = stderr.clone();
                    tokio::spawn(async move {
                        let mut chunk = vec![0u8; 16 * 1024];
                        while let Ok(n @ 1..) = err.read(&mut chunk).await {
                            buf.lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .push(&chunk[..n]);
                        }
                    })
                });
                RunningTarget {
                    addr: format!("127.0.0.1:{port}"),
                    description: spec.describe(),
                    pgid: child.id(),
                    child: Some(child),
                    stderr,
                    stderr_reader,
                    task: None,
                    builtin: None,
                }
            }
            TargetSpec::Url(url) => {
                let addr = loopback_addr(url).map_err(TargetError::Spawn)?.to_string();
                RunningTarget {
                    addr,
                    description: spec.describe(),
                    child: None,
                    pgid: None,
                    stderr,
                    stderr_reader: None,
                    task: None,
                    builtin: None,
                }
            }
        };
        target.builtin = builtin;
        target.wait_ready(ready_timeout, health).await?;
        Ok(target)
    }

    async fn wait_ready(&mut self, limit: Duration, health: &str) -> Result<(), TargetError> {
        let start = Instant::now();
        let mut last = String::from("nothing yet");
        let req = Outgoing {
            method: "GET".into(),
            path: health.into(),
            headers: vec![],
            body: String::new(),
        };
        let mut delay = Duration::from_millis(10);
        while start.elapsed() < limit {
            if let Some(status) = self.exit_status() {
                self.stderr_settled().await;
                return Err(TargetError::Exited {
                    status,
                    tail: self.stderr_tail(),
                });
            }
            match client::send(&self.addr, &self.addr, &req, Duration::from_secs(2)).await {
                Ok(a) if (200..300).contains(&a.status) => return Ok(()),
                Ok(a) => last = format!("{health} answered {}", a.status),
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

    /// A target served by a task of this process (the built-in reference, an in-process
    /// router): no child, no stderr of its own.
    fn in_this_process(
        spec: &TargetSpec,
        served: std::io::Result<(String, tokio::task::JoinHandle<()>)>,
        stderr: Arc<Mutex<StderrTail>>,
    ) -> Result<RunningTarget, TargetError> {
        let (addr, task) = served.map_err(|e| TargetError::Spawn(e.to_string()))?;
        Ok(RunningTarget {
            addr,
            description: spec.describe(),
            child: None,
            pgid: None,
            stderr,
            stderr_reader: None,
            task: Some(task),
            builtin: None,
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

    /// Waits (a second at most) until everything an exited target wrote to stderr has been
    /// read, so that its last words are in [`RunningTarget::stderr_tail`].
    pub async fn stderr_settled(&mut self) {
        if let Some(reader) = self.stderr_reader.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), reader).await;
        }
    }

    /// The last lines of a launched target's stderr, indented, control characters escaped,
    /// or empty.
    pub fn stderr_tail(&self) -> String {
        let lines = self
            .stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .lines();
        if lines.is_empty() {
            return String::new();
        }
        let mut s = String::from("  stderr (last lines):\n");
        for l in &lines {
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
        if let (Some(mut child), Some(pgid)) = (self.child.take(), self.pgid.take()) {
            // SIGTERM to the group first; SIGKILL to whatever of it is left after a grace
            // period. The group outlives `sh` when the command did not `exec` (`sh -c 'python3
            // t.py'`), so it is signalled even when `sh` itself has exited.
            signal_group(pgid, libc::SIGTERM);
            let _ = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
            signal_group(pgid, libc::SIGKILL);
            let _ = child.wait().await;
        }
    }
}

impl Drop for RunningTarget {
    /// A target dropped without [`RunningTarget::stop`] (a failed start, an interrupted run):
    /// its whole process group is killed, not only `sh`.
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(pgid) = self.pgid.take() {
            signal_group(pgid, libc::SIGKILL);
        }
    }
}

/// The built-in reference's configuration for a manifest's text, with `defects` planted.
fn builtin_config(
    defects: &[String],
    manifest: &str,
) -> Result<byoid_reference::Config, TargetError> {
    let manifest = byoid_reference::manifest::Manifest::from_json(manifest)
        .map_err(|e| TargetError::Builtin(e.to_string()))?;
    let mut config = byoid_reference::Config::new(manifest);
    for d in defects {
        let defect = byoid_reference::defect::Defect::from_name(d)
            .ok_or_else(|| TargetError::Builtin(format!("unknown defect `{d}`")))?;
        config.defects.insert(defect);
    }
    // The cooldown cases step the clock past it: no real wait.
    config.unknown_kid_cooldown = Duration::from_millis(1000);
    // The fetch limit is real time. 1 s keeps the hanging-JWKS case short and leaves a
    // loopback IdP, on a machine busy with other runs, ample time to answer.
    config.fetch_timeout = Duration::from_secs(1);
    Ok(config)
}

/// Serves the built-in reference with `config` on 127.0.0.1:0, as a task of this runtime.
async fn serve_builtin(
    config: byoid_reference::Config,
) -> std::io::Result<(String, tokio::task::JoinHandle<()>)> {
    serve_router(byoid_reference::app(config)).await
}

/// Serves `router` on 127.0.0.1:0, as a task of this runtime.
async fn serve_router(
    router: axum::Router,
) -> std::io::Result<(String, tokio::task::JoinHandle<()>)> {
    use axum::serve::ListenerExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    // Small answers on keep-alive connections: send each at once (as `byoid_reference::serve`).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok((addr, task))
}

/// Where the cases of a run send their requests.
#[derive(Clone, Debug)]
pub enum CaseTargets {
    /// One running target for every case (launched or attached): its caches are shared by
    /// all cases, and a case's waits are real time.
    Shared(String),
    /// The built-in reference: an instance of its own for each case, which knows only that
    /// case's tenants and runs on a manual clock that the case's waits advance. No case sees
    /// another's keys or cache windows, and no verdict depends on how fast the machine is.
    Builtin(Arc<byoid_reference::Config>),
}

impl CaseTargets {
    /// The cases' targets of a running target.
    pub fn of(target: &RunningTarget) -> CaseTargets {
        match &target.builtin {
            Some(config) => CaseTargets::Builtin(config.clone()),
            None => CaseTargets::Shared(target.addr.clone()),
        }
    }

    /// The target of one case whose tenants `manifest` lists (the run's manifest, cut down
    /// to the case's tenants: only the built-in target reads it).
    pub async fn for_case(&self, manifest: &serde_json::Value) -> Result<CaseTarget, String> {
        let base = match self {
            CaseTargets::Builtin(base) => base,
            CaseTargets::Shared(addr) => {
                return Ok(CaseTarget {
                    addr: addr.clone(),
                    clock: None,
                    server: None,
                })
            }
        };
        let mut config = (**base).clone();
        config.manifest = byoid_reference::manifest::Manifest::from_json(&manifest.to_string())
            .map_err(|e| format!("the built-in reference refused the case's manifest: {e}"))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let clock = byoid_reference::Clock::manual(now);
        config.clock = clock.clone();
        let (addr, server) = serve_builtin(config)
            .await
            .map_err(|e| format!("cannot serve the built-in target on 127.0.0.1: {e}"))?;
        Ok(CaseTarget {
            addr,
            clock: Some(clock),
            server: Some(server.abort_handle()),
        })
    }
}

/// The target one case talks to, and the time its waits pass on.
#[derive(Debug)]
pub struct CaseTarget {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The built-in instance's manual clock; `None`: real time.
    clock: Option<byoid_reference::Clock>,
    /// The built-in instance, stopped when the case is done.
    server: Option<tokio::task::AbortHandle>,
}

impl CaseTarget {
    /// Lets `d` pass for the target: advances its clock, or sleeps when time is real.
    pub async fn wait(&self, d: Duration) {
        match &self.clock {
            Some(clock) => clock.advance(d),
            None => tokio::time::sleep(d).await,
        }
    }

    /// A monotonic instant on the target's time, to measure a case's cache windows.
    pub fn instant(&self) -> Instant {
        self.clock
            .as_ref()
            .map_or_else(Instant::now, |c| c.instant())
    }

    /// Unix seconds on the target's time: what tokens are minted at.
    pub fn unix_secs(&self) -> i64 {
        match &self.clock {
            Some(c) => c.unix_secs() as i64,
            None => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or_default(),
        }
    }
}

impl Drop for CaseTarget {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// The socket address of a loopback `http://` URL: a literal loopback address (127.0.0.0/8,
/// `[::1]`) or exactly `localhost` (taken as 127.0.0.1, never looked up), with an explicit
/// port. Anything else is refused: byoid only tests targets on this machine.
///
/// ```
/// use byoid::target::loopback_addr;
/// assert_eq!(loopback_addr("http://127.0.0.1:8080").unwrap().port(), 8080);
/// assert_eq!(loopback_addr("http://localhost:9/api").unwrap().to_string(), "127.0.0.1:9");
/// assert!(loopback_addr("http://[::1]:80").is_ok());
/// assert!(loopback_addr("http://localhost.example.invalid:80").is_err());
/// assert!(loopback_addr("http://127.0.0.1.example.invalid:80").is_err());
/// assert!(loopback_addr("http://127.0.0.1").is_err()); // no port
/// assert!(loopback_addr("http://10.0.0.1:80").is_err());
/// ```
pub fn loopback_addr(url: &str) -> Result<std::net::SocketAddr, String> {
    let refuse = |why: &str| {
        Err(format!(
            "`{url}` {why}: byoid only tests targets on this machine, at a loopback http:// URL \
             with a port (http://127.0.0.1:8080)"
        ))
    };
    let Some(rest) = url.strip_prefix("http://") else {
        return refuse("is not an http:// URL");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return refuse("has user information");
    }
    // `[v6]:port` or `host:port`; a bare IPv6 address without brackets has no port.
    let split = match authority.strip_prefix('[') {
        Some(v6) => v6.split_once("]:").filter(|(h, _)| !h.is_empty()),
        None => authority
            .rsplit_once(':')
            .filter(|(h, _)| !h.is_empty() && !h.contains(':')),
    };
    let Some((host, port)) = split else {
        return refuse("has no port");
    };
    let port = match port.parse::<u16>() {
        Ok(p) if p > 0 => p,
        _ => return refuse("has no valid port"),
    };
    let ip: std::net::IpAddr = if host == "localhost" {
        std::net::Ipv4Addr::LOCALHOST.into()
    } else {
        match host.parse() {
            Ok(ip) => ip,
            Err(_) => return refuse("does not name a loopback address"),
        }
    };
    if !ip.is_loopback() {
        return refuse("is not a loopback address");
    }
    Ok(std::net::SocketAddr::new(ip, port))
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

/// A port for a launched target, free when checked. It is taken below the kernel's ephemeral
/// range (Linux's default starts at 32768): a port the kernel hands out for `bind(0)` or an
/// outgoing connection (the built-in target's instances, the IdPs, any client in this
/// process or another) could be taken again between this check and the target's own bind,
/// and the run would then talk to someone else.
fn free_port() -> std::io::Result<u16> {
    const RANGE: std::ops::Range<u32> = 20_000..32_000;
    // A start that differs between processes and calls, so parallel runs rarely collide.
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let seed = std::process::id()
        .wrapping_mul(2_654_435_761)
        .wrapping_add(NEXT.fetch_add(7_919, std::sync::atomic::Ordering::Relaxed));
    let len = RANGE.end - RANGE.start;
    for i in 0..len {
        let port = (RANGE.start + (seed.wrapping_add(i) % len)) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        "no free port in 20000..32000",
    ))
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
