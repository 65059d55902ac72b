use proptest::prelude::*;
use smartro::form::*;

fn euc_kr(s: &str) -> Vec<u8> {
    encoding_rs::EUC_KR.encode(s).0.into_owned()
}

#[test]
fn euc_kr_fixtures_are_real_euc_kr_bytes() {
    // 홍길동 in KS X 1001: C8AB B1E6 B5BF.
    assert_eq!(euc_kr("홍길동"), vec![0xC8, 0xAB, 0xB1, 0xE6, 0xB5, 0xBF]);
    let form =
        RawForm::parse(b"BuyerName=%C8%AB%B1%E6%B5%BF&GoodsName=%C5%D7%BD%BA%C6%AE+%BB%F3%C7%B0");
    assert_eq!(form.get_text("BuyerName").as_deref(), Some("홍길동"));
    assert_eq!(form.get_text("GoodsName").as_deref(), Some("테스트 상품"));
    assert_eq!(
        form.get_bytes("BuyerName"),
        Some(&[0xC8, 0xAB, 0xB1, 0xE6, 0xB5, 0xBF][..])
    );
}

#[test]
fn utf8_text_is_taken_as_utf8() {
    let form =
        RawForm::parse("GoodsName=%ED%85%8C%EC%8A%A4%ED%8A%B8+%EC%83%81%ED%92%88".as_bytes());
    assert_eq!(form.get_text("GoodsName").as_deref(), Some("테스트 상품"));
}

#[test]
fn one_euc_kr_syllable_that_looks_like_utf8_is_euc_kr() {
    // 쨌 is C2 A5 in EUC-KR, which is also the valid UTF-8 for U+00A5 (¥).
    let bytes = euc_kr("쨌");
    assert!(std::str::from_utf8(&bytes).is_ok());
    assert_eq!(decode_text(&bytes), "쨌");
    assert_eq!(decode_text("A¥".as_bytes()).chars().count(), 2);
}

#[test]
fn undecodable_bytes_never_fail() {
    let text = decode_text(&[0xFF, 0xFE, 0x80, b'a']);
    assert!(text.ends_with('a'));
    assert!(text.contains('\u{FFFD}'));
}

#[test]
fn raw_form_splitting_rules() {
    let form = RawForm::parse(b"a=1&&b&c=x=y&a=2&%zz=%4&d=%");
    let pairs: Vec<(&str, &[u8])> = form.iter().collect();
    assert_eq!(
        pairs,
        vec![
            ("a", &b"1"[..]),
            ("b", &b""[..]),
            ("c", &b"x=y"[..]),
            ("a", &b"2"[..]),
            ("%zz", &b"%4"[..]),
            ("d", &b"%"[..]),
        ]
    );
    assert_eq!(form.get_bytes("a"), Some(&b"1"[..]));
    assert_eq!(form.names().count(), 6);
    assert!(RawForm::parse(b"").is_empty());
}

#[test]
fn case_insensitive_lookup_prefers_exact() {
    let form = RawForm::parse(b"MallUserID=x&mallUserID=y");
    assert_eq!(form.get_bytes_ignore_case("mallUserID"), Some(&b"y"[..]));
    assert_eq!(form.get_bytes_ignore_case("MALLUSERID"), Some(&b"x"[..]));
}

#[test]
fn url_encode_y_double_layer() {
    // What Smartro sends for GoodsName=테스트 상품 with EncodingType=utf8 & UrlEncode=Y (Java URLEncoder: space → +).
    let inner = "%ED%85%8C%EC%8A%A4%ED%8A%B8+%EC%83%81%ED%92%88";
    let body = format!("GoodsName={}", encode_component(inner, Charset::Utf8));
    let form = RawForm::parse(body.as_bytes());
    assert_eq!(form.get_bytes("GoodsName"), Some(inner.as_bytes()));
    assert_eq!(
        decode_url_encoded_text(form.get_bytes("GoodsName").unwrap()),
        "테스트 상품"
    );
}

#[test]
fn second_layer_leaves_plain_percent_alone() {
    assert_eq!(decode_url_encoded_text(b"100%"), "100%");
    assert_eq!(decode_url_encoded_text(b"50%OFF"), "50%OFF");
    assert_eq!(decode_url_encoded_text("홍길동".as_bytes()), "홍길동");
}

#[test]
fn encode_component_escapes_everything_but_unreserved() {
    assert_eq!(
        encode_component("a b+c&d=e%", Charset::Utf8),
        "a%20b%2Bc%26d%3De%25"
    );
    assert_eq!(
        encode_component("홍길동", Charset::EucKr),
        "%C8%AB%B1%E6%B5%BF"
    );
    assert_eq!(encode_component("홍", Charset::Utf8), "%ED%99%8D");
}

#[test]
fn unmappable_chars_become_numeric_references_in_euc_kr() {
    let body = encode_form(&[("GoodsName", "Tea 🍵")], Charset::EucKr);
    let form = RawForm::parse(body.as_bytes());
    assert_eq!(form.get_text("GoodsName").as_deref(), Some("Tea &#127861;"));
}

#[test]
fn byte_lengths() {
    assert_eq!(utf8_len("홍길동"), 9);
    assert_eq!(euc_kr_len("홍길동"), 6);
    assert_eq!(utf8_len("abc"), 3);
    assert_eq!(euc_kr_len("abc"), 3);
}

fn text_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            (0xAC00u32..=0xD7A3).prop_map(|c| char::from_u32(c).unwrap()),
            (0x20u32..0x7F).prop_map(|c| char::from_u32(c).unwrap()),
        ],
        0..24,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn charset_strategy() -> impl Strategy<Value = Charset> {
    prop_oneof![Just(Charset::EucKr), Just(Charset::Utf8)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn form_round_trip(value in text_strategy(), name in "[A-Za-z_]{1,12}", charset in charset_strategy()) {
        let body = encode_form(&[(name.as_str(), value.as_str()), ("Other", "x")], charset);
        let form = RawForm::parse(body.as_bytes());
        prop_assert_eq!(form.get_text(&name), Some(value));
    }

    #[test]
    fn url_encode_y_round_trip(value in text_strategy(), charset in charset_strategy()) {
        let inner = encode_component(&value, charset);
        let body = encode_form(&[("GoodsName", inner.as_str())], Charset::Utf8);
        let form = RawForm::parse(body.as_bytes());
        let bytes = form.get_bytes("GoodsName").unwrap_or_default();
        prop_assert_eq!(decode_url_encoded_text(bytes), value);
    }
}
