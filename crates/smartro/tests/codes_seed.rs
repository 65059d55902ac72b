//! Proves that the code tables of `smartro::codes` equal Smartro's own document, row for row.
//!
//! The seed is the text extraction of a PDF: every table is a markdown table, split again at each page
//! break into a continuation table with an empty header (`| | | |`), and the Kakao table even repeats its
//! separator line. The parser below therefore ignores header and separator rows wherever they appear,
//! and instead checks that the `번호` column of each section runs 1, 2, 3, … without a gap, so that no row
//! can be lost or doubled across a page break. Cell texts are compared byte for byte after trimming.

use smartro::codes::{CodeCategory, BANKS, CARD_COMPANIES, COURIERS, RESULT_CODES};

/// Smartro's result-code document (seed 000: Smartro's published tables), kept with the tests so that a clone
/// of the repository alone can run them.
const SEED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/smartro_result_codes.txt"
);

/// What a numbered section of the seed holds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Table {
    Results(CodeCategory),
    Cards,
    Banks,
    Couriers,
}

/// The seed's section titles, by number. The catalog's category of each result section is decided here,
/// independently of the data.
const SECTIONS: [(u32, &str, Table); 15] = [
    (1, "신용카드", Table::Results(CodeCategory::Card)),
    (
        2,
        "실시간 계좌이체",
        Table::Results(CodeCategory::BankTransfer),
    ),
    (3, "가상계좌", Table::Results(CodeCategory::VirtualAccount)),
    (4, "휴대폰", Table::Results(CodeCategory::Cellphone)),
    (5, "현금영수증", Table::Results(CodeCategory::CashReceipt)),
    (6, "결제취소", Table::Results(CodeCategory::Cancel)),
    (
        7,
        "계좌이체 결제환불",
        Table::Results(CodeCategory::BankRefund),
    ),
    (
        8,
        "계좌성명조회",
        Table::Results(CodeCategory::AccountHolderLookup),
    ),
    (
        9,
        "입금이체(환불)서비스",
        Table::Results(CodeCategory::TransferService),
    ),
    (10, "카드사 코드", Table::Cards),
    (11, "은행코드", Table::Banks),
    (12, "택배사 코드표", Table::Couriers),
    (13, "토스", Table::Results(CodeCategory::Toss)),
    (14, "카카오", Table::Results(CodeCategory::Kakao)),
    (
        15,
        "신용카드 간편결제 및 빌링서비스",
        Table::Results(CodeCategory::EasyPayBilling),
    ),
];

struct Section {
    number: u32,
    table: Table,
    /// The cells of each data row after the `번호` cell.
    rows: Vec<Vec<String>>,
}

/// A heading line such as `1. 신용카드` or `10.카드사 코드` (the extraction lost some spaces).
fn heading(line: &str) -> Option<(u32, &str)> {
    let (number, title) = line.split_once('.')?;
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let title = title.trim();
    if title.is_empty() {
        return None;
    }
    Some((number.parse().ok()?, title))
}

fn cells(line: &str) -> Option<Vec<String>> {
    let inner = line.strip_prefix('|')?.strip_suffix('|')?;
    Some(
        inner
            .split('|')
            .map(|cell| cell.trim().to_owned())
            .collect(),
    )
}

fn parse_seed(text: &str) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim();
        if !line.starts_with('|') {
            if let Some((number, title)) = heading(line) {
                let known = SECTIONS.iter().find(|(n, _, _)| *n == number);
                let Some(&(_, expected_title, table)) = known else {
                    panic!("line {line_no}: unexpected section {number}. {title}");
                };
                assert_eq!(
                    title, expected_title,
                    "line {line_no}: title of section {number}"
                );
                sections.push(Section {
                    number,
                    table,
                    rows: Vec::new(),
                });
            }
            continue;
        }
        // The revision history and the table of contents come before section 1.
        let Some(section) = sections.last_mut() else {
            continue;
        };
        let row = cells(line).unwrap_or_else(|| panic!("line {line_no}: not a table row: {raw:?}"));
        let separator = row.iter().all(|cell| cell.bytes().all(|b| b == b'-'));
        if separator || row[0] == "번호" {
            continue;
        }
        let number: usize = row[0]
            .parse()
            .unwrap_or_else(|_| panic!("line {line_no}: row without a number: {raw:?}"));
        assert_eq!(
            number,
            section.rows.len() + 1,
            "line {line_no}: row numbers of section {} must run without gaps",
            section.number
        );
        section.rows.push(row[1..].to_vec());
    }
    let numbers: Vec<u32> = sections.iter().map(|section| section.number).collect();
    assert_eq!(
        numbers,
        (1..=15).collect::<Vec<u32>>(),
        "the seed's sections"
    );
    sections
}

fn seed_sections() -> Vec<Section> {
    let text = std::fs::read_to_string(SEED)
        .unwrap_or_else(|err| panic!("cannot read the seed {SEED}: {err}"));
    parse_seed(&text)
}

fn rows_of(sections: &[Section], wanted: Table) -> Vec<Vec<String>> {
    let found: Vec<&Section> = sections.iter().filter(|s| s.table == wanted).collect();
    assert_eq!(found.len(), 1, "one section for {wanted:?}");
    found[0].rows.clone()
}

/// A `name(code)` cell as the seed writes it, or the bare code when the seed has no name.
fn named_code(name: Option<&str>, code: Option<&str>) -> String {
    match (name, code) {
        (Some(name), Some(code)) => format!("{name}({code})"),
        (None, Some(code)) => code.to_owned(),
        (Some(name), None) => format!("{name}(?)"),
        (None, None) => String::new(),
    }
}

#[test]
fn result_codes_equal_the_seed() {
    let sections = seed_sections();
    let mut expected: Vec<(CodeCategory, String, String)> = Vec::new();
    for section in &sections {
        if let Table::Results(category) = section.table {
            for row in &section.rows {
                assert_eq!(row.len(), 2, "section {}: {row:?}", section.number);
                expected.push((category, row[0].clone(), row[1].clone()));
            }
        }
    }
    let actual: Vec<(CodeCategory, String, String)> = RESULT_CODES
        .iter()
        .map(|row| (row.category, row.code.to_owned(), row.message.to_owned()))
        .collect();
    for (index, (want, have)) in expected.iter().zip(&actual).enumerate() {
        assert_eq!(have, want, "result code row {index}");
    }
    assert_eq!(actual.len(), expected.len(), "number of result codes");
    assert_eq!(expected.len(), 178);
}

#[test]
fn card_companies_equal_the_seed() {
    let expected = rows_of(&seed_sections(), Table::Cards);
    let actual: Vec<Vec<String>> = CARD_COMPANIES
        .iter()
        .map(|card| {
            vec![
                card.name.to_owned(),
                named_code(card.issuer_name, Some(card.issuer_code)),
                named_code(card.acquirer_name, card.acquirer_code),
                card.auth_method.unwrap_or_default().to_owned(),
            ]
        })
        .collect();
    for (index, (want, have)) in expected.iter().zip(&actual).enumerate() {
        assert_eq!(have, want, "card row {}", index + 1);
    }
    assert_eq!(actual.len(), expected.len(), "number of card companies");
    assert_eq!(expected.len(), 39);

    // The cell comparison above cannot tell where the name ends and the code begins; the codes can.
    let two_digits = |code: &str| code.len() == 2 && code.bytes().all(|b| b.is_ascii_digit());
    for card in CARD_COMPANIES {
        assert!(two_digits(card.issuer_code), "{card:?}");
        assert!(card.acquirer_code.is_none_or(two_digits), "{card:?}");
        assert_eq!(
            card.acquirer_name.is_some(),
            card.acquirer_code.is_some(),
            "{card:?}"
        );
        assert!(
            card.auth_method.is_none_or(|auth| !auth.is_empty()),
            "{card:?}"
        );
        assert!(
            card.issuer_name.is_none_or(|name| !name.is_empty()),
            "{card:?}"
        );
    }
}

#[test]
fn banks_equal_the_seed() {
    let expected = rows_of(&seed_sections(), Table::Banks);
    let actual: Vec<Vec<String>> = BANKS
        .iter()
        .map(|bank| vec![bank.code.to_owned(), bank.name.to_owned()])
        .collect();
    for (index, (want, have)) in expected.iter().zip(&actual).enumerate() {
        assert_eq!(have, want, "bank row {}", index + 1);
    }
    assert_eq!(actual.len(), expected.len(), "number of banks");
    assert_eq!(expected.len(), 67);
}

#[test]
fn couriers_equal_the_seed() {
    let expected = rows_of(&seed_sections(), Table::Couriers);
    let actual: Vec<Vec<String>> = COURIERS
        .iter()
        .map(|courier| vec![courier.code.to_owned(), courier.name.to_owned()])
        .collect();
    for (index, (want, have)) in expected.iter().zip(&actual).enumerate() {
        assert_eq!(have, want, "courier row {}", index + 1);
    }
    assert_eq!(actual.len(), expected.len(), "number of couriers");
    assert_eq!(expected.len(), 36);
}

#[test]
fn parser_follows_page_breaks_and_rejects_gaps() {
    let mut text = String::new();
    for (number, title, _) in SECTIONS {
        text.push_str(&format!(
            "{number}. {title}\n\n| 번호 | 코드 | 메시지 |\n|----|----|----|\n"
        ));
        text.push_str("| 1 | X1 | a |\n\n| | | |\n|----|----|----|\n| 2 | X2 | b  c |\n");
    }
    let sections = parse_seed(&text);
    assert_eq!(sections[0].rows, vec![vec!["X1", "a"], vec!["X2", "b  c"]]);

    let gap = text.replacen("| 2 | X2 |", "| 3 | X2 |", 1);
    assert!(std::panic::catch_unwind(|| parse_seed(&gap)).is_err());
    let missing_section = text.replacen("15. ", "", 1);
    assert!(std::panic::catch_unwind(|| parse_seed(&missing_section)).is_err());
    let wrapped_row = text.replacen("| 2 | X2 | b  c |", "| 2 | X2 | b\nc |", 1);
    assert!(std::panic::catch_unwind(|| parse_seed(&wrapped_row)).is_err());
}
