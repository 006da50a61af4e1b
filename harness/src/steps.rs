//! The step interpreter: a case is a list of steps, and [`run_case`] applies them in order,
//! top to bottom. Each step may change the case's IdP tenant (rotate its keys, set faults or
//! quirks), let time pass on the target's clock, send requests (one token, a repeated one, or
//! a flood of unknown `kid`s) and check the IdP traffic so far. A case without steps is one
//! request with the case's token. The verdict is the worst thing any step saw.

use std::time::{Duration, Instant};

use crate::catalog::{Case, Expect, Outcome, Placement, Step, TrafficExpect};
use crate::client;
use crate::judge::{self, Match, Observed};
use crate::recipe::{self, Context};
use crate::request::{request_for, shorten, stable_observed, stable_text};
use crate::result::{CaseResult, Evidence, Verdict};
use crate::target::CaseTarget;
use crate::world::{CaseTenants, World};

/// Runs one case, whose tenants in `world` are `tenants`, against `target`.
pub async fn run_case(
    world: &World,
    target: &CaseTarget,
    case: &Case,
    tenants: &CaseTenants,
    timeout: Duration,
) -> CaseResult {
    if (case.tenant.metadata_over_http || case.tenant.jwks_over_http) && !world.settings.tls {
        return CaseResult::for_case(
            case,
            Verdict::Skip,
            vec![
                "needs an HTTPS run (`--tls`): only then does the manifest require HTTPS metadata"
                    .into(),
            ],
        );
    }
    let source = world.settings.tenant_source.name();
    let sources = &case.request.tenant_sources;
    if !sources.is_empty() && !sources.iter().any(|s| s == source) {
        return CaseResult::for_case(
            case,
            Verdict::Skip,
            vec![format!(
                "means something only when the tenant is named by {} (this run: {source})",
                sources.join(" or ")
            )],
        );
    }
    if let Some(reason) = world.profile.not_applicable(case) {
        return CaseResult::for_case(case, Verdict::NotApplicable, vec![reason]);
    }
    let mut run = CaseRun::new(world, target, case, tenants, timeout);
    let one_request = [Step {
        send: true,
        ..Step::default()
    }];
    let steps: &[Step] = if case.steps.is_empty() {
        &one_request
    } else {
        &case.steps
    };
    for (n, step) in steps.iter().enumerate() {
        let label = if case.steps.is_empty() {
            String::new()
        } else {
            format!("step {}", n + 1)
        };
        run.change_idp(step);
        run.let_time_pass(step).await;
        if let Err(e) = run.send(step, &label).await {
            return CaseResult::for_case(
                case,
                Verdict::Error,
                vec![format!("{}: cannot build the token: {e}", case.origin)],
            );
        }
        run.flood_unknown_kids(step, &label).await;
        if let Some(t) = &step.traffic {
            run.check_traffic(t, &label);
        }
    }
    run.finish()
}

/// How many requests of an unknown-kid flood are in flight at once.
const FLOOD_BATCH: usize = 10;

/// One case in progress: where it sends, what it has seen so far.
struct CaseRun<'a> {
    world: &'a World,
    target: &'a CaseTarget,
    case: &'a Case,
    tenants: &'a CaseTenants,
    timeout: Duration,
    /// The case's expectation, which a step's own may replace for that step.
    expect: Expect,
    /// The tenant's IdP traffic before the case, and when it began on the target's clock:
    /// traffic checks count from here, per cache window.
    traffic_before: mock_idp::Traffic,
    started: Instant,
    /// A per-case path on the attacker host (`jku` and the like point there).
    jku_marker: String,
    attacker_jku: String,
    /// `token.once`: the one token every request that uses the case's token sends.
    once_token: Option<(String, i64)>,
    tally: Tally,
}

impl<'a> CaseRun<'a> {
    fn new(
        world: &'a World,
        target: &'a CaseTarget,
        case: &'a Case,
        tenants: &'a CaseTenants,
        timeout: Duration,
    ) -> Self {
        let jku_marker = format!("/c/{}/", tenants.own.slug());
        let attacker_jku = format!("{}{jku_marker}jwks", world.idp.attacker().uri());
        CaseRun {
            world,
            target,
            case,
            tenants,
            timeout,
            expect: case.expect.full(),
            traffic_before: tenants.own.traffic(),
            started: target.instant(),
            jku_marker,
            attacker_jku,
            once_token: None,
            tally: Tally {
                worst: Match::Expected,
                observed: None,
                evidence: None,
                reasons: Vec::new(),
            },
        }
    }

    /// What placeholders in a token recipe name, now.
    fn context(&self) -> Context<'a> {
        Context {
            now: self.target.unix_secs(),
            skew: self.world.settings.clock_skew_seconds,
            tenant: &self.tenants.own,
            other: self.tenants.other.as_ref(),
            sibling: self.tenants.sibling.as_ref(),
            attacker: self.world.idp.attacker().tenant(),
            attacker_jku: self.attacker_jku.clone(),
        }
    }

    /// Key rotation, faults and quirks of the case's own tenant.
    fn change_idp(&self, step: &Step) {
        let own = &self.tenants.own;
        if let Some(r) = step.rotate {
            own.rotate(r);
        }
        if let Some(f) = &step.faults {
            own.set_faults(crate::world::resolve_faults(own, f));
        }
        if let Some(q) = &step.quirks {
            own.set_quirks(q.clone());
        }
    }

    /// `wait_ms` and `wait_for_cache_expiry`, on the target's clock.
    async fn let_time_pass(&self, step: &Step) {
        if let Some(ms) = step.wait_ms {
            self.target
                .wait(Duration::from_millis(ms.min(10_000)))
                .await;
        }
        if step.wait_for_cache_expiry {
            let window = self.world.settings.jwks_cache_seconds.min(10) * 1000 + 300;
            self.target.wait(Duration::from_millis(window)).await;
        }
    }

    /// `send` (one request) or `repeat` (that many, at most 1000) with the step's token, or
    /// the case's. Stops at the first request the target does not answer.
    async fn send(&mut self, step: &Step, label: &str) -> Result<(), recipe::RecipeError> {
        let expect = step
            .expect
            .as_ref()
            .map(|e| e.full())
            .unwrap_or_else(|| self.expect.clone());
        let spec = step.token.as_ref().unwrap_or(&self.case.token);
        let sends = if step.send {
            1
        } else {
            step.repeat.unwrap_or(0).min(1000)
        };
        let placement = step.tenant.unwrap_or(self.case.request.tenant);
        let reuse = step.token.is_none() && self.case.token.once;
        for _ in 0..sends {
            let (token, minted_at) = match &self.once_token {
                Some(t) if reuse => t.clone(),
                _ => {
                    let ctx = self.context();
                    (recipe::build(spec, &ctx)?.token, ctx.now)
                }
            };
            if reuse && self.once_token.is_none() {
                self.once_token = Some((token.clone(), minted_at));
            }
            let (m, obs, ev, reasons) = self
                .send_and_judge(placement, &token, &expect, minted_at)
                .await;
            self.tally.record(m, obs, ev, reasons, label);
            if m == Match::NoAnswer {
                break;
            }
        }
        Ok(())
    }

    /// `unknown_kids`: that many requests (at most 1000), each with the step's token under a
    /// `kid` the IdP never issued; each expected to be refused as an invalid token.
    async fn flood_unknown_kids(&mut self, step: &Step, label: &str) {
        let Some(k) = step.unknown_kids else {
            return;
        };
        let spec = step.token.as_ref().unwrap_or(&self.case.token);
        let placement = step.tenant.unwrap_or(self.case.request.tenant);
        let expect = step.expect.as_ref().map(|e| e.full()).unwrap_or(Expect {
            outcome: Outcome::InvalidToken,
            ..Expect::default()
        });
        // A batch at a time, so the flood takes a small part of a cache window on any machine:
        // the traffic check allows fetches per window elapsed, and a flood that crawled across
        // several windows would be judged by the machine's speed rather than the target's.
        let ids: Vec<u32> = (0..k.min(1000)).collect();
        for batch in ids.chunks(FLOOD_BATCH) {
            let mut tokens = Vec::with_capacity(batch.len());
            for i in batch {
                let mut spec = spec.clone();
                spec.header.insert(
                    "kid".into(),
                    toml::Value::String(format!("unknown-kid-{i}")),
                );
                let ctx = self.context();
                if let Ok(built) = recipe::build(&spec, &ctx) {
                    tokens.push((built.token, ctx.now));
                }
            }
            let this = &*self;
            let judged = futures_util::future::join_all(
                tokens
                    .iter()
                    .map(|(token, now)| this.send_and_judge(placement, token, &expect, *now)),
            )
            .await;
            for (m, obs, ev, reasons) in judged {
                self.tally.record(m, obs, ev, reasons, label);
            }
        }
    }

    /// Checks the tenant's IdP traffic since the case began against `t`.
    fn check_traffic(&mut self, t: &TrafficExpect, label: &str) {
        let window = Duration::from_secs(self.world.settings.jwks_cache_seconds.max(1));
        let elapsed = self
            .target
            .instant()
            .saturating_duration_since(self.started);
        let windows = 1 + (elapsed.as_millis() / window.as_millis()) as u64;
        let traffic = self.tenants.own.traffic().since(&self.traffic_before);
        check_traffic(t, &traffic, label, &mut self.tally, windows);
    }

    /// The case's own traffic expectation and the attacker host's journal, then the verdict.
    fn finish(mut self) -> CaseResult {
        if let Some(t) = self.expect.traffic.clone() {
            self.check_traffic(&t, "");
        }
        if !self.expect.attacker_may_be_contacted {
            let hits = self
                .world
                .idp
                .attacker()
                .journal()
                .recent()
                .iter()
                .filter(|e| e.path.contains(&self.jku_marker))
                .count();
            if hits > 0 {
                self.tally.worst = Match::Wrong;
                self.tally.reasons.push(format!("the target fetched from the attacker host {hits} time(s) (SSRF / untrusted key URL)"));
            }
        }
        let case = self.case;
        let verdict = match self.tally.worst {
            Match::Expected => Verdict::Pass,
            Match::Acceptable => Verdict::Acceptable,
            Match::Wrong if case.info.level == crate::catalog::Level::Must => Verdict::Fail,
            Match::Wrong => Verdict::Warn,
            Match::NoAnswer => Verdict::Error,
        };
        let mut r = CaseResult::for_case(case, verdict, self.tally.reasons);
        r.observed = self.tally.observed;
        r.evidence = self.tally.evidence;
        r
    }

    /// Sends `token` to the target, named by `placement`, and judges the answer against
    /// `expect`; the evidence names the run's ports stably.
    async fn send_and_judge(
        &self,
        placement: Placement,
        token: &str,
        expect: &Expect,
        minted_at: i64,
    ) -> (Match, Observed, Evidence, Vec<String>) {
        let (world, tenants, case) = (self.world, self.tenants, self.case);
        let addr = self.target.addr.as_str();
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
        let route = world
            .profile
            .route_for(&case.request.route, expect.claims.is_some());
        let (req, host) = request_for(
            world,
            addr,
            &slug,
            decoy.as_deref(),
            &case.request,
            route,
            token,
        );
        let res = client::send(addr, &host, &req, self.timeout).await;
        let reading = judge::Reading {
            slug: &slug,
            ..route.reading()
        };
        let (m, obs, reasons) = judge::judge(expect, reading, &res);
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

fn check_traffic(
    t: &TrafficExpect,
    d: &mock_idp::Traffic,
    label: &str,
    tally: &mut Tally,
    windows: u64,
) {
    let scale = if t.per_cache_window { windows } else { 1 };
    // The reason names the allowance per window, not the windows counted: against a running
    // target they are real time, and the report's bytes should not depend on the machine's
    // speed where the verdict does not.
    let per = if t.per_cache_window {
        " per cache window"
    } else {
        ""
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
    if let Some(m) = t.jwks_max {
        if d.jwks > m * scale {
            fail(format!(
                "JWKS fetched {} times, at most {m} allowed{per}",
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
    if let Some(m) = t.discovery_max {
        let n = d.discovery + d.oauth_metadata;
        if n > m * scale {
            fail(format!(
                "discovery fetched {n} times, at most {m} allowed{per}"
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
