//! The `byoid` command: run the scenario catalog against a validator, or serve the mock IdPs.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use byoid::report::console::{self, Color};
use byoid::target::TargetArgs;
use byoid::{exit, ExpectedFailures, ScenarioOptions};
use clap::{Parser, Subcommand};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Conformance harness for BYOID access-token validators.
#[derive(Parser, Debug)]
#[command(name = "byoid", version = version_line(), about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the RFC 9068 / 6750 / 8725 catalog against a target (default: the built-in reference validator).
    Scenarios(ScenariosArgs),
    /// Load mode: drive a target with a traffic mix for a bounded time or count.
    Bench(byoid::bench::BenchArgs),
    /// Mutate genuine tokens and check the target's verdicts against the oracle.
    Fuzz(byoid::fuzz::FuzzArgs),
    /// Compare or combine reports.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Mock identity providers.
    Idp {
        #[command(subcommand)]
        command: IdpCommand,
    },
}

#[derive(Subcommand, Debug)]
enum IdpCommand {
    /// Serve mock IdPs (one tenant per flavor by default) until Ctrl-C.
    Serve(byoid::idp_cli::ServeArgs),
}

#[derive(Subcommand, Debug)]
enum ReportCommand {
    /// Print the verdict changes from report A to report B; exits 100 on a regression.
    Diff {
        /// The earlier report.json.
        before: PathBuf,
        /// The later report.json.
        after: PathBuf,
    },
    /// Join the report.json files of a partitioned run (`scenarios --partition K/N`, one per
    /// share) into one report: report.json, junit.xml, summary.md, report.html and
    /// report.sarif.
    Merge {
        /// The parts' report.json files, shares 1/N to N/N.
        reports: Vec<PathBuf>,
        /// Where to write the merged report.
        #[arg(long)]
        report_dir: PathBuf,
    },
    /// Build one HTML matrix of cases against several targets' reports.
    Matrix {
        /// report.json files (the label is the file's parent directory name).
        reports: Vec<PathBuf>,
        /// Where to write the HTML.
        #[arg(long, short, default_value = "matrix.html")]
        output: PathBuf,
    },
    /// Write the findings page of library adapters: every case each fails or warns, under the
    /// library behaviour its `library.toml` says is behind it, with a command to reproduce it.
    Findings {
        /// The adapters' `library.toml` files, in page order.
        notes: Vec<PathBuf>,
        /// The folder holding each library's run as `NAME/report.json` (NAME from its notes).
        #[arg(long)]
        reports: PathBuf,
        /// Where to write the Markdown.
        #[arg(long, short, default_value = "FINDINGS.md")]
        output: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
struct ScenariosArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Where the mock IdPs listen.
    #[arg(long, default_value = "127.0.0.1:0")]
    idp_listen: SocketAddr,
    /// Write the manifest here (attached mode: load it into your target before the run).
    #[arg(long)]
    manifest_out: Option<PathBuf>,
    /// Where requests name the tenant [default: header].
    #[arg(long, value_parser = ["header", "path", "subdomain"])]
    tenant_source: Option<String>,
    /// Run only share K of N of the selected cases (a stable hash of each case id), to fan a
    /// run out over N CI runners; `byoid report merge` joins their report.json files.
    #[arg(long, value_name = "K/N")]
    partition: Option<byoid::partition::Partition>,
    /// With `--tenant-source path`: the routes' path before the slug segment, e.g.
    /// `/tenants` for `GET /tenants/<slug>/api/whoami` (the manifest's `tenant_source.prefix`).
    #[arg(long, value_name = "PREFIX")]
    path_prefix: Option<String>,
    /// Serve the mock IdPs over HTTPS with a CA made at start (the manifest's `ca_bundle`).
    #[arg(long)]
    tls: bool,
    /// A target profile (TOML, contract section 7): your API's own routes, where it names the
    /// tenant, and the capabilities it lacks (their cases are reported as not applicable).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["tenant_source", "path_prefix"])]
    profile: Option<PathBuf>,
    /// Print the tenants the selected cases need (slug, metadata address, audience, client id)
    /// as tab-separated lines to register in an attached target, and exit. Use a fixed
    /// --idp-listen port and the same options as the run.
    #[arg(long)]
    print_tenants: bool,
    /// Only cases whose id starts with, or whose tag or flavor equals, one of these (repeatable).
    #[arg(long)]
    filter: Vec<String>,
    /// A flavor the target does not serve: its cases are not run, and the report says so
    /// (repeatable). Without it, a flavor whose genuine tokens are rejected fails the run.
    #[arg(long, value_name = "FLAVOR")]
    skip_flavor: Vec<mock_idp::Flavor>,
    /// List the selected cases and exit.
    #[arg(long)]
    list: bool,
    /// Cases in flight at once (1 to 256).
    #[arg(long, default_value_t = 32, value_parser = byoid::cli_values::jobs)]
    jobs: usize,
    /// Per-request time limit in seconds (above 0, at most 120).
    #[arg(long, default_value_t = 5.0, value_parser = byoid::cli_values::request_timeout)]
    timeout: f64,
    /// How long to wait for /healthz, in seconds (above 0, at most 600).
    #[arg(long, default_value_t = 30.0, value_parser = byoid::cli_values::ready_timeout)]
    ready_timeout: f64,
    /// The whole run's limit in seconds (above 0, at most 86400): cases not finished by then
    /// are not run, and the run exits 97.
    #[arg(long, default_value_t = byoid::DEFAULT_DEADLINE.as_secs_f64(), value_parser = byoid::cli_values::deadline)]
    deadline: f64,
    /// Key seed (same seed, same keys, same report bytes).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Load the catalog from this directory instead of the built-in one.
    #[arg(long)]
    catalog: Option<PathBuf>,
    /// Write report.json, junit.xml, summary.md, report.html and report.sarif here.
    #[arg(long)]
    report_dir: Option<PathBuf>,
    /// Cases known to fail for this target (TOML `[expected_failures]` id = "reason").
    #[arg(long)]
    expected_failures: Option<PathBuf>,
    /// SHOULD-level misses fail the run too.
    #[arg(long)]
    strict: bool,
    /// Compare with an accepted report.json and fail on any verdict that got worse.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Write this run's verdicts to the --baseline file instead of comparing.
    #[arg(long, requires = "baseline")]
    update_baseline: bool,
    /// Colour: auto, always, never.
    #[arg(long, default_value = "auto", value_parser = ["auto", "always", "never"])]
    color: String,
}

/// `byoid --version`: the harness, the contract it speaks and the built-in catalog, so that a
/// report can say exactly what judged it.
fn version_line() -> &'static str {
    static LINE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    LINE.get_or_init(|| {
        format!(
            "{} (contract {}, catalog {})",
            env!("CARGO_PKG_VERSION"),
            byoid::world::CONTRACT,
            byoid::catalog::builtin_hash()
        )
    })
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return ExitCode::from(code as u8);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::UNEXPECTED as u8);
        }
    };
    let code = rt.block_on(async {
        match cli.command {
            Command::Scenarios(args) => scenarios(args).await,
            Command::Idp {
                command: IdpCommand::Serve(args),
            } => byoid::idp_cli::serve(args).await,
            Command::Report { command } => report_command(command),
            Command::Bench(args) => byoid::bench::run(args).await,
            Command::Fuzz(args) => {
                // Fuzzing blocks its thread between requests, so the signal sets a flag that
                // the loop reads; the run then ends its target and cleans up as usual.
                let stop = args.stop.clone();
                let signal = tokio::spawn(async move {
                    let code = interruption().await;
                    stop.store(true, std::sync::atomic::Ordering::Relaxed);
                    code
                });
                let code = byoid::fuzz::run(args).await;
                if signal.is_finished() {
                    signal.await.unwrap_or(code)
                } else {
                    signal.abort();
                    code
                }
            }
        }
    });
    ExitCode::from(code as u8)
}

async fn scenarios(args: ScenariosArgs) -> i32 {
    let target = args.target.spec();
    if args.target.defects_misplaced() {
        eprintln!("error: --defect applies to the built-in reference validator only");
        return exit::USAGE;
    }
    if !args.idp_listen.ip().is_loopback() {
        eprintln!(
            "error: --idp-listen must be a loopback address, got `{}`",
            args.idp_listen
        );
        return exit::USAGE;
    }
    if let Err(e) = args.target.check_url() {
        eprintln!("error: {e}");
        return exit::USAGE;
    }
    let mut tenant_source = args
        .tenant_source
        .as_deref()
        .unwrap_or("header")
        .parse()
        .unwrap_or(byoid::world::TenantSource::Header("X-Tenant-Slug".into()));
    let profile = match &args.profile {
        Some(path) => match byoid::profile::TargetProfile::load(path) {
            Ok(p) => Some(std::sync::Arc::new(p)),
            Err(e) => {
                eprintln!("error: {}", console::printable(&e.to_string()));
                return exit::SETUP_ERROR;
            }
        },
        None => None,
    };
    if let Some(prefix) = &args.path_prefix {
        let usable = prefix.starts_with('/')
            && !prefix.ends_with('/')
            && prefix[1..].split('/').all(|s| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
            });
        if !matches!(tenant_source, byoid::world::TenantSource::Path(_)) || !usable {
            eprintln!("error: --path-prefix wants --tenant-source path and a prefix like `/tenants` (segments of letters, digits, `-`, `.`, `_`, `~`), got `{prefix}`");
            return exit::USAGE;
        }
        tenant_source = byoid::world::TenantSource::Path(prefix.clone());
    }
    let opts = ScenarioOptions {
        target,
        catalog_dir: args.catalog.clone(),
        filters: args.filter.clone(),
        skip_flavors: args.skip_flavor.clone(),
        tenant_source,
        partition: args.partition,
        jobs: args.jobs,
        timeout: Duration::from_secs_f64(args.timeout),
        ready_timeout: Duration::from_secs_f64(args.ready_timeout),
        deadline: Duration::from_secs_f64(args.deadline),
        seed: args.seed,
        idp_listen: args.idp_listen,
        manifest_out: args.manifest_out.clone(),
        tls: args.tls,
        profile,
    };
    let expected = match &args.expected_failures {
        Some(p) => match ExpectedFailures::load(p) {
            Ok(e) => Some(e),
            Err(e) => {
                eprintln!("error: {e}");
                return e.exit_code();
            }
        },
        None => None,
    };
    if args.print_tenants {
        if args.idp_listen.port() == 0 {
            eprintln!("error: --print-tenants wants a fixed --idp-listen port (e.g. 127.0.0.1:8089): the metadata addresses name it, and the run must use the same one");
            return exit::USAGE;
        }
        let printed = match byoid::select_cases(&opts) {
            Ok(cases) => byoid::tenant_registrations(&opts, &cases).await,
            Err(e) => Err(e),
        };
        return match printed {
            Ok(text) => {
                let _ = std::io::stdout().lock().write_all(text.as_bytes());
                exit::OK
            }
            Err(e) => {
                eprintln!("error: {}", console::printable(&e.to_string()));
                e.exit_code()
            }
        };
    }
    if args.list {
        return match byoid::select_cases(&opts) {
            Ok(cases) => {
                let mut out = std::io::stdout().lock();
                for c in cases {
                    let _ = writeln!(
                        out,
                        "{:<6} {}  {}",
                        c.info.level.to_string(),
                        c.info.id,
                        c.info.title
                    );
                }
                exit::OK
            }
            Err(e) => {
                eprintln!("error: {e}");
                e.exit_code()
            }
        };
    }
    // A report directory that cannot be written is reported before the run, not after.
    if let Some(dir) = &args.report_dir {
        if let Err(e) = std::fs::create_dir_all(dir)
            .and_then(|_| std::fs::write(dir.join(".byoid-write-check"), b""))
        {
            eprintln!(
                "error: report directory `{}` is not writable: {e}",
                dir.display()
            );
            return exit::SETUP_ERROR;
        }
        let _ = std::fs::remove_file(dir.join(".byoid-write-check"));
    }
    let color = match args.color.as_str() {
        "always" => Color::On,
        "never" => Color::Off,
        _ if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none() => Color::On,
        _ => Color::Off,
    };
    let cases = match byoid::select_cases(&opts) {
        Ok(cases) => cases,
        Err(e) => {
            eprintln!("error: {}", console::printable(&e.to_string()));
            return e.exit_code();
        }
    };
    let progress = Progress::start(cases.len());
    let judged = progress.judged.clone();
    let on_result = {
        let progress = progress.clone();
        move |r: &byoid::result::CaseResult| progress.record(r)
    };
    let (report, interrupted) = tokio::select! {
        r = byoid::run_selected(&opts, cases, on_result) => (r, None),
        code = interruption() => {
            // Dropping the run ended the target's process group and removed the run's
            // temporary directory; what was judged so far becomes the report.
            let mut info = byoid::run_info(&opts, opts.target.describe());
            info.interrupted = true;
            let cases = std::mem::take(&mut *judged.lock().unwrap_or_else(|e| e.into_inner()));
            (Ok(byoid::report::Report::interrupted(info, cases)), Some(code))
        }
    };
    progress.finish();
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {}", console::printable(&e.to_string()));
            return e.exit_code();
        }
    };
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{}", console::render(&report, color)).is_err() {
        return exit::OK; // broken pipe: the reader went away
    }
    let _ = writeln!(
        out,
        "Target: {}  ({} ms, seed {})",
        report.run.target, report.timings.run_ms, report.run.seed
    );
    if let Some(dir) = &args.report_dir {
        if let Err((path, e)) = report.write_files(dir) {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            return exit::SETUP_ERROR;
        }
        let _ = writeln!(
            out,
            "Reports: {}/{{report.json,junit.xml,summary.md,report.html,report.sarif}}",
            dir.display()
        );
    }
    if let Some(code) = interrupted {
        let _ = out.flush();
        eprintln!(
            "interrupted: the report holds the {} case(s) judged before the signal",
            report.cases.len()
        );
        return code;
    }
    if let Some(exited) = &report.run.target_exited {
        let not_run = report
            .cases
            .iter()
            .filter(|c| c.verdict == byoid::result::Verdict::Skip)
            .count();
        let _ = out.flush();
        let (status, tail) = exited.split_once('\n').unwrap_or((exited, ""));
        eprintln!(
            "error: the target exited during the run ({status}); {not_run} case(s) were not run\n{}",
            console::printable(tail)
        );
        return exit::TARGET_FAILED;
    }
    if report.run.deadline_passed {
        let _ = out.flush();
        eprintln!(
            "error: the run's deadline ({} s, --deadline) passed: the target is too slow; the cases it cut off were not run",
            args.deadline
        );
        return exit::TARGET_FAILED;
    }
    if let Some(path) = &args.baseline {
        match byoid::report::baseline::check(&report, path, args.update_baseline) {
            Ok(check) => {
                let _ = write!(
                    out,
                    "\nBaseline {}:\n{}",
                    path.display(),
                    byoid::report::diff::render(&check.diff)
                );
                if check.written {
                    let _ = writeln!(out, "Baseline written: {}", path.display());
                }
                if check.fails() {
                    eprintln!(
                        "error: verdicts regressed against the baseline `{}`",
                        path.display()
                    );
                    return exit::CASES_FAILED;
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                return exit::SETUP_ERROR;
            }
        }
    }
    if let Some(expected) = expected {
        let (new, fixed, stale) = expected.compare(&report, args.strict);
        for id in &stale {
            eprintln!("warning: expected failure `{id}` matches no selected case");
        }
        for id in &fixed {
            eprintln!("error: `{id}` is listed as an expected failure but now passes: remove it from the list");
        }
        for id in &new {
            eprintln!("error: `{id}` failed and is not an expected failure");
        }
        return finished_run_code(
            !new.is_empty() || !fixed.is_empty(),
            &report,
            "no case was judged: a run that tested nothing does not pass",
        );
    }
    let fatal = report.must_failures()
        + report.summary.untestable
        + if args.strict { report.summary.warn } else { 0 };
    finished_run_code(
        fatal > 0,
        &report,
        "no case was judged (every selected case was skipped): a run that tested nothing does not pass",
    )
}

/// The exit code of a run that finished: `failed` by the rules in force, or else a run that
/// judged nothing, which does not pass either (`nothing_judged` says so on stderr).
fn finished_run_code(failed: bool, report: &byoid::report::Report, nothing_judged: &str) -> i32 {
    if failed {
        exit::CASES_FAILED
    } else if !report.judged_anything() {
        eprintln!("error: {nothing_judged}");
        exit::NOTHING_JUDGED
    } else {
        exit::OK
    }
}

fn report_command(command: ReportCommand) -> i32 {
    use byoid::report::{diff, html};
    match command {
        ReportCommand::Diff { before, after } => {
            let (a, b) = match (diff::load(&before), diff::load(&after)) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(e), _) | (_, Err(e)) => {
                    eprintln!("error: {e}");
                    return exit::SETUP_ERROR;
                }
            };
            let d = diff::compare(&a, &b);
            print!("{}", diff::render(&d));
            if d.has_regressions() {
                exit::CASES_FAILED
            } else {
                exit::OK
            }
        }
        ReportCommand::Merge {
            reports,
            report_dir,
        } => {
            let parts: Result<Vec<_>, _> = reports
                .iter()
                .map(|p| byoid::report::merge::load(p))
                .collect();
            let merged = match parts.and_then(byoid::report::merge::merge) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {e}");
                    return exit::SETUP_ERROR;
                }
            };
            // As `scenarios --report-dir` does: a CI merge job starts with no such folder.
            if let Err(e) = std::fs::create_dir_all(&report_dir) {
                eprintln!("error: cannot create `{}`: {e}", report_dir.display());
                return exit::SETUP_ERROR;
            }
            if let Err((path, e)) = merged.write_files(&report_dir) {
                eprintln!("error: cannot write `{}`: {e}", path.display());
                return exit::SETUP_ERROR;
            }
            println!(
                "{} cases: {}\nReports: {}/{{report.json,junit.xml,summary.md,report.html,report.sarif}}",
                merged.summary.total,
                merged.summary.counts(),
                report_dir.display()
            );
            if merged.summary.fail + merged.summary.error + merged.summary.untestable > 0 {
                exit::CASES_FAILED
            } else {
                exit::OK
            }
        }
        ReportCommand::Findings {
            notes,
            reports,
            output,
        } => {
            use byoid::report::findings::{self, LibraryNotes, LibraryRun};
            let mut runs = Vec::new();
            for path in notes {
                let loaded = LibraryNotes::load(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|n| {
                        let report_path = reports.join(&n.name).join("report.json");
                        byoid::report::merge::load(&report_path)
                            .map(|report| LibraryRun {
                                notes_path: path.clone(),
                                notes: n,
                                report,
                            })
                            .map_err(|e| e.to_string())
                    });
                match loaded {
                    Ok(run) => runs.push(run),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return exit::SETUP_ERROR;
                    }
                }
            }
            let page = match findings::render(&runs) {
                Ok(page) => page,
                Err(e) => {
                    eprintln!("error: {e}");
                    return exit::SETUP_ERROR;
                }
            };
            if let Err(e) = std::fs::write(&output, page) {
                eprintln!("error: cannot write `{}`: {e}", output.display());
                return exit::SETUP_ERROR;
            }
            println!("wrote {}", output.display());
            exit::OK
        }
        ReportCommand::Matrix { reports, output } => {
            let mut loaded = Vec::new();
            for p in &reports {
                match diff::load(p) {
                    Ok(v) => {
                        let label = p
                            .parent()
                            .and_then(|d| d.file_name())
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_else(|| p.display().to_string());
                        loaded.push((label, v));
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        return exit::SETUP_ERROR;
                    }
                }
            }
            if let Err(e) = std::fs::write(&output, html::render_matrix(&loaded)) {
                eprintln!("error: cannot write `{}`: {e}", output.display());
                return exit::SETUP_ERROR;
            }
            println!("wrote {}", output.display());
            exit::OK
        }
    }
}

/// Progress on stderr while a run goes: a line that rewrites itself on a terminal, and in a
/// CI log (not a terminal) a plain line every few seconds once the run has lasted more than
/// two. It also keeps every result, for the report of an interrupted run.
#[derive(Clone)]
struct Progress {
    judged: std::sync::Arc<std::sync::Mutex<Vec<byoid::result::CaseResult>>>,
    ticker: std::sync::Arc<Option<tokio::task::JoinHandle<()>>>,
    tty: bool,
}

impl Progress {
    fn start(total: usize) -> Progress {
        let tty = std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
        let judged: std::sync::Arc<std::sync::Mutex<Vec<byoid::result::CaseResult>>> =
            Default::default();
        let ticker = (!tty).then(|| {
            let judged = judged.clone();
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                tokio::time::sleep(Duration::from_secs(2)).await;
                loop {
                    let n = judged.lock().map(|j| j.len()).unwrap_or(0);
                    eprintln!(
                        "byoid: {n}/{total} cases judged after {} s",
                        started.elapsed().as_secs()
                    );
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            })
        });
        Progress {
            judged,
            ticker: std::sync::Arc::new(ticker),
            tty,
        }
    }

    fn record(&self, r: &byoid::result::CaseResult) {
        let mut judged = self.judged.lock().unwrap_or_else(|e| e.into_inner());
        judged.push(r.clone());
        if self.tty {
            eprint!(
                "\r\x1b[2K[{:>4}] {}",
                judged.len(),
                console::printable(&byoid::recipe::truncate(&r.case.id, 70))
            );
        }
    }

    fn finish(&self) {
        if let Some(t) = self.ticker.as_ref() {
            t.abort();
        }
        if self.tty {
            eprint!("\r\x1b[2K");
        }
    }
}

/// Waits for SIGINT or SIGTERM; returns the exit code a shell gives that signal (130, 143).
async fn interruption() -> i32 {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => 130,
        _ = term.recv() => 143,
    }
}
