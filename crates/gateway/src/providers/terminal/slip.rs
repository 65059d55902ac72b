//! The gateway's own sales slip (매출전표), printed on the terminal after an approval is committed when the
//! terminal is set to `print_receipt = true`. The text is Korean, as a shop's slip is; it shows only what the
//! terminal itself reported (masked card number, approval number), never more.

use smartro_terminal::{PrintCommand, PrintCommandKind, PrintRequest};

use crate::domain::TerminalTxKind;
use crate::store::terminal::TerminalTxRow;

/// Headings and totals in the seed's larger size, the rest in its smaller one.
const LARGE: i64 = 20;
const SMALL: i64 = 10;

/// `12,000원`.
pub fn won(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    let sign = if amount < 0 { "-" } else { "" };
    format!("{sign}{out}원")
}

/// `YYYY-MM-DD hh:mm:ss` of the terminal's `YYYYMMDDhhmmss` (or `yyMMddhhmmss`); anything else as sent.
pub fn slip_date(date: &str) -> String {
    let full = match date.len() {
        12 if date.bytes().all(|b| b.is_ascii_digit()) => format!("20{date}"),
        _ => date.to_string(),
    };
    if full.len() == 14 && full.bytes().all(|b| b.is_ascii_digit()) {
        format!(
            "{}-{}-{} {}:{}:{}",
            &full[0..4],
            &full[4..6],
            &full[6..8],
            &full[8..10],
            &full[10..12],
            &full[12..14]
        )
    } else {
        full
    }
}

/// The print request of an approval's slip.
pub fn sales_slip(tx: &TerminalTxRow) -> PrintRequest {
    let text2 = |a: &str, b: &str| {
        PrintCommand::text(
            PrintCommandKind::Text2,
            SMALL,
            vec![a.to_string(), b.to_string()],
        )
    };
    let title = match tx.kind {
        TerminalTxKind::EasyPayApproval => "간편결제 매출전표",
        _ => "신용카드 매출전표",
    };
    let amount = tx.approved_amount.unwrap_or(tx.amount);
    let installment = tx
        .request
        .get("installment")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0);
    let mut commands = vec![
        PrintCommand::text(PrintCommandKind::Left, LARGE, vec![title.to_string()]),
        PrintCommand::bare(PrintCommandKind::Line),
        text2("단말기", &tx.terminal_id),
    ];
    if let Some(card) = tx.masked_card.as_deref().filter(|c| !c.is_empty()) {
        commands.push(text2("카드번호", card));
    }
    if let Some(issuer) = tx.issuer_name.as_deref().filter(|c| !c.is_empty()) {
        commands.push(text2("카드사", issuer));
    }
    commands.push(text2(
        "할부",
        &if installment >= 2 {
            format!("{installment}개월")
        } else {
            "일시불".to_string()
        },
    ));
    commands.push(text2("승인번호", tx.approval_no.as_deref().unwrap_or("-")));
    commands.push(text2(
        "거래일시",
        &slip_date(tx.transaction_date.as_deref().unwrap_or("-")),
    ));
    if let Some(order) = tx.order_id.as_deref() {
        commands.push(text2("주문번호", order));
    }
    commands.push(PrintCommand::bare(PrintCommandKind::Line));
    commands.push(PrintCommand::text(
        PrintCommandKind::Text2,
        LARGE,
        vec!["승인금액".to_string(), won(amount)],
    ));
    commands.push(PrintCommand::bare(PrintCommandKind::Line));
    commands.push(PrintCommand::text(
        PrintCommandKind::Left,
        SMALL,
        vec!["감사합니다".to_string()],
    ));
    commands.push(PrintCommand::bare(PrintCommandKind::CuttingLine));
    PrintRequest {
        font_family: None,
        alert: Some(false),
        commands,
        extra: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_and_dates_read_as_on_a_korean_slip() {
        assert_eq!(won(12_000), "12,000원");
        assert_eq!(won(1_234_567), "1,234,567원");
        assert_eq!(won(500), "500원");
        assert_eq!(slip_date("20261202103000"), "2026-12-02 10:30:00");
        assert_eq!(slip_date("261202103000"), "2026-12-02 10:30:00");
        assert_eq!(slip_date("soon"), "soon");
    }
}
