//! The demo shop in headless Chromium: order → the gateway's checkout page → the sandbox's payment window → the
//! auto-submitted returnPay → the shop's result page, then a partial cancel from that page. Korean text goes
//! through the EUC-KR form on the way and must arrive intact on both sides. And the shop's counter: a sale rung up
//! on the demo's simulated card terminal, tapped through on the terminal's screen.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use gateway::clock::SystemClock;
use gateway::config::Settings;
use gateway::demo::{start_demo, DemoHandle, DemoOptions};
use gateway::testkit::fresh_database;
use secrecy::ExposeSecret;
use serde_json::Value;
use support::Browser;

const GOODS_NAME: &str = "테스트 상품";
const BUYER_NAME: &str = "홍길동";
const WAIT: Duration = Duration::from_secs(30);

async fn api_order(demo: &DemoHandle, order_id: &str) -> Value {
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("HTTP client")
        .get(format!("{}/v1/orders/{order_id}", demo.gateway_url()))
        .bearer_auth(demo.api_key().expose_secret())
        .send()
        .await
        .expect("GET /v1/orders/{id}");
    assert_eq!(response.status(), 200, "GET /v1/orders/{order_id}");
    response.json().await.expect("order JSON")
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

async fn text_of(client: &Client, id: &str) -> String {
    wait_for(client, id)
        .await
        .text()
        .await
        .expect("element text")
}

async fn type_into(client: &Client, id: &str, text: &str) {
    let input = wait_for(client, id).await;
    input.clear().await.expect("clear input");
    input.send_keys(text).await.expect("type into input");
    let typed = input.prop("value").await.expect("input value");
    assert_eq!(typed.as_deref(), Some(text), "#{id} holds what was typed");
}

/// Polls the API until the order reaches `status` (the result page may be rendered a moment before).
async fn wait_for_status(demo: &DemoHandle, order_id: &str, status: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let order = api_order(demo, order_id).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_buyer_pays_in_the_browser_and_the_shop_cancels_part_of_it() {
    let db = fresh_database().await;
    let settings = Settings::load_from(None, &[]).expect("default settings");
    let demo = start_demo(
        settings,
        db.pool.clone(),
        Arc::new(SystemClock),
        &DemoOptions::ephemeral(),
    )
    .await
    .expect("demo starts");
    let browser = Browser::start().await;
    let client = &browser.client;

    // The shop's order form, filled in as a person would.
    client
        .goto(&format!("{}/", demo.shop_url()))
        .await
        .expect("open the shop");
    type_into(client, "goods_name", GOODS_NAME).await;
    type_into(client, "amount", "1004").await;
    type_into(client, "buyer_name", BUYER_NAME).await;
    let method = wait_for(client, "pay_method").await;
    method.select_by_value("CARD").await.expect("choose CARD");
    browser.screenshot("1-shop").await;
    wait_for(client, "submit")
        .await
        .click()
        .await
        .expect("submit the order");

    // The gateway's mainPay page.
    let pay_button = wait_for(client, "pay-button").await;
    assert!(
        client
            .current_url()
            .await
            .expect("url")
            .path()
            .starts_with("/pay/"),
        "the shop sent the buyer to the gateway's checkout page"
    );
    assert_eq!(text_of(client, "goods-name").await, GOODS_NAME);
    browser.screenshot("2-checkout").await;
    pay_button.click().await.expect("pay");

    // The sandbox's payment window, reached through the EUC-KR form.
    let approve = wait_for(client, "approve").await;
    assert_eq!(
        text_of(client, "goods-name").await,
        GOODS_NAME,
        "goods name decoded by the sandbox"
    );
    assert_eq!(
        text_of(client, "buyer-name").await,
        BUYER_NAME,
        "buyer name decoded by the sandbox"
    );
    browser.screenshot("3-sandbox-window").await;
    approve.click().await.expect("approve");

    // returnPay is submitted by script, the gateway answers 303 to the shop's result page.
    let status = wait_for(client, "order-status").await;
    let url = client.current_url().await.expect("url");
    assert!(
        url.as_str()
            .starts_with(&format!("{}/result", demo.shop_url())),
        "the buyer ends on the shop's result page, not {url}"
    );
    assert_eq!(status.text().await.expect("status text"), "paid");
    assert_eq!(text_of(client, "order-goods-name").await, GOODS_NAME);
    assert_eq!(text_of(client, "order-buyer-name").await, BUYER_NAME);
    browser.screenshot("4-result-paid").await;

    let order_id = text_of(client, "order-id").await;
    let order = wait_for_status(&demo, &order_id, "paid").await;
    assert_eq!(order["goods_name"], GOODS_NAME);
    assert_eq!(order["buyer"]["name"], BUYER_NAME);
    assert_eq!(order["paid_amount"], 1004);
    let tid = order["tid"]
        .as_str()
        .expect("a paid order has a TID")
        .to_string();
    let transaction = demo
        .sandbox
        .transactions()
        .into_iter()
        .find(|t| t.tid == tid)
        .expect("the sandbox knows the transaction");
    assert_eq!(
        transaction.goods_name, GOODS_NAME,
        "what Smartro received as GoodsName"
    );
    assert_eq!(
        transaction.buyer_name, BUYER_NAME,
        "what Smartro received as BuyerName"
    );
    assert_eq!(transaction.moid, order_id);
    assert_eq!(transaction.amt, 1004);

    // The receipt, through the shop.
    wait_for(client, "receipt-link")
        .await
        .click()
        .await
        .expect("open the receipt");
    let receipt_json = text_of(client, "receipt-json").await;
    assert!(
        receipt_json.contains(&tid),
        "the receipt is about this TID: {receipt_json}"
    );
    let receipt_url = wait_for(client, "receipt-url")
        .await
        .attr("href")
        .await
        .expect("href");
    assert!(
        receipt_url
            .as_deref()
            .is_some_and(|u| u.starts_with(&demo.sandbox_url())),
        "the receipt page is the sandbox's: {receipt_url:?}"
    );
    browser.screenshot("5-receipt").await;
    client.back().await.expect("back to the result page");

    // A partial cancel from the result page.
    type_into(client, "cancel-amount", "400").await;
    wait_for(client, "cancel-submit")
        .await
        .click()
        .await
        .expect("cancel part");
    wait_for(client, "notice").await;
    assert_eq!(text_of(client, "order-status").await, "partially_cancelled");
    browser.screenshot("6-result-partially-cancelled").await;

    let order = wait_for_status(&demo, &order_id, "partially_cancelled").await;
    assert_eq!(order["cancelled_amount"], 400);
    let cancellations = order["cancellations"].as_array().expect("cancellations");
    assert_eq!(cancellations.len(), 1, "{order:#}");
    assert_eq!(cancellations[0]["status"], "succeeded");
    assert_eq!(cancellations[0]["partial"], true);
    let transaction = demo
        .sandbox
        .transactions()
        .into_iter()
        .find(|t| t.tid == tid)
        .expect("the sandbox knows the transaction");
    assert_eq!(
        transaction.cancelled_amt, 400,
        "Smartro cancelled exactly 400 once"
    );

    browser.close().await;
    demo.shutdown().await.expect("demo stops cleanly");
}

/// Places an order through the shop's form with `pay_method` and the options `setup` picks, approves it in the
/// sandbox's window and returns the order id from the shop's result page.
async fn order_with_options(
    client: &Client,
    demo: &DemoHandle,
    pay_method: &str,
    check: &[&str],
    window: impl AsyncFnOnce(&Client),
) -> String {
    client
        .goto(&format!("{}/", demo.shop_url()))
        .await
        .expect("open the shop");
    type_into(client, "amount", "25000").await;
    wait_for(client, "pay_method")
        .await
        .select_by_value(pay_method)
        .await
        .expect("choose the method");
    for id in check {
        wait_for(client, id).await.click().await.expect("tick");
    }
    wait_for(client, "submit")
        .await
        .click()
        .await
        .expect("submit");
    wait_for(client, "pay-button")
        .await
        .click()
        .await
        .expect("pay");
    let approve = wait_for(client, "approve").await;
    window(client).await;
    approve.click().await.expect("approve");
    wait_for(client, "order-status").await;
    text_of(client, "order-id").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shop_offers_escrow_instalments_cash_receipts_and_vbank_refunds() {
    let db = fresh_database().await;
    let settings = Settings::load_from(None, &[]).expect("default settings");
    let demo = start_demo(
        settings,
        db.pool.clone(),
        Arc::new(SystemClock),
        &DemoOptions::ephemeral(),
    )
    .await
    .expect("demo starts");
    let browser = Browser::start().await;
    let client = &browser.client;

    // Escrow for a bank transfer: the window shows it, the order keeps it.
    let order_id = order_with_options(client, &demo, "BANK", &["escrow"], async |client| {
        assert_eq!(
            text_of(client, "escrow-cd").await,
            "에스크로 (결제대금예치)"
        );
    })
    .await;
    let order = wait_for_status(&demo, &order_id, "paid").await;
    assert_eq!(order["mid"], "ECTEST001m");
    assert!(order["options"]["escrow"].is_object(), "{order:#}");
    assert!(text_of(client, "order-options").await.contains("에스크로"));
    browser.screenshot("7-escrow-paid").await;

    // A card company and instalment fixed by the shop: the window offers no other.
    client
        .goto(&format!("{}/", demo.shop_url()))
        .await
        .expect("open the shop");
    wait_for(client, "card")
        .await
        .select_by_value("04:03")
        .await
        .expect("choose Samsung, 3 months");
    wait_for(client, "submit")
        .await
        .click()
        .await
        .expect("submit");
    wait_for(client, "pay-button")
        .await
        .click()
        .await
        .expect("pay");
    assert!(text_of(client, "card-fixed").await.contains("삼성"));
    assert!(text_of(client, "quota-fixed").await.contains('3'));
    browser.screenshot("8-sandbox-fixed-instalment").await;
    wait_for(client, "approve")
        .await
        .click()
        .await
        .expect("approve");
    let order_id = text_of(client, "order-id").await;
    let order = wait_for_status(&demo, &order_id, "paid").await;
    assert_eq!(order["card"]["quota"], "03", "{order:#}");

    // Kakao Pay with a cash receipt: Smartro's separate notification of it reaches the shop's page.
    let order_id = order_with_options(client, &demo, "KAKAO", &["cash_receipt"], async |client| {
        wait_for(client, "cash_receipt_type").await;
    })
    .await;
    wait_for_status(&demo, &order_id, "paid").await;
    let deadline = Instant::now() + WAIT;
    let receipt = loop {
        client.refresh().await.expect("reload the result page");
        if let Ok(row) = client.find(Locator::Id("order-cash-receipt")).await {
            break row.text().await.expect("text");
        }
        assert!(
            Instant::now() < deadline,
            "no cash receipt on the result page"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(receipt.contains("소득공제"), "{receipt}");
    browser.screenshot("9-cash-receipt").await;

    // A virtual account: issued, paid on the sandbox's deposit page, then refunded by the shop's own transfer,
    // which the order page records through POST /v1/orders/{id}/refunds.
    let order_id = order_with_options(client, &demo, "VBANK", &[], async |_| {}).await;
    let order = wait_for_status(&demo, &order_id, "awaiting_deposit").await;
    let deposit_url = wait_for(client, "deposit-link")
        .await
        .attr("href")
        .await
        .expect("href")
        .expect("the order page links the sandbox's deposit page");
    client
        .goto(&deposit_url)
        .await
        .expect("open the deposit page");
    let tid = wait_for(client, "TID")
        .await
        .prop("value")
        .await
        .expect("value");
    assert_eq!(
        tid.as_deref(),
        order["tid"].as_str(),
        "the link fills the TID in"
    );
    wait_for(client, "deposit")
        .await
        .click()
        .await
        .expect("deposit");
    wait_for_status(&demo, &order_id, "paid").await;
    client
        .goto(&format!("{}/result?order_id={order_id}", demo.shop_url()))
        .await
        .expect("back to the order page");
    assert!(
        client.find(Locator::Id("cancel-submit")).await.is_err(),
        "Smartro cannot cancel a virtual account: the page offers a refund instead"
    );
    type_into(client, "refund-amount", "10000").await;
    wait_for(client, "refund-bank")
        .await
        .select_by_value("088")
        .await
        .expect("choose the bank");
    type_into(client, "refund-account", "110-123-456789").await;
    wait_for(client, "refund-submit")
        .await
        .click()
        .await
        .expect("record the refund");
    wait_for(client, "notice").await;
    assert_eq!(text_of(client, "order-refunded-amount").await, "10,000원");
    assert!(text_of(client, "refunds").await.contains("신한은행"));
    browser.screenshot("10-vbank-refunded").await;
    let order = wait_for_status(&demo, &order_id, "partially_cancelled").await;
    assert_eq!(order["refunded_amount"], 10_000);
    assert_eq!(order["refunds"][0]["account"], "***-***-**6789");
    assert_eq!(order["refunds"][0]["holder"], BUYER_NAME);

    browser.close().await;
    demo.shutdown().await.expect("demo stops cleanly");
}

/// The counter page follows a transaction by reloading itself: waits until it shows `status`.
async fn wait_for_tx_status(client: &Client, status: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        // The element goes stale when the page reloads between finding it and reading it: just look again.
        let shown = match client.find(Locator::Id("tx-status")).await {
            Ok(element) => element.attr("data-status").await.ok().flatten(),
            Err(_) => None,
        };
        if shown.as_deref() == Some(status) {
            return;
        }
        if Instant::now() > deadline {
            let source = client.source().await.unwrap_or_default();
            panic!("the counter never showed {status} (last {shown:?}):\n{source}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The shop's counter with the demo's simulated terminal: the assistant rings a sale up, the buyer inserts the card
/// and signs on the terminal's screen, the counter page follows the transaction to 승인 and shows the slip; the
/// order is paid on the terminal channel. Then the whole sale is cancelled from the order page (the terminal asks
/// for the card again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_counter_rings_a_sale_up_on_the_terminal_and_the_buyer_taps_through_it() {
    let db = fresh_database().await;
    let settings = Settings::load_from(None, &[]).expect("default settings");
    let demo = start_demo(
        settings,
        db.pool.clone(),
        Arc::new(SystemClock),
        &DemoOptions::ephemeral(),
    )
    .await
    .expect("demo starts");
    let terminal = demo
        .sandbox
        .terminal()
        .expect("the demo runs a simulated terminal")
        .state()
        .clone();
    // A card that asks for a signature, so that the buyer's part has both steps.
    terminal.update_faults(|f| f.signature = true);
    let deadline = Instant::now() + WAIT;
    while !terminal.connected() {
        assert!(
            Instant::now() < deadline,
            "the gateway never connected to the terminal"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let browser = Browser::start().await;
    let client = &browser.client;

    // The shop's header leads to the counter.
    client
        .goto(&format!("{}/", demo.shop_url()))
        .await
        .expect("open the shop");
    wait_for(client, "counter-nav")
        .await
        .click()
        .await
        .expect("open the counter");
    assert_eq!(
        text_of(client, "terminal-connected").await,
        "연결됨 (connected)"
    );
    type_into(client, "counter-goods-name", "아메리카노").await;
    type_into(client, "counter-amount", "4500").await;
    wait_for(client, "counter-method")
        .await
        .select_by_value("card")
        .await
        .expect("choose card");
    browser.screenshot("11-counter-1-form").await;
    wait_for(client, "ring-up")
        .await
        .click()
        .await
        .expect("ring the sale up");

    // The counter follows the transaction while the terminal waits for the card.
    wait_for_tx_status(client, "requested").await;
    let counter_page = client.current_url().await.expect("url").to_string();
    assert!(
        counter_page.starts_with(&format!("{}/counter/transactions/", demo.shop_url())),
        "the counter shows the transaction: {counter_page}"
    );
    wait_for(client, "abort").await;
    browser.screenshot("11-counter-2-waiting").await;
    let screen_url = wait_for(client, "terminal-screen-link")
        .await
        .attr("href")
        .await
        .expect("href")
        .expect("the counter links the terminal's screen");
    assert_eq!(screen_url, demo.terminal_screen_url());

    // The terminal's screen: insert the card, then sign.
    client.goto(&screen_url).await.expect("open the terminal");
    let insert = wait_for(client, "insert-card").await;
    assert_eq!(text_of(client, "screen").await, "카드를 넣어주세요");
    assert_eq!(text_of(client, "amount").await, "4,500원");
    browser.screenshot("11-counter-3-terminal-card").await;
    insert.click().await.expect("insert the card");
    let sign = wait_for(client, "sign").await;
    assert_eq!(text_of(client, "screen").await, "서명해 주세요");
    browser.screenshot("11-counter-4-terminal-sign").await;
    sign.click().await.expect("sign");
    let deadline = Instant::now() + WAIT;
    while terminal.screen().text() != "거래가 완료되었습니다" {
        assert!(
            Instant::now() < deadline,
            "the terminal never finished: {:?}",
            terminal.screen()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Back at the counter: approved, with the slip.
    client
        .goto(&counter_page)
        .await
        .expect("back to the counter");
    wait_for_tx_status(client, "succeeded").await;
    assert_eq!(
        text_of(client, "tx-status-label").await,
        "승인 완료 (approved)"
    );
    assert_eq!(text_of(client, "slip-goods-name").await, "아메리카노");
    assert_eq!(text_of(client, "slip-amount").await, "4,500원");
    let approval_no = text_of(client, "slip-approval-no").await;
    assert!(
        approval_no.len() >= 6 && approval_no.bytes().all(|b| b.is_ascii_digit()),
        "an approval number on the slip: {approval_no:?}"
    );
    assert!(
        text_of(client, "slip-card").await.contains('*'),
        "the masked card on the slip"
    );
    browser.screenshot("11-counter-5-approved").await;

    let order_id = text_of(client, "tx-order-link").await;
    let order = wait_for_status(&demo, &order_id, "paid").await;
    assert_eq!(order["channel"], "terminal", "{order:#}");
    assert_eq!(order["paid_amount"], 4500);
    assert_eq!(order["goods_name"], "아메리카노");
    assert_eq!(order["terminal"]["terminal_id"], "counter-1");
    assert_eq!(order["terminal"]["approval_no"], approval_no.as_str());
    assert!(order.get("checkout_url").is_none(), "{order:#}");

    // The whole sale cancelled from the order page; the buyer inserts the card and signs again (by script this
    // time, since the cancel's request waits for it).
    wait_for(client, "tx-order-link")
        .await
        .click()
        .await
        .expect("open the order");
    assert_eq!(text_of(client, "order-status").await, "paid");
    wait_for(client, "terminal-transaction-link").await;
    let buyer = {
        let terminal = terminal.clone();
        tokio::spawn(async move {
            let deadline = Instant::now() + WAIT;
            let mut inserted = false;
            while Instant::now() < deadline {
                if !inserted {
                    inserted = terminal.insert_card();
                } else if terminal.sign() {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            false
        })
    };
    wait_for(client, "cancel-submit")
        .await
        .click()
        .await
        .expect("cancel the sale");
    wait_for(client, "notice").await;
    assert!(
        buyer.await.expect("buyer task"),
        "the terminal asked for the card and the signature again"
    );
    assert_eq!(text_of(client, "order-status").await, "cancelled");
    browser.screenshot("11-counter-6-cancelled").await;
    let order = wait_for_status(&demo, &order_id, "cancelled").await;
    assert_eq!(order["cancelled_amount"], 4500, "{order:#}");
    // The cancel's own slip.
    client
        .find(Locator::Css("a.terminal-cancel-link"))
        .await
        .expect("the order links the cancel on the terminal")
        .click()
        .await
        .expect("open the cancel");
    wait_for_tx_status(client, "succeeded").await;
    assert_eq!(
        text_of(client, "tx-status-label").await,
        "취소 완료 (cancelled on the terminal)"
    );
    let slip = wait_for(client, "slip").await;
    assert_eq!(
        slip.attr("data-kind").await.expect("data-kind").as_deref(),
        Some("card_cancel")
    );
    assert_eq!(text_of(client, "slip-amount").await, "4,500원");
    browser.screenshot("11-counter-7-cancel-slip").await;
    let ledger = terminal.ledger();
    assert!(
        ledger.iter().any(|e| e.is_cancel && e.amount == 4500),
        "the terminal made the cancel: {ledger:?}"
    );

    // A sale the buyer walks away from: the counter aborts it while the terminal waits for the card.
    client
        .goto(&demo.counter_url())
        .await
        .expect("open the counter");
    type_into(client, "counter-amount", "1000").await;
    wait_for(client, "ring-up")
        .await
        .click()
        .await
        .expect("ring the sale up");
    wait_for_tx_status(client, "requested").await;
    wait_for(client, "abort")
        .await
        .click()
        .await
        .expect("abort the sale");
    wait_for_tx_status(client, "aborted").await;
    assert_eq!(
        text_of(client, "tx-status-label").await,
        "거래 중단 (aborted)"
    );
    assert_eq!(terminal.screen().text(), "거래가 거절되었습니다");

    browser.close().await;
    demo.shutdown().await.expect("demo stops cleanly");
}
