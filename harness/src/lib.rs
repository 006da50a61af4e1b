//! byoid: a conformance harness for BYOID ("bring your own identity") access-token
//! validators. It starts mock identity providers that behave like Entra ID, Okta and Auth0,
//! tells the validator under test about them through a manifest, sends it tokens and requests
//! from a catalog of RFC 9068, RFC 6750 and RFC 8725 cases, and judges the status,
//! `WWW-Authenticate` challenge and IdP traffic of each answer.
//!
//! It is not a validator library: the validator under test is a separate HTTP service that
//! speaks the target contract (`byoid-target/2`, `docs/target-contract.md`). The built-in reference validator
//! (`byoid-reference`) is the default target.
//!
//! # Running the catalog from code
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), byoid::HarnessError> {
//! let opts = byoid::ScenarioOptions::default(); // built-in reference validator
//! let report = byoid::run_scenarios(&opts).await?;
//! assert_eq!(report.must_failures(), 0);
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! * [`catalog`]: the TOML scenario files and their schema.
//! * [`world`]: the mock IdPs, one tenant per case, and the manifest.
//! * [`target`]: launching or attaching to the target.
//! * [`recipe`], [`client`], [`judge`]: making tokens, sending requests, judging answers.
//! * [`runner`]: positive controls, then the cases, concurrently.
//! * [`result`]: what a run found, case by case (the model every report renders).
//! * [`report`]: the result model and its renderers.
//! * [`exit`]: the process exit codes.

#![warn(missing_docs)]

pub mod bench;
pub mod catalog;
pub mod cli_values;
pub mod client;
pub mod exit;
pub mod fuzz;
pub mod idp_cli;
pub mod input;
pub mod judge;
pub mod partition;
pub mod profile;
pub mod recipe;
pub mod report;
pub mod request;
pub mod result;
pub mod runner;
pub mod steps;
pub mod target;
pub mod world;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use catalog::Case;
use report::{Report, RunInfo};
use result::{CaseResult, Verdict};
use runner::RunOptions;
use target::{RunningTarget, TargetSpec};
use world::{Settings, TenantSource, World};

/// The default of `--deadline`: the catalog takes seconds against a working target, so a run
/// this long is a target that hangs.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(300);

/// Everything `byoid scenarios` can be told.
#[derive(Clone, Debug)]
pub struct ScenarioOptions {
    /// The target.
    pub target: TargetSpec,
    /// A catalog directory instead of the built-in catalog.
    pub catalog_dir: Option<PathBuf>,
    /// `--filter` terms (any matches).
    pub filters: Vec<String>,
    /// Flavors the target does not serve (`--skip-flavor`): their cases are not selected.
    pub skip_flavors: Vec<mock_idp::Flavor>,
    /// Only this share of the selected cases (`--partition K/N`).
    pub partition: Option<partition::Partition>,
    /// Where requests name the tenant.
    pub tenant_source: TenantSource,
    /// Cases in flight.
    pub jobs: usize,
    /// Per-request limit.
    pub timeout: Duration,
    /// Readiness limit.
    pub ready_timeout: Duration,
    /// The whole run's limit: cases not finished by then are not run (`--deadline`).
    pub deadline: Duration,
    /// Key seed.
    pub seed: u64,
    /// Where the IdPs listen.
    pub idp_listen: SocketAddr,
    /// Where to write the manifest (default: a temporary file).
    pub manifest_out: Option<PathBuf>,
    /// Serve the mock IdPs over HTTPS (`require_https_metadata` and `ca_bundle` set).
    pub tls: bool,
    /// The target's own routes and lacking capabilities (`--profile`); `None`: the contract's
    /// routes. Its tenant source replaces `tenant_source`.
    pub profile: Option<Arc<profile::TargetProfile>>,
}

impl Default for ScenarioOptions {
    fn default() -> Self {
        ScenarioOptions {
            target: TargetSpec::Builtin {
                defects: Vec::new(),
            },
            catalog_dir: None,
            filters: Vec::new(),
            skip_flavors: Vec::new(),
            partition: None,
            tenant_source: TenantSource::Header("X-Tenant-Slug".into()),
            jobs: 32,
            timeout: Duration::from_secs(5),
            ready_timeout: Duration::from_secs(30),
            deadline: DEFAULT_DEADLINE,
            seed: 0,
            idp_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            manifest_out: None,
            tls: false,
            profile: None,
        }
    }
}

impl ScenarioOptions {
    /// The world a run with these options builds: the profile's tenant source wins.
    pub fn world_settings(&self) -> Settings {
        Settings {
            tenant_source: self
                .profile
                .as_ref()
                .map_or_else(|| self.tenant_source.clone(), |p| p.tenant_source.clone()),
            seed: self.seed,
            idp_listen: self.idp_listen,
            tls: self.tls,
            profile: self.profile.clone(),
            ..Settings::default()
        }
    }

    /// The defaults against the built-in reference validator with `defects` planted.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), byoid::HarnessError> {
    /// let opts = byoid::ScenarioOptions {
    ///     filters: vec!["rfc8725/3.1".into()],
    ///     ..byoid::ScenarioOptions::builtin(vec!["alg-from-header".into()])
    /// };
    /// let report = byoid::run_scenarios(&opts).await?;
    /// assert!(report.summary.fail > 0);
    /// # Ok(()) }
    /// ```
    pub fn builtin(defects: Vec<String>) -> Self {
        ScenarioOptions {
            target: TargetSpec::Builtin { defects },
            ..ScenarioOptions::default()
        }
    }
}

/// Why a run could not produce verdicts.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The catalog is invalid.
    #[error("{0}")]
    Catalog(#[from] catalog::CatalogError),
    /// No case matched the filters.
    #[error("no case matches the filters {0:?}")]
    NoCases(Vec<String>),
    /// The mock IdPs could not start.
    #[error("mock IdPs: {0}")]
    Idp(#[from] mock_idp::Error),
    /// The target could not be used.
    #[error("{0}")]
    Target(#[from] target::TargetError),
    /// A file or directory the run needs could not be written or made. The message names the
    /// cause as well as [`source`](std::error::Error::source) does: the CLI prints one line.
    #[error("{}: {doing}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the harness was doing, e.g. `cannot write the manifest`.
        doing: &'static str,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// A file the user named could not be read (missing, not a regular file, too large).
    #[error("{}: {source}", path.display())]
    Input {
        /// The file.
        path: PathBuf,
        /// Why it was not read.
        #[source]
        source: input::InputError,
    },
    /// The `--expected-failures` file is not the TOML it should be.
    #[error("{}: {}", path.display(), source.to_string().trim())]
    ExpectedFailures {
        /// The file.
        path: PathBuf,
        /// Where and why parsing stopped.
        #[source]
        source: toml::de::Error,
    },
    /// proptest gave up on the fuzz run (too many rejected inputs).
    #[error("fuzzing aborted: {0}")]
    FuzzAborted(String),
}

impl HarnessError {
    /// The process exit code for this error.
    ///
    /// ```
    /// use byoid::{exit, HarnessError};
    /// let e = HarnessError::Io {
    ///     path: "/nonexistent/manifest.json".into(),
    ///     doing: "cannot write the manifest",
    ///     source: std::io::ErrorKind::NotFound.into(),
    /// };
    /// assert_eq!(e.exit_code(), exit::SETUP_ERROR);
    /// assert!(e.to_string().starts_with("/nonexistent/manifest.json: cannot write the manifest: "));
    /// ```
    pub fn exit_code(&self) -> i32 {
        match self {
            HarnessError::Catalog(_)
            | HarnessError::Idp(_)
            | HarnessError::Io { .. }
            | HarnessError::Input { .. }
            | HarnessError::ExpectedFailures { .. }
            | HarnessError::FuzzAborted(_) => exit::SETUP_ERROR,
            HarnessError::NoCases(_) => exit::NO_CASES,
            HarnessError::Target(_) => exit::TARGET_FAILED,
        }
    }
}

/// Loads and filters the catalog.
pub fn select_cases(opts: &ScenarioOptions) -> Result<Vec<Case>, HarnessError> {
    let all = match &opts.catalog_dir {
        Some(dir) => catalog::load_dir(dir)?,
        None => catalog::builtin()?,
    };
    let cases: Vec<Case> = all
        .into_iter()
        .filter(|c| !opts.skip_flavors.contains(&c.info.flavor))
        .filter(|c| {
            opts.filters.is_empty() || opts.filters.iter().any(|f| catalog::matches_filter(c, f))
        })
        .filter(|c| opts.partition.is_none_or(|p| p.contains(&c.info.id)))
        .collect();
    if cases.is_empty() {
        let mut terms = opts.filters.clone();
        terms.extend(opts.partition.map(|p| format!("partition {p}")));
        return Err(HarnessError::NoCases(terms));
    }
    Ok(cases)
}

/// Starts the IdPs, writes the manifest, starts the target, runs the cases and stops it all.
pub async fn run_scenarios(opts: &ScenarioOptions) -> Result<Report, HarnessError> {
    run_scenarios_with(opts, |_| {}).await
}

/// Like [`run_scenarios`], calling `on_result` as each case finishes (for progress output).
pub async fn run_scenarios_with(
    opts: &ScenarioOptions,
    on_result: impl Fn(&CaseResult) + Send + Sync + 'static,
) -> Result<Report, HarnessError> {
    run_selected(opts, select_cases(opts)?, on_result).await
}

/// Like [`run_scenarios_with`], for cases already selected with [`select_cases`].
pub async fn run_selected(
    opts: &ScenarioOptions,
    cases: Vec<Case>,
    on_result: impl Fn(&CaseResult) + Send + Sync + 'static,
) -> Result<Report, HarnessError> {
    let started = Instant::now();
    let settings = opts.world_settings();
    let world = World::build(&cases, settings).await?;
    let (manifest_path, _tmp) = match &opts.manifest_out {
        Some(p) => (p.clone(), None),
        None => {
            let dir = temp_dir("run")?;
            (dir.path().join("manifest.json"), Some(dir))
        }
    };
    target::write_manifest(&manifest_path, &world.manifest).map_err(|source| HarnessError::Io {
        path: manifest_path.clone(),
        doing: "cannot write the manifest",
        source,
    })?;
    let health = opts
        .profile
        .as_ref()
        .map_or("/healthz", |p| p.health.as_str());
    let target =
        RunningTarget::start_with_health(&opts.target, &manifest_path, opts.ready_timeout, health)
            .await?;
    let world = Arc::new(world);
    let (controls, mut results) = runner::run(
        world.clone(),
        target::CaseTargets::of(&target),
        cases,
        RunOptions {
            jobs: opts.jobs,
            timeout: opts.timeout,
            deadline: Some(started + opts.deadline),
        },
        on_result,
    )
    .await;
    let mut info = run_info(opts, target.description.clone());
    // A launched target that died mid-run is reported once, in the run's metadata; the cases
    // it took down (no connection, or one cut short) were not run rather than failed.
    let mut target = target;
    if let Some(status) = target.exit_status() {
        target.stderr_settled().await;
        let not_run = format!("not run: the target had exited ({status})");
        for r in results.iter_mut().filter(|r| taken_down(r)) {
            r.verdict = Verdict::Skip;
            r.reasons = vec![not_run.clone()];
        }
        info.target_exited = Some(
            format!("{status}\n{}", target.stderr_tail())
                .trim_end()
                .to_string(),
        );
    }
    info.deadline_passed = results
        .iter()
        .any(|r| r.reasons.iter().any(|x| x == runner::DEADLINE_REASON));
    target.stop().await;
    Ok(Report::new(
        info,
        controls,
        results,
        started.elapsed().as_millis() as u64,
    ))
}

/// The tenants a run of `cases` with these options tells its target about, one per line,
/// tab-separated: slug, metadata address, audience, client id, and what differs from a
/// tenant's defaults. An attached target that cannot read the manifest registers these
/// before the run; the same options (seed, `--idp-listen`, filters) give the same lines.
pub async fn tenant_registrations(
    opts: &ScenarioOptions,
    cases: &[Case],
) -> Result<String, HarnessError> {
    let world = World::build(cases, opts.world_settings()).await?;
    let mut out = String::from("# slug\tmetadata_address\taudience\tclient_id\tnotes\n");
    let first = |v: &serde_json::Value| {
        v.as_array()
            .and_then(|a| a.first())
            .and_then(|x| x.as_str())
            .unwrap_or("")
            .to_string()
    };
    for t in world.manifest["tenants"].as_array().into_iter().flatten() {
        let mut notes = Vec::new();
        if t["enabled"] == serde_json::Value::Bool(false) {
            notes.push("disabled".to_string());
        }
        if t["require_access_token_type"] == serde_json::Value::Bool(true) {
            notes.push("typ at+jwt required".to_string());
        }
        if let Some(issuers) = t["valid_issuers"].as_array() {
            let list: Vec<&str> = issuers.iter().filter_map(|i| i.as_str()).collect();
            notes.push(format!("issuers {}", list.join(" ")));
        }
        if let Some(h) = t["agree_header"].as_str() {
            notes.push(format!("agree_header {h}"));
        }
        let audiences = t["valid_audiences"].as_array().map_or(0, Vec::len);
        if audiences > 1 {
            notes.push(format!("{audiences} audiences, see the manifest"));
        }
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\n",
            t["slug"].as_str().unwrap_or(""),
            t["metadata_address"].as_str().unwrap_or(""),
            first(&t["valid_audiences"]),
            first(&t["allowed_client_ids"]),
            notes.join("; ")
        ));
    }
    Ok(out)
}

/// The metadata of a run with these options against `target` (also what an interrupted run's
/// report says).
pub fn run_info(opts: &ScenarioOptions, target: String) -> RunInfo {
    RunInfo {
        target,
        harness_version: env!("CARGO_PKG_VERSION").to_string(),
        catalog_hash: if opts.catalog_dir.is_none() {
            catalog::builtin_hash()
        } else {
            "custom".into()
        },
        seed: opts.seed,
        tenant_source: opts.world_settings().tenant_source.name().to_string(),
        profile: opts.profile.as_ref().map(|p| p.summary()),
        filters: opts.filters.clone(),
        partition: opts.partition.map(|p| p.to_string()),
        skipped_flavors: opts.skip_flavors.iter().map(|f| f.to_string()).collect(),
        target_exited: None,
        deadline_passed: false,
        interrupted: false,
    }
}

/// Whether a case ended in error because the target was gone: refused or cut-off
/// connections.
fn taken_down(r: &CaseResult) -> bool {
    r.verdict == Verdict::Error
        && r.observed.as_ref().is_some_and(|o| {
            matches!(
                o.failure,
                Some(client::Failure::Refused | client::Failure::Closed(_))
            )
        })
}

/// A fresh directory under the system temp dir, removed when dropped however the work that
/// made it ends. Its name, `byoid-WHAT-PID-XXXXXX`, tells which process left it behind
/// should that process be killed.
pub(crate) fn temp_dir(what: &str) -> Result<tempfile::TempDir, HarnessError> {
    tempfile::Builder::new()
        .prefix(&format!("byoid-{what}-{}-", std::process::id()))
        .tempdir()
        .map_err(|source| HarnessError::Io {
            path: std::env::temp_dir(),
            doing: "cannot make a temporary directory",
            source,
        })
}

/// Cases known to fail for a target, each with a reason (`--expected-failures FILE`).
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFailures {
    /// Case id (or id prefix) to reason.
    #[serde(default)]
    pub expected_failures: BTreeMap<String, String>,
}

impl ExpectedFailures {
    /// Loads the file; errors name the file, line and field.
    pub fn load(path: &std::path::Path) -> Result<Self, HarnessError> {
        let text = input::read_to_string(path, input::CONFIG_LIMIT).map_err(|source| {
            HarnessError::Input {
                path: path.to_path_buf(),
                source,
            }
        })?;
        toml::from_str(&text).map_err(|source| HarnessError::ExpectedFailures {
            path: path.to_path_buf(),
            source,
        })
    }

    fn covers(&self, id: &str) -> Option<&str> {
        self.expected_failures
            .iter()
            .find(|(k, _)| catalog::id_within(id, k))
            .map(|(k, _)| k.as_str())
    }

    /// Compares a run with the list: (new failures, entries that now pass, entries matching nothing).
    pub fn compare(
        &self,
        report: &Report,
        strict: bool,
    ) -> (Vec<String>, Vec<String>, Vec<String>) {
        let failing = |v: Verdict| {
            matches!(v, Verdict::Fail | Verdict::Error | Verdict::Untestable)
                || (strict && v == Verdict::Warn)
        };
        let mut new = Vec::new();
        let mut fixed = BTreeMap::new();
        let mut used = std::collections::BTreeSet::new();
        for c in &report.cases {
            match self.covers(&c.case.id) {
                Some(k) => {
                    used.insert(k.to_string());
                    if !failing(c.verdict) && c.verdict != Verdict::Warn {
                        fixed.insert(c.case.id.clone(), ());
                    }
                }
                None if failing(c.verdict) => new.push(c.case.id.clone()),
                None => {}
            }
        }
        let stale = self
            .expected_failures
            .keys()
            .filter(|k| !used.contains(*k))
            .cloned()
            .collect();
        (new, fixed.into_keys().collect(), stale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn temporary_directories_are_named_for_the_process_and_removed_on_drop() {
        let dir = temp_dir("test").unwrap();
        let path = dir.path().to_path_buf();
        assert!(path.is_dir() && path.starts_with(std::env::temp_dir()));
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(&format!("byoid-test-{}-", std::process::id())),
            "{name}"
        );
        std::fs::write(path.join("manifest.json"), "{}").unwrap();
        drop(dir);
        assert!(!path.exists());
    }

    #[test]
    fn expected_failures_errors_keep_their_cause() {
        let missing = std::env::temp_dir().join("byoid-no-such-expected-failures.toml");
        let e = ExpectedFailures::load(&missing).unwrap_err();
        assert!(matches!(e, HarnessError::Input { .. }), "{e:?}");
        let io = e.source().and_then(|s| s.source());
        let io = io.and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(io.map(|e| e.kind()), Some(std::io::ErrorKind::NotFound));

        let dir = temp_dir("test").unwrap();
        let bad = dir.path().join("expected.toml");
        std::fs::write(&bad, "[expected_failures]\nx = 1\n").unwrap();
        let e = ExpectedFailures::load(&bad).unwrap_err();
        assert!(matches!(e, HarnessError::ExpectedFailures { .. }), "{e:?}");
        assert!(e.source().is_some_and(|s| s.is::<toml::de::Error>()));
        assert!(
            e.to_string().starts_with(&format!("{}: ", bad.display())),
            "{e}"
        );
        assert_eq!(e.exit_code(), exit::SETUP_ERROR);
    }
}
