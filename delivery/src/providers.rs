//! Performs what [`herald_core::exchange::providers`] builds: an HTTP request to the email or
//! SMS API (fetch, with the configured timeout), or a message through the `send_email`
//! binding. Every outcome comes back as the core judges it: sent, or a [`Failure`] saying why
//! and whether a retry could help.

use futures_util::future::{select, Either};
use herald_core::exchange::providers::{judge, BindingEmail, Failure, Outbound, ProviderRequest};
use herald_platform::new_request;
use std::future::Future;
use std::pin::pin;
use std::time::Duration;
use worker::wasm_bindgen::JsValue;
use worker::{AbortController, Delay, EmailMessage, Env, Fetch, Headers, Method};

/// The `send_email` binding `EMAIL_PROVIDER=binding` sends through (`[[send_email]]` in
/// wrangler.toml).
pub const EMAIL_BINDING: &str = "EMAIL";

/// Sends `outbound`; a provider that has not answered after `timeout_ms` failed this attempt.
pub async fn send(env: &Env, outbound: &Outbound, timeout_ms: u32) -> Result<(), Failure> {
    match outbound {
        Outbound::Http(request) => http(request, timeout_ms).await,
        Outbound::Binding(email) => binding(env, email, timeout_ms).await,
        // Its answer is a provider's verdict, not a failure: `crate::push` sends it.
        Outbound::Push(request) => Err(Failure::permanent(format!("a push to {} went the email way", request.url))),
    }
}

async fn http(request: &ProviderRequest, timeout_ms: u32) -> Result<(), Failure> {
    let unbuildable =
        |e: worker::Error| Failure::permanent(format!("the request to {} is not valid: {e}", request.url));
    let headers = Headers::new();
    for (name, value) in &request.headers {
        headers.set(name, value).map_err(unbuildable)?;
    }
    let method = Method::from(request.method.to_owned());
    let body = JsValue::from_str(&request.body);
    let fetch = Fetch::Request(new_request(&request.url, method, &headers, Some(&body)).map_err(unbuildable)?);
    let controller = AbortController::default();
    let signal = controller.signal();
    let exchange = async {
        let mut response = fetch.send_with_signal(&signal).await?;
        // The answer's body is part of the exchange: a provider that sends its status and
        // then stalls has not answered.
        let body = response.text().await.unwrap_or_default();
        Ok::<_, worker::Error>((response.status_code(), body))
    };
    match within(timeout_ms, exchange).await {
        Some(Ok((status, body))) => judge(status, &body),
        Some(Err(e)) => Err(Failure::retryable(format!("{} could not be reached: {e}", request.url))),
        None => {
            controller.abort();
            Err(Failure::ambiguous(format!("{} gave no answer within {} ms", request.url, timeout_ms)))
        }
    }
}

/// Cloudflare's `send_email` binding. Its errors do not say whether a retry could help, so
/// each is worth one (the attempts are bounded).
async fn binding(env: &Env, email: &BindingEmail, timeout_ms: u32) -> Result<(), Failure> {
    let sender = env.send_email(EMAIL_BINDING).map_err(|e| {
        Failure::permanent(format!("EMAIL_PROVIDER=binding needs a [[send_email]] binding named {EMAIL_BINDING}: {e}"))
    })?;
    let message = EmailMessage::new(&email.from, &email.to, &email.raw)
        .map_err(|e| Failure::permanent(format!("the email could not be made: {}", String::from(e.message()))))?;
    match within(timeout_ms, sender.send(&message)).await {
        Some(Ok(_)) => Ok(()),
        Some(Err(e)) => Err(Failure::retryable(format!("send_email refused it: {}", String::from(e.message())))),
        None => Err(Failure::ambiguous(format!("send_email gave no answer within {timeout_ms} ms"))),
    }
}

/// `future`'s output, or `None` when `ms` passed first.
pub async fn within<T>(ms: u32, future: impl Future<Output = T>) -> Option<T> {
    let future = pin!(future);
    let timer = pin!(Delay::from(Duration::from_millis(u64::from(ms))));
    match select(future, timer).await {
        Either::Left((output, _)) => Some(output),
        Either::Right(_) => None,
    }
}
