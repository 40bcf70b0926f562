//! JSON answers and coded errors. Every refusal, from the Worker or an object, goes out here
//! as `{code, message, details?}` with the status its code maps to.

use herald_core::error::Error;
use worker::{Headers, Response};

/// A JSON body with `status`.
pub fn json(status: u16, body: String) -> worker::Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json; charset=utf-8")?;
    Ok(Response::ok(body)?.with_status(status).with_headers(headers))
}

/// The coded error as a response. Never fails: if even building the response fails, a bare
/// 500 is the only honest answer left.
pub fn error(error: &Error) -> Response {
    let built = json(error.code.http_status(), error.to_json()).and_then(|response| {
        if let Some(allow) = error.details.as_ref().and_then(|d| d.get("allow")).and_then(|a| a.as_array()) {
            let methods: Vec<&str> = allow.iter().filter_map(|m| m.as_str()).collect();
            response.headers().set("allow", &methods.join(", "))?;
        }
        Ok(response)
    });
    built.unwrap_or_else(|_| Response::error("internal error", 500).expect("a bare response always builds"))
}

/// A platform error (a failed JavaScript call) as Herald's `internal` error.
pub fn internal(e: worker::Error) -> Error {
    Error::internal(format!("the platform refused a call: {e}"))
}
