//! API errors, rendered as the `Status` objects the real apiserver sends, with
//! its reasons and message wording.

use serde_json::{json, Value};

use super::resources::ResourceType;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

/// The `reason` the real server gives to a bare HTTP status code.
pub fn reason_for_code(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        409 => "Conflict",
        410 => "Expired",
        413 => "RequestEntityTooLarge",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "",
    }
}

fn details(rt: &ResourceType, name: &str) -> Value {
    let mut d = json!({"name": name, "kind": rt.plural});
    if !rt.group.is_empty() {
        d["group"] = json!(rt.group);
    }
    d
}

impl ApiError {
    pub fn new(code: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason: reason_for_code(code),
            message: message.into(),
            details: None,
        }
    }

    pub fn not_found(rt: &ResourceType, name: &str) -> ApiError {
        ApiError {
            code: 404,
            reason: "NotFound",
            message: format!("{} \"{name}\" not found", rt.group_resource()),
            details: Some(details(rt, name)),
        }
    }

    /// A path that names no served resource.
    pub fn no_route() -> ApiError {
        ApiError {
            code: 404,
            reason: "NotFound",
            message: "the server could not find the requested resource".into(),
            details: None,
        }
    }

    pub fn already_exists(rt: &ResourceType, name: &str) -> ApiError {
        ApiError {
            code: 409,
            reason: "AlreadyExists",
            message: format!("{} \"{name}\" already exists", rt.group_resource()),
            details: Some(details(rt, name)),
        }
    }

    pub fn conflict(rt: &ResourceType, name: &str) -> ApiError {
        ApiError {
            code: 409,
            reason: "Conflict",
            message: format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
                 please apply your changes to the latest version and try again",
                rt.group_resource()
            ),
            details: Some(details(rt, name)),
        }
    }

    /// A DeleteOptions precondition that does not hold.
    pub fn precondition_failed(rt: &ResourceType, name: &str, what: &str) -> ApiError {
        ApiError {
            code: 409,
            reason: "Conflict",
            message: format!(
                "Operation cannot be fulfilled on {} \"{name}\": {what}",
                rt.group_resource()
            ),
            details: Some(details(rt, name)),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, message)
    }

    pub fn method_not_allowed() -> ApiError {
        ApiError::new(
            405,
            "the server does not allow this method on the requested resource",
        )
    }

    /// 422 Invalid for one field, worded like the real validation errors.
    pub fn invalid(rt: &ResourceType, name: &str, field: &str, detail: &str) -> ApiError {
        let mut d = json!({
            "name": name,
            "kind": rt.kind,
            "causes": [{"reason": "FieldValueInvalid", "message": detail, "field": field}],
        });
        if !rt.group.is_empty() {
            d["group"] = json!(rt.group);
        }
        ApiError {
            code: 422,
            reason: "Invalid",
            message: format!(
                "{} \"{name}\" is invalid: {field}: {detail}",
                rt.group_kind()
            ),
            details: Some(d),
        }
    }

    /// An error of the given code for an injected fault, worded like the real
    /// error of that kind where one is known.
    pub fn injected(code: u16, rt: Option<&ResourceType>, name: Option<&str>) -> ApiError {
        match (code, rt, name) {
            (404, Some(rt), Some(name)) => ApiError::not_found(rt, name),
            (409, Some(rt), Some(name)) => ApiError::conflict(rt, name),
            (409, _, _) => ApiError::new(
                409,
                "Operation cannot be fulfilled: the object has been modified; \
                 please apply your changes to the latest version and try again",
            ),
            (429, _, _) => ApiError {
                details: Some(json!({"retryAfterSeconds": 1})),
                ..ApiError::new(429, "Too many requests, please try again later.")
            },
            (500, _, _) => ApiError::new(500, "Internal error occurred: injected fault"),
            (503, _, _) => ApiError::new(503, "the server is currently unable to handle the request"),
            (504, _, _) => ApiError::new(504, "the server was unable to return a response in the time allotted, but may still be processing the request"),
            (code, _, _) => ApiError::new(code, format!("injected fault ({code})")),
        }
    }

    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "code": self.code,
        });
        if !self.reason.is_empty() {
            s["reason"] = json!(self.reason);
        }
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }
}
