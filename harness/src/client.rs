//! A bounded HTTP/1.1 client for talking to targets. It sends headers exactly as given
//! (duplicates, odd spacing, any scheme) and reports hangs, resets and garbage as such.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::Request;
use serde::Serialize;
use tokio::net::TcpStream;

/// A request as the harness sends it.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Outgoing {
    /// `GET` or `POST`.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers in order; names may repeat.
    pub headers: Vec<(String, String)>,
    /// Body (form-encoded for the body method).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
}

/// What the target answered.
#[derive(Clone, Debug, Serialize)]
pub struct TargetResponse {
    /// Status code.
    pub status: u16,
    /// Headers, lowercase names, in order.
    pub headers: Vec<(String, String)>,
    /// The body, at most 64 KiB.
    #[serde(skip)]
    pub body: Bytes,
}

impl TargetResponse {
    /// Every value of a header.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why no answer came.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "detail", rename_all = "kebab-case")]
pub enum Failure {
    /// The connection was refused: nothing listens.
    #[error("connection refused")]
    Refused,
    /// No complete answer within the time limit.
    #[error("no answer within {0} ms")]
    Timeout(u64),
    /// The connection was closed or reset before a complete answer.
    #[error("connection closed before a complete answer: {0}")]
    Closed(String),
    /// The bytes were not HTTP.
    #[error("not a valid HTTP answer: {0}")]
    Garbage(String),
    /// The harness could not build the request (a header value that HTTP forbids).
    #[error("request not sendable: {0}")]
    Unsendable(String),
}

/// Sends `req` to `addr` (`127.0.0.1:port`) with `host` as the Host header, on a fresh
/// connection, within `timeout`.
pub async fn send(
    addr: &str,
    host: &str,
    req: &Outgoing,
    timeout: Duration,
) -> Result<TargetResponse, Failure> {
    let ms = timeout.as_millis() as u64;
    match tokio::time::timeout(timeout, send_inner(addr, host, req)).await {
        Ok(r) => r,
        Err(_) => Err(Failure::Timeout(ms)),
    }
}

async fn send_inner(addr: &str, host: &str, req: &Outgoing) -> Result<TargetResponse, Failure> {
    let stream = TcpStream::connect(addr).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::ConnectionRefused => Failure::Refused,
        _ => Failure::Closed(e.to_string()),
    })?;
    let _ = stream.set_nodelay(true);
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
        .max_buf_size(256 * 1024)
        .handshake::<_, Full<Bytes>>(io)
        .await
        .map_err(|e| Failure::Closed(e.to_string()))?;
    let conn_task = tokio::spawn(conn);
    let mut builder = Request::builder()
        .method(req.method.as_str())
        .uri(req.path.as_str())
        .header("host", host);
    for (n, v) in &req.headers {
        let value = hyper::header::HeaderValue::from_bytes(v.as_bytes())
            .map_err(|e| Failure::Unsendable(e.to_string()))?;
        builder = builder.header(n.as_str(), value);
    }
    let request = builder
        .body(Full::new(Bytes::from(req.body.clone())))
        .map_err(|e| Failure::Unsendable(e.to_string()))?;
    let resp = sender.send_request(request).await.map_err(classify)?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), lossless_text(v.as_bytes())))
        .collect();
    let body = match Limited::new(resp.into_body(), 64 * 1024).collect().await {
        Ok(c) => c.to_bytes(),
        // A body larger than we keep is fine.
        Err(e) if is_length_limit(e.as_ref()) => Bytes::from_static(b"<body longer than 64 KiB>"),
        // A refusal whose connection closes under it (431 to a request it did not read, then
        // a reset) is still the target's answer: the status and headers arrived whole.
        Err(_) if status >= 400 => Bytes::from_static(b"<connection closed during the body>"),
        Err(e) => return Err(Failure::Closed(e.to_string())),
    };
    conn_task.abort();
    Ok(TargetResponse {
        status,
        headers,
        body,
    })
}

/// Header bytes as text without losing any: UTF-8 stays as it is, and each byte that is not
/// part of valid UTF-8 becomes `\xNN`.
///
/// ```
/// assert_eq!(byoid::client::lossless_text(b"caf\xc3\xa9"), "caf\u{e9}");
/// assert_eq!(byoid::client::lossless_text(b"a\xffb"), "a\\xFFb");
/// ```
pub fn lossless_text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out
}

/// Whether `e`, or an error it wraps, is [`Limited`]'s "body longer than the limit". The
/// chain is walked because a body adapter between `Limited` and the caller may wrap it.
fn is_length_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    std::iter::successors(Some(e), |e| e.source()).any(|e| e.is::<LengthLimitError>())
}

fn classify(e: hyper::Error) -> Failure {
    if e.is_parse() || e.is_parse_status() {
        Failure::Garbage(e.to_string())
    } else {
        Failure::Closed(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error a [`Limited`] body gives past its limit, as `send` sees it.
    async fn over_the_limit() -> Box<dyn std::error::Error + Send + Sync> {
        Limited::new(Full::new(Bytes::from(vec![b'x'; 100])), 10)
            .collect()
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn an_oversized_body_is_recognised_even_when_wrapped() {
        #[derive(Debug, thiserror::Error)]
        #[error("reading the body")]
        struct Wrapper(#[source] Box<dyn std::error::Error + Send + Sync>);

        let e = over_the_limit().await;
        assert!(is_length_limit(e.as_ref()), "{e:?}");
        assert!(is_length_limit(&Wrapper(e)));
        assert!(!is_length_limit(&std::io::Error::other(
            "length limit exceeded"
        )));
    }

    #[tokio::test]
    async fn a_200_with_a_body_over_64_kib_is_an_answer() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let body = vec![b'x'; 100 * 1024];
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(&body).await;
        });
        let req = Outgoing {
            method: "GET".into(),
            path: "/".into(),
            headers: Vec::new(),
            body: String::new(),
        };
        // Were the limit not recognised, a 200 whose body errors would be `Failure::Closed`.
        let answer = send(&addr, &addr, &req, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(answer.status, 200);
        assert_eq!(answer.text(), "<body longer than 64 KiB>");
    }
}
