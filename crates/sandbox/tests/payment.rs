//! Payment window, returnPay page, notification daemon and vbank deposit, over real HTTP.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::*;
use sandbox::{AutoDecision, Faults, SandboxConfig, TxStatus};
use smartro::form::{encode_form, Charset};
use smartro::notification::Notification;
use smartro::sign;
use smartro::types::{kst_now_edi_date, EncodingType, PayMethod, StateCd};

#[tokio::test]
async fn request_errors_answer_an_error_page() {
    let sb = start(config(Some(AutoDecision::Approve))).await;
    let url = sb.endpoints().pay_url;
    let req = request(PayMethod::Card, 1004, DEAD_URL);

    // EncryptData made with another merchant's key.
    let answer = post_form(&url, browser_form(&req, OTHER_KEY)).await;
    assert_eq!(answer.status, 400);
    assert!(answer.content_type.contains("charset=utf-8"));
    assert_eq!(window_error_code(&answer), "S004");

    // Unknown MID (correctly signed with some key).
    let mut unknown = req.clone();
    unknown.mid = "NOSUCH001m".to_string();
    let answer = post_form(&url, browser_form(&unknown, KEY)).await;
    assert_eq!(window_error_code(&answer), "S003");

    // A required field missing.
    let edi = kst_now_edi_date(Utc::now());
    let fields = match req.to_form_fields(&edi, KEY) {
        Ok(f) => f,
        Err(e) => panic!("{e}"),
    };
    let without: Vec<(&str, &str)> = fields
        .iter()
        .filter(|(n, _)| *n != "GoodsName")
        .map(|(n, v)| (*n, v.as_str()))
        .collect();
    let answer = post_form(&url, encode_form(&without, Charset::EucKr)).await;
    assert_eq!(answer.status, 400);
    assert_eq!(window_error_code(&answer), "S001");
    assert!(answer.text().contains("GoodsName"));

    // A rule of the manual broken (forbidden Moid character), signature fine.
    let bad_moid: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| {
            if *n == "Moid" {
                (*n, "ORDER#1")
            } else {
                (*n, v.as_str())
            }
        })
        .collect();
    let answer = post_form(&url, encode_form(&bad_moid, Charset::EucKr)).await;
    assert_eq!(window_error_code(&answer), "S002");

    // ediDate two days old, correctly signed.
    let old = (Utc::now() - chrono::Duration::days(2) + chrono::Duration::hours(9))
        .format("%Y%m%d%H%M%S")
        .to_string();
    let stale = match req.to_form_fields(&old, KEY) {
        Ok(f) => f,
        Err(e) => panic!("{e}"),
    };
    let pairs: Vec<(&str, &str)> = stale.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let answer = post_form(&url, encode_form(&pairs, Charset::EucKr)).await;
    assert_eq!(window_error_code(&answer), "S005");

    // Garbage never panics.
    let answer = post_form(&url, "%%%&&==&Amt=-1").await;
    assert_eq!(answer.status, 400);
    assert!(sb.transactions().is_empty());
    sb.shutdown().await;
}

#[tokio::test]
async fn window_shows_korean_from_euc_kr_form_then_decides_once() {
    let sb = start(config(None)).await;
    let req = request(PayMethod::Card, 51_000, DEAD_URL);
    let answer = post_form(&sb.endpoints().pay_url, browser_form(&req, KEY)).await;
    assert_eq!(answer.status, 200);
    let html = answer.text();
    assert!(
        html.contains("<td id=\"goods-name\">한글 상품명 테스트</td>"),
        "{html}"
    );
    assert!(html.contains("<td id=\"buyer-name\">홍길동</td>"));
    assert!(html.contains("51,000원"));
    assert!(html.contains("id=\"approve\"") && html.contains("id=\"decline\""));
    assert!(html.contains("<select name=\"card_code\""));
    assert!(html.contains("00 일시불"));

    let session = inputs(&html)
        .into_iter()
        .find(|(n, _)| n == "session")
        .map(|(_, v)| v)
        .unwrap_or_default();
    let decide_url = match form_attr(&html, "payForm", "action") {
        Some(a) => a,
        None => panic!("no window form"),
    };
    let body = encode_form(
        &[
            ("session", &session),
            ("card_code", "04"),
            ("quota", "03"),
            ("decision", "approve"),
        ],
        Charset::Utf8,
    );
    let answer = post_form(&decide_url, body.clone()).await;
    assert_eq!(answer.status, 200);
    let result = submit_result_page(&answer);
    assert!(result.verify(KEY));
    assert_eq!(result.result_code, "3001");
    assert_eq!(result.fn_cd.as_deref(), Some("04"));
    assert_eq!(result.card_quota.as_deref(), Some("03"));
    assert_eq!(result.goods_name, "한글 상품명 테스트");

    // The session is single-use.
    let again = post_form(&decide_url, body).await;
    assert_eq!(again.status, 400);
    assert_eq!(window_error_code(&again), "S007");
    assert_eq!(sb.transactions().len(), 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn auto_approve_utf8_result_parses_and_verifies() {
    let sb = start(config(Some(AutoDecision::Approve))).await;
    let req = request(PayMethod::Card, 1004, DEAD_URL);
    let answer = post_form(&sb.endpoints().pay_url, browser_form(&req, KEY)).await;
    assert_eq!(answer.status, 200);
    assert!(answer.content_type.contains("utf-8"));
    let html = answer.text();
    assert_eq!(
        form_attr(&html, "resultForm", "action").as_deref(),
        Some(req.return_url.as_str())
    );
    assert_eq!(
        form_attr(&html, "resultForm", "method").as_deref(),
        Some("post")
    );
    assert!(html.contains("document.getElementById('resultForm').submit()"));
    // The UrlEncode=Y layer is in the values themselves.
    assert!(inputs(&html)
        .iter()
        .any(|(n, v)| n == "GoodsName" && v.contains("%ED%95%9C")));

    let result = submit_result_page(&answer);
    assert!(result.verify(KEY));
    assert!(result.is_success());
    assert_eq!(result.amt, 1004);
    assert_eq!(result.oid, req.moid);
    assert_eq!(result.goods_name, "한글 상품명 테스트");
    assert_eq!(result.buyer_name, "홍길동");
    assert_eq!(result.result_msg, "카드 결제 성공");
    assert_eq!(result.tid.len(), 30);
    assert!(result.tid.starts_with("SMTPAY001m01"));
    assert_eq!(result.card_quota.as_deref(), Some("00"));
    assert_eq!(result.fn_cd.as_deref(), Some("01"));
    let txs = sb.transactions();
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].tid, result.tid);
    assert_eq!(txs[0].status, TxStatus::Approved);

    // A second payment gets another TID.
    let second = pay(&sb, &request(PayMethod::Card, 1004, DEAD_URL)).await;
    assert_ne!(second.tid, result.tid);
    sb.shutdown().await;
}

#[tokio::test]
async fn auto_approve_euc_kr_page_when_not_utf8_url_encoded() {
    let sb = start(config(Some(AutoDecision::Approve))).await;
    for (encoding, url_encode) in [
        (EncodingType::EucKr, false),
        (EncodingType::Utf8, false),
        (EncodingType::EucKr, true),
    ] {
        let mut req = request(PayMethod::Bank, 20_000, DEAD_URL);
        req.encoding_type = encoding;
        req.url_encode = url_encode;
        let answer = post_form(&sb.endpoints().pay_url, browser_form(&req, KEY)).await;
        assert_eq!(answer.status, 200);
        assert!(
            answer.content_type.contains("euc-kr"),
            "{}",
            answer.content_type
        );
        assert!(
            std::str::from_utf8(&answer.body).is_err(),
            "body must be EUC-KR bytes"
        );
        let html = answer.text();
        assert!(html.contains("<meta charset=\"euc-kr\">"));
        let result = submit_result_page(&answer);
        assert!(result.verify(KEY));
        assert_eq!(result.result_code, "4000");
        assert_eq!(result.goods_name, "한글 상품명 테스트");
        assert_eq!(result.bank_code.as_deref(), Some("004"));
        assert_eq!(result.result_msg, "실시간계좌이체 결제 성공");
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn auto_decline_gives_a_failure_code_and_no_notification() {
    let sb = start(config(Some(AutoDecision::Decline))).await;
    for (method, code) in [
        (PayMethod::Card, "3095"),
        (PayMethod::Bank, "4001"),
        (PayMethod::Vbank, "4104"),
        (PayMethod::Cellphone, "A001"),
        (PayMethod::Toss, "TS11"),
        (PayMethod::Kakao, "KP01"),
    ] {
        let result = pay(&sb, &request(method, 5000, DEAD_URL)).await;
        assert_eq!(result.result_code, code);
        assert!(result.verify(KEY));
        assert!(!result.is_success());
        assert!(!result.result_msg.is_empty());
    }
    assert!(sb
        .transactions()
        .iter()
        .all(|t| t.status == TxStatus::Declined));
    tokio::time::sleep(INTERVAL).await;
    assert!(sb.notifications().is_empty());
    sb.shutdown().await;
}

#[tokio::test]
async fn success_codes_per_method() {
    let sb = start(config(Some(AutoDecision::Approve))).await;
    for (method, code) in [
        (PayMethod::Cellphone, "A000"),
        (PayMethod::Toss, "TS10"),
        (PayMethod::Kakao, "KP00"),
    ] {
        let result = pay(&sb, &request(method, 5000, DEAD_URL)).await;
        assert_eq!(result.result_code, code);
        assert!(result.is_success() && result.verify(KEY));
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn daemon_retries_until_ok_then_stops() {
    let receiver = Receiver::start(2).await;
    let sb = start(config(Some(AutoDecision::Approve))).await;
    let result = pay(&sb, &request(PayMethod::Card, 33_000, &receiver.url)).await;
    let d = wait_deliveries(&sb, |d| d.len() == 1 && d[0].finished).await;
    assert!(d[0].acknowledged);
    assert_eq!(d[0].attempts, 3);
    assert_eq!(d[0].posts, 3);
    assert_eq!(d[0].last_status, Some(200));
    tokio::time::sleep(INTERVAL * 4).await;
    assert_eq!(receiver.count(), 3, "no delivery after OK");

    let bodies = receiver.bodies();
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "the same notification is re-sent"
    );
    let n = match Notification::parse(&bodies[0]) {
        Ok(n) => n,
        Err(e) => panic!("{e}"),
    };
    assert!(n.verify(KEY));
    assert_eq!(n.tid, result.tid);
    assert_eq!(n.state_cd, StateCd::Approval);
    assert_eq!(n.result_code, "3001");
    assert_eq!(n.amt, 33_000);
    assert_eq!(n.oid, result.oid);
    assert_eq!(n.goods_name.as_deref(), Some("한글 상품명 테스트"));
    assert_eq!(n.name.as_deref(), Some("홍길동"));
    assert_eq!(n.fn_cd.as_deref(), Some("01"));
    assert_eq!(n.fn_name.as_deref(), Some("비씨"));
    assert_eq!(n.card_quota.as_deref(), Some("00"));
    assert_eq!(n.otid, None);
    let pin = n.pin_no.unwrap_or_default();
    assert_eq!(pin.len(), 16);
    assert!(pin.starts_with("411111******"));
    // EUC-KR on the wire: Korean is not valid UTF-8 in the raw percent-decoded bytes.
    assert!(String::from_utf8_lossy(&bodies[0]).contains("GoodsName=%C7%D1%B1%DB"));
    sb.shutdown().await;
}

#[tokio::test]
async fn daemon_gives_up_after_max_attempts() {
    let receiver = Receiver::start(usize::MAX).await;
    let sb = start(SandboxConfig {
        notify_max_attempts: 3,
        ..config(Some(AutoDecision::Approve))
    })
    .await;
    pay(&sb, &request(PayMethod::Card, 1000, &receiver.url)).await;
    let d = wait_deliveries(&sb, |d| d.len() == 1 && d[0].finished).await;
    assert!(!d[0].acknowledged);
    assert_eq!(d[0].attempts, 3);
    assert_eq!(d[0].last_status, Some(500));
    tokio::time::sleep(INTERVAL * 3).await;
    assert_eq!(receiver.count(), 3);
    sb.shutdown().await;
}

#[tokio::test]
async fn drop_fault_swallows_deliveries() {
    let receiver = Receiver::start(0).await;
    let sb = start(SandboxConfig {
        notify_max_attempts: 3,
        faults: Faults {
            drop_ratio: 1.0,
            ..Faults::default()
        },
        ..config(Some(AutoDecision::Approve))
    })
    .await;
    pay(&sb, &request(PayMethod::Card, 1000, &receiver.url)).await;
    let d = wait_deliveries(&sb, |d| d.len() == 1 && d[0].finished).await;
    assert_eq!((d[0].attempts, d[0].dropped, d[0].posts), (3, 3, 0));
    assert!(!d[0].acknowledged);
    assert_eq!(receiver.count(), 0);
    sb.shutdown().await;
}

#[tokio::test]
async fn duplicate_fault_sends_twice() {
    let receiver = Receiver::start(0).await;
    let sb = start(SandboxConfig {
        faults: Faults {
            duplicate_ratio: 1.0,
            ..Faults::default()
        },
        ..config(Some(AutoDecision::Approve))
    })
    .await;
    pay(&sb, &request(PayMethod::Card, 1000, &receiver.url)).await;
    let d = wait_deliveries(&sb, |d| d.len() == 1 && d[0].finished).await;
    assert!(d[0].acknowledged);
    assert_eq!((d[0].attempts, d[0].posts), (1, 2));
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0], bodies[1]);
    sb.shutdown().await;
}

#[tokio::test]
async fn vbank_issue_then_deposit_notifies_4110() {
    let receiver = Receiver::start(0).await;
    let sb = start(config(Some(AutoDecision::Approve))).await;
    let req = request(PayMethod::Vbank, 70_000, &receiver.url);
    let result = pay(&sb, &req).await;
    assert_eq!(result.result_code, "4100");
    assert!(result.verify(KEY));
    assert_eq!(result.vbank_num.as_deref().map(str::len), Some(14));
    assert_eq!(result.vbank_name.as_deref(), Some("국민은행"));
    assert_eq!(result.vbank_exp_date, req.vbank_exp_date);

    let d = wait_deliveries(&sb, |d| d.len() == 1 && d[0].acknowledged).await;
    assert_eq!(d[0].notification.state_cd, StateCd::VbankIssued);
    assert_eq!(d[0].notification.result_code, "4100");
    assert_eq!(d[0].notification.vbank_num, result.vbank_num);

    let deposit_url = sb.endpoints().vbank_deposit_url.unwrap_or_default();
    let answer = post_form(&deposit_url, format!("TID={}", result.tid)).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let d = wait_deliveries(&sb, |d| d.len() == 2 && d[1].acknowledged).await;
    let n = match Notification::parse(&receiver.bodies()[1]) {
        Ok(n) => n,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(n, d[1].notification);
    assert_eq!(n.result_code, "4110");
    assert_eq!(n.result_msg, "가상계좌입금성공");
    assert_eq!(n.state_cd, StateCd::Approval);
    assert_eq!(n.tid, result.tid);
    assert_eq!(n.amt, 70_000);
    assert!(n.verify(KEY));
    assert!(sign::verify_sign_value(&n.tid, "4110", KEY, &n.sign_value));
    assert_eq!(sb.transactions()[0].status, TxStatus::VbankDeposited);

    // Twice, unknown, not a vbank, empty.
    assert_eq!(
        post_form(&deposit_url, format!("TID={}", result.tid))
            .await
            .status,
        409
    );
    assert_eq!(
        post_form(&deposit_url, "TID=SMTPAY001m03012401010000009999")
            .await
            .status,
        404
    );
    let card = pay(&sb, &request(PayMethod::Card, 1000, DEAD_URL)).await;
    assert_eq!(
        post_form(&deposit_url, format!("TID={}", card.tid))
            .await
            .status,
        400
    );
    assert_eq!(post_form(&deposit_url, "").await.status, 400);
    sb.shutdown().await;
}

#[tokio::test]
async fn shutdown_is_prompt_with_pending_deliveries() {
    let sb = start(SandboxConfig {
        notify_interval: Duration::from_secs(60),
        ..config(Some(AutoDecision::Approve))
    })
    .await;
    pay(&sb, &request(PayMethod::Card, 1000, DEAD_URL)).await;
    let started = std::time::Instant::now();
    sb.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(2));
}
