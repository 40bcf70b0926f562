//! What the core takes as arguments and the runtime provides: the time, fresh random ids,
//! vars and the configuration, and calls to objects; and [`respond`], the JSON answers and
//! coded errors. Shared by the Worker (`herald`), its Durable Objects
//! (`herald-durable-objects`) and the delivery Worker (`herald-delivery`), which is why it is
//! a crate of its own: the delivery Worker links it without linking the objects.

pub mod respond;

use herald_core::config::{Config, ConfigError};
use herald_core::error::{Error, ErrorCode};
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::web_sys;

#[wasm_bindgen]
extern "C" {
    /// Web Crypto's `crypto.getRandomValues`, which workerd provides everywhere.
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]);
}

/// Milliseconds since the epoch. (In a Worker the clock advances only across I/O, which is
/// all the precision ordering needs: the room's seq is the order, `ts` is information.)
pub fn now_ms() -> i64 {
    worker::Date::now().as_millis() as i64
}

/// 128 random bits as 32 lowercase hex characters.
pub fn fresh_id() -> String {
    let mut bytes = [0u8; 16];
    get_random_values(&mut bytes);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(32);
    for b in bytes {
        id.push(HEX[usize::from(b >> 4)] as char);
        id.push(HEX[usize::from(b & 0xf)] as char);
    }
    id
}

/// The parts of a request's URL that Herald reads: its path and its query. Taken from the URL
/// as the runtime serialised it, without parsing it again (see [`herald_core::query`]).
pub struct Url {
    path: String,
    query: Option<String>,
}

impl Url {
    pub fn of(req: &worker::Request) -> Self {
        let href = req.inner().url();
        Self { path: req.path(), query: herald_core::query::of(&href).map(str::to_owned) }
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query without its `?`; `None` when the URL has no `?`.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }
}

/// The first value of query parameter `name`, percent-decoded.
pub fn query_param(url: &Url, name: &str) -> Option<String> {
    herald_core::query::param(url.query()?, name)
}

/// The request's method as the client sent it, upper-case. (workers-rs's `Method` reads any
/// method it does not know, WebDAV's `PROPFIND` among them, as `GET`.)
pub fn method(req: &worker::Request) -> String {
    req.inner().method().to_ascii_uppercase()
}

/// Tells an object the client's address as the connection caps count it
/// ([`herald_core::internal::ADDRESS`]), from `CF-Connecting-IP`: Cloudflare sets it on every
/// request at its edge (replacing one a client sent); locally Miniflare sets it from the socket
/// when the client did not send one. A request without one counts by no address.
pub fn pass_client_address(req: &worker::Request, headers: &worker::Headers) -> Result<(), Error> {
    let ip = req.headers().get("cf-connecting-ip").ok().flatten();
    match ip.as_deref().and_then(herald_core::connections::address_key) {
        Some(address) => headers.set(herald_core::internal::ADDRESS, &address).map_err(crate::respond::internal),
        None => Ok(()),
    }
}

/// Reads a var or secret as a string (both reach a Worker as strings).
pub fn var(env: &worker::Env, name: &str) -> Option<String> {
    env.var(name).ok().map(|v| v.to_string())
}

/// The configuration, parsed once per isolate. A bad value answers every request with
/// `config_invalid` naming the variable, rather than running on a guess.
pub fn config(env: &worker::Env) -> Result<&'static Config, Error> {
    static CONFIG: OnceLock<Result<Config, ConfigError>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let config = Config::from_vars(|name| var(env, name));
            // Said once per isolate, when the configuration is first read: which push providers
            // are on, and which are off for want of credentials.
            if let Ok(config) = &config {
                worker::console_log!("{}", config.fallback.push.summary());
            }
            config
        })
        .as_ref()
        .map_err(|e| Error::new(ErrorCode::ConfigInvalid, format!("Herald is misconfigured: {e}")))
}

/// A future behind a pointer, polled through its vtable. A router awaits each route's future
/// this way so that the compiler cannot inline every route's state machine into the router's
/// own: inlined, they made one enormous function (tens of KB of the wasm bundle, which the
/// platform caps), holding the largest route's state on every request.
pub fn boxed<'a, T>(future: impl Future<Output = T> + 'a) -> Pin<Box<dyn Future<Output = T> + 'a>> {
    Box::pin(future)
}

/// The binding of Herald's one object class in wrangler.toml (rooms and homes alike).
pub const OBJECTS: &str = "ROOMS";

/// A request of `method` to `url` with `headers` and `body`, for `fetch` or an object. Made
/// on the runtime's `Request` directly: workers-rs's `Request::new_with_init` would also
/// convert its `cf` options, which Herald never sets, and that conversion is code in the
/// bundle. Its errors read as that function's do.
pub fn new_request(
    url: &str,
    method: worker::Method,
    headers: &worker::Headers,
    body: Option<&JsValue>,
) -> worker::Result<worker::Request> {
    request_with(url, method, headers, body, false, None)
}

/// [`new_request`] that does not follow a redirect (`redirect: "manual"`): for a URL a user
/// gave (a Web Push endpoint), whose server must not send Herald's request somewhere else.
pub fn new_request_without_redirects(
    url: &str,
    method: worker::Method,
    headers: &worker::Headers,
    body: Option<&JsValue>,
) -> worker::Result<worker::Request> {
    request_with(url, method, headers, body, true, None)
}

fn request_with(
    url: &str,
    method: worker::Method,
    headers: &worker::Headers,
    body: Option<&JsValue>,
    manual_redirects: bool,
    signal: Option<&web_sys::AbortSignal>,
) -> worker::Result<worker::Request> {
    let init = web_sys::RequestInit::new();
    init.set_signal(signal);
    if manual_redirects {
        worker::js_sys::Reflect::set(&init, &"redirect".into(), &"manual".into())
            .map_err(|_| worker::Error::JsError("RequestInit refused redirect".into()))?;
    }
    init.set_method(method.as_ref());
    init.set_headers(headers.as_ref());
    if let Some(body) = body {
        init.set_body(body);
    }
    web_sys::Request::new_with_str_and_init(url, &init).map(worker::Request::from).map_err(|e| {
        worker::Error::JsError(e.as_string().unwrap_or_else(|| "invalid URL or options for Request".to_string()))
    })
}

/// Calls the object named `name` (`room:{id}`, `home:{id}`) over the internal API (see
/// `herald_core::internal`): `path_and_query` with `method`, `headers` and `body`, and the
/// object's name in [`herald_core::internal::OBJECT`].
pub async fn call_object(
    env: &worker::Env,
    name: &str,
    method: worker::Method,
    path_and_query: &str,
    headers: worker::Headers,
    body: Option<String>,
) -> Result<worker::Response, Error> {
    call_object_for(env, name, method, path_and_query, headers, body, None).await
}

/// [`call_object`] on behalf of a client's request whose `signal` aborts when the client goes
/// away: the object's request then aborts too (its own `signal`), so the object can tell a
/// client that is no longer there (a long-polling GET abandoned).
pub async fn call_object_for(
    env: &worker::Env,
    name: &str,
    method: worker::Method,
    path_and_query: &str,
    headers: worker::Headers,
    body: Option<String>,
    signal: Option<&web_sys::AbortSignal>,
) -> Result<worker::Response, Error> {
    let internal = crate::respond::internal;
    // The object learns its name from this, not from the runtime (herald_core::object).
    headers.set(herald_core::internal::OBJECT, name).map_err(internal)?;
    let body = body.map(|body| JsValue::from_str(&body));
    let url = format!("https://object{path_and_query}");
    let request = request_with(&url, method, &headers, body.as_ref(), false, signal).map_err(internal)?;
    let stub = env.durable_object(OBJECTS).and_then(|ns| ns.get_by_name(name)).map_err(internal)?;
    stub.fetch_with_request(request).await.map_err(internal)
}

/// POSTs `body` (JSON) to `path` of the object named `name`, between objects: what it
/// answers, or an error when it could not be reached or answered with one.
pub async fn post_to_object(env: &worker::Env, name: &str, path: &str, body: String) -> Result<String, Error> {
    let internal = crate::respond::internal;
    let headers = worker::Headers::new();
    headers.set("content-type", "application/json").map_err(internal)?;
    let mut response = call_object(env, name, worker::Method::Post, path, headers, Some(body)).await?;
    let text = response.text().await.map_err(internal)?;
    match response.status_code() {
        200..=299 => Ok(text),
        status => Err(Error::internal(format!("{name} answered {path} with {status}: {text}"))),
    }
}
