//! The reference's own HTTP/1.1 loop (`byoid_reference::http1`), spoken to in raw
//! bytes over loopback TCP: persistence, pipelining, body framing (length,
//! chunked, `Expect: 100-continue`), `HEAD`, and the refusals that close the
//! connection (oversized heads and bodies, smuggling shapes, garbage).
//!
//! No IdP is needed: every request here is answered before any key is fetched
//! (health checks, missing credentials, a token sent two ways).

use std::time::Duration;

use byoid_reference::{Config, Manifest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Bound on every read: a hang is a failure, not a stuck test.
const WAIT: Duration = Duration::from_secs(5);

async fn server() -> TcpStream {
    let manifest = Manifest::from_json(
        r#"{"tenant_source":{"kind":"header","header":"X-Tenant-Slug"},
            "tenants":[{"slug":"contoso",
                        "metadata_address":"http://127.0.0.1:9/contoso/.well-known/openid-configuration",
                        "valid_audiences":["api://byoid"]}]}"#,
    )
    .expect("manifest");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(byoid_reference::serve(listener, Config::new(manifest)));
    TcpStream::connect(addr).await.expect("connect")
}

/// One parsed response.
#[derive(Debug)]
struct Response {
    status: u16,
    fields: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A connection with the bytes read past the last response.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open() -> Conn {
        Conn {
            stream: server().await,
            buf: Vec::new(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    async fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 16 * 1024];
        let n = tokio::time::timeout(WAIT, self.stream.read(&mut chunk))
            .await
            .expect("the server answered within 5 s")
            .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// Reads one response; a response to `HEAD` has no body whatever its length says.
    async fn response(&mut self, head_request: bool) -> Response {
        loop {
            let mut fields = [httparse::EMPTY_HEADER; 32];
            let mut r = httparse::Response::new(&mut fields);
            if let httparse::Status::Complete(n) = r.parse(&self.buf).expect("a valid response") {
                let fields: Vec<(String, String)> = r
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_owned(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect();
                let status = r.code.expect("status");
                let len: usize = fields
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .map_or(0, |(_, v)| v.parse().expect("numeric length"));
                let len = if head_request || status == 100 {
                    0
                } else {
                    len
                };
                while self.buf.len() < n + len {
                    assert!(self.fill().await > 0, "connection closed inside a body");
                }
                let body = self.buf[n..n + len].to_vec();
                self.buf.drain(..n + len);
                return Response {
                    status,
                    fields,
                    body,
                };
            }
            assert!(self.fill().await > 0, "connection closed before a response");
        }
    }

    /// Whether the server closed the connection (after any bytes left).
    async fn closed(&mut self) -> bool {
        self.buf.is_empty() && self.fill().await == 0
    }
}

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let mut c = Conn::open().await;
    let mut two = HEALTH.to_vec();
    two.extend_from_slice(b"GET /api/whoami HTTP/1.1\r\nHost: t\r\nX-Tenant-Slug: contoso\r\n\r\n");
    c.send(&two).await;
    let first = c.response(false).await;
    assert_eq!((first.status, &first.body[..]), (200, &b"ok"[..]));
    assert!(
        first.field("date").is_some_and(|d| d.ends_with(" GMT")),
        "{first:?}"
    );
    let second = c.response(false).await;
    assert_eq!(second.status, 401);
    assert_eq!(
        second.field("www-authenticate"),
        Some("Bearer realm=\"byoid\"")
    );
    // Still open: a third request on the same connection.
    c.send(HEALTH).await;
    assert_eq!(c.response(false).await.status, 200);
}

/// A form-body token plus a header token is 400 (two methods): proof the body was read.
fn two_methods(framing: &str, body: &str) -> Vec<u8> {
    format!(
        "POST /api/whoami HTTP/1.1\r\nHost: t\r\nX-Tenant-Slug: contoso\r\n\
         Authorization: Bearer a.b.c\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         {framing}\r\n\r\n{body}"
    )
    .into_bytes()
}

#[tokio::test]
async fn form_bodies_are_read_by_length_and_chunked() {
    let mut c = Conn::open().await;
    let body = "access_token=abc";
    c.send(&two_methods(
        &format!("Content-Length: {}", body.len()),
        body,
    ))
    .await;
    let r = c.response(false).await;
    assert_eq!(r.status, 400, "{r:?}");
    assert!(r
        .field("www-authenticate")
        .is_some_and(|w| w.contains("invalid_request")));
    c.send(&two_methods(
        "Transfer-Encoding: chunked",
        "7;x=y\r\naccess_\r\n9\r\ntoken=abc\r\n0\r\nTrailer: t\r\n\r\n",
    ))
    .await;
    assert_eq!(c.response(false).await.status, 400);
    // The same without a body token is the header token alone (malformed: 401).
    c.send(&two_methods("Content-Length: 5", "a=b&c")).await;
    assert_eq!(c.response(false).await.status, 401);
    c.send(HEALTH).await;
    assert_eq!(
        c.response(false).await.status,
        200,
        "the connection is in step"
    );
}

#[tokio::test]
async fn expect_continue_gets_100_before_the_body_is_sent() {
    let mut c = Conn::open().await;
    let body = "access_token=abc";
    let head = two_methods(
        &format!("Content-Length: {}\r\nExpect: 100-continue", body.len()),
        "",
    );
    c.send(&head).await;
    assert_eq!(c.response(false).await.status, 100);
    c.send(body.as_bytes()).await;
    assert_eq!(c.response(false).await.status, 400);
}

#[tokio::test]
async fn head_answers_carry_the_length_but_no_body() {
    let mut c = Conn::open().await;
    c.send(b"HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n").await;
    let r = c.response(true).await;
    assert_eq!((r.status, r.field("content-length")), (200, Some("2")));
    c.send(HEALTH).await;
    let r = c.response(false).await;
    assert_eq!(
        (r.status, &r.body[..]),
        (200, &b"ok"[..]),
        "no stray body bytes"
    );
}

#[tokio::test]
async fn connection_close_and_http10_end_the_connection() {
    let mut c = Conn::open().await;
    c.send(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await;
    let r = c.response(false).await;
    assert_eq!((r.status, r.field("connection")), (200, Some("close")));
    assert!(c.closed().await);

    let mut c = Conn::open().await;
    c.send(b"GET /healthz HTTP/1.0\r\n\r\n").await;
    assert_eq!(c.response(false).await.status, 200);
    assert!(c.closed().await);

    let mut c = Conn::open().await;
    c.send(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .await;
    let r = c.response(false).await;
    assert_eq!(r.field("connection"), Some("keep-alive"));
    c.send(HEALTH).await;
    assert_eq!(c.response(false).await.status, 200);
}

#[tokio::test]
async fn protocol_breaks_are_refused_and_the_connection_closed() {
    let huge = format!(
        "GET /api/whoami HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\n\r\n",
        "a".repeat(300_000)
    );
    let many: String = (0..120).map(|i| format!("X-F{i}: v\r\n")).collect();
    let cases: [(&str, Vec<u8>, u16); 6] = [
        ("oversized head", huge.into_bytes(), 431),
        (
            "too many fields",
            format!("GET /healthz HTTP/1.1\r\n{many}\r\n").into_bytes(),
            431,
        ),
        (
            "length and chunked",
            two_methods(
                "Content-Length: 3\r\nTransfer-Encoding: chunked",
                "0\r\n\r\n",
            ),
            400,
        ),
        (
            "conflicting lengths",
            two_methods("Content-Length: 3\r\nContent-Length: 4", "abcd"),
            400,
        ),
        (
            "unknown coding",
            two_methods("Transfer-Encoding: gzip", ""),
            501,
        ),
        ("garbage", b"\x01\x02 nonsense\r\n\r\n".to_vec(), 400),
    ];
    for (what, bytes, status) in cases {
        let mut c = Conn::open().await;
        c.send(&bytes).await;
        let r = c.response(false).await;
        assert_eq!(r.status, status, "{what}: {r:?}");
        assert_eq!(r.field("connection"), Some("close"), "{what}");
        assert!(c.closed().await, "{what}: the connection closes");
    }
}

#[tokio::test]
async fn an_oversized_form_body_is_413_and_not_read() {
    let mut c = Conn::open().await;
    c.send(&two_methods("Content-Length: 1000000", "access_token="))
        .await;
    let r = c.response(false).await;
    assert_eq!(r.status, 413, "{r:?}");
    assert!(c.closed().await);
    // A non-form body of that size is not read either; the request is still answered.
    let mut c = Conn::open().await;
    c.send(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\nxx")
        .await;
    let r = c.response(false).await;
    assert_eq!(r.status, 405);
    assert!(c.closed().await);
}
