//! A push job, made into the one HTTP request its provider takes: the payload
//! (`payload.rs`), sealed for Web Push (`ece.rs`) and signed (`sign.rs`), with the
//! configuration's credentials. Pure: the random bytes an encryption needs and the time are
//! arguments, and FCM's access token, which takes a round trip to Google, is added by the
//! consumer (`delivery/src/push.rs`) where [`PushRequest::access_token`] says.

use super::answers::Provider;
use super::payload::{self, HttpParts, Notice, PayloadError, TellRead};
use super::settings::{ApnsSettings, FcmSettings, PushSettings};
use super::sign::{self, Es256Key, ServiceAccount};
use super::{ece, receipts};
use crate::exchange::endpoint;
use crate::exchange::providers::Failure;
use crate::exchange::requests::Device;
use crate::exchange::{Job, Told, TTL_MAX_SECONDS};
use base64ct::{Base64UrlUnpadded, Encoding};

/// One request to a push provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRequest {
    pub provider: Provider,
    pub url: String,
    /// In this order; every value is ASCII.
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// FCM: the request needs `authorization: Bearer {an access token}` (`sign.rs`'s token
    /// exchange), which the consumer adds.
    pub access_token: bool,
}

/// Which provider serves `device`.
pub fn provider_of(device: &Device) -> Provider {
    match device {
        Device::Ios { .. } => Provider::Apns,
        Device::Android { .. } => Provider::Fcm,
        Device::WebPush { .. } => Provider::WebPush,
    }
}

/// The request that pushes `job` at `now`; `entropy` is 48 fresh random bytes (a Web Push's
/// ephemeral key and salt, RFC 8291 §3.1: both new for every message). A job no attempt could
/// send (its provider is off, a key is unusable, the payload cannot be made) is a permanent
/// [`Failure`] saying why.
pub fn outbound(job: &Job, settings: &PushSettings, now: i64, entropy: &[u8; 48]) -> Result<PushRequest, Failure> {
    let push = job.push.as_ref().ok_or_else(|| Failure::permanent("a push job without its device"))?;
    let ttl_ms = job.expires_at.map_or(TTL_MAX_SECONDS * 1000, |at| at.saturating_sub(now).max(0));
    let ttl_seconds = u32::try_from(ttl_ms / 1000).unwrap_or(u32::MAX);
    if let Some(kind) = push.told {
        // Now or never: stored for an offline phone, it could take the place of a notification
        // APNs keeps for it (one per app); a later push's `last_read` tells the read then.
        return told(job, settings, now, TellRead { kind, seq: job.seq, ttl_seconds: 0, collapse_id: None });
    }
    let collapse_id = payload::collapse_id(job.user.as_str(), job.seq);
    let notice = Notice {
        id: &job.notification,
        seq: job.seq,
        title: push.title.as_deref(),
        body: &job.text,
        url: push.url.as_deref(),
        data: push.data.as_ref(),
        urgency: push.urgency,
        ttl_seconds,
        collapse_id: &collapse_id,
        receipt: &push.receipt,
        last_read: push.last_read,
    };
    match &push.device {
        Device::WebPush { endpoint, p256dh, auth, .. } => {
            let web = settings.web_push.as_ref().ok_or_else(|| off("Web Push", "VAPID_*"))?;
            // Checked again here: a device may have been subscribed under older rules.
            endpoint::check_endpoint(endpoint, &settings.endpoints)
                .map_err(|why| Failure::permanent(format!("the subscription's endpoint is not sent to: it {why}")))?;
            let key = Es256Key::from_scalar_b64url(&web.private_key.0).map_err(key_failure("VAPID_PRIVATE_KEY"))?;
            let authorization = sign::vapid_authorization(&key, endpoint, &web.subject, now)
                .map_err(|e| Failure::permanent(e.to_string()))?;
            let parts = payload::web_push(&notice).map_err(payload_failure)?;
            let decode = |text: &str| Base64UrlUnpadded::decode_vec(text.trim_end_matches('='));
            let (Ok(p256dh), Ok(auth)) = (decode(p256dh), decode(auth)) else {
                return Err(Failure::permanent("the subscription's keys are not base64url"));
            };
            let (secret, salt) = entropy.split_at(32);
            let secret: &[u8; 32] = secret.try_into().expect("32 bytes");
            let salt: &[u8; 16] = salt.try_into().expect("16 bytes");
            let body = ece::web_push_encrypt(parts.plaintext.as_bytes(), &p256dh, &auth, secret, salt)
                .map_err(|e| Failure::permanent(format!("the push could not be encrypted: {e}")))?;
            let mut headers = parts.headers;
            headers.push(("authorization", authorization));
            Ok(PushRequest { provider: Provider::WebPush, url: endpoint.clone(), headers, body, access_token: false })
        }
        Device::Ios { token } => {
            apns_request(settings, now, &|apns| payload::apns(&apns.url, token, &apns.topic, &notice, now))
        }
        Device::Android { token } => {
            fcm_request(settings, &|fcm, project| payload::fcm(&fcm.url, project, token, &notice))
        }
    }
}

/// The silent push that tells a phone of a read (`inbox/told.rs`): APNs and FCM only, since a
/// Web Push must show a notification.
fn told(job: &Job, settings: &PushSettings, now: i64, tell: TellRead) -> Result<PushRequest, Failure> {
    let push = job.push.as_ref().ok_or_else(|| Failure::permanent("a push job without its device"))?;
    let reads = payload::reads_collapse_id(job.user.as_str());
    let tell = TellRead { collapse_id: (tell.kind == Told::Read).then_some(reads.as_str()), ..tell };
    match &push.device {
        Device::Ios { token } => {
            apns_request(settings, now, &|apns| payload::apns_told(&apns.url, token, &apns.topic, &tell, now))
        }
        Device::Android { token } => {
            fcm_request(settings, &|fcm, project| payload::fcm_told(&fcm.url, project, token, &tell))
        }
        Device::WebPush { .. } => Err(Failure::permanent("a read is not pushed to a Web Push subscription")),
    }
}

/// A provider that is off, for want of `vars`.
fn off(provider: &str, vars: &str) -> Failure {
    Failure::permanent(format!("{provider} is off: {vars} not set in this deployment's configuration"))
}

/// An APNs request of the parts `build` makes with the APNs settings, with a provider token
/// signed by `APNS_KEY`.
fn apns_request(
    settings: &PushSettings,
    now: i64,
    build: &dyn Fn(&ApnsSettings) -> Result<HttpParts, PayloadError>,
) -> Result<PushRequest, Failure> {
    let apns = settings.apns.as_ref().ok_or_else(|| off("APNs", "APNS_*"))?;
    let key = Es256Key::from_pkcs8_pem(&apns.key.0).map_err(key_failure("APNS_KEY"))?;
    let bearer = sign::apns_provider_token(&key, &apns.key_id, &apns.team_id, now);
    let parts = build(apns).map_err(payload_failure)?;
    let mut headers = parts.headers;
    headers.push(("authorization", format!("bearer {bearer}")));
    headers.push(("content-type", "application/json".into()));
    let body = parts.body.into_bytes();
    Ok(PushRequest { provider: Provider::Apns, url: parts.url, headers, body, access_token: false })
}

/// An FCM request of the parts `build` makes with the FCM settings and the service account's
/// project; the shell adds the access token.
fn fcm_request(
    settings: &PushSettings,
    build: &dyn Fn(&FcmSettings, &str) -> Result<HttpParts, PayloadError>,
) -> Result<PushRequest, Failure> {
    let fcm = settings.fcm.as_ref().ok_or_else(|| off("FCM", "FCM_SERVICE_ACCOUNT"))?;
    let account = ServiceAccount::parse(&fcm.service_account.0).map_err(key_failure("FCM_SERVICE_ACCOUNT"))?;
    let parts = build(fcm, &account.project_id).map_err(payload_failure)?;
    let body = parts.body.into_bytes();
    Ok(PushRequest { provider: Provider::Fcm, url: parts.url, headers: parts.headers, body, access_token: true })
}

/// The receipt credential for notification `seq` of `user`, as a push job carries it.
pub fn receipt(settings: &PushSettings, user: &crate::ids::UserId, seq: u64, until: i64) -> String {
    let secret = settings.receipt_secret.as_ref().map_or(&[][..], |s| s.0.as_bytes());
    receipts::issue(secret, user, seq, until)
}

fn key_failure<E: std::fmt::Display>(var: &'static str) -> impl Fn(E) -> Failure {
    move |e| Failure::permanent(format!("{var} cannot be used: {e}"))
}

fn payload_failure(e: PayloadError) -> Failure {
    Failure::permanent(format!("the push payload cannot be made: {e}"))
}
