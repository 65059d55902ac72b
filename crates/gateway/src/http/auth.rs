//! Bearer authentication of the shop's backend, compared in constant time.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::AppState;

struct ApiKey {
    /// SHA-256 of the key: compared in constant time, and its prefix names the key in storage without revealing it.
    digest: [u8; 32],
}

pub struct ApiKeys(Vec<ApiKey>);

impl ApiKeys {
    pub fn new(keys: &[SecretString]) -> Self {
        ApiKeys(
            keys.iter()
                .map(|k| ApiKey {
                    digest: Sha256::digest(k.expose_secret().as_bytes()).into(),
                })
                .collect(),
        )
    }

    /// The id of the matching key. Every configured key is compared, so timing tells nothing of which matched.
    fn authenticate(&self, presented: &str) -> Option<String> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for key in &self.0 {
            if bool::from(key.digest.ct_eq(&digest)) {
                found = Some(hex::encode(&key.digest[..8]));
            }
        }
        found
    }
}

/// A request from the shop's backend, with the id of the key it used.
#[derive(Debug, Clone)]
pub struct ShopAuth {
    pub key_id: String,
}

impl FromRequestParts<AppState> for ShopAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthorized)?;
        let token = bearer_token(header).ok_or_else(ApiError::unauthorized)?;
        state
            .api_keys
            .authenticate(token)
            .map(|key_id| ShopAuth { key_id })
            .ok_or_else(ApiError::unauthorized)
    }
}

/// The token of `Bearer <token>`. The scheme is case-insensitive (RFC 9110 §11.1), so `bearer` and `BEARER`
/// count as well; the token itself is compared exactly.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim_start().split_once([' ', '\t'])?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_is_case_insensitive_and_the_token_is_not() {
        for header in [
            "Bearer sk_test_x",
            "bearer sk_test_x",
            "BEARER sk_test_x",
            "BeArEr   sk_test_x ",
            "Bearer\tsk_test_x",
        ] {
            assert_eq!(bearer_token(header), Some("sk_test_x"), "{header:?}");
        }
        assert_eq!(bearer_token("Bearer SK_TEST_X"), Some("SK_TEST_X"));
        for header in [
            "Basic c2s6",
            "Bearer",
            "Bearer ",
            "Bearersk_test_x",
            "",
            "sk_test_x",
        ] {
            assert_eq!(bearer_token(header), None, "{header:?}");
        }
    }

    #[test]
    fn only_configured_keys_authenticate() {
        let keys = ApiKeys::new(&[
            SecretString::from("sk_test_one_0123456789"),
            SecretString::from("sk_test_two_0123456789"),
        ]);
        let one = keys.authenticate("sk_test_one_0123456789").unwrap();
        let two = keys.authenticate("sk_test_two_0123456789").unwrap();
        assert_ne!(one, two);
        assert_eq!(one.len(), 16);
        assert!(keys.authenticate("sk_test_one_012345678").is_none());
        assert!(keys.authenticate("").is_none());
    }
}
