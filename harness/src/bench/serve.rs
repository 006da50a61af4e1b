//! `byoid bench --serve-static PORT`: a trivial keep-alive HTTP/1.1 server (hyper) that
//! answers every request with the same 1.4 KB JSON, for comparing load generators.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use tokio::net::TcpListener;

/// The size of the static answer's body.
pub const STATIC_BODY_LEN: usize = 1400;

/// A JSON document of exactly [`STATIC_BODY_LEN`] bytes.
pub fn static_body() -> Bytes {
    let mut items = Vec::new();
    for i in 0..12 {
        items.push(format!(
            r#"{{"id":{i},"name":"item-{i:04}","tags":["alpha","beta"],"active":true,"score":{}.5}}"#,
            i * 7
        ));
    }
    let head = format!(
        r#"{{"service":"byoid-static","items":[{}],"pad":""#,
        items.join(",")
    );
    let pad = STATIC_BODY_LEN.saturating_sub(head.len() + 2);
    let body = format!("{head}{}\"}}", "x".repeat(pad));
    Bytes::from(body)
}

/// Serves on 127.0.0.1:`port` (0: any free port, printed) for `duration`; returns the exit code.
pub async fn serve_static(port: u16, duration: Duration) -> i32 {
    let listener = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on 127.0.0.1:{port}: {e}");
            return crate::exit::SETUP_ERROR;
        }
    };
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
                let body = body.clone();
                async move {
                    let mut resp = Response::new(Full::new(body));
                    resp.headers_mut().insert(
                        hyper::header::CONTENT_TYPE,
                        hyper::header::HeaderValue::from_static("application/json"),
                    );
                    Ok::<_, Infallible>(resp)
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
            let _ = tokio::time::timeout_at(deadline + Duration::from_secs(1), conn).await;
        });
    }
    crate::exit::OK
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_static_body_is_1400_bytes_of_json() {
        let b = super::static_body();
        assert_eq!(b.len(), super::STATIC_BODY_LEN);
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["items"].as_array().unwrap().len(), 12);
    }
}
