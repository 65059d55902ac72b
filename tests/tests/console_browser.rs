//! The operator console in headless Chromium, against a real gateway, the sandbox and PostgreSQL: sign in, find an
//! order by its id, read its timeline, cancel part of it, record a refund of a virtual-account order, resolve a
//! review, look at the terminals and the daily summary (also at a phone's width), sign out, and find the session
//! gone. Screenshots of each page go to target/e2e-screenshots/console-*.png.

mod harness;
mod support;

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use harness::*;
use sandbox::{NewTransaction, TransactionSnapshot};
use serde_json::Value;
use smartro::endpoints::TEST_MERCHANTS;
use smartro::notification::Notification;
use smartro::sign;
use smartro::types::{PayMethod, StateCd};
use support::Browser;

const MID: &str = "SMTPAY001m";
const OPERATOR: &str = "admin";
const PASSWORD: &str = "console e2e password";
const WAIT: Duration = Duration::from_secs(30);

fn merchant_key() -> &'static str {
    TEST_MERCHANTS
        .iter()
        .find(|(mid, _)| *mid == MID)
        .map(|(_, key)| *key)
        .expect("the test merchant's key")
}

async fn wait_for(client: &Client, id: &str) -> fantoccini::elements::Element {
    match client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id(id))
        .await
    {
        Ok(element) => element,
        Err(e) => {
            let url = client
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let source = client.source().await.unwrap_or_default();
            panic!("#{id} did not appear within {WAIT:?} on {url}: {e}\n{source}");
        }
    }
}

async fn type_into(client: &Client, id: &str, text: &str) {
    let input = wait_for(client, id).await;
    input.clear().await.expect("clear input");
    input.send_keys(text).await.expect("type into input");
}

async fn click(client: &Client, id: &str) {
    wait_for(client, id).await.click().await.expect("click");
}

async fn path_of(client: &Client) -> String {
    client.current_url().await.expect("url").path().to_string()
}

/// Polls the API until the order reaches `status`.
async fn wait_for_status(stack: &Stack, order_id: &str, status: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let order = stack.order(order_id).await;
        if order["status"] == status {
            return order;
        }
        assert!(
            Instant::now() < deadline,
            "order {order_id} never became {status}: {order:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The outcome banner after an action: it must say the action succeeded.
async fn expect_success(client: &Client) {
    let outcome = wait_for(client, "outcome").await;
    let result = outcome.attr("data-outcome").await.expect("outcome attr");
    let text = outcome.text().await.unwrap_or_default();
    assert_eq!(result.as_deref(), Some("succeeded"), "{text}");
}

/// A payment Smartro (the sandbox) made for order `moid` for another amount, and its signed notification: the
/// order goes under review once the sandbox's receipt API confirms it.
async fn paid_another_amount(stack: &Stack, moid: &str, amount: i64) {
    let tx: TransactionSnapshot = stack
        .sandbox
        .state()
        .create_transaction(NewTransaction::new(MID, moid, amount))
        .expect("the sandbox approves it");
    let notification = Notification {
        pay_method: PayMethod::Card,
        mid: tx.mid.clone(),
        mall_user_id: None,
        amt: tx.amt,
        name: Some(tx.buyer_name.clone()),
        goods_name: Some(tx.goods_name.clone()),
        tid: tx.tid.clone(),
        otid: None,
        oid: tx.moid.clone(),
        auth_date: Some(tx.auth_date.clone()),
        auth_code: tx.auth_code.clone(),
        result_code: tx.result_code.clone(),
        result_msg: tx.result_msg.clone(),
        state_cd: StateCd::Approval,
        fn_cd: tx.fn_cd.clone(),
        fn_name: tx.fn_name.clone(),
        pin_no: tx.pin_no.clone(),
        card_quota: tx.card_quota.clone(),
        buyer_email: None,
        buyer_tel: None,
        buyer_auth_num: None,
        vbank_num: None,
        vbank_name: None,
        receipt_type: None,
        rcpt_app_no: None,
        rcpt_cc_no: None,
        card_use_point: None,
        sign_value: sign::sign_value(&tx.tid, &tx.result_code, merchant_key()),
        extra: Default::default(),
    };
    let response = stack
        .http
        .post(stack.url("/smartro/inform"))
        .body(notification.to_form_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_works_through_the_console_in_the_browser() {
    let hash = gateway::console::password::hash_password(PASSWORD).expect("hash");
    let stack = start_with(Options {
        gateway_env: vec![
            (
                "GATEWAY__CONSOLE__OPERATORS__0__NAME".into(),
                OPERATOR.into(),
            ),
            ("GATEWAY__CONSOLE__OPERATORS__0__PASSWORD_HASH".into(), hash),
        ],
        ..Options::default()
    })
    .await;

    // A card order paid through the sandbox, a virtual account deposited, and a payment of another amount.
    stack
        .pay(&stack.create_order("E2E-CON-CARD", 10_000, "CARD").await)
        .await;
    wait_for_status(&stack, "E2E-CON-CARD", "paid").await;
    let vbank = stack
        .pay(&stack.create_order("E2E-CON-VBANK", 20_000, "VBANK").await)
        .await;
    assert_eq!(vbank["status"], "awaiting_deposit", "{vbank}");
    let deposit = stack
        .http
        .post(stack.sandbox.endpoints().vbank_deposit_url.unwrap())
        .form(&[("TID", vbank["tid"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert!(deposit.status().is_success());
    wait_for_status(&stack, "E2E-CON-VBANK", "paid").await;
    stack.create_order("E2E-CON-REVIEW", 10_000, "CARD").await;
    paid_another_amount(&stack, "E2E-CON-REVIEW", 12_000).await;
    wait_for_status(&stack, "E2E-CON-REVIEW", "needs_review").await;

    let browser = Browser::start().await;
    let client = &browser.client;

    // Signed out, the console leads to the sign-in form.
    client
        .goto(&stack.url("/console"))
        .await
        .expect("open the console");
    wait_for(client, "sign-in-form").await;
    assert_eq!(path_of(client).await, "/console/sign-in");
    browser.screenshot("console-sign-in").await;
    type_into(client, "name", OPERATOR).await;
    type_into(client, "password", PASSWORD).await;
    click(client, "sign-in").await;

    // The orders; found by searching its id, then opened.
    wait_for(client, "orders").await;
    assert_eq!(path_of(client).await, "/console/orders");
    browser.screenshot("console-orders").await;
    type_into(client, "q", "E2E-CON-CARD").await;
    click(client, "search").await;
    // The unfiltered list links the order too: wait for the search's own page before looking for it, or the link
    // found may be the old page's, gone (stale) by the time it is clicked.
    let deadline = Instant::now() + WAIT;
    while !client
        .current_url()
        .await
        .expect("url")
        .query()
        .is_some_and(|q| q.contains("q=E2E-CON-CARD"))
    {
        assert!(Instant::now() < deadline, "the search's page never loaded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let link = client
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(r#"a[href="/console/orders/E2E-CON-CARD"]"#))
        .await
        .expect("the order in the results");
    let listed = client
        .find_all(Locator::Css("a.order-link"))
        .await
        .expect("links");
    assert_eq!(listed.len(), 1, "only the order searched for");
    link.click().await.expect("open the order");

    // Its timeline: the raw returnPay and inform, the payment, the webhook-free order as it stands.
    let timeline = wait_for(client, "timeline").await.text().await.unwrap();
    assert!(timeline.contains("스마트로 메시지"), "{timeline}");
    assert!(
        timeline.contains("반영됨"),
        "an applied message: {timeline}"
    );
    assert!(timeline.contains("결제"), "{timeline}");
    browser.screenshot("console-order").await;

    // Part of it cancelled at Smartro (the sandbox).
    type_into(client, "cancel-amount", "3000").await;
    type_into(client, "cancel-reason", "고객 요청 부분취소").await;
    let button = wait_for(client, "cancel-submit").await;
    assert_eq!(button.text().await.unwrap(), "취소");
    button.click().await.expect("cancel");
    expect_success(client).await;
    let order = wait_for_status(&stack, "E2E-CON-CARD", "partially_cancelled").await;
    assert_eq!(order["cancelled_amount"], 3_000);
    let audit = wait_for(client, "audit").await.text().await.unwrap();
    assert!(
        audit.contains(OPERATOR) && audit.contains("취소"),
        "{audit}"
    );
    browser.screenshot("console-cancelled").await;
    // The timeline with the first raw message opened: its fields as Smartro sent them, the card number masked.
    client
        .execute(
            "document.querySelector('#timeline details').open = true; \
             document.getElementById('timeline').scrollIntoView();",
            vec![],
        )
        .await
        .expect("open the raw message");
    let raw = client
        .find(Locator::Css("#timeline table.fields"))
        .await
        .expect("the raw fields")
        .text()
        .await
        .unwrap();
    assert!(raw.contains("E2E-CON-CARD"), "{raw}");
    browser.screenshot("console-timeline").await;

    // A refund of the virtual-account order, made by bank transfer and recorded here.
    client
        .goto(&stack.url("/console/orders/E2E-CON-VBANK"))
        .await
        .expect("open the vbank order");
    type_into(client, "refund-amount", "5000").await;
    wait_for(client, "refund-bank")
        .await
        .select_by_value("088")
        .await
        .expect("choose a bank");
    type_into(client, "refund-account", "110-123-456789").await;
    type_into(client, "refund-holder", "홍길동").await;
    type_into(client, "refund-reason", "입금 후 일부 환불").await;
    click(client, "refund-submit").await;
    expect_success(client).await;
    let order = stack.order("E2E-CON-VBANK").await;
    assert_eq!(order["refunded_amount"], 5_000);
    assert_eq!(order["refunds"][0]["recorded_by"], OPERATOR);
    browser.screenshot("console-refund").await;

    // The review accepted.
    client
        .goto(&stack.url("/console/orders/E2E-CON-REVIEW"))
        .await
        .expect("open the order under review");
    wait_for(client, "review-reason").await;
    wait_for(client, "resolve-action")
        .await
        .select_by_value("accept")
        .await
        .expect("accept");
    type_into(client, "resolve-reason", "고객과 금액 확인").await;
    click(client, "resolve-submit").await;
    expect_success(client).await;
    let order = wait_for_status(&stack, "E2E-CON-REVIEW", "paid").await;
    assert_eq!(order["resolutions"][0]["resolved_by"], OPERATOR);
    browser.screenshot("console-resolved").await;

    // Terminals and the daily summary.
    client
        .goto(&stack.url("/console/terminals"))
        .await
        .expect("terminals");
    wait_for(client, "operator").await;
    browser.screenshot("console-terminals").await;
    client
        .goto(&stack.url("/console/summary"))
        .await
        .expect("summary");
    wait_for(client, "by-method").await;
    client
        .find(Locator::Css("svg.chart"))
        .await
        .expect("the chart");
    browser.screenshot("console-summary").await;

    // On a phone.
    client.set_window_size(390, 844).await.expect("phone width");
    client
        .goto(&stack.url("/console/orders/E2E-CON-CARD"))
        .await
        .expect("the order on a phone");
    wait_for(client, "timeline").await;
    browser.screenshot("console-order-phone").await;
    client
        .goto(&stack.url("/console/orders"))
        .await
        .expect("the orders on a phone");
    wait_for(client, "orders").await;
    browser.screenshot("console-orders-phone").await;

    // Signed out, the session is gone: the order's page leads to the sign-in form and shows nothing of it.
    click(client, "sign-out").await;
    wait_for(client, "sign-in-form").await;
    client
        .goto(&stack.url("/console/orders/E2E-CON-CARD"))
        .await
        .expect("the order again");
    wait_for(client, "sign-in-form").await;
    assert_eq!(path_of(client).await, "/console/sign-in");
    let source = client.source().await.unwrap();
    assert!(!source.contains("E2E-CON-CARD"));
    assert_eq!(
        stack
            .count("SELECT count(*) FROM console_sessions WHERE signed_out_at IS NULL")
            .await,
        0
    );
    browser.close().await;
}
