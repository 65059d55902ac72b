//! Replicas and durability, shown with real processes: the `smartro-gateway serve` binary as children (HTTP server
//! and background workers), configured only through the environment, against real PostgreSQL servers and an
//! in-process sandbox standing in for Smartro. Every child is killed when its test ends; when a test fails, the
//! children's logs are printed.

mod common;
mod durability_support;

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::tid;
use durability_support::*;
use gateway::embedded_pg::{EmbeddedOptions, EmbeddedPostgres};
use gateway::testkit::fresh_database;
use reqwest::Method;
use sandbox::terminal::{Screen, TerminalConfig, TerminalSimulator};
use sandbox::{AutoDecision, Faults, Sandbox, SandboxConfig};
use serde_json::Value;
use sqlx::PgPool;

fn sandbox_config(cancel_latency: Duration) -> SandboxConfig {
    SandboxConfig {
        auto: Some(AutoDecision::Approve),
        faults: Faults {
            cancel_latency,
            ..Faults::default()
        },
        ..SandboxConfig::for_tests(Duration::from_millis(50))
    }
}

/// Waits until the outbox holds `at_least` events and every one of them is delivered.
async fn all_events_delivered(pool: &PgPool, at_least: i64) -> bool {
    let pool = pool.clone();
    eventually(Duration::from_secs(15), move || {
        let pool = pool.clone();
        async move {
            count(&pool, "SELECT count(*) FROM outbox_events").await >= at_least
                && count(
                    &pool,
                    "SELECT count(*) FROM outbox_events WHERE delivery_status <> 'delivered'",
                )
                .await
                    == 0
        }
    })
    .await
}

/// Every event of the outbox reached the shop exactly once, correctly signed.
async fn assert_each_event_received_once(pool: &PgPool, hooks: &WebhookReceiver) {
    let deliveries = hooks.deliveries();
    assert!(
        deliveries.iter().all(|d| d.signature_ok),
        "every delivery is signed with the webhook secret: {deliveries:?}"
    );
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for d in &deliveries {
        *per_id.entry(d.event_id.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = per_id.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        twice.is_empty(),
        "events received more than once: {twice:?}"
    );
    let outbox: HashSet<String> = sqlx::query_scalar("SELECT id FROM outbox_events")
        .fetch_all(pool)
        .await
        .expect("outbox ids")
        .into_iter()
        .collect();
    let received: HashSet<String> = per_id.keys().map(|id| id.to_string()).collect();
    assert_eq!(received, outbox, "the shop received exactly the outbox");
}

/// Two `serve` processes on one database, as behind a load balancer: informs to either (and the same inform to
/// both at once) are applied once, each webhook event reaches the shop once, and a cancel sent to both at the same
/// moment reaches Smartro once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_on_one_database_act_as_one() {
    let db = fresh_database().await;
    let sandbox = Sandbox::start(sandbox_config(Duration::from_millis(300)))
        .await
        .expect("sandbox starts");
    // A little slow, so that both replicas' delivery workers are busy at the same time.
    let hooks = WebhookReceiver::start(Duration::from_millis(20)).await;
    let env = GatewayEnv {
        webhook_url: Some(hooks.url.clone()),
        smartro: Some(sandbox.endpoints()),
        ..GatewayEnv::new(&db.url)
    };
    let (a, b) = tokio::join!(
        GatewayProcess::start("replica-a", &env),
        GatewayProcess::start("replica-b", &env)
    );
    let replicas = [a.url(""), b.url("")];
    let http = http_client();

    let ids: Vec<String> = (0..30).map(|i| format!("DUR-R{i:02}")).collect();
    for (i, id) in ids.iter().enumerate() {
        create_order(&http, &replicas[i % 2], id, 1000).await;
    }
    let mut sends = tokio::task::JoinSet::new();
    for (i, id) in ids.iter().enumerate() {
        let job = InformJob {
            order_id: id.clone(),
            tid: tid(u32::try_from(i).expect("small") + 1),
            amount: 1000,
        };
        // Every fifth inform reaches both replicas at once, as a duplicated delivery would.
        let targets = if i % 5 == 0 {
            replicas.to_vec()
        } else {
            vec![replicas[i % 2].clone()]
        };
        for base in targets {
            let (http, job) = (http.clone(), job.clone());
            sends.spawn(async move {
                let answer = post_inform(&http, &base, job.body()).await;
                (job.order_id, base, answer)
            });
        }
    }
    while let Some(sent) = sends.join_next().await {
        let (order_id, base, answer) = sent.expect("inform task");
        assert_eq!(
            answer,
            Ok((200, "OK".to_string())),
            "inform for {order_id} at {base}"
        );
    }

    assert!(
        all_events_delivered(&db.pool, 30).await,
        "every event delivered; outbox: {:?}",
        sqlx::query_as::<_, (String, String, String)>(
            "SELECT id, event_type, delivery_status FROM outbox_events ORDER BY seq"
        )
        .fetch_all(&db.pool)
        .await
    );
    assert_each_event_received_once(&db.pool, &hooks).await;
    let paid_events: HashMap<String, usize> =
        hooks
            .deliveries()
            .iter()
            .fold(HashMap::new(), |mut per_order, d| {
                if d.event_type == "payment.paid" {
                    *per_order.entry(d.order_id.clone()).or_default() += 1;
                }
                per_order
            });
    for id in &ids {
        assert_eq!(
            paid_events.get(id),
            Some(&1),
            "one payment.paid for {id}: {paid_events:?}"
        );
    }
    assert_one_each(
        &db.pool,
        "SELECT order_id, count(*) FROM payments GROUP BY order_id",
    )
    .await;
    assert_eq!(count(&db.pool, "SELECT count(*) FROM payments").await, 30);
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM orders WHERE status = 'paid'"
        )
        .await,
        30
    );
    let workers = count(
        &db.pool,
        "SELECT count(DISTINCT worker) FROM webhook_attempts",
    )
    .await;
    eprintln!("webhook deliveries were made by {workers} replica(s)");

    // The cancel race: the same cancel, no Idempotency-Key, at both replicas while Smartro takes 300 ms.
    let order = create_order(&http, &replicas[0], "DUR-RACE", 5000).await;
    let paid = pay_through_sandbox(&http, &replicas[0], &order).await;
    assert_eq!(paid["status"], "paid", "{paid}");
    let paid_tid = paid["tid"].as_str().expect("tid").to_string();
    let cancel = |base: String| {
        let http = http.clone();
        async move {
            api(
                &http,
                Method::POST,
                format!("{base}/v1/orders/DUR-RACE/cancel"),
                Some(cancel_body("고객 요청")),
            )
            .await
        }
    };
    let (at_a, at_b) = tokio::join!(cancel(replicas[0].clone()), cancel(replicas[1].clone()));
    let mut statuses = [at_a.0, at_b.0];
    statuses.sort_unstable();
    assert_eq!(
        statuses,
        [200, 409],
        "one cancel succeeds, the other is refused: a: {at_a:?} b: {at_b:?}"
    );
    let cancels = sandbox
        .state()
        .transaction(&paid_tid)
        .expect("the sandbox knows the payment")
        .cancels;
    assert_eq!(cancels.len(), 1, "Smartro saw one cancel: {cancels:?}");
    let (_, after) = api(
        &http,
        Method::GET,
        format!("{}/v1/orders/DUR-RACE", replicas[1]),
        None,
    )
    .await;
    assert_eq!(after["status"], "cancelled", "{after}");
    assert_eq!(after["cancelled_amount"], 5000, "{after}");

    // The race's events (paid, cancelled) reach the shop once as well.
    assert!(
        all_events_delivered(&db.pool, 32).await,
        "race events delivered"
    );
    assert_each_event_received_once(&db.pool, &hooks).await;
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM outbox_events WHERE order_id = 'DUR-RACE' AND event_type = 'payment.cancelled'"
        )
        .await,
        1
    );
    drop((a, b));
    sandbox.shutdown().await;
}

/// SIGKILL in the middle of a stream of informs: what was acknowledged is committed; Smartro re-sends the rest to
/// the restarted gateway, and every order ends paid once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_informs_loses_nothing_acknowledged() {
    let db = fresh_database().await;
    let env = GatewayEnv::new(&db.url);
    let mut first = GatewayProcess::start("first", &env).await;
    let http = http_client();
    let jobs: Vec<InformJob> = (0..300u32)
        .map(|i| InformJob {
            order_id: format!("DUR-K{i:03}"),
            tid: tid(i + 1),
            amount: 1000,
        })
        .collect();
    let ids: Vec<String> = jobs.iter().map(|j| j.order_id.clone()).collect();
    create_orders(&http, &first.url(""), &ids, 1000, 8).await;

    let stream = InformStream::start(
        &http,
        &first.url(""),
        jobs.clone(),
        8,
        Duration::ZERO,
        false,
    );
    let acknowledged = stream.acknowledged.clone();
    let reached = wait_until(Duration::from_secs(20), || {
        acknowledged.load(std::sync::atomic::Ordering::SeqCst) >= 100
    })
    .await;
    first.kill9();
    let records = stream.finish().await;
    assert!(reached, "100 informs acknowledged before the kill");
    let acked: HashSet<String> = records
        .iter()
        .filter(|r| r.ok())
        .map(|r| r.order_id.clone())
        .collect();
    assert!(
        acked.len() < jobs.len(),
        "the kill came in the middle of the stream ({} of {} acknowledged)",
        acked.len(),
        jobs.len()
    );
    let paid: HashSet<String> = sqlx::query_scalar(
        "SELECT p.order_id FROM payments p JOIN orders o USING (order_id)
         WHERE p.success AND o.status = 'paid'",
    )
    .fetch_all(&db.pool)
    .await
    .expect("paid orders")
    .into_iter()
    .collect();
    let mut lost: Vec<&String> = acked.difference(&paid).collect();
    lost.sort();
    assert!(
        lost.is_empty(),
        "acknowledged with OK but not paid in the database: {lost:?}"
    );
    eprintln!(
        "{} acknowledged before the kill; {} paid in the database (a commit may come before an answer that is lost)",
        acked.len(),
        paid.len()
    );

    let second = GatewayProcess::start("second", &env).await;
    let resend: Vec<InformJob> = jobs
        .iter()
        .filter(|j| !acked.contains(&j.order_id))
        .cloned()
        .collect();
    let resent = InformStream::start(
        &http,
        &second.url(""),
        resend.clone(),
        8,
        Duration::ZERO,
        false,
    )
    .drain()
    .await;
    let refused: Vec<&InformRecord> = resent.iter().filter(|r| !r.ok()).collect();
    assert!(
        refused.is_empty(),
        "re-sent informs not acknowledged: {refused:?}"
    );
    assert_eq!(resent.len(), resend.len());

    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM orders WHERE status = 'paid'"
        )
        .await,
        300
    );
    assert_eq!(count(&db.pool, "SELECT count(*) FROM payments").await, 300);
    assert_one_each(
        &db.pool,
        "SELECT order_id, count(*) FROM payments GROUP BY order_id",
    )
    .await;
    assert_one_each(
        &db.pool,
        "SELECT order_id, count(*) FROM outbox_events GROUP BY order_id, event_type",
    )
    .await;
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM outbox_events WHERE event_type = 'payment.paid'"
        )
        .await,
        300
    );
    drop(second);
    drop(first);
}

/// A temp dir the `postgres` OS user can traverse (tempfile makes 0700 dirs) when the tests run as root.
fn data_root() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("smartro-gateway-durability-pg-")
        .tempdir()
        .expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod tempdir");
    dir
}

async fn readyz(http: &reqwest::Client, gateway: &GatewayProcess) -> Option<u16> {
    http.get(gateway.url("/readyz"))
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

/// PostgreSQL stopped while informs stream in: nothing is acknowledged while it is down (503, and /readyz says
/// so); once it is back, the same gateway process recovers by itself.
///
/// The embedded PostgreSQL names its socket after a new port number on every start (`EmbeddedOptions` has no port
/// setting), so the gateway reaches it through a proxy on a fixed socket that is pointed at the restarted server.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_outage_is_refused_then_recovered_without_a_restart() {
    let root = data_root();
    let options = EmbeddedOptions {
        template_cache: Some(std::env::temp_dir()),
        max_connections: 50,
        ..EmbeddedOptions::new(&root.path().join("data"))
    };
    let pg = EmbeddedPostgres::start_with(options.clone())
        .await
        .expect("dedicated PostgreSQL starts");
    let proxy = SocketProxy::start(pg.socket_path()).await;
    let url = proxy.url("gateway");
    let gateway = GatewayProcess::start("gateway", &GatewayEnv::new(&url)).await;
    let http = http_client();

    let jobs: Vec<InformJob> = (0..400u32)
        .map(|i| InformJob {
            order_id: format!("DUR-P{i:03}"),
            tid: tid(i + 1),
            amount: 1000,
        })
        .collect();
    let ids: Vec<String> = jobs.iter().map(|j| j.order_id.clone()).collect();
    create_orders(&http, &gateway.url(""), &ids, 1000, 8).await;

    // Smartro's daemon re-sends what is not acknowledged: unacknowledged informs go back into the queue.
    let stream = InformStream::start(
        &http,
        &gateway.url(""),
        jobs,
        4,
        Duration::from_millis(10),
        true,
    );
    let acknowledged = stream.acknowledged.clone();
    assert!(
        wait_until(Duration::from_secs(15), || acknowledged
            .load(std::sync::atomic::Ordering::SeqCst)
            >= 30)
        .await,
        "informs acknowledged before the outage"
    );

    pg.stop().await.expect("PostgreSQL stops");
    // Nothing may answer behind the proxy while it is down.
    proxy.set_upstream(None);
    let stopped_at = Instant::now();
    let mut readiness_during_outage = Vec::new();
    while stopped_at.elapsed() < Duration::from_millis(2500) {
        readiness_during_outage.push(readyz(&http, &gateway).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let restart_at = Instant::now();
    let pg = EmbeddedPostgres::start_with(options.clone())
        .await
        .expect("PostgreSQL restarts on its data directory");
    proxy.set_upstream(Some(pg.socket_path()));
    let restarted_at = Instant::now();
    let ready_again = eventually(Duration::from_secs(10), || {
        let (http, url) = (http.clone(), gateway.url("/readyz"));
        async move { http.get(url).send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;
    let ready_after = restarted_at.elapsed();
    let ready_at = Instant::now();
    let records_so_far = stream.records.clone();
    let acked_again = wait_until(Duration::from_secs(15), || {
        records_so_far
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.sent_at > ready_at && r.ok())
            .count()
            >= 20
    })
    .await;
    let records = stream.finish().await;
    let pool = PgPool::connect_with(pg.connect_options("gateway"))
        .await
        .expect("connect to the restarted PostgreSQL");

    assert!(
        !readiness_during_outage.is_empty()
            && readiness_during_outage.iter().all(|s| *s == Some(503)),
        "/readyz is 503 while the database is down: {readiness_during_outage:?}"
    );
    let during_outage: Vec<&InformRecord> = records
        .iter()
        .filter(|r| r.sent_at >= stopped_at && r.answered_at <= restart_at)
        .collect();
    assert!(
        !during_outage.is_empty(),
        "informs were answered during the outage"
    );
    let wrongly_answered: Vec<&&InformRecord> = during_outage
        .iter()
        .filter(|r| !matches!(&r.answer, Ok((503, body)) if !body.contains("OK")))
        .collect();
    assert!(
        wrongly_answered.is_empty(),
        "during the outage every inform is answered 503 (never OK): {wrongly_answered:?}"
    );
    assert!(
        ready_again,
        "/readyz is 200 again within 10 s of the restart, without restarting the gateway"
    );
    eprintln!(
        "{} informs answered 503 during the outage; ready again {ready_after:?} after PostgreSQL restarted",
        during_outage.len()
    );
    assert!(
        acked_again,
        "informs are acknowledged again after the outage"
    );

    let acked: HashSet<String> = records
        .iter()
        .filter(|r| r.ok())
        .map(|r| r.order_id.clone())
        .collect();
    let paid: HashSet<String> = sqlx::query_scalar(
        "SELECT p.order_id FROM payments p JOIN orders o USING (order_id)
         WHERE p.success AND o.status = 'paid'",
    )
    .fetch_all(&pool)
    .await
    .expect("paid orders")
    .into_iter()
    .collect();
    let mut lost: Vec<&String> = acked.difference(&paid).collect();
    lost.sort();
    assert!(
        lost.is_empty(),
        "acknowledged with OK but not in the database: {lost:?}"
    );
    assert_one_each(
        &pool,
        "SELECT order_id, count(*) FROM payments GROUP BY order_id",
    )
    .await;

    pool.close().await;
    drop(gateway);
    drop(proxy);
    pg.stop().await.expect("PostgreSQL stops at the end");
}

async fn leases_held(pool: &PgPool) -> i64 {
    count(
        pool,
        "SELECT count(*) FROM outbox_events WHERE leased_by IS NOT NULL",
    )
    .await
}

/// SIGTERM while a slow cancel is in flight and a webhook delivery holds a lease: the cancel still completes, the
/// process exits 0, and no event stays leased by the dead process.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_drains_requests_and_gives_back_webhook_leases() {
    let db = fresh_database().await;
    let sandbox = Sandbox::start(sandbox_config(Duration::from_millis(1500)))
        .await
        .expect("sandbox starts");
    let hooks = WebhookReceiver::start(Duration::from_secs(1)).await;
    let env = GatewayEnv {
        webhook_url: Some(hooks.url.clone()),
        smartro: Some(sandbox.endpoints()),
        ..GatewayEnv::new(&db.url)
    };
    let mut gateway = GatewayProcess::start("gateway", &env).await;
    let base = gateway.url("");
    let http = http_client();

    let order = create_order(&http, &base, "DUR-TERM", 5000).await;
    let paid = pay_through_sandbox(&http, &base, &order).await;
    assert_eq!(paid["status"], "paid", "{paid}");
    create_order(&http, &base, "DUR-TERM-2", 1000).await;
    // The first event out of the way, so that the lease below is the one held at SIGTERM.
    assert!(
        all_events_delivered(&db.pool, 1).await,
        "payment.paid of DUR-TERM delivered"
    );

    // A new event, whose delivery the slow shop keeps open for a second.
    assert_eq!(
        post_inform(
            &http,
            &base,
            common::card_inform("DUR-TERM-2", &tid(1), 1000)
        )
        .await,
        Ok((200, "OK".to_string()))
    );
    let leased = eventually(Duration::from_secs(3), || {
        let pool = db.pool.clone();
        async move { leases_held(&pool).await > 0 }
    })
    .await;
    assert!(leased, "a webhook delivery holds a lease");

    let cancel_started = Instant::now();
    let cancel = tokio::spawn({
        let (http, url) = (http.clone(), format!("{base}/v1/orders/DUR-TERM/cancel"));
        async move { api(&http, Method::POST, url, Some(cancel_body("고객 요청"))).await }
    });
    // The sandbox books the cancel at once and answers 1.5 s later: from here the request is in flight.
    let paid_tid = paid["tid"].as_str().expect("tid").to_string();
    let at_smartro = wait_until(Duration::from_secs(3), || {
        sandbox
            .state()
            .transaction(&paid_tid)
            .is_some_and(|tx| !tx.cancels.is_empty())
    })
    .await;
    assert!(at_smartro, "the cancel reached the sandbox");
    assert!(!cancel.is_finished(), "the cancel is still in flight");
    assert!(
        leases_held(&db.pool).await > 0,
        "the webhook lease is still held at SIGTERM"
    );
    gateway.terminate();
    let terminated_at = Instant::now();

    let (status, body): (u16, Value) = cancel.await.expect("cancel task");
    assert_eq!(status, 200, "the request in flight completes: {body}");
    assert_eq!(body["status"], "cancelled", "{body}");
    assert!(cancel_started.elapsed() >= Duration::from_millis(1500));
    let exit = gateway.wait_exit(Duration::from_secs(10)).await;
    let exited_after = terminated_at.elapsed();
    assert!(
        exit.is_some_and(|s| s.success()),
        "exits with status 0 within 10 s of SIGTERM: {exit:?}"
    );
    eprintln!("exited {exited_after:?} after SIGTERM");

    let stuck: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, delivery_status, leased_by FROM outbox_events
         WHERE leased_by IS NOT NULL OR leased_until IS NOT NULL OR delivery_status NOT IN ('delivered', 'pending')",
    )
    .fetch_all(&db.pool)
    .await
    .expect("outbox");
    assert!(
        stuck.is_empty(),
        "no event left leased (or failed) by the stopped process: {stuck:?}"
    );
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM outbox_events WHERE order_id = 'DUR-TERM-2' AND event_type = 'payment.paid'"
        )
        .await,
        1
    );
    let cancels = sandbox
        .state()
        .transaction(&paid_tid)
        .expect("the sandbox knows the payment")
        .cancels;
    assert_eq!(cancels.len(), 1);
    drop(gateway);
    sandbox.shutdown().await;
}

/// The terminal's `[[terminals]]` entry for a child, by environment variables only.
fn terminal_env(db_url: &str, terminal: std::net::SocketAddr) -> GatewayEnv {
    GatewayEnv {
        extra: vec![
            ("GATEWAY__TERMINALS__0__ID".into(), "counter-1".into()),
            (
                "GATEWAY__TERMINALS__0__ADDRESS".into(),
                terminal.to_string(),
            ),
            // Longer than the test: the transaction must not time out into `unknown` on its own.
            ("GATEWAY__TERMINALS__0__TIMEOUT_SECS".into(), "120".into()),
        ],
        ..GatewayEnv::new(db_url)
    }
}

async fn terminal_tx_status(pool: &PgPool, id: &str) -> String {
    sqlx::query_scalar("SELECT status FROM terminal_transactions WHERE id::text = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("terminal transaction status")
}

/// How the terminal finishes the sale while the gateway that sent it is gone.
#[derive(Debug, Clone, Copy)]
enum TerminalWhileDown {
    /// The terminal waits for the card (manual mode); the buyer inserts it only after the gateway was killed.
    CardInsertedAfterTheKill,
    /// The terminal approves at once but never answers (`no_answer`); the gateway is killed while it waits.
    ApprovedButNeverAnswered,
}

/// A terminal sale open when the gateway is killed (SIGKILL) is completed on the terminal while no gateway runs; the
/// restarted gateway asks the terminal for its last transaction (990001) and settles the sale from it: succeeded,
/// the order paid, 980001 sent once that is committed, and the transaction never `failed` on the way.
async fn kill_9_with_a_terminal_sale_open(case: TerminalWhileDown) {
    let db = fresh_database().await;
    let simulator = TerminalSimulator::start(TerminalConfig::for_tests())
        .await
        .expect("terminal simulator");
    let terminal = simulator.state().clone();
    if let TerminalWhileDown::ApprovedButNeverAnswered = case {
        terminal.update_faults(|f| f.no_answer = true);
    }
    let env = terminal_env(&db.url, simulator.addr());
    let mut first = GatewayProcess::start("terminal-first", &env).await;
    assert!(
        wait_until(Duration::from_secs(15), || terminal.connected()).await,
        "the gateway connected to the terminal:\n{}",
        first.log_text()
    );
    let http = http_client();
    let started = http
        .post(first.url("/v1/terminals/counter-1/payments"))
        .bearer_auth(common::API_KEY)
        .header("Idempotency-Key", "dur-terminal-1")
        .json(&serde_json::json!({
            "amount": 12000,
            "method": "card",
            "order_id": "DUR-T1",
            "goods_name": "durability",
        }))
        .send()
        .await
        .expect("POST /v1/terminals/counter-1/payments");
    assert_eq!(started.status(), 202, "the sale is accepted");
    let tx: Value = started.json().await.expect("transaction JSON");
    let tx_id = tx["id"].as_str().expect("transaction id").to_string();
    let ptxid = tx["ptxid"].as_str().expect("ptxid").to_string();

    // The request reached the terminal, which holds the sale open (or has approved it without a word).
    let reached = match case {
        TerminalWhileDown::CardInsertedAfterTheKill => {
            wait_until(Duration::from_secs(15), || {
                matches!(terminal.screen(), Screen::WaitingCard { .. })
            })
            .await
        }
        TerminalWhileDown::ApprovedButNeverAnswered => {
            wait_until(Duration::from_secs(15), || {
                terminal
                    .last_transaction()
                    .is_some_and(|last| last.ptxid == ptxid)
            })
            .await
        }
    };
    assert!(
        reached,
        "the terminal got the sale: {:?}",
        terminal.screen()
    );
    assert_eq!(terminal_tx_status(&db.pool, &tx_id).await, "requested");

    first.kill9();
    assert!(
        wait_until(Duration::from_secs(10), || !terminal.connected()).await,
        "the killed gateway's connection closed"
    );
    if let TerminalWhileDown::CardInsertedAfterTheKill = case {
        assert!(
            terminal.insert_card(),
            "the terminal still waits for the card"
        );
    }
    let last = terminal
        .last_transaction()
        .expect("the terminal finished the sale");
    assert_eq!(last.ptxid, ptxid);
    assert_eq!(last.reply.result_code.as_str(), "0000", "approved");
    assert!(!last.confirmed, "nobody has confirmed the result yet");
    assert_eq!(
        terminal_tx_status(&db.pool, &tx_id).await,
        "requested",
        "nothing ran while the gateway was down: the sale is still open, not failed"
    );

    // The restarted gateway settles it from 990001; every status seen on the way is open or succeeded.
    let second = GatewayProcess::start("terminal-second", &env).await;
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, body) = api(
            &http,
            Method::GET,
            second.url(&format!("/v1/terminal-transactions/{tx_id}")),
            None,
        )
        .await;
        assert_eq!(code, 200, "{body}");
        let status = body["status"].as_str().unwrap_or_default().to_string();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        assert!(
            matches!(status.as_str(), "requested" | "unknown" | "succeeded"),
            "the sale went {status} (seen {seen:?}): {body:#}\n{}",
            second.log_text()
        );
        if status == "succeeded" {
            assert_eq!(body["approved_amount"], 12000, "{body:#}");
            assert_eq!(
                body["approval_no"].as_str(),
                last.reply
                    .data
                    .as_ref()
                    .and_then(|d| d.approval_no.as_deref()),
                "{body:#}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never settled (seen {seen:?}):\n{}",
            second.log_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, order) = api(&http, Method::GET, second.url("/v1/orders/DUR-T1"), None).await;
    assert_eq!(order["status"], "paid", "{order:#}");
    assert_eq!(order["channel"], "terminal", "{order:#}");
    assert_eq!(order["paid_amount"], 12000, "{order:#}");
    assert!(
        terminal.received().contains(&Some("990001".to_string())),
        "the restarted gateway asked for the last transaction: {:?}",
        terminal.received()
    );
    assert!(
        wait_until(Duration::from_secs(10), || terminal
            .last_transaction()
            .is_some_and(|l| l.confirmed))
        .await,
        "980001 once the result was committed"
    );
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM outbox_events WHERE event_type = 'terminal.transaction.failed'"
        )
        .await,
        0,
        "no failed event was ever written"
    );
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM outbox_events WHERE event_type = 'terminal.transaction.succeeded'"
        )
        .await,
        1
    );
    assert_eq!(
        terminal.ledger().len(),
        1,
        "one approval on the terminal, no second sale"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_while_the_terminal_waits_for_the_card_settles_the_sale_from_990001() {
    kill_9_with_a_terminal_sale_open(TerminalWhileDown::CardInsertedAfterTheKill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_while_the_terminal_does_not_answer_settles_the_sale_from_990001() {
    kill_9_with_a_terminal_sale_open(TerminalWhileDown::ApprovedButNeverAnswered).await;
}

/// SIGKILL during a burst of concurrent informs (the one-transaction path: raw message, claim, order, payment and
/// event in one commit): every inform answered `OK` is in the database exactly once, its raw message with its
/// applied effect, and no order is paid twice; after the restart Smartro's re-sends settle the rest, once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_a_burst_of_concurrent_informs_keeps_each_ok_exactly_once() {
    const ORDERS: u32 = 400;
    let db = fresh_database().await;
    let env = GatewayEnv::new(&db.url);
    let mut first = GatewayProcess::start("first", &env).await;
    let http = http_client();
    let jobs: Vec<InformJob> = (0..ORDERS)
        .map(|i| InformJob {
            order_id: format!("DUR-B{i:03}"),
            tid: tid(i + 1),
            amount: 1000,
        })
        .collect();
    let ids: Vec<String> = jobs.iter().map(|j| j.order_id.clone()).collect();
    create_orders(&http, &first.url(""), &ids, 1000, 8).await;

    let stream = InformStream::start(
        &http,
        &first.url(""),
        jobs.clone(),
        32,
        Duration::ZERO,
        false,
    );
    let acknowledged = stream.acknowledged.clone();
    let reached = wait_until(Duration::from_secs(20), || {
        acknowledged.load(std::sync::atomic::Ordering::SeqCst) >= 60
    })
    .await;
    first.kill9();
    let records = stream.finish().await;
    assert!(reached, "60 informs acknowledged before the kill");
    let acked: HashSet<String> = records
        .iter()
        .filter(|r| r.ok())
        .map(|r| r.order_id.clone())
        .collect();
    assert!(
        acked.len() < jobs.len(),
        "the kill came in the middle of the burst ({} of {} acknowledged)",
        acked.len(),
        jobs.len()
    );

    // Each acknowledged inform: its very bytes stored once as applied, its result claimed once, one payment, paid.
    let bodies: HashMap<&str, Vec<u8>> = jobs
        .iter()
        .map(|j| (j.order_id.as_str(), j.body()))
        .collect();
    for order_id in &acked {
        let (raw, claimed, payments, paid): (i64, i64, i64, bool) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM notifications n
                     WHERE n.order_id = $1 AND n.outcome = 'applied' AND n.body = $2),
                    (SELECT count(*) FROM applied_results a JOIN notifications n ON n.id = a.notification_id
                     WHERE a.order_id = $1 AND n.outcome = 'applied' AND n.order_id = $1),
                    (SELECT count(*) FROM payments p WHERE p.order_id = $1 AND p.success),
                    (SELECT status = 'paid' FROM orders WHERE order_id = $1)",
        )
        .bind(order_id)
        .bind(&bodies[order_id.as_str()])
        .fetch_one(&db.pool)
        .await
        .expect("state of an acknowledged order");
        assert_eq!(
            (raw, claimed, payments, paid),
            (1, 1, 1, true),
            "acknowledged {order_id}: (raw messages applied, claims, payments, paid)"
        );
    }
    // Nothing beyond them is half there: every claim has its applied raw message and the other way round, and
    // no order has two payments or two claims.
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM notifications WHERE outcome = 'applied'"
        )
        .await,
        count(&db.pool, "SELECT count(*) FROM applied_results").await
    );
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM orders WHERE status = 'paid'"
        )
        .await,
        count(&db.pool, "SELECT count(*) FROM payments WHERE success").await
    );
    assert_one_each(
        &db.pool,
        "SELECT order_id, count(*) FROM payments GROUP BY order_id",
    )
    .await;
    assert_one_each(
        &db.pool,
        "SELECT order_id, count(*) FROM applied_results GROUP BY order_id",
    )
    .await;
    let committed = count(&db.pool, "SELECT count(*) FROM applied_results").await;
    eprintln!(
        "{} acknowledged before the kill; {committed} applied in the database (a commit may come before an answer \
         that is lost)",
        acked.len()
    );

    // Smartro re-sends whatever was not acknowledged, until it is.
    let second = GatewayProcess::start("second", &env).await;
    let resend: Vec<InformJob> = jobs
        .iter()
        .filter(|j| !acked.contains(&j.order_id))
        .cloned()
        .collect();
    let resent = InformStream::start(
        &http,
        &second.url(""),
        resend.clone(),
        16,
        Duration::ZERO,
        true,
    )
    .drain()
    .await;
    assert_eq!(
        resent.iter().filter(|r| r.ok()).count(),
        resend.len(),
        "every re-sent inform acknowledged"
    );
    let all = i64::from(ORDERS);
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM orders WHERE status = 'paid'"
        )
        .await,
        all
    );
    assert_eq!(count(&db.pool, "SELECT count(*) FROM payments").await, all);
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM applied_results").await,
        all
    );
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM notifications WHERE outcome = 'applied'"
        )
        .await,
        all
    );
    assert_one_each(
        &db.pool,
        "SELECT order_id, count(*) FROM outbox_events GROUP BY order_id, event_type",
    )
    .await;
    drop(second);
    drop(first);
}
