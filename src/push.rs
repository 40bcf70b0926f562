//! Performs a push that [`herald_core::exchange::push::outbound`] built: one HTTP request to
//! Web Push, APNs or FCM, and its answer judged by [`herald_core::exchange::push::answers`].
//!
//! The one thing the core cannot do is FCM's access token: it takes an RS256 signature, made
//! here by the runtime's Web Crypto (`RSASSA-PKCS1-v1_5`, SHA-256) rather than a Rust RSA crate
//! (which would add to the bundle and carries an open timing advisory), and a round trip to
//! Google's token endpoint. The token is kept per isolate until shortly before it expires
//! ([`sign::parse_token_answer`]); an FCM answer of 401 drops it and the push is tried once
//! more with a new one.
//!
//! Also here: the random bytes every Web Push encryption needs (`crypto.getRandomValues`), and
//! each provider's count of accepted answers, which the push breaker weighs against "gone"
//! answers.

use crate::providers::within;
use herald_core::exchange::push::answers::{self, Provider, Verdict};
use herald_core::exchange::push::outbound::PushRequest;
use herald_core::exchange::push::settings::PushSettings;
use herald_core::exchange::push::sign::{self, AccessToken, ServiceAccount};
use herald_durable_objects::platform::{new_request, now_ms};
use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, Ordering};
use worker::js_sys::{self, Array, Object, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{AbortController, Fetch, Headers, Method};

thread_local! {
    /// FCM's access token, for this isolate.
    static FCM_TOKEN: RefCell<Option<AccessToken>> = const { RefCell::new(None) };
}

/// Accepted answers per provider since the breaker was last told (`take_accepted`).
static ACCEPTED: [AtomicU32; 3] = [AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0)];

fn index(provider: Provider) -> usize {
    match provider {
        Provider::WebPush => 0,
        Provider::Apns => 1,
        Provider::Fcm => 2,
    }
}

/// The accepted answers from `provider` this isolate saw since the last call, counted once.
pub fn take_accepted(provider: Provider) -> u32 {
    ACCEPTED[index(provider)].swap(0, Ordering::Relaxed)
}

/// `N` fresh random bytes from the runtime's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    let array = Uint8Array::new_with_length(N as u32);
    let filled = crypto()
        .and_then(|crypto| call(&crypto, "getRandomValues", &[array.clone().into()]))
        .map(|_| array.copy_to(&mut bytes));
    // Without randomness no encryption may go out: all zeros is refused by the encryption (a
    // zero key), so the push fails as permanent rather than leaking.
    if let Err(e) = filled {
        worker::console_error!("crypto.getRandomValues failed: {e:?}");
    }
    bytes
}

/// Sends `request`, within `timeout_ms`, and judges the answer.
pub async fn send(request: &PushRequest, settings: &PushSettings, timeout_ms: u32) -> Verdict {
    if !request.access_token {
        return exchange(request, None, timeout_ms).await;
    }
    for fresh in [false, true] {
        let token = match access_token(settings, fresh, timeout_ms).await {
            Ok(token) => token,
            Err(verdict) => return verdict,
        };
        let verdict = exchange(request, Some(&token), timeout_ms).await;
        match verdict {
            // The token was refused: a new one, once.
            Verdict::Credentials { refresh: true, .. } if !fresh => {
                FCM_TOKEN.with(|t| t.borrow_mut().take());
            }
            verdict => return verdict,
        }
    }
    unreachable!("the loop returns")
}

async fn exchange(request: &PushRequest, bearer: Option<&str>, timeout_ms: u32) -> Verdict {
    let unbuildable =
        |e: worker::Error| Verdict::Payload { reason: format!("the request to {} is not valid: {e}", request.url) };
    let headers = Headers::new();
    for (name, value) in &request.headers {
        if let Err(e) = headers.set(name, value) {
            return unbuildable(e);
        }
    }
    if let Some(token) = bearer {
        if let Err(e) = headers.set("authorization", &format!("Bearer {token}")) {
            return unbuildable(e);
        }
    }
    let body = Uint8Array::from(request.body.as_slice()).into();
    let fetch = match new_request(&request.url, Method::Post, &headers, Some(&body)) {
        Ok(req) => Fetch::Request(req),
        Err(e) => return unbuildable(e),
    };
    let controller = AbortController::default();
    let signal = controller.signal();
    let answer = async {
        let mut response = fetch.send_with_signal(&signal).await?;
        let retry_after = response.headers().get("retry-after").ok().flatten();
        let body = response.text().await.unwrap_or_default();
        Ok::<_, worker::Error>((response.status_code(), retry_after, body))
    };
    let verdict = match within(timeout_ms, answer).await {
        Some(Ok((status, retry_after, body))) => {
            answers::judge(request.provider, status, retry_after.as_deref(), &body, now_ms())
        }
        Some(Err(e)) => {
            Verdict::Retry { after_seconds: None, reason: format!("{} could not be reached: {e}", request.url) }
        }
        None => {
            controller.abort();
            Verdict::Retry {
                after_seconds: None,
                reason: format!("{} gave no answer within {timeout_ms} ms", request.url),
            }
        }
    };
    if verdict == Verdict::Accepted {
        ACCEPTED[index(request.provider)].fetch_add(1, Ordering::Relaxed);
    }
    verdict
}

/// FCM's access token: the one this isolate holds, or (`fresh`, or none held) a new one.
async fn access_token(settings: &PushSettings, fresh: bool, timeout_ms: u32) -> Result<String, Verdict> {
    let now = now_ms();
    if !fresh {
        let held = FCM_TOKEN.with(|t| t.borrow().as_ref().filter(|t| t.expires_at_ms > now).map(|t| t.token.clone()));
        if let Some(token) = held {
            return Ok(token);
        }
    }
    let credentials = |reason: String| Verdict::Credentials { reason, refresh: false };
    let fcm = settings.fcm.as_ref().ok_or_else(|| credentials("FCM is off: FCM_SERVICE_ACCOUNT is not set".into()))?;
    let account = ServiceAccount::parse(&fcm.service_account.0)
        .map_err(|e| credentials(format!("FCM_SERVICE_ACCOUNT cannot be used: {e}")))?;
    let input = sign::fcm_assertion_input(&account, &fcm.token_url, now);
    let der = account.private_key_pkcs8_der().map_err(|e| credentials(format!("FCM_SERVICE_ACCOUNT's key: {e}")))?;
    let signature = rs256(&der, input.as_bytes())
        .await
        .map_err(|e| credentials(format!("FCM_SERVICE_ACCOUNT's key could not sign (Web Crypto): {e}")))?;
    let body = sign::token_request_body(&sign::fcm_assertion(&input, &signature));
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/x-www-form-urlencoded");
    let request = new_request(&fcm.token_url, Method::Post, &headers, Some(&JsValue::from_str(&body)))
        .map_err(|e| credentials(format!("FCM_TOKEN_URL {:?} is not usable: {e}", fcm.token_url)))?;
    let exchange = async {
        let mut response = Fetch::Request(request).send().await?;
        let text = response.text().await.unwrap_or_default();
        Ok::<_, worker::Error>((response.status_code(), text))
    };
    let retry = |reason: String| Verdict::Retry { after_seconds: None, reason };
    let (status, text) = match within(timeout_ms, exchange).await {
        Some(Ok(answer)) => answer,
        Some(Err(e)) => return Err(retry(format!("the FCM token endpoint could not be reached: {e}"))),
        None => return Err(retry(format!("the FCM token endpoint gave no answer within {timeout_ms} ms"))),
    };
    match sign::parse_token_answer(status, &text, now_ms()) {
        Ok(token) => {
            let value = token.token.clone();
            FCM_TOKEN.with(|t| *t.borrow_mut() = Some(token));
            Ok(value)
        }
        Err(reason) if status >= 500 || status == 429 => Err(retry(reason)),
        Err(reason) => Err(credentials(reason)),
    }
}

/// An RS256 (RSASSA-PKCS1-v1_5 with SHA-256) signature of `data` with the PKCS#8 key `der`,
/// by the runtime's Web Crypto.
async fn rs256(der: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
    let subtle = Reflect::get(&crypto()?, &"subtle".into()).map_err(describe)?;
    let algorithm = Object::new();
    Reflect::set(&algorithm, &"name".into(), &"RSASSA-PKCS1-v1_5".into()).map_err(describe)?;
    Reflect::set(&algorithm, &"hash".into(), &"SHA-256".into()).map_err(describe)?;
    let usages = Array::of1(&"sign".into());
    let imported = call(
        &subtle,
        "importKey",
        &["pkcs8".into(), Uint8Array::from(der).into(), algorithm.clone().into(), false.into(), usages.into()],
    )?;
    let key = JsFuture::from(imported.dyn_into::<js_sys::Promise>().map_err(describe)?).await.map_err(describe)?;
    let signed = call(&subtle, "sign", &[algorithm.into(), key, Uint8Array::from(data).into()])?;
    let signature = JsFuture::from(signed.dyn_into::<js_sys::Promise>().map_err(describe)?).await.map_err(describe)?;
    Ok(Uint8Array::new(&signature).to_vec())
}

fn crypto() -> Result<JsValue, String> {
    Reflect::get(&js_sys::global(), &"crypto".into()).map_err(describe)
}

/// `target.name(...args)`.
fn call(target: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, String> {
    let function: js_sys::Function =
        Reflect::get(target, &name.into()).map_err(describe)?.dyn_into().map_err(describe)?;
    Reflect::apply(&function, target, &args.iter().collect::<Array>()).map_err(describe)
}

fn describe(value: JsValue) -> String {
    value
        .as_string()
        .or_else(|| js_sys::JSON::stringify(&value).ok().and_then(|s| s.as_string()))
        .unwrap_or_else(|| format!("{value:?}"))
}
