//! Reading wrangler vars and secrets: every one is a string; a bad one is refused with its name
//! and what is wrong ([`ConfigError`]), never used.

use std::fmt;
use std::str::FromStr;

/// A variable that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.var, self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// A `true` / `false` variable, `false` when unset.
pub fn flag(get: &impl Fn(&str) -> Option<String>, var: &'static str) -> Result<bool, ConfigError> {
    match get(var).as_deref().map(str::trim) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(ConfigError { var, problem: format!("must be true or false, not {other:?}") }),
    }
}

/// A provider's base URL (`var`, or `default` when unset): http(s), without a trailing `/`.
pub fn url(get: &impl Fn(&str) -> Option<String>, var: &'static str, default: &str) -> Result<String, ConfigError> {
    let url = get(var).unwrap_or_else(|| default.to_owned());
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(ConfigError { var, problem: format!("must be an http(s) URL, not {url:?}") });
    }
    Ok(url.trim_end_matches('/').to_owned())
}

/// An integer variable within `[min, max]`, or `default` when unset.
pub fn number<T>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + fmt::Display + Copy,
{
    let Some(raw) = get(var) else { return Ok(default) };
    let value: T =
        raw.trim().parse().map_err(|_| ConfigError { var, problem: format!("must be a whole number, not {raw:?}") })?;
    if value < min || value > max {
        return Err(ConfigError { var, problem: format!("must be between {min} and {max}, not {value}") });
    }
    Ok(value)
}
