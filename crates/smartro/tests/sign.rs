use smartro::endpoints::TEST_MERCHANTS;
use smartro::sign::*;

const KEY: &str =
    "0/4GFsSd7ERVRGX9WHOzJ96GyeMTwvIaKSWUCKmN3fDklNRGw3CualCFoMPZaS99YiFGOuwtzTkrLo4bR4V+Ow==";
const TID: &str = "SMTPAY001m01012203101503424338";

#[test]
fn worked_example_encrypt_data() {
    assert_eq!(
        encrypt_data("20260101120000", "SMTPAY001m", 1004, KEY),
        "OTE4NzAxZDE5MDBjNjA4MzE2YWViYjBiN2NhNzgwNGI="
    );
    assert!(verify_encrypt_data(
        "20260101120000",
        "SMTPAY001m",
        1004,
        KEY,
        "OTE4NzAxZDE5MDBjNjA4MzE2YWViYjBiN2NhNzgwNGI="
    ));
}

#[test]
fn worked_example_sign_value() {
    assert_eq!(
        sign_value(TID, "3001", KEY),
        "N2EyYzQyMzNmYzNjNGZmN2JlZjBiMGQ3MzM3OWFhNjQ="
    );
    assert!(verify_sign_value(
        TID,
        "3001",
        KEY,
        "N2EyYzQyMzNmYzNjNGZmN2JlZjBiMGQ3MzM3OWFhNjQ="
    ));
}

#[test]
fn worked_example_hash_data() {
    assert_eq!(
        hash_data(TID, KEY, 1004, false),
        "NWE1YTViMDM1ODFjOWRiZjNhYTFiMzQxZWE3NjY3Mjc="
    );
    assert!(verify_hash_data(
        TID,
        KEY,
        1004,
        false,
        "NWE1YTViMDM1ODFjOWRiZjNhYTFiMzQxZWE3NjY3Mjc="
    ));
}

#[test]
fn the_key_is_the_first_test_merchant() {
    assert_eq!(TEST_MERCHANTS[0], ("SMTPAY001m", KEY));
}

#[test]
fn wrong_inputs_do_not_verify() {
    let good = sign_value(TID, "3001", KEY);
    assert!(!verify_sign_value(TID, "3002", KEY, &good));
    assert!(!verify_sign_value(TID, "3001", TEST_MERCHANTS[1].1, &good));
    assert!(!verify_sign_value(TID, "3001", KEY, ""));
    assert!(!verify_sign_value(
        TID,
        "3001",
        KEY,
        &good[..good.len() - 1]
    ));
    assert!(!verify_hash_data(
        TID,
        KEY,
        1004,
        true,
        &hash_data(TID, KEY, 1004, false)
    ));
    assert!(!verify_encrypt_data(
        "20260101120000",
        "SMTPAY001m",
        1005,
        KEY,
        &encrypt_data("20260101120000", "SMTPAY001m", 1004, KEY)
    ));
}

#[test]
fn partial_flag_changes_hash_data() {
    assert_ne!(
        hash_data(TID, KEY, 500, true),
        hash_data(TID, KEY, 500, false)
    );
}

#[test]
fn signature_is_base64_of_lowercase_hex() {
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(sign_value(TID, "3001", KEY))
        .unwrap();
    assert_eq!(decoded.len(), 32);
    assert!(decoded
        .iter()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)));
}

#[test]
fn short_and_non_ascii_tids_do_not_panic() {
    for tid in [
        "",
        "S",
        "SMTPAY001m",
        "SMTPAY001m0101",
        "가나다라마바사아자차카타파하",
        "ab가나다라마바사",
    ] {
        let s = sign_value(tid, "3001", KEY);
        assert!(verify_sign_value(tid, "3001", KEY, &s));
        assert!(!verify_sign_value(tid, "3001", KEY, "x"));
    }
    // Clamped split: a TID of exactly 10 characters puts the whole TID before the result code.
    assert_ne!(
        sign_value("SMTPAY001m", "3001", KEY),
        sign_value("SMTPAY001", "3001", KEY)
    );
}
