//! Performs a push that [`herald_core::exchange::push::outbound`] built: one HTTP request to
//! Web Push, APNs or FCM, and its answer judged by [`herald_core::exchange::push::answers`].
//!
//! The one thing the core cannot do is FCM's access token: it takes an RS256 signature, made
//! here by the runtime's Web Crypto (`RSASSA-PKCS1-v1_5`, SHA-256) rather than a Rust RSA crate
//! (which would add to the bundle and carries an open timing advisory), and a round trip to
//! Google's token endpoint. The token is kept per isolate until shortly before it expires
//! ([`sign::parse_token_answer`]), and one fetch of it at a time (the pushes of a batch that
//! find none wait for the one being fetched); an FCM answer of 401 to a token that was not
//! just fetched drops it and the push is tried once more with a new one.
//!
//! A push endpoint is a URL a user gave (Web Push): its request never follows a redirect (a 3xx
//! is judged like any other answer), at most [`ANSWER_MAX`] bytes of any answer are read, and
//! reasons name the endpoint's origin only (an endpoint is a capability URL; an APNs path holds
//! the device token).
//!
//! Also here: the random bytes every Web Push encryption needs (`crypto.getRandomValues`), and
//! each provider's count of accepted answers within the breaker's window, which the push
//! breaker weighs against "gone" answers.

use crate::providers::within;
use futures_util::StreamExt;
use herald_core::exchange::push::answers::{self, Provider, Verdict};
use herald_core::exchange::push::outbound::PushRequest;
use herald_core::exchange::push::settings::PushSettings;
use herald_core::exchange::push::sign::{self, AccessToken, ServiceAccount};
use herald_platform::{new_request, new_request_without_redirects, now_ms};
use std::cell::{Cell, RefCell};
use std::time::Duration;
use worker::js_sys::{self, Array, Object, Reflect, Uint8Array};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::wasm_bindgen_futures::JsFuture;
use worker::{AbortController, Delay, Fetch, Headers, Method, Response};

/// The most of a provider's answer read: reasons quote 300 characters of it, and a push
/// endpoint may be anybody's server.
pub const ANSWER_MAX: usize = 4096;

thread_local! {
    /// FCM's access token, for this isolate.
    static FCM_TOKEN: RefCell<Option<AccessToken>> = const { RefCell::new(None) };
    /// An access token is being fetched: other pushes wait for it rather than fetch their own.
    static FETCHING: Cell<bool> = const { Cell::new(false) };
    /// Accepted answers per provider, and since when they are counted (`take_accepted`).
    static ACCEPTED: RefCell<[(u32, i64); 3]> = const { RefCell::new([(0, 0); 3]) };
}

fn index(provider: Provider) -> usize {
    match provider {
        Provider::WebPush => 0,
        Provider::Apns => 1,
        Provider::Fcm => 2,
    }
}

/// The accepted answers from `provider` this isolate saw since the last call and within the
/// breaker's window (`window_ms`) before `now`, each counted once: older ones say nothing of
/// the provider's configuration now.
pub fn take_accepted(provider: Provider, now: i64, window_ms: i64) -> u32 {
    ACCEPTED.with(|a| {
        let (count, since) = std::mem::replace(&mut a.borrow_mut()[index(provider)], (0, now));
        if now.saturating_sub(since) > window_ms {
            0
        } else {
            count
        }
    })
}

fn count_accepted(provider: Provider, now: i64, window_ms: i64) {
    ACCEPTED.with(|a| {
        let entry = &mut a.borrow_mut()[index(provider)];
        if entry.0 == 0 || now.saturating_sub(entry.1) > window_ms {
            *entry = (0, now);
        }
        entry.0 = entry.0.saturating_add(1);
    })
}

/// The scheme and host (and port) of `url`: what a reason may say of a push endpoint.
fn origin(url: &str) -> &str {
    let host_start = url.find("://").map_or(0, |i| i + 3);
    let end = url[host_start..].find(['/', '?', '#']).map_or(url.len(), |i| host_start + i);
    &url[..end]
}

/// The status, `Retry-After` and at most [`ANSWER_MAX`] bytes of the body of `response`.
async fn read_answer(mut response: Response) -> (u16, Option<String>, String) {
    let status = response.status_code();
    let retry_after = response.headers().get("retry-after").ok().flatten();
    let mut body = Vec::new();
    if let Ok(mut stream) = response.stream() {
        while let Some(Ok(chunk)) = stream.next().await {
            body.extend_from_slice(&chunk);
            if body.len() >= ANSWER_MAX {
                break;
            }
        }
    }
    body.truncate(ANSWER_MAX);
    (status, retry_after, String::from_utf8_lossy(&body).into_owned())
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
    let window_ms = settings.breaker.window_ms;
    if !request.access_token {
        return exchange(request, None, timeout_ms, window_ms).await;
    }
    for again in [false, true] {
        let (token, fetched) = match access_token(settings, again, timeout_ms).await {
            Ok(token) => token,
            Err(verdict) => return verdict,
        };
        let verdict = exchange(request, Some(&token), timeout_ms, window_ms).await;
        match verdict {
            // A token held a while was refused: a new one, once. (One just fetched and refused
            // would be refused again.)
            Verdict::Credentials { refresh: true, .. } if !again && !fetched => {
                FCM_TOKEN.with(|t| t.borrow_mut().take());
            }
            verdict => return verdict,
        }
    }
    unreachable!("the loop returns")
}

async fn exchange(request: &PushRequest, bearer: Option<&str>, timeout_ms: u32, window_ms: i64) -> Verdict {
    let at = origin(&request.url);
    let unbuildable = |e: worker::Error| Verdict::Payload { reason: format!("the request to {at} is not valid: {e}") };
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
    let fetch = match new_request_without_redirects(&request.url, Method::Post, &headers, Some(&body)) {
        Ok(req) => Fetch::Request(req),
        Err(e) => return unbuildable(e),
    };
    let controller = AbortController::default();
    let signal = controller.signal();
    let answer = async { Ok::<_, worker::Error>(read_answer(fetch.send_with_signal(&signal).await?).await) };
    let answered = within(timeout_ms, answer).await;
    // Whatever is left of an answer is not read.
    controller.abort();
    let verdict = match answered {
        Some(Ok((status, retry_after, body))) => {
            answers::judge(request.provider, status, retry_after.as_deref(), &body, now_ms())
        }
        Some(Err(e)) => Verdict::Retry { after_seconds: None, reason: format!("{at} could not be reached: {e}") },
        None => Verdict::Retry { after_seconds: None, reason: format!("{at} gave no answer within {timeout_ms} ms") },
    };
    if verdict == Verdict::Accepted {
        count_accepted(request.provider, now_ms(), window_ms);
    }
    verdict
}

/// FCM's access token, and whether it was fetched by this call: the one this isolate holds
/// (unless `refused`, when that one was just refused), or a new one. One fetch at a time: a
/// push that needs a token while another fetches one waits for it.
async fn access_token(settings: &PushSettings, refused: bool, timeout_ms: u32) -> Result<(String, bool), Verdict> {
    let started = now_ms();
    let held =
        |now: i64| FCM_TOKEN.with(|t| t.borrow().as_ref().filter(|t| t.expires_at_ms > now).map(|t| t.token.clone()));
    while FETCHING.with(Cell::get) {
        if now_ms() - started > i64::from(timeout_ms) {
            let reason = format!("no FCM access token within {timeout_ms} ms (another push is fetching one)");
            return Err(Verdict::Retry { after_seconds: None, reason });
        }
        Delay::from(Duration::from_millis(20)).await;
    }
    if !refused {
        if let Some(token) = held(now_ms()) {
            return Ok((token, false));
        }
    }
    FETCHING.with(|f| f.set(true));
    let fetched = fetch_token(settings, timeout_ms).await;
    FETCHING.with(|f| f.set(false));
    fetched.map(|token| (token, true))
}

/// A new access token from the token endpoint, kept for this isolate.
async fn fetch_token(settings: &PushSettings, timeout_ms: u32) -> Result<String, Verdict> {
    let now = now_ms();
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
    let exchange = async { Ok::<_, worker::Error>(read_answer(Fetch::Request(request).send().await?).await) };
    let retry = |reason: String| Verdict::Retry { after_seconds: None, reason };
    let (status, _, text) = match within(timeout_ms, exchange).await {
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
