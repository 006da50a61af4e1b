//! byoid runs other people's code: targets that hang, crash, flood and lie, bad command lines
//! and hostile files. Each test drives the `byoid` binary the way a user does, with a
//! misbehaving target where one is needed, and asserts what must hold:
//! no process left behind, bounded memory, no escape sequence on the terminal, a clear exit
//! code. The misbehaving targets are `targets/hostile` (`hostile-target MODE`), standard
//! library Rust, so these tests need nothing but the toolchain.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn byoid() -> Command {
    Command::new(env!("CARGO_BIN_EXE_byoid"))
}

#[path = "support/workspace_bin.rs"]
mod workspace_bin;

/// The `hostile-target` binary, quoted for `sh -c`.
fn hostile() -> String {
    static EXE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let exe = EXE.get_or_init(|| {
        workspace_bin::built("byoid-hostile-target", "hostile-target", "targets/hostile")
    });
    format!("'{}'", exe.display().to_string().replace('\'', r"'\''"))
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("byoid-hostile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Waits for `child` at most `limit`; a child still running then is killed and the test
/// fails (a hang is the bug some of these tests look for).
fn wait_bounded(mut child: Child, limit: Duration) -> Output {
    // Drain both pipes while waiting: a full pipe would block byoid's own output.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "byoid did not finish within {limit:?}:\n{}",
                String::from_utf8_lossy(&stderr.join().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn run(args: &[&str]) -> Output {
    let child = byoid()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_bounded(child, Duration::from_secs(120))
}

/// `byoid scenarios --color never --target-cmd CMD EXTRA...`.
fn scenarios_against(cmd: &str, extra: &[&str]) -> Output {
    let mut args = vec!["scenarios", "--color", "never", "--target-cmd", cmd];
    args.extend_from_slice(extra);
    run(&args)
}

/// A report directory's `report.json`.
fn report_in(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Processes whose command line contains `marker` (the marker is an argument the hostile
/// target ignores, there only to be found).
fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(marker) {
            found.push(format!(
                "{}: {cmdline}",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    found
}

/// The group is ended a moment after byoid exits; give it up to two seconds.
fn assert_no_process_with(marker: &str) {
    for _ in 0..40 {
        if processes_with(marker).is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("left behind: {:?}", processes_with(marker));
}

/// Whether the hostile target carrying `marker` runs (byoid's own command line carries the
/// marker too, inside `--target-cmd`).
fn target_runs(marker: &str) -> bool {
    processes_with(marker).iter().any(|p| {
        p.split_once(": ")
            .and_then(|(_, c)| c.split(' ').next())
            .and_then(|argv0| argv0.rsplit('/').next())
            .is_some_and(|name| name == "hostile-target")
    })
}

/// Waits until the target carrying `marker` runs (30 s at most).
fn wait_for_target(marker: &str) {
    let started = Instant::now();
    while !target_runs(marker) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the target never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn marker(name: &str) -> String {
    format!("byoid-marker-{}-{name}", std::process::id())
}

#[test]
fn a_target_that_never_becomes_ready_is_ended_with_its_whole_process_group() {
    let m = marker("never-ready");
    // No `exec`: `sh` stays the group leader and the target is its child.
    let cmd = format!("{} never-ready {m}", hostile());
    let out = run(&[
        "scenarios",
        "--target-cmd",
        &cmd,
        "--ready-timeout",
        "1",
        "--filter",
        "rfc8725/3.1/alg-none/okta",
    ]);
    assert_eq!(out.status.code(), Some(97), "{}", text(&out));
    assert_no_process_with(&m);
}

/// Starts `byoid scenarios` against a target that hangs on `/api/*`, waits until the target
/// runs, sends `signal`, and returns the output.
fn interrupt_a_hanging_run(signal: libc::c_int, m: &str, report_dir: &Path) -> Output {
    let cmd = format!("{} hang 0 {m}", hostile());
    let child = byoid()
        .args([
            "scenarios",
            "--color",
            "never",
            "--timeout",
            "60",
            "--target-cmd",
        ])
        .arg(&cmd)
        .arg("--report-dir")
        .arg(report_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Whether the signal comes while byoid waits for readiness or while a request hangs,
    // the run ends the same way.
    wait_for_target(m);
    // SAFETY: kill only sends a signal to the child we started.
    unsafe {
        libc::kill(child.id() as libc::pid_t, signal);
    }
    wait_bounded(child, Duration::from_secs(30))
}

fn run_dirs_of(pid: u32) -> Vec<PathBuf> {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy()
                    .starts_with(&format!("byoid-run-{pid}-"))
            })
        })
        .collect()
}

#[test]
fn sigint_and_sigterm_end_the_target_clean_up_and_keep_a_report() {
    for (signal, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let m = marker(&format!("signal-{signal}"));
        let dir = scratch(&format!("signal-{signal}"));
        let out = interrupt_a_hanging_run(signal, &m, &dir);
        assert_eq!(out.status.code(), Some(code), "{}", text(&out));
        assert_no_process_with(&m);
        assert!(text(&out).contains("interrupted"), "{}", text(&out));
        let report = report_in(&dir);
        assert_eq!(report["run"]["interrupted"], true, "{report}");
        assert!(dir.join("junit.xml").exists() && dir.join("report.html").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn the_run_directory_is_removed_after_an_interruption() {
    let m = marker("run-dir");
    let dir = scratch("run-dir");
    let cmd = format!("{} hang 0 {m}", hostile());
    let child = byoid()
        .args(["scenarios", "--timeout", "60", "--target-cmd", &cmd])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    wait_for_target(&m);
    assert!(
        !run_dirs_of(pid).is_empty(),
        "the run has a directory while it runs"
    );
    // SAFETY: as above.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGINT);
    }
    let out = wait_bounded(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(run_dirs_of(pid).is_empty(), "{:?}", run_dirs_of(pid));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_target_that_dies_mid_run_is_reported_once_and_the_rest_is_not_run() {
    let dir = scratch("dies");
    let cmd = format!("exec {} die-after 40", hostile());
    let out = scenarios_against(&cmd, &["--report-dir", dir.to_str().unwrap()]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(97), "{all}");
    assert_eq!(
        all.matches("the target exited during the run").count(),
        1,
        "{all}"
    );
    assert_eq!(all.matches("out of file descriptors").count(), 1, "{all}");
    let report = report_in(&dir);
    assert!(report["run"]["target_exited"]
        .as_str()
        .is_some_and(|s| s.contains("out of file descriptors")));
    assert!(
        report["summary"]["skip"].as_u64().unwrap() > 100,
        "{}",
        report["summary"]
    );
    assert_eq!(report["summary"]["error"], 0, "{}", report["summary"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_target_that_hangs_is_cut_off_by_the_run_deadline() {
    let m = marker("deadline");
    let cmd = format!("{} hang 0 {m}", hostile());
    let out = scenarios_against(&cmd, &["--timeout", "30", "--deadline", "2"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(97), "{all}");
    assert!(all.contains("deadline"), "{all}");
    assert_no_process_with(&m);
}

#[test]
fn a_stderr_flood_without_newlines_keeps_memory_bounded() {
    // 300 MB on stderr in one line, then no readiness.
    let cmd = "head -c 300000000 /dev/zero | tr '\\0' x >&2; sleep 30";
    let out = run(&[
        "scenarios",
        "--target-cmd",
        cmd,
        "--ready-timeout",
        "4",
        "--filter",
        "rfc8725/3.1/alg-none/okta",
    ]);
    assert_eq!(
        out.status.code(),
        Some(97),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.len() < 100 * 1024,
        "stderr shown: {} bytes",
        out.stderr.len()
    );
    // The largest resident set of any child this test process has waited for.
    // SAFETY: getrusage writes into the struct it is given.
    let peak_kib = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage.ru_maxrss
    };
    assert!(peak_kib < 200 * 1024, "peak RSS {peak_kib} KiB");
}

#[test]
fn escape_sequences_from_a_target_never_reach_the_terminal() {
    let cmd = format!("exec {} escape", hostile());
    let out = scenarios_against(&cmd, &["--filter", "rfc8725/3.1/alg-none/okta"]);
    assert_eq!(out.status.code(), Some(97));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.stderr.contains(&0x1b) && !err.contains('\u{9b}'),
        "{err:?}"
    );
    assert!(
        err.contains("\\u{1b}]0;PWNED") && err.contains("\\u{9b}31m"),
        "{err}"
    );
}

#[test]
fn files_that_are_not_regular_are_refused_not_read() {
    let dir = scratch("files");
    let catalog = dir.join("catalog");
    std::fs::create_dir_all(&catalog).unwrap();
    let fifo = catalog.join("cases.toml");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let out = run(&["scenarios", "--catalog", catalog.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(96), "{}", text(&out));
    assert!(text(&out).contains("not a regular file"), "{}", text(&out));

    let zero = dir.join("known.toml");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let out = run(&["scenarios", "--expected-failures", zero.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(96), "{}", text(&out));
    assert!(text(&out).contains("not a regular file"), "{}", text(&out));

    let big = dir.join("big.json");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(80 << 20).unwrap(); // sparse: no disk used
    let out = run(&[
        "report",
        "diff",
        big.to_str().unwrap(),
        big.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(96), "{}", text(&out));
    assert!(text(&out).contains("larger than"), "{}", text(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn cases_missing_from_an_unfiltered_report_are_a_regression() {
    let dir = scratch("diff");
    let full = dir.join("full");
    let out = run(&[
        "scenarios",
        "--filter",
        "rfc8725/3.1/alg-none",
        "--report-dir",
        full.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let mut empty = report_in(&full);
    empty["cases"] = serde_json::json!([]);
    empty["run"]["filters"] = serde_json::json!([]);
    let emptied = dir.join("empty.json");
    std::fs::write(&emptied, empty.to_string()).unwrap();
    let full_json = full.join("report.json");
    let out = run(&[
        "report",
        "diff",
        full_json.to_str().unwrap(),
        emptied.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(100), "{}", text(&out));
    assert!(text(&out).contains("a regression"), "{}", text(&out));
    // Filtered on purpose: the same removal is expected.
    empty["run"]["filters"] = serde_json::json!(["okta"]);
    std::fs::write(&emptied, empty.to_string()).unwrap();
    let out = run(&[
        "report",
        "diff",
        full_json.to_str().unwrap(),
        emptied.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_durations_and_counts_are_usage_errors() {
    for args in [
        &["scenarios", "--timeout", "0"][..],
        &["scenarios", "--timeout=-1"],
        &["scenarios", "--timeout", "nan"],
        &["scenarios", "--timeout", "inf"],
        &["scenarios", "--ready-timeout", "nan"],
        &["scenarios", "--deadline", "0"],
        &["scenarios", "--jobs", "0"],
        &["bench", "--timeout", "nan"],
        &["bench", "--ready-timeout", "-3"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
    }
}

#[test]
fn only_literal_loopback_urls_with_a_port_are_targets() {
    for url in [
        "http://localhost.example.invalid:80",
        "http://127.0.0.1.example.invalid:80",
        "http://127.0.0.1",
        "http://10.0.0.1:80",
    ] {
        for cmd in [
            &["scenarios", "--target-url", url][..],
            &["fuzz", "--cases", "1", "--target-url", url],
            &["bench", "--requests", "1", "--target-url", url],
        ] {
            let out = run(cmd);
            assert_eq!(out.status.code(), Some(2), "{cmd:?}: {}", text(&out));
            assert!(text(&out).contains("loopback"), "{cmd:?}: {}", text(&out));
        }
    }
}

#[test]
fn challenge_text_is_kept_as_sent_and_escaped_on_the_console() {
    let dir = scratch("c1");
    let cmd = format!("exec {} c1-challenge", hostile());
    let out = scenarios_against(
        &cmd,
        &[
            "--filter",
            "rfc8725/3.1/alg-none/okta",
            "--report-dir",
            dir.to_str().unwrap(),
        ],
    );
    assert!(
        !out.stdout.contains(&0x1b) && !String::from_utf8_lossy(&out.stdout).contains('\u{9b}')
    );
    let json = std::fs::read_to_string(dir.join("report.json")).unwrap();
    // One character U+009B, not the Latin-1 reading of its two UTF-8 bytes (U+00C2 U+009B).
    assert!(json.contains("\u{9b}31m"), "{json}");
    assert!(!json.contains("\u{c2}\u{9b}"), "{json}");
    let diff = run(&[
        "report",
        "diff",
        dir.join("report.json").to_str().unwrap(),
        dir.join("report.json").to_str().unwrap(),
    ]);
    assert_eq!(diff.status.code(), Some(0), "{}", text(&diff));
    let _ = std::fs::remove_dir_all(&dir);
}
