//! `byoid bench`: the load mode. It drives a target (the built-in reference validator, a
//! launched command, or an attached loopback URL) with a weighted mix of traffic for a fixed
//! time or request count, and reports throughput, latency percentiles (HDR histograms),
//! statuses, errors and the IdP traffic the run caused, per mix.
//!
//! Tokens are minted into pools, and turned into request bytes, before the clock starts; the
//! hot path only writes those bytes and reads answers (see [`load`]). Every run is bounded by
//! count and time (at most [`MAX_DURATION_S`] seconds and [`MAX_REQUESTS`] requests), and only
//! loopback targets are accepted.

pub mod html;
pub mod load;
pub mod mix;
pub mod report;

use std::io::{IsTerminal, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::exit;
use crate::target::{RunningTarget, TargetArgs};
use crate::world::TenantSource;
use mix::RequestShape;
use report::BenchReport;

/// The longest run, seconds.
pub const MAX_DURATION_S: f64 = 600.0;
/// The most requests in one run.
pub const MAX_REQUESTS: u64 = 10_000_000;
/// The default traffic mix.
pub const DEFAULT_MIX: &str =
    "genuine=70,bad-signature=10,expired=10,unknown-kid=5,unknown-tenant=3,none=2";

/// Command-line arguments of `byoid bench`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_help = "\
Mixes: genuine (many distinct tokens across tenants and flavors), genuine-repeated (one token), \
bad-signature, expired, unknown-kid, unknown-tenant, none (alg: none). Weights are relative; \
a missing weight is 1.

Tokens are minted before the clock starts. Closed loop by default (each connection sends its \
next request when the answer arrives); with --rate the arrival rate is fixed (spread over the \
connections) and a request that falls due while its connection still waits for an earlier \
answer is timed from its scheduled send time, so a slow target cannot hide its queueing \
(coordinated omission). Runs stop at --duration or --requests, whichever comes first, and never \
exceed 600 s or 10,000,000 requests.

Exit codes: 0 ok; 100 a regression beyond --max-regression against --baseline; 2 bad usage \
(including a non-loopback --target-url); 96 setup error; 97 the target failed or never answered; \
100 also when the target rejected every genuine token of a genuine mix.")]
pub struct BenchArgs {
    /// The target.
    #[command(flatten)]
    pub target: TargetArgs,
    /// How hard and how long.
    #[command(flatten)]
    pub load: LoadArgs,
    /// Traffic mix, NAME=WEIGHT,... (see below).
    #[arg(long, default_value = DEFAULT_MIX)]
    pub mix: String,
    /// Distinct pre-minted tokens per mix.
    #[arg(long, default_value_t = 256)]
    pub pool: usize,
    /// Write the results as JSON here, and as an HTML page beside it (same name, `.html`).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the results as JSON here, to use later as --baseline (and the HTML page beside it).
    #[arg(long)]
    pub save_baseline: Option<PathBuf>,
    /// Compare with an earlier --json/--save-baseline file, per mix.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// With --baseline: fail (exit 100) when req/s dropped or p99 grew by more than PCT percent.
    #[arg(long, value_name = "PCT", default_value_t = 10.0)]
    pub max_regression: f64,
    /// Where requests name the tenant.
    #[arg(long, default_value = "header", value_parser = ["header", "path", "subdomain"])]
    pub tenant_source: String,
    /// Where the mock IdPs listen.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub idp_listen: SocketAddr,
    /// Write the manifest here (attached mode: load it into your target before the run).
    #[arg(long)]
    pub manifest_out: Option<PathBuf>,
    /// `jwks_cache_seconds` in the manifest.
    #[arg(long, default_value_t = 300)]
    pub jwks_cache_seconds: u64,
    /// Key seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// How long to wait for /healthz, in seconds (above 0, at most 600).
    #[arg(long, default_value_t = 30.0, value_parser = crate::cli_values::ready_timeout)]
    pub ready_timeout: f64,
}

/// How hard and how long to drive a target: the arguments `byoid bench` shares with the load
/// generator's lab (`harness/examples/loadgen_lab.rs`).
#[derive(clap::Args, Debug, Clone)]
pub struct LoadArgs {
    /// Run for this many seconds (default 10 unless --requests is given; at most 600).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Stop after this many requests (at most 10,000,000).
    #[arg(long)]
    pub requests: Option<u64>,
    /// Keep-alive HTTP/1.1 connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Load-generator threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Open loop: a constant total arrival rate in requests per second.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Per-request time limit in seconds (above 0, at most 120).
    #[arg(long, default_value_t = 5.0, value_parser = crate::cli_values::request_timeout)]
    pub timeout: f64,
}

/// The command line's defaults: 10 s closed loop on 64 connections, one thread per core.
impl Default for LoadArgs {
    fn default() -> Self {
        LoadArgs {
            duration: None,
            requests: None,
            connections: 64,
            threads: None,
            rate: None,
            timeout: 5.0,
        }
    }
}

impl LoadArgs {
    /// Checks the bounds clap cannot express; the error is a usage message.
    ///
    /// ```
    /// use byoid::bench::LoadArgs;
    /// let ok = LoadArgs { duration: Some(1.0), connections: 8, ..LoadArgs::default() };
    /// assert!(ok.check().is_ok());
    /// assert!(LoadArgs { duration: Some(601.0), ..ok.clone() }.check().is_err());
    /// assert!(LoadArgs { connections: 0, ..ok }.check().is_err());
    /// ```
    pub fn check(&self) -> Result<(), String> {
        if let Some(d) = self.duration {
            if !(d > 0.0 && d <= MAX_DURATION_S) {
                return Err(format!(
                    "--duration must be above 0 and at most {MAX_DURATION_S} seconds"
                ));
            }
        }
        if let Some(n) = self.requests {
            if n == 0 || n > MAX_REQUESTS {
                return Err(format!("--requests must be between 1 and {MAX_REQUESTS}"));
            }
        }
        if !(1..=4096).contains(&self.connections) {
            return Err("--connections must be between 1 and 4096".into());
        }
        if let Some(r) = self.rate {
            if !(r > 0.0 && r <= 10_000_000.0) {
                return Err(
                    "--rate must be above 0 and at most 10,000,000 requests per second".into(),
                );
            }
        }
        Ok(())
    }

    /// Generator threads: `--threads`, or one per core; at most 64 and one per connection.
    pub fn threads(&self) -> usize {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        self.threads
            .unwrap_or(cores)
            .clamp(1, 64)
            .min(self.connections)
    }

    /// The plan for driving `addr` with request bytes from `pools`, picked in `schedule`'s
    /// order (indices into `pools`).
    pub fn plan(
        &self,
        addr: SocketAddr,
        pools: Vec<Vec<Vec<u8>>>,
        schedule: Vec<u16>,
    ) -> load::Plan {
        let duration = self.duration.unwrap_or(if self.requests.is_some() {
            MAX_DURATION_S
        } else {
            10.0
        });
        load::Plan {
            addr,
            connections: self.connections,
            threads: self.threads(),
            rate: self.rate,
            max_requests: self.requests.unwrap_or(MAX_REQUESTS),
            duration: Duration::from_secs_f64(duration),
            timeout: Duration::from_secs_f64(self.timeout),
            pools: pools.into_iter().map(Arc::new).collect(),
            schedule: Arc::new(schedule),
        }
    }
}

/// Runs `plan` to its end, or until Ctrl-C stops it, with a progress line on stderr; returns
/// what was measured and whether Ctrl-C came.
pub async fn drive(plan: load::Plan) -> (load::Measurements, bool) {
    let n_mixes = plan.pools.len();
    let running = load::start(plan);
    let tty = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    let mut last_plain = std::time::Instant::now();
    let mut interrupted = false;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    while !running.finished() {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = &mut ctrl_c, if !interrupted => { interrupted = true; running.stop(); }
        }
        let (answered, failed) = running.progress.totals();
        let secs = running.started.elapsed().as_secs_f64();
        let line = format!(
            "{secs:>6.1} s  {answered:>10} answers  {:>10.0} req/s  {failed} errors",
            answered as f64 / secs.max(1e-9)
        );
        if tty {
            eprint!("\r\x1b[2K{line}");
        } else if last_plain.elapsed() >= Duration::from_secs(5) {
            last_plain = std::time::Instant::now();
            eprintln!("{line}");
        }
    }
    if tty {
        eprint!("\r\x1b[2K");
    }
    (running.join(n_mixes), interrupted)
}

/// Parses a loopback `http://host:port/path` URL into (socket address, Host header, path);
/// the address rules are [`crate::target::loopback_addr`]'s, the one check every command uses.
pub fn loopback_url(url: &str) -> Result<(SocketAddr, String, String), String> {
    let addr = crate::target::loopback_addr(url)?;
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    Ok((addr, authority.to_string(), path))
}

/// Runs the load mode; returns the process exit code.
pub async fn run(args: BenchArgs) -> i32 {
    match run_inner(args).await {
        Ok(code) => code,
        Err((code, msg)) => {
            eprintln!("error: {msg}");
            code
        }
    }
}

type Fail = (i32, String);

fn usage(msg: impl Into<String>) -> Fail {
    (exit::USAGE, msg.into())
}

async fn run_inner(args: BenchArgs) -> Result<i32, Fail> {
    args.load.check().map_err(usage)?;
    if !(1..=100_000).contains(&args.pool) {
        return Err(usage("--pool must be between 1 and 100000"));
    }
    if args.max_regression.is_nan() || args.max_regression < 0.0 {
        return Err(usage("--max-regression must be 0 or more"));
    }
    if !args.idp_listen.ip().is_loopback() {
        return Err(usage(format!(
            "--idp-listen must be a loopback address, got `{}`",
            args.idp_listen
        )));
    }
    let url = match &args.target.target_url {
        Some(u) => Some(loopback_url(u).map_err(usage)?),
        None => None,
    };
    let spec = args.target.spec();
    if args.target.defects_misplaced() {
        return Err(usage(
            "--defect applies to the built-in reference validator only",
        ));
    }
    let source: TenantSource = args.tenant_source.parse().map_err(usage)?;
    let mixes = mix::parse_mix(&args.mix).map_err(usage)?;
    let baseline = match &args.baseline {
        Some(p) => {
            let text = crate::input::read_to_string(p, crate::input::REPORT_LIMIT)
                .map_err(|e| (exit::SETUP_ERROR, format!("{}: {e}", p.display())))?;
            Some(
                serde_json::from_str::<serde_json::Value>(&text)
                    .map_err(|e| (exit::SETUP_ERROR, format!("{}: {e}", p.display())))?,
            )
        }
        None => None,
    };
    let threads = args.load.threads();

    // Set up: IdPs, manifest, target, token pools. None of it is timed.
    let world = mix::build_world(
        &mixes,
        args.seed,
        args.idp_listen,
        &source,
        args.jwks_cache_seconds,
    )
    .await
    .map_err(|e| (exit::SETUP_ERROR, format!("mock IdPs: {e}")))?;
    let mut _tmp = None;
    let manifest_path = match &args.manifest_out {
        Some(p) => p.clone(),
        None => {
            let dir = crate::temp_dir("bench").map_err(|e| (e.exit_code(), e.to_string()))?;
            let path = dir.path().join("manifest.json");
            _tmp = Some(dir);
            path
        }
    };
    crate::target::write_manifest(&manifest_path, &world.manifest).map_err(|e| {
        (
            exit::SETUP_ERROR,
            format!(
                "{}: cannot write the manifest: {e}",
                manifest_path.display()
            ),
        )
    })?;
    let mut target = RunningTarget::start(
        &spec,
        &manifest_path,
        Duration::from_secs_f64(args.ready_timeout),
    )
    .await
    .map_err(|e| (exit::TARGET_FAILED, e.to_string()))?;
    let addr: SocketAddr = match &url {
        Some((a, _, _)) => *a,
        None => target
            .addr
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| {
                (
                    exit::TARGET_FAILED,
                    format!("bad target address `{}`", target.addr),
                )
            })?,
    };
    let host = url
        .as_ref()
        .map(|(_, h, _)| h.clone())
        .unwrap_or_else(|| target.addr.clone());
    let shape = RequestShape {
        host,
        source: source.clone(),
        path: "/api/whoami".into(),
    };
    let minting = std::time::Instant::now();
    let pools = mix::build_pools(&mixes, &world.tenants, args.pool, &shape).await;
    let minted: usize = pools.iter().map(Vec::len).sum();
    eprintln!(
        "minted {minted} tokens in {:.2} s; starting {} connections on {threads} threads",
        minting.elapsed().as_secs_f64(),
        args.load.connections
    );
    if pools.iter().any(Vec::is_empty) {
        return Err((exit::SETUP_ERROR, "could not mint the token pools".into()));
    }
    let traffic_before = traffic_by_mix(&world);

    let plan = args.load.plan(addr, pools, mix::schedule(&mixes));
    let (measured, interrupted) = drive(plan).await;

    let traffic_after = traffic_by_mix(&world);
    let labels: Vec<report::MixLabel> = mixes
        .iter()
        .zip(traffic_before.iter().zip(&traffic_after))
        .map(|(m, (b, a))| report::MixLabel {
            name: m.kind.name(),
            weight: m.weight,
            idp: Some((a.0.saturating_sub(b.0), a.1.saturating_sub(b.1))),
        })
        .collect();
    let setup = report::RunSetup {
        target: target.description.clone(),
        connections: args.load.connections,
        threads,
        rate: args.load.rate,
        pool: args.pool,
    };
    let report = BenchReport::new(setup, &labels, &measured);

    // The target: did it survive?
    let died = target.exit_status().map(|status| {
        format!(
            "the target exited during the run ({status})\n{}",
            target.stderr_tail()
        )
    });
    target.stop().await;
    drop(world);

    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{}", report::render_table(&report));
    let baseline_label = args.baseline.as_ref().map(|p| p.display().to_string());
    let page_baseline = match (&baseline, &baseline_label) {
        (Some(doc), Some(label)) => Some(html::Baseline {
            label,
            doc,
            max_regression: args.max_regression,
        }),
        _ => None,
    };
    let mut page = None;
    for path in [&args.json, &args.save_baseline].into_iter().flatten() {
        let cannot = |p: &std::path::Path, e: std::io::Error| {
            (
                exit::SETUP_ERROR,
                format!("cannot write `{}`: {e}", p.display()),
            )
        };
        report.save(path).map_err(|e| cannot(path, e))?;
        // The page beside each JSON document, so the figures and their charts travel together.
        let html_path = html::page_path(path);
        let page = page.get_or_insert_with(|| html::render(&report, page_baseline.as_ref()));
        std::fs::write(&html_path, page.as_bytes()).map_err(|e| cannot(&html_path, e))?;
        let _ = writeln!(out, "Wrote {} and {}", path.display(), html_path.display());
    }
    if let Some(msg) = died {
        return Err((exit::TARGET_FAILED, msg));
    }
    report
        .require_answers()
        .map_err(|e| (exit::TARGET_FAILED, e))?;
    // The positive control of the load mode: a genuine mix whose answers are never 200 measured
    // only rejections, and its rate says nothing about the validator's accepting path.
    let rejected_genuine: Vec<&str> = report
        .mixes
        .iter()
        .filter(|m| m.name.starts_with("genuine") && m.requests > 0)
        .filter(|m| m.statuses.get("200").copied().unwrap_or(0) == 0)
        .map(|m| m.name.as_str())
        .collect();
    if !rejected_genuine.is_empty() {
        let _ = out.flush();
        eprintln!(
            "error: the target rejected every genuine token of the mix(es) {}: the figures measure rejections only",
            rejected_genuine.join(", ")
        );
        return Ok(exit::CASES_FAILED);
    }
    if let (Some(base), Some(path)) = (&baseline, &args.baseline) {
        let (cmp, notes) = report::compare(&report, base, args.max_regression)
            .map_err(|e| (exit::SETUP_ERROR, format!("{}: {e}", path.display())))?;
        let _ = write!(
            out,
            "\nBaseline {} (max regression {}%):\n{}",
            path.display(),
            args.max_regression,
            report::render_comparison(&cmp, &notes)
        );
        let regressed: Vec<&str> = cmp
            .iter()
            .filter(|c| !c.regressions.is_empty())
            .map(|c| c.name.as_str())
            .collect();
        if !regressed.is_empty() {
            let _ = out.flush();
            eprintln!(
                "error: performance regressed against `{}` in: {}",
                path.display(),
                regressed.join(", ")
            );
            return Ok(exit::CASES_FAILED);
        }
    }
    if interrupted {
        eprintln!("interrupted: the results cover the run until Ctrl-C");
    }
    Ok(exit::OK)
}

/// (JWKS, discovery + OAuth metadata) fetches per mix so far. Entra `common` tenants share
/// one counter (the common document's), so it is counted once per mix.
fn traffic_by_mix(w: &mix::BenchWorld) -> Vec<(u64, u64)> {
    w.tenants
        .iter()
        .map(|ts| {
            let mut seen_common = false;
            ts.iter().fold((0, 0), |(j, d), t| {
                if t.flavor() == mock_idp::Flavor::EntraCommon {
                    if seen_common {
                        return (j, d);
                    }
                    seen_common = true;
                }
                let tr = t.traffic();
                (j + tr.jwks, d + tr.discovery + tr.oauth_metadata)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{loopback_url, LoadArgs};

    #[test]
    fn load_defaults_are_the_command_lines() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            load: LoadArgs,
        }
        let parsed = <Cli as clap::Parser>::parse_from(["bench"]).load;
        assert_eq!(format!("{parsed:?}"), format!("{:?}", LoadArgs::default()));
    }

    #[test]
    fn only_loopback_urls_are_accepted() {
        assert_eq!(
            loopback_url("http://127.0.0.1:8080/").unwrap().0.port(),
            8080
        );
        assert_eq!(loopback_url("http://localhost:81").unwrap().2, "/");
        assert!(loopback_url("http://[::1]:8080/x").is_ok());
        assert!(loopback_url("http://10.0.0.1:8080/").is_err());
        assert!(loopback_url("http://127.0.0.1.evil.example:80/").is_err());
        assert!(loopback_url("https://127.0.0.1:443/").is_err());
        assert!(loopback_url("http://example.com/").is_err());
    }
}
