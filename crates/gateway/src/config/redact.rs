//! `check-config`: the effective settings written as TOML by serializing the settings structs themselves, so a
//! setting added later shows up without anyone writing it out here. Secrets go through the `serialize_with`
//! helpers below and come out as `"[redacted]"`; `SecretString` is not `Serialize`, so a secret field without one
//! of them does not compile.

use secrecy::SecretString;
use serde::{Serialize, Serializer};
use smartro::endpoints::Endpoints;

use super::{Settings, SmartroSettings};

/// What every secret is shown as.
pub(super) const REDACTED: &str = "[redacted]";

const HEADER: &str = "\
# The effective configuration (defaults, file, environment), secrets shown as \"[redacted]\".
# Optional settings that are not set are left out. [smartro.effective_endpoints] is not a setting: it shows the
# URLs called, the environment's endpoints with the overrides above applied.

";

impl Settings {
    /// The effective configuration as TOML for `check-config`, every secret shown as `"[redacted]"`.
    pub fn redacted_toml(&self) -> String {
        match toml::to_string(self) {
            Ok(toml) => format!("{HEADER}{toml}"),
            // The settings hold nothing TOML cannot write (a map with non-string keys, a bare `None`); should a
            // later field, check-config says so rather than panicking. The message names no value.
            Err(err) => format!("# the effective configuration cannot be written as TOML: {err}\n"),
        }
    }
}

/// `serialize_with` for a secret.
pub(super) fn secret<S: Serializer>(_: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(REDACTED)
}

/// `serialize_with` for an optional secret (with `skip_serializing_if = "Option::is_none"`).
pub(super) fn optional_secret<S: Serializer>(
    value: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(_) => serializer.serialize_str(REDACTED),
        None => serializer.serialize_none(),
    }
}

/// `serialize_with` for a list of secrets: one `"[redacted]"` each, so their number shows.
pub(super) fn secret_list<S: Serializer>(
    values: &[SecretString],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(values.iter().map(|_| REDACTED))
}

/// `serialize_with` for `[smartro]`: its settings, then the endpoints they make effective as the table
/// `[smartro.effective_endpoints]`, since an endpoint left unset is the environment's.
pub(super) fn with_effective_endpoints<S: Serializer>(
    smartro: &SmartroSettings,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Shown<'a> {
        #[serde(flatten)]
        settings: &'a SmartroSettings,
        effective_endpoints: Endpoints,
    }
    Shown {
        settings: smartro,
        effective_endpoints: smartro.endpoints(),
    }
    .serialize(serializer)
}
