//! What merchants can ask of the payment window beyond a plain payment, over real HTTP: escrow, sub-mall split
//! settlement, a fixed card company and instalment, CLGIFT with the configured success code, and the cash
//! receipts of Kakao and Toss payments (fields, the 7001 notification, the receipt API and page).

mod common;

use common::*;
use sandbox::{AutoDecision, SandboxConfig, SubMallShare, TxStatus};
use smartro::client::CallOutcome;
use smartro::divide::{DivideEntry, DivideInfo};
use smartro::request::Escrow;
use smartro::types::{CashReceiptType, PayMethod, StateCd};

fn escrow() -> Escrow {
    Escrow {
        delivery_code: Some("05".into()),
        delivery_number: Some("6012345678901".into()),
        delivery_addr1: Some("서울특별시 중구 세종대로 110".into()),
        delivery_addr2: Some("3층".into()),
        delivery_post: Some("04524".into()),
        receiver_name: Some("김철수".into()),
        receiver_tel: Some("010-9876-5432".into()),
        seller_addr1: Some("서울특별시 종로구 1".into()),
        seller_addr2: None,
        seller_post: Some("03000".into()),
        seller_tel: Some("02-123-4567".into()),
        seller_id: Some("seller01".into()),
        seller_name: Some("샌드박스상회".into()),
    }
}

#[tokio::test]
async fn escrow_payment_is_shown_kept_and_cancellable() {
    let receiver = Receiver::start(0).await;
    let sb = start(config(None)).await;
    let key = key_of(ESCROW_MID);
    let mut req = request(PayMethod::Card, 25_000, &receiver.url);
    req.mid = ESCROW_MID.to_string();
    req.escrow = Some(escrow());

    let html = open_window(&sb, &req, key).await;
    for cell in [
        "<td id=\"escrow-cd\">에스크로 (결제대금예치)</td>",
        "<td id=\"escrow-DeliveryCode\">우체국택배 (05)</td>",
        "<td id=\"escrow-DeliveryNumber\">6012345678901</td>",
        "<td id=\"escrow-DeliveryAddr1\">서울특별시 중구 세종대로 110</td>",
        "<td id=\"escrow-ReceiverName\">김철수</td>",
        "<td id=\"escrow-SellerName\">샌드박스상회</td>",
        "<td id=\"escrow-SellerId\">seller01</td>",
    ] {
        assert!(html.contains(cell), "{cell} not in {html}");
    }
    assert!(
        !html.contains("escrow-SellerAddr2"),
        "absent fields are not shown"
    );

    let answer = decide(
        &html,
        &[
            ("card_code", "04"),
            ("quota", "00"),
            ("decision", "approve"),
        ],
    )
    .await;
    let result = submit_result_page(&answer);
    assert!(result.verify(key));
    assert_eq!(result.result_code, "3001");
    let Some(tx) = sb.state().transaction(&result.tid) else {
        panic!("no transaction {}", result.tid)
    };
    assert_eq!(tx.escrow, req.escrow);
    assert_eq!(tx.mid, ESCROW_MID);

    // Notified, reported and cancelled as any other payment.
    let d = wait_deliveries(&sb, |d| d.len() == 1 && d[0].acknowledged).await;
    assert!(d[0].notification.verify(key));
    let record = match receipt(&sb, ESCROW_MID, &result.tid, key).await {
        CallOutcome::Answered(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(record.goods_amt.as_deref(), Some("25000"));
    assert_eq!(record.moid.as_deref(), Some(req.moid.as_str()));
    let r = cancel_with(&sb, &cancel_request(&result.tid, 25_000, false), key).await;
    assert_eq!(r.result_code, "2001");
    sb.shutdown().await;
}

#[tokio::test]
async fn escrow_from_a_merchant_without_escrow_is_refused() {
    let sb = start(config(Some(AutoDecision::Approve))).await;
    let mut req = request(PayMethod::Bank, 25_000, DEAD_URL);
    req.escrow = Some(escrow());
    let answer = post_form(&sb.endpoints().pay_url, browser_form(&req, KEY)).await;
    assert_eq!(answer.status, 400);
    assert_eq!(window_error_code(&answer), "S009");
    assert!(answer
        .text()
        .contains("에스크로 거래가 허용되지 않은 상점입니다"));
    assert!(sb.transactions().is_empty());

    // The set-up is the config's: the same request is fine once SMTPAY001m is an escrow merchant.
    let sb2 = start(SandboxConfig {
        escrow_mids: vec![MID.to_string()],
        ..config(Some(AutoDecision::Approve))
    })
    .await;
    let result = pay(&sb2, &req).await;
    assert_eq!(result.result_code, "4000");
    sb.shutdown().await;
    sb2.shutdown().await;
}

#[tokio::test]
async fn split_payment_is_shown_kept_and_echoed() {
    let sb = start(config(None)).await;
    let key = key_of(SUB_MALL_PARENT);
    let req = split_request(
        PayMethod::Card,
        &[
            ("SMTSUB002m", "상품1", 6_000),
            ("SMTSUB003m", "상품2", 4_000),
        ],
        DEAD_URL,
    );
    let html = open_window(&sb, &req, key).await;
    assert!(html.contains("<table id=\"split\">"), "{html}");
    assert!(html
        .contains("<tr class=\"sub-mall\"><td>SMTSUB002m</td><td>상품1</td><td>6,000원</td></tr>"));
    assert!(html
        .contains("<tr class=\"sub-mall\"><td>SMTSUB003m</td><td>상품2</td><td>4,000원</td></tr>"));
    let answer = decide(
        &html,
        &[
            ("card_code", "01"),
            ("quota", "00"),
            ("decision", "approve"),
        ],
    )
    .await;
    let result = submit_result_page(&answer);
    assert!(result.verify(key));
    assert_eq!(result.amt, 10_000);
    // Manual §3.2: DivideInfo comes back as it was sent.
    let echoed = result.divide_info.as_deref().map(DivideInfo::decode);
    assert_eq!(echoed, req.divide_info.clone().map(Ok));

    let Some(tx) = sb.state().transaction(&result.tid) else {
        panic!("no transaction")
    };
    assert_eq!(tx.divide_info, req.divide_info);
    assert_eq!(
        tx.split,
        [
            SubMallShare {
                mid: "SMTSUB002m".into(),
                amt: 6_000,
                cancelled_amt: 0
            },
            SubMallShare {
                mid: "SMTSUB003m".into(),
                amt: 4_000,
                cancelled_amt: 0
            },
        ]
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn bad_splits_are_refused() {
    let sb = start(config(Some(AutoDecision::Approve))).await;
    let url = sb.endpoints().pay_url;
    let key = key_of(SUB_MALL_PARENT);

    // A sub-mall that is not registered under the parent.
    let stray = split_request(
        PayMethod::Card,
        &[("SMTSUB002m", "상품1", 500), ("SMTSUB009m", "상품2", 504)],
        DEAD_URL,
    );
    let answer = post_form(&url, browser_form(&stray, key)).await;
    assert_eq!(window_error_code(&answer), "S010");
    assert!(answer
        .text()
        .contains("SMTSUB009m is not a registered sub-mall of SMTSUB001m"));

    // A merchant with no sub-malls at all.
    let mut orphan = split_request(PayMethod::Card, &[("SMTSUB002m", "상품1", 1_004)], DEAD_URL);
    orphan.mid = MID.to_string();
    let answer = post_form(&url, browser_form(&orphan, KEY)).await;
    assert_eq!(window_error_code(&answer), "S010");

    // Amounts that do not add up to Amt: the protocol's rule, answered as a request error naming DivideInfo.
    let good = split_request(PayMethod::Card, &[("SMTSUB002m", "상품1", 1_004)], DEAD_URL);
    let short = DivideInfo {
        entries: vec![DivideEntry {
            amt: 1_000,
            mid: "SMTSUB002m".into(),
            goods_name: Some("상품1".into()),
        }],
    };
    let answer = post_form(&url, form_with(&good, key, "DivideInfo", &short.encode())).await;
    assert_eq!(window_error_code(&answer), "S002");
    assert!(answer
        .text()
        .contains("DivideInfo: amounts sum to 1000, not 1004"));

    // DivideInfo without Productinfo=padj.
    let answer = post_form(&url, form_with(&good, key, "Productinfo", "")).await;
    assert_eq!(window_error_code(&answer), "S002");
    assert!(answer.text().contains("Productinfo"));

    assert!(sb.transactions().is_empty());
    // The good one goes through.
    assert_eq!(pay_with(&sb, &good, key).await.result_code, "3001");
    sb.shutdown().await;
}

#[tokio::test]
async fn fn_cd_and_card_quota_fix_the_card_company_and_instalment() {
    let sb = start(config(None)).await;
    let mut req = request(PayMethod::Card, 120_000, DEAD_URL);
    req.fn_cd = Some("04".into());
    req.card_quota = Some("03".into());
    let html = open_window(&sb, &req, KEY).await;
    assert!(
        html.contains("<strong id=\"card-fixed\">삼성 (04)</strong>"),
        "{html}"
    );
    assert!(html.contains("<strong id=\"quota-fixed\">3개월</strong>"));
    assert!(
        !html.contains("<select name=\"card_code\""),
        "no other card offered"
    );
    // Whatever else is posted, the merchant's choice stands.
    let answer = decide(
        &html,
        &[
            ("card_code", "01"),
            ("quota", "00"),
            ("decision", "approve"),
        ],
    )
    .await;
    let result = submit_result_page(&answer);
    assert_eq!(
        (result.fn_cd.as_deref(), result.card_quota.as_deref()),
        (Some("04"), Some("03"))
    );
    assert_eq!(result.fn_name.as_deref(), Some("삼성"));
    sb.shutdown().await;

    let sb = start(config(Some(AutoDecision::Approve))).await;
    let result = pay(&sb, &req).await;
    assert_eq!(
        (result.fn_cd.as_deref(), result.card_quota.as_deref()),
        (Some("04"), Some("03"))
    );
    // An instalment the window does not offer, and a card company the code table does not have.
    let mut one_month = req.clone();
    one_month.card_quota = Some("01".into());
    let answer = post_form(&sb.endpoints().pay_url, browser_form(&one_month, KEY)).await;
    assert_eq!(window_error_code(&answer), "S002");
    let answer = post_form(&sb.endpoints().pay_url, form_with(&req, KEY, "fn_cd", "05")).await;
    assert_eq!(window_error_code(&answer), "S002");
    assert!(answer.text().contains("fn_cd"));
    assert_eq!(sb.transactions().len(), 1);
    sb.shutdown().await;
}

#[tokio::test]
async fn clgift_approves_with_the_configured_code() {
    let receiver = Receiver::start(0).await;
    let sb = start(SandboxConfig {
        clgift_success_code: "CG00".into(),
        ..config(Some(AutoDecision::Approve))
    })
    .await;
    let result = pay(&sb, &request(PayMethod::Clgift, 10_000, &receiver.url)).await;
    assert_eq!(result.result_code, "CG00");
    assert_eq!(result.result_msg, "문화상품권 결제 성공");
    assert!(result.verify(KEY));
    // The protocol crate knows no CLGIFT success code: a merchant must decide for itself.
    assert!(!result.is_success());
    let Some(tx) = sb.state().transaction(&result.tid) else {
        panic!("no transaction")
    };
    assert_eq!(tx.status, TxStatus::Approved);
    assert_eq!(&tx.tid[10..12], "06");
    wait_deliveries(&sb, |d| d.len() == 1 && d[0].acknowledged).await;
    let n = parse_notification(&receiver.bodies()[0]);
    assert_eq!(
        (n.result_code.as_str(), n.state_cd.clone()),
        ("CG00", StateCd::Approval)
    );
    assert_eq!(n.result_msg, "문화상품권 결제 성공");
    assert!(n.verify(KEY));
    // Culture gift cards are cancelled whole only.
    assert_eq!(
        cancel(&sb, &result.tid, 1_000, true).await.result_code,
        "2029"
    );
    assert_eq!(
        cancel(&sb, &result.tid, 10_000, false).await.result_code,
        "2001"
    );
    sb.shutdown().await;

    // The default code, and a decline keeps its failure code.
    let sb = start(config(Some(AutoDecision::Approve))).await;
    let result = pay(&sb, &request(PayMethod::Clgift, 5_000, DEAD_URL)).await;
    assert_eq!(result.result_code, "0000");
    sb.shutdown().await;
    let sb = start(config(Some(AutoDecision::Decline))).await;
    let result = pay(&sb, &request(PayMethod::Clgift, 5_000, DEAD_URL)).await;
    assert_eq!(result.result_code, "3002");
    assert_eq!(result.result_msg, "VAN 실패 응답");
    sb.shutdown().await;
}

#[tokio::test]
async fn kakao_with_receipt_type_y_issues_a_cash_receipt_and_notifies_7001() {
    let receiver = Receiver::start(0).await;
    let sb = start(config(Some(AutoDecision::Approve))).await;
    let mut req = request(PayMethod::Kakao, 15_000, &receiver.url);
    req.receipt_type = Some(true);
    let result = pay(&sb, &req).await;
    assert_eq!(result.result_code, "KP00");
    // The returnPay has no cash-receipt fields (manual §3.2).
    assert!(!result.extra.contains_key("ReceiptType") && !result.extra.contains_key("RcptAppNo"));

    let d = wait_deliveries(&sb, |d| d.len() == 2 && d.iter().all(|x| x.acknowledged)).await;
    let notified: Vec<_> = receiver
        .bodies()
        .iter()
        .map(|b| parse_notification(b))
        .collect();
    let Some(approval) = notified.iter().find(|n| n.result_code == "KP00") else {
        panic!("no approval notification: {notified:?}")
    };
    let Some(issued) = notified.iter().find(|n| n.result_code == "7001") else {
        panic!("no cash-receipt notification: {notified:?}")
    };
    let app_no = approval.rcpt_app_no.clone().unwrap_or_default();
    assert_eq!(app_no.len(), 9);
    assert!(app_no.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(approval.receipt_type.as_deref(), Some("1"));
    assert_eq!(approval.rcpt_cc_no, None);

    assert_eq!(issued.tid, result.tid);
    assert_eq!(issued.state_cd, StateCd::Approval);
    assert_eq!(issued.result_msg, "현금영수증 처리성공");
    assert_eq!(issued.amt, 15_000);
    assert_eq!(issued.oid, req.moid);
    assert_eq!(issued.receipt_type.as_deref(), Some("1"));
    assert_eq!(issued.rcpt_app_no.as_deref(), Some(app_no.as_str()));
    assert!(issued.verify(KEY));
    assert_ne!(issued.dedupe_key(), approval.dedupe_key());
    assert!(d.iter().all(|x| x.url == receiver.url));

    // Kept on the transaction, and in the receipt API (the number masked).
    let Some(tx) = sb.state().transaction(&result.tid) else {
        panic!("no transaction")
    };
    let Some(cash) = tx.cash_receipt.clone() else {
        panic!("no cash receipt on {tx:?}")
    };
    assert_eq!(
        (cash.kind, cash.id_no.as_str()),
        (CashReceiptType::IncomeDeduction, "01012345678")
    );
    assert_eq!(cash.app_no, app_no);
    let record = receipt_record(&sb, &result.tid).await;
    assert_eq!(record.cash_receipt_req_cl.as_deref(), Some("1"));
    assert_eq!(record.cash_receipt_tid.as_deref(), Some(cash.tid.as_str()));
    assert_eq!(cash.tid.len(), 30);
    assert_ne!(cash.tid, result.tid);
    assert_eq!(record.cash_receipt_type.as_deref(), Some("1"));
    assert_eq!(record.cash_receipt_no.as_deref(), Some("010****5678"));

    // The receipt page type=2 shows it; a card payment has none.
    let base = sb.endpoints().receipt_page_url;
    let url = smartro::receipt::receipt_page_url(&base, &result.tid, true);
    let page = match reqwest::get(&url).await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(e) => panic!("{e}"),
    };
    assert_eq!(page.0, 200, "{}", page.1);
    for cell in [
        format!("<td id=\"cash-receipt-app-no\">{app_no}</td>"),
        "<td id=\"cash-receipt-type\">소득공제</td>".to_string(),
        "<td id=\"cash-receipt-no\">010****5678</td>".to_string(),
        "<td id=\"cash-receipt-state\">발행</td>".to_string(),
        "15,000원".to_string(),
    ] {
        assert!(page.1.contains(&cell), "{cell} not in {}", page.1);
    }
    let card = pay(&sb, &request(PayMethod::Card, 1_000, DEAD_URL)).await;
    let url = smartro::receipt::receipt_page_url(&base, &card.tid, true);
    let status = match reqwest::get(&url).await {
        Ok(r) => r.status().as_u16(),
        Err(e) => panic!("{e}"),
    };
    assert_eq!(status, 404);

    // Cancelled with the payment: the cancel notification carries the receipt's cancel number.
    assert_eq!(
        cancel(&sb, &result.tid, 15_000, false).await.result_code,
        "2001"
    );
    let d = wait_deliveries(&sb, |d| {
        d.iter()
            .any(|x| x.notification.state_cd == StateCd::CancelBeforeSettlement && x.acknowledged)
    })
    .await;
    let Some(cancelled) = d
        .iter()
        .find(|x| x.notification.state_cd == StateCd::CancelBeforeSettlement)
    else {
        panic!("no cancel notification")
    };
    let n = &cancelled.notification;
    assert_eq!(n.receipt_type.as_deref(), Some("1"));
    assert_eq!(n.rcpt_app_no.as_deref(), Some(app_no.as_str()));
    assert_eq!(n.rcpt_cc_no.as_deref().map(str::len), Some(9));
    sb.shutdown().await;
}

#[tokio::test]
async fn without_receipt_type_y_there_is_no_cash_receipt() {
    let receiver = Receiver::start(0).await;
    let sb = start(config(Some(AutoDecision::Approve))).await;
    let mut req = request(PayMethod::Kakao, 7_000, &receiver.url);
    req.receipt_type = Some(false);
    let result = pay(&sb, &req).await;
    let d = wait_deliveries(&sb, |d| d.len() == 1 && d[0].acknowledged).await;
    assert_eq!(d[0].notification.receipt_type, None);
    tokio::time::sleep(INTERVAL * 2).await;
    assert_eq!(
        sb.notifications().len(),
        1,
        "no 7001 without a cash receipt"
    );
    let record = receipt_record(&sb, &result.tid).await;
    assert_eq!(record.cash_receipt_req_cl.as_deref(), Some("0"));
    assert_eq!(record.cash_receipt_tid, None);
    sb.shutdown().await;
}

#[tokio::test]
async fn toss_window_lets_the_buyer_ask_for_expense_proof() {
    let sb = start(config(None)).await;
    let mut req = request(PayMethod::Toss, 33_000, DEAD_URL);
    req.receipt_type = Some(true);
    let html = open_window(&sb, &req, KEY).await;
    assert!(
        html.contains("<select name=\"cash_receipt_type\""),
        "{html}"
    );
    assert!(html.contains("<option value=\"1\" selected>소득공제</option>"));
    assert!(html.contains("name=\"cash_receipt_no\" id=\"cash_receipt_no\" value=\"01012345678\""));

    // A business number must have 10 digits.
    let answer = decide(
        &html,
        &[
            ("cash_receipt_type", "2"),
            ("cash_receipt_no", "010-1234-5678"),
            ("decision", "approve"),
        ],
    )
    .await;
    assert_eq!(window_error_code(&answer), "S008");
    assert!(sb.transactions().is_empty());

    let html = open_window(&sb, &req, KEY).await;
    let answer = decide(
        &html,
        &[
            ("cash_receipt_type", "2"),
            ("cash_receipt_no", "123-45-67890"),
            ("decision", "approve"),
        ],
    )
    .await;
    let result = submit_result_page(&answer);
    assert_eq!(result.result_code, "TS10");
    let cash = sb
        .state()
        .transaction(&result.tid)
        .and_then(|t| t.cash_receipt);
    assert_eq!(
        cash.map(|c| (c.kind, c.id_no)),
        Some((CashReceiptType::ExpenseProof, "1234567890".to_string()))
    );
    let record = receipt_record(&sb, &result.tid).await;
    assert_eq!(record.cash_receipt_type.as_deref(), Some("2"));
    assert_eq!(record.cash_receipt_no.as_deref(), Some("123***7890"));

    // ReceiptType=Y on a card payment is the protocol's error.
    let mut card = request(PayMethod::Card, 1_000, DEAD_URL);
    card.receipt_type = Some(false);
    let answer = post_form(
        &sb.endpoints().pay_url,
        form_with(&card, KEY, "ReceiptType", "Y"),
    )
    .await;
    assert_eq!(window_error_code(&answer), "S002");
    assert!(answer.text().contains("ReceiptType"));
    sb.shutdown().await;
}
