//! The three WEBLink signatures: `base64(lowercase_hex(md5(concat)))`.
//!
//! Smartro's samples Base64-encode the 32-character hex string (commons-codec `md5Hex`, PHP `md5()`), not the
//! 16 raw digest bytes.

use base64::Engine as _;
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

fn md5_hex_base64(input: &str) -> String {
    let hex = hex::encode(Md5::digest(input.as_bytes()));
    base64::engine::general_purpose::STANDARD.encode(hex.as_bytes())
}

fn ct_eq(expected: &str, given: &str) -> bool {
    expected.as_bytes().ct_eq(given.as_bytes()).into()
}

/// `EncryptData` of a payment request: `ediDate + MID + Amt + merchantKey`.
pub fn encrypt_data(edi_date: &str, mid: &str, amt: i64, merchant_key: &str) -> String {
    md5_hex_base64(&format!("{edi_date}{mid}{amt}{merchant_key}"))
}

/// Largest char boundary of `s` that is `<= at`.
fn floor_boundary(s: &str, at: usize) -> usize {
    let mut i = at.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// `SignValue` of returnPay and inform: `TID[0..10] + ResultCode + TID[10..15] + merchantKey + TID[15..]`.
///
/// A TID shorter than 15 bytes cannot be genuine, but it must not panic: each split point is clamped to the TID's
/// length and moved down to a char boundary, so the short TID still yields a (non-matching) signature.
pub fn sign_value(tid: &str, result_code: &str, merchant_key: &str) -> String {
    let a = floor_boundary(tid, 10);
    let b = floor_boundary(tid, 15).max(a);
    md5_hex_base64(&format!(
        "{}{}{}{}{}",
        &tid[..a],
        result_code,
        &tid[a..b],
        merchant_key,
        &tid[b..]
    ))
}

/// `hashData` of a cancel request: `TID + merchantKey + CancelAmt + PartialCancelCode` ("1" partial, "0" full).
pub fn hash_data(tid: &str, merchant_key: &str, cancel_amt: i64, partial: bool) -> String {
    let code = if partial { "1" } else { "0" };
    md5_hex_base64(&format!("{tid}{merchant_key}{cancel_amt}{code}"))
}

/// Constant-time check of an `EncryptData`.
pub fn verify_encrypt_data(
    edi_date: &str,
    mid: &str,
    amt: i64,
    merchant_key: &str,
    encrypt_data_value: &str,
) -> bool {
    ct_eq(
        &encrypt_data(edi_date, mid, amt, merchant_key),
        encrypt_data_value,
    )
}

/// Constant-time check of a `SignValue`. An empty or wrong value means the message is not from Smartro.
pub fn verify_sign_value(
    tid: &str,
    result_code: &str,
    merchant_key: &str,
    sign_value_given: &str,
) -> bool {
    ct_eq(
        &sign_value(tid, result_code, merchant_key),
        sign_value_given,
    )
}

/// Constant-time check of a cancel request's `hashData`.
pub fn verify_hash_data(
    tid: &str,
    merchant_key: &str,
    cancel_amt: i64,
    partial: bool,
    hash_data_given: &str,
) -> bool {
    ct_eq(
        &hash_data(tid, merchant_key, cancel_amt, partial),
        hash_data_given,
    )
}
