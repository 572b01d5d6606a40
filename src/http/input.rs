//! Reading admin API input the same way everywhere: JSON bodies, who acts, and the one
//! shape of a refusal (`400` naming the field).

use serde::de::DeserializeOwned;

use super::{AppError, AppState};

/// A `400` naming the field at fault.
pub fn invalid(field: &str, message: impl Into<String>) -> AppError {
    AppError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// A JSON body; a malformed one (or an unknown field) is a `400` on `body`.
pub fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    serde_json::from_slice(body).map_err(|err| invalid("body", err.to_string()))
}

/// Who acts: a person id from team.toml, or `api` when the request names nobody.
pub fn actor(state: &AppState, by: Option<String>) -> Result<String, AppError> {
    let config = state.config.current();
    match by {
        Some(by) if config.person(&by).is_some() => Ok(by),
        Some(by) => Err(invalid("by", format!("no person {by:?} in team.toml"))),
        None => Ok("api".into()),
    }
}
