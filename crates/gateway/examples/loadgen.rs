//! Load generator for `scripts/bench.sh`: creates orders through the API, then drives signed informs or checkout
//! JSON requests against a running gateway at a fixed concurrency for a fixed time, and prints what it measured.
//!
//! It runs on the same machine as the gateway and PostgreSQL, so it is built to cost little: a single-threaded tokio
//! runtime (unless told otherwise), one keep-alive HTTP/1.1 connection per concurrent worker, and every request
//! prepared as the bytes it sends before the clock starts. It speaks HTTP itself (a request is one write, a response
//! is read and parsed with `httparse`) rather than through a general client: reqwest's pool, URL parsing and header
//! maps cost about as much CPU per request as a PostgreSQL primary-key read, CPU the gateway and PostgreSQL on the
//! same two cores would then not have. Its own CPU time over the timed window is reported, so that the contention it
//! causes is visible next to the numbers.
//!
//! Each phase prints one machine-readable line to stdout, `RESULT phase=<name> key=value ...`; everything else
//! goes to stderr.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use serde_json::{json, Value};
use smartro::notification::Notification;
use smartro::sign;
use smartro::types::{PayMethod, StateCd};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Smartro's public TEST merchant, the gateway's default merchant.
const DEFAULT_MID: &str = "SMTPAY001m";
const DEFAULT_MERCHANT_KEY: &str =
    "0/4GFsSd7ERVRGX9WHOzJ96GyeMTwvIaKSWUCKmN3fDklNRGw3CualCFoMPZaS99YiFGOuwtzTkrLo4bR4V+Ow==";
/// How many failed requests are shown in full; the rest are only counted.
const SHOWN_ERRORS: usize = 5;
/// How long one request may take before it counts as failed (and its connection is dropped).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Parser)]
#[command(
    name = "loadgen",
    about = "Load generator for smartro-gateway benchmarks"
)]
struct Cli {
    /// The gateway's base URL, e.g. http://127.0.0.1:8080
    #[arg(long)]
    base: String,
    /// Worker threads of the load generator's own runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create card orders via POST /v1/orders (each with its own Idempotency-Key) and write `order_id<TAB>amount<TAB>checkout_token` lines.
    Orders {
        #[arg(long)]
        count: usize,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value = "sk_test_change_me")]
        api_key: String,
        /// Prefix of the generated order ids (letters and digits only).
        #[arg(long, default_value = "BENCH")]
        prefix: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// POST one distinct signed approval inform (its own TID, ResultCode 3001) per order, each order once.
    Inform {
        #[arg(long)]
        orders: PathBuf,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value_t = 15)]
        duration_secs: u64,
        #[arg(long, default_value = DEFAULT_MID)]
        mid: String,
        #[arg(long, default_value = DEFAULT_MERCHANT_KEY)]
        merchant_key: String,
        /// Send from this local address (e.g. 127.0.0.2, an address of `smartro.notify_allow_cidrs`).
        #[arg(long)]
        source_ip: Option<std::net::IpAddr>,
        /// The made-up TIDs are numbered from here: another inform phase on the same database needs TIDs of its
        /// own (a TID belongs to one order forever).
        #[arg(long, default_value_t = 0)]
        tid_base: u64,
    },
    /// Pay every order of `--orders` in a smartro-sandbox (`POST /sandbox/transactions`: an approved transaction
    /// with the order's Moid and amount, no notification) and write the orders again with the sandbox's TID as a
    /// fourth field. `inform` then sends those TIDs, which the gateway can confirm through the sandbox's receipt
    /// API; without a TID field, `inform` makes TIDs up, which only an allow-listed source gets applied.
    SandboxPay {
        #[arg(long)]
        orders: PathBuf,
        /// The sandbox's base URL, e.g. http://127.0.0.1:9090
        #[arg(long)]
        sandbox: String,
        #[arg(long, default_value = DEFAULT_MID)]
        mid: String,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// GET /v1/checkout/{order_id}?t={token}, cycling over the orders.
    Checkout {
        #[arg(long)]
        orders: PathBuf,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        #[arg(long, default_value_t = 10)]
        duration_secs: u64,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // One thread: no wake-ups handed between threads, which costs more than the work of a request here.
    let mut builder = if cli.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(cli.threads);
        b
    };
    let runtime = builder
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let base = cli.base.as_str();
    match cli.command {
        Command::Orders {
            count,
            concurrency,
            api_key,
            prefix,
            out,
        } => create_orders(base, count, concurrency, &api_key, &prefix, &out).await,
        Command::Inform {
            orders,
            concurrency,
            duration_secs,
            mid,
            merchant_key,
            source_ip,
            tid_base,
        } => {
            let orders = read_orders(&orders)?;
            let target = Target::new(base, source_ip)?;
            let requests: Vec<Request> = orders
                .iter()
                .enumerate()
                .map(|(n, order)| {
                    // 30 characters: MID (10), pay method and medium (4), then 16 digits unique here.
                    let made_up = format!("{mid}0101{:016}", tid_base + n as u64);
                    let tid = order.tid.as_deref().unwrap_or(&made_up);
                    target.request(
                        "POST",
                        "/smartro/inform",
                        &[("content-type", "application/x-www-form-urlencoded")],
                        Some(&inform_body(&mid, &merchant_key, order, tid)),
                    )
                })
                .collect();
            let run = drive(
                &target,
                requests,
                concurrency,
                Some(Duration::from_secs(duration_secs)),
                Reuse::Once,
                Expect::Ok,
            )
            .await?;
            run.print("inform", concurrency);
            Ok(())
        }
        Command::SandboxPay {
            orders,
            sandbox,
            mid,
            concurrency,
            out,
        } => {
            let orders = read_orders(&orders)?;
            let tids = sandbox_tids(&sandbox, &mid, &orders, concurrency).await?;
            let mut text = String::with_capacity(orders.len() * 96);
            for (order, tid) in orders.iter().zip(&tids) {
                let _ = writeln!(
                    text,
                    "{}\t{}\t{}\t{tid}",
                    order.order_id, order.amount, order.token
                );
            }
            std::fs::write(&out, text).with_context(|| format!("writing {}", out.display()))?;
            Ok(())
        }
        Command::Checkout {
            orders,
            concurrency,
            duration_secs,
        } => {
            let orders = read_orders(&orders)?;
            let target = Target::new(base, None)?;
            let requests: Vec<Request> = orders
                .iter()
                .map(|order| {
                    let path = format!("/v1/checkout/{}?t={}", order.order_id, order.token);
                    target.request("GET", &path, &[], None)
                })
                .collect();
            let run = drive(
                &target,
                requests,
                concurrency,
                Some(Duration::from_secs(duration_secs)),
                Reuse::Cycle,
                Expect::Json,
            )
            .await?;
            run.print("checkout", concurrency);
            Ok(())
        }
    }
}

struct Order {
    order_id: String,
    amount: i64,
    token: String,
    /// The TID Smartro (the sandbox) gave its payment, when it was paid there.
    tid: Option<String>,
}

fn read_orders(path: &PathBuf) -> anyhow::Result<Vec<Order>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut orders = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let mut fields = line.split('\t');
        let (Some(order_id), Some(amount), Some(token)) =
            (fields.next(), fields.next(), fields.next())
        else {
            bail!(
                "{}:{}: expected three or four tab-separated fields",
                path.display(),
                n + 1
            );
        };
        let amount = amount
            .parse()
            .with_context(|| format!("{}:{}: amount", path.display(), n + 1))?;
        orders.push(Order {
            order_id: order_id.to_string(),
            amount,
            token: token.to_string(),
            tid: fields.next().map(str::to_string),
        });
    }
    if orders.is_empty() {
        bail!("{} holds no orders", path.display());
    }
    Ok(orders)
}

/// Pays every order in the sandbox (an approved transaction with the order's Moid and amount, no notification)
/// and returns the TIDs in the orders' order.
async fn sandbox_tids(
    sandbox: &str,
    mid: &str,
    orders: &[Order],
    concurrency: usize,
) -> anyhow::Result<Vec<String>> {
    let target = Target::new(sandbox, None)?;
    let requests: Vec<Request> = orders
        .iter()
        .map(|order| {
            let body = json!({ "mid": mid, "moid": order.order_id, "amt": order.amount });
            target.request(
                "POST",
                "/sandbox/transactions",
                &[("content-type", "application/json")],
                Some(body.to_string().as_bytes()),
            )
        })
        .collect();
    let started = Instant::now();
    let run = drive(
        &target,
        requests,
        concurrency,
        None,
        Reuse::Once,
        Expect::Created,
    )
    .await?;
    if run.errors > 0 {
        bail!(
            "{} of {} sandbox transactions failed: {:?}",
            run.errors,
            orders.len(),
            run.error_samples
        );
    }
    let mut by_moid = std::collections::HashMap::new();
    for body in &run.bodies {
        let tx: Value = serde_json::from_slice(body).context("sandbox answer is not JSON")?;
        let moid = tx["moid"].as_str().context("moid missing")?.to_string();
        let tid = tx["tid"].as_str().context("tid missing")?.to_string();
        by_moid.insert(moid, tid);
    }
    eprintln!(
        "paid {} orders in the sandbox in {:.1} s",
        by_moid.len(),
        started.elapsed().as_secs_f64()
    );
    orders
        .iter()
        .map(|o| {
            by_moid
                .remove(&o.order_id)
                .with_context(|| format!("no sandbox transaction for {}", o.order_id))
        })
        .collect()
}

/// A successful card approval inform for `order`, as Smartro's daemon sends it (EUC-KR form, signed).
fn inform_body(mid: &str, merchant_key: &str, order: &Order, tid: &str) -> Vec<u8> {
    let tid = tid.to_string();
    let result_code = "3001";
    Notification {
        pay_method: PayMethod::Card,
        mid: mid.to_string(),
        mall_user_id: None,
        amt: order.amount,
        name: Some("홍길동".into()),
        goods_name: Some("벤치마크 상품".into()),
        otid: None,
        oid: order.order_id.clone(),
        auth_date: Some("261121120000".into()),
        auth_code: Some("30001234".into()),
        result_code: result_code.into(),
        result_msg: "정상 처리되었습니다.".into(),
        state_cd: StateCd::Approval,
        fn_cd: Some("04".into()),
        fn_name: Some("삼성".into()),
        pin_no: Some("4111111111111111".into()),
        card_quota: Some("00".into()),
        buyer_email: Some("buyer@example.com".into()),
        buyer_tel: Some("01012345678".into()),
        buyer_auth_num: None,
        vbank_num: None,
        vbank_name: None,
        receipt_type: None,
        rcpt_app_no: None,
        rcpt_cc_no: None,
        card_use_point: None,
        sign_value: sign::sign_value(&tid, result_code, merchant_key),
        tid,
        extra: BTreeMap::new(),
    }
    .to_form_body()
}

async fn create_orders(
    base: &str,
    count: usize,
    concurrency: usize,
    api_key: &str,
    prefix: &str,
    out: &PathBuf,
) -> anyhow::Result<()> {
    let target = Target::new(base, None)?;
    let authorization = format!("Bearer {api_key}");
    let requests: Vec<Request> = (0..count)
        .map(|n| {
            let body = json!({
                "order_id": format!("{prefix}{n:08}"),
                // Distinct amounts, so that a mix-up between orders would show as an amount mismatch.
                "amount": 1000 + (n % 9000) as i64,
                "goods_name": "벤치마크 상품",
                "pay_method": "CARD",
                "buyer": { "name": "홍길동", "tel": "010-1234-5678", "email": "buyer@example.com" },
            });
            // Every order is created once per Idempotency-Key, as a careful shop would send it.
            let idempotency_key = format!("idem-{prefix}{n:08}");
            target.request(
                "POST",
                "/v1/orders",
                &[
                    ("authorization", &authorization),
                    ("idempotency-key", &idempotency_key),
                    ("content-type", "application/json"),
                ],
                Some(body.to_string().as_bytes()),
            )
        })
        .collect();
    let started = Instant::now();
    let run = drive(
        &target,
        requests,
        concurrency,
        None,
        Reuse::Once,
        Expect::Created,
    )
    .await?;
    run.print("orders", concurrency);
    if run.errors > 0 {
        bail!("{} of {} orders were not created", run.errors, count);
    }
    let mut text = String::with_capacity(run.bodies.len() * 64);
    for body in &run.bodies {
        let order: Value = serde_json::from_slice(body).context("order response is not JSON")?;
        let order_id = order["order_id"].as_str().context("order_id missing")?;
        let amount = order["amount"].as_i64().context("amount missing")?;
        let checkout_url = order["checkout_url"]
            .as_str()
            .context("checkout_url missing")?;
        let token = checkout_url
            .split_once("?t=")
            .map(|(_, token)| token)
            .context("checkout_url has no token")?;
        let _ = writeln!(text, "{order_id}\t{amount}\t{token}");
    }
    std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "created {} orders in {:.1} s",
        run.bodies.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Where requests go: the addresses of a plain `http://` base URL, and the path it starts with.
#[derive(Clone)]
struct Target {
    /// Every address the host resolved to, tried in order (`localhost` may be `::1` first and served on 127.0.0.1).
    addrs: Vec<SocketAddr>,
    /// The `Host` header: the base URL's authority.
    host: String,
    /// The base URL's path, without its trailing slash ("" for none).
    prefix: String,
    /// The local address connections are made from, if not the system's choice.
    source_ip: Option<IpAddr>,
}

impl Target {
    fn new(base: &str, source_ip: Option<IpAddr>) -> anyhow::Result<Target> {
        let rest = base.strip_prefix("http://").with_context(|| {
            format!("{base}: the load generator speaks plain HTTP/1.1 only (an http:// base URL)")
        })?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let with_port = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        let addrs: Vec<SocketAddr> = with_port
            .to_socket_addrs()
            .with_context(|| format!("{base}: resolving {authority}"))?
            .filter(|a| source_ip.is_none_or(|ip| ip.is_ipv4() == a.is_ipv4()))
            .collect();
        if addrs.is_empty() {
            bail!("{base}: {authority} has no address to connect to from {source_ip:?}");
        }
        let path = path.trim_end_matches('/');
        Ok(Target {
            addrs,
            host: authority.to_string(),
            prefix: if path.is_empty() {
                String::new()
            } else {
                format!("/{path}")
            },
            source_ip,
        })
    }

    /// One request as the bytes sent for it (`path` from the base URL's path on, with its query).
    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Request {
        let mut head = format!(
            "{method} {}{path} HTTP/1.1\r\nhost: {}\r\n",
            self.prefix, self.host
        );
        for (name, value) in headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        if let Some(body) = body {
            let _ = write!(head, "content-length: {}\r\n", body.len());
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body.unwrap_or_default());
        Request(bytes)
    }

    async fn connect(&self) -> std::io::Result<TcpStream> {
        let mut last = None;
        for &addr in &self.addrs {
            match self.connect_to(addr).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no address")))
    }

    async fn connect_to(&self, addr: SocketAddr) -> std::io::Result<TcpStream> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(ip) = self.source_ip {
            socket.bind(SocketAddr::new(ip, 0))?;
        }
        let stream = socket.connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

/// One request, as the bytes sent on the wire (HTTP/1.1, keep-alive), prepared before the clock starts.
struct Request(Vec<u8>);

/// A response read from a connection: its status and where its body is in the connection's buffer.
#[derive(Debug)]
struct Response {
    status: u16,
    body: Range<usize>,
    /// False when the server closes the connection after this response.
    keep_alive: bool,
}

/// A keep-alive connection and what has been read from it.
struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Connection {
    /// Sends `request` and reads its response (the body is `self.buf[response.body]`).
    async fn exchange(&mut self, request: &Request) -> Result<Response, String> {
        self.stream
            .write_all(&request.0)
            .await
            .map_err(|e| format!("sending: {e}"))?;
        self.buf.clear();
        loop {
            if let Some(response) = parse_response(&mut self.buf)? {
                return Ok(response);
            }
            if self.buf.capacity() - self.buf.len() < 4096 {
                self.buf.reserve(16 * 1024);
            }
            let read = self
                .stream
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| format!("reading the response: {e}"))?;
            if read == 0 {
                return Err(
                    "the server closed the connection before the response was complete".into(),
                );
            }
        }
    }
}

/// The response in `buf`, once it is complete. Bodies come with a content-length or chunked; a chunked
/// body is decoded in place, after the head.
fn parse_response(buf: &mut [u8]) -> Result<Option<Response>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let head = match response.parse(buf) {
        Ok(httparse::Status::Complete(head)) => head,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("malformed response head: {e}")),
    };
    let status = response.code.unwrap_or(0);
    let (mut length, mut chunked, mut keep_alive) = (None, false, true);
    for h in response.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            length = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok());
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = h.value.eq_ignore_ascii_case(b"chunked");
        } else if h.name.eq_ignore_ascii_case("connection") {
            keep_alive = !h
                .value
                .split(|&b| b == b',')
                .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"close"));
        }
    }
    if chunked {
        return Ok(dechunk(buf, head)?.map(|end| Response {
            status,
            body: head..end,
            keep_alive,
        }));
    }
    let Some(length) = length else {
        return Err(format!(
            "HTTP {status} without a content-length or a chunked body"
        ));
    };
    Ok((buf.len() >= head + length).then_some(Response {
        status,
        body: head..head + length,
        keep_alive,
    }))
}
/// Decodes the chunked body that starts at `at` in place (the data moved down to `at`) once all of it has been
/// read, and returns where the decoded body ends; `None` while it is incomplete, with `buf` untouched (the next
/// read appends to it and it is parsed again).
fn dechunk(buf: &mut [u8], at: usize) -> Result<Option<usize>, String> {
    // First only find the chunks, so that nothing is moved before the whole body is there.
    let mut chunks = Vec::new();
    let mut read = at;
    loop {
        let Some(line) = buf[read..].windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let size_text =
            std::str::from_utf8(&buf[read..read + line]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        let data = read + line + 2;
        if buf.len() < data + size + 2 {
            return Ok(None);
        }
        if size == 0 {
            // No trailers are sent by the gateway: the body ends with the empty line after the last chunk.
            if &buf[data..data + 2] != b"\r\n" {
                return Err("trailers after the last chunk".into());
            }
            break;
        }
        if &buf[data + size..data + size + 2] != b"\r\n" {
            return Err("a chunk longer than its size".into());
        }
        chunks.push(data..data + size);
        read = data + size + 2;
    }
    let mut write = at;
    for chunk in chunks {
        let len = chunk.len();
        buf.copy_within(chunk, write);
        write += len;
    }
    Ok(Some(write))
}

/// Whether each request is sent once (the run ends early when they run out) or the list is cycled over.
#[derive(Clone, Copy, PartialEq)]
enum Reuse {
    Once,
    Cycle,
}

/// What counts as success.
#[derive(Clone, Copy, PartialEq)]
enum Expect {
    /// 200 with the body exactly `OK`: what Smartro's daemon takes as acknowledged.
    Ok,
    /// 200 (the checkout form as JSON).
    Json,
    /// 201, and the body is kept (a created order).
    Created,
}

struct RunResult {
    /// Latency of every completed request (including failed ones), in microseconds.
    latencies_us: Vec<u32>,
    errors: usize,
    error_samples: Vec<String>,
    elapsed: Duration,
    /// Whether the run stopped because every request had been sent, before its time was up.
    exhausted: bool,
    /// CPU time (user + system) this process used during the run.
    cpu: Duration,
    bodies: Vec<Vec<u8>>,
}

struct WorkerResult {
    latencies_us: Vec<u32>,
    errors: usize,
    error_samples: Vec<String>,
    bodies: Vec<Vec<u8>>,
}

/// Runs `concurrency` workers, each with its own connection sending one request at a time, until `duration` is up
/// (or, with `Reuse::Once`, until every request has been sent).
async fn drive(
    target: &Target,
    requests: Vec<Request>,
    concurrency: usize,
    duration: Option<Duration>,
    reuse: Reuse,
    expect: Expect,
) -> anyhow::Result<RunResult> {
    if requests.is_empty() {
        bail!("nothing to send");
    }
    let target = Arc::new(target.clone());
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = cpu_time();
    let started = Instant::now();
    let deadline = duration.map(|d| started + d);
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency.max(1) {
        let target = Arc::clone(&target);
        let requests = Arc::clone(&requests);
        let next = Arc::clone(&next);
        workers.push(tokio::spawn(async move {
            worker(&target, requests, next, deadline, reuse, expect).await
        }));
    }
    let mut result = RunResult {
        latencies_us: Vec::new(),
        errors: 0,
        error_samples: Vec::new(),
        elapsed: Duration::ZERO,
        exhausted: false,
        cpu: Duration::ZERO,
        bodies: Vec::new(),
    };
    for handle in workers {
        let w = handle.await.context("a load worker panicked")?;
        result.latencies_us.extend(w.latencies_us);
        result.errors += w.errors;
        result.bodies.extend(w.bodies);
        for sample in w.error_samples {
            if result.error_samples.len() < SHOWN_ERRORS {
                result.error_samples.push(sample);
            }
        }
    }
    result.elapsed = started.elapsed();
    result.cpu = cpu_time().saturating_sub(cpu_before);
    result.exhausted = reuse == Reuse::Once
        && duration.is_some()
        && next.load(Ordering::Relaxed) >= requests.len();
    result.latencies_us.sort_unstable();
    Ok(result)
}

async fn worker(
    target: &Target,
    requests: Arc<Vec<Request>>,
    next: Arc<AtomicUsize>,
    deadline: Option<Instant>,
    reuse: Reuse,
    expect: Expect,
) -> WorkerResult {
    let mut out = WorkerResult {
        latencies_us: Vec::with_capacity(1 << 16),
        errors: 0,
        error_samples: Vec::new(),
        bodies: Vec::new(),
    };
    let mut connection: Option<Connection> = None;
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let i = next.fetch_add(1, Ordering::Relaxed);
        let request = match reuse {
            Reuse::Once if i >= requests.len() => break,
            Reuse::Once => &requests[i],
            Reuse::Cycle => &requests[i % requests.len()],
        };
        let sent = Instant::now();
        let outcome = tokio::time::timeout(REQUEST_TIMEOUT, async {
            if connection.is_none() {
                let stream = target
                    .connect()
                    .await
                    .map_err(|e| format!("connecting: {e}"))?;
                connection = Some(Connection {
                    stream,
                    buf: Vec::with_capacity(16 * 1024),
                });
            }
            let Some(c) = connection.as_mut() else {
                return Err("no connection".to_string());
            };
            c.exchange(request).await
        })
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "no response within {} s",
                REQUEST_TIMEOUT.as_secs()
            ))
        });
        let latency = sent.elapsed();
        out.latencies_us
            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
        let failure = match outcome {
            Ok(response) => {
                let Some(c) = connection.as_ref() else {
                    continue;
                };
                let body = &c.buf[response.body.clone()];
                let good = match expect {
                    Expect::Ok => response.status == 200 && body == b"OK",
                    Expect::Json => response.status == 200,
                    Expect::Created => response.status == 201,
                };
                let failure = if good {
                    if expect == Expect::Created {
                        out.bodies.push(body.to_vec());
                    }
                    None
                } else {
                    let text: String = String::from_utf8_lossy(body).chars().take(200).collect();
                    Some(format!("HTTP {}: {text}", response.status))
                };
                if !response.keep_alive {
                    connection = None;
                }
                failure
            }
            Err(e) => {
                // The connection's state is unknown (a half-read response): the next request opens another.
                connection = None;
                Some(e)
            }
        };
        if let Some(failure) = failure {
            out.errors += 1;
            if out.error_samples.len() < SHOWN_ERRORS {
                out.error_samples.push(failure);
            }
        }
    }
    out
}

impl RunResult {
    fn percentile_ms(&self, q: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let rank = (q * self.latencies_us.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.latencies_us.len()) - 1;
        f64::from(self.latencies_us[index]) / 1000.0
    }

    fn print(&self, phase: &str, concurrency: usize) {
        let requests = self.latencies_us.len();
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let rate = requests as f64 / secs;
        let ok_rate = (requests - self.errors.min(requests)) as f64 / secs;
        let max_ms = self
            .latencies_us
            .last()
            .map_or(0.0, |us| f64::from(*us) / 1000.0);
        let mean_ms = if requests == 0 {
            0.0
        } else {
            self.latencies_us
                .iter()
                .map(|us| u64::from(*us))
                .sum::<u64>() as f64
                / requests as f64
                / 1000.0
        };
        let cpu = self.cpu.as_secs_f64();
        for sample in &self.error_samples {
            eprintln!("  {phase} error: {sample}");
        }
        eprintln!(
            "{phase}: {requests} requests in {secs:.2} s at concurrency {concurrency}: {rate:.0} req/s \
             ({ok_rate:.0} ok/s), {} errors; latency ms p50 {:.2} p90 {:.2} p99 {:.2} max {max_ms:.2} \
             mean {mean_ms:.2}; loadgen CPU {cpu:.2} s ({:.2} cores){}",
            self.errors,
            self.percentile_ms(0.50),
            self.percentile_ms(0.90),
            self.percentile_ms(0.99),
            cpu / secs,
            if self.exhausted {
                " [ran out of prepared requests before the time was up]"
            } else {
                ""
            },
        );
        println!(
            "RESULT phase={phase} requests={requests} errors={} secs={secs:.3} rate={rate:.1} ok_rate={ok_rate:.1} \
             p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} max_ms={max_ms:.3} mean_ms={mean_ms:.3} \
             loadgen_cpu_s={cpu:.3} exhausted={}",
            self.errors,
            self.percentile_ms(0.50),
            self.percentile_ms(0.90),
            self.percentile_ms(0.99),
            u8::from(self.exhausted),
        );
    }
}

/// User plus system CPU time of this process so far.
fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage only writes into the struct it is given, which is valid and large enough.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return Duration::ZERO;
    }
    // SAFETY: getrusage returned 0, so it filled the whole struct (and zeroed memory is a valid rusage anyway).
    let usage = unsafe { usage.assume_init() };
    let tv = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection whose server side is driven by the test.
    async fn pair() -> (Connection, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target =
            Target::new(&format!("http://{}", listener.local_addr().unwrap()), None).unwrap();
        let (client, server) = tokio::join!(target.connect(), listener.accept());
        let connection = Connection {
            stream: client.unwrap(),
            buf: Vec::new(),
        };
        (connection, server.unwrap().0)
    }

    /// Answers one request after another on `server`: each answer is written in its pieces, 20 ms apart, so that
    /// the client reads it in as many reads.
    fn serve(
        mut server: TcpStream,
        answers: Vec<Vec<&'static [u8]>>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut seen = vec![0u8; 64];
            for pieces in answers {
                let _ = server.read(&mut seen).await.unwrap();
                for piece in pieces {
                    server.write_all(piece).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        })
    }

    #[tokio::test]
    async fn every_address_of_the_host_is_tried() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut target = Target::new(&format!("http://127.0.0.1:{port}"), None).unwrap();
        // An address nothing listens on (the port is taken by the listener on 127.0.0.1 only) comes first.
        target
            .addrs
            .insert(0, SocketAddr::from(([127, 0, 0, 3], port)));
        let (connected, accepted) = tokio::join!(target.connect(), listener.accept());
        assert!(connected.is_ok() && accepted.is_ok());
        assert!(Target::new("http://127.0.0.1:1", Some("::1".parse().unwrap())).is_err());
    }

    #[test]
    fn a_request_is_the_bytes_of_its_head_and_body() {
        let target = Target::new("http://127.0.0.1:8080/base/", None).unwrap();
        let request = target.request(
            "POST",
            "/v1/orders?x=1",
            &[("idempotency-key", "k1")],
            Some(b"{}"),
        );
        assert_eq!(
            String::from_utf8(request.0).unwrap(),
            "POST /base/v1/orders?x=1 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nidempotency-key: k1\r\n\
             content-length: 2\r\n\r\n{}"
        );
        let get = Target::new("http://127.0.0.1:9", None)
            .unwrap()
            .request("GET", "/x", &[], None);
        assert_eq!(get.0, b"GET /x HTTP/1.1\r\nhost: 127.0.0.1:9\r\n\r\n");
        assert!(Target::new("https://127.0.0.1:8080", None).is_err());
    }

    #[tokio::test]
    async fn a_response_read_in_pieces_is_whole_and_the_next_one_follows_on_the_same_connection() {
        let (mut c, server) = pair().await;
        let request = Request(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n".to_vec());
        let serve = serve(
            server,
            vec![
                vec![b"HTTP/1.1 200 OK\r\ncontent-le", b"ngth: 2\r\n\r\nO", b"K"],
                vec![b"HTTP/1.1 409 Conflict\r\nConnection: upgrade, Close\r\ncontent-length: 3\r\n\r\nno!"],
            ],
        );
        let first = c.exchange(&request).await.unwrap();
        assert_eq!(
            (first.status, &c.buf[first.body.clone()], first.keep_alive),
            (200, &b"OK"[..], true)
        );
        let second = c.exchange(&request).await.unwrap();
        assert_eq!(
            (
                second.status,
                &c.buf[second.body.clone()],
                second.keep_alive
            ),
            (409, &b"no!"[..], false)
        );
        serve.await.unwrap();
    }

    #[tokio::test]
    async fn a_chunked_body_is_decoded_and_a_cut_response_is_an_error() {
        let (mut c, server) = pair().await;
        let request = Request(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n".to_vec());
        let serve = serve(
            server,
            vec![
                // In pieces, as hyper sends a streamed body: the head, each chunk, the last chunk, its empty line.
                vec![
                    b"HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n3;x=y\r\n{\"a\r\n",
                    b"2\r\n\":\r",
                    b"\n1\r\n1\r\n",
                    b"0\r\n",
                    b"\r\n",
                ],
                // Ten bytes announced, two sent, then the connection closes.
                vec![b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nOK"],
            ],
        );
        let first = c.exchange(&request).await.unwrap();
        assert_eq!(
            (first.status, &c.buf[first.body.clone()]),
            (201, &b"{\"a\":1"[..])
        );
        let cut = c.exchange(&request).await;
        serve.await.unwrap();
        assert!(cut.unwrap_err().contains("closed the connection"));
    }

    #[test]
    fn a_bad_chunk_size_or_a_missing_length_is_an_error() {
        let mut buf = b"zz\r\nabc\r\n".to_vec();
        assert!(dechunk(&mut buf, 0).is_err());
        let mut too_long = b"2\r\nabc\r\n0\r\n\r\n".to_vec();
        assert!(dechunk(&mut too_long, 0).is_err());
        // Incomplete: nothing is moved, so that it parses the same once the rest is read.
        for partial in [
            &b"5\r\nab"[..],
            b"2\r\nab\r\n1\r\nc\r\n",
            b"2\r\nab\r\n0\r\n",
        ] {
            let mut buf = partial.to_vec();
            assert_eq!(dechunk(&mut buf, 0), Ok(None));
            assert_eq!(buf, partial);
        }
        let mut no_length = b"HTTP/1.1 200 OK\r\n\r\nOK".to_vec();
        assert!(parse_response(&mut no_length).is_err());
        let mut garbage = b"HTTP/9 what\r\n\r\n".to_vec();
        assert!(parse_response(&mut garbage).is_err());
    }
}
