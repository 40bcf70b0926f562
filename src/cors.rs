//! CORS at the Worker's door: a preflight is answered here, and every answer to a page on an
//! allowed origin carries the headers that let it read the answer. The rules (which origins,
//! which headers, credentials only where a cookie is accepted) are
//! [`herald_core::origin::AllowedOrigins`]'; this only reads the request and writes headers.

use herald_core::config::Config;
use herald_platform::respond;
use worker::{Headers, Method, Request, Response};

/// What CORS needs to know of a request: the page's origin, Herald's own, and whether the
/// route accepts a cookie. Empty when the request has no `Origin` (not a browser's) or the
/// configuration is invalid (then every answer is `config_invalid` anyway).
pub struct Cors {
    request: Option<(String, String, bool, &'static Config)>,
}

impl Cors {
    pub fn of(req: &Request, url_path: &str, config: Option<&'static Config>) -> Self {
        let origin = req.headers().get("origin").ok().flatten();
        let request = origin.zip(config).map(|(origin, config)| {
            let own = herald_core::origin::of_url(&req.inner().url()).to_owned();
            let cookie_route = config.routes.find(url_path).is_some_and(|route| route.options.cookie.is_some());
            (origin, own, cookie_route, config)
        });
        Self { request }
    }

    /// The answer to a preflight (`OPTIONS` with `Access-Control-Request-Method`), or `None`
    /// for any other request.
    pub fn preflight(&self, req: &Request) -> Option<Response> {
        let (origin, own, cookie_route, config) = self.request.as_ref()?;
        let asks = req.headers().get("access-control-request-method").ok().flatten().is_some();
        if req.method() != Method::Options || !asks {
            return None;
        }
        Some(match config.origins.preflight(origin, own, *cookie_route) {
            Ok(headers) => with(Response::empty().map(|r| r.with_status(204)), &headers),
            Err(e) => respond::error(&e),
        })
    }

    /// `response` with the CORS headers for this request's page, if it may read it. A 101
    /// (a websocket) is left alone: browsers do not apply CORS to websockets.
    pub fn apply(&self, response: Response) -> Response {
        let Some((origin, own, cookie_route, config)) = &self.request else { return response };
        if response.status_code() == 101 {
            return response;
        }
        let headers = config.origins.cors_headers(Some(origin), own, *cookie_route);
        with(Ok(response), &headers)
    }
}

/// `response` with `extra` headers. An object's answer keeps the immutable headers of the
/// fetch it came from, so they are copied into a new set rather than changed in place.
fn with(response: worker::Result<Response>, extra: &[(&'static str, String)]) -> Response {
    let built = response.and_then(|response| {
        let headers = Headers::new();
        for (name, value) in response.headers().entries() {
            headers.append(&name, &value)?;
        }
        for (name, value) in extra {
            if *name == "vary" {
                headers.append(name, value)?;
            } else {
                headers.set(name, value)?;
            }
        }
        Ok(response.with_headers(headers))
    });
    built.unwrap_or_else(|e| respond::error(&respond::internal(e)))
}
