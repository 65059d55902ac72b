//! The console's HTML. maud escapes every value it is given, so text from buyers, shops or Smartro (goods names,
//! raw messages) is shown as text, never as markup. Korean first, English hints in parentheses.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, FixedOffset, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde_json::Value;

use super::chart::{self, Bar};
use super::raw;
use super::session::Operator;
use crate::service::problem::ApiError;
use crate::store::console::{
    AuditEntry, DeliveryAttempt, OrderLine, RawMessage, SummaryRow, TerminalMessage,
};
use crate::store::delivery::EventRow;
use crate::store::StoreError;
use crate::views::{path_segment, OrderView};

pub const SIGN_IN_FAILED: &str =
    "이름 또는 비밀번호가 올바르지 않습니다. (The name or the password is not right.)";
pub const TOO_MANY_ATTEMPTS: &str = "로그인 시도가 너무 많습니다. 15분 뒤에 다시 시도해 주세요. \
     (Too many sign-in attempts: try again in 15 minutes.)";

pub fn html(status: StatusCode, page: Markup) -> Response {
    (status, Html(page.into_string())).into_response()
}

/// The database could not be reached: 503, so that nothing is mistaken for an answer.
pub fn unavailable(e: &StoreError) -> Response {
    tracing::error!(error = %e, "console: database unavailable");
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        message_page(
            "일시적인 오류 (Temporarily unavailable)",
            "데이터베이스에 연결할 수 없습니다. 잠시 후 다시 시도해 주세요. (The database cannot be reached.)",
        ),
    )
}

pub fn won(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if amount < 0 {
        out.insert(0, '-');
    }
    format!("{out}원")
}

pub fn korea() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("UTC+9 is a valid offset")
}

/// A time as Korean staff read it.
pub fn kst(at: DateTime<Utc>) -> String {
    at.with_timezone(&korea())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

pub fn status_label(status: &str) -> &'static str {
    match status {
        "pending" => "결제대기",
        "awaiting_deposit" => "입금대기",
        "paid" => "결제완료",
        "partially_cancelled" => "부분취소",
        "cancelled" => "취소",
        "expired" => "만료",
        "needs_review" => "검토필요",
        _ => "",
    }
}

pub fn method_label(method: &str) -> &'static str {
    match method {
        "CARD" => "신용카드",
        "BANK" => "계좌이체",
        "VBANK" => "가상계좌",
        "CELLPHONE" => "휴대폰",
        "CLGIFT" => "문화상품권",
        "TOSS" => "토스페이",
        "KAKAO" => "카카오페이",
        "EASYPAY" => "간편결제",
        _ => "",
    }
}

pub fn channel_label(channel: &str) -> &'static str {
    match channel {
        "online" => "온라인",
        "terminal" => "단말기",
        _ => "",
    }
}

fn outcome_label(outcome: &str) -> &'static str {
    match outcome {
        "received" => "수신",
        "applied" => "반영됨",
        "duplicate" => "중복",
        "malformed" => "형식 오류",
        "unknown_merchant" => "모르는 상점",
        "bad_signature" => "서명 불일치",
        "unknown_order" => "모르는 주문",
        "unconfirmed" => "확인 대기",
        "refuted" => "위조 의심(거부)",
        "pending" => "결과 미기록",
        "succeeded" => "성공",
        "refused" => "거절",
        "failed" => "실패",
        _ => "",
    }
}

fn action_label(action: &str) -> &'static str {
    match action {
        "cancel" => "취소",
        "refund" => "환불 기록",
        "resolve" => "검토 처리",
        "redeliver" => "웹훅 재전송",
        "sign_in" => "로그인",
        "sign_out" => "로그아웃",
        _ => "",
    }
}

/// A problem in Korean, then the service's own words.
pub fn problem_text(e: &ApiError) -> String {
    let korean = match e.code {
        "validation_failed" => "입력값을 확인해 주세요.",
        "nul_character" => "허용되지 않는 문자가 있습니다.",
        "not_euc_kr" => "스마트로에 보낼 수 없는 문자가 있습니다.",
        "not_found" => "찾을 수 없습니다.",
        "order_not_cancellable" => "이 상태의 주문은 취소할 수 없습니다.",
        "vbank_not_cancellable" => {
            "가상계좌 결제는 스마트로로 취소할 수 없습니다. 직접 이체로 환불하고 환불을 기록하세요."
        }
        "cancel_in_progress" => "이 주문의 다른 취소가 진행 중입니다.",
        "cancellation_outcome_unknown" => {
            "결과를 모르는 취소가 있어 대사 전까지 새 취소를 보낼 수 없습니다."
        }
        "nothing_to_cancel" => "취소할 금액이 남아 있지 않습니다.",
        "cancel_window_closed" => "취소 가능 기간이 지났습니다. 직접 환불하고 환불을 기록하세요.",
        "smartro_refused" => "스마트로가 거절했습니다.",
        "smartro_no_answer" => "스마트로가 응답하지 않았습니다. 결과는 대사 후 반영됩니다.",
        "smartro_unreadable" => "스마트로의 응답을 읽을 수 없습니다. 결과는 대사 후 반영됩니다.",
        "cancel_request_invalid" => "취소 요청이 올바르지 않습니다.",
        "order_not_refundable" => "환불할 결제 금액이 없는 주문입니다.",
        "refund_reference_recorded" => "같은 참조번호의 환불이 이미 기록되어 있습니다.",
        "order_not_under_review" => "검토필요 상태의 주문이 아닙니다.",
        "no_reviewed_payment" => "검토 대상 결제가 없습니다.",
        "another_payment_accepted" | "review_payment_counted" => "이미 주문에 반영된 결제입니다.",
        "returned_exceeds_payment" => "이미 돌려준 금액이 검토 대상 결제보다 큽니다.",
        "review_payment_differs" => {
            "검토 대상 결제를 주문의 결제로 승인할 수 없습니다. 취소로 처리하세요."
        }
        "review_payment_already_cancelled" => {
            "스마트로가 이미 전액 취소했습니다. 승인으로 처리하세요."
        }
        "webhooks_not_configured" => "웹훅 주소가 설정되지 않았습니다.",
        "idempotency_key_reused" => {
            "같은 양식이 다른 내용으로 제출되었습니다. 페이지를 새로 고쳐 주세요."
        }
        "idempotency_in_progress" => "같은 요청을 처리하고 있습니다. 잠시 후 새로 고쳐 주세요.",
        "terminal_busy" => "단말기가 다른 거래를 처리하고 있습니다.",
        "terminal_disconnected" => "단말기가 연결되어 있지 않습니다.",
        _ if e.status.is_server_error() => "처리하지 못했습니다.",
        _ => "요청이 거절되었습니다.",
    };
    format!("{korean} ({}: {})", e.title, e.detail)
}

const STYLE: &str = r#"
*{box-sizing:border-box}
body{font-family:-apple-system,"Apple SD Gothic Neo","Malgun Gothic","Noto Sans CJK KR","NanumGothic",sans-serif;
 margin:0;background:#f5f6f8;color:#1b1f24;font-size:15px;line-height:1.45}
header{background:#14213d;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.4rem 1rem;align-items:center}
header a{color:#fff;text-decoration:none;font-weight:600}
header .brand{font-weight:700;margin-right:auto}
header form{margin:0}
header button{background:#fff;color:#14213d;border:0;border-radius:6px;padding:.3rem .7rem;font-size:.9rem;cursor:pointer}
main{max-width:72rem;margin:0 auto;padding:1rem}
h1{font-size:1.35rem;margin:.4rem 0 1rem} h2{font-size:1.1rem;margin:1.6rem 0 .6rem}
.hint{color:#5b6470;font-size:.85em;font-weight:normal}
.card{background:#fff;border-radius:10px;padding:1rem;box-shadow:0 1px 6px rgba(0,0,0,.07);margin-bottom:1rem}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.45rem .5rem;border-bottom:1px solid #e6e8eb;vertical-align:top}
th{font-size:.85rem;color:#5b6470;white-space:nowrap}
td.num,th.num{text-align:right;white-space:nowrap}
.badge{display:inline-block;border-radius:999px;padding:.05rem .55rem;font-size:.8rem;background:#e6e8eb;white-space:nowrap}
.s-paid,.s-succeeded,.s-applied,.s-delivered{background:#d8f3dc;color:#1b5e20}
.s-needs_review,.s-unconfirmed,.s-pending,.s-awaiting_deposit,.s-unknown,.s-requested{background:#fff3c4;color:#7a5a00}
.s-cancelled,.s-partially_cancelled,.s-refuted,.s-bad_signature,.s-failed,.s-refused,.s-malformed,.s-unknown_order,
.s-unknown_merchant{background:#fde2e1;color:#8e1c17}
form.filters{display:grid;grid-template-columns:repeat(auto-fit,minmax(9.5rem,1fr));gap:.6rem;align-items:end}
form.filters .wide{grid-column:1/-1}
label{display:block;font-size:.85rem;color:#5b6470}
input,select,textarea{width:100%;padding:.5rem;border:1px solid #c9ced6;border-radius:6px;font-size:1rem;background:#fff}
button.primary,button.danger{padding:.55rem 1.1rem;border:0;border-radius:6px;font-size:1rem;color:#fff;cursor:pointer;background:#1f6feb}
button.danger{background:#c62828}
button.small{padding:.2rem .6rem;font-size:.85rem;border:1px solid #c9ced6;border-radius:6px;background:#fff;cursor:pointer}
.actions{display:grid;grid-template-columns:repeat(auto-fit,minmax(17rem,1fr));gap:1rem;align-items:start}
.actions form{display:grid;gap:.5rem}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem;margin:0}
dl.facts dt{color:#5b6470} dl.facts dd{margin:0;word-break:break-all}
ol.timeline{list-style:none;padding:0;margin:0}
ol.timeline li{background:#fff;border-left:4px solid #1f6feb;border-radius:6px;padding:.6rem .8rem;margin-bottom:.5rem}
ol.timeline .when{color:#5b6470;font-size:.85rem;margin-right:.4rem}
ol.timeline .kind{font-weight:700;margin-right:.4rem}
ol.timeline li.k-raw{border-color:#8e44ad} ol.timeline li.k-webhook{border-color:#00897b}
ol.timeline li.k-terminal{border-color:#ef6c00} ol.timeline li.k-money{border-color:#c62828}
details summary{cursor:pointer;color:#1f6feb}
table.fields td{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem;word-break:break-all}
.notice{border-radius:8px;padding:.8rem 1rem;margin-bottom:1rem}
.notice.ok{background:#d8f3dc;color:#1b5e20} .notice.bad{background:#fde2e1;color:#8e1c17}
.pager{margin-top:1rem}
.signin{max-width:22rem;margin:3rem auto}
.signin form{display:grid;gap:.8rem}
svg.chart{max-width:36rem;display:block}
@media (max-width:40rem){main{padding:.6rem}h1{font-size:1.2rem}th,td{padding:.35rem}
 table.stack thead{display:none} table.stack tr{display:block;border-bottom:1px solid #c9ced6;padding:.4rem 0}
 table.stack td{display:flex;gap:.6rem;border:0;padding:.15rem .5rem;text-align:left}
 table.stack td::before{content:attr(data-label);color:#5b6470;font-size:.8rem;min-width:4.5rem;flex:none}}
"#;

fn page(title: &str, operator: Option<&Operator>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="ko" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) " · 운영 콘솔" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    span.brand { "운영 콘솔 " span.hint style="color:#c9d3e6" { "(Operator console)" } }
                    @if let Some(operator) = operator {
                        a href="/console/orders" { "주문" }
                        a href="/console/terminals" { "단말기" }
                        a href="/console/summary" { "일별 요약" }
                        span id="operator" { (operator.name) }
                        form method="post" action="/console/sign-out" {
                            input type="hidden" name="csrf" value=(operator.csrf);
                            button type="submit" id="sign-out" { "로그아웃" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

pub fn message_page(title: &str, text: &str) -> Markup {
    page(
        title,
        None,
        html! {
            div.card {
                h1 { (title) }
                p id="reason" { (text) }
                p { a href="/console" { "콘솔로 돌아가기 (Back to the console)" } }
            }
        },
    )
}

pub fn sign_in_page(csrf: &str, message: Option<&str>) -> Markup {
    page(
        "로그인",
        None,
        html! {
            div.card.signin {
                h1 { "로그인 " span.hint { "(Sign in)" } }
                @if let Some(message) = message {
                    p.notice.bad id="sign-in-error" role="alert" { (message) }
                }
                form method="post" action="/console/sign-in" id="sign-in-form" {
                    input type="hidden" name="csrf" value=(csrf);
                    div {
                        label for="name" { "이름 (Name)" }
                        input id="name" name="name" autocomplete="username" required autocapitalize="none";
                    }
                    div {
                        label for="password" { "비밀번호 (Password)" }
                        input id="password" name="password" type="password" autocomplete="current-password" required;
                    }
                    button.primary type="submit" id="sign-in" { "로그인" }
                }
            }
        },
    )
}

fn badge(value: &str, label: &str) -> Markup {
    html! {
        span class={"badge s-" (value)} { (label) @if !label.is_empty() { " " } span.hint { "(" (value) ")" } }
    }
}

fn hidden_tokens(operator: &Operator, form_id: &str) -> Markup {
    html! {
        input type="hidden" name="csrf" value=(operator.csrf);
        input type="hidden" name="form_id" value=(form_id);
    }
}

/// What the orders page was asked for, to fill its filter form and its links.
#[derive(Debug, Default, Clone)]
pub struct OrdersQuery {
    pub q: String,
    pub status: String,
    pub pay_method: String,
    pub channel: String,
    pub from: String,
    pub to: String,
}

impl OrdersQuery {
    /// The query string of this search with `before` as the page cursor.
    pub fn link(&self, before: i64) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("q", &self.q),
            ("status", &self.status),
            ("pay_method", &self.pay_method),
            ("channel", &self.channel),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if !v.is_empty() {
                query.append_pair(k, v);
            }
        }
        query.append_pair("before", &before.to_string());
        format!("/console/orders?{}", query.finish())
    }
}

fn select(name: &str, label: &str, chosen: &str, options: &[(&str, &str)]) -> Markup {
    html! {
        div {
            label for=(name) { (label) }
            select id=(name) name=(name) {
                option value="" { "전체 (All)" }
                @for (value, text) in options {
                    option value=(value) selected[*value == chosen] { (text) " (" (value) ")" }
                }
            }
        }
    }
}

pub fn orders_page(
    operator: &Operator,
    query: &OrdersQuery,
    problem: Option<&str>,
    lines: &[OrderLine],
    next: Option<i64>,
) -> Markup {
    let statuses: Vec<(&str, &str)> = crate::domain::OrderStatus::ALL
        .iter()
        .map(|s| (s.as_str(), status_label(s.as_str())))
        .collect();
    let methods: Vec<(&str, &str)> = crate::domain::PayMethod::ALL
        .iter()
        .map(|m| (m.as_str(), method_label(m.as_str())))
        .collect();
    page(
        "주문",
        Some(operator),
        html! {
            h1 { "주문 " span.hint { "(Orders)" } }
            div.card {
                form.filters method="get" action="/console/orders" id="order-search" {
                    div.wide {
                        label for="q" { "검색: 주문번호 · TID · 구매자 (Search)" }
                        input id="q" name="q" type="search" value=(query.q) placeholder="주문번호, TID, 이름, 이메일";
                    }
                    (select("status", "상태 (Status)", &query.status, &statuses))
                    (select("pay_method", "결제수단 (Method)", &query.pay_method, &methods))
                    (select("channel", "채널 (Channel)", &query.channel, &[("online", "온라인"), ("terminal", "단말기")]))
                    div {
                        label for="from" { "생성일 부터 (From, KST)" }
                        input id="from" name="from" type="date" value=(query.from);
                    }
                    div {
                        label for="to" { "생성일 까지 (To, KST)" }
                        input id="to" name="to" type="date" value=(query.to);
                    }
                    div { button.primary type="submit" id="search" { "검색" } }
                }
            }
            @if let Some(problem) = problem {
                p.notice.bad id="search-error" role="alert" { (problem) }
            }
            div.scroll {
                table.stack id="orders" {
                    thead { tr {
                        th { "주문번호" } th { "상태" } th { "채널 · 수단" } th { "상품명" } th { "구매자" }
                        th.num { "금액" } th.num { "취소·환불" } th { "생성 (KST)" }
                    } }
                    tbody {
                        @for line in lines {
                            tr {
                                td data-label="주문번호" { a href={"/console/orders/" (path_segment(&line.order_id))} class="order-link" { (line.order_id) } }
                                td data-label="상태" { (badge(&line.status, status_label(&line.status))) }
                                td data-label="채널·수단" { (channel_label(&line.channel)) " · " (method_label(&line.pay_method)) }
                                td data-label="상품명" { (line.goods_name) }
                                td data-label="구매자" { span { (line.buyer_name) br; span.hint { (line.buyer_email) } } }
                                td.num data-label="금액" { (won(line.amount)) }
                                td.num data-label="취소·환불" { (won(line.cancelled_amount + line.refunded_amount)) }
                                td data-label="생성" { (kst(line.created_at)) }
                            }
                        }
                        @if lines.is_empty() {
                            tr { td colspan="8" { "주문이 없습니다 (No orders)" } }
                        }
                    }
                }
            }
            @if let Some(before) = next {
                p.pager { a href=(query.link(before)) id="next-page" { "다음 페이지 (Older) →" } }
            }
        },
    )
}

/// Everything the order page shows.
pub struct OrderPage<'a> {
    pub operator: &'a Operator,
    pub order: &'a OrderView,
    pub raw: &'a [RawMessage],
    pub events: &'a [EventRow],
    pub attempts: &'a [DeliveryAttempt],
    pub terminal_messages: &'a [TerminalMessage],
    pub audit: &'a [AuditEntry],
    /// The audit entry of the action just done, shown as its outcome.
    pub done: Option<i64>,
    /// A fresh id per rendering; each form appends its own suffix.
    pub form_id: &'a str,
    pub webhooks_configured: bool,
}

fn raw_item(m: &RawMessage) -> Markup {
    let source = match m.source.as_str() {
        "return" => "returnPay",
        "inform" => "inform (RetryURL)",
        other => other,
    };
    html! {
        span.kind { "스마트로 메시지" } span.hint { "(Smartro " (source) " #" (m.id) ")" } " "
        (badge(&m.outcome, outcome_label(&m.outcome)))
        @if let Some(detail) = &m.detail { div { (raw::mask_card_numbers(detail)) } }
        div.hint {
            @if let Some(tid) = &m.tid { "TID " (tid) " · " }
            @if let Some(by) = &m.confirmed_by { "확인 (confirmed by) " (by) " · " }
            "보낸 곳 (from) " (m.remote_addr.as_deref().unwrap_or("-"))
        }
        details {
            summary { "받은 내용 (Raw fields, card numbers masked)" }
            div.scroll { table.fields {
                @for (name, value) in raw::fields(&m.body) {
                    tr { td { (name) } td { (value) } }
                }
            } }
        }
    }
}

fn timeline(p: &OrderPage<'_>) -> Vec<(DateTime<Utc>, &'static str, Markup)> {
    let o = p.order;
    let mut items: Vec<(DateTime<Utc>, &'static str, Markup)> = Vec::new();
    items.push((
        o.created_at,
        "order",
        html! { span.kind { "주문 생성" } span.hint { "(Order created)" } " " (won(o.amount)) " · " (o.goods_name) },
    ));
    for m in p.raw {
        items.push((m.received_at, "raw", raw_item(m)));
    }
    for pay in &o.payments {
        items.push((
            pay.created_at,
            "money",
            html! {
                span.kind { "결제" } span.hint { "(Payment, " (pay.source.as_str()) ")" } " "
                (badge(if pay.success { "succeeded" } else { "failed" }, if pay.success { "성공" } else { "실패" }))
                " " (won(pay.amount))
                div.hint { "TID " (pay.tid) " · [" (pay.result_code) "] " (pay.result_message)
                    @if let Some(code) = &pay.auth_code { " · 승인번호 " (code) } }
            },
        ));
    }
    for c in &o.cancellations {
        items.push((
            c.requested_at,
            "money",
            html! {
                span.kind { @if c.partial { "부분취소" } @else { "취소" } } span.hint { "(Cancellation, " (c.origin.as_str()) ")" } " "
                (badge(c.status.as_str(), outcome_label(c.status.as_str()))) " " (won(c.amount))
                div.hint { "사유 (reason) " (c.reason)
                    @if let Some(code) = &c.result_code { " · [" (code) "] " (c.result_message.as_deref().unwrap_or("")) }
                    @if let Some(ptid) = &c.ptid { " · PTID " (ptid) }
                    @if let Some(done) = c.completed_at { " · 완료 " (kst(done)) } }
            },
        ));
    }
    for r in &o.refunds {
        items.push((
            r.created_at,
            "money",
            html! {
                span.kind { "환불 기록" } span.hint { "(Refund by the merchant)" } " " (won(r.amount))
                div.hint { (r.bank_name.as_deref().unwrap_or(&r.bank_code)) " " (r.account) " · 예금주 " (r.holder)
                    " · 사유 " (r.reason) @if let Some(reference) = &r.reference { " · 참조 " (reference) }
                    " · 기록 " (r.recorded_by) }
            },
        ));
    }
    for v in &o.resolutions {
        items.push((
            v.created_at,
            "money",
            html! {
                span.kind { "검토 처리" } span.hint { "(Resolution: " (v.action.as_str()) ")" } " "
                (badge(v.outcome.as_str(), ""))
                div.hint { "처리자 (by) " (v.resolved_by) " · 사유 " (v.reason) " · TID " (v.tid)
                    " · 이전 금액 " (won(v.former_amount)) }
            },
        ));
    }
    if let Some(terminal) = &o.terminal {
        for t in &terminal.transactions {
            let status = serde_json::to_value(t.status).ok();
            let status = status.as_ref().and_then(Value::as_str).unwrap_or("");
            let kind = serde_json::to_value(t.kind).ok();
            items.push((
                t.created_at,
                "terminal",
                html! {
                    span.kind { "단말기 거래" } span.hint { "(Terminal " (t.terminal_id) ", "
                        (kind.as_ref().and_then(Value::as_str).unwrap_or("")) ")" } " "
                    (badge(status, "")) " " (won(t.amount))
                    div.hint {
                        @if let Some(no) = &t.approval_no { "승인번호 " (no) " · " }
                        @if let Some(card) = &t.masked_card { "카드 " (raw::mask_card_numbers(card)) " · " }
                        @if let Some(code) = &t.result_code { "[" (code) "] " (t.result_message.as_deref().unwrap_or("")) }
                    }
                },
            ));
        }
    }
    for m in p.terminal_messages {
        items.push((
            m.at,
            "terminal",
            html! {
                span.kind { "단말기 메시지" } span.hint { "(Terminal message " (m.terminal_id) ", "
                    @if m.direction == "out" { "gateway → terminal" } @else { "terminal → gateway" } ")" } " "
                (m.message_type.as_deref().unwrap_or("-"))
                @if let Some(note) = &m.note { div.hint { (raw::mask_card_numbers(note)) } }
            },
        ));
    }
    for e in p.events {
        items.push((
            e.created_at,
            "webhook",
            html! {
                span.kind { "웹훅 이벤트" } span.hint { "(Webhook " (e.id) ")" } " " (e.event_type) " "
                (badge(&e.delivery_status, "")) " " span.hint { "시도 " (e.attempts) "회" }
                @if let Some(err) = &e.last_error { div.hint { "마지막 오류 (last error) " (err) } }
                @if p.webhooks_configured {
                    form method="post" action={"/console/orders/" (path_segment(&o.order_id)) "/events/" (path_segment(&e.id)) "/redeliver"}
                        style="margin-top:.3rem" class="redeliver-form" {
                        (hidden_tokens(p.operator, &format!("{}-r-{}", p.form_id, e.seq)))
                        button.small type="submit" { "재전송 (Redeliver)" }
                    }
                }
            },
        ));
    }
    for a in p.attempts {
        items.push((
            a.attempted_at,
            "webhook",
            html! {
                span.kind { "웹훅 전송 시도" } span.hint { "(Delivery attempt of " (a.event_id) ")" } " "
                @match a.status_code { Some(code) => { "HTTP " (code) }, None => { "응답 없음 (no answer)" } }
                " · " (a.latency_ms) "ms"
                @if let Some(err) = &a.error { div.hint { (err) } }
            },
        ));
    }
    items.sort_by_key(|(at, _, _)| *at);
    items
}

fn facts(o: &OrderView) -> Markup {
    let left = o.paid_amount - o.cancelled_amount - o.refunded_amount;
    html! {
        dl.facts {
            dt { "상태 (Status)" } dd id="order-status" data-status=(o.status.as_str()) { (badge(o.status.as_str(), status_label(o.status.as_str()))) }
            dt { "상품명 (Goods)" } dd id="goods-name" { (o.goods_name) }
            dt { "구매자 (Buyer)" } dd id="buyer" { (o.buyer.name) " · " (o.buyer.email) " · " (o.buyer.tel) }
            dt { "채널 · 결제수단" } dd { (channel_label(o.channel.as_str())) " · " (method_label(o.pay_method.as_str())) " (" (o.pay_method.as_str()) ")" }
            dt { "주문금액 (Amount)" } dd { (won(o.amount)) }
            dt { "결제 · 취소 · 환불" } dd id="amounts" { (won(o.paid_amount)) " · " (won(o.cancelled_amount)) " · " (won(o.refunded_amount)) }
            dt { "남은 금액 (Left)" } dd id="left" { (won(left.max(0))) }
            dt { "MID · TID" } dd { (o.mid) " · " (o.tid.as_deref().unwrap_or("-")) }
            @if let Some(card) = &o.card {
                dt { "카드 (Card)" } dd { (card.issuer_name.as_deref().unwrap_or("")) " "
                    (card.masked_number.as_deref().map(raw::mask_card_numbers).unwrap_or_default()) }
            }
            @if let Some(v) = &o.vbank {
                dt { "가상계좌 (Virtual account)" } dd { (v.bank_name.as_deref().unwrap_or("")) " " (v.account.as_deref().unwrap_or("")) }
            }
            @if let Some(reason) = &o.review_reason {
                dt { "검토 사유 (Review)" } dd id="review-reason" { (reason) }
            }
            @if let (Some(code), Some(message)) = (&o.result_code, &o.result_message) {
                dt { "결과 (Result)" } dd { "[" (code) "] " (message) }
            }
            dt { "생성 · 결제 (KST)" } dd { (kst(o.created_at)) @if let Some(paid) = o.paid_at { " · " (kst(paid)) } }
        }
    }
}

fn actions(p: &OrderPage<'_>) -> Markup {
    let o = p.order;
    let path = format!("/console/orders/{}", path_segment(&o.order_id));
    let status = o.status.as_str();
    let open = matches!(status, "paid" | "partially_cancelled");
    let left = o.paid_amount - o.cancelled_amount - o.refunded_amount;
    let vbank = o.pay_method.as_str() == "VBANK";
    html! {
        div.actions {
            @if open && !vbank {
                form.card method="post" action={(path) "/cancel"} id="cancel-form" {
                    h2 style="margin-top:0" { "결제 취소 " span.hint { "(Cancel; blank amount: all that is left)" } }
                    (hidden_tokens(p.operator, &format!("{}-c", p.form_id)))
                    div { label for="cancel-amount" { "취소 금액 (Amount, 남은 금액 " (won(left)) ")" }
                        input id="cancel-amount" name="amount" inputmode="numeric" placeholder="전액 (all)"; }
                    div { label for="cancel-reason" { "사유 (Reason)" }
                        input id="cancel-reason" name="reason" required maxlength="30"; }
                    button.danger type="submit" id="cancel-submit" { "취소" }
                }
            }
            @if open {
                form.card method="post" action={(path) "/refund"} id="refund-form" {
                    h2 style="margin-top:0" { "환불 기록 " span.hint { "(Record a refund made by bank transfer)" } }
                    (hidden_tokens(p.operator, &format!("{}-f", p.form_id)))
                    div { label for="refund-amount" { "금액 (Amount)" } input id="refund-amount" name="amount" inputmode="numeric" required; }
                    div { label for="refund-bank" { "은행 (Bank)" }
                        select id="refund-bank" name="bank_code" required {
                            @for bank in smartro::codes::BANKS { option value=(bank.code) { (bank.name) " (" (bank.code) ")" } }
                        } }
                    div { label for="refund-account" { "계좌번호 (Account)" } input id="refund-account" name="account" inputmode="numeric" required; }
                    div { label for="refund-holder" { "예금주 (Holder)" } input id="refund-holder" name="holder" required; }
                    div { label for="refund-reason" { "사유 (Reason)" } input id="refund-reason" name="reason" required; }
                    div { label for="refund-reference" { "참조번호 (Reference, optional)" } input id="refund-reference" name="reference"; }
                    button.primary type="submit" id="refund-submit" { "환불 기록" }
                }
            }
            @if status == "needs_review" {
                form.card method="post" action={(path) "/resolve"} id="resolve-form" {
                    h2 style="margin-top:0" { "검토 처리 " span.hint { "(Resolve the review)" } }
                    (hidden_tokens(p.operator, &format!("{}-v", p.form_id)))
                    div { label for="resolve-action" { "처리 (Action)" }
                        select id="resolve-action" name="action" {
                            option value="accept" { "승인: 결제를 주문에 반영 (accept)" }
                            option value="cancel" { "취소: 스마트로에 결제 취소 요청 (cancel)" }
                        } }
                    div { label for="resolve-reason" { "사유 (Reason)" } input id="resolve-reason" name="reason" required maxlength="30"; }
                    button.primary type="submit" id="resolve-submit" { "검토 처리" }
                }
            }
            @if !open && status != "needs_review" {
                p.hint { "이 상태에서 할 수 있는 작업이 없습니다. (No action applies in this status.)" }
            }
        }
    }
}

pub fn order_page(p: &OrderPage<'_>) -> Markup {
    let o = p.order;
    let notice = p.done.and_then(|id| {
        p.audit
            .iter()
            .find(|a| a.id == id && a.operator == p.operator.name)
    });
    page(
        &format!("주문 {}", o.order_id),
        Some(p.operator),
        html! {
            p { a href="/console/orders" { "← 주문 목록 (Orders)" } }
            h1 { "주문 " span id="order-id" { (o.order_id) } }
            @if let Some(entry) = notice {
                div id="outcome" class={"notice " (if entry.outcome == "succeeded" { "ok" } else { "bad" })}
                    role="status" data-outcome=(entry.outcome) {
                    strong { (action_label(&entry.action)) " " (outcome_label(&entry.outcome)) } ": " (entry.detail)
                }
            }
            div.card { (facts(o)) }
            h2 { "작업 " span.hint { "(Actions)" } }
            (actions(p))
            h2 { "타임라인 " span.hint { "(Timeline: Smartro messages, payments, cancels, refunds, terminal, webhooks)" } }
            ol.timeline id="timeline" {
                @for (at, kind, item) in timeline(p) {
                    li class={"k-" (kind)} { span.when { (kst(at)) } (item) }
                }
            }
            h2 { "작업 기록 " span.hint { "(Audit log)" } }
            div.scroll {
                table id="audit" {
                    thead { tr { th { "시각 (KST)" } th { "운영자" } th { "작업" } th { "결과" } th { "내용" } } }
                    tbody {
                        @for a in p.audit {
                            tr {
                                td { (kst(a.at)) } td { (a.operator) }
                                td { (action_label(&a.action)) " " span.hint { "(" (a.action) ")" } }
                                td { (badge(&a.outcome, outcome_label(&a.outcome))) }
                                td { (a.detail) }
                            }
                        }
                        @if p.audit.is_empty() { tr { td colspan="5" { "기록이 없습니다 (Nothing yet)" } } }
                    }
                }
            }
        },
    )
}

/// One configured terminal as the page shows it: its state (the API's object) and its totals or why there are
/// none.
pub struct TerminalRow {
    pub state: Value,
    /// `None` until the operator asks this terminal for its totals.
    pub totals: Option<Result<Value, String>>,
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn bucket(v: &Value) -> String {
    format!(
        "{}건 · {}",
        v.get("count").and_then(Value::as_i64).unwrap_or(0),
        won(v.get("amount").and_then(Value::as_i64).unwrap_or(0))
    )
}

pub fn terminals_page(operator: &Operator, day: &str, terminals: &[TerminalRow]) -> Markup {
    page(
        "단말기",
        Some(operator),
        html! {
            h1 { "단말기 " span.hint { "(Card terminals)" } }
            @if terminals.is_empty() {
                p.card { "설정된 단말기가 없습니다. (No [[terminals]] configured.)" }
            }
            @for t in terminals {
                @let s = &t.state;
                @let connected = s.get("connected").and_then(Value::as_bool).unwrap_or(false);
                @let busy = s.get("busy").and_then(Value::as_bool).unwrap_or(false);
                div.card.terminal {
                    h2 style="margin-top:0" { (text(s, "id")) " " span.hint { (text(s, "address")) " · MID " (text(s, "mid")) } }
                    dl.facts {
                        dt { "연결 (Connected)" } dd { @if connected { (badge("succeeded", "연결됨")) } @else { (badge("failed", "끊김")) } }
                        dt { "거래 중 (Busy)" } dd { @if busy { (badge("pending", "거래 중")) } @else { "대기 (idle)" } }
                        @if let Some(open) = s.get("open_transaction").filter(|v| !v.is_null()) {
                            dt { "진행 중 거래 (Open transaction)" }
                            dd { (text(open, "kind")) " · " (text(open, "status")) " · "
                                (won(open.get("amount").and_then(Value::as_i64).unwrap_or(0)))
                                @if let Some(order) = open.get("order_id").and_then(Value::as_str) {
                                    " · " a href={"/console/orders/" (path_segment(order))} { (order) }
                                } }
                        }
                    }
                    h3 { "오늘 합계 대사 " span.hint { "(Totals " (day) ": terminal vs ledger)" } }
                    @match &t.totals {
                        None => {
                            form method="get" action="/console/terminals" {
                                input type="hidden" name="totals" value=(text(s, "id"));
                                button type="submit" { "단말기 합계 조회 " span.hint { "(Ask the terminal)" } }
                            }
                        }
                        Some(Ok(totals)) => {
                            div.scroll { table {
                                thead { tr { th {} th { "단말기 (Terminal)" } th { "장부 (Ledger)" } } }
                                tbody {
                                    tr { td { "승인 (Approved)" } td { (bucket(&totals["terminal"]["approved"])) } td { (bucket(&totals["ledger"]["approved"])) } }
                                    tr { td { "취소 (Cancelled)" } td { (bucket(&totals["terminal"]["cancelled"])) } td { (bucket(&totals["ledger"]["cancelled"])) } }
                                }
                            } }
                            @if totals.get("agree").and_then(Value::as_bool).unwrap_or(false) {
                                p { (badge("succeeded", "일치")) }
                            } @else {
                                p { (badge("failed", "불일치")) " 단말기와 장부의 합계가 다릅니다 (they differ)" }
                            }
                        }
                        Some(Err(why)) => { p.hint { "합계를 가져오지 못했습니다: " (why) } }
                    }
                }
            }
        },
    )
}

pub fn summary_page(
    operator: &Operator,
    day: &str,
    problem: Option<&str>,
    by_method: &[SummaryRow],
    by_channel: &[SummaryRow],
) -> Markup {
    let table = |rows: &[SummaryRow], label: fn(&str) -> &'static str, id: &str| {
        let total = SummaryRow {
            key: String::new(),
            count: rows.iter().map(|r| r.count).sum(),
            paid: rows.iter().map(|r| r.paid).sum(),
            cancelled: rows.iter().map(|r| r.cancelled).sum(),
            refunded: rows.iter().map(|r| r.refunded).sum(),
        };
        html! {
            div.scroll { table id=(id) {
                thead { tr { th {} th.num { "건수" } th.num { "결제" } th.num { "취소" } th.num { "환불" } th.num { "순액 (Net)" } } }
                tbody {
                    @for r in rows {
                        tr {
                            td { (label(&r.key)) " " span.hint { (r.key) } }
                            td.num { (r.count) } td.num { (won(r.paid)) } td.num { (won(r.cancelled)) }
                            td.num { (won(r.refunded)) } td.num { (won(r.paid - r.cancelled - r.refunded)) }
                        }
                    }
                    tr {
                        td { strong { "합계" } " " span.hint { "(Total)" } }
                        td.num { (total.count) } td.num { (won(total.paid)) } td.num { (won(total.cancelled)) }
                        td.num { (won(total.refunded)) } td.num { (won(total.paid - total.cancelled - total.refunded)) }
                    }
                }
            } }
        }
    };
    let method_bars: Vec<Bar> = by_method
        .iter()
        .map(|r| Bar {
            label: method_label(&r.key).to_string(),
            value: r.paid - r.cancelled - r.refunded,
        })
        .collect();
    let channel_bars: Vec<Bar> = by_channel
        .iter()
        .map(|r| Bar {
            label: channel_label(&r.key).to_string(),
            value: r.paid - r.cancelled - r.refunded,
        })
        .collect();
    page(
        "일별 요약",
        Some(operator),
        html! {
            h1 { "일별 요약 " span.hint { "(Daily summary, KST)" } }
            div.card {
                form.filters method="get" action="/console/summary" {
                    div { label for="day" { "날짜 (Day)" } input id="day" name="day" type="date" value=(day); }
                    div { button.primary type="submit" { "보기" } }
                }
                @if let Some(problem) = problem { p.notice.bad role="alert" { (problem) } }
                p.hint { "그날 결제된 주문과, 그 뒤 취소·환불된 금액 (Orders paid that day, with what has since gone back)" }
            }
            div.card {
                h2 style="margin-top:0" { "순액 차트 " span.hint { "(Net by method and channel)" } }
                (chart::bars(&format!("{day} 결제수단별 순액"), &method_bars))
                (chart::bars(&format!("{day} 채널별 순액"), &channel_bars))
            }
            h2 { "결제수단별 " span.hint { "(By pay method)" } }
            (table(by_method, method_label, "by-method"))
            h2 { "채널별 " span.hint { "(By channel)" } }
            (table(by_channel, channel_label, "by-channel"))
        },
    )
}
