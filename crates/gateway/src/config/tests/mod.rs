//! Unit tests of the configuration, by concern. The helpers load settings as the binary does, with a file
//! standing in for `--config` and a list standing in for the process environment.

use super::{ConfigError, Settings};

mod production;
mod redact;
mod sources;
mod validate;

const KEY_001: &str =
    "0/4GFsSd7ERVRGX9WHOzJ96GyeMTwvIaKSWUCKmN3fDklNRGw3CualCFoMPZaS99YiFGOuwtzTkrLo4bR4V+Ow==";

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Loads with `toml` (if any) as the `--config` file.
fn load(toml: Option<&str>, vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");
    if let Some(toml) = toml {
        std::fs::write(&path, toml).unwrap();
    }
    Settings::load_from(toml.map(|_| path.as_path()), &env(vars))
}

fn load_err(toml: Option<&str>, vars: &[(&str, &str)]) -> ConfigError {
    match load(toml, vars) {
        Ok(settings) => panic!("expected an error, got {settings:?}"),
        Err(err) => err,
    }
}
