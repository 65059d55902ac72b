//! The payment window's page and what the buyer chooses in it: card company and instalment (or those the merchant
//! fixed with fn_cd + CardQuota), bank, and the cash receipt of a Kakao or Toss payment. The escrow and sub-mall
//! split of the request are shown for the buyer to see what is being paid.

use smartro::codes::{self, Bank, CardCompany};
use smartro::divide::DivideInfo;
use smartro::form::RawForm;
use smartro::request::{Escrow, PaymentRequest};
use smartro::types::{CashReceiptType, PayMethod};

use crate::html::{escape, page, pay_name, won};
use crate::{AutoDecision, SandboxState};

/// Instalment choices of the window: lump sum, then 2 to 12 months.
pub(crate) const QUOTAS: [&str; 12] = [
    "00", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12",
];

/// What the buyer (or `--auto`) decided in the window.
pub(crate) struct Choice {
    pub approve: bool,
    pub card: Option<&'static CardCompany>,
    pub quota: String,
    pub bank: Option<&'static Bank>,
    /// The cash receipt asked for (Kakao and Toss with `ReceiptType=Y`).
    pub cash_receipt: Option<ReceiptChoice>,
}

/// The cash receipt the buyer asked for.
pub(crate) struct ReceiptChoice {
    pub kind: CashReceiptType,
    /// Phone number (income deduction) or business number (expense proof), digits only.
    pub id_no: String,
}

/// Why the window's answer cannot be taken: a Korean message for the page and a detail for the developer.
pub(crate) struct ChoiceError {
    pub message: &'static str,
    pub detail: String,
}

fn choice_error(message: &'static str, detail: String) -> ChoiceError {
    ChoiceError { message, detail }
}

pub(crate) fn first_card() -> Option<&'static CardCompany> {
    codes::CARD_COMPANIES.first()
}

/// The bank `--auto` and the window preselect: a major retail bank rather than the table's first row (the
/// central bank, which issues no accounts).
pub(crate) fn first_bank() -> Option<&'static Bank> {
    codes::bank("004").or_else(|| codes::BANKS.first())
}

/// The card company and instalment the merchant fixed with `fn_cd` + `CardQuota` (manual §3.1 items 28-29: set
/// only when the merchant chooses the card company), for a card payment. The request's validation has checked
/// that both are given together and that fn_cd is in the card table.
fn fixed_card(request: &PaymentRequest) -> Option<(&'static CardCompany, String)> {
    if request.pay_method != PayMethod::Card {
        return None;
    }
    let card = codes::card_by_issuer(request.fn_cd.as_deref()?)?;
    Some((card, request.card_quota.clone()?))
}

/// Whether the request asks for a cash receipt: `ReceiptType=Y`, which the protocol's validation allows on KAKAO
/// and TOSS only.
pub(crate) fn wants_cash_receipt(request: &PaymentRequest) -> bool {
    request.receipt_type == Some(true)
        && matches!(request.pay_method, PayMethod::Kakao | PayMethod::Toss)
}

/// The buyer's phone number as digits: the number an income-deduction receipt is issued to by default.
fn phone_digits(request: &PaymentRequest) -> String {
    request
        .buyer_tel
        .chars()
        .filter(char::is_ascii_digit)
        .collect()
}

/// A cash receipt's number: 10 to 18 digits for income deduction (a phone number, or a cash-receipt card's
/// number), a 10-digit business registration number for expense proof.
fn check_receipt_number(kind: &CashReceiptType, number: &str) -> Result<(), String> {
    let digits = !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit());
    let fits = match kind {
        CashReceiptType::ExpenseProof => digits && number.len() == 10,
        _ => digits && (10..=18).contains(&number.len()),
    };
    if fits {
        Ok(())
    } else {
        Err(format!(
            "{number:?} is not a {} number",
            kind.korean_name().unwrap_or_default()
        ))
    }
}

impl Choice {
    /// `--auto`: the card company and quota the merchant fixed, else the first card company and a lump sum; the
    /// first bank; an income-deduction cash receipt to the buyer's phone number when one is asked for.
    pub(crate) fn auto(decision: AutoDecision, request: &PaymentRequest) -> Choice {
        let (card, quota) = match fixed_card(request) {
            Some((card, quota)) => (Some(card), quota),
            None => (first_card(), "00".to_string()),
        };
        Choice {
            approve: decision == AutoDecision::Approve,
            card,
            quota,
            bank: first_bank(),
            cash_receipt: wants_cash_receipt(request).then(|| ReceiptChoice {
                kind: CashReceiptType::IncomeDeduction,
                id_no: phone_digits(request),
            }),
        }
    }

    /// The window's answer. A declined payment needs nothing more; an approval reads the fields its method shows.
    pub(crate) fn from_window(
        request: &PaymentRequest,
        approve: bool,
        form: &RawForm,
    ) -> Result<Choice, ChoiceError> {
        let mut choice = Choice {
            approve,
            card: None,
            quota: "00".to_string(),
            bank: None,
            cash_receipt: None,
        };
        if !approve {
            return Ok(choice);
        }
        match request.pay_method {
            PayMethod::Card => match fixed_card(request) {
                // What the merchant fixed is not the buyer's to change: the window shows no choice for it.
                Some((card, quota)) => {
                    choice.card = Some(card);
                    choice.quota = quota;
                }
                None => {
                    let code = form.get_text("card_code").unwrap_or_default();
                    let card = codes::card_by_issuer(&code).ok_or_else(|| {
                        choice_error("카드사 선택 오류", format!("unknown card company {code:?}"))
                    })?;
                    let quota = form.get_text("quota").unwrap_or_else(|| "00".to_string());
                    if !QUOTAS.contains(&quota.as_str()) {
                        return Err(choice_error(
                            "할부개월 오류",
                            format!("unknown quota {quota:?}"),
                        ));
                    }
                    choice.card = Some(card);
                    choice.quota = quota;
                }
            },
            PayMethod::Bank | PayMethod::Vbank => {
                let code = form.get_text("bank_code").unwrap_or_default();
                let bank = codes::bank(&code).ok_or_else(|| {
                    choice_error("은행 선택 오류", format!("unknown bank {code:?}"))
                })?;
                choice.bank = Some(bank);
            }
            _ => {}
        }
        if wants_cash_receipt(request) {
            let kind = match form.get_text("cash_receipt_type").as_deref() {
                Some("1") => CashReceiptType::IncomeDeduction,
                Some("2") => CashReceiptType::ExpenseProof,
                other => {
                    return Err(choice_error(
                        "현금영수증 유형 오류",
                        format!("cash_receipt_type must be 1 or 2, got {other:?}"),
                    ))
                }
            };
            let id_no: String = form
                .get_text("cash_receipt_no")
                .unwrap_or_default()
                .chars()
                .filter(|c| *c != '-' && !c.is_whitespace())
                .collect();
            check_receipt_number(&kind, &id_no)
                .map_err(|detail| choice_error("현금영수증 발급번호 오류", detail))?;
            choice.cash_receipt = Some(ReceiptChoice { kind, id_no });
        }
        Ok(choice)
    }
}

fn quota_label(quota: &str) -> String {
    if quota == "00" {
        "일시불".to_string()
    } else {
        format!("{}개월", quota.trim_start_matches('0'))
    }
}

/// Korean label of an escrow field of the request, by its wire name.
fn escrow_label(field: &str) -> &'static str {
    match field {
        "DeliveryCode" => "택배사",
        "DeliveryNumber" => "송장번호",
        "DeliveryAddr1" => "배송지 주소",
        "DeliveryAddr2" => "배송지 상세주소",
        "DeliveryPost" => "배송지 우편번호",
        "ReceiverName" => "받는 분",
        "ReceiverTel" => "받는 분 연락처",
        "SellerAddr1" => "판매자 주소",
        "SellerAddr2" => "판매자 상세주소",
        "SellerPost" => "판매자 우편번호",
        "SellerTel" => "판매자 연락처",
        "SellerId" => "판매자 아이디",
        "SellerName" => "판매자",
        _ => "기타",
    }
}

/// The escrow section: every field the request carried, the courier by name. Cells are `#escrow-{wire name}`.
fn escrow_html(escrow: &Escrow) -> String {
    let mut rows =
        String::from("<tr><th>거래구분</th><td id=\"escrow-cd\">에스크로 (결제대금예치)</td></tr>");
    for (field, value) in escrow.fields() {
        let Some(value) = value else { continue };
        let shown = match (field, codes::courier(value)) {
            ("DeliveryCode", Some(courier)) => format!("{} ({})", courier.name, courier.code),
            _ => value.clone(),
        };
        rows.push_str(&format!(
            "<tr><th>{}</th><td id=\"escrow-{field}\">{}</td></tr>",
            escrow_label(field),
            escape(&shown)
        ));
    }
    format!("<h2>에스크로</h2><table id=\"escrow\">{rows}</table>")
}

/// The sub-mall split: one row per DivideInfo entry, in the request's order.
fn split_html(divide: &DivideInfo) -> String {
    let mut rows = String::from("<tr><th>서브몰</th><th>상품명</th><th>금액</th></tr>");
    for entry in &divide.entries {
        rows.push_str(&format!(
            "<tr class=\"sub-mall\"><td>{}</td><td>{}</td><td>{}원</td></tr>",
            escape(&entry.mid),
            escape(entry.goods_name.as_deref().unwrap_or("")),
            won(entry.amt)
        ));
    }
    format!("<h2>서브몰 정산</h2><table id=\"split\">{rows}</table>")
}

fn card_choices(request: &PaymentRequest) -> String {
    if let Some((card, quota)) = fixed_card(request) {
        return format!(
            "카드사 <strong id=\"card-fixed\">{} ({})</strong> · 할부 <strong id=\"quota-fixed\">{}</strong> \
<span class=\"muted\">(가맹점 지정)</span>",
            escape(card.name),
            escape(card.issuer_code),
            quota_label(&quota)
        );
    }
    let mut html = String::from(
        "<label for=\"card_code\">카드사 선택</label><select name=\"card_code\" id=\"card_code\">",
    );
    let first = first_card().map(|c| c.issuer_code);
    for card in codes::CARD_COMPANIES {
        let selected = if Some(card.issuer_code) == first {
            " selected"
        } else {
            ""
        };
        html.push_str(&format!(
            "<option value=\"{}\"{selected}>{}</option>",
            escape(card.issuer_code),
            escape(card.name)
        ));
    }
    html.push_str(
        "</select><label for=\"quota\">할부개월</label><select name=\"quota\" id=\"quota\">",
    );
    for q in QUOTAS {
        let selected = if q == "00" { " selected" } else { "" };
        html.push_str(&format!(
            "<option value=\"{q}\"{selected}>{q} {}</option>",
            quota_label(q)
        ));
    }
    html.push_str("</select>");
    html
}

fn bank_choices(request: &PaymentRequest) -> String {
    let label = if request.pay_method == PayMethod::Vbank {
        "입금은행 선택"
    } else {
        "출금은행 선택"
    };
    let mut html = format!(
        "<label for=\"bank_code\">{label}</label><select name=\"bank_code\" id=\"bank_code\">"
    );
    let preselected = first_bank().map(|b| b.code);
    for bank in codes::BANKS {
        let selected = if Some(bank.code) == preselected {
            " selected"
        } else {
            ""
        };
        html.push_str(&format!(
            "<option value=\"{}\"{selected}>{}</option>",
            escape(bank.code),
            escape(bank.name)
        ));
    }
    html.push_str("</select>");
    html
}

/// The cash receipt of a Kakao or Toss payment: its type (income deduction preselected) and the number it is
/// issued to (the buyer's phone number prefilled).
fn cash_receipt_choices(request: &PaymentRequest) -> String {
    format!(
        "<label for=\"cash_receipt_type\">현금영수증</label>\
<select name=\"cash_receipt_type\" id=\"cash_receipt_type\">\
<option value=\"1\" selected>소득공제</option><option value=\"2\">지출증빙</option></select>\
<label for=\"cash_receipt_no\">발급번호 (휴대폰번호 / 사업자번호)</label>\
<input type=\"text\" name=\"cash_receipt_no\" id=\"cash_receipt_no\" value=\"{}\" inputmode=\"numeric\">",
        escape(&phone_digits(request))
    )
}

pub(crate) fn window_html(state: &SandboxState, request: &PaymentRequest, session: &str) -> String {
    let mut rows = format!(
        "<tr><th>상품명</th><td id=\"goods-name\">{}</td></tr>\
<tr><th>결제금액</th><td id=\"amount\">{}원</td></tr>\
<tr><th>구매자</th><td id=\"buyer-name\">{}</td></tr>\
<tr><th>결제수단</th><td id=\"pay-method\">{}</td></tr>\
<tr><th>주문번호</th><td>{}</td></tr><tr><th>상점아이디</th><td>{}</td></tr>",
        escape(&request.goods_name),
        won(request.amt),
        escape(&request.buyer_name),
        pay_name(&request.pay_method),
        escape(&request.moid),
        escape(&request.mid),
    );
    if let Some(exp) = &request.vbank_exp_date {
        rows.push_str(&format!(
            "<tr><th>입금기한</th><td>{}</td></tr>",
            escape(exp)
        ));
    }
    let mut sections = String::new();
    if let Some(escrow) = &request.escrow {
        sections.push_str(&escrow_html(escrow));
    }
    if let Some(divide) = &request.divide_info {
        sections.push_str(&split_html(divide));
    }
    let mut choices = match request.pay_method {
        PayMethod::Card => card_choices(request),
        PayMethod::Bank | PayMethod::Vbank => bank_choices(request),
        _ => String::new(),
    };
    if wants_cash_receipt(request) {
        choices.push_str(&cash_receipt_choices(request));
    }
    let body = format!(
        "<h1>스마트로페이 결제 (샌드박스)</h1><table>{rows}</table>{sections}\
<form id=\"payForm\" method=\"post\" action=\"{action}\" accept-charset=\"UTF-8\">\
<input type=\"hidden\" name=\"session\" value=\"{session}\"><p>{choices}</p>\
<button type=\"submit\" name=\"decision\" value=\"approve\" id=\"approve\">승인</button>\
<button type=\"submit\" name=\"decision\" value=\"decline\" id=\"decline\">취소</button></form>\
<p class=\"muted\">테스트 환경입니다. 실제 결제는 이루어지지 않습니다.</p>",
        action = escape(&format!("{}/sandbox/decide", state.public_url())),
        session = escape(session),
    );
    page("스마트로페이 결제", &body)
}
