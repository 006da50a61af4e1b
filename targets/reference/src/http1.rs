//! The reference's HTTP/1.1 server: what [`crate::serve`] runs on each
//! accepted connection.
//!
//! Why not hyper: the contract needs four routes, header lookups and a
//! `200` whose bytes the verified-token cache already holds. hyper's server is
//! general (a dispatcher, a body channel, an `http::Request` with a header map
//! built and validated field by field), and the benchmark against a bare hyper
//! verify server (`benches/`) counts that generality on the reference's side
//! of every ratio. This loop parses with httparse, the parser hyper itself
//! uses, and hands the fields to [`crate::answer`] where they lie in the read
//! buffer. The figures are in `benches/README.md`.
//!
//! What it implements (RFC 9112):
//!
//! * A request head is at most [`MAX_HEAD_BYTES`] with at most [`MAX_HEADERS`]
//!   fields, else `431` and the connection closes; a malformed head is `400`.
//! * Persistent connections: HTTP/1.1 keeps the connection unless
//!   `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`.
//!   Pipelined requests are answered in order.
//! * Bodies framed by `Content-Length` or `Transfer-Encoding: chunked`. Both at
//!   once, a malformed or conflicting `Content-Length`, or a transfer coding on
//!   HTTP/1.0: `400` and close (request smuggling). Any coding but `chunked`:
//!   `501` and close.
//! * A body is read up to [`MAX_FORM_BODY_BYTES`]. A longer one is not read: the
//!   request is answered (a form body with `413`) and the connection closes.
//! * `Expect: 100-continue` is answered with `100 Continue` before a body is read.
//! * A request head or body started but stalled for [`READ_TIMEOUT`] closes the
//!   connection; an idle connection between requests waits for the client.
//! * Every response has `Content-Length` and `Date`; a `HEAD` response has no body.

use std::cell::Cell;
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{Method, StatusCode};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::request::{is_form, FormBody, HeaderLookup, RequestHead};
use crate::{answer, Answer, Validator, MAX_FORM_BODY_BYTES};

/// Largest request head (request line and header fields). Tokens longer than
/// 16 KiB are refused as invalid, and the catalog sends 64 KiB ones to see
/// that refusal, so the head limit sits well above (hyper's is ~408 KiB).
pub const MAX_HEAD_BYTES: usize = 256 * 1024;
/// Most header fields in one request (hyper's default too).
pub const MAX_HEADERS: usize = 100;
/// How long a started request head or body may stall.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long, and how many bytes, a closing connection reads and discards so
/// that the client receives the answer before the close (see [`linger`]).
const LINGER: (Duration, usize) = (Duration::from_millis(500), 256 * 1024);
/// Spare room made in the read buffer before each read.
const READ_RESERVE: usize = 4096;
/// A connection's read buffer to begin with: room for any usual request head.
const READ_BUFFER: usize = 8 * 1024;

/// Serves one connection until the client closes it, a request asks to close
/// it, or it breaks the protocol.
///
/// ```no_run
/// # async fn run(v: std::sync::Arc<byoid_reference::Validator>) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let (stream, _) = listener.accept().await?;
/// tokio::spawn(byoid_reference::http1::connection(stream, v));
/// # Ok(()) }
/// ```
pub async fn connection(stream: TcpStream, v: Arc<Validator>) {
    let _ = stream.set_nodelay(true);
    let mut conn = Conn {
        stream,
        buf: Vec::with_capacity(READ_BUFFER),
        out: Vec::with_capacity(1024),
    };
    while conn.exchange(&v).await {
        // A connection that once sent a large head does not keep the memory.
        if conn.buf.capacity() > 4 * READ_BUFFER && conn.buf.len() <= READ_BUFFER {
            conn.buf.shrink_to(READ_BUFFER);
        }
    }
}

struct Conn {
    stream: TcpStream,
    /// Bytes read and not yet consumed: the current request and any pipelined after it.
    buf: Vec<u8>,
    /// The response being written (kept to reuse its allocation).
    out: Vec<u8>,
}

/// How a request's body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyLen {
    None,
    Length(u64),
    Chunked,
}

/// What the head says about the body and the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Framing {
    body: BodyLen,
    keep_alive: bool,
    expect_continue: bool,
    http10: bool,
}

impl Conn {
    /// Reads, answers and consumes one request; `false` when the connection is done.
    async fn exchange(&mut self, v: &Validator) -> bool {
        // Bytes already searched for the head's end (less the 2 an end may straddle).
        let mut searched = 0;
        let (head_len, framing) = loop {
            if head_may_be_complete(&self.buf[searched..]) {
                let mut fields = [const { MaybeUninit::uninit() }; MAX_HEADERS];
                let mut req = httparse::Request::new(&mut []);
                match req.parse_with_uninit_headers(&self.buf, &mut fields) {
                    Ok(httparse::Status::Complete(n)) => {
                        let framing = match Framing::of(&req) {
                            Ok(f) => f,
                            Err(status) => return self.refuse(status).await,
                        };
                        if framing.body == BodyLen::None {
                            // The common case: answered from this one parse.
                            let connection = framing.connection_field();
                            let ok = reply_to(
                                &mut self.stream,
                                &mut self.out,
                                v,
                                &req,
                                FormBody::NotForm,
                                connection,
                            )
                            .await;
                            self.buf.drain(..n);
                            return ok && framing.keep_alive;
                        }
                        break (n, framing);
                    }
                    Ok(httparse::Status::Partial) => {}
                    Err(httparse::Error::TooManyHeaders) => {
                        return self
                            .refuse(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
                            .await
                    }
                    Err(_) => return self.refuse(StatusCode::BAD_REQUEST).await,
                }
            }
            if self.buf.len() >= MAX_HEAD_BYTES {
                return self
                    .refuse(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
                    .await;
            }
            searched = self.buf.len().saturating_sub(2);
            let mid_request = !self.buf.is_empty();
            if !read_more(&mut self.stream, &mut self.buf, mid_request).await {
                return false;
            }
        };
        self.with_body(v, head_len, framing).await
    }

    /// Reads the body of the request whose head is `buf[..head_len]`, then answers it.
    async fn with_body(&mut self, v: &Validator, head_len: usize, framing: Framing) -> bool {
        let limit = MAX_FORM_BODY_BYTES;
        let mut continued = false;
        // (the body, bytes of `buf` it ends at), or None when it is too large to read.
        let body: Option<(Vec<u8>, usize)> = loop {
            let complete = match framing.body {
                BodyLen::Length(n) if n > limit as u64 => break None,
                BodyLen::Length(n) => {
                    let end = head_len + n as usize;
                    (self.buf.len() >= end).then(|| (self.buf[head_len..end].to_vec(), end))
                }
                BodyLen::Chunked => match dechunk(&self.buf[head_len..], limit) {
                    Ok(Some((body, used))) => Some((body, head_len + used)),
                    Ok(None) if self.buf.len() - head_len > limit + MAX_HEAD_BYTES => break None,
                    Ok(None) => None,
                    Err(Dechunk::TooLarge) => break None,
                    Err(Dechunk::Invalid) => return self.refuse(StatusCode::BAD_REQUEST).await,
                },
                BodyLen::None => Some((Vec::new(), head_len)),
            };
            if let Some(c) = complete {
                break Some(c);
            }
            if framing.expect_continue && !continued {
                continued = true;
                if self
                    .stream
                    .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                    .await
                    .is_err()
                {
                    return false;
                }
            }
            if !read_more(&mut self.stream, &mut self.buf, true).await {
                return false;
            }
        };
        let mut fields = [const { MaybeUninit::uninit() }; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut []);
        if !matches!(
            req.parse_with_uninit_headers(&self.buf[..head_len], &mut fields),
            Ok(httparse::Status::Complete(_))
        ) {
            // Parsed complete once already; a second parse cannot differ.
            return self.refuse(StatusCode::BAD_REQUEST).await;
        }
        let form = is_form(&*req.headers);
        let form_body = match &body {
            _ if !form => FormBody::NotForm,
            Some((b, _)) => FormBody::Form(b),
            None => FormBody::TooLarge,
        };
        // A body not read leaves the connection unable to carry another request.
        let connection = match body {
            Some(_) => framing.connection_field(),
            None => Some("close"),
        };
        let (stream, out) = (&mut self.stream, &mut self.out);
        let ok = reply_to(stream, out, v, &req, form_body, connection).await;
        let Some((_, end)) = body else {
            linger(&mut self.stream).await;
            return false;
        };
        self.buf.drain(..end);
        ok && framing.keep_alive
    }
}

impl Conn {
    /// Answers a request that breaks the protocol with `status` and closes:
    /// always `false`.
    async fn refuse(&mut self, status: StatusCode) -> bool {
        self.out.clear();
        let closing = Some("close");
        encode(
            &mut self.out,
            status,
            std::iter::empty(),
            b"",
            false,
            closing,
        );
        if self.stream.write_all(&self.out).await.is_ok() {
            linger(&mut self.stream).await;
        }
        false
    }
}

impl Framing {
    /// The `Connection` field a response to this request carries: `close` when
    /// the connection ends after it, `keep-alive` when HTTP/1.0 keeps it.
    fn connection_field(self) -> Option<&'static str> {
        match (self.keep_alive, self.http10) {
            (false, _) => Some("close"),
            (true, true) => Some("keep-alive"),
            (true, false) => None,
        }
    }

    /// Body framing and persistence of a parsed head, or the status refusing it.
    fn of(req: &httparse::Request<'_, '_>) -> Result<Framing, StatusCode> {
        let fields: &[httparse::Header<'_>] = req.headers;
        let http10 = req.version == Some(0);
        let body = if fields.field_value("transfer-encoding").is_some() {
            if http10 || fields.field_value("content-length").is_some() {
                return Err(StatusCode::BAD_REQUEST);
            }
            let mut codings = fields
                .field_values("transfer-encoding")
                .flat_map(|v| v.split(|&b| b == b','))
                .map(<[u8]>::trim_ascii)
                .filter(|c| !c.is_empty());
            match (codings.next(), codings.next()) {
                (Some(c), None) if c.eq_ignore_ascii_case(b"chunked") => BodyLen::Chunked,
                _ => return Err(StatusCode::NOT_IMPLEMENTED),
            }
        } else {
            let mut len = None;
            for part in fields
                .field_values("content-length")
                .flat_map(|v| v.split(|&b| b == b','))
            {
                let n = parse_length(part.trim_ascii()).ok_or(StatusCode::BAD_REQUEST)?;
                if len.is_some_and(|l| l != n) {
                    return Err(StatusCode::BAD_REQUEST);
                }
                len = Some(n);
            }
            match len {
                None | Some(0) => BodyLen::None,
                Some(n) => BodyLen::Length(n),
            }
        };
        let (mut close, mut keep) = (false, false);
        for token in fields
            .field_values("connection")
            .flat_map(|v| v.split(|&b| b == b','))
            .map(<[u8]>::trim_ascii)
        {
            close |= token.eq_ignore_ascii_case(b"close");
            keep |= token.eq_ignore_ascii_case(b"keep-alive");
        }
        let expect_continue = !http10
            && fields
                .field_value("expect")
                .is_some_and(|e| e.trim_ascii().eq_ignore_ascii_case(b"100-continue"));
        Ok(Framing {
            body,
            keep_alive: !close && (!http10 || keep),
            expect_continue,
            http10,
        })
    }
}

/// A `Content-Length` value: 1 to 19 ASCII digits.
fn parse_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
}

/// Whether `buf` holds an empty line, the end of a head (CRLF or bare LF
/// line ends): only then is it worth parsing.
fn head_may_be_complete(buf: &[u8]) -> bool {
    memchr::memmem::find(buf, b"\n\r\n").is_some() || memchr::memmem::find(buf, b"\n\n").is_some()
}

/// Why a chunked body cannot be decoded.
#[derive(Debug, PartialEq, Eq)]
enum Dechunk {
    TooLarge,
    Invalid,
}

/// Decodes a chunked body at the start of `data`: the body and the bytes it
/// took (trailer fields skipped), `None` when more bytes are needed.
fn dechunk(data: &[u8], limit: usize) -> Result<Option<(Vec<u8>, usize)>, Dechunk> {
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        let (start, size) = match httparse::parse_chunk_size(&data[pos..]) {
            Ok(httparse::Status::Complete((i, size))) => (pos + i, size),
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(Dechunk::Invalid),
        };
        if size == 0 {
            // Trailer fields, then an empty line.
            pos = start;
            loop {
                let Some(eol) = memchr::memchr(b'\n', &data[pos..]) else {
                    return Ok(None);
                };
                let line = &data[pos..pos + eol];
                pos += eol + 1;
                if line.is_empty() || line == b"\r" {
                    return Ok(Some((body, pos)));
                }
            }
        }
        if body.len() as u64 + size > limit as u64 {
            return Err(Dechunk::TooLarge);
        }
        let end = start + size as usize;
        match data.get(end..end + 2) {
            None => return Ok(None),
            Some(b"\r\n") => {}
            Some(_) => return Err(Dechunk::Invalid),
        }
        body.extend_from_slice(&data[start..end]);
        pos = end + 2;
    }
}

/// Reads more of the connection into `buf`; `false` at end of stream, on an
/// error, or when a started request stalls for [`READ_TIMEOUT`].
async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>, mid_request: bool) -> bool {
    buf.reserve(READ_RESERVE);
    let read = stream.read_buf(buf);
    let n = if mid_request {
        match tokio::time::timeout(READ_TIMEOUT, read).await {
            Ok(n) => n,
            Err(_) => return false,
        }
    } else {
        read.await
    };
    matches!(n, Ok(n) if n > 0)
}

/// Answers a parsed request and writes the answer with the `Connection` field
/// `connection`; `false` when the connection broke.
async fn reply_to(
    stream: &mut TcpStream,
    out: &mut Vec<u8>,
    v: &Validator,
    req: &httparse::Request<'_, '_>,
    body: FormBody<'_>,
    connection: Option<&'static str>,
) -> bool {
    let head_only = req.method == Some("HEAD");
    let a = dispatch(v, req, body).await;
    write_answer(stream, out, a, head_only, connection).await
}

/// Answers a parsed request head.
async fn dispatch(v: &Validator, req: &httparse::Request<'_, '_>, body: FormBody<'_>) -> Answer {
    let Ok(method) = Method::from_bytes(req.method.unwrap_or_default().as_bytes()) else {
        return Answer::Reply(crate::reply(
            StatusCode::BAD_REQUEST,
            None,
            Default::default(),
        ));
    };
    let (path, query) = split_target(req.path.unwrap_or_default());
    let head = RequestHead {
        method: &method,
        path,
        query,
        headers: &*req.headers,
    };
    answer(v, head, body).await
}

/// The path and query of a request target in origin form (`/p?q`) or absolute
/// form (`http://host/p?q`, RFC 9112 section 3.2.2).
fn split_target(target: &str) -> (&str, Option<&str>) {
    let origin = match target.find("://") {
        Some(i) if !target.starts_with('/') => {
            let after = &target[i + 3..];
            after.find(['/', '?']).map_or("/", |j| &after[j..])
        }
        _ => target,
    };
    let (path, query) = match origin.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (origin, None),
    };
    (if path.is_empty() { "/" } else { path }, query)
}

/// Writes `a` as the response; `false` when the connection broke.
async fn write_answer(
    stream: &mut TcpStream,
    out: &mut Vec<u8>,
    a: Answer,
    head_only: bool,
    connection: Option<&'static str>,
) -> bool {
    out.clear();
    match a {
        Answer::Verified(verified) => encode(
            out,
            StatusCode::OK,
            [("content-type", &b"application/json"[..])].into_iter(),
            &verified.body,
            head_only,
            connection,
        ),
        Answer::Reply(reply) => {
            let (parts, body) = reply.into_parts();
            let Ok(body) = body.collect().await;
            let fields = parts
                .headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_bytes()));
            encode(
                out,
                parts.status,
                fields,
                &body.to_bytes(),
                head_only,
                connection,
            )
        }
    }
    stream.write_all(out).await.is_ok()
}

/// Half-closes and reads what the client still sends, for a bounded time and
/// size, before the connection is dropped: closing a socket with unread data
/// makes the kernel send a reset, which can destroy the answer just written.
async fn linger(stream: &mut TcpStream) {
    let _ = stream.shutdown().await;
    let (time, mut budget) = LINGER;
    let mut sink = [0u8; 8192];
    let _ = tokio::time::timeout(time, async {
        while budget > 0 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => budget = budget.saturating_sub(n),
            }
        }
    })
    .await;
}

/// Writes a response head and body into `out`, with `fields`, then
/// `Content-Length`, `Date` and `connection` as the `Connection` field.
fn encode<'f>(
    out: &mut Vec<u8>,
    status: StatusCode,
    fields: impl Iterator<Item = (&'f str, &'f [u8])>,
    body: &[u8],
    head_only: bool,
    connection: Option<&str>,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in fields {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"content-length: ");
    push_decimal(out, body.len());
    out.extend_from_slice(b"\r\ndate: ");
    out.extend_from_slice(&http_date());
    out.extend_from_slice(b"\r\n");
    if let Some(c) = connection {
        out.extend_from_slice(b"connection: ");
        out.extend_from_slice(c.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !head_only {
        out.extend_from_slice(body);
    }
}

fn push_decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// The current time as an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`),
/// formatted once a second per thread.
fn http_date() -> [u8; 29] {
    thread_local! {
        static CACHE: Cell<(u64, [u8; 29])> = const { Cell::new((u64::MAX, [0; 29])) };
    }
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    CACHE.with(|c| {
        let (at, text) = c.get();
        if at == secs {
            return text;
        }
        let mut text = [0u8; 29];
        let formatted = httpdate::fmt_http_date(now);
        if formatted.len() == text.len() {
            text.copy_from_slice(formatted.as_bytes());
        }
        c.set((secs, text));
        text
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_is_digits_only() {
        assert_eq!(parse_length(b"0"), Some(0));
        assert_eq!(parse_length(b"65536"), Some(65536));
        assert_eq!(parse_length(b""), None);
        assert_eq!(parse_length(b"+5"), None);
        assert_eq!(parse_length(b"5 5"), None);
        assert_eq!(parse_length(b"99999999999999999999"), None);
    }

    #[test]
    fn chunked_bodies_decode_with_extensions_and_trailers() {
        let data = b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\nNEXT";
        let (body, used) = dechunk(data, 100).unwrap().unwrap();
        assert_eq!(body, b"abcde");
        assert_eq!(&data[used..], b"NEXT");
        assert_eq!(dechunk(b"3\r\nab", 100), Ok(None));
        assert_eq!(dechunk(b"3\r\nabc\r\n0\r\n", 100), Ok(None));
        assert_eq!(dechunk(b"3\r\nabcX\r\n", 100), Err(Dechunk::Invalid));
        assert_eq!(dechunk(b"zz\r\n", 100), Err(Dechunk::Invalid));
        assert_eq!(dechunk(b"65\r\n", 100), Err(Dechunk::TooLarge));
    }

    #[test]
    fn targets_in_origin_and_absolute_form() {
        assert_eq!(split_target("/api/whoami"), ("/api/whoami", None));
        assert_eq!(
            split_target("/a?access_token=x"),
            ("/a", Some("access_token=x"))
        );
        assert_eq!(
            split_target("http://h:1/api/admin?q"),
            ("/api/admin", Some("q"))
        );
        assert_eq!(split_target("http://h:1"), ("/", None));
        assert_eq!(split_target("*"), ("*", None));
    }

    fn framing(head: &str) -> Result<Framing, StatusCode> {
        let mut fields = [httparse::EMPTY_HEADER; 16];
        let mut req = httparse::Request::new(&mut fields);
        assert!(req.parse(head.as_bytes()).unwrap().is_complete());
        Framing::of(&req)
    }

    #[test]
    fn framing_refuses_what_could_smuggle_a_request() {
        let f = framing("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n").unwrap();
        assert_eq!((f.body, f.keep_alive), (BodyLen::Length(5), true));
        let f = framing("POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5, 5\r\n\r\n");
        assert_eq!(f.unwrap().body, BodyLen::Length(5));
        let f = framing("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n");
        assert_eq!(f.unwrap().body, BodyLen::Chunked);
        for (head, status) in [
            (
                "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                400,
            ),
            ("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
            (
                "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                400,
            ),
            ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            (
                "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                501,
            ),
        ] {
            assert_eq!(
                framing(head),
                Err(StatusCode::from_u16(status).unwrap()),
                "{head}"
            );
        }
    }

    #[test]
    fn persistence_follows_the_version_and_connection_field() {
        let keep = |h: &str| framing(h).unwrap().keep_alive;
        assert!(keep("GET / HTTP/1.1\r\n\r\n"));
        assert!(!keep("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n"));
        assert!(!keep("GET / HTTP/1.0\r\n\r\n"));
        assert!(keep("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
        assert!(
            framing("POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n")
                .unwrap()
                .expect_continue
        );
    }

    #[test]
    fn responses_carry_length_and_date() {
        let mut out = Vec::new();
        encode(
            &mut out,
            StatusCode::OK,
            [("content-type", &b"application/json"[..])].into_iter(),
            b"{}",
            false,
            None,
        );
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\ndate: "
            ),
            "{text}"
        );
        assert!(text.ends_with(" GMT\r\n\r\n{}"), "{text}");
        assert_eq!(text.len(), "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\ndate: \r\n\r\n{}".len() + 29);
    }
}
