//! The review's terminal findings F1, F2, F3 and F6, over real TCP (the sandbox's simulator, or a scripted
//! terminal), asserting the fixed behaviour:
//! - F1: a transaction whose answer was lost is not failed while the terminal may still read its card;
//! - F2: a `0001` busy answer to 990001 settles nothing;
//! - F3: an `unknown` transaction is settled by its final answer on the live connection, and asked about again;
//! - F6: an approval without its numbers puts the order in review instead of paying it.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::terminal::{
    self, gateway_with_terminal, transaction, wait_status, wait_terminals, TERMINAL,
};
use common::TestApp;
use sandbox::terminal::{Screen, TerminalFaults, TerminalSimulator};
use serde_json::{json, Value};
use smartro_terminal::{FrameDecoder, Reply, Request, Response, ResultCode, TransactionData};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn gateway(address: &str, timeout_secs: &str) -> TestApp {
    gateway_with_terminal(address, &[("TIMEOUT_SECS", timeout_secs)]).await
}

async fn start_sale(app: &TestApp, key: &str, amount: i64) -> Value {
    let res = app
        .post_keyed(
            &format!("/v1/terminals/{TERMINAL}/payments"),
            key,
            &json!({ "amount": amount, "method": "card" }),
        )
        .await;
    assert_eq!(res.status(), 202);
    res.json().await.unwrap()
}

async fn wait_for(ok: impl FnMut() -> bool) {
    terminal::wait_for("the condition", 5, ok).await
}

async fn reading_simulator() -> TerminalSimulator {
    terminal::simulator(None, TerminalFaults::default()).await
}

/// F1: the connection is replaced while the terminal waits for the card. On reconnection 990001 says "none";
/// the gateway cancels the reading before it believes that, so the sale ends failed with no card read, and the
/// buyer can no longer pay a sale the gateway holds as failed.
#[tokio::test]
async fn f1_a_sale_still_reading_after_a_blip_is_cancelled_before_it_is_failed() {
    let sim = reading_simulator().await;
    let app = gateway(&sim.addr().to_string(), "35").await;
    let tx = start_sale(&app, "f1", 12_000).await;
    let id = tx["id"].as_str().unwrap().to_string();
    let ptxid = tx["ptxid"].as_str().unwrap().to_string();
    wait_for(|| matches!(sim.state().screen(), Screen::WaitingCard { .. })).await;

    // A second POS connection replaces the gateway's (as a LAN blip would close it).
    let intruder = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(intruder);

    let (tx, _) = wait_status(&app, &id, "failed", 15).await;
    assert!(
        tx["result_message"]
            .as_str()
            .unwrap_or_default()
            .contains("cancelled the reading"),
        "{tx}"
    );
    // The terminal is no longer reading: the card cannot be approved behind the gateway's back.
    assert!(!sim.state().insert_card(), "terminal still reading");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!sim
        .state()
        .ledger()
        .iter()
        .any(|e| e.ptxid == ptxid && !e.is_cancel));
    let order = app.order(tx["order_id"].as_str().unwrap()).await;
    assert_ne!(order["status"], "paid");
    wait_terminals(&app, "the terminal is free", |v| {
        v["data"][0]["busy"] == false
    })
    .await;
}

/// F1: at `timeout_secs` (35 s, the least allowed) the gateway sends the reading cancel before it gives up: the terminal's own final
/// answer (9999 사용자 취소) ends the sale failed and the terminal stops reading.
#[tokio::test]
async fn f1_the_in_flight_deadline_cancels_the_reading_before_dropping() {
    let sim = reading_simulator().await;
    let app = gateway(&sim.addr().to_string(), "35").await;
    let tx = start_sale(&app, "f1-deadline", 9_000).await;
    let id = tx["id"].as_str().unwrap().to_string();
    let (tx, seen) = wait_status(&app, &id, "failed", 45).await;
    assert!(!seen.contains(&"unknown".to_string()), "{seen:?}");
    assert_eq!(tx["result_code"], "9999", "{tx}");
    assert!(!sim.state().insert_card(), "terminal still reading");
    assert!(sim.state().ledger().is_empty());
}

/// A scripted terminal: `script(connection_no, request)` returns raw frames to write (an empty one pauses
/// 300 ms); `None` closes the connection.
async fn scripted<F>(script: F) -> String
where
    F: Fn(usize, &Request) -> Option<Vec<Vec<u8>>> + Send + Sync + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let script = Arc::new(script);
    tokio::spawn(async move {
        let mut conn_no = 0usize;
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            conn_no += 1;
            let script = script.clone();
            let n_conn = conn_no;
            tokio::spawn(async move {
                let mut decoder = FrameDecoder::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    decoder.push(&buf[..n]);
                    while let Ok(Some(frame)) = decoder.next_frame() {
                        let Ok(request) = Request::from_frame(&frame) else {
                            return;
                        };
                        let Some(frames) = script(n_conn, &request) else {
                            return;
                        };
                        for f in frames {
                            if f.is_empty() {
                                tokio::time::sleep(Duration::from_millis(300)).await;
                                continue;
                            }
                            if socket.write_all(&f).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    address
}

fn raw(message_type: &str, body: &str) -> Vec<u8> {
    let mut out = format!("{:04}{message_type}", 6 + body.len()).into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

fn approval_data(ptxid: &str, amount: i64) -> TransactionData {
    let mut data = TransactionData::ptxid_only(ptxid);
    data.approval_no = Some("30001234".into());
    data.transaction_no = Some("000001".into());
    data.transaction_date = Some("20261202120000".into());
    data.approval_amt = Some(amount);
    data
}

fn approved(ptxid: &str, amount: i64) -> Vec<u8> {
    Response::CardApproval(Reply::new(
        ResultCode::Success,
        "정상승인",
        Some(approval_data(ptxid, amount)),
    ))
    .encode()
    .unwrap()
}

fn last_approved(ptxid: &str, amount: i64) -> Vec<u8> {
    Response::LastTransaction(Reply::new(
        ResultCode::Success,
        "정상승인",
        Some(approval_data(ptxid, amount)),
    ))
    .encode()
    .unwrap()
}

/// F1: 990001 names no transaction, but the terminal refuses the reading cancel as busy (it is past the card,
/// at the signature step): the sale stays `unknown`, is asked about again, and the terminal's record of its
/// approval then settles it `succeeded`.
#[tokio::test]
async fn f1_a_terminal_busy_with_the_sale_keeps_it_unknown_until_its_record_settles_it() {
    let ptxid = Arc::new(Mutex::new(String::new()));
    let lookups = Arc::new(AtomicUsize::new(0));
    let (p, n) = (ptxid.clone(), lookups.clone());
    let address = scripted(move |_conn, request| match request {
        Request::CardApproval(r) => {
            *p.lock().unwrap() = r.ptxid.clone();
            None
        }
        Request::LastTransaction => {
            if n.fetch_add(1, Ordering::SeqCst) == 0 {
                Some(vec![raw(
                    "990001",
                    r#"{"resultCode":"9991","resultMessage":"직전거래 없음"}"#,
                )])
            } else {
                Some(vec![last_approved(&p.lock().unwrap(), 4_000)])
            }
        }
        Request::ReadCancel(_) => Some(vec![raw(
            "910021",
            r#"{"resultCode":"0001","resultMessage":"처리중"}"#,
        )]),
        _ => Some(vec![]),
    })
    .await;
    let app = gateway(&address, "35").await;
    let tx = start_sale(&app, "f1-busy", 4_000).await;
    let id = tx["id"].as_str().unwrap();
    let (tx, seen) = wait_status(&app, id, "succeeded", 15).await;
    assert_eq!(seen.first().map(String::as_str), Some("requested"));
    assert!(!seen.contains(&"failed".to_string()), "{seen:?}");
    assert!(lookups.load(Ordering::SeqCst) >= 2);
    let order = app.order(tx["order_id"].as_str().unwrap()).await;
    assert_eq!(order["status"], "paid");
}

/// F1: a `9991` to the reading cancel that names the sale's own ptxid says the terminal is still working on
/// it past the card: 990001's "none" is not believed and the sale stays `unknown`.
#[tokio::test]
async fn f1_a_reading_cancel_refusal_naming_the_sale_does_not_fail_it() {
    let ptxid = Arc::new(Mutex::new(String::new()));
    let p = ptxid.clone();
    let address = scripted(move |_conn, request| match request {
        Request::CardApproval(r) => {
            *p.lock().unwrap() = r.ptxid.clone();
            None
        }
        Request::LastTransaction => Some(vec![raw(
            "990001",
            r#"{"resultCode":"9991","resultMessage":"직전거래 없음"}"#,
        )]),
        Request::ReadCancel(_) => {
            let body = format!(
                r#"{{"resultCode":"9991","resultMessage":"진행불가","data":{{"ptxid":"{}"}}}}"#,
                p.lock().unwrap()
            );
            Some(vec![raw("910021", &body)])
        }
        _ => Some(vec![]),
    })
    .await;
    let app = gateway(&address, "35").await;
    let tx = start_sale(&app, "f1-sign", 4_000).await;
    let id = tx["id"].as_str().unwrap();
    wait_status(&app, id, "unknown", 10).await;
    // Several look-ups later it is still unknown, never failed.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(transaction(&app, id).await["status"], "unknown");
}

/// F1: the terminal is idle (the reading cancel answers `9991` naming nothing) and has no last transaction:
/// only then is the lost request failed as never having become a transaction.
#[tokio::test]
async fn f1_an_idle_terminal_without_the_sale_fails_it() {
    let address = scripted(move |_conn, request| match request {
        Request::CardApproval(_) => None,
        Request::LastTransaction => Some(vec![raw(
            "990001",
            r#"{"resultCode":"9991","resultMessage":"직전거래 없음"}"#,
        )]),
        Request::ReadCancel(_) => Some(vec![raw(
            "910021",
            r#"{"resultCode":"9991","resultMessage":"진행불가"}"#,
        )]),
        _ => Some(vec![]),
    })
    .await;
    let app = gateway(&address, "35").await;
    let tx = start_sale(&app, "f1-idle", 4_000).await;
    let id = tx["id"].as_str().unwrap();
    let (tx, _) = wait_status(&app, id, "failed", 10).await;
    assert!(
        tx["result_message"]
            .as_str()
            .unwrap_or_default()
            .contains("never became a transaction"),
        "{tx}"
    );
}

/// F2: 990001 answered `0001 처리중` (busy, no data): the sale stays `unknown` (asked again), never failed.
#[tokio::test]
async fn f2_a_busy_answer_to_990001_settles_nothing() {
    let lookups = Arc::new(AtomicUsize::new(0));
    let n = lookups.clone();
    let address = scripted(move |_conn, request| match request {
        // The terminal starts reading; the connection dies.
        Request::CardApproval(_) => None,
        Request::LastTransaction => {
            n.fetch_add(1, Ordering::SeqCst);
            Some(vec![raw(
                "990001",
                r#"{"resultCode":"0001","resultMessage":"처리중"}"#,
            )])
        }
        _ => Some(vec![]),
    })
    .await;
    let app = gateway(&address, "35").await;
    let tx = start_sale(&app, "f2", 5_000).await;
    let id = tx["id"].as_str().unwrap();
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline {
        let tx = transaction(&app, id).await;
        assert_ne!(tx["status"], "failed", "{tx}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(transaction(&app, id).await["status"], "unknown");
    // Asked again on a timer, not only on reconnection.
    assert!(lookups.load(Ordering::SeqCst) >= 2);
}

/// F3: 990001 reports the sale still awaiting the signature (0010); its final approval then comes on the same
/// connection and settles it, and the terminal takes the next sale.
#[tokio::test]
async fn f3_the_final_answer_after_an_interim_990001_settles_the_unknown_sale() {
    let ptxid = Arc::new(Mutex::new(String::new()));
    let p = ptxid.clone();
    let address = scripted(move |_conn, request| match request {
        Request::CardApproval(r) if r.price_amt == 6_000 => {
            *p.lock().unwrap() = r.ptxid.clone();
            // The interim 0010, then a byte that breaks the framing: the connection drops.
            let interim = Response::CardApproval(Reply::new(
                ResultCode::SignatureWait,
                "서명대기",
                Some(TransactionData::ptxid_only(&r.ptxid)),
            ))
            .encode()
            .unwrap();
            Some(vec![interim, vec![], b"X".to_vec()])
        }
        Request::CardApproval(r) => Some(vec![approved(&r.ptxid, r.price_amt)]),
        Request::LastTransaction => {
            let p = p.lock().unwrap().clone();
            let interim = Response::LastTransaction(Reply::new(
                ResultCode::SignatureWait,
                "서명대기",
                Some(TransactionData::ptxid_only(&p)),
            ))
            .encode()
            .unwrap();
            // The buyer signs a moment later: the final answer comes on this connection.
            Some(vec![interim, vec![], approved(&p, 6_000)])
        }
        _ => Some(vec![]),
    })
    .await;
    let app = gateway(&address, "35").await;
    let tx = start_sale(&app, "f3", 6_000).await;
    let id = tx["id"].as_str().unwrap();
    let (tx, seen) = wait_status(&app, id, "succeeded", 10).await;
    assert!(seen.contains(&"unknown".to_string()), "{seen:?}");
    let order = app.order(tx["order_id"].as_str().unwrap()).await;
    assert_eq!(order["status"], "paid");
    wait_terminals(&app, "the terminal is free", |v| {
        v["data"][0]["busy"] == false
    })
    .await;
    let next = start_sale(&app, "f3-b", 1_000).await;
    wait_status(&app, next["id"].as_str().unwrap(), "succeeded", 10).await;
}

/// F6: an approval (0000) that names no approvalNo does not pay the order: it is reviewed, and the transaction
/// says what was missing.
#[tokio::test]
async fn f6_an_approval_without_its_numbers_puts_the_order_in_review() {
    let address = scripted(|_conn, request| match request {
        Request::CardApproval(r) => {
            let mut data = TransactionData::ptxid_only(&r.ptxid);
            data.transaction_no = Some("000001".into());
            data.transaction_date = Some("20261202120000".into());
            data.approval_amt = Some(r.price_amt);
            Some(vec![Response::CardApproval(Reply::new(
                ResultCode::Success,
                "정상승인",
                Some(data),
            ))
            .encode()
            .unwrap()])
        }
        _ => Some(vec![]),
    })
    .await;
    let app = gateway(&address, "35").await;
    let tx = start_sale(&app, "f6", 3_000).await;
    let (tx, _) = wait_status(&app, tx["id"].as_str().unwrap(), "succeeded", 10).await;
    assert!(
        tx["result_message"]
            .as_str()
            .unwrap_or_default()
            .contains("approvalNo"),
        "{tx}"
    );
    let order = app.order(tx["order_id"].as_str().unwrap()).await;
    assert_eq!(order["status"], "needs_review", "{order}");
}

/// F1: the sale finishes (the buyer signs) between the first 990001 ("none") and the reading cancel (`9991`,
/// idle): the idle terminal is asked 990001 again, and its record of the approval settles the sale.
#[tokio::test]
async fn f1_an_idle_terminal_is_asked_again_before_a_sale_is_failed() {
    let ptxid = Arc::new(Mutex::new(String::new()));
    let lookups = Arc::new(AtomicUsize::new(0));
    let (p, n) = (ptxid.clone(), lookups.clone());
    let address = scripted(move |_conn, request| match request {
        Request::CardApproval(r) => {
            *p.lock().unwrap() = r.ptxid.clone();
            None
        }
        Request::LastTransaction => {
            if n.fetch_add(1, Ordering::SeqCst) == 0 {
                Some(vec![raw(
                    "990001",
                    r#"{"resultCode":"9991","resultMessage":"직전거래 없음"}"#,
                )])
            } else {
                Some(vec![last_approved(&p.lock().unwrap(), 8_000)])
            }
        }
        Request::ReadCancel(_) => Some(vec![raw(
            "910021",
            r#"{"resultCode":"9991","resultMessage":"진행불가"}"#,
        )]),
        _ => Some(vec![]),
    })
    .await;
    let app = gateway(&address, "35").await;
    let tx = start_sale(&app, "f1-race", 8_000).await;
    let (tx, seen) = wait_status(&app, tx["id"].as_str().unwrap(), "succeeded", 10).await;
    assert!(!seen.contains(&"failed".to_string()), "{seen:?}");
    let order = app.order(tx["order_id"].as_str().unwrap()).await;
    assert_eq!(order["status"], "paid");
}
