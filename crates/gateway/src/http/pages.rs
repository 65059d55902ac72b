//! The few HTML pages a buyer sees: the mainPay page, a result page, and pages that say why not.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::error::ApiError;
use crate::store::OrderRecord;

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn won(amount: i64) -> String {
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

fn layout(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: -apple-system, "Apple SD Gothic Neo", "Malgun Gothic", sans-serif; background: #f5f6f8; margin: 0; }}
main {{ max-width: 28rem; margin: 3rem auto; background: #fff; border-radius: 12px; padding: 2rem;
        box-shadow: 0 2px 12px rgba(0,0,0,.08); }}
h1 {{ font-size: 1.3rem; margin-top: 0; }}
dl {{ display: grid; grid-template-columns: auto 1fr; gap: .4rem 1rem; }}
dt {{ color: #666; }} dd {{ margin: 0; text-align: right; }}
.amount {{ font-size: 1.4rem; font-weight: 700; }}
button {{ width: 100%; padding: .9rem; font-size: 1.05rem; border: 0; border-radius: 8px; background: #1f6feb;
          color: #fff; cursor: pointer; }}
.note {{ color: #555; font-size: .9rem; }}
</style>
</head>
<body><main>{body}</main></body>
</html>"#,
        title = escape(title),
    )
}

fn summary(record: &OrderRecord) -> String {
    let o = &record.order;
    format!(
        r#"<dl>
<dt>주문번호</dt><dd id="order-id">{}</dd>
<dt>상품명</dt><dd id="goods-name">{}</dd>
<dt>구매자</dt><dd id="buyer-name">{}</dd>
<dt>결제금액</dt><dd class="amount" id="amount">{}</dd>
</dl>"#,
        escape(&o.order_id),
        escape(&o.goods_name),
        escape(&o.buyer_name),
        won(o.amount),
    )
}

/// What the holder of a confirmed result may see: the order and what it costs, not who bought it (a result
/// proves a payment with this Moid, and Smartro lets a payer choose the Moid).
fn result_summary(record: &OrderRecord) -> String {
    let o = &record.order;
    format!(
        r#"<dl>
<dt>주문번호</dt><dd id="order-id">{}</dd>
<dt>상품명</dt><dd id="goods-name">{}</dd>
<dt>결제금액</dt><dd class="amount" id="amount">{}</dd>
</dl>"#,
        escape(&o.order_id),
        escape(&o.goods_name),
        won(o.amount),
    )
}

/// The mainPay page: a summary and the signed form, posted to Smartro in EUC-KR as its pages expect.
pub fn checkout(
    record: &OrderRecord,
    action: &str,
    fields: &[(&'static str, String)],
) -> Html<String> {
    let inputs: String = fields
        .iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
                escape(name),
                escape(value)
            )
        })
        .collect();
    let body = format!(
        r#"<h1>결제하기</h1>
{summary}
<form id="payForm" name="payForm" method="post" action="{action}" accept-charset="EUC-KR">
{inputs}<button type="submit" id="pay-button">{amount} 결제하기</button>
</form>
<p class="note">결제는 스마트로(Smartro) 결제창에서 진행됩니다.</p>"#,
        summary = summary(record),
        action = escape(action),
        amount = won(record.order.amount),
    );
    Html(layout("결제하기", &body))
}

pub fn not_payable(record: &OrderRecord, why: &str) -> Response {
    let body = format!(
        r#"<h1>결제할 수 없는 주문입니다</h1>
{}
<p id="reason">{}</p>"#,
        summary(record),
        escape(why)
    );
    (
        StatusCode::CONFLICT,
        Html(layout("결제할 수 없는 주문", &body)),
    )
        .into_response()
}

/// Shown after returnPay when the order has no return_url of its own.
pub fn result(record: &OrderRecord) -> Response {
    let (title, text) = match record.order.status.as_str() {
        "paid" => ("결제 완료", "결제가 완료되었습니다. (Payment completed.)"),
        "awaiting_deposit" => (
            "가상계좌 발급",
            "가상계좌가 발급되었습니다. 기한 내에 입금해 주세요. (Virtual account issued.)",
        ),
        "needs_review" => (
            "결제 확인 필요",
            "결제 내용 확인이 필요합니다. 상점에 문의해 주세요. (Needs review.)",
        ),
        "pending" => (
            "결제 실패",
            "결제가 완료되지 않았습니다. 다시 시도해 주세요. (Payment not completed.)",
        ),
        _ => ("주문 상태", "주문 상태를 확인해 주세요."),
    };
    let mut extra = String::new();
    if let (Some(code), Some(msg)) = (&record.order.result_code, &record.order.result_message) {
        extra.push_str(&format!(
            "<p class=\"note\" id=\"result\">[{}] {}</p>",
            escape(code),
            escape(msg)
        ));
    }
    if let Some(account) = &record.order.vbank_account {
        extra.push_str(&format!(
            "<p id=\"vbank\">{} {}</p>",
            escape(record.order.vbank_bank_name.as_deref().unwrap_or("")),
            escape(account)
        ));
    }
    // A result under review disagrees with the order (another amount, a second payment): it shows nothing of it.
    let (summary, extra) = if record.order.status == crate::domain::OrderStatus::NeedsReview {
        (String::new(), String::new())
    } else {
        (result_summary(record), extra)
    };
    let body = format!(
        r#"<h1 id="title">{}</h1>
<p id="status" data-status="{}">{}</p>
{}
{}"#,
        escape(title),
        escape(record.order.status.as_str()),
        escape(text),
        summary,
        extra
    );
    Html(layout(title, &body)).into_response()
}

/// Shown while a returnPay's result waits for confirmation. It shows nothing of the order (the result may be a
/// forgery) and reloads `follow_url`, which redirects as soon as the result is confirmed.
pub fn confirming(follow_url: &str) -> Response {
    let body = format!(
        r#"<h1 id="title">결제 확인 중</h1>
<p id="status" data-status="confirming">스마트로에 결제 내용을 확인하고 있습니다. 잠시만 기다려 주세요.
(Confirming the payment with Smartro. This page updates by itself.)</p>
<p class="note"><a href="{url}">새로고침 (Refresh)</a></p>"#,
        url = escape(follow_url)
    );
    let page = layout("결제 확인 중", &body).replacen(
        "<head>",
        &format!(
            "<head>\n<meta http-equiv=\"refresh\" content=\"2;url={}\">",
            escape(follow_url)
        ),
        1,
    );
    (StatusCode::OK, Html(page)).into_response()
}

/// A payment attempt that did not complete, for a buyer with no shop page to go back to. Only the (signed)
/// result code is shown, with the catalogue's words for it; nothing of the order.
pub fn not_completed(result_code: &str) -> Response {
    let meaning = smartro::codes::result_code(result_code)
        .map(|c| c.message)
        .unwrap_or("");
    let body = format!(
        r#"<h1 id="title">결제 미완료</h1>
<p id="status" data-status="not_completed">결제가 완료되지 않았습니다. 다시 시도해 주세요. (Payment not completed.)</p>
<p class="note" id="result">[{}] {}</p>"#,
        escape(result_code),
        escape(meaning)
    );
    (StatusCode::OK, Html(layout("결제 미완료", &body))).into_response()
}

pub fn message(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<h1>{}</h1>\n<p id=\"reason\">{}</p>",
        escape(title),
        escape(text)
    );
    (status, Html(layout(title, &body))).into_response()
}

pub fn problem_page(err: &ApiError) -> Response {
    message(err.status, err.title, &err.detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(escape("홍길동"), "홍길동");
    }

    #[test]
    fn formats_won() {
        assert_eq!(won(0), "0원");
        assert_eq!(won(1004), "1,004원");
        assert_eq!(won(1_000_000), "1,000,000원");
    }
}
