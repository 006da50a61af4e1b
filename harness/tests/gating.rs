//! A run that tested nothing never passes: a target that rejects every genuine token, or hangs
//! after `/healthz`, fails the run with one line per flavor (and `fuzz` and `bench` refuse to
//! measure it); a flavor the user deselects is left out and the report says so; a run where
//! every case was skipped exits 5.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output};
use std::time::Duration;

/// How the stand-in target answers everything but `/healthz`.
#[derive(Clone, Copy)]
enum Behaviour {
    /// 401 `invalid_token`, whatever the token.
    RejectAll,
    /// Never answers (the connection stays open until the harness gives up).
    Hang,
}

/// A target on a loopback port: 200 to `GET /healthz`, the behaviour to anything else.
fn stand_in_target(behaviour: Behaviour) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream, behaviour));
        }
    });
    addr
}

fn answer(mut stream: TcpStream, behaviour: Behaviour) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 256 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let healthz = head.starts_with(b"GET /healthz ");
    let response: &[u8] = match (healthz, behaviour) {
        (true, _) => b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        (false, Behaviour::RejectAll) => b"HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Bearer error=\"invalid_token\"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        (false, Behaviour::Hang) => {
            std::thread::sleep(Duration::from_secs(10));
            return;
        }
    };
    let _ = stream.write_all(response);
}

/// `byoid scenarios ARGS --color never` (or another subcommand's ARGS as given).
fn byoid(args: &[&str]) -> Output {
    let color: &[&str] = if args.first() == Some(&"scenarios") {
        &["--color", "never"]
    } else {
        &[]
    };
    Command::new(env!("CARGO_BIN_EXE_byoid"))
        .args(args)
        .args(color)
        .output()
        .expect("byoid runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const FLAVORS: [&str; 6] = [
    "auth0",
    "entra-common",
    "entra-v1",
    "entra-v2",
    "generic",
    "okta",
];

#[test]
fn a_target_that_rejects_every_genuine_token_fails_the_run_once_per_flavor() {
    let addr = stand_in_target(Behaviour::RejectAll);
    let url = format!("http://{addr}");
    let out = byoid(&["scenarios", "--target-url", &url]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(100), "{all}");
    for flavor in FLAVORS {
        let line = format!("error: the genuine {flavor} token was rejected");
        assert_eq!(
            all.matches(&line).count(),
            1,
            "one line for {flavor}:\n{all}"
        );
        assert!(
            all.contains(&format!("FAIL genuine-token/{flavor}")),
            "the control is a case of its own:\n{all}"
        );
    }
    assert!(
        all.contains(" 0 passed,") && all.contains(" 6 failed,"),
        "{all}"
    );
    assert!(!all.contains(" 0 untestable,"), "{all}");
}

#[test]
fn a_target_that_hangs_after_healthz_fails_the_run() {
    let addr = stand_in_target(Behaviour::Hang);
    let url = format!("http://{addr}");
    let out = byoid(&[
        "scenarios",
        "--target-url",
        &url,
        "--filter",
        "rfc8725/3.1/alg-none",
        "--timeout",
        "0.3",
    ]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(100), "{all}");
    assert!(all.contains("ERROR genuine-token/okta"), "{all}");
    assert!(all.contains("UNTESTABLE alg-none/okta"), "{all}");
}

#[test]
fn a_deselected_flavor_is_left_out_and_the_report_says_so() {
    let dir = std::env::temp_dir().join(format!("byoid-gating-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = byoid(&[
        "scenarios",
        "--filter",
        "rfc8725/3.1/alg-none",
        "--skip-flavor",
        "okta",
        "--skip-flavor",
        "entra-v1",
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains("Flavors deselected (--skip-flavor): okta, entra-v1"),
        "{all}"
    );
    assert!(
        !all.contains("/okta") && !all.contains("/entra-v1 "),
        "{all}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(
        report["run"]["skipped_flavors"],
        serde_json::json!(["okta", "entra-v1"])
    );
    assert!(report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["flavor"] != "okta" && c["flavor"] != "entra-v1"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_where_every_case_was_skipped_exits_5() {
    // Both cases need `--tls`: without it they are skipped, and nothing is judged.
    let out = byoid(&[
        "scenarios",
        "--filter",
        "contract/4/http-metadata-when-https-required",
    ]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(5), "{all}");
    assert!(all.contains("no case was judged"), "{all}");
}

#[test]
fn fuzz_and_bench_refuse_to_measure_a_target_that_rejects_genuine_tokens() {
    let addr = stand_in_target(Behaviour::RejectAll);
    let url = format!("http://{addr}");
    let out_dir = std::env::temp_dir().join(format!("byoid-gating-fuzz-{}", std::process::id()));
    let fuzz = byoid(&[
        "fuzz",
        "--target-url",
        &url,
        "--cases",
        "5",
        "--out-dir",
        out_dir.to_str().unwrap(),
    ]);
    let all = text(&fuzz);
    assert_eq!(fuzz.status.code(), Some(100), "{all}");
    assert!(
        all.contains("error: the genuine okta token was rejected"),
        "{all}"
    );
    assert!(all.contains("nothing was fuzzed"), "{all}");
    let bench = byoid(&[
        "bench",
        "--target-url",
        &url,
        "--requests",
        "200",
        "--connections",
        "2",
        "--mix",
        "genuine=1",
    ]);
    let all = text(&bench);
    assert_eq!(bench.status.code(), Some(100), "{all}");
    assert!(all.contains("rejected every genuine token"), "{all}");
    let _ = std::fs::remove_dir_all(&out_dir);
}
