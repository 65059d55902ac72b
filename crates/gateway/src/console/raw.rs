//! Raw Smartro messages as the console shows them: the form fields decoded as Smartro sends them (EUC-KR, or
//! UTF-8 with `UrlEncode=Y`), with card numbers and personal identifiers masked. What Smartro sends is kept raw in
//! the database for audit; a person reading the console never needs a full card number.

use smartro::form::{decode_text, decode_url_encoded_text, has_percent_escape, RawForm};

/// Fields whose whole value is a card number or a personal identifier.
const MASKED_FIELDS: &[&str] = &[
    "pinno",
    "cardno",
    "cardnum",
    "card_no",
    "buyerauthnum",
    "rcptccno",
    "merchantkey",
    "cancelpwd",
];

/// A message that is not a form is shown as text, cut here.
const MAX_TEXT_CHARS: usize = 4000;

/// Keeps the last four characters of digits, masking the rest.
fn mask_all(value: &str) -> String {
    let keep = value.chars().rev().take(4).count();
    let total = value.chars().count();
    value
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i + keep >= total || !c.is_ascii_alphanumeric() {
                c
            } else {
                '*'
            }
        })
        .collect()
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// What may stand between the groups of a card number's digits, up to three in a row: spaces (a no-break and an
/// ideographic one too), hyphens, dots, a `+` (a space in a URL-encoded value that was not decoded) and tabs.
fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '-' | '.' | '+' | '\t' | '\u{00A0}' | '\u{3000}')
}

/// Masks every card number, wherever it hides: 13 to 19 digits passing the Luhn check, written as one run or in
/// groups split by separators (`4111 1111 1111 1111`, `4111-1111-1111-1111`, `4111 - 1111 - …`). The last four
/// digits stay; separators and everything else are kept as they are.
pub fn mask_card_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut hidden = vec![false; chars.len()];
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // The groups of digits from here, each but the first after one to three separators.
        let mut groups = Vec::new();
        loop {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            groups.push(start..i);
            let gap = chars[i..]
                .iter()
                .take(4)
                .take_while(|c| is_separator(**c))
                .count();
            if !(1..=3).contains(&gap) || !chars.get(i + gap).is_some_and(char::is_ascii_digit) {
                break;
            }
            i += gap;
        }
        // Any groups in a row may be one card number (a phone number or a date before it is no reason to miss it).
        for first in 0..groups.len() {
            let mut digits: Vec<usize> = Vec::new();
            for group in &groups[first..] {
                if digits.len() + group.len() > 19 {
                    break;
                }
                digits.extend(group.clone());
                let number: Vec<u8> = digits.iter().map(|&at| chars[at] as u8).collect();
                if digits.len() >= 13 && luhn(&number) {
                    for &at in &digits[..digits.len() - 4] {
                        hidden[at] = true;
                    }
                }
            }
        }
    }
    chars
        .iter()
        .zip(hidden)
        .map(|(&c, hidden)| if hidden { '*' } else { c })
        .collect()
}

/// One field of a message, as shown.
pub fn shown_value(name: &str, value: &str) -> String {
    if MASKED_FIELDS.contains(&name.to_ascii_lowercase().as_str()) && !value.is_empty() {
        mask_all(value)
    } else {
        mask_card_numbers(value)
    }
}

/// The message's fields in the order received, decoded and masked; a body that is no form at all comes back as
/// one `("", text)` pair.
pub fn fields(body: &[u8]) -> Vec<(String, String)> {
    let form = RawForm::parse(body);
    if form.is_empty() || !body.contains(&b'=') {
        // Masked before it is cut, so that a cut through a card number cannot leave its digits bare.
        let text: String = mask_card_numbers(&decode_text(body))
            .chars()
            .take(MAX_TEXT_CHARS)
            .collect();
        return vec![(String::new(), text)];
    }
    form.iter()
        .map(|(name, value)| {
            let text = if has_percent_escape(value) {
                decode_url_encoded_text(value)
            } else {
                decode_text(value)
            };
            (name.to_string(), shown_value(name, &text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_are_masked_wherever_they_are() {
        let shown = fields(b"PinNo=4111111111111111&GoodsName=x&Memo=card+4111111111111111+end&TID=SMTPAY001m01012611211200000001");
        assert_eq!(shown[0], ("PinNo".into(), "************1111".into()));
        assert_eq!(shown[1], ("GoodsName".into(), "x".into()));
        assert_eq!(shown[2].1, "card ************1111 end");
        assert_eq!(
            shown[3].1, "SMTPAY001m01012611211200000001",
            "a TID is not a card number"
        );
        assert_eq!(
            shown_value("BuyerAuthNum", "8001011234567"),
            "*********4567"
        );
        assert_eq!(shown_value("Amt", "1000"), "1000");
    }

    #[test]
    fn card_numbers_in_groups_are_masked_too() {
        assert_eq!(
            mask_card_numbers("card 4111 1111 1111 1111, thanks"),
            "card **** **** **** 1111, thanks"
        );
        assert_eq!(
            mask_card_numbers("4111-1111-1111-1111"),
            "****-****-****-1111"
        );
        // Amex-style 4-6-5 groups, after a phone number in the same run.
        assert_eq!(
            mask_card_numbers("010-1234-5678 3782 822463 10005"),
            "010-1234-5678 **** ****** *0005"
        );
        // Up to three separators of any kind between the groups.
        for (written, shown) in [
            ("4111  1111  1111  1111", "****  ****  ****  1111"),
            ("4111 - 1111 - 1111 - 1111", "**** - **** - **** - 1111"),
            ("4111+1111+1111+1111", "****+****+****+1111"),
            ("4111.1111.1111.1111", "****.****.****.1111"),
            (
                "4111\u{3000}1111\u{3000}1111\u{3000}1111",
                "****\u{3000}****\u{3000}****\u{3000}1111",
            ),
        ] {
            assert_eq!(mask_card_numbers(written), shown);
        }
        // Not card numbers: a phone number, a date, a TID's digits, groups failing the Luhn check, groups too far
        // apart.
        for kept in [
            "010-1234-5678",
            "2026-12-02 10:00",
            "SMTPAY001m01012611211200000001",
            "4111 1111 1111 1112",
            "4111    1111    1111    1111",
        ] {
            assert_eq!(mask_card_numbers(kept), kept);
        }
        // A body that is no form is masked before it is cut.
        let long = format!("{}4111111111111111", "x".repeat(MAX_TEXT_CHARS - 8));
        assert_eq!(
            fields(long.as_bytes())[0].1,
            format!("{}********", "x".repeat(MAX_TEXT_CHARS - 8))
        );
        // Korean text around it survives.
        assert_eq!(
            mask_card_numbers("카드 4111 1111 1111 1111 결제"),
            "카드 **** **** **** 1111 결제"
        );
    }

    #[test]
    fn euc_kr_and_url_encoded_bodies_are_decoded() {
        let euc_kr = smartro::form::encode_form(
            &[("GoodsName", "테스트 상품")],
            smartro::form::Charset::EucKr,
        );
        assert_eq!(fields(euc_kr.as_bytes())[0].1, "테스트 상품");
        assert_eq!(
            fields(b"GoodsName=%25ED%2585%258C%25EC%258A%25A4%25ED%258A%25B8")[0].1,
            "테스트"
        );
        assert_eq!(
            fields(b"not a form")[0],
            (String::new(), "not a form".into())
        );
    }
}
