//! The load generator's lab: a trivial static target, and bare GETs with `byoid bench`'s
//! generator, to measure the generator itself against wrk and oha
//! (`scripts/compare-loadgen.sh`, benches/README.md). Lab tools, not part of the `byoid`
//! command.
//!
//! ```sh
//! cargo build --release -p byoid --example loadgen_lab
//! target/release/examples/loadgen_lab serve --port 18089 --duration 60 &
//! target/release/examples/loadgen_lab get http://127.0.0.1:18089/ --connections 64 --duration 10
//! ```
//!
//! `get` prints the table `byoid bench` prints, with one mix, `raw`; exit codes are
//! `byoid bench`'s (2 bad usage, 96 setup error, 97 the target failed or never answered).

use std::convert::Infallible;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use byoid::bench::report::{self, BenchReport, MixLabel, RunSetup};
use byoid::bench::{drive, loopback_url, LoadArgs, MAX_DURATION_S};
use byoid::exit;
use bytes::Bytes;
use clap::{Parser, Subcommand};
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use tokio::net::TcpListener;

// The generator is measured with the allocator it has in `byoid`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Lab tools for measuring `byoid bench`'s load generator.
#[derive(Parser, Debug)]
#[command(name = "loadgen_lab")]
struct Lab {
    #[command(subcommand)]
    tool: Tool,
}

#[derive(Subcommand, Debug)]
enum Tool {
    /// Serve a fixed 1400-byte JSON on 127.0.0.1:PORT (hyper, keep-alive HTTP/1.1) until
    /// --duration passes or Ctrl-C: the common target of the generator comparison.
    Serve {
        /// The port (0: any free port, printed on stderr).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Seconds to serve (above 0, at most 600).
        #[arg(long, default_value_t = 60.0)]
        duration: f64,
    },
    /// GET a loopback URL with no token (no IdPs, no mix) with `byoid bench`'s generator.
    Get {
        /// `http://127.0.0.1:PORT/PATH`.
        url: String,
        /// How hard and how long.
        #[command(flatten)]
        load: LoadArgs,
        /// Write the results as JSON (`byoid-bench/1`) here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

/// An exit code and what to say.
type Fail = (i32, String);

#[tokio::main]
async fn main() -> ExitCode {
    let result = match Lab::parse().tool {
        Tool::Serve { port, duration } => serve_on(port, duration).await,
        Tool::Get { url, load, json } => {
            get(&url, &load, json.as_deref(), &mut std::io::stdout().lock()).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(code as u8)
        }
    }
}

/// The size of the static answer's body.
const STATIC_BODY_LEN: usize = 1400;

/// A JSON document of exactly [`STATIC_BODY_LEN`] bytes, shaped like an API's answer.
fn static_body() -> Bytes {
    let items: Vec<String> = (0..12)
        .map(|i| {
            format!(
                r#"{{"id":{i},"name":"item-{i:04}","tags":["alpha","beta"],"active":true,"score":{}.5}}"#,
                i * 7
            )
        })
        .collect();
    let head = format!(
        r#"{{"service":"byoid-static","items":[{}],"pad":""#,
        items.join(",")
    );
    let pad = STATIC_BODY_LEN.saturating_sub(head.len() + 2);
    Bytes::from(format!("{head}{}\"}}", "x".repeat(pad)))
}

async fn serve_on(port: u16, duration: f64) -> Result<(), Fail> {
    if !(duration > 0.0 && duration <= MAX_DURATION_S) {
        return Err((
            exit::USAGE,
            format!("--duration must be above 0 and at most {MAX_DURATION_S} seconds"),
        ));
    }
    let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
        (
            exit::SETUP_ERROR,
            format!("cannot listen on 127.0.0.1:{port}: {e}"),
        )
    })?;
    serve(listener, Duration::from_secs_f64(duration)).await;
    Ok(())
}

/// Answers every request on `listener` with [`static_body`] for `duration`, or until Ctrl-C.
async fn serve(listener: TcpListener, duration: Duration) {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let body = static_body();
    eprintln!(
        "serving a {}-byte JSON on http://{addr}/ for {} s (keep-alive HTTP/1.1)",
        body.len(),
        duration.as_secs_f64()
    );
    let deadline = tokio::time::Instant::now() + duration;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = tokio::time::sleep_until(deadline) => break,
            _ = tokio::signal::ctrl_c() => break,
        };
        let Ok((stream, _)) = accepted else { continue };
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |_req: Request<hyper::body::Incoming>| {
                let mut resp = Response::new(Full::new(body.clone()));
                resp.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("application/json"),
                );
                async move { Ok::<_, Infallible>(resp) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
            let _ = tokio::time::timeout_at(deadline + Duration::from_secs(1), conn).await;
        });
    }
}

/// Drives `url` with bare GETs as `load` says; writes the table to `out`.
async fn get(
    url: &str,
    load: &LoadArgs,
    json: Option<&Path>,
    out: &mut dyn Write,
) -> Result<(), Fail> {
    let usage = |e: String| (exit::USAGE, e);
    load.check().map_err(usage)?;
    let (addr, host, path) = loopback_url(url).map_err(usage)?;
    // A target that is not there is said so before any generator thread starts.
    let connected =
        tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr))
            .await
            .unwrap_or_else(|_| Err(std::io::Error::other("timed out")));
    if let Err(e) = connected {
        return Err((
            exit::TARGET_FAILED,
            format!("cannot connect to {addr}: {e}"),
        ));
    }
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes();
    let setup = RunSetup {
        target: format!("url:{url} (raw GET)"),
        connections: load.connections,
        threads: load.threads(),
        rate: load.rate,
        pool: 1,
    };
    let (measured, interrupted) = drive(load.plan(addr, vec![vec![request]], vec![0])).await;
    let raw = MixLabel {
        name: "raw",
        weight: 1,
        idp: None,
    };
    let report = BenchReport::new(setup, &[raw], &measured);
    let _ = write!(out, "{}", report::render_table(&report));
    if let Some(path) = json {
        report.save(path).map_err(|e| {
            (
                exit::SETUP_ERROR,
                format!("cannot write `{}`: {e}", path.display()),
            )
        })?;
        let _ = writeln!(out, "Wrote {}", path.display());
    }
    report
        .require_answers()
        .map_err(|e| (exit::TARGET_FAILED, e))?;
    if interrupted {
        eprintln!("interrupted: the results cover the run until Ctrl-C");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_static_body_is_1400_bytes_of_json() {
        let b = static_body();
        assert_eq!(b.len(), STATIC_BODY_LEN);
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["items"].as_array().unwrap().len(), 12);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn raw_gets_measure_the_static_target() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let server = tokio::spawn(serve(listener, Duration::from_secs(10)));
        let dir = tempfile::Builder::new()
            .prefix("byoid-loadgen-lab-")
            .tempdir()
            .unwrap();
        let json = dir.path().join("raw.json");
        let load = LoadArgs {
            duration: Some(1.0),
            connections: 8,
            ..LoadArgs::default()
        };
        let mut table = Vec::new();
        get(&url, &load, Some(&json), &mut table).await.unwrap();
        server.abort();
        let table = String::from_utf8(table).unwrap();
        assert!(table.lines().any(|l| l.starts_with("all ")), "{table}");
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(r["mixes"][0]["name"], "raw", "{r:#}");
        assert!(
            r["mixes"][0]["statuses"]["200"].as_u64().unwrap() > 100,
            "{r:#}"
        );
    }

    #[tokio::test]
    async fn bad_input_is_a_usage_error_and_an_absent_target_a_target_failure() {
        let load = LoadArgs {
            duration: Some(1.0),
            connections: 8,
            ..LoadArgs::default()
        };
        let e = get("http://10.0.0.1:80/", &load, None, &mut std::io::sink())
            .await
            .unwrap_err();
        assert_eq!(e.0, exit::USAGE, "{}", e.1);
        let bad = LoadArgs {
            connections: 0,
            ..load.clone()
        };
        let e = get("http://127.0.0.1:9/", &bad, None, &mut std::io::sink())
            .await
            .unwrap_err();
        assert_eq!(e.0, exit::USAGE, "{}", e.1);
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", free.local_addr().unwrap());
        drop(free);
        let e = get(&url, &load, None, &mut std::io::sink())
            .await
            .unwrap_err();
        assert_eq!(e.0, exit::TARGET_FAILED, "{}", e.1);
        assert_eq!(serve_on(0, 0.0).await.unwrap_err().0, exit::USAGE);
    }
}
