//! Runs cases against a target: positive controls first, then every case on its own tenant,
//! concurrently. The verdict of a case comes only from what the target answered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::catalog::{Case, CaseInfo, Expect, Level};
use crate::client;
use crate::judge::{self, Match};
use crate::request::{request_for, stable_observed, stable_text};
use crate::result::{control_id, CaseResult, Control, Verdict, CONTROL_SECTION};
use crate::steps::run_case;
use crate::target::{CaseTarget, CaseTargets};
use crate::world::World;
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
    let (controls, mut control_results) =
        run_controls(&world, &targets, opts.timeout, opts.deadline).await;
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
            let cut_off =
                || CaseResult::for_case(&case, Verdict::Skip, vec![DEADLINE_REASON.into()]);
            let control = controls.iter().find(|c| c.flavor == case.info.flavor);
            let past_deadline = deadline.is_some_and(|d| Instant::now() >= d);
            let mut result = match control {
                // A control the deadline cut off says nothing about the target.
                _ if past_deadline => cut_off(),
                Some(c) if !c.accepted => CaseResult::for_case(
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
/// [`CONTROL_SECTION`]), in flavor order. A control still waiting at `deadline` is not run
/// (verdict skip, [`DEADLINE_REASON`]).
pub async fn run_controls(
    world: &Arc<World>,
    targets: &CaseTargets,
    timeout: Duration,
    deadline: Option<Instant>,
) -> (Vec<Control>, Vec<CaseResult>) {
    let mut set = tokio::task::JoinSet::new();
    for (index, flavor) in world.controls.keys().copied().enumerate() {
        let (world, targets) = (world.clone(), targets.clone());
        set.spawn(async move {
            let slug = world.controls[&flavor].slug().to_string();
            let result = match targets.for_case(&world.manifest_for(&[&slug])).await {
                Ok(target) => {
                    let judged = control(&world, &target, flavor, timeout);
                    match deadline {
                        Some(d) => tokio::time::timeout_at(d.into(), judged)
                            .await
                            .unwrap_or_else(|_| {
                                let result = control_result(
                                    flavor,
                                    Verdict::Skip,
                                    vec![DEADLINE_REASON.into()],
                                );
                                (Control::of(&result), result)
                            }),
                        None => judged.await,
                    }
                }
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
    let route = &world.profile.protected;
    let req = request_for(
        world,
        target_addr,
        tenant.slug(),
        None,
        &crate::catalog::RequestSpec::default(),
        route,
        &token,
    );
    let res = client::send(target_addr, &req.1, &req.0, timeout).await;
    let reading = judge::Reading {
        slug: tenant.slug(),
        ..route.reading()
    };
    let (m, observed, reasons) = judge::judge(&Expect::default(), reading, &res);
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
        case: CaseInfo {
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
        },
        verdict,
        expected: judge::expect_text(&Expect::default()),
        observed: None,
        reasons,
        evidence: None,
        duration: Duration::ZERO,
    }
}

/// Runs one case on the target `targets` gives it (its tenants must exist in `world`).
pub async fn run_case_on(
    world: &World,
    targets: &CaseTargets,
    case: &Case,
    timeout: Duration,
) -> CaseResult {
    let Some(tenants) = world.cases.get(&case.info.id) else {
        return CaseResult::for_case(
            case,
            Verdict::Error,
            vec!["no tenant was made for this case".into()],
        );
    };
    match targets
        .for_case(&world.manifest_for(&tenants.slugs()))
        .await
    {
        Ok(target) => run_case(world, &target, case, tenants, timeout).await,
        Err(e) => CaseResult::for_case(case, Verdict::Error, vec![e]),
    }
}
