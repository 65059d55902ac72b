//! The operator console (`/console`) against a real gateway and PostgreSQL: off without operators, sign-in that
//! does not tell names apart and slows guessing down, CSRF on every form, sessions that end, escaping of what
//! buyers and Smartro send, and the actions, which change an order as the API would and are audited.

mod common;

use chrono::Duration;
use common::*;
use smartro::types::{PayMethod, StateCd};

const OPERATOR: &str = "admin";
const PASSWORD: &str = "correct horse battery";

/// One hash for the whole file: hashing is slow on purpose.
fn operator_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| gateway::console::password::hash_password(PASSWORD).expect("hash"))
}

async fn console_app(extra: &[(&str, &str)]) -> TestApp {
    let mut vars: Vec<(&str, &str)> = vec![
        ("GATEWAY__CONSOLE__OPERATORS__0__NAME", OPERATOR),
        (
            "GATEWAY__CONSOLE__OPERATORS__0__PASSWORD_HASH",
            operator_hash(),
        ),
    ];
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}

/// The value of `name` among the response's `Set-Cookie` headers.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let pair = v.split(';').next()?;
            let (k, value) = pair.split_once('=')?;
            (k.trim() == name).then(|| value.to_string())
        })
}

/// The value of the first `<input name="csrf">` of a page.
fn csrf_of(page: &str) -> String {
    let at =
        page.find(r#"name="csrf" value=""#).expect("a csrf field") + r#"name="csrf" value=""#.len();
    page[at..].split('"').next().unwrap().to_string()
}

/// The value of the hidden `form_id` field of the form posting to `action`.
fn form_id_of(page: &str, action: &str) -> String {
    let form = page
        .find(&format!(r#"action="{action}""#))
        .expect("the form");
    let rest = &page[form..];
    let at = rest.find(r#"name="form_id" value=""#).expect("a form_id")
        + r#"name="form_id" value=""#.len();
    rest[at..].split('"').next().unwrap().to_string()
}

struct SignIn {
    status: u16,
    body: String,
    session: Option<String>,
}

impl TestApp {
    async fn console_get(&self, path: &str, session: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(self.url(path));
        if let Some(session) = session {
            request = request.header("cookie", format!("console_session={session}"));
        }
        request.send().await.unwrap()
    }

    async fn console_page(&self, path: &str, session: &str) -> String {
        let response = self.console_get(path, Some(session)).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.text().await.unwrap()
    }

    async fn console_post(
        &self,
        path: &str,
        session: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .header("cookie", format!("console_session={session}"))
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    /// A pre-session cookie and the sign-in form's token.
    async fn sign_in_form(&self) -> (String, String) {
        let response = self.console_get("/console/sign-in", None).await;
        assert_eq!(response.status(), 200);
        let cookie = set_cookie(&response, "console_sign_in").expect("pre-session cookie");
        (cookie, csrf_of(&response.text().await.unwrap()))
    }

    async fn sign_in_with(&self, form: &(String, String), name: &str, password: &str) -> SignIn {
        let response = self
            .http
            .post(self.url("/console/sign-in"))
            .header("cookie", format!("console_sign_in={}", form.0))
            .form(&[
                ("csrf", form.1.as_str()),
                ("name", name),
                ("password", password),
            ])
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let session = set_cookie(&response, "console_session").filter(|s| !s.is_empty());
        SignIn {
            status,
            body: response.text().await.unwrap(),
            session,
        }
    }

    async fn sign_in(&self) -> String {
        let form = self.sign_in_form().await;
        let signed = self.sign_in_with(&form, OPERATOR, PASSWORD).await;
        assert_eq!(signed.status, 303, "{}", signed.body);
        signed.session.expect("a session cookie")
    }

    async fn audit_count(&self) -> i64 {
        self.count("SELECT count(*) FROM console_audit WHERE action NOT IN ('sign_in', 'sign_out')")
            .await
    }
}

/// The page without the one per-request value it holds (the form's token).
fn without_token(page: &str) -> String {
    let token = csrf_of(page);
    page.replace(&token, "")
}

async fn card_paid(app: &TestApp, order_id: &str, amount: i64, n: u32) -> String {
    app.create_order(card_order(order_id, amount)).await;
    let tid = tid(n);
    assert_eq!(
        app.inform(card_inform(order_id, &tid, amount)).await.1,
        "OK"
    );
    tid
}

async fn vbank_paid(app: &TestApp, order_id: &str, amount: i64, n: u32) {
    let mut body = card_order(order_id, amount);
    body["pay_method"] = "VBANK".into();
    app.create_order(body).await;
    let tid = format!("{MID}0301261121120000{n:04}");
    let mut issued = notification(
        order_id,
        &tid,
        amount,
        "4100",
        StateCd::VbankIssued,
        PayMethod::Vbank,
    );
    issued.vbank_num = Some("56211234567890".into());
    issued.vbank_name = Some("국민은행".into());
    issued.fn_cd = Some("004".into());
    issued.pin_no = None;
    assert_eq!(app.inform(issued.to_form_body()).await.1, "OK");
    let deposit = notification(
        order_id,
        &tid,
        amount,
        "4110",
        StateCd::Approval,
        PayMethod::Vbank,
    );
    assert_eq!(app.inform(deposit.to_form_body()).await.1, "OK");
    assert_eq!(app.order(order_id).await["status"], "paid");
}

/// A card order that Smartro charged another amount for: under review.
async fn under_review(app: &TestApp, order_id: &str, n: u32) {
    app.create_order(card_order(order_id, 10_000)).await;
    assert_eq!(
        app.inform(card_inform(order_id, &tid(n), 12_000)).await.1,
        "OK"
    );
    assert_eq!(app.order(order_id).await["status"], "needs_review");
}

#[tokio::test]
async fn without_operators_the_console_is_not_there() {
    let app = spawn_app().await;
    for path in [
        "/console",
        "/console/orders",
        "/console/sign-in",
        "/console/summary",
    ] {
        let response = app.console_get(path, None).await;
        assert_eq!(response.status(), 404, "{path}");
    }
    let response = app
        .http
        .post(app.url("/console/sign-in"))
        .form(&[("name", OPERATOR), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn signed_out_every_page_leads_to_the_sign_in_form() {
    let app = console_app(&[]).await;
    card_paid(&app, "CO-ANON", 1_000, 90).await;
    for path in [
        "/console",
        "/console/orders",
        "/console/orders/CO-ANON",
        "/console/terminals",
        "/console/summary",
    ] {
        let response = app.console_get(path, None).await;
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(response.headers()["location"], "/console/sign-in", "{path}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
        assert!(!response.text().await.unwrap().contains("CO-ANON"));
    }
    let response = app.console_get("/console/sign-in", None).await;
    let headers = response.headers().clone();
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    let cookie = headers["set-cookie"].to_str().unwrap();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "public_url is http");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_name_look_the_same() {
    let app = console_app(&[]).await;
    let form = app.sign_in_form().await;
    let wrong = app.sign_in_with(&form, OPERATOR, "not the password").await;
    let unknown = app.sign_in_with(&form, "nobody", "not the password").await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert_eq!(unknown.status, wrong.status);
    assert_eq!(without_token(&wrong.body), without_token(&unknown.body));
    assert!(wrong
        .body
        .contains("이름 또는 비밀번호가 올바르지 않습니다"));
    assert!(wrong.session.is_none() && unknown.session.is_none());
    let ok = app.sign_in_with(&form, OPERATOR, PASSWORD).await;
    assert_eq!(ok.status, 303);
    assert!(ok.session.is_some());
}

#[tokio::test]
async fn repeated_failures_are_refused_even_with_the_right_password() {
    let app = console_app(&[]).await;
    let form = app.sign_in_form().await;
    for _ in 0..5 {
        assert_eq!(app.sign_in_with(&form, OPERATOR, "guess").await.status, 401);
    }
    let locked = app.sign_in_with(&form, OPERATOR, PASSWORD).await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert!(locked.session.is_none(), "no session while locked out");
    assert!(locked.body.contains("로그인 시도가 너무 많습니다"));
    // An unknown name locked out the same way looks the same.
    for _ in 0..5 {
        app.sign_in_with(&form, "nobody", "guess").await;
    }
    let unknown = app.sign_in_with(&form, "nobody", "guess").await;
    assert_eq!(unknown.status, 429);
    assert_eq!(without_token(&unknown.body), without_token(&locked.body));

    // The window passes: the right password works again.
    app.clock.advance(Duration::minutes(16));
    assert_eq!(
        app.sign_in_with(&form, OPERATOR, PASSWORD).await.status,
        303
    );
}

#[tokio::test]
async fn one_address_guessing_many_names_is_refused() {
    let app = console_app(&[]).await;
    let form = app.sign_in_form().await;
    for n in 0..20 {
        let name = format!("guess{n}");
        assert_eq!(app.sign_in_with(&form, &name, "guess").await.status, 401);
    }
    let refused = app.sign_in_with(&form, OPERATOR, PASSWORD).await;
    assert_eq!(refused.status, 429, "the address is over its limit");
    assert!(refused.session.is_none());
}

/// Behind a trusted proxy, an IPv6 client is counted by its /64: rotating through the addresses of one network
/// (anyone holding one has 2^64) does not reset its count.
#[tokio::test]
async fn one_ipv6_network_guessing_from_many_addresses_is_refused() {
    let app = console_app(&[("GATEWAY__SERVER__TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let form = app.sign_in_form().await;
    let from = |ip: String, name: String| {
        app.http
            .post(app.url("/console/sign-in"))
            .header("cookie", format!("console_sign_in={}", form.0))
            .header("x-forwarded-for", ip)
            .form(&[
                ("csrf", form.1.clone()),
                ("name", name),
                ("password", "guess".to_string()),
            ])
            .send()
    };
    for n in 0..20 {
        let response = from(format!("2001:db8:1:2::{n:x}"), format!("guess{n}"))
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    let refused = from("2001:db8:1:2:ffff::1".into(), "guess99".into())
        .await
        .unwrap();
    assert_eq!(refused.status(), 429, "the /64 is over its limit");
    // The next network is another client.
    let other = from("2001:db8:1:3::1".into(), "guess99".into())
        .await
        .unwrap();
    assert_eq!(other.status(), 401);
}

#[tokio::test]
async fn the_sign_in_form_needs_its_token() {
    let app = console_app(&[]).await;
    let (cookie, csrf) = app.sign_in_form().await;
    // No pre-session cookie, a wrong token, or a foreign origin: 403, no session, nothing counted.
    let attempts = [
        (None, Some(csrf.as_str()), None),
        (Some(cookie.as_str()), Some("0000"), None),
        (Some(cookie.as_str()), None, None),
        (
            Some(cookie.as_str()),
            Some(csrf.as_str()),
            Some("https://evil.example"),
        ),
    ];
    for (cookie, token, origin) in attempts {
        let mut request = app.http.post(app.url("/console/sign-in"));
        if let Some(cookie) = cookie {
            request = request.header("cookie", format!("console_sign_in={cookie}"));
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        let mut fields = vec![("name", OPERATOR), ("password", PASSWORD)];
        if let Some(token) = token {
            fields.push(("csrf", token));
        }
        let response = request.form(&fields).send().await.unwrap();
        assert_eq!(response.status(), 403, "{cookie:?} {token:?} {origin:?}");
        assert!(set_cookie(&response, "console_session").is_none());
    }
    assert_eq!(app.count("SELECT count(*) FROM console_sessions").await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM console_sign_in_failures")
            .await,
        0
    );
}

#[tokio::test]
async fn actions_without_a_valid_csrf_token_change_nothing() {
    let smartro = CancelDouble::start().await;
    let hooks = unreachable_url().await;
    let app = console_app(&[
        ("GATEWAY__SMARTRO__CANCEL_URL", &smartro.url),
        ("GATEWAY__WEBHOOKS__URL", &hooks),
        ("GATEWAY__WEBHOOKS__SECRET", "whsec_console_test"),
    ])
    .await;
    card_paid(&app, "CO-CSRF-1", 10_000, 1).await;
    vbank_paid(&app, "CO-CSRF-2", 10_000, 2).await;
    under_review(&app, "CO-CSRF-3", 3).await;
    let event: String =
        sqlx::query_scalar("SELECT id FROM outbox_events WHERE order_id = 'CO-CSRF-1'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let session = app.sign_in().await;
    let page = app
        .console_page("/console/orders/CO-CSRF-1", &session)
        .await;
    let form_id = form_id_of(&page, "/console/orders/CO-CSRF-1/cancel");
    let before = (
        app.order("CO-CSRF-1").await,
        app.order("CO-CSRF-2").await,
        app.order("CO-CSRF-3").await,
    );
    let window = "SELECT count(*) FROM outbox_events WHERE window_started_at <> created_at";
    let moved_before = app.count(window).await;

    let actions: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/console/orders/CO-CSRF-1/cancel".into(),
            vec![("amount", "1000"), ("reason", "고객 요청")],
        ),
        (
            "/console/orders/CO-CSRF-2/refund".into(),
            vec![
                ("amount", "1000"),
                ("reason", "환불"),
                ("bank_code", "004"),
                ("account", "110-123-456789"),
                ("holder", "홍길동"),
            ],
        ),
        (
            "/console/orders/CO-CSRF-3/resolve".into(),
            vec![("action", "accept"), ("reason", "확인함")],
        ),
        (
            format!("/console/orders/CO-CSRF-1/events/{event}/redeliver"),
            vec![],
        ),
        ("/console/sign-out".into(), vec![]),
    ];
    for (path, fields) in &actions {
        for token in [None, Some("wrong"), Some("")] {
            let mut fields = fields.clone();
            fields.push(("form_id", &form_id));
            if let Some(token) = token {
                fields.push(("csrf", token));
            }
            let response = app.console_post(path, &session, &fields).await;
            assert_eq!(response.status(), 403, "{path} with {token:?}");
        }
    }
    assert!(smartro.requests().is_empty(), "no cancel reached Smartro");
    assert_eq!(app.count("SELECT count(*) FROM refunds").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM resolutions").await, 0);
    assert_eq!(app.audit_count().await, 0, "nothing audited");
    assert_eq!(
        app.count(window).await,
        moved_before,
        "no event queued again"
    );
    let after = (
        app.order("CO-CSRF-1").await,
        app.order("CO-CSRF-2").await,
        app.order("CO-CSRF-3").await,
    );
    assert_eq!(before, after);
    // The session survived the forged sign-out.
    app.console_page("/console/orders", &session).await;
}

#[tokio::test]
async fn expired_and_signed_out_sessions_show_nothing() {
    let app = console_app(&[]).await;
    card_paid(&app, "CO-SESSION", 1_000, 4).await;
    let session = app.sign_in().await;
    assert!(app
        .console_page("/console/orders", &session)
        .await
        .contains("CO-SESSION"));

    // session_minutes is 60 by default: a minute past it the session is over.
    app.clock.advance(Duration::minutes(61));
    for path in ["/console/orders", "/console/orders/CO-SESSION"] {
        let response = app.console_get(path, Some(&session)).await;
        assert_eq!(response.status(), 303, "{path}");
        assert_eq!(response.headers()["location"], "/console/sign-in");
        assert!(!response.text().await.unwrap().contains("CO-SESSION"));
    }

    let session = app.sign_in().await;
    let page = app.console_page("/console/orders", &session).await;
    assert!(page.contains("로그아웃"));
    let response = app
        .console_post("/console/sign-out", &session, &[("csrf", &csrf_of(&page))])
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/console/sign-in");
    assert_eq!(
        set_cookie(&response, "console_session").as_deref(),
        Some("")
    );
    for path in ["/console/orders", "/console/orders/CO-SESSION"] {
        let response = app.console_get(path, Some(&session)).await;
        assert_eq!(response.status(), 303, "{path}: the old cookie is dead");
        assert!(!response.text().await.unwrap().contains("CO-SESSION"));
    }
    let ended = app
        .count("SELECT count(*) FROM console_sessions WHERE signed_out_at IS NOT NULL")
        .await;
    assert_eq!(ended, 1);
}

#[tokio::test]
async fn what_buyers_and_smartro_send_is_shown_as_text() {
    let app = console_app(&[]).await;
    let mut order = card_order("CO-XSS", 5_000);
    order["goods_name"] = "<script>alert(1)</script>".into();
    order["buyer"]["name"] = "<img src=x onerror=alert(2)>".into();
    app.create_order(order).await;
    // A forged inform naming the order, with markup in a field: rejected, kept, shown escaped.
    let mut forged = notification(
        "CO-XSS",
        &tid(5),
        5_000,
        "3001",
        StateCd::Approval,
        PayMethod::Card,
    );
    forged.goods_name = Some("<script>alert(3)</script>".into());
    forged.sign_value = "forged".into();
    let (status, _) = app.inform(forged.to_form_body()).await;
    assert!(status >= 400);

    let session = app.sign_in().await;
    let list = app.console_page("/console/orders", &session).await;
    let page = app.console_page("/console/orders/CO-XSS", &session).await;
    for (html, what) in [(&list, "list"), (&page, "order page")] {
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{what}"
        );
        assert!(
            html.contains("&lt;img src=x onerror=alert(2)&gt;"),
            "{what}"
        );
        assert!(
            !html.contains("<script>") && !html.contains("<img"),
            "{what}: {html}"
        );
    }
    assert!(
        page.contains("&lt;script&gt;alert(3)&lt;/script&gt;"),
        "the raw message, escaped"
    );
    assert!(page.contains("bad_signature"), "with its outcome");
    // The card number in the forged message is not shown whole.
    assert!(!page.contains("4111111111111111"));
    assert!(page.contains("************1111"));
    // Searching by the buyer's name finds it.
    let found = app
        .console_page("/console/orders?q=onerror", &session)
        .await;
    assert!(found.contains("/console/orders/CO-XSS"));
}

/// A paid order, a signed-in operator and the order page's cancel form filled in, with Smartro's answers to cancels
/// held: an action on its way.
struct HeldCancel {
    smartro: CancelDouble,
    app: TestApp,
    session: String,
    action: String,
    fields: Vec<(&'static str, String)>,
}

impl HeldCancel {
    async fn new(order_id: &str, n: u32, amount: &str) -> HeldCancel {
        let smartro = CancelDouble::start().await;
        let app = console_app(&[("GATEWAY__SMARTRO__CANCEL_URL", &smartro.url)]).await;
        card_paid(&app, order_id, 10_000, n).await;
        let session = app.sign_in().await;
        let page = app
            .console_page(&format!("/console/orders/{order_id}"), &session)
            .await;
        let action = format!("/console/orders/{order_id}/cancel");
        let fields = vec![
            ("csrf", csrf_of(&page)),
            ("form_id", form_id_of(&page, &action)),
            ("amount", amount.to_string()),
            ("reason", "고객 요청".to_string()),
        ];
        smartro.hold();
        HeldCancel {
            smartro,
            app,
            session,
            action,
            fields,
        }
    }

    /// Posts the form.
    async fn post(&self) -> reqwest::Response {
        let fields: Vec<(&str, &str)> = self.fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.app
            .console_post(&self.action, &self.session, &fields)
            .await
    }
}

/// The audit entry is written before the action runs: while a cancel is on its way to Smartro, the operator's entry
/// is there, pending; it is settled with the outcome when the answer comes.
#[tokio::test]
async fn an_action_is_in_the_audit_log_before_it_runs() {
    let held = HeldCancel::new("CO-PENDING", 8, "1,000").await;
    let (smartro, app) = (&held.smartro, &held.app);
    let posted = held.post();
    let entry = || async {
        sqlx::query_as::<_, (String, String, String)>(
            "SELECT operator, outcome, detail FROM console_audit WHERE action = 'cancel'",
        )
        .fetch_all(&app.db.pool)
        .await
        .unwrap()
    };
    let watched = async {
        smartro.wait_for(1).await;
        let during = entry().await;
        smartro.release(1);
        during
    };
    let (response, during) = tokio::join!(posted, watched);
    assert_eq!(
        during,
        vec![(OPERATOR.to_string(), "pending".to_string(), String::new())],
        "written before Smartro was called"
    );
    assert_eq!(response.status(), 303);
    let after = entry().await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].1, "succeeded");
    assert!(after[0].2.contains("1,000원 취소"), "{after:?}");
}

/// A browser that hangs up while its cancel is on its way to Smartro stops neither the cancel nor its audit entry.
#[tokio::test]
async fn an_action_whose_browser_hangs_up_is_still_done_and_audited() {
    let held = HeldCancel::new("CO-HANGUP", 9, "2,000").await;
    let (smartro, app) = (&held.smartro, &held.app);
    // The browser's request is dropped, its connection closed, once Smartro has the cancel.
    tokio::select! {
        _ = held.post() => panic!("answered while Smartro held the cancel"),
        _ = smartro.wait_for(1) => {}
    }
    // The gateway notices the hang-up before Smartro answers.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    smartro.release(1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let outcome: String =
            sqlx::query_scalar("SELECT outcome FROM console_audit WHERE action = 'cancel'")
                .fetch_one(&app.db.pool)
                .await
                .unwrap();
        if outcome == "succeeded" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the entry stayed {outcome}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(app.order("CO-HANGUP").await["cancelled_amount"], 2_000);
}

#[tokio::test]
async fn a_partial_cancel_from_the_console_is_the_apis_cancel() {
    let smartro = CancelDouble::start().await;
    let app = console_app(&[("GATEWAY__SMARTRO__CANCEL_URL", &smartro.url)]).await;
    card_paid(&app, "CO-CANCEL", 10_000, 6).await;
    card_paid(&app, "CO-OTHER", 2_000, 7).await;
    let session = app.sign_in().await;

    // Found by its id, then opened from the list.
    let list = app
        .console_page("/console/orders?q=CO-CANCEL", &session)
        .await;
    assert!(list.contains(r#"href="/console/orders/CO-CANCEL""#));
    assert!(!list.contains("CO-OTHER"));
    let by_tid = app
        .console_page(&format!("/console/orders?q={}", tid(6)), &session)
        .await;
    assert!(by_tid.contains("CO-CANCEL") && !by_tid.contains("CO-OTHER"));

    let page = app
        .console_page("/console/orders/CO-CANCEL", &session)
        .await;
    assert!(page.contains(">취소</button>"));
    let action = "/console/orders/CO-CANCEL/cancel";
    let fields = [
        ("csrf", csrf_of(&page)),
        ("form_id", form_id_of(&page, action)),
        ("amount", "3,000".to_string()),
        ("reason", "고객 요청".to_string()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = app.console_post(action, &session, &fields).await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with("/console/orders/CO-CANCEL?done="),
        "{location}"
    );

    let order = app.order("CO-CANCEL").await;
    assert_eq!(order["status"], "partially_cancelled");
    assert_eq!(order["cancelled_amount"], 3_000);
    let requests = smartro.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].cancel_amt, 3_000);
    assert!(requests[0].partial);

    let shown = app
        .console_page(location.split('#').next().unwrap(), &session)
        .await;
    assert!(shown.contains(r#"data-outcome="succeeded""#), "{shown}");
    assert!(shown.contains("3,000원 취소"));
    let (operator, outcome): (String, String) = sqlx::query_as(
        "SELECT operator, outcome FROM console_audit WHERE action = 'cancel' AND order_id = 'CO-CANCEL'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(
        (operator.as_str(), outcome.as_str()),
        (OPERATOR, "succeeded")
    );

    // The same form sent again (a double click) cancels nothing more.
    let again = app.console_post(action, &session, &fields).await;
    assert_eq!(again.status(), 303);
    assert_eq!(smartro.requests().len(), 1);
    assert_eq!(app.order("CO-CANCEL").await["cancelled_amount"], 3_000);

    // More than is left: refused before Smartro, with the reason shown and audited.
    let page = app
        .console_page("/console/orders/CO-CANCEL", &session)
        .await;
    let fields = [
        ("csrf", csrf_of(&page)),
        ("form_id", form_id_of(&page, action)),
        ("amount", "9000".to_string()),
        ("reason", "고객 요청".to_string()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = app.console_post(action, &session, &fields).await;
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let shown = app
        .console_page(location.split('#').next().unwrap(), &session)
        .await;
    assert!(shown.contains(r#"data-outcome="refused""#), "{shown}");
    assert!(shown.contains("입력값을 확인해 주세요"));
    assert_eq!(smartro.requests().len(), 1);

    // A typo in the amount is a refusal naming it, not an error page.
    let fields = [
        ("csrf", csrf_of(&page)),
        ("form_id", "typo-1".to_string()),
        ("amount", "abc".to_string()),
        ("reason", "x".to_string()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = app.console_post(action, &session, &fields).await;
    assert_eq!(response.status(), 303);
    assert_eq!(app.audit_count().await, 4);
}

#[tokio::test]
async fn refund_resolve_and_redeliver_from_the_console() {
    let hooks = unreachable_url().await;
    let app = console_app(&[
        ("GATEWAY__WEBHOOKS__URL", &hooks),
        ("GATEWAY__WEBHOOKS__SECRET", "whsec_console_test"),
    ])
    .await;
    vbank_paid(&app, "CO-VBANK", 20_000, 8).await;
    under_review(&app, "CO-REVIEW", 9).await;
    let session = app.sign_in().await;

    // A refund of a virtual-account payment.
    let page = app.console_page("/console/orders/CO-VBANK", &session).await;
    assert!(
        !page.contains(r#"id="cancel-form""#),
        "VBANK money is refunded, not cancelled"
    );
    let action = "/console/orders/CO-VBANK/refund";
    let response = app
        .console_post(
            action,
            &session,
            &[
                ("csrf", &csrf_of(&page)),
                ("form_id", &form_id_of(&page, action)),
                ("amount", "5000"),
                ("reason", "입금 후 주문 취소"),
                ("bank_code", "004"),
                ("account", "110-123-456789"),
                ("holder", "홍길동"),
                ("reference", "TR-1"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let order = app.order("CO-VBANK").await;
    assert_eq!(order["status"], "partially_cancelled");
    assert_eq!(order["refunded_amount"], 5_000);
    assert_eq!(order["refunds"][0]["recorded_by"], OPERATOR);
    let page = app.console_page("/console/orders/CO-VBANK", &session).await;
    assert!(page.contains("***-***-**6789"), "the account masked");
    assert!(!page.contains("110-123-456789"));

    // Accepting the payment under review.
    let page = app
        .console_page("/console/orders/CO-REVIEW", &session)
        .await;
    let action = "/console/orders/CO-REVIEW/resolve";
    let response = app
        .console_post(
            action,
            &session,
            &[
                ("csrf", &csrf_of(&page)),
                ("form_id", &form_id_of(&page, action)),
                ("action", "accept"),
                ("reason", "고객과 확인함"),
            ],
        )
        .await;
    assert_eq!(response.status(), 303);
    let order = app.order("CO-REVIEW").await;
    assert_eq!(order["status"], "paid");
    assert_eq!(order["resolutions"][0]["resolved_by"], OPERATOR);

    // Sending one of its webhook events again.
    let page = app
        .console_page("/console/orders/CO-REVIEW", &session)
        .await;
    assert!(page.contains(r#"class="redeliver-form""#));
    let event: String = sqlx::query_scalar(
        "SELECT id FROM outbox_events WHERE order_id = 'CO-REVIEW' ORDER BY seq LIMIT 1",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    sqlx::query("UPDATE outbox_events SET delivery_status = 'failed' WHERE id = $1")
        .bind(&event)
        .execute(&app.db.pool)
        .await
        .unwrap();
    // A delivery attempt that failed is on the timeline.
    sqlx::query(
        "INSERT INTO webhook_attempts (event_id, attempted_at, status_code, latency_ms, error, worker)
         VALUES ($1, now(), 500, 42, 'shop answered 500', 'w1')",
    )
    .bind(&event)
    .execute(&app.db.pool)
    .await
    .unwrap();
    let page = app
        .console_page("/console/orders/CO-REVIEW", &session)
        .await;
    assert!(page.contains("웹훅 전송 시도") && page.contains("HTTP 500"));
    assert!(page.contains("shop answered 500"));
    let action = format!("/console/orders/CO-REVIEW/events/{event}/redeliver");
    let response = app
        .console_post(
            &action,
            &session,
            &[("csrf", &csrf_of(&page)), ("form_id", "redeliver-1")],
        )
        .await;
    assert_eq!(response.status(), 303);
    let status: String =
        sqlx::query_scalar("SELECT delivery_status FROM outbox_events WHERE id = $1")
            .bind(&event)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(status, "pending");

    // An event of another order is not redelivered under this one.
    let foreign: String = sqlx::query_scalar(
        "SELECT id FROM outbox_events WHERE order_id = 'CO-VBANK' ORDER BY seq LIMIT 1",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let action = format!("/console/orders/CO-REVIEW/events/{foreign}/redeliver");
    app.console_post(
        &action,
        &session,
        &[("csrf", &csrf_of(&page)), ("form_id", "redeliver-2")],
    )
    .await;

    let audit: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT action, order_id, outcome FROM console_audit WHERE operator = $1 AND order_id IS NOT NULL ORDER BY id",
    )
    .bind(OPERATOR)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    let audit: Vec<(&str, &str, &str)> = audit
        .iter()
        .map(|(a, o, r)| (a.as_str(), o.as_str(), r.as_str()))
        .collect();
    assert_eq!(
        audit,
        [
            ("refund", "CO-VBANK", "succeeded"),
            ("resolve", "CO-REVIEW", "succeeded"),
            ("redeliver", "CO-REVIEW", "succeeded"),
            ("redeliver", "CO-REVIEW", "refused"),
        ]
    );
    let page = app
        .console_page("/console/orders/CO-REVIEW", &session)
        .await;
    assert!(
        page.contains("검토 처리") && page.contains("웹훅 재전송"),
        "the audit log on the page"
    );
}

#[tokio::test]
async fn terminals_and_summary_pages() {
    let app = console_app(&[]).await;
    card_paid(&app, "CO-SUM-1", 10_000, 10).await;
    card_paid(&app, "CO-SUM-2", 5_000, 11).await;
    vbank_paid(&app, "CO-SUM-3", 7_000, 12).await;
    let session = app.sign_in().await;
    // The test clock stands at 2026-11-21 12:00 KST.
    let summary = app.console_page("/console/summary", &session).await;
    assert!(summary.contains(r#"value="2026-11-21""#));
    assert!(summary.contains("<svg"), "the chart");
    assert!(summary.contains("15,000원"), "cards: 10,000 + 5,000");
    assert!(summary.contains("22,000원"), "online in all");
    let other_day = app
        .console_page("/console/summary?day=2026-11-20", &session)
        .await;
    assert!(!other_day.contains("15,000원"));
    let bad = app
        .console_get("/console/summary?day=yesterday", Some(&session))
        .await;
    assert_eq!(bad.status(), 400);
    let terminals = app.console_page("/console/terminals", &session).await;
    assert!(terminals.contains("설정된 단말기가 없습니다"));
    let bad = app
        .console_get("/console/orders?status=nope", Some(&session))
        .await;
    assert_eq!(bad.status(), 400);
    let missing = app
        .console_get("/console/orders/NO-SUCH", Some(&session))
        .await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn a_terminal_sale_on_the_console() {
    use common::terminal::{simulator, wait_status, wait_terminals, TERMINAL};
    let sim = simulator(
        Some(sandbox::config::AutoDecision::Approve),
        sandbox::terminal::TerminalFaults::default(),
    )
    .await;
    let address = sim.addr().to_string();
    let app = console_app(&[
        ("GATEWAY__TERMINALS__0__ID", TERMINAL),
        ("GATEWAY__TERMINALS__0__ADDRESS", &address),
        ("GATEWAY__TERMINALS__0__TIMEOUT_SECS", "35"),
    ])
    .await;
    wait_terminals(&app, "the terminal connects", |v| {
        v["data"][0]["connected"] == true
    })
    .await;
    let response = app
        .post_keyed(
            &format!("/v1/terminals/{TERMINAL}/payments"),
            "console-sale-1",
            &serde_json::json!({ "amount": 4_500, "method": "card" }),
        )
        .await;
    assert_eq!(response.status(), 202);
    let tx: serde_json::Value = response.json().await.unwrap();
    let (tx, _) = wait_status(&app, tx["id"].as_str().unwrap(), "succeeded", 60).await;
    let order_id = tx["order_id"].as_str().unwrap().to_string();

    let session = app.sign_in().await;
    let terminals = app.console_page("/console/terminals", &session).await;
    assert!(terminals.contains(TERMINAL), "{terminals}");
    assert!(terminals.contains("연결됨"), "connected: {terminals}");
    // Viewing the page asks the terminal nothing: its totals come only when asked for.
    let asked = |sim: &sandbox::terminal::TerminalSimulator| {
        sim.state()
            .received()
            .into_iter()
            .filter(|t| t.as_deref() == Some("050099"))
            .count()
    };
    assert_eq!(asked(&sim), 0, "totals asked without the operator asking");
    assert!(terminals.contains("단말기 합계 조회"), "{terminals}");
    let terminals = app
        .console_page(&format!("/console/terminals?totals={TERMINAL}"), &session)
        .await;
    assert_eq!(asked(&sim), 1);
    assert!(
        terminals.contains("장부 (Ledger)"),
        "totals beside the ledger: {terminals}"
    );
    assert!(terminals.contains("일치"), "the sale agrees: {terminals}");
    let page = app
        .console_page(&format!("/console/orders/{order_id}"), &session)
        .await;
    assert!(page.contains("단말기 거래"), "{page}");
    assert!(page.contains("단말기 메시지"), "the terminal's messages");
    let list = app
        .console_page("/console/orders?channel=terminal", &session)
        .await;
    assert!(list.contains(&order_id));
}

#[tokio::test]
async fn cookies_are_secure_behind_https() {
    let app = console_app(&[("GATEWAY__SERVER__PUBLIC_URL", "https://pay.example.com")]).await;
    let response = app.console_get("/console/sign-in", None).await;
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[test]
fn hash_password_reads_stdin_and_refuses_arguments() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_smartro-gateway"))
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"typed password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hash = String::from_utf8(out.stdout).unwrap();
    let hash = hash.trim();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(gateway::console::password::verify("typed password", hash));
    assert!(!hash.contains("typed password"));
    // The password is never an argument: one given is refused.
    let refused = Command::new(env!("CARGO_BIN_EXE_smartro-gateway"))
        .args(["hash-password", "secret"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    // Nothing typed: no hash of an empty password.
    let empty = Command::new(env!("CARGO_BIN_EXE_smartro-gateway"))
        .arg("hash-password")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!empty.status.success());
    assert!(empty.stdout.is_empty());
}

#[tokio::test]
async fn the_orders_list_pages_and_filters() {
    let app = console_app(&[]).await;
    for n in 0..52 {
        app.create_order(card_order(&format!("CO-PAGE-{n:02}"), 1_000))
            .await;
    }
    card_paid(&app, "CO-PAGE-PAID", 1_000, 20).await;
    let session = app.sign_in().await;
    let first = app.console_page("/console/orders", &session).await;
    assert_eq!(first.matches(r#"class="order-link""#).count(), 50);
    assert!(first.contains("CO-PAGE-PAID") && !first.contains("CO-PAGE-01\""));
    let at = first.find(r#"id="next-page""#).expect("a next page");
    let href_at = first[..at].rfind("href=\"").unwrap() + "href=\"".len();
    let next = first[href_at..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let second = app.console_page(&next, &session).await;
    assert_eq!(second.matches(r#"class="order-link""#).count(), 3);
    assert!(second.contains("CO-PAGE-00") && !second.contains(r#"id="next-page""#));

    let paid = app
        .console_page("/console/orders?status=paid", &session)
        .await;
    assert_eq!(paid.matches(r#"class="order-link""#).count(), 1);
    assert!(paid.contains("CO-PAGE-PAID"));
    let vbank = app
        .console_page("/console/orders?pay_method=VBANK", &session)
        .await;
    assert_eq!(vbank.matches(r#"class="order-link""#).count(), 0);
    // The test clock stands at 2026-11-21 (KST): a range before it finds nothing, one around it everything.
    let before = app
        .console_page("/console/orders?from=2026-11-01&to=2026-11-20", &session)
        .await;
    assert_eq!(before.matches(r#"class="order-link""#).count(), 0);
    let around = app
        .console_page(
            "/console/orders?from=2026-11-21&to=2026-11-21&q=CO-PAGE-5",
            &session,
        )
        .await;
    assert_eq!(
        around.matches(r#"class="order-link""#).count(),
        2,
        "CO-PAGE-50 and -51"
    );
    let email = app
        .console_page("/console/orders?q=BUYER%40EXAMPLE", &session)
        .await;
    assert_eq!(
        email.matches(r#"class="order-link""#).count(),
        50,
        "case-insensitive e-mail search"
    );
    // LIKE's wildcards are taken literally.
    let wildcard = app.console_page("/console/orders?q=%25", &session).await;
    assert_eq!(wildcard.matches(r#"class="order-link""#).count(), 0);
}

#[tokio::test]
async fn a_removed_operators_session_ends() {
    let app = console_app(&[]).await;
    let session = app.sign_in().await;
    app.console_page("/console/orders", &session).await;
    // The same database served by a gateway whose configuration no longer has this operator.
    let other_hash = operator_hash();
    let settings = test_settings(&[
        ("GATEWAY__CONSOLE__OPERATORS__0__NAME", "someone-else"),
        ("GATEWAY__CONSOLE__OPERATORS__0__PASSWORD_HASH", other_hash),
    ]);
    let gateway = gateway::app::Gateway::start(
        std::sync::Arc::new(settings),
        app.db.pool.clone(),
        std::sync::Arc::new(app.clock.clone()),
    )
    .await
    .expect("second gateway");
    let response = app
        .http
        .get(format!("{}/console/orders", gateway.url()))
        .header("cookie", format!("console_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "the operator is gone");
    assert_eq!(response.headers()["location"], "/console/sign-in");
}

#[tokio::test]
async fn a_longer_name_is_not_the_operator() {
    let long: String = "o".repeat(64);
    let app = spawn_app_with(&[
        ("GATEWAY__CONSOLE__OPERATORS__0__NAME", long.as_str()),
        (
            "GATEWAY__CONSOLE__OPERATORS__0__PASSWORD_HASH",
            operator_hash(),
        ),
    ])
    .await;
    let form = app.sign_in_form().await;
    let longer = format!("{long}ooo");
    let signed = app.sign_in_with(&form, &longer, PASSWORD).await;
    assert_eq!(signed.status, 401, "{longer} is not {long}");
    assert!(signed.session.is_none());
    assert_eq!(app.sign_in_with(&form, &long, PASSWORD).await.status, 303);
}

#[tokio::test]
async fn concurrent_guesses_do_not_pass_the_limit() {
    let app = console_app(&[]).await;
    let form = app.sign_in_form().await;
    // Many guesses at once: each may only be checked against the password while the name is under its limit.
    let mut guesses = tokio::task::JoinSet::new();
    for n in 0..16 {
        let http = app.http.clone();
        let url = app.url("/console/sign-in");
        let (cookie, csrf) = form.clone();
        guesses.spawn(async move {
            http.post(url)
                .header("cookie", format!("console_sign_in={cookie}"))
                .form(&[
                    ("csrf", csrf.as_str()),
                    ("name", OPERATOR),
                    ("password", &format!("guess {n}")),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let mut checked = 0;
    while let Some(status) = guesses.join_next().await {
        match status.unwrap() {
            401 => checked += 1,
            429 => {}
            other => panic!("unexpected {other}"),
        }
    }
    // Guesses that arrive together may even all be refused; what matters is that no more than 5 are checked.
    assert!(
        checked <= 5,
        "{checked} guesses were checked, at most 5 may be"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM console_sign_in_failures")
            .await,
        checked,
        "refused guesses are not stored"
    );
}

#[tokio::test]
async fn old_sign_in_failures_are_purged_without_a_success() {
    let app = console_app(&[]).await;
    let form = app.sign_in_form().await;
    for n in 0..3 {
        app.sign_in_with(&form, &format!("guess{n}"), "x").await;
    }
    app.clock.advance(Duration::days(2));
    assert_eq!(app.sign_in_with(&form, "guess9", "x").await.status, 401);
    assert_eq!(
        app.count("SELECT count(*) FROM console_sign_in_failures")
            .await,
        1,
        "failures older than a day are gone"
    );
}

#[tokio::test]
async fn odd_paths_and_bodies_are_answered_without_a_server_error() {
    let smartro = CancelDouble::start().await;
    let app = console_app(&[("GATEWAY__SMARTRO__CANCEL_URL", &smartro.url)]).await;
    card_paid(&app, "CO-ODD", 10_000, 30).await;
    let session = app.sign_in().await;
    let page = app.console_page("/console/orders/CO-ODD", &session).await;
    let csrf = csrf_of(&page);
    let long = "x".repeat(4000);
    for path in [
        "/console/orders/a%2Fb".to_string(),
        "/console/orders/%2E%2E%2Fadmin".to_string(),
        format!("/console/orders/{long}"),
        "/console/orders/%FF".to_string(),
        "/console/orders/%00".to_string(),
        "/console/summary?day=%FF".to_string(),
        "/console/orders?q=%FF%FE&before=99999999999999999999".to_string(),
        "/console/orders/CO-ODD?done=%00".to_string(),
    ] {
        let response = app.console_get(&path, Some(&session)).await;
        let status = response.status();
        assert!(!status.is_server_error(), "{path}: {status}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    }
    // An action on an order that does not exist, a body that is not UTF-8, malformed escapes, repeated fields.
    let cancel = |order: &str, body: Vec<u8>| {
        app.http
            .post(app.url(&format!("/console/orders/{order}/cancel")))
            .header("cookie", format!("console_session={session}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    };
    let form = |id: u8, extra: &str| {
        let mut body = format!("csrf={csrf}&form_id=odd-{id}&").into_bytes();
        body.extend_from_slice(extra.as_bytes());
        body
    };
    for (order, body) in [
        ("NO-SUCH-ORDER", form(1, "reason=x")),
        ("CO-ODD", {
            let mut b = form(2, "amount=1000&reason=");
            b.extend_from_slice(&[0xFF, 0xFE, b'%', b'Z']);
            b
        }),
        ("CO-ODD", form(3, "amount=%%%&reason=%")),
    ] {
        let response = cancel(order, body).send().await.unwrap();
        assert_eq!(response.status(), 303, "{order}");
        assert_eq!(response.headers()["cache-control"], "no-store");
    }
    assert!(smartro.requests().is_empty(), "nothing was cancelled");
    // A body over the limit is refused before it is read.
    let huge = vec![b'a'; 2 * 1024 * 1024];
    let response = cancel("CO-ODD", huge).send().await.unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(app.order("CO-ODD").await["status"], "paid");
}

#[tokio::test]
async fn days_at_the_end_of_the_calendar_are_answered_without_a_panic() {
    let app = console_app(&[]).await;
    let session = app.sign_in().await;
    for path in [
        "/console/summary?day=%2B262143-12-31",
        "/console/summary?day=%2B262144-01-01",
        "/console/summary?day=-262143-01-01",
        "/console/orders?to=%2B262143-12-31",
        "/console/orders?from=-262144-01-01&to=%2B262142-12-31",
    ] {
        let response = app
            .http
            .get(app.url(path))
            .header("cookie", format!("console_session={session}"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: no answer ({e})"));
        assert!(!response.status().is_server_error(), "{path}");
    }
}

#[tokio::test]
async fn unknown_console_paths_and_methods_get_the_console_headers() {
    let app = console_app(&[]).await;
    let session = app.sign_in().await;
    for (method, path) in [
        ("GET", "/console/nope"),
        ("POST", "/console/orders"),
        ("GET", "/console/sign-out"),
        ("GET", "/console/orders/X/cancel"),
    ] {
        let response = app
            .http
            .request(method.parse().unwrap(), app.url(path))
            .header("cookie", format!("console_session={session}"))
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(status == 404 || status == 405, "{method} {path}: {status}");
        assert_eq!(
            response
                .headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn a_changed_password_ends_the_sessions_signed_in_with_the_old_one() {
    let app = console_app(&[]).await;
    let session = app.sign_in().await;
    app.console_page("/console/orders", &session).await;
    // The same database served by a gateway whose configuration has a new password for the same operator.
    let new_hash = gateway::console::password::hash_password("a new password").expect("hash");
    let settings = test_settings(&[
        ("GATEWAY__CONSOLE__OPERATORS__0__NAME", OPERATOR),
        (
            "GATEWAY__CONSOLE__OPERATORS__0__PASSWORD_HASH",
            new_hash.as_str(),
        ),
    ]);
    let gateway = gateway::app::Gateway::start(
        std::sync::Arc::new(settings),
        app.db.pool.clone(),
        std::sync::Arc::new(app.clock.clone()),
    )
    .await
    .expect("second gateway");
    let response = app
        .http
        .get(format!("{}/console/orders", gateway.url()))
        .header("cookie", format!("console_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "the old password's session is over");
    assert_eq!(response.headers()["location"], "/console/sign-in");
    // Where the password is unchanged, the session goes on.
    app.console_page("/console/orders", &session).await;
}
