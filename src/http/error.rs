//! The one place errors become HTTP responses. Handlers return `Result<_, AppError>`;
//! layer errors convert with `From`, and nothing else picks a status code.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::domain::override_request::RequestError;
use crate::engine::incidents::IncidentError;
use crate::engine::verification::VerifyError;
use crate::intake::IntakeError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error("missing or wrong credentials")]
    Unauthorized,
    /// Valid credentials whose role is below what the action needs.
    #[error("{0}")]
    Forbidden(String),
    /// Understood, but what it asks to apply does not validate (a config reload): 422
    /// with every problem in `errors`.
    #[error("{message}")]
    Unprocessable {
        message: String,
        errors: Vec<String>,
    },
    #[error("no such integration, or the key belongs to another kind")]
    UnknownIntegration,
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Conflict(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Refused for now: over the open-alert cap or the ingress rate. `code` names which.
    #[error("{message}")]
    Throttled {
        code: &'static str,
        limit: u32,
        retry_after: u64,
        message: String,
    },
    #[error("body larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// Transient trouble (storage down, deadline hit, draining): the sender should retry.
    #[error("not stored, retry later")]
    Unavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<IntakeError> for AppError {
    fn from(err: IntakeError) -> Self {
        match err {
            IntakeError::Invalid { field, message } => AppError::Invalid { field, message },
        }
    }
}

impl From<RequestError> for AppError {
    fn from(err: RequestError) -> Self {
        AppError::Invalid {
            field: err.field,
            message: err.message,
        }
    }
}

impl From<VerifyError> for AppError {
    fn from(err: VerifyError) -> Self {
        match err {
            VerifyError::NoPerson(_) | VerifyError::NoContact { .. } => AppError::NotFound,
            VerifyError::NotRequired { .. } => AppError::Invalid {
                field: "kind".into(),
                message: err.to_string(),
            },
            VerifyError::BadCode => AppError::Invalid {
                field: "code".into(),
                message: err.to_string(),
            },
            VerifyError::Send(_) => AppError::Unavailable(err.into()),
            VerifyError::Random(_) => AppError::Internal(err.into()),
            VerifyError::Store(err) => err.into(),
        }
    }
}

impl From<IncidentError> for AppError {
    fn from(err: IncidentError) -> Self {
        match err {
            IncidentError::Refused(refused) => AppError::Invalid {
                field: refused.field.into(),
                message: refused.message,
            },
            IncidentError::Store(err) => err.into(),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => AppError::NotFound,
            StoreError::Conflict(message) => AppError::Conflict(message),
            StoreError::Backend(_) => AppError::Unavailable(err.into()),
            StoreError::CapReached { limit } => AppError::Throttled {
                code: "open_alert_cap",
                limit,
                retry_after: 60,
                message: err.to_string(),
            },
            StoreError::Corrupt(_) => AppError::Internal(err.into()),
            StoreError::NotLeading => AppError::Unavailable(err.into()),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            AppError::Invalid { .. } => (StatusCode::BAD_REQUEST, "invalid_payload"),
            AppError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AppError::Unprocessable { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
            AppError::UnknownIntegration => (StatusCode::NOT_FOUND, "unknown_integration"),
            AppError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            AppError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            AppError::Throttled { code, .. } => (StatusCode::TOO_MANY_REQUESTS, *code),
            AppError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            AppError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        match &self {
            AppError::Unavailable(err) | AppError::Internal(err) => {
                tracing::error!(error = format!("{err:#}"), "request failed");
            }
            AppError::TooLarge { limit } => {
                tracing::error!(limit, "request body too large; rejected");
            }
            _ => {}
        }
        let mut body = serde_json::json!({ "error": code, "message": self.to_string() });
        if let AppError::Invalid { field, .. } = &self
            && !field.is_empty()
        {
            body["field"] = field.clone().into();
        }
        if let AppError::Unprocessable { errors, .. } = &self {
            body["errors"] = errors.clone().into();
        }
        if let AppError::Throttled {
            limit, retry_after, ..
        } = &self
        {
            body["limit"] = (*limit).into();
            return with_retry_after(respond(status, body), *retry_after);
        }
        respond(status, body)
    }
}

fn with_retry_after(mut response: Response, seconds: u64) -> Response {
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// An error on the PagerDuty-compatible endpoints, answered in PagerDuty's shapes
/// (intake spec §2.3) so PagerDuty senders read it as they would PagerDuty's own.
#[derive(Debug)]
pub struct PagerDutyError(pub AppError);

impl From<AppError> for PagerDutyError {
    fn from(err: AppError) -> Self {
        PagerDutyError(err)
    }
}

impl IntoResponse for PagerDutyError {
    fn into_response(self) -> Response {
        let (status, body) = match &self.0 {
            AppError::Invalid { message, .. } => (
                StatusCode::BAD_REQUEST,
                serde_json::json!({ "status": "invalid event",
                    "message": "Event object is invalid", "errors": [message] }),
            ),
            AppError::Throttled { retry_after, .. } => {
                let body = serde_json::json!({ "status": "throttle exceeded",
                    "message": "Too many events, retry later", "errors": [] });
                let response = respond(StatusCode::TOO_MANY_REQUESTS, body);
                return with_retry_after(response, *retry_after);
            }
            AppError::Unavailable(_) | AppError::Internal(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({ "status": "unavailable",
                    "message": "Event not stored, retry later", "errors": [] }),
            ),
            // Everything else keeps dutybell's own status and body.
            _ => return self.0.into_response(),
        };
        if let AppError::Unavailable(err) | AppError::Internal(err) = &self.0 {
            tracing::error!(error = format!("{err:#}"), "PagerDuty event not stored");
        }
        respond(status, body)
    }
}

/// A JSON response; 503s tell the sender when to retry.
fn respond(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    response
}
