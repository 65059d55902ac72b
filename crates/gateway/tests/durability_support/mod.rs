//! Support for the durability tests: the real `smartro-gateway` binary as child processes, a webhook receiver, a
//! switchable Unix-socket proxy in front of PostgreSQL, a browser paying through the sandbox, and a stream of informs.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use smartro::endpoints::Endpoints;
use tokio::net::{TcpListener, UnixListener, UnixStream};
use tokio::task::JoinHandle;

use crate::common::{card_inform, card_order, API_KEY};

pub const WEBHOOK_SECRET: &str = "whsec_durability_tests";
/// Longest wait for a child to answer `/readyz` after it was spawned.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Log lines shown per child when a test fails.
const LOG_TAIL_LINES: usize = 200;

/// An HTTP client for the tests: no redirects, and a timeout so that a hung child fails the test instead of it.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("reqwest client")
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// What a gateway child is configured with, besides its own address.
#[derive(Clone, Default)]
pub struct GatewayEnv {
    pub database_url: String,
    pub webhook_url: Option<String>,
    pub smartro: Option<Endpoints>,
    pub extra: Vec<(String, String)>,
}

impl GatewayEnv {
    pub fn new(database_url: &str) -> GatewayEnv {
        GatewayEnv {
            database_url: database_url.to_string(),
            ..GatewayEnv::default()
        }
    }

    fn vars(&self, port: u16) -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = vec![
            ("GATEWAY__DATABASE__URL".into(), self.database_url.clone()),
            ("GATEWAY__SERVER__BIND".into(), format!("127.0.0.1:{port}")),
            (
                "GATEWAY__SERVER__PUBLIC_URL".into(),
                format!("http://127.0.0.1:{port}"),
            ),
            ("GATEWAY__WORKERS__POLL_INTERVAL_MS".into(), "50".into()),
            ("GATEWAY__SMARTRO__TIMEOUT_SECS".into(), "5".into()),
            // The test process plays Smartro's notification servers: its informs are trusted as theirs would be.
            (
                "GATEWAY__SMARTRO__NOTIFY_ALLOW_CIDRS".into(),
                "127.0.0.1/32".into(),
            ),
            ("RUST_LOG".into(), "info,sqlx=warn".into()),
            ("RUST_BACKTRACE".into(), "1".into()),
            // Plain text in the log files.
            ("NO_COLOR".into(), "1".into()),
        ];
        if let Some(url) = &self.webhook_url {
            vars.push(("GATEWAY__WEBHOOKS__URL".into(), url.clone()));
            vars.push(("GATEWAY__WEBHOOKS__SECRET".into(), WEBHOOK_SECRET.into()));
        }
        if let Some(e) = &self.smartro {
            vars.push(("GATEWAY__SMARTRO__PAY_URL".into(), e.pay_url.clone()));
            vars.push(("GATEWAY__SMARTRO__CANCEL_URL".into(), e.cancel_url.clone()));
            vars.push((
                "GATEWAY__SMARTRO__RECEIPT_API_URL".into(),
                e.receipt_api_url.clone(),
            ));
            vars.push((
                "GATEWAY__SMARTRO__RECEIPT_PAGE_URL".into(),
                e.receipt_page_url.clone(),
            ));
        }
        vars.extend(self.extra.iter().cloned());
        vars
    }
}

/// One `smartro-gateway serve` child process. Killed (SIGKILL) and reaped when dropped; when the test is failing,
/// its log is printed then.
pub struct GatewayProcess {
    pub name: String,
    pub port: u16,
    child: Child,
    exit: Option<ExitStatus>,
    log: PathBuf,
    // Dropped after `drop` has printed the log.
    _dir: tempfile::TempDir,
}

impl GatewayProcess {
    /// Spawns `serve` and waits until `/readyz` answers 200.
    pub async fn start(name: &str, env: &GatewayEnv) -> GatewayProcess {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut process = Self::spawn(name, env, free_port());
            match process.wait_ready().await {
                Ok(()) => return process,
                // Another process took the port between our probe and the child's bind: try another one.
                Err(log) if attempt < 3 && log.contains("could not bind") => continue,
                Err(log) => panic!("gateway {name} did not become ready:\n{log}"),
            }
        }
    }

    /// Spawns `serve` on a free port without waiting for it to become ready.
    pub fn spawn_unready(name: &str, env: &GatewayEnv) -> GatewayProcess {
        Self::spawn(name, env, free_port())
    }

    fn spawn(name: &str, env: &GatewayEnv, port: u16) -> GatewayProcess {
        let dir = tempfile::Builder::new()
            .prefix("smartro-gateway-durability-")
            .tempdir()
            .expect("tempdir for the child's log");
        let log = dir.path().join(format!("{name}.log"));
        let out = File::create(&log).expect("create child log");
        let err = out.try_clone().expect("clone child log handle");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_smartro-gateway"));
        cmd.arg("serve")
            // Only what we set: no GATEWAY_CONFIG, DATABASE_URL or GATEWAY__* of the developer's shell.
            .env_clear()
            .envs(env.vars(port))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        // SAFETY: prctl is async-signal-safe and the closure does not allocate. It makes the kernel kill the child
        // if the test process dies without running our Drop (e.g. killed by a test runner's timeout).
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ) == -1
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn smartro-gateway");
        GatewayProcess {
            name: name.to_string(),
            port,
            child,
            exit: None,
            log,
            _dir: dir,
        }
    }

    /// `Err(log)` when the child exits or does not become ready in time.
    pub async fn wait_ready(&mut self) -> Result<(), String> {
        let http = http_client();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.try_exit() {
                return Err(format!("exited with {status}\n{}", self.log_text()));
            }
            if let Ok(r) = http.get(self.url("/readyz")).send().await {
                if r.status() == 200 {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "not ready after {READY_TIMEOUT:?}\n{}",
                    self.log_text()
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub fn pid(&self) -> libc::pid_t {
        libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// SIGKILL, as a crashed host or the OOM killer would; returns once the process is reaped.
    pub fn kill9(&mut self) {
        if self.try_exit().is_none() {
            let _ = self.child.kill();
            self.exit = self.child.wait().ok();
        }
    }

    /// SIGTERM, as an orchestrator stopping the replica would.
    pub fn terminate(&self) {
        // SAFETY: signalling our own child, which is not reaped yet (so its pid cannot have been reused).
        let rc = unsafe { libc::kill(self.pid(), libc::SIGTERM) };
        assert_eq!(rc, 0, "SIGTERM to {}", self.name);
    }

    /// The exit status, if the process ends within `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            let text = self.log_text();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
            eprintln!(
                "----- gateway {} (port {}, {:?}): last {LOG_TAIL_LINES} log lines -----\n{tail}\n----- end of {} -----",
                self.name, self.port, self.exit, self.name
            );
        }
    }
}

/// `(status, JSON body or the body as a string)` of an API call with the test API key.
pub async fn api(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http.request(method, url).bearer_auth(API_KEY);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let response = req.send().await.expect("API request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("API response body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub async fn create_order(
    http: &reqwest::Client,
    base: &str,
    order_id: &str,
    amount: i64,
) -> Value {
    let (status, order) = api(
        http,
        reqwest::Method::POST,
        format!("{base}/v1/orders"),
        Some(card_order(order_id, amount)),
    )
    .await;
    assert_eq!(status, 201, "create {order_id}: {order}");
    order
}

/// Creates `ids` with up to `concurrency` requests at once.
pub async fn create_orders(
    http: &reqwest::Client,
    base: &str,
    ids: &[String],
    amount: i64,
    concurrency: usize,
) {
    let queue = Arc::new(Mutex::new(ids.iter().cloned().collect::<VecDeque<_>>()));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (http, base, queue) = (http.clone(), base.to_string(), queue.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let Some(id) = queue.lock().unwrap().pop_front() else {
                    return;
                };
                create_order(&http, &base, &id, amount).await;
            }
        }));
    }
    for w in workers {
        w.await.expect("order creation task");
    }
}

/// Posts a body to `/smartro/inform` as Smartro's daemon does: `(status, body)`, or the transport error.
pub async fn post_inform(
    http: &reqwest::Client,
    base: &str,
    body: Vec<u8>,
) -> Result<(u16, String), String> {
    let response = http
        .post(format!("{base}/smartro/inform"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| e.to_string())?;
    Ok((status, text))
}

/// What a browser does against a sandbox with `auto = approve`: load the checkout form from the gateway at
/// `base`, post it to the sandbox in EUC-KR, post the sandbox's result form to the gateway's ReturnURL. Returns the
/// order afterwards.
pub async fn pay_through_sandbox(http: &reqwest::Client, base: &str, order: &Value) -> Value {
    let order_id = order["order_id"].as_str().expect("order_id");
    let token = order["checkout_url"]
        .as_str()
        .and_then(|u| u.split("?t=").nth(1))
        .expect("checkout token");
    let form: Value = http
        .get(format!("{base}/v1/checkout/{order_id}?t={token}"))
        .send()
        .await
        .expect("checkout form")
        .json()
        .await
        .expect("checkout JSON");
    let fields: Vec<(String, String)> = form["fields"]
        .as_object()
        .expect("checkout fields")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    let back = sandbox::browser::pay(
        http,
        form["action_url"].as_str().expect("action_url"),
        &fields,
    )
    .await
    .expect("paying through the sandbox");
    assert!(
        back.status().is_success() || back.status().is_redirection(),
        "returnPay answered {}",
        back.status()
    );
    let (status, order) = api(
        http,
        reqwest::Method::GET,
        format!("{base}/v1/orders/{order_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{order}");
    order
}

/// One webhook delivery as the shop received it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event_id: String,
    pub event_type: String,
    pub order_id: String,
    pub signature_ok: bool,
}

#[derive(Clone)]
struct ReceiverState {
    received: Arc<Mutex<Vec<Delivery>>>,
    delay: Duration,
}

/// The shop's webhook endpoint: records every delivery on arrival, then answers 200 after `delay`.
pub struct WebhookReceiver {
    pub url: String,
    state: ReceiverState,
    server: JoinHandle<()>,
}

fn signature_ok(headers: &HeaderMap, body: &[u8]) -> bool {
    let Some((t, v1)) = headers
        .get("gateway-signature")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split_once(','))
    else {
        return false;
    };
    let (Some(t), Some(v1)) = (t.strip_prefix("t="), v1.strip_prefix("v1=")) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()) else {
        return false;
    };
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    hex::encode(mac.finalize().into_bytes()) == v1
}

async fn hook(State(r): State<ReceiverState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    r.received.lock().unwrap().push(Delivery {
        event_id: text(&event["id"]),
        event_type: text(&event["type"]),
        order_id: text(&event["data"]["order"]["order_id"]),
        signature_ok: signature_ok(&headers, &body),
    });
    tokio::time::sleep(r.delay).await;
    StatusCode::OK
}

impl WebhookReceiver {
    pub async fn start(delay: Duration) -> WebhookReceiver {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let url = format!("http://{}/hooks", listener.local_addr().expect("addr"));
        let state = ReceiverState {
            received: Arc::new(Mutex::new(Vec::new())),
            delay,
        };
        let app = Router::new()
            .route("/hooks", post(hook))
            .with_state(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        WebhookReceiver { url, state, server }
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state.received.lock().unwrap().clone()
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The number naming the proxy's socket file (`.s.PGSQL.5432`); it lives in a directory of its own.
const PROXY_PORT: u16 = 5432;

/// A proxy on a fixed Unix socket whose upstream socket can be switched: the embedded PostgreSQL names its socket
/// after a new port number on every start, while the gateway keeps its configured `database.url`. Like the
/// embedded server it listens on no TCP address, only in a private directory (tempfile makes it 0700).
pub struct SocketProxy {
    dir: tempfile::TempDir,
    upstream: Arc<Mutex<Option<PathBuf>>>,
    accept: JoinHandle<()>,
}

impl SocketProxy {
    pub async fn start(upstream: PathBuf) -> SocketProxy {
        let dir = tempfile::Builder::new()
            .prefix("smartro-gateway-pgproxy-")
            .tempdir()
            .expect("proxy socket directory");
        let listener = UnixListener::bind(dir.path().join(format!(".s.PGSQL.{PROXY_PORT}")))
            .expect("bind proxy socket");
        let upstream = Arc::new(Mutex::new(Some(upstream)));
        let target = upstream.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let socket = target.lock().expect("proxy upstream").clone();
                tokio::spawn(async move {
                    // Upstream down: dropping the client is what a stopped server looks like.
                    if let Some(socket) = socket {
                        if let Ok(mut server) = UnixStream::connect(socket).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    }
                });
            }
        });
        SocketProxy {
            dir,
            upstream,
            accept,
        }
    }

    /// The URL of `database` on the embedded cluster, through this proxy.
    pub fn url(&self, database: &str) -> String {
        gateway::embedded_pg::socket_url(self.dir.path(), PROXY_PORT, database)
    }

    /// `None`: nothing answers behind the proxy.
    pub fn set_upstream(&self, socket: Option<PathBuf>) {
        *self.upstream.lock().expect("proxy upstream") = socket;
    }
}

impl Drop for SocketProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// An inform to send: the order it pays and its TID.
#[derive(Debug, Clone)]
pub struct InformJob {
    pub order_id: String,
    pub tid: String,
    pub amount: i64,
}

impl InformJob {
    pub fn body(&self) -> Vec<u8> {
        card_inform(&self.order_id, &self.tid, self.amount)
    }
}

/// One inform as sent and answered.
#[derive(Debug, Clone)]
pub struct InformRecord {
    pub order_id: String,
    pub sent_at: Instant,
    pub answered_at: Instant,
    /// `Err`: no HTTP answer (connection refused or reset).
    pub answer: Result<(u16, String), String>,
}

impl InformRecord {
    /// Acknowledged as Smartro understands it.
    pub fn ok(&self) -> bool {
        matches!(&self.answer, Ok((200, body)) if body.trim() == "OK")
    }
}

/// Informs sent by `concurrency` tasks until the queue is empty or `stop` is set. With `requeue`, an inform not
/// acknowledged goes back to the end of the queue, as Smartro's daemon re-sends it.
pub struct InformStream {
    pub records: Arc<Mutex<Vec<InformRecord>>>,
    pub acknowledged: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

impl InformStream {
    pub fn start(
        http: &reqwest::Client,
        base: &str,
        jobs: Vec<InformJob>,
        concurrency: usize,
        pause: Duration,
        requeue: bool,
    ) -> InformStream {
        let queue = Arc::new(Mutex::new(VecDeque::from(jobs)));
        let records = Arc::new(Mutex::new(Vec::new()));
        let acknowledged = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = (0..concurrency)
            .map(|_| {
                let (http, base) = (http.clone(), base.to_string());
                let (queue, records, acknowledged, stop) = (
                    queue.clone(),
                    records.clone(),
                    acknowledged.clone(),
                    stop.clone(),
                );
                tokio::spawn(async move {
                    while !stop.load(Ordering::SeqCst) {
                        let Some(job) = queue.lock().unwrap().pop_front() else {
                            return;
                        };
                        let sent_at = Instant::now();
                        let answer = post_inform(&http, &base, job.body()).await;
                        let record = InformRecord {
                            order_id: job.order_id.clone(),
                            sent_at,
                            answered_at: Instant::now(),
                            answer,
                        };
                        if record.ok() {
                            acknowledged.fetch_add(1, Ordering::SeqCst);
                        } else if requeue {
                            queue.lock().unwrap().push_back(job);
                        }
                        records.lock().unwrap().push(record);
                        if !pause.is_zero() {
                            tokio::time::sleep(pause).await;
                        }
                    }
                })
            })
            .collect();
        InformStream {
            records,
            acknowledged,
            stop,
            tasks,
        }
    }

    /// Waits until the queue is empty (with `requeue`, until every inform is acknowledged) and returns every record.
    pub async fn drain(self) -> Vec<InformRecord> {
        for task in self.tasks {
            task.await.expect("inform sender task");
        }
        let records = self.records.lock().unwrap().clone();
        records
    }

    /// Stops the senders (each finishes its request in flight) and returns every record.
    pub async fn finish(self) -> Vec<InformRecord> {
        self.stop.store(true, Ordering::SeqCst);
        for task in self.tasks {
            task.await.expect("inform sender task");
        }
        let records = self.records.lock().unwrap().clone();
        records
    }
}

/// Polls `check` every 5 ms until it returns true; false if `timeout` passes first.
pub async fn wait_until(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Like [`wait_until`] (every 25 ms), with an asynchronous check such as a database query.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub async fn count(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// For a query of `(key, count)` rows: every count is exactly one.
pub async fn assert_one_each(pool: &sqlx::PgPool, sql: &str) {
    let wrong: Vec<(String, i64)> = sqlx::query_as::<_, (String, i64)>(sql)
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .filter(|(_, n)| *n != 1)
        .collect();
    assert!(wrong.is_empty(), "not exactly one each ({sql}): {wrong:?}");
}

/// The JSON of a cancel request without an Idempotency-Key.
pub fn cancel_body(reason: &str) -> Value {
    json!({ "reason": reason })
}
