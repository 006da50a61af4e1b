//! The CI recipes of `docs/ci/` run what this test runs. It reads the GitHub Actions workflow
//! and the GitLab CI jobs as YAML, as their services do, checks that both install byoid with
//! the same pinned command and gate on the same lines, and runs those lines, the baseline
//! block of `docs/ci/README.md` and the partitioned variant (uncommented) with `sh -e` against
//! the reference validator, clean and with a planted defect. Only the network is left out:
//! `byoid` on PATH is this build's binary, and the install lines run against a stand-in
//! `cargo` that records its arguments.

// The recipes run on Linux runners, in `sh`.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_yaml_ng::Value;

#[path = "support/workspace_bin.rs"]
mod workspace_bin;

/// The runs' `BYOID_ARGS`, the recipes' knob for more arguments: one section, which the
/// planted defect fails in part, and a flavor deselected as a user would (several words, so
/// the shell's splitting of the variable is exercised too).
const BYOID_ARGS: &str = "--filter rfc8725/3.1 --skip-flavor entra-v1";
/// A defect that fails cases of that section.
const DEFECT: &str = "alg-from-header";
/// The GitHub steps that run byoid's commands: each is run (or its command checked) below, so
/// a step added to the recipe fails this test until the test covers it.
const GITHUB_BYOID_STEPS: [&str; 3] = ["byoid: install", "byoid: gate", "byoid: summary"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn yaml(what: &str, text: &str) -> Value {
    serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("{what} is not valid YAML: {e}"))
}

fn string<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v:?}"))
}

/// The two recipes, and the partitioned variant of each: the lines between the
/// `# >>> byoid partitioned` markers, uncommented.
struct Recipes {
    github: Value,
    gitlab: Value,
    github_partitioned: Value,
    gitlab_partitioned: Value,
}

fn recipes() -> Recipes {
    let gh = read("docs/ci/github-actions.yml");
    let gl = read("docs/ci/gitlab-ci.yml");
    Recipes {
        github: yaml("docs/ci/github-actions.yml", &gh),
        gitlab: yaml("docs/ci/gitlab-ci.yml", &gl),
        // Uncommented in place, the jobs continue the workflow's `jobs:` mapping.
        github_partitioned: yaml(
            "the partitioned jobs of docs/ci/github-actions.yml",
            &format!("jobs:\n{}", uncomment(&gh)),
        ),
        gitlab_partitioned: yaml(
            "the partitioned jobs of docs/ci/gitlab-ci.yml",
            &uncomment(&gl),
        ),
    }
}

/// The lines between `# >>> byoid partitioned` and `# <<< byoid partitioned`, each less the
/// `# ` that comments it out.
fn uncomment(text: &str) -> String {
    let mut lines = text.lines().skip_while(|l| *l != "# >>> byoid partitioned");
    assert!(lines.next().is_some(), "no `# >>> byoid partitioned` line");
    let mut out = String::new();
    for line in lines {
        if line == "# <<< byoid partitioned" {
            return out;
        }
        let code = match line {
            "#" => "",
            _ => line
                .strip_prefix("# ")
                .unwrap_or_else(|| panic!("an uncommented line between the markers: {line:?}")),
        };
        out.push_str(code);
        out.push('\n');
    }
    panic!("no `# <<< byoid partitioned` line");
}

/// The `sh` block of `docs/ci/README.md` after the comment that says this test runs it.
fn readme_block() -> String {
    let text = read("docs/ci/README.md");
    let mut lines = text
        .lines()
        .skip_while(|l| !l.contains("<!-- harness/tests/ci_recipes.rs runs the next block -->"))
        .skip(1);
    let fence = lines.next().expect("a block after the marker comment");
    assert_eq!(fence.trim(), "```sh", "the marked block is a sh block");
    let indent = fence.len() - fence.trim_start().len();
    let mut out = String::new();
    for line in lines {
        if line.trim() == "```" {
            return out;
        }
        out.push_str(line.get(indent..).unwrap_or(""));
        out.push('\n');
    }
    panic!("the marked block of docs/ci/README.md does not end");
}

// GitHub Actions.

fn steps(job: &Value) -> &[Value] {
    job["steps"]
        .as_sequence()
        .map(Vec::as_slice)
        .expect("a job with steps")
}

fn step<'a>(job: &'a Value, name: &str) -> &'a Value {
    let found: Vec<&Value> = steps(job)
        .iter()
        .filter(|s| s["name"].as_str() == Some(name))
        .collect();
    assert_eq!(found.len(), 1, "one step named {name:?}");
    found[0]
}

fn run_of<'a>(job: &'a Value, name: &str) -> &'a str {
    string(&step(job, name)["run"], name)
}

/// The names of the steps that run byoid's commands (`name: "byoid: ..."` with a `run`).
fn byoid_run_steps(job: &Value) -> Vec<&str> {
    steps(job)
        .iter()
        .filter(|s| !s["run"].is_null())
        .filter_map(|s| s["name"].as_str())
        .filter(|n| n.starts_with("byoid:"))
        .collect()
}

/// The lines of an upload step's `path`.
fn upload_paths(step: &Value) -> Vec<String> {
    assert!(
        string(&step["uses"], "uses").starts_with("actions/upload-artifact@"),
        "{step:?}"
    );
    assert_eq!(
        step["if"].as_str(),
        Some("always()"),
        "uploaded on failure too"
    );
    string(&step["with"]["path"], "path")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

// GitLab CI.

fn entries<'a>(job: &'a Value, key: &str) -> Vec<&'a str> {
    job[key]
        .as_sequence()
        .unwrap_or_else(|| panic!("a job with a `{key}` list"))
        .iter()
        .map(|e| string(e, key))
        .collect()
}

/// The one `script` entry of a job that contains `needle`.
fn entry<'a>(job: &'a Value, needle: &str) -> &'a str {
    let found: Vec<&str> = entries(job, "script")
        .into_iter()
        .filter(|e| e.contains(needle))
        .collect();
    assert_eq!(found.len(), 1, "one script entry with {needle:?}");
    found[0]
}

/// A job's script as the runner runs it (one shell), less the build of the user's validator,
/// which must be the GitHub recipe's build step word for word.
fn script_less_build(job: &Value, github_build: &str) -> String {
    let mut out = String::new();
    let mut builds = 0;
    for e in entries(job, "script") {
        if e.trim_end() == github_build.trim_end() {
            builds += 1;
        } else {
            out.push_str(e);
            out.push('\n');
        }
    }
    assert_eq!(
        builds, 1,
        "the job builds the validator as the GitHub recipe does"
    );
    out
}

/// `artifacts:` of a job: kept on failure; its paths and its JUnit report.
fn gitlab_artifacts(job: &Value) -> Vec<String> {
    let a = &job["artifacts"];
    assert_eq!(a["when"].as_str(), Some("always"), "kept on failure too");
    let mut paths: Vec<String> = a["paths"]
        .as_sequence()
        .expect("artifacts: paths")
        .iter()
        .map(|p| string(p, "artifacts: paths").to_string())
        .collect();
    paths.extend(a["reports"]["junit"].as_str().map(String::from));
    paths
}

// Running the recipes' lines.

/// Where the recipes' files and reports are: a project directory, and a `bin` directory put
/// first on PATH with `byoid` (this build's) and, for the install lines, a stand-in `cargo`.
struct Ci {
    tmp: tempfile::TempDir,
}

struct Run {
    code: Option<i32>,
    out: String,
}

impl Ci {
    fn new() -> Ci {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        std::fs::create_dir_all(tmp.path().join("project")).unwrap();
        std::fs::create_dir_all(tmp.path().join("bin")).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_byoid"), tmp.path().join("bin/byoid"))
            .expect("byoid linked");
        Ci { tmp }
    }

    fn project(&self) -> PathBuf {
        self.tmp.path().join("project")
    }

    /// Runs `script` with `sh -e` in the project, `VALIDATOR_CMD` and `BYOID_ARGS` set as the
    /// recipe's variables would be.
    fn sh(&self, script: &str, validator: &str, env: &[(&str, &str)]) -> Run {
        let file = self.tmp.path().join("step.sh");
        std::fs::write(&file, script).unwrap();
        let path = format!(
            "{}:{}",
            self.tmp.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = Command::new("sh")
            .arg("-e")
            .arg(&file)
            .current_dir(self.project())
            .env("PATH", path)
            .env("VALIDATOR_CMD", validator)
            .env("BYOID_ARGS", BYOID_ARGS)
            // The reference reads its defects from this variable too: only the command names them.
            .env_remove("BYOID_DEFECTS")
            .envs(env.iter().copied())
            .output()
            .expect("sh runs");
        Run {
            code: out.status.code(),
            out: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }

    /// Fails unless every path (a glob, as the CI services read them) names a file or folder.
    fn assert_exist(&self, paths: &[String]) {
        for p in paths {
            let found = Command::new("sh")
                .arg("-c")
                .arg(format!("for f in {p}; do [ -e \"$f\" ] || exit 1; done"))
                .current_dir(self.project())
                .status()
                .expect("sh runs");
            assert!(found.success(), "the artifact path `{p}` names nothing");
        }
    }
}

fn expect(run: &Run, code: i32, what: &str) {
    assert_eq!(run.code, Some(code), "{what}:\n{}", run.out);
}

/// The reference validator's command, with `defect` planted.
fn validator(defect: Option<&str>) -> String {
    let exe = reference_validator().display().to_string();
    let quoted = format!("'{}'", exe.replace('\'', r"'\''"));
    match defect {
        Some(d) => format!("{quoted} --defect {d}"),
        None => quoted,
    }
}

/// The `byoid-reference` binary, never older than the reference's sources.
fn reference_validator() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        workspace_bin::built("byoid-reference", "byoid-reference", "targets/reference")
    })
}

// What the recipes hold.

/// The gate: the GitHub gate step, which must be the GitLab job's gate entry word for word.
fn gate(r: &Recipes) -> String {
    let github = run_of(&r.github["jobs"]["byoid"], "byoid: gate");
    let gitlab = entry(&r.gitlab["byoid"], "byoid scenarios");
    assert_eq!(github, gitlab, "the two recipes gate on the same lines");
    assert!(
        github.contains("--baseline byoid/baseline.json"),
        "{github}"
    );
    github.to_string()
}

/// The artifacts of the gate job in both recipes, as paths in the project.
fn gate_artifacts(r: &Recipes) -> Vec<String> {
    let mut paths = upload_paths(step(&r.github["jobs"]["byoid"], "byoid: upload the report"));
    paths.extend(gitlab_artifacts(&r.gitlab["byoid"]));
    assert!(
        paths.iter().any(|p| p == "byoid-report/junit.xml")
            && paths.iter().any(|p| p == "byoid-report/report.html"),
        "JUnit and HTML are uploaded: {paths:?}"
    );
    paths
}

fn github_build(r: &Recipes) -> &str {
    run_of(&r.github["jobs"]["byoid"], "Build the validator")
}

#[test]
fn both_recipes_install_the_pinned_byoid_and_cache_it_on_the_pin() {
    let r = recipes();
    let gh = &r.github["jobs"]["byoid"];
    let template = &r.gitlab[".byoid"];
    assert_eq!(byoid_run_steps(gh), GITHUB_BYOID_STEPS);
    for var in ["BYOID_GIT", "BYOID_REV", "VALIDATOR_CMD", "BYOID_ARGS"] {
        assert_eq!(
            r.github["env"][var], template["variables"][var],
            "{var} is the same in both recipes"
        );
    }
    let git = string(&r.github["env"]["BYOID_GIT"], "BYOID_GIT");
    let rev = string(&r.github["env"]["BYOID_REV"], "BYOID_REV");
    let manifest: toml::Table = toml::from_str(&read("harness/Cargo.toml")).unwrap();
    let package = manifest["package"]["name"].as_str().unwrap();
    let want = ["install", "--locked", "--git", git, "--rev", rev, package].join("\n") + "\n";

    // GitHub: the binary alone, where `cargo install` puts it, keyed on the pin; the install
    // step runs on a cache miss only.
    let cache = step(gh, "byoid: cache the binary");
    assert!(string(&cache["uses"], "uses").starts_with("actions/cache@"));
    assert_eq!(cache["with"]["path"].as_str(), Some("~/.cargo/bin/byoid"));
    assert!(string(&cache["with"]["key"], "key").contains("${{ env.BYOID_REV }}"));
    let install = step(gh, "byoid: install");
    assert_eq!(
        install["if"].as_str(),
        Some(
            format!(
                "steps.{}.outputs.cache-hit != 'true'",
                string(&cache["id"], "id")
            )
            .as_str()
        )
    );
    let ci = Ci::new();
    let log = ci.tmp.path().join("cargo-args");
    let stub = ci.tmp.path().join("bin/cargo");
    std::fs::write(
        &stub,
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$CARGO_ARGS\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let log_str = log.to_str().unwrap();
    let pins = [
        ("BYOID_GIT", git),
        ("BYOID_REV", rev),
        ("CARGO_ARGS", log_str),
    ];
    let run = ci.sh(run_of(gh, "byoid: install"), "", &pins);
    expect(&run, 0, "the GitHub install step");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        want,
        "GitHub's cargo install"
    );

    // GitLab: CARGO_HOME in the project, its bin cached on the pin; `cargo install` runs only
    // when the cache did not bring the binary.
    assert_eq!(
        template["variables"]["CARGO_HOME"].as_str(),
        Some("$CI_PROJECT_DIR/.cargo")
    );
    assert!(string(&template["cache"]["key"], "cache: key").contains("$BYOID_REV"));
    assert_eq!(
        template["cache"]["paths"].as_sequence().map(Vec::as_slice),
        Some(&[Value::from(".cargo/bin/")][..])
    );
    let before = entries(template, "before_script").join("\n");
    let cargo_home = ci.project().join(".cargo");
    let home = cargo_home.to_str().unwrap();
    let env = [
        ("CARGO_HOME", home),
        ("CARGO_ARGS", log_str),
        pins[0],
        pins[1],
    ];
    std::fs::remove_file(&log).unwrap();
    let run = ci.sh(&before, "", &env);
    expect(&run, 0, "GitLab's before_script, cache miss");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        want,
        "GitLab's cargo install"
    );
    std::fs::remove_file(&log).unwrap();
    std::fs::create_dir_all(cargo_home.join("bin")).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_byoid"), cargo_home.join("bin/byoid")).unwrap();
    let run = ci.sh(&format!("{before}\nbyoid --version\n"), "", &env);
    expect(&run, 0, "GitLab's before_script, cache hit");
    assert!(!log.exists(), "a cache hit installs nothing:\n{}", run.out);
    assert!(run.out.starts_with("byoid "), "{}", run.out);

    // The partitioned jobs install the same way.
    let jobs = r.github_partitioned["jobs"].as_mapping().expect("jobs");
    assert_eq!(jobs.len(), 2);
    for (name, job) in jobs {
        assert_eq!(step(job, "byoid: cache the binary"), cache, "{name:?}");
        assert_eq!(step(job, "byoid: install"), install, "{name:?}");
    }
    let jobs = r.gitlab_partitioned.as_mapping().expect("jobs");
    assert_eq!(jobs.len(), 2);
    for (name, job) in jobs {
        assert_eq!(job["extends"].as_str(), Some(".byoid"), "{name:?}");
    }
}

#[test]
fn a_clean_validator_passes_the_gate_and_a_regression_fails_it() {
    let r = recipes();
    let gate = gate(&r);
    let artifacts = gate_artifacts(&r);
    assert_eq!(
        script_less_build(&r.gitlab["byoid"], github_build(&r)).trim_end(),
        gate.trim_end(),
        "GitLab's job runs the build and the gate, nothing else"
    );
    let ci = Ci::new();
    let clean = validator(None);
    let run = ci.sh(&readme_block(), &clean, &[]);
    expect(&run, 0, "the README's baseline block, clean validator");
    assert_eq!(
        std::fs::read_to_string(ci.project().join("byoid/expected-failures.toml")).unwrap(),
        "[expected_failures]\n",
        "no known failure"
    );
    std::fs::remove_dir_all(ci.project().join("byoid-report")).unwrap();

    let run = ci.sh(&gate, &clean, &[]);
    expect(&run, 0, "the gate, clean validator");
    ci.assert_exist(&artifacts);
    let summary = ci.tmp.path().join("step-summary.md");
    let gh = &r.github["jobs"]["byoid"];
    assert_eq!(step(gh, "byoid: summary")["if"].as_str(), Some("always()"));
    let env = [("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())];
    expect(
        &ci.sh(run_of(gh, "byoid: summary"), &clean, &env),
        0,
        "summary",
    );
    let page = std::fs::read_to_string(&summary).expect("the job summary");
    assert!(page.contains("byoid conformance report"), "{page}");

    // The defect fails cases the baseline holds as passed: a regression, exit 100, and the
    // reports are there to upload all the same.
    std::fs::remove_dir_all(ci.project().join("byoid-report")).unwrap();
    let run = ci.sh(&gate, &validator(Some(DEFECT)), &[]);
    expect(&run, 100, "the gate, a regression");
    assert!(
        run.out
            .contains("error: verdicts regressed against the baseline `byoid/baseline.json`"),
        "{}",
        run.out
    );
    ci.assert_exist(&artifacts);
}

#[test]
fn a_known_failure_listed_with_its_reason_passes_and_its_fix_must_be_unlisted() {
    let r = recipes();
    let gate = gate(&r);
    let ci = Ci::new();
    let defective = validator(Some(DEFECT));
    let run = ci.sh(&readme_block(), &defective, &[]);
    expect(
        &run,
        0,
        "the README's baseline block, validator with a defect",
    );
    // The block listed exactly the cases the first run failed, each with a reason to fill in.
    let list = byoid::ExpectedFailures::load(&ci.project().join("byoid/expected-failures.toml"))
        .expect("an expected-failures file byoid reads");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ci.project().join("byoid-report/report.json")).unwrap(),
    )
    .unwrap();
    let mut failed: Vec<&str> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| matches!(c["verdict"].as_str(), Some("fail" | "error" | "untestable")))
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    failed.sort_unstable();
    assert!(!failed.is_empty(), "the defect fails cases of {BYOID_ARGS}");
    assert_eq!(
        list.expected_failures.keys().collect::<Vec<_>>(),
        failed.iter().collect::<Vec<_>>()
    );
    assert!(list.expected_failures.values().all(|r| r == "TODO: why"));

    let run = ci.sh(&gate, &defective, &[]);
    expect(&run, 0, "the gate, known failures");

    // Fixed: the listed cases pass now, which is no regression, but the list must shrink.
    let run = ci.sh(&gate, &validator(None), &[]);
    expect(&run, 100, "the gate, a listed case fixed");
    assert!(
        run.out.contains(&format!(
            "error: `{}` is listed as an expected failure but now passes",
            failed[0]
        )),
        "{}",
        run.out
    );
    assert!(!run.out.contains("regressed"), "{}", run.out);
}

#[test]
fn the_partitioned_variant_merges_the_shares_and_checks_the_baseline() {
    let r = recipes();
    let gh = &r.github_partitioned["jobs"];
    let gl = &r.gitlab_partitioned;
    let share = run_of(&gh["byoid-share"], "byoid: share");
    assert_eq!(share, entry(&gl["byoid-share"], "byoid scenarios"));
    let merge = run_of(&gh["byoid-merge"], "byoid: merge");
    assert_eq!(merge, entry(&gl["byoid-merge"], "byoid report merge"));
    let build = github_build(&r);
    let gl_share = script_less_build(&gl["byoid-share"], build);

    // The shares: GitHub's matrix and GitLab's `parallel:` name the same K/N.
    let matrix: Vec<String> = gh["byoid-share"]["strategy"]["matrix"]["share"]
        .as_sequence()
        .expect("a share matrix")
        .iter()
        .map(|k| k.as_u64().expect("a share number").to_string())
        .collect();
    let n = gl["byoid-share"]["parallel"].as_u64().expect("parallel: N");
    assert_eq!(matrix.len() as u64, n);
    let template = string(
        &gh["byoid-share"]["env"]["BYOID_PARTITION"],
        "BYOID_PARTITION",
    );
    let at = |s: &str, k: &str| s.replace("${{ matrix.share }}", k);
    for (i, k) in matrix.iter().enumerate() {
        assert_eq!(at(template, k), format!("{}/{n}", i + 1));
    }
    // Each GitHub share's artifact is downloaded into a folder named after it, which must be
    // where the share wrote it: then the one project folder here is the merge job's too.
    let upload = step(&gh["byoid-share"], "byoid: upload the share");
    let share_paths = upload_paths(upload);
    for k in &matrix {
        let name = at(string(&upload["with"]["name"], "name"), k);
        assert_eq!(
            share_paths.iter().map(|p| at(p, k)).collect::<Vec<_>>(),
            [format!("{name}/report.json")]
        );
    }
    assert_eq!(gh["byoid-merge"]["needs"].as_str(), Some("byoid-share"));
    assert_eq!(gh["byoid-merge"]["if"].as_str(), Some("always()"));
    let merged_artifacts = {
        let mut p = upload_paths(step(&gh["byoid-merge"], "byoid: upload the report"));
        p.extend(gitlab_artifacts(&gl["byoid-merge"]));
        p
    };

    // The baselines and lists of a clean validator and of one with the defect, made as the
    // README says.
    let clean = Ci::new();
    let defect = Ci::new();
    for (ci, cmd) in [
        (&clean, validator(None)),
        (&defect, validator(Some(DEFECT))),
    ] {
        expect(
            &ci.sh(&readme_block(), &cmd, &[]),
            0,
            "the README's baseline block",
        );
        std::fs::remove_dir_all(ci.project().join("byoid-report")).unwrap();
    }
    let run_shares = |ci: &Ci, cmd: &str| {
        for k in 1..=n {
            let (k, n) = (k.to_string(), n.to_string());
            let env = [("CI_NODE_INDEX", k.as_str()), ("CI_NODE_TOTAL", n.as_str())];
            expect(&ci.sh(&gl_share, cmd, &env), 0, &format!("share {k}/{n}"));
            ci.assert_exist(&share_paths.iter().map(|p| at(p, &k)).collect::<Vec<_>>());
        }
        ci.assert_exist(&gitlab_artifacts(&gl["byoid-share"]));
    };

    run_shares(&clean, &validator(None));
    let run = clean.sh(merge, "", &[]);
    expect(&run, 0, "merge, clean validator");
    clean.assert_exist(&merged_artifacts);

    // Shares that pass (their failures are listed) merged into a report worse than the
    // baseline: the merge job fails.
    std::fs::copy(
        clean.project().join("byoid/baseline.json"),
        defect.project().join("byoid/baseline.json"),
    )
    .unwrap();
    run_shares(&defect, &validator(Some(DEFECT)));
    let run = defect.sh(merge, "", &[]);
    expect(&run, 100, "merge, a regression against the baseline");
    defect.assert_exist(&merged_artifacts);
}
