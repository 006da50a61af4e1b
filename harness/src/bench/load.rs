//! The load generator: a few OS threads, each with a current-thread tokio runtime that owns
//! a share of the keep-alive connections. Each connection writes pre-built request bytes and
//! reads one answer at a time (no pipelining), framing it by `Content-Length` or chunked
//! encoding. Nothing is allocated or minted on the hot path.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Why an exchange got no complete answer.
///
/// The discriminant is the kind's index in [`MixStats::errors`]; [`LoadErrorKind::ALL`] is
/// that order, and [`Display`](std::fmt::Display) gives the name the report uses.
///
/// ```
/// use byoid::bench::load::LoadErrorKind;
/// assert_eq!(LoadErrorKind::TooLarge.to_string(), "too-large");
/// assert_eq!(LoadErrorKind::ALL[LoadErrorKind::Timeout as usize], LoadErrorKind::Timeout);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadErrorKind {
    /// The connection could not be opened.
    Connect,
    /// The request could not be written.
    Write,
    /// The connection ended before a complete answer.
    Closed,
    /// No complete answer within the per-request limit.
    Timeout,
    /// The answer was not HTTP/1.1 the client can frame.
    Garbage,
    /// The answer was larger than the client keeps reading.
    TooLarge,
}

impl LoadErrorKind {
    /// Every kind, in counting and report order.
    pub const ALL: [LoadErrorKind; 6] = [
        LoadErrorKind::Connect,
        LoadErrorKind::Write,
        LoadErrorKind::Closed,
        LoadErrorKind::Timeout,
        LoadErrorKind::Garbage,
        LoadErrorKind::TooLarge,
    ];

    /// The name in reports (`error_kinds` keys and the console table).
    pub fn name(self) -> &'static str {
        match self {
            LoadErrorKind::Connect => "connect",
            LoadErrorKind::Write => "write",
            LoadErrorKind::Closed => "closed",
            LoadErrorKind::Timeout => "timeout",
            LoadErrorKind::Garbage => "garbage",
            LoadErrorKind::TooLarge => "too-large",
        }
    }
}

impl std::fmt::Display for LoadErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The largest answer the client keeps reading.
const MAX_RESPONSE: usize = 16 << 20;
/// Request-budget claim size (fewer contended atomic adds across threads).
const CLAIM: u64 = 16;

/// What to run.
pub struct Plan {
    /// The target's socket address (loopback).
    pub addr: SocketAddr,
    /// Keep-alive connections.
    pub connections: usize,
    /// Generator threads.
    pub threads: usize,
    /// Open-loop total arrival rate (requests per second), or closed loop.
    pub rate: Option<f64>,
    /// Request cap.
    pub max_requests: u64,
    /// Time cap.
    pub duration: Duration,
    /// Per-request limit.
    pub timeout: Duration,
    /// Pre-built request bytes, one pool per mix.
    pub pools: Vec<Arc<Vec<Vec<u8>>>>,
    /// The interleaved order of mixes (indices into `pools`).
    pub schedule: Arc<Vec<u16>>,
}

/// The width of one [`MixStats::answers_per_tick`] bucket: the finest resolution of req/s over
/// time. The report coalesces ticks into at most [`MAX_INTERVALS`] intervals.
///
/// [`MAX_INTERVALS`]: super::report::MAX_INTERVALS
pub const TICK: Duration = Duration::from_millis(100);
/// The last tick counted: the longest run plus the longest request limit. A later answer (a
/// thread that overran its hard stop) counts in this tick, so the counters stay bounded.
const LAST_TICK: usize = (super::MAX_DURATION_S as usize + 121) * 10;

/// The tick `since_start` falls in.
///
/// ```
/// use byoid::bench::load::tick_of;
/// use std::time::Duration;
/// assert_eq!(tick_of(Duration::from_millis(99)), 0);
/// assert_eq!(tick_of(Duration::from_millis(1_250)), 12);
/// ```
pub fn tick_of(since_start: Duration) -> usize {
    // Whole seconds and tenths: no 128-bit division on the hot path.
    let t = since_start.as_secs() as usize * 10 + since_start.subsec_millis() as usize / 100;
    t.min(LAST_TICK)
}

/// Per-mix measurements.
pub struct MixStats {
    /// Latency in microseconds.
    pub hist: Histogram<u64>,
    /// Answers by status code (index = status).
    pub statuses: Vec<u64>,
    /// Failures by kind, indexed by [`LoadErrorKind`] (`errors[kind as usize]`).
    pub errors: [u64; LoadErrorKind::ALL.len()],
    /// Answers completed in each [`TICK`] since the start (index = [`tick_of`]); grows as the
    /// run goes, so a short run holds a short vector.
    pub answers_per_tick: Vec<u64>,
    /// Failed exchanges in each [`TICK`] since the start.
    pub errors_per_tick: Vec<u64>,
}

/// Adds one to `series[tick]`, growing the series when a new tick begins (once per [`TICK`]
/// per mix and thread, amortized by `Vec`'s doubling).
fn count_at(series: &mut Vec<u64>, tick: usize) {
    match series.get_mut(tick) {
        Some(n) => *n += 1,
        None => {
            series.resize(tick + 1, 0);
            series[tick] = 1;
        }
    }
}

/// Adds `b` into `a` bucket by bucket.
fn add_series(a: &mut Vec<u64>, b: &[u64]) {
    if a.len() < b.len() {
        a.resize(b.len(), 0);
    }
    for (x, y) in a.iter_mut().zip(b) {
        *x += y;
    }
}

impl MixStats {
    /// No measurements yet.
    pub fn empty() -> Self {
        // 1 µs to 10 minutes, 3 significant digits.
        let hist = Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds");
        MixStats {
            hist,
            statuses: vec![0; 600],
            errors: [0; LoadErrorKind::ALL.len()],
            answers_per_tick: Vec::new(),
            errors_per_tick: Vec::new(),
        }
    }

    /// Counts an answer with `status` that took `us` microseconds and completed in `tick`.
    ///
    /// ```
    /// use byoid::bench::load::MixStats;
    /// let mut m = MixStats::empty();
    /// m.record_answer(200, 450, 3);
    /// assert_eq!((m.answered(), m.answers_per_tick.as_slice()), (1, &[0, 0, 0, 1][..]));
    /// ```
    #[inline]
    pub fn record_answer(&mut self, status: u16, us: u64, tick: usize) {
        self.hist.saturating_record(us.max(1));
        self.statuses[(status as usize).min(599)] += 1;
        count_at(&mut self.answers_per_tick, tick);
    }

    /// Counts a failed exchange of `kind` that ended in `tick`.
    ///
    /// ```
    /// use byoid::bench::load::{LoadErrorKind, MixStats};
    /// let mut m = MixStats::empty();
    /// m.record_error(LoadErrorKind::Timeout, 1);
    /// assert_eq!((m.failed(), m.errors_per_tick.as_slice()), (1, &[0, 1][..]));
    /// ```
    pub fn record_error(&mut self, kind: LoadErrorKind, tick: usize) {
        self.errors[kind as usize] += 1;
        count_at(&mut self.errors_per_tick, tick);
    }

    /// Completed answers.
    pub fn answered(&self) -> u64 {
        self.statuses.iter().sum()
    }

    /// Failed exchanges.
    pub fn failed(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// Adds another's measurements.
    pub fn merge(&mut self, other: &MixStats) {
        let _ = self.hist.add(&other.hist);
        for (a, b) in self.statuses.iter_mut().zip(&other.statuses) {
            *a += b;
        }
        for (a, b) in self.errors.iter_mut().zip(&other.errors) {
            *a += b;
        }
        add_series(&mut self.answers_per_tick, &other.answers_per_tick);
        add_series(&mut self.errors_per_tick, &other.errors_per_tick);
    }
}

/// Live counters for the progress line.
#[derive(Default)]
pub struct Progress {
    per_thread: Vec<PaddedCounters>,
}

#[derive(Default)]
#[repr(align(128))]
struct PaddedCounters {
    answered: AtomicU64,
    failed: AtomicU64,
}

impl Progress {
    /// (answers, failures) so far.
    pub fn totals(&self) -> (u64, u64) {
        self.per_thread.iter().fold((0, 0), |(a, f), c| {
            (
                a + c.answered.load(Ordering::Relaxed),
                f + c.failed.load(Ordering::Relaxed),
            )
        })
    }
}

/// What a run measured.
pub struct Measurements {
    /// One per mix, in plan order.
    pub mixes: Vec<MixStats>,
    /// From the common start to the last thread's end.
    pub elapsed: Duration,
}

/// A run in flight.
pub struct Running {
    /// Live counters.
    pub progress: Arc<Progress>,
    /// When the clock started (after every thread connected).
    pub started: Instant,
    stop: Arc<AtomicBool>,
    handles: Vec<std::thread::JoinHandle<(Vec<MixStats>, Instant)>>,
}

impl Running {
    /// Asks every connection to stop after its current request.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// True when every thread has finished.
    pub fn finished(&self) -> bool {
        self.handles.iter().all(|h| h.is_finished())
    }

    /// Waits for the threads and merges their measurements.
    pub fn join(self, n_mixes: usize) -> Measurements {
        let mut mixes: Vec<MixStats> = (0..n_mixes).map(|_| MixStats::empty()).collect();
        let mut end = self.started;
        for h in self.handles {
            if let Ok((stats, t)) = h.join() {
                for (m, s) in mixes.iter_mut().zip(&stats) {
                    m.merge(s);
                }
                end = end.max(t);
            }
        }
        Measurements {
            mixes,
            elapsed: end.saturating_duration_since(self.started),
        }
    }
}

struct Shared {
    plan: Plan,
    budget: AtomicU64,
    stop: Arc<AtomicBool>,
}

/// Starts the threads; returns once every connection is open (or failed) and the clock runs.
pub fn start(plan: Plan) -> Running {
    let threads = plan.threads.clamp(1, plan.connections.max(1));
    let progress = Arc::new(Progress {
        per_thread: (0..threads).map(|_| PaddedCounters::default()).collect(),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(Shared {
        plan,
        budget: AtomicU64::new(0),
        stop: stop.clone(),
    });
    let barrier = Arc::new(Barrier::new(threads + 1));
    let (tx, rx) = std::sync::mpsc::channel::<Instant>();
    let mut handles = Vec::new();
    for t in 0..threads {
        let shared = shared.clone();
        let progress = progress.clone();
        let barrier = barrier.clone();
        let rx_start = if t == 0 { Some(tx.clone()) } else { None };
        let handle = std::thread::Builder::new()
            .name(format!("byoid-bench-{t}"))
            .spawn(move || thread_main(t, threads, shared, progress, barrier, rx_start))
            .expect("spawn a load thread");
        handles.push(handle);
    }
    drop(tx);
    barrier.wait();
    let started = rx.recv().unwrap_or_else(|_| Instant::now());
    Running {
        progress,
        started,
        stop,
        handles,
    }
}

fn thread_main(
    t: usize,
    threads: usize,
    shared: Arc<Shared>,
    progress: Arc<Progress>,
    barrier: Arc<Barrier>,
    start_tx: Option<std::sync::mpsc::Sender<Instant>>,
) -> (Vec<MixStats>, Instant) {
    let n_mixes = shared.plan.pools.len();
    let stats = Rc::new(RefCell::new(
        (0..n_mixes).map(|_| MixStats::empty()).collect::<Vec<_>>(),
    ));
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(_) => {
            barrier.wait();
            return (
                Rc::try_unwrap(stats)
                    .map(|c| c.into_inner())
                    .unwrap_or_default(),
                Instant::now(),
            );
        }
    };
    let mine: Vec<usize> = (0..shared.plan.connections)
        .filter(|c| c % threads == t)
        .collect();
    // Connect before the clock starts.
    let addr = shared.plan.addr;
    let streams: Vec<Option<(TcpStream, std::net::TcpStream)>> = rt.block_on(async {
        let mut v = Vec::with_capacity(mine.len());
        for _ in &mine {
            v.push(connect(addr).await.ok());
        }
        v
    });
    barrier.wait();
    let started = Instant::now();
    if let Some(tx) = start_tx {
        let _ = tx.send(started);
    }
    let deadline = started + shared.plan.duration;
    let local = tokio::task::LocalSet::new();
    // Hard stop: the time cap plus one request timeout, whatever the target does.
    let hard =
        tokio::time::Instant::from_std(deadline + shared.plan.timeout + Duration::from_millis(100));
    rt.block_on(local.run_until(async {
        let mut tasks = Vec::new();
        let mut watches = Vec::new();
        for (conn, stream) in mine.iter().zip(streams) {
            let watch = Rc::new(Watch::default());
            watches.push(watch.clone());
            let ctx = ConnCtx {
                shared: shared.clone(),
                stats: stats.clone(),
                progress: progress.clone(),
                thread: t,
                conn: *conn,
                started,
                deadline,
                watch,
            };
            tasks.push(tokio::task::spawn_local(conn_loop(ctx, stream)));
        }
        // One watchdog per thread instead of a timer per request: an exchange older than the
        // timeout gets its socket shut down, which ends the pending read or write at once.
        let limit = shared.plan.timeout;
        tokio::task::spawn_local(async move {
            let tick = (limit / 4).clamp(Duration::from_millis(5), Duration::from_millis(100));
            loop {
                tokio::time::sleep(tick).await;
                for w in &watches {
                    if w.since.get().is_some_and(|t| t.elapsed() > limit) && !w.fired.get() {
                        w.fired.set(true);
                        if let Some(sock) = w.sock.borrow().as_ref() {
                            let _ = sock.shutdown(std::net::Shutdown::Both);
                        }
                    }
                }
            }
        });
        let all = async {
            for task in tasks {
                let _ = task.await;
            }
        };
        tokio::select! {
            _ = all => {}
            _ = tokio::time::sleep_until(hard) => {}
        }
    }));
    let end = Instant::now();
    drop(local);
    drop(rt);
    let stats = Rc::try_unwrap(stats)
        .map(|c| c.into_inner())
        .unwrap_or_else(|rc| {
            let mut v: Vec<MixStats> = (0..n_mixes).map(|_| MixStats::empty()).collect();
            for (a, b) in v.iter_mut().zip(rc.borrow().iter()) {
                a.merge(b);
            }
            v
        });
    (stats, end)
}

struct ConnCtx {
    shared: Arc<Shared>,
    stats: Rc<RefCell<Vec<MixStats>>>,
    progress: Arc<Progress>,
    thread: usize,
    conn: usize,
    started: Instant,
    deadline: Instant,
    watch: Rc<Watch>,
}

/// What the thread's watchdog sees of a connection.
#[derive(Default)]
struct Watch {
    /// When the exchange in flight started.
    since: Cell<Option<Instant>>,
    /// A duplicate of the socket, to shut it down.
    sock: RefCell<Option<std::net::TcpStream>>,
    /// The watchdog shut the socket down.
    fired: Cell<bool>,
}

/// Connects; returns the stream and a duplicate handle of its socket (for the watchdog).
async fn connect(addr: SocketAddr) -> std::io::Result<(TcpStream, std::net::TcpStream)> {
    let s = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    s.set_nodelay(true)?;
    let std_stream = s.into_std()?;
    let dup = std_stream.try_clone()?;
    Ok((TcpStream::from_std(std_stream)?, dup))
}

async fn conn_loop(ctx: ConnCtx, stream: Option<(TcpStream, std::net::TcpStream)>) {
    let watch = ctx.watch.clone();
    // Closed loop: before sending its next request a connection lets the thread's I/O driver
    // run twice, so the answers that arrive meanwhile on the thread's other connections are
    // read first and the next requests reach the target in one burst: one wake-up of the
    // target serves many of them. A burst after one driver turn (as wrk's event loop makes)
    // measured 0.93-0.99x wrk's req/s on the static target, after two 0.98-1.05x; waiting
    // until a turn brings no new answer measured no better than two (benches/README.md).
    let batch_turns = if ctx.shared.plan.rate.is_none() { 2 } else { 0 };
    let mut stream = stream.map(|(s, dup)| {
        *watch.sock.borrow_mut() = Some(dup);
        s
    });
    let plan = &ctx.shared.plan;
    let progress = ctx.progress.clone();
    let counters = &progress.per_thread[ctx.thread];
    let schedule = plan.schedule.clone();
    let mut sched_pos = (ctx.conn * 7919) % schedule.len();
    let mut pool_pos: Vec<usize> = plan
        .pools
        .iter()
        .map(|p| (ctx.conn * 131) % p.len().max(1))
        .collect();
    let mut buf: Vec<u8> = Vec::with_capacity(32 * 1024);
    let mut budget = 0u64;
    let interval = plan
        .rate
        .map(|r| Duration::from_secs_f64(plan.connections as f64 / r));
    let mut next_send =
        interval.map(|iv| ctx.started + iv.mul_f64(ctx.conn as f64 / plan.connections as f64));
    loop {
        if budget == 0 {
            let prev = ctx.shared.budget.fetch_add(CLAIM, Ordering::Relaxed);
            if prev >= plan.max_requests {
                break;
            }
            budget = CLAIM.min(plan.max_requests - prev);
        }
        for _ in 0..batch_turns {
            // Deferred until after the next driver turn (tokio >= 1.24).
            tokio::task::yield_now().await;
        }
        if ctx.shared.stop.load(Ordering::Relaxed) {
            break;
        }
        // In closed loop the latency counts from here, after the batching turns.
        let now = Instant::now();
        if now >= ctx.deadline {
            break;
        }
        // Open loop: when a request is due while the connection still waits for an earlier
        // answer, its latency counts from the scheduled send time, so a slow target cannot
        // hide its queueing (no coordinated omission). When the connection was idle and had
        // to sleep, the timer's own lateness (up to a millisecond) is not the target's: the
        // latency counts from the actual send.
        let t0 = match (interval, next_send.as_mut()) {
            (Some(iv), Some(next)) => {
                let scheduled = *next;
                *next += iv;
                if scheduled > now {
                    if scheduled >= ctx.deadline {
                        break;
                    }
                    tokio::time::sleep_until(tokio::time::Instant::from_std(scheduled)).await;
                    Instant::now()
                } else {
                    scheduled
                }
            }
            _ => now,
        };
        budget -= 1;
        let mix = schedule[sched_pos] as usize;
        sched_pos += 1;
        if sched_pos == schedule.len() {
            sched_pos = 0;
        }
        let pool = &plan.pools[mix];
        let p = &mut pool_pos[mix];
        let req = &pool[*p];
        *p += 1;
        if *p == pool.len() {
            *p = 0;
        }
        if stream.is_none() {
            match connect(plan.addr).await {
                Ok((s, dup)) => {
                    *watch.sock.borrow_mut() = Some(dup);
                    watch.fired.set(false);
                    stream = Some(s);
                }
                Err(_) => {
                    fail(&ctx, counters, mix, LoadErrorKind::Connect);
                    // Don't spin on a dead target.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            }
        }
        let s = stream.as_mut().expect("connected above");
        watch.since.set(Some(if interval.is_some() {
            Instant::now()
        } else {
            t0
        }));
        let result = round_trip(s, req, &mut buf).await;
        watch.since.set(None);
        let result = if watch.fired.get() {
            Err(LoadErrorKind::Timeout)
        } else {
            result
        };
        match result {
            Ok((status, keep)) => {
                // One clock read gives the latency and the tick (req/s over time), counted in
                // the thread's own stats: no lock, no atomic.
                let done = Instant::now();
                let us = done.saturating_duration_since(t0).as_micros() as u64;
                let tick = tick_of(done.saturating_duration_since(ctx.started));
                ctx.stats.borrow_mut()[mix].record_answer(status, us, tick);
                counters.answered.fetch_add(1, Ordering::Relaxed);
                if !keep {
                    stream = None;
                    *watch.sock.borrow_mut() = None;
                }
            }
            Err(kind) => {
                fail(&ctx, counters, mix, kind);
                stream = None;
                *watch.sock.borrow_mut() = None;
            }
        }
    }
}

fn fail(ctx: &ConnCtx, counters: &PaddedCounters, mix: usize, kind: LoadErrorKind) {
    let tick = tick_of(ctx.started.elapsed());
    ctx.stats.borrow_mut()[mix].record_error(kind, tick);
    counters.failed.fetch_add(1, Ordering::Relaxed);
}

/// How the body of an answer ends.
#[derive(Clone, Copy)]
enum ResponseFraming {
    Length(usize),
    Chunked,
    Close,
}

/// Writes one request and reads one answer; returns (status, keep-alive).
async fn round_trip(
    s: &mut TcpStream,
    req: &[u8],
    buf: &mut Vec<u8>,
) -> Result<(u16, bool), LoadErrorKind> {
    s.write_all(req).await.map_err(|_| LoadErrorKind::Write)?;
    buf.clear();
    loop {
        if buf.capacity() - buf.len() < 8 * 1024 {
            if buf.len() >= MAX_RESPONSE {
                return Err(LoadErrorKind::TooLarge);
            }
            buf.reserve(buf.capacity().max(16 * 1024));
        }
        let n = s.read_buf(buf).await.map_err(|_| LoadErrorKind::Closed)?;
        if let Some(answer) = answer_complete(buf, n == 0)? {
            return Ok(answer);
        }
        if n == 0 {
            return Err(LoadErrorKind::Closed);
        }
    }
}

/// Whether `buf` holds a whole answer; `closed` when the peer has ended the stream (which
/// completes only a close-delimited body). Returns (status, keep-alive).
fn answer_complete(buf: &[u8], closed: bool) -> Result<Option<(u16, bool)>, LoadErrorKind> {
    let Some((status, keep, head_len, framing)) = parse_head(buf)? else {
        return Ok(None);
    };
    let complete = match framing {
        ResponseFraming::Length(len) => buf.len() >= head_len + len,
        ResponseFraming::Chunked => chunked_end(&buf[head_len..])?.is_some(),
        ResponseFraming::Close => closed,
    };
    Ok(complete.then_some((status, keep && !closed)))
}

/// Parses the status line and headers once they are complete.
fn parse_head(buf: &[u8]) -> Result<Option<(u16, bool, usize, ResponseFraming)>, LoadErrorKind> {
    let mut headers = [httparse::EMPTY_HEADER; 48];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return if buf.len() > 64 * 1024 {
                Err(LoadErrorKind::Garbage)
            } else {
                Ok(None)
            };
        }
        Err(_) => return Err(LoadErrorKind::Garbage),
    };
    let status = resp.code.unwrap_or(0);
    let mut keep = resp.version == Some(1);
    let mut framing = None;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let len = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or(LoadErrorKind::Garbage)?;
            if framing.is_none() {
                framing = Some(ResponseFraming::Length(len));
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if h.value
                .windows(7)
                .any(|w| w.eq_ignore_ascii_case(b"chunked"))
            {
                framing = Some(ResponseFraming::Chunked);
            }
        } else if h.name.eq_ignore_ascii_case("connection") {
            if h.value.windows(5).any(|w| w.eq_ignore_ascii_case(b"close")) {
                keep = false;
            } else if h
                .value
                .windows(10)
                .any(|w| w.eq_ignore_ascii_case(b"keep-alive"))
            {
                keep = true;
            }
        }
    }
    let framing = if (100..200).contains(&status) || status == 204 || status == 304 {
        ResponseFraming::Length(0)
    } else {
        framing.unwrap_or(ResponseFraming::Close)
    };
    if matches!(framing, ResponseFraming::Length(n) if n > MAX_RESPONSE) {
        return Err(LoadErrorKind::TooLarge);
    }
    if matches!(framing, ResponseFraming::Close) {
        keep = false;
    }
    Ok(Some((status, keep, head_len, framing)))
}

/// Where a chunked body ends (after the last chunk and the trailers), if it has.
fn chunked_end(body: &[u8]) -> Result<Option<usize>, LoadErrorKind> {
    let mut pos = 0;
    loop {
        let Some(eol) = find_crlf(&body[pos..]) else {
            return Ok(None);
        };
        let line = &body[pos..pos + eol];
        let size_text = line.split(|&b| b == b';').next().unwrap_or_default();
        let size_text = std::str::from_utf8(size_text)
            .map_err(|_| LoadErrorKind::Garbage)?
            .trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| LoadErrorKind::Garbage)?;
        pos += eol + 2;
        if size == 0 {
            // Trailers, then an empty line.
            loop {
                let Some(eol) = find_crlf(&body[pos..]) else {
                    return Ok(None);
                };
                pos += eol + 2;
                if eol == 0 {
                    return Ok(Some(pos));
                }
            }
        }
        if body.len() < pos + size + 2 {
            return Ok(None);
        }
        pos += size + 2;
    }
}

fn find_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_count_at_their_own_index() {
        for (i, k) in LoadErrorKind::ALL.iter().enumerate() {
            assert_eq!(*k as usize, i, "{k}");
        }
    }

    #[test]
    fn chunked_bodies_end_after_the_last_chunk_and_trailers() {
        assert_eq!(chunked_end(b"5\r\nhello\r\n0\r\n\r\n").unwrap(), Some(15));
        assert_eq!(
            chunked_end(b"5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n").unwrap(),
            Some(23)
        );
        assert_eq!(chunked_end(b"5\r\nhel").unwrap(), None);
        assert!(chunked_end(b"zz\r\n").is_err());
    }

    #[test]
    fn heads_give_status_framing_and_keep_alive() {
        let (s, keep, n, f) = parse_head(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((s, keep, n), (401, true, 48));
        assert!(matches!(f, ResponseFraming::Length(0)));
        let (_, keep, _, f) = parse_head(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!keep);
        assert!(matches!(f, ResponseFraming::Close));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\n").unwrap().is_none());
        assert!(parse_head(b"garbage\r\n\r\n").is_err());
    }
}
