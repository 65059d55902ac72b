#![cfg(feature = "client")]
//! The client against tiny HTTP servers on 127.0.0.1 that write raw responses.

use std::time::{Duration, Instant};

use smartro::cancel::CancelRequest;
use smartro::client::{CallOutcome, SmartroClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const KEY: &str =
    "0/4GFsSd7ERVRGX9WHOzJ96GyeMTwvIaKSWUCKmN3fDklNRGw3CualCFoMPZaS99YiFGOuwtzTkrLo4bR4V+Ow==";
const TID: &str = "SMTPAY001m01012203101503424338";

fn cancel_request() -> CancelRequest {
    CancelRequest {
        tid: TID.into(),
        cancel_pw: "123456".into(),
        cancel_amt: 1004,
        cancel_msg: "test".into(),
        partial: false,
        merchant_mode: None,
        divide_info: None,
    }
}

/// Read one request (headers and a Content-Length body).
async fn read_request(sock: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = sock.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return buf;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let len = text[..end]
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return buf;
            }
        }
    }
}

/// Serve one connection with `status` and `body`; the request arrives on the returned channel.
async fn serve_once(
    status: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
) -> (String, oneshot::Receiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        if let Ok((mut sock, _)) = listener.accept().await {
            let req = read_request(&mut sock).await;
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = sock.write_all(head.as_bytes()).await;
            let _ = sock.write_all(&body).await;
            let _ = sock.shutdown().await;
            let _ = tx.send(req);
        }
    });
    (url, rx)
}

fn client(url: &str, timeout: Duration) -> SmartroClient {
    SmartroClient::new(url, url, timeout).unwrap()
}

#[tokio::test]
async fn cancel_answered_and_parsed() {
    let body = b"\r\nPayMethod=CARD&TID=SMTPAY001m01012203101503424338&CancelAmt=1004&ResultCode=2001&ResultMsg=%C3%EB%BC%D2+%BC%BA%B0%F8\r\n".to_vec();
    let (url, rx) = serve_once("200 OK", "text/html; charset=euc-kr", body).await;
    let outcome = client(&url, Duration::from_secs(5))
        .cancel(&cancel_request(), KEY)
        .await;
    match outcome {
        CallOutcome::Answered(resp) => {
            assert!(resp.is_success());
            assert_eq!(resp.result_msg, "취소 성공");
            assert_eq!(resp.cancel_amt, Some(1004));
        }
        other => panic!("expected Answered, got {other:?}"),
    }
    let request = String::from_utf8(rx.await.unwrap()).unwrap();
    assert!(request.starts_with("POST / HTTP/1.1"));
    assert!(request.contains("hashData=NWE1YTViMDM1ODFjOWRiZjNhYTFiMzQxZWE3NjY3Mjc%3D"));
    assert!(
        !request.contains(KEY),
        "the merchant key itself is never sent with a cancel"
    );
}

#[tokio::test]
async fn cancel_non_200_is_unparseable() {
    let (url, _rx) = serve_once(
        "500 Internal Server Error",
        "text/html",
        b"ResultCode=2001".to_vec(),
    )
    .await;
    match client(&url, Duration::from_secs(5))
        .cancel(&cancel_request(), KEY)
        .await
    {
        CallOutcome::Unparseable { status, raw, .. } => {
            assert_eq!(status, 500);
            assert_eq!(raw, b"ResultCode=2001");
        }
        other => panic!("expected Unparseable, got {other:?}"),
    }
}

#[tokio::test]
async fn cancel_garbage_200_is_unparseable() {
    let (url, _rx) = serve_once("200 OK", "text/html", b"<html>maintenance</html>".to_vec()).await;
    match client(&url, Duration::from_secs(5))
        .cancel(&cancel_request(), KEY)
        .await
    {
        CallOutcome::Unparseable { status, reason, .. } => {
            assert_eq!(status, 200);
            assert!(reason.contains("ResultCode"), "{reason}");
        }
        other => panic!("expected Unparseable, got {other:?}"),
    }
}

#[tokio::test]
async fn silent_server_is_no_answer_within_the_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        if let Ok((mut sock, _)) = listener.accept().await {
            let _ = read_request(&mut sock).await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    });
    let started = Instant::now();
    let outcome = client(&url, Duration::from_millis(400))
        .cancel(&cancel_request(), KEY)
        .await;
    let elapsed = started.elapsed();
    match outcome {
        CallOutcome::NoAnswer { reason } => assert!(reason.contains("timeout"), "{reason}"),
        other => panic!("expected NoAnswer, got {other:?}"),
    }
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
}

#[tokio::test]
async fn connection_refused_is_no_answer() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    match client(&url, Duration::from_secs(2))
        .cancel(&cancel_request(), KEY)
        .await
    {
        CallOutcome::NoAnswer { reason } => assert!(!reason.contains(KEY)),
        other => panic!("expected NoAnswer, got {other:?}"),
    }
}

#[tokio::test]
async fn invalid_cancel_is_refused_without_sending() {
    let mut req = cancel_request();
    req.cancel_amt = 0;
    // Nothing listens on port 9 of loopback in the test; an attempt to send would be NoAnswer, not Refused.
    match client("http://127.0.0.1:9/", Duration::from_secs(1))
        .cancel(&req, KEY)
        .await
    {
        CallOutcome::Refused { code, message, .. } => {
            assert_eq!(code, smartro::client::INVALID_REQUEST);
            assert!(message.starts_with("CancelAmt"));
        }
        other => panic!("expected Refused, got {other:?}"),
    }
}

#[tokio::test]
async fn receipt_sends_apikey_and_json_and_parses() {
    let body =
        r#"{"tid":"SMTPAY001m01012203101503424338","moid":"ORD1","goodsAmt":1004,"newField":"x"}"#;
    let (url, rx) = serve_once("200 OK", "application/json", body.as_bytes().to_vec()).await;
    match client(&url, Duration::from_secs(5))
        .receipt("SMTPAY001m", TID, KEY)
        .await
    {
        CallOutcome::Answered(r) => {
            assert_eq!(r.goods_amt.as_deref(), Some("1004"));
            assert!(r.extra.contains_key("newField"));
        }
        other => panic!("expected Answered, got {other:?}"),
    }
    let request = String::from_utf8(rx.await.unwrap()).unwrap();
    let lower = request.to_ascii_lowercase();
    assert!(request.contains(&format!("apikey: {KEY}")), "{request}");
    assert!(lower.contains("content-type: application/json"));
    assert!(lower.contains("accept: application/json"));
    assert!(lower.contains("accept-charset: utf-8"));
    assert!(request.ends_with(&format!(r#"{{"mid":"SMTPAY001m","tid":"{TID}"}}"#)));
}

#[tokio::test]
async fn receipt_error_status_and_error_json_are_refused() {
    let (url, _rx) = serve_once(
        "401 Unauthorized",
        "application/json",
        br#"{"resultCode":"E401","resultMsg":"bad key"}"#.to_vec(),
    )
    .await;
    match client(&url, Duration::from_secs(5))
        .receipt("SMTPAY001m", TID, KEY)
        .await
    {
        CallOutcome::Refused { code, message, .. } => {
            assert_eq!(code, "E401");
            assert_eq!(message, "bad key");
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    let (url, _rx) = serve_once(
        "200 OK",
        "application/json",
        br#"{"resultCode":"E100","resultMsg":"no such tid"}"#.to_vec(),
    )
    .await;
    match client(&url, Duration::from_secs(5))
        .receipt("SMTPAY001m", TID, KEY)
        .await
    {
        CallOutcome::Refused { code, .. } => assert_eq!(code, "E100"),
        other => panic!("expected Refused, got {other:?}"),
    }
    let (url, _rx) = serve_once("502 Bad Gateway", "text/html", b"<html>".to_vec()).await;
    match client(&url, Duration::from_secs(5))
        .receipt("SMTPAY001m", TID, KEY)
        .await
    {
        CallOutcome::Refused { code, .. } => assert_eq!(code, "502"),
        other => panic!("expected Refused, got {other:?}"),
    }
}
