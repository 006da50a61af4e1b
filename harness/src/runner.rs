//! Runs cases against a target: positive controls first, then every case on its own tenant,
//! concurrently. The verdict of a case comes only from what the target answered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::catalog::{Case, Expect, Level, Outcome, Placement, Step, TokenIn, TrafficExpect};
use crate::client::{self, Outgoing};
use crate::judge::{self, Match, Observed};
use crate::recipe::{self, Context};
use crate::result::{control_id, CaseResult, Control, Evidence, Verdict, CONTROL_SECTION};
use crate::target::{CaseTarget, CaseTargets};
use crate::world::{CaseTenants, TenantSource, World};
use mock_idp::{Flavor, MintOptions};

/// Options of a run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Cases in flight at once.
    pub jobs: usize,
    /// Per-request time limit.
    pub timeout: Duration,
    /// When the whole run must end: cases not finished by then are not run (verdict skip).
    pub deadline: Option<Instant>,
}

/// The reason given to cases the run's deadline cut off.
pub const DEADLINE_REASON: &str = "not run: the run's deadline (--deadline) passed first";

/// Runs the positive controls, then the cases. `on_result` sees each result as it lands.
pub async fn run(
    world: Arc<World>,
    targets: CaseTargets,
    cases: Vec<Case>,
    opts: RunOptions,
    on_result: impl Fn(&CaseResult) + Send + Sync + 'static,
) -> (Vec<Control>, Vec<CaseResult>) {
    let (controls, mut control_results) = run_controls(&world, &targets, opts.timeout).await;
    control_results.iter().for_each(&on_result);
    let controls_arc = Arc::new(controls.clone());
    let sem = Arc::new(tokio::sync::Semaphore::new(opts.jobs.max(1)));
    let on_result = Arc::new(on_result);
    let mut set = tokio::task::JoinSet::new();
    // Stateful cases mostly wait (rotations, cache windows, cooldowns): start them first so
    // their waits overlap the CPU work of the others. Results keep catalog order.
    let mut order: Vec<(usize, Case)> = cases.into_iter().enumerate().collect();
    order.sort_by_key(|(i, c)| (!c.is_stateful(), *i));
    for (index, case) in order {
        let world = world.clone();
        let sem = sem.clone();
        let targets = targets.clone();
        let controls = controls_arc.clone();
        let on_result = on_result.clone();
        let timeout = opts.timeout;
        let deadline = opts.deadline;
        set.spawn(async move {
            let _permit = sem.acquire().await;
            let start = Instant::now();
            let cut_off = || base_result(&case, Verdict::Skip, vec![DEADLINE_REASON.into()]);
            let control = controls.iter().find(|c| c.flavor == case.flavor);
            let mut result = match control {
                Some(c) if !c.accepted => base_result(
                    &case,
                    Verdict::Untestable,
                    vec![format!(
                        "the positive control {} failed: {}",
                        control_id(c.flavor),
                        c.detail
                    )],
                ),
                _ => match deadline {
                    Some(d) if Instant::now() >= d => cut_off(),
                    Some(d) => tokio::time::timeout_at(
                        d.into(),
                        run_case_on(&world, &targets, &case, timeout),
                    )
                    .await
                    .unwrap_or_else(|_| cut_off()),
                    None => run_case_on(&world, &targets, &case, timeout).await,
                },
            };
            result.duration = start.elapsed();
            on_result(&result);
            (index, result)
        });
    }
    let mut results: Vec<(usize, CaseResult)> = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Ok(r) = r {
            results.push(r);
        }
    }
    results.sort_by_key(|(i, _)| *i);
    control_results.extend(results.into_iter().map(|(_, r)| r));
    (controls, control_results)
}

/// Sends a genuine token of each flavor the world has a control tenant for, all at once: the
/// positive controls, as [`Control`]s and as case results of their own (section
/// [`CONTROL_SECTION`]), in flavor order.
pub async fn run_controls(
    world: &Arc<World>,
    targets: &CaseTargets,
    timeout: Duration,
) -> (Vec<Control>, Vec<CaseResult>) {
    let mut set = tokio::task::JoinSet::new();
    for (index, flavor) in world.controls.keys().copied().enumerate() {
        let (world, targets) = (world.clone(), targets.clone());
        set.spawn(async move {
            let slug = world.controls[&flavor].slug().to_string();
            let result = match targets.for_case(&world.manifest_for(&[&slug])).await {
                Ok(target) => control(&world, &target, flavor, timeout).await,
                Err(e) => {
                    let result = control_result(flavor, Verdict::Error, vec![e]);
                    (Control::of(&result), result)
                }
            };
            (index, result)
        });
    }
    let mut done = Vec::new();
    while let Some(Ok(r)) = set.join_next().await {
        done.push(r);
    }
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).unzip()
}

/// One flavor's positive control.
async fn control(
    world: &World,
    target: &CaseTarget,
    flavor: Flavor,
    timeout: Duration,
) -> (Control, CaseResult) {
    let target_addr = target.addr.as_str();
    let tenant = &world.controls[&flavor];
    let token = tenant.mint(&MintOptions::default());
    let req = request_for(
        world,
        target_addr,
        tenant.slug(),
        None,
        &crate::catalog::RequestSpec::default(),
        &token,
    );
    let res = client::send(target_addr, &req.1, &req.0, timeout).await;
    let (m, observed, reasons) = judge::judge(&Expect::default(), &res);
    let reasons = reasons
        .into_iter()
        .map(|r| stable_text(world, target_addr, None, r))
        .collect();
    let verdict = match m {
        Match::Expected | Match::Acceptable => Verdict::Pass,
        Match::Wrong => Verdict::Fail,
        Match::NoAnswer => Verdict::Error,
    };
    let mut result = control_result(flavor, verdict, reasons);
    result.observed = Some(stable_observed(world, target_addr, None, observed));
    (Control::of(&result), result)
}

/// The sentence a positive control rests on (checked against the contract by the calibration
/// test, as every case's is).
pub const CONTROL_REQUIREMENT: &str = "Target contract section 4: \"A target MUST answer each situation of this table with its status and challenge\" A genuine token is the table's valid token: 200. Every case of the flavor depends on it.";

/// The result of a flavor's positive control, as a case of its own.
fn control_result(flavor: Flavor, verdict: Verdict, reasons: Vec<String>) -> CaseResult {
    CaseResult {
        id: control_id(flavor),
        section: CONTROL_SECTION.into(),
        section_title: "Positive controls: a genuine token of each flavor is accepted".into(),
        title: format!(
            "a genuine {flavor} access token is accepted (every {flavor} case depends on it)"
        ),
        requirement: CONTROL_REQUIREMENT.into(),
        refs: vec!["byoid target contract section 4".into()],
        level: Level::Must,
        tags: vec!["control".into()],
        flavor,
        verdict,
        expected: judge::expect_text(&Expect::default()),
        observed: None,
        reasons,
        evidence: None,
        duration: Duration::ZERO,
    }
}

fn base_result(case: &Case, verdict: Verdict, reasons: Vec<String>) -> CaseResult {
    CaseResult {
        id: case.id.clone(),
        section: case.section.clone(),
        section_title: case.section_title.clone(),
        title: case.title.clone(),
        requirement: case.requirement.clone(),
        refs: case.refs.clone(),
        level: case.level,
        tags: case.tags.clone(),
        flavor: case.flavor,
        verdict,
        expected: judge::expect_text(&case.expect.full()),
        observed: None,
        reasons,
        evidence: None,
        duration: Duration::ZERO,
    }
}

struct Tally {
    worst: Match,
    observed: Option<Observed>,
    evidence: Option<Evidence>,
    reasons: Vec<String>,
}

impl Tally {
    fn record(&mut self, m: Match, obs: Observed, ev: Evidence, reasons: Vec<String>, label: &str) {
        let rank = |m: Match| match m {
            Match::Expected => 0,
            Match::Acceptable => 1,
            Match::Wrong => 2,
            Match::NoAnswer => 3,
        };
        if rank(m) > rank(self.worst) || self.observed.is_none() {
            if rank(m) > rank(self.worst) {
                self.reasons = reasons
                    .into_iter()
                    .map(|r| {
                        if label.is_empty() {
                            r
                        } else {
                            format!("{label}: {r}")
                        }
                    })
                    .collect();
            }
            self.worst = if rank(m) > rank(self.worst) {
                m
            } else {
                self.worst
            };
            self.observed = Some(obs);
            self.evidence = Some(ev);
        }
    }
}

/// Runs one case on the target `targets` gives it (its tenants must exist in `world`).
pub async fn run_case_on(
    world: &World,
    targets: &CaseTargets,
    case: &Case,
    timeout: Duration,
) -> CaseResult {
    let Some(tenants) = world.cases.get(&case.id) else {
        return base_result(
            case,
            Verdict::Error,
            vec!["no tenant was made for this case".into()],
        );
    };
    match targets
        .for_case(&world.manifest_for(&tenants.slugs()))
        .await
    {
        Ok(target) => run_case(world, &target, case, timeout).await,
        Err(e) => base_result(case, Verdict::Error, vec![e]),
    }
}

/// Runs one case against `target` (its tenants must exist in `world`).
pub async fn run_case(
    world: &World,
    target: &CaseTarget,
    case: &Case,
    timeout: Duration,
) -> CaseResult {
    let addr = target.addr.as_str();
    let Some(tenants) = world.cases.get(&case.id) else {
        return base_result(
            case,
            Verdict::Error,
            vec!["no tenant was made for this case".into()],
        );
    };
    if case.tenant.metadata_over_http && !world.settings.tls {
        return base_result(
            case,
            Verdict::Skip,
            vec![
                "needs an HTTPS run (`--tls`): only then does the manifest require HTTPS metadata"
                    .into(),
            ],
        );
    }
    let before = tenants.own.traffic();
    let case_started = target.instant();
    let cache_window = Duration::from_secs(world.settings.jwks_cache_seconds.max(1));
    let windows = || {
        let elapsed = target.instant().saturating_duration_since(case_started);
        1 + (elapsed.as_millis() / cache_window.as_millis()) as u64
    };
    let jku_marker = format!("/c/{}/", tenants.own.slug());
    let attacker_jku = format!("{}{jku_marker}jwks", world.idp.attacker().uri());
    let mut tally = Tally {
        worst: Match::Expected,
        observed: None,
        evidence: None,
        reasons: Vec::new(),
    };
    let default_steps = [Step {
        send: true,
        ..Step::default()
    }];
    let steps: &[Step] = if case.steps.is_empty() {
        &default_steps
    } else {
        &case.steps
    };
    let case_expect = case.expect.full();
    // `token.once`: one token for every request that uses the case's token.
    let mut case_token: Option<(String, i64)> = None;
    for (n, step) in steps.iter().enumerate() {
        let label = if case.steps.is_empty() {
            String::new()
        } else {
            format!("step {}", n + 1)
        };
        if let Some(r) = step.rotate {
            tenants.own.rotate(r);
        }
        if let Some(f) = &step.faults {
            tenants.own.set_faults(f.clone());
        }
        if let Some(q) = &step.quirks {
            tenants.own.set_quirks(q.clone());
        }
        if let Some(ms) = step.wait_ms {
            target.wait(Duration::from_millis(ms.min(10_000))).await;
        }
        if step.wait_for_cache_expiry {
            target
                .wait(Duration::from_millis(
                    world.settings.jwks_cache_seconds.min(10) * 1000 + 300,
                ))
                .await;
        }
        let expect = step
            .expect
            .as_ref()
            .map(|e| e.full())
            .unwrap_or_else(|| case_expect.clone());
        let token_spec = step.token.as_ref().unwrap_or(&case.token);
        let sends = if step.send {
            1
        } else {
            step.repeat.unwrap_or(0).min(1000)
        };
        let placement = step.tenant.unwrap_or(case.request.tenant);
        let reuse = step.token.is_none() && case.token.once;
        for _ in 0..sends {
            let ctx = context(world, target, tenants, &attacker_jku);
            let built = match &case_token {
                Some((token, minted_at)) if reuse => Ok((token.clone(), *minted_at)),
                _ => recipe::build(token_spec, &ctx).map(|b| (b.token, ctx.now)),
            };
            if reuse && case_token.is_none() {
                if let Ok(t) = &built {
                    case_token = Some(t.clone());
                }
            }
            match built {
                Ok((token, minted_at)) => {
                    let (m, obs, ev, reasons) = send_and_judge(
                        world, addr, case, tenants, placement, &token, &expect, timeout, minted_at,
                    )
                    .await;
                    let stop = m == Match::NoAnswer;
                    tally.record(m, obs, ev, reasons, &label);
                    if stop {
                        break;
                    }
                }
                Err(e) => {
                    return base_result(
                        case,
                        Verdict::Error,
                        vec![format!("{}: cannot build the token: {e}", case.origin)],
                    )
                }
            }
        }
        if let Some(k) = step.unknown_kids {
            for i in 0..k.min(1000) {
                let mut spec = token_spec.clone();
                spec.header.insert(
                    "kid".into(),
                    toml::Value::String(format!("unknown-kid-{i}")),
                );
                let ctx = context(world, target, tenants, &attacker_jku);
                let Ok(built) = recipe::build(&spec, &ctx) else {
                    continue;
                };
                let e = step.expect.as_ref().map(|e| e.full()).unwrap_or(Expect {
                    outcome: Outcome::InvalidToken,
                    ..Expect::default()
                });
                let (m, obs, ev, reasons) = send_and_judge(
                    world,
                    addr,
                    case,
                    tenants,
                    placement,
                    &built.token,
                    &e,
                    timeout,
                    ctx.now,
                )
                .await;
                tally.record(m, obs, ev, reasons, &label);
            }
        }
        if let Some(t) = &step.traffic {
            check_traffic(
                t,
                &tenants.own.traffic().since(&before),
                &label,
                &mut tally,
                windows(),
            );
        }
    }
    if let Some(t) = &case_expect.traffic {
        check_traffic(
            t,
            &tenants.own.traffic().since(&before),
            "",
            &mut tally,
            windows(),
        );
    }
    if !case_expect.attacker_may_be_contacted {
        let hits = world
            .idp
            .attacker()
            .journal()
            .recent()
            .iter()
            .filter(|e| e.path.contains(&jku_marker))
            .count();
        if hits > 0 {
            tally.worst = Match::Wrong;
            tally.reasons.push(format!("the target fetched from the attacker host {hits} time(s) (SSRF / untrusted key URL)"));
        }
    }
    let verdict = match tally.worst {
        Match::Expected => Verdict::Pass,
        Match::Acceptable => Verdict::Acceptable,
        Match::Wrong if case.level == Level::Must => Verdict::Fail,
        Match::Wrong => Verdict::Warn,
        Match::NoAnswer => Verdict::Error,
    };
    let mut r = base_result(case, verdict, tally.reasons);
    r.observed = tally.observed;
    r.evidence = tally.evidence;
    r
}

fn check_traffic(
    t: &TrafficExpect,
    d: &mock_idp::Traffic,
    label: &str,
    tally: &mut Tally,
    windows: u64,
) {
    let scale = if t.per_cache_window { windows } else { 1 };
    let per = if scale > 1 {
        format!(" ({scale} cache windows)")
    } else {
        String::new()
    };
    let mut fail = |msg: String| {
        tally.worst = if tally.worst == Match::NoAnswer {
            Match::NoAnswer
        } else {
            Match::Wrong
        };
        tally.reasons.push(if label.is_empty() {
            msg
        } else {
            format!("{label}: {msg}")
        });
    };
    if let Some(max) = t.jwks_max.map(|m| m * scale) {
        if d.jwks > max {
            fail(format!(
                "JWKS fetched {} times, at most {max} allowed{per}",
                d.jwks
            ));
        }
    }
    if let Some(min) = t.jwks_min {
        if d.jwks < min {
            fail(format!(
                "JWKS fetched {} times, at least {min} expected",
                d.jwks
            ));
        }
    }
    if let Some(max) = t.discovery_max.map(|m| m * scale) {
        let n = d.discovery + d.oauth_metadata;
        if n > max {
            fail(format!(
                "discovery fetched {n} times, at most {max} allowed{per}"
            ));
        }
    }
    if let Some(max) = t.total_max {
        if d.total() > max {
            fail(format!(
                "the IdP got {} requests for this tenant, at most {max} allowed",
                d.total()
            ));
        }
    }
}

fn context<'a>(
    world: &'a World,
    target: &CaseTarget,
    tenants: &'a CaseTenants,
    attacker_jku: &str,
) -> Context<'a> {
    Context {
        now: target.unix_secs(),
        skew: world.settings.clock_skew_seconds,
        tenant: &tenants.own,
        other: tenants.other.as_ref(),
        sibling: tenants.sibling.as_ref(),
        attacker: world.idp.attacker().tenant(),
        attacker_jku: attacker_jku.to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn send_and_judge(
    world: &World,
    addr: &str,
    case: &Case,
    tenants: &CaseTenants,
    placement: Placement,
    token: &str,
    expect: &Expect,
    timeout: Duration,
    minted_at: i64,
) -> (Match, Observed, Evidence, Vec<String>) {
    let slug_of = |p: Placement| match p {
        Placement::Own => tenants.own.slug().to_string(),
        Placement::Other => tenants
            .other
            .as_ref()
            .map(|t| t.slug().to_string())
            .unwrap_or_default(),
        Placement::Unknown => "no-such-tenant".to_string(),
        Placement::Missing => String::new(),
        Placement::Malformed => "bad_slug%2F..".to_string(),
    };
    let slug = slug_of(placement);
    let decoy = case.request.decoy_tenant.map(slug_of);
    let (req, host) = request_for(world, addr, &slug, decoy.as_deref(), &case.request, token);
    let res = client::send(addr, &host, &req, timeout).await;
    let (m, obs, reasons) = judge::judge(expect, &res);
    let evidence = Evidence {
        request: shorten(&req, token),
        token: recipe::decode_for_evidence(token, minted_at),
    };
    // Ports change from run to run; the report shows stable names instead.
    let own_base = Some(tenants.own.base_url());
    let stable = |text: String| stable_text(world, addr, own_base, text);
    let evidence = serde_json::to_string(&evidence)
        .ok()
        .map(stable)
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .map(|v| Evidence {
            request: serde_json::from_value(v["request"].clone())
                .unwrap_or(evidence.request.clone()),
            token: v["token"].clone(),
        })
        .unwrap_or(evidence);
    let reasons = reasons.into_iter().map(stable).collect();
    let obs = stable_observed(world, addr, own_base, obs);
    (m, obs, evidence, reasons)
}

/// `text` with the run's ports replaced by stable names: ports change from run to run, and a
/// report's bytes must not. `tenant_base` is the case tenant's base URL, which has a port of
/// its own when the tenant has a listener of its own (plain HTTP in a TLS run).
fn stable_text(world: &World, addr: &str, tenant_base: Option<&str>, text: String) -> String {
    let text = match tenant_base {
        Some(base) if base != world.idp.uri() => text.replace(base, "http://{tenant-listener}"),
        _ => text,
    };
    text.replace(world.idp.uri(), "http://{idp}")
        .replace(world.idp.attacker().uri(), "http://{attacker}")
        .replace(addr, "{target}")
        .replace(
            &format!(":{}", addr.rsplit(':').next().unwrap_or("")),
            ":{port}",
        )
}

/// What was observed, with the body's ports named and its Unix times masked.
fn stable_observed(
    world: &World,
    addr: &str,
    tenant_base: Option<&str>,
    obs: Observed,
) -> Observed {
    Observed {
        body: judge::mask_times(&stable_text(world, addr, tenant_base, obs.body.clone())),
        ..obs
    }
}

/// Builds the request; returns it with the Host header to use. `slug` goes where the run's
/// tenant source says; a `decoy` slug goes into the channels it does not use (a `Host`
/// subdomain in header and path runs, an `X-Tenant-Slug` header in path and subdomain runs).
pub fn request_for(
    world: &World,
    addr: &str,
    slug: &str,
    decoy: Option<&str>,
    spec: &crate::catalog::RequestSpec,
    token: &str,
) -> (Outgoing, String) {
    let port = addr.rsplit(':').next().unwrap_or("80");
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut host = format!("127.0.0.1:{port}");
    let route = format!("/api/{}", spec.route);
    let mut path = route.clone();
    match &world.settings.tenant_source {
        TenantSource::Header(h) if !slug.is_empty() => headers.push((h.clone(), slug.to_string())),
        TenantSource::Header(_) => {}
        TenantSource::Path if !slug.is_empty() => path = format!("/{slug}{route}"),
        TenantSource::Path => {}
        TenantSource::Subdomain if !slug.is_empty() => host = format!("{slug}.localhost:{port}"),
        TenantSource::Subdomain => host = format!("localhost:{port}"),
    }
    if let Some(decoy) = decoy {
        if !matches!(world.settings.tenant_source, TenantSource::Subdomain) {
            host = format!("{decoy}.localhost:{port}");
        }
        if !matches!(world.settings.tenant_source, TenantSource::Header(_)) {
            headers.push(("x-tenant-slug".into(), decoy.to_string()));
        }
    }
    let auth = spec
        .authorization
        .as_ref()
        .map(|a| a.replace("{token}", token))
        .unwrap_or_else(|| format!("{}{}{token}", spec.scheme, spec.separator));
    let form = format!("access_token={}", urlencode(token));
    let mut body = String::new();
    let mut method = spec.method.clone().unwrap_or_else(|| "GET".into());
    match spec.token_in {
        TokenIn::Header => headers.push(("authorization".into(), auth)),
        TokenIn::Query => path = format!("{path}?{form}"),
        TokenIn::Body | TokenIn::HeaderAndBody => {
            if spec.token_in == TokenIn::HeaderAndBody {
                headers.push(("authorization".into(), auth));
            }
            method = spec.method.clone().unwrap_or_else(|| "POST".into());
            headers.push((
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
            body = form;
        }
        TokenIn::HeaderAndQuery => {
            headers.push(("authorization".into(), auth));
            path = format!("{path}?{form}");
        }
        TokenIn::TwoHeaders => {
            headers.push(("authorization".into(), auth.clone()));
            headers.push(("authorization".into(), auth));
        }
        TokenIn::None => {}
    }
    for (k, v) in &spec.headers {
        headers.push((k.to_ascii_lowercase(), v.replace("{token}", token)));
    }
    (
        Outgoing {
            method,
            path,
            headers,
            body,
        },
        host,
    )
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The request with the token shortened, for evidence.
fn shorten(req: &Outgoing, token: &str) -> Outgoing {
    // The length is shown only for large tokens, in KiB: ECDSA signatures vary by a byte.
    let size = if token.len() >= 4096 {
        format!("({} KiB)", token.len() / 1024)
    } else {
        String::new()
    };
    let short = if token.len() > 48 {
        format!(
            "{}…{size}",
            &token[..token.char_indices().nth(40).map(|(i, _)| i).unwrap_or(0)]
        )
    } else {
        token.to_string()
    };
    let fix = |s: &str| {
        if token.is_empty() {
            s.to_string()
        } else {
            s.replace(token, &short).replace(&urlencode(token), &short)
        }
    };
    Outgoing {
        method: req.method.clone(),
        path: crate::recipe::truncate(&fix(&req.path), 200),
        headers: req
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), crate::recipe::truncate(&fix(v), 200)))
            .collect(),
        body: crate::recipe::truncate(&fix(&req.body), 200),
    }
}
