//! Small HTML helpers shared by the pages.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use smartro::form::{encode_bytes, Charset};
use smartro::types::PayMethod;

/// Escape text for element content and double- or single-quoted attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `1004` → `1,004`
pub(crate) fn won(amount: i64) -> String {
    let mut reversed = String::new();
    let mut group = 0;
    for c in amount.unsigned_abs().to_string().chars().rev() {
        if group == 3 {
            reversed.push(',');
            group = 0;
        }
        reversed.push(c);
        group += 1;
    }
    if amount < 0 {
        reversed.push('-');
    }
    reversed.chars().rev().collect()
}

/// Korean name of a payment method, as Smartro's `PayName` spells it.
pub(crate) fn pay_name(method: &PayMethod) -> &'static str {
    match method {
        PayMethod::Card => "신용카드",
        PayMethod::Bank => "계좌이체",
        PayMethod::Vbank => "가상계좌",
        PayMethod::Cellphone => "휴대폰",
        PayMethod::Clgift => "문화상품권",
        PayMethod::Toss => "토스",
        PayMethod::Kakao => "카카오페이",
        PayMethod::Other(_) => "기타",
    }
}

const STYLE: &str = "body{font-family:sans-serif;background:#f4f5f7;margin:0;padding:24px}\
main{max-width:480px;margin:0 auto;background:#fff;border-radius:8px;padding:24px;box-shadow:0 1px 4px #0002}\
h1{font-size:20px;margin-top:0}table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:6px 4px;\
border-bottom:1px solid #eee}th{color:#555;font-weight:normal;width:35%}select{width:100%;padding:6px;margin:4px 0 12px}\
button{padding:10px 18px;margin-right:8px;font-size:16px;border-radius:4px;border:1px solid #888;cursor:pointer}\
#approve{background:#1a73e8;color:#fff;border-color:#1a73e8}.error{color:#b00020}.muted{color:#777;font-size:13px}";

/// A complete UTF-8 page.
pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"ko\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title><style>{STYLE}</style></head>\
<body><main>{body}</main></body></html>\n",
        escape(title)
    )
}

pub(crate) fn html_response(status: StatusCode, html: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

/// A page in `charset`: EUC-KR pages are encoded to EUC-KR bytes (characters it lacks become `&#NNNN;`, which
/// HTML reads back as the same character).
pub(crate) fn charset_response(charset: Charset, html: &str) -> Response {
    match charset {
        Charset::Utf8 => html_response(StatusCode::OK, html.to_string()),
        Charset::EucKr => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=euc-kr")],
            encode_bytes(html, Charset::EucKr),
        )
            .into_response(),
    }
}

/// Smartro-style error page: a result code and message, also machine-readable (`#error-code`,
/// `#error-message`, and a `smartro-result-code` meta tag).
pub(crate) fn error_page(status: StatusCode, code: &str, message: &str, detail: &str) -> Response {
    let body = format!(
        "<h1 class=\"error\">결제 요청 오류</h1>\
<p>오류코드: <strong id=\"error-code\">{code}</strong></p>\
<p>오류내용: <strong id=\"error-message\">{message}</strong></p>\
<p class=\"muted\" id=\"error-detail\">{detail}</p>",
        code = escape(code),
        message = escape(message),
        detail = escape(detail),
    );
    let html = page("결제 오류", &body).replacen(
        "<title>",
        &format!(
            "<meta name=\"smartro-result-code\" content=\"{}\"><title>",
            escape(code)
        ),
        1,
    );
    html_response(status, html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn won_groups_thousands() {
        assert_eq!(won(0), "0");
        assert_eq!(won(999), "999");
        assert_eq!(won(1004), "1,004");
        assert_eq!(won(1_234_567), "1,234,567");
        assert_eq!(won(-51_000), "-51,000");
    }

    #[test]
    fn escape_covers_attribute_breakers() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
