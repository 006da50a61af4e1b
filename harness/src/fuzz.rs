//! `byoid fuzz`: proptest-driven mutations of genuine tokens, judged by an oracle.
//!
//! Each iteration takes a genuine token of one flavor and applies a few mutations (issuer,
//! audience, lifetime, `nbf`, `typ`, `alg`, signature, client). The oracle says the token is
//! acceptable only if the signature, issuer, audience, lifetime, type and client are all valid
//! per the target contract; the target must then answer 200, and otherwise
//! `401 invalid_token`. A disagreement is shrunk by proptest to the fewest mutations that
//! still disagree and written as a scenario file that replays it (`--out-dir`).
//!
//! Bounded: at most `--cases` iterations and `--max-seconds` of wall time.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use mock_idp::Flavor;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};
use serde_json::Value;

use crate::catalog::{Case, ExpectSpec, Outcome, SignSpec, TokenSpec};
use crate::result::Verdict;
use crate::target::CaseTargets;
use crate::target::{RunningTarget, TargetArgs, TargetSpec};
use crate::world::{Settings, World};
use crate::{exit, recipe};

/// Command-line arguments of `byoid fuzz`.
#[derive(clap::Args, Debug, Clone)]
pub struct FuzzArgs {
    /// The target.
    #[command(flatten)]
    pub target: TargetArgs,
    /// Iterations at most.
    #[arg(long, default_value_t = 300)]
    pub cases: u32,
    /// Wall-time limit in seconds.
    #[arg(long, default_value_t = 60)]
    pub max_seconds: u64,
    /// RNG seed (same seed, same mutations).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where to write the scenario file of a shrunk failure.
    #[arg(long, default_value = "byoid-fuzz")]
    pub out_dir: PathBuf,
    /// Set to end fuzzing early (on SIGINT or SIGTERM): the iterations left pass trivially.
    #[arg(skip)]
    pub stop: Arc<std::sync::atomic::AtomicBool>,
}

/// One mutation plan: every field indexes a list of choices, 0 meaning "leave as is", so
/// shrinking moves towards the genuine token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Index into [`Flavor::ALL`].
    pub flavor: usize,
    /// `iss` change.
    pub iss: usize,
    /// `aud` change.
    pub aud: usize,
    /// `exp` change.
    pub exp: usize,
    /// `nbf` change.
    pub nbf: usize,
    /// `typ` change.
    pub typ: usize,
    /// `alg`/signature change.
    pub sig: usize,
    /// Client claim change.
    pub client: usize,
}

const ISS: &[&str] = &[
    "",
    "{issuer}/",
    "{issuer}x",
    "str:https://evil.example/",
    "-",
];
const AUD: &[&str] = &["", "str:https://evil.example/", "[aud,x]", "[x]", "-", "5"];
const EXP: &[&str] = &[
    "",
    "{now-skew-30}",
    "{now-skew+30}",
    "str:{now+3600}",
    "-",
    "{now+600}.5",
];
const NBF: &[&str] = &["", "{now+3600}", "{now+skew-10}"];
const TYP: &[&str] = &[
    "",
    "JWT",
    "at+jwt",
    "application/at+jwt",
    "AT+JWT",
    "-",
    "id_token",
    "JWS",
];
const SIG: &[&str] = &["", "none", "hs256-public-key", "flip-bit", "junk"];
const CLIENT: &[&str] = &["", "evil-client"];

/// A choice index that is mostly 0 ("leave as is"), so most tokens carry one or two
/// mutations and a single defect's blind spot is found quickly.
fn choice(n: usize) -> BoxedStrategy<usize> {
    prop_oneof![3 => Just(0usize), 1 => 1..n].boxed()
}

fn plan_strategy() -> impl Strategy<Value = Plan> {
    (
        0..Flavor::ALL.len(),
        choice(ISS.len()),
        choice(AUD.len()),
        choice(EXP.len()),
        choice(NBF.len()),
        choice(TYP.len()),
        choice(SIG.len()),
        choice(CLIENT.len()),
    )
        .prop_map(|(flavor, iss, aud, exp, nbf, typ, sig, client)| Plan {
            flavor,
            iss,
            aud,
            exp,
            nbf,
            typ,
            sig,
            client,
        })
}

/// The token recipe of a plan, in scenario-file terms.
pub fn token_spec(plan: &Plan, flavor: Flavor) -> TokenSpec {
    let mut spec = TokenSpec::default();
    let mut set_claim = |name: &str, choice: &str| match choice {
        "" => {}
        "-" => spec.remove_claims.push(name.to_string()),
        "[aud,x]" => {
            spec.claims.insert(
                name.into(),
                toml::Value::Array(vec!["{audience}".into(), "x".into()]),
            );
        }
        "[x]" => {
            spec.claims
                .insert(name.into(), toml::Value::Array(vec!["x".into()]));
        }
        "5" => {
            spec.claims.insert(name.into(), toml::Value::Integer(5));
        }
        other => {
            spec.claims
                .insert(name.into(), toml::Value::String(other.to_string()));
        }
    };
    set_claim("iss", ISS[plan.iss]);
    set_claim("aud", AUD[plan.aud]);
    set_claim("exp", EXP[plan.exp]);
    set_claim("nbf", NBF[plan.nbf]);
    if plan.client > 0 {
        let claim = match flavor {
            Flavor::Okta => "cid",
            Flavor::EntraV1 => "appid",
            Flavor::Generic => "client_id",
            _ => "azp",
        };
        set_claim(claim, CLIENT[plan.client]);
    }
    match TYP[plan.typ] {
        "" => {}
        "-" => spec.remove_header.push("typ".into()),
        t => {
            spec.header
                .insert("typ".into(), toml::Value::String(t.into()));
        }
    }
    match SIG[plan.sig] {
        "none" => {
            spec.header.insert("alg".into(), "none".into());
            spec.sign = SignSpec::Empty;
        }
        "hs256-public-key" => {
            spec.header.insert("alg".into(), "HS256".into());
            spec.sign = SignSpec::Hmac;
        }
        "flip-bit" => spec.damage = Some("flip-bit".into()),
        "junk" => spec.sign = SignSpec::Junk,
        _ => {}
    }
    spec
}

/// What the tenant under test expects of a token: the oracle's fixed inputs.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The exact `iss`.
    pub issuer: &'a str,
    /// The audience `aud` must be or contain.
    pub audience: &'a str,
    /// The one allowed client id.
    pub client: &'a str,
    /// The time of the check, in Unix seconds.
    pub now: i64,
    /// Allowed clock skew, in seconds.
    pub skew: i64,
}

/// The oracle: is this token acceptable under the contract for this tenant?
///
/// ```
/// use byoid::fuzz::{acceptable, Expected};
/// use serde_json::json;
/// let want = Expected { issuer: "https://i/", audience: "api", client: "c", now: 1_000, skew: 0 };
/// let claims = json!({"iss": "https://i/", "aud": "api", "exp": 2_000, "sub": "s", "client_id": "c"});
/// assert!(acceptable(&json!({"typ": "at+jwt", "alg": "RS256"}), &claims, true, &want));
/// assert!(!acceptable(&json!({"typ": "at+jwt", "alg": "RS256"}), &claims, false, &want));
/// ```
pub fn acceptable(
    header: &Value,
    claims: &Value,
    genuine_signature: bool,
    want: &Expected<'_>,
) -> bool {
    let Expected {
        issuer,
        audience,
        client,
        now,
        skew,
    } = *want;
    let num = |v: &Value| v.as_f64();
    let typ_ok = header["typ"].as_str().is_some_and(|t| {
        let t = t.to_ascii_lowercase();
        let t = t.strip_prefix("application/").unwrap_or(&t);
        t == "at+jwt" || t == "jwt"
    });
    let iss_ok = claims["iss"].as_str() == Some(issuer);
    let aud_ok = match &claims["aud"] {
        Value::String(s) => s == audience,
        Value::Array(a) => a.iter().all(Value::is_string) && a.iter().any(|x| x == audience),
        _ => false,
    };
    let exp_ok = num(&claims["exp"]).is_some_and(|e| now as f64 <= e + skew as f64);
    let nbf_ok = match claims.get("nbf") {
        None => true,
        Some(v) => num(v).is_some_and(|n| (now + skew) as f64 >= n),
    };
    let client_claim = ["client_id", "azp", "cid", "appid"]
        .iter()
        .find_map(|k| claims.get(*k));
    let client_ok = client_claim.and_then(Value::as_str) == Some(client);
    genuine_signature && typ_ok && iss_ok && aud_ok && exp_ok && nbf_ok && client_ok
}

fn decode(seg: &str) -> Value {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(seg)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

/// What a fuzz run found.
#[derive(Debug)]
pub struct FuzzOutcome {
    /// The positive controls, sent before any mutation: when one fails, nothing is fuzzed.
    pub controls: Vec<crate::result::Control>,
    /// Iterations run.
    pub iterations: u32,
    /// The shrunk failing plan and the scenario file written for it.
    pub failure: Option<(Plan, PathBuf, String)>,
}

/// Runs the fuzzer against `target`; writes a scenario file for a shrunk failure.
pub async fn fuzz(target: TargetSpec, args: &FuzzArgs) -> Result<FuzzOutcome, crate::HarnessError> {
    let text = "section = \"fuzz\"\ntitle = \"Fuzz\"\nlevel = \"must\"\n[[case]]\nid = \"base\"\ntitle = \"base\"\nflavors = \"all\"\nexpect = \"ok\"\n";
    let bases = crate::catalog::parse_file(std::path::Path::new("fuzz.toml"), text)?;
    let world = Arc::new(
        World::build(
            &bases,
            Settings {
                seed: args.seed,
                ..Settings::default()
            },
        )
        .await?,
    );
    // Removed on every way out, an early error or an interruption included.
    let dir = crate::temp_dir("fuzz")?;
    let manifest = dir.path().join("manifest.json");
    crate::target::write_manifest(&manifest, &world.manifest).map_err(|source| {
        crate::HarnessError::Io {
            path: manifest.clone(),
            doing: "cannot write the manifest",
            source,
        }
    })?;
    let running = RunningTarget::start(&target, &manifest, Duration::from_secs(30)).await?;
    let addr = running.addr.clone();
    // Mutations of a genuine token mean nothing to a target that rejects the genuine token.
    let targets = CaseTargets::Shared(addr.clone());
    let (controls, _) =
        crate::runner::run_controls(&world, &targets, Duration::from_secs(5), None).await;
    if controls.iter().any(|c| !c.accepted) {
        running.stop().await;
        return Ok(FuzzOutcome {
            controls,
            iterations: 0,
            failure: None,
        });
    }
    let handle = tokio::runtime::Handle::current();
    let stop = args.stop.clone();
    let started = Instant::now();
    let limit = Duration::from_secs(args.max_seconds.clamp(1, 3600));
    let iterations = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&args.seed.to_le_bytes());
    let config = Config {
        cases: args.cases.clamp(1, 100_000),
        failure_persistence: None,
        max_shrink_iters: 512,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    let (w, a, it, b) = (
        world.clone(),
        addr.clone(),
        iterations.clone(),
        bases.clone(),
    );
    let result = tokio::task::block_in_place(|| {
        runner.run(&plan_strategy(), |plan| {
            if started.elapsed() > limit || stop.load(std::sync::atomic::Ordering::Relaxed) {
                // Out of time, or interrupted: the remaining iterations pass trivially.
                return Ok(());
            }
            it.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            handle
                .block_on(check(&w, &a, &b, &plan))
                .map_err(TestCaseError::fail)
        })
    });
    running.stop().await;
    let failure = match result {
        Ok(()) => None,
        Err(TestError::Fail(reason, plan)) => {
            let flavor = Flavor::ALL[plan.flavor];
            let spec = token_spec(&plan, flavor);
            let expect = oracle(&world, &bases, &plan)
                .map(|(_, _, o)| o)
                .unwrap_or(Outcome::InvalidToken);
            let path = write_scenario(
                &args.out_dir,
                &plan,
                flavor,
                &spec,
                expect,
                &reason.to_string(),
            )
            .map_err(|source| crate::HarnessError::Io {
                path: args.out_dir.clone(),
                doing: "cannot write the shrunk scenario",
                source,
            })?;
            Some((plan, path, reason.to_string()))
        }
        Err(TestError::Abort(reason)) => {
            return Err(crate::HarnessError::FuzzAborted(reason.to_string()))
        }
    };
    Ok(FuzzOutcome {
        controls,
        iterations: iterations.load(std::sync::atomic::Ordering::Relaxed),
        failure,
    })
}

/// Builds the plan's token and asks the oracle about it.
fn oracle(world: &World, bases: &[Case], plan: &Plan) -> Result<(Case, String, Outcome), String> {
    let flavor = Flavor::ALL[plan.flavor];
    let base = bases
        .iter()
        .find(|c| c.info.flavor == flavor)
        .ok_or("no base case")?;
    let tenants = &world.cases[&base.info.id];
    let spec = token_spec(plan, flavor);
    let ctx = recipe::Context {
        now: now(),
        skew: world.settings.clock_skew_seconds,
        tenant: &tenants.own,
        other: None,
        sibling: None,
        attacker: world.idp.attacker().tenant(),
        attacker_jku: String::new(),
    };
    let token = recipe::build(&spec, &ctx).map_err(|e| e.to_string())?.token;
    let parts: Vec<&str> = token.split('.').collect();
    let want = Expected {
        issuer: tenants.own.issuer(),
        audience: tenants.own.audience(),
        client: &tenants.own.clients()[0].id,
        now: ctx.now,
        skew: ctx.skew,
    };
    let ok = acceptable(
        &decode(parts[0]),
        &decode(parts.get(1).copied().unwrap_or("")),
        plan.sig == 0,
        &want,
    );
    Ok((
        base.clone(),
        token,
        if ok {
            Outcome::Ok
        } else {
            Outcome::InvalidToken
        },
    ))
}

async fn check(world: &World, addr: &str, bases: &[Case], plan: &Plan) -> Result<(), String> {
    let (mut case, token, outcome) = oracle(world, bases, plan)?;
    case.token = TokenSpec {
        raw: Some(token),
        ..TokenSpec::default()
    };
    case.expect = ExpectSpec::Outcome(outcome);
    let targets = CaseTargets::Shared(addr.to_string());
    let r = crate::runner::run_case_on(world, &targets, &case, Duration::from_secs(5)).await;
    if matches!(r.verdict, Verdict::Pass) {
        Ok(())
    } else {
        Err(format!("oracle says {outcome}; {}", r.reasons.join("; ")))
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn toml_inline(t: &toml::Table) -> String {
    let items: Vec<String> = t
        .iter()
        .map(|(k, v)| format!("{} = {}", toml::Value::String(k.clone()), v))
        .collect();
    format!("{{ {} }}", items.join(", "))
}

/// Writes the scenario that replays a failing plan; returns its path.
fn write_scenario(
    dir: &std::path::Path,
    plan: &Plan,
    flavor: Flavor,
    spec: &TokenSpec,
    expect: Outcome,
    reason: &str,
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let id = format!(
        "f{}{}{}{}{}{}{}",
        plan.iss, plan.aud, plan.exp, plan.nbf, plan.typ, plan.sig, plan.client
    );
    let mut token = Vec::new();
    if !spec.header.is_empty() {
        token.push(format!("header = {}", toml_inline(&spec.header)));
    }
    if !spec.claims.is_empty() {
        token.push(format!("claims = {}", toml_inline(&spec.claims)));
    }
    if !spec.remove_header.is_empty() {
        token.push(format!("remove_header = {:?}", spec.remove_header));
    }
    if !spec.remove_claims.is_empty() {
        token.push(format!("remove_claims = {:?}", spec.remove_claims));
    }
    match spec.sign {
        SignSpec::Empty => token.push("sign = \"empty\"".into()),
        SignSpec::Hmac => token.push("sign = \"hmac\"".into()),
        SignSpec::Junk => token.push("sign = \"junk\"".into()),
        _ => {}
    }
    if let Some(d) = &spec.damage {
        token.push(format!("damage = {d:?}"));
    }
    let expect = match expect {
        Outcome::Ok => "ok",
        _ => "invalid-token",
    };
    let text = format!(
        "# Found by `byoid fuzz` and shrunk by proptest. Replay: byoid scenarios --catalog {dir}\n# {reason}\nsection = \"fuzz\"\ntitle = \"Shrunk fuzz findings\"\nlevel = \"must\"\ntags = [\"fuzz\"]\n\n[[case]]\nid = \"{id}\"\ntitle = \"fuzz finding {id}\"\nflavors = [\"{flavor}\"]\ntoken = {{ {} }}\nexpect = \"{expect}\"\n",
        token.join(", "),
        dir = dir.display(),
        reason = reason.replace('\n', " "),
    );
    let path = dir.join(format!("fuzz-{id}-{flavor}.toml"));
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Runs `byoid fuzz`; returns the process exit code.
pub async fn run(args: FuzzArgs) -> i32 {
    if let Err(e) = args.target.check_url() {
        eprintln!("error: {e}");
        return exit::USAGE;
    }
    match fuzz(args.target.spec(), &args).await {
        Ok(FuzzOutcome { controls, .. }) if controls.iter().any(|c| !c.accepted) => {
            for c in controls.iter().filter(|c| !c.accepted) {
                eprintln!(
                    "error: the genuine {} token was rejected ({}): nothing was fuzzed",
                    c.flavor, c.detail
                );
            }
            exit::CASES_FAILED
        }
        Ok(FuzzOutcome {
            iterations,
            failure: None,
            ..
        }) => {
            println!("fuzz: {iterations} iterations, no disagreement with the oracle");
            exit::OK
        }
        Ok(FuzzOutcome {
            iterations,
            failure: Some((plan, path, reason)),
            ..
        }) => {
            println!("fuzz: disagreement after {iterations} iterations, shrunk to {plan:?}\n  {reason}\n  replay: {}", path.display());
            exit::CASES_FAILED
        }
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}
