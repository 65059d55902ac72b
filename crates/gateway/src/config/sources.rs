//! The layers of the configuration and how they are merged: the compiled-in defaults, the chosen file, then
//! `DATABASE_URL` and the `GATEWAY__…` variables. In production the defaults' merchants are left out.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use config::{FileFormat, Map, Source, Value, ValueKind};
use smartro::endpoints::Environment;

use super::validate::{validate_environment, RawSettings};
use super::{ConfigError, Settings, DEFAULT_TOML};

const ENV_PREFIX: &str = "GATEWAY__";
const ENV_SEPARATOR: &str = "__";
/// Keys whose environment value is a comma-separated list (and every `merchants[N].sub_malls`).
const LIST_KEYS: &[&str] = &[
    "api.secret_keys",
    "server.cors_origins",
    "server.trusted_proxies",
    "smartro.notify_allow_cidrs",
    "checkout.frame_ancestors",
];

impl Settings {
    /// Loads from the file sources and the process environment.
    pub fn load(config_file: Option<&Path>) -> Result<Settings, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
            .collect();
        Self::load_from(config_file, &env)
    }

    /// Loads with `env` standing in for the process environment.
    pub fn load_from(
        config_file: Option<&Path>,
        env: &[(String, String)],
    ) -> Result<Settings, ConfigError> {
        let file = match chosen_file(config_file, env) {
            Some(chosen) => Some(chosen.read()?),
            None => None,
        };
        Self::from_layers(file, env)
    }

    /// Builds the defaults, the file and the environment into validated settings.
    pub(super) fn from_layers(
        file: Option<FileLayer>,
        env: &[(String, String)],
    ) -> Result<Settings, ConfigError> {
        let (database_url, gateway_vars) = env_sources(env)?;
        let defaults = toml_entries(DEFAULT_TOML).map_err(|err| convert_error(&err))?;
        let build = |production: bool| {
            let mut builder =
                config::Config::builder().add_source(defaults_layer(&defaults, production));
            if let Some(file) = &file {
                builder = builder.add_source(defaults_layer(
                    &file.entries,
                    production && file.holds_the_defaults,
                ));
            }
            builder
                .add_source(database_url.clone())
                .add_source(gateway_vars.clone())
                .build()
                .map_err(|err| convert_error(&err))
        };
        let mut config = build(false)?;
        // The default merchants are Smartro's public test merchants. In production they must not fill in what the
        // operator left out: an indexed variable (GATEWAY__MERCHANTS__0__MID) would otherwise be merged over the
        // first test merchant and inherit its public key and cancel password, and the second one would stay. So
        // the environment is learnt from a first build, and production is built again without them.
        if effective_environment(&config) == Some(Environment::Production) {
            config = build(true)?;
        }
        let raw: RawSettings = config
            .try_deserialize()
            .map_err(|err| convert_error(&err))?;
        raw.validate()
    }
}

/// The environment a built configuration asks for; `None` when it is not a valid one (validation reports that).
fn effective_environment(config: &config::Config) -> Option<Environment> {
    config
        .get_string("smartro.environment")
        .ok()
        .and_then(|name| validate_environment(&name).ok())
}

/// The top-level entries of a TOML text.
pub(super) fn toml_entries(text: &str) -> Result<Vec<(String, Value)>, config::ConfigError> {
    Ok(config::File::from_str(text, FileFormat::Toml)
        .collect()?
        .into_iter()
        .collect())
}

/// A layer of default values: in production without their `[[merchants]]`, which are the public test merchants.
fn defaults_layer(entries: &[(String, Value)], without_merchants: bool) -> Layer {
    Layer {
        entries: entries
            .iter()
            .filter(|(key, _)| !(without_merchants && key == "merchants"))
            .cloned()
            .collect(),
    }
}

/// The file layered over the defaults.
struct ChosenFile {
    /// What chose it, for error messages.
    key: &'static str,
    path: PathBuf,
    /// Picked up as `config/default.toml` in the working directory, not named by `--config` or `$GATEWAY_CONFIG`:
    /// it is the defaults file itself (the container image ships it in its working directory), so its test
    /// merchants are dropped in production like the compiled-in ones.
    holds_the_defaults: bool,
}

impl ChosenFile {
    /// Reads and parses it; its own TOML errors (with line and column) name the file as the key.
    fn read(self) -> Result<FileLayer, ConfigError> {
        let text = std::fs::read_to_string(&self.path).map_err(|err| {
            ConfigError::new(
                self.key,
                format!("cannot read {}: {err}", self.path.display()),
            )
        })?;
        let entries = toml_entries(&text).map_err(|err| {
            ConfigError::new(self.path.display().to_string(), error_message(&err))
        })?;
        Ok(FileLayer {
            entries,
            holds_the_defaults: self.holds_the_defaults,
        })
    }
}

/// The parsed file layer.
pub(super) struct FileLayer {
    pub(super) entries: Vec<(String, Value)>,
    pub(super) holds_the_defaults: bool,
}

fn chosen_file(config_file: Option<&Path>, env: &[(String, String)]) -> Option<ChosenFile> {
    if let Some(path) = config_file {
        return Some(ChosenFile {
            key: "--config",
            path: path.to_path_buf(),
            holds_the_defaults: false,
        });
    }
    let from_env = env
        .iter()
        .rev()
        .find(|(key, value)| key == "GATEWAY_CONFIG" && !value.is_empty());
    if let Some((_, path)) = from_env {
        return Some(ChosenFile {
            key: "GATEWAY_CONFIG",
            path: PathBuf::from(path),
            holds_the_defaults: false,
        });
    }
    let local = PathBuf::from("config/default.toml");
    local.is_file().then_some(ChosenFile {
        key: "config/default.toml",
        path: local,
        holds_the_defaults: true,
    })
}

/// A configuration layer as entries already turned into config paths (`server`, `merchants[0].mid`): the defaults,
/// the file and the environment variables.
#[derive(Clone)]
struct Layer {
    entries: Vec<(String, Value)>,
}

impl std::fmt::Debug for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be secrets.
        f.debug_list()
            .entries(self.entries.iter().map(|(key, _)| key))
            .finish()
    }
}

impl Source for Layer {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, config::ConfigError> {
        Ok(self.entries.iter().cloned().collect())
    }
}

/// `DATABASE_URL` and the `GATEWAY__…` variables, as two sources so that the latter wins.
fn env_sources(env: &[(String, String)]) -> Result<(Layer, Layer), ConfigError> {
    let origin = "the environment".to_string();
    let string = |value: &str| Value::new(Some(&origin), ValueKind::String(value.to_string()));
    let mut database_url = Layer {
        entries: Vec::new(),
    };
    let mut gateway = Layer {
        entries: Vec::new(),
    };
    for (name, value) in env {
        if name == "DATABASE_URL" {
            database_url
                .entries
                .push(("database.url".to_string(), string(value)));
            continue;
        }
        let Some(rest) = name
            .get(..ENV_PREFIX.len())
            .filter(|prefix| prefix.eq_ignore_ascii_case(ENV_PREFIX))
            .map(|_| &name[ENV_PREFIX.len()..])
        else {
            continue;
        };
        let mut path = String::new();
        for segment in rest.split(ENV_SEPARATOR) {
            let segment = segment.to_ascii_lowercase();
            let valid = !segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                return Err(ConfigError::new(
                    name.clone(),
                    "not a configuration key (GATEWAY__<SECTION>__<KEY>)",
                ));
            }
            if segment.chars().all(|c| c.is_ascii_digit()) && !path.is_empty() {
                let _ = write!(path, "[{segment}]");
            } else {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&segment);
            }
        }
        let is_list = LIST_KEYS.contains(&path.as_str())
            || (path.starts_with("merchants[") && path.ends_with("].sub_malls"));
        let value = if is_list {
            let items = value
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(string)
                .collect();
            Value::new(Some(&origin), ValueKind::Array(items))
        } else {
            string(value)
        };
        gateway.entries.push((path, value));
    }
    Ok((database_url, gateway))
}

fn error_message(err: &config::ConfigError) -> String {
    match err {
        config::ConfigError::Type {
            unexpected,
            expected,
            ..
        } => format!("invalid type: {unexpected}, expected {expected}"),
        config::ConfigError::At { error, .. } => error_message(error),
        config::ConfigError::NotFound(_) => "missing".to_string(),
        config::ConfigError::FileParse { cause, .. } => cause.to_string().trim().replace('\n', " "),
        other => other.to_string(),
    }
}

fn error_key(err: &config::ConfigError) -> Option<String> {
    match err {
        config::ConfigError::Type { key, .. } => key.clone(),
        config::ConfigError::At { key, error, .. } => key.clone().or_else(|| error_key(error)),
        config::ConfigError::NotFound(key) => Some(key.clone()),
        _ => None,
    }
}

/// Turns the config crate's error into one naming the key; serde's "unknown field `x`" becomes key `section.x`.
fn convert_error(err: &config::ConfigError) -> ConfigError {
    let key = error_key(err).unwrap_or_default();
    let message = error_message(err);
    for (prefix, what) in [
        ("unknown field `", "unknown key"),
        ("missing field `", "missing"),
    ] {
        if let Some(field) = message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
        {
            let key = if key.is_empty() {
                field.to_string()
            } else {
                format!("{key}.{field}")
            };
            return ConfigError::new(key, what);
        }
    }
    let key = if key.is_empty() {
        "config".to_string()
    } else {
        key
    };
    ConfigError::new(key, message)
}
