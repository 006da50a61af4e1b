//! `hostile-target MODE [N] [MARKER]`: a target that misbehaves the way real validators do,
//! for `harness/tests/hostile.rs` and `harness/tests/targets.rs`. It listens on
//! `127.0.0.1:$BYOID_PORT` when it listens at all, reads no manifest, and answers one request
//! per connection. Trailing arguments are ignored (tests pass a marker to find the process).
//!
//! | mode | what it does |
//! |---|---|
//! | `hang` | answers `/healthz`, never answers anything else |
//! | `die-after N` | answers 200 to N requests, then writes a line to stderr and exits 3 |
//! | `reject` | answers 401 `invalid_token` |
//! | `c1-challenge` | the same, with a CSI (U+009B) in `error_description` |
//! | `accept` | answers 200 for whichever tenant `X-Tenant-Slug` names |
//! | `garbage` | answers `/healthz`, then closes every other connection after junk bytes |
//! | `never-ready` | never listens; sleeps until killed |
//! | `escape` | writes terminal escape sequences to stderr, exits 4 before becoming ready |

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

static ANSWERED: AtomicU64 = AtomicU64::new(0);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().cloned().unwrap_or_default();
    match mode.as_str() {
        "never-ready" => std::thread::sleep(Duration::from_secs(3600)),
        "escape" => {
            eprintln!("\x1b]0;PWNED\x07\x1b[2Jcleared \u{9b}31m csi");
            std::process::exit(4);
        }
        "hang" | "die-after" | "reject" | "c1-challenge" | "accept" | "garbage" => {
            let limit = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(0);
            serve(&mode, limit)
        }
        other => {
            eprintln!("hostile-target: unknown mode `{other}`");
            std::process::exit(2);
        }
    }
}

fn serve(mode: &str, limit: u64) {
    let port: u16 = std::env::var("BYOID_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            eprintln!("hostile-target: BYOID_PORT is not a port");
            std::process::exit(2)
        });
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| {
        eprintln!("hostile-target: cannot listen on 127.0.0.1:{port}: {e}");
        std::process::exit(2)
    });
    for conn in listener.incoming().flatten() {
        let mode = mode.to_string();
        std::thread::spawn(move || answer(conn, &mode, limit));
    }
}

/// The request head (the body, if any, is not needed by any mode).
fn read_head(conn: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 1 << 20 {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

fn answer(mut conn: TcpStream, mode: &str, limit: u64) {
    let head = read_head(&mut conn);
    let path = head.split_whitespace().nth(1).unwrap_or("");
    if path == "/healthz" {
        return send(&mut conn, 200, "", "ok");
    }
    match mode {
        "hang" => std::thread::sleep(Duration::from_secs(3600)),
        "garbage" => {
            let _ = conn.write_all(b"garbage\r\n\r\n");
        }
        "reject" => send(&mut conn, 401, r#"Bearer error="invalid_token""#, ""),
        "c1-challenge" => send(
            &mut conn,
            401,
            "Bearer error=\"invalid_token\", error_description=\"\u{9b}31m\"",
            "",
        ),
        _ => {
            let n = ANSWERED.fetch_add(1, Ordering::SeqCst) + 1;
            if mode == "die-after" && n > limit {
                eprintln!("fatal: out of file descriptors after {limit} requests");
                std::process::exit(3);
            }
            let tenant = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("x-tenant-slug")
                        .then(|| value.trim().to_string())
                })
                .unwrap_or_default();
            let body = format!(
                r#"{{"tenant":"{}","claims":{{}}}}"#,
                tenant.replace(['"', '\\'], "")
            );
            send(&mut conn, 200, "", &body)
        }
    }
}

fn send(conn: &mut TcpStream, status: u16, challenge: &str, body: &str) {
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        _ => "Status",
    };
    let mut head = format!("HTTP/1.1 {status} {reason}\r\nconnection: close\r\n");
    if !challenge.is_empty() {
        head.push_str(&format!("www-authenticate: {challenge}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(body.as_bytes());
}
