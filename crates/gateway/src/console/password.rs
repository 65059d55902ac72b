//! Operators' passwords: argon2id hashes in the configuration (PHC strings, `$argon2id$…`), verified off the async
//! threads. A sign-in under an unknown name is verified against a dummy hash of the same cost, so that it takes as
//! long as a wrong password and the answer's timing does not tell which names exist.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// OWASP's least argon2id memory, in KiB, for a number of passes (p=1; more lanes do not make guessing dearer).
fn least_memory_kib(passes: u32) -> u32 {
    match passes {
        0 | 1 => 47_104,
        2 => 19_456,
        3 => 12_288,
        4 => 9_216,
        _ => 7_168,
    }
}

/// Why a configured hash cannot be used; names no part of it.
pub fn check_hash(hash: &str) -> Result<(), &'static str> {
    let parsed = PasswordHash::new(hash).map_err(|_| "is not a password hash (PHC string)")?;
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return Err("must be an argon2id hash ($argon2id$…)");
    }
    let params = Params::try_from(&parsed).map_err(|_| "has invalid argon2 parameters")?;
    // OWASP's least costs trade memory for passes, from m=47104,t=1 to m=7168,t=5 (KiB): below them a stolen
    // configuration's hashes fall to a GPU quickly.
    if params.m_cost() < least_memory_kib(params.t_cost()) {
        return Err("is an argon2id hash cheaper than OWASP's least cost for its passes (t=1: m=47104, t=2: m=19456 … t=5: m=7168)");
    }
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err("has no salt or no hash");
    }
    Ok(())
}

/// A new argon2id hash of `password` with the library's recommended cost (OWASP: m=19 MiB, t=2, p=1).
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// A hash of a random password with the cost of `like` (a configured hash), for names that have none.
pub fn dummy_hash_like(like: &str) -> String {
    let params = PasswordHash::new(like)
        .ok()
        .and_then(|h| Params::try_from(&h).ok())
        .unwrap_or_default();
    let salt = SaltString::generate(&mut OsRng);
    let random = SaltString::generate(&mut OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(random.as_str().as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_else(|_| like.to_string())
}

/// Whether `password` matches `hash`. CPU-bound for tens of milliseconds: call from a blocking thread.
pub fn verify(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_checked() {
        let hash = hash_password("correct horse").expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(check_hash(&hash).is_ok());
        assert!(verify("correct horse", &hash));
        assert!(!verify("wrong horse", &hash));
        assert!(check_hash("plain text").is_err());
        assert!(
            check_hash("$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA").is_err()
        );
        // OWASP's least costs pass, anything cheaper does not.
        let with = |m: u32, t: u32| {
            let params = Params::new(m, t, 1, None).expect("params");
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(b"x", &SaltString::generate(&mut OsRng))
                .expect("hash")
                .to_string()
        };
        for (m, t) in [
            (47_104, 1),
            (19_456, 2),
            (12_288, 3),
            (9_216, 4),
            (7_168, 5),
        ] {
            assert!(check_hash(&with(m, t)).is_ok(), "m={m},t={t}");
        }
        for (m, t) in [
            (19_456, 1),
            (40_000, 1),
            (18_000, 2),
            (12_000, 3),
            (9_000, 4),
            (7_000, 5),
            (4_096, 10),
            (8, 3),
        ] {
            assert_eq!(
                check_hash(&with(m, t)),
                Err("is an argon2id hash cheaper than OWASP's least cost for its passes (t=1: m=47104, t=2: m=19456 … t=5: m=7168)"),
                "m={m},t={t}"
            );
        }
        let dummy = dummy_hash_like(&hash);
        assert!(check_hash(&dummy).is_ok());
        assert!(!verify("correct horse", &dummy));
        assert_eq!(
            PasswordHash::new(&dummy).expect("dummy").params,
            PasswordHash::new(&hash).expect("hash").params,
            "same cost"
        );
    }
}
