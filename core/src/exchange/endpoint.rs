//! Which Web Push endpoints Herald will POST to ([`EndpointRules`]), and the check of one
//! endpoint against them ([`check_endpoint`]), used by [`super::device::Device::parse`].
//!
//! An endpoint is a URL the subscriber chose, and Herald's Worker sends to it: left open, a
//! subscription could aim Herald at `https://169.254.169.254/` or any other host. So an https
//! endpoint must name a known push service by its DNS name ([`PushHosts`], configuration
//! `WEB_PUSH_HOSTS`), and plain http is taken only to this machine, only for local tests.

use std::fmt;

/// The longest endpoint taken.
const ENDPOINT_MAX: usize = 2048;

/// The push services of the browsers in use, when `WEB_PUSH_HOSTS` is not set: Chrome and Edge
/// on Chromium (FCM, and its older name), Firefox (Mozilla's autopush), Safari (Apple), and
/// Edge's legacy Windows Push Notification Service. `*.` takes any host under the domain.
pub const DEFAULT_PUSH_HOSTS: &str = "fcm.googleapis.com, android.googleapis.com, updates.push.services.mozilla.com, \
     push.services.mozilla.com, web.push.apple.com, *.push.apple.com, *.notify.windows.com";

/// What a Web Push endpoint may be: the push services' hosts over https, and whether plain
/// http to this machine is taken too (`PUSH_ALLOW_LOOPBACK_HTTP`, local development only).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EndpointRules {
    pub allow_loopback_http: bool,
    pub hosts: PushHosts,
}

/// The hosts an https endpoint may name: exact DNS names, or `*.domain` for any host under
/// `domain` (not `domain` itself). All lowercase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushHosts {
    exact: Vec<String>,
    /// Each with its leading dot (`.push.apple.com`), so a suffix match is a label match.
    under: Vec<String>,
}

impl Default for PushHosts {
    fn default() -> Self {
        Self::parse(DEFAULT_PUSH_HOSTS).expect("the default push hosts parse")
    }
}

impl PushHosts {
    /// A comma-separated list of `host` or `*.domain` entries (case-insensitive), or why not.
    /// Each host or domain is a DNS name with a dot, as [`check_endpoint`] requires of a host,
    /// so `*.com` (every .com host) is refused.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut hosts = Self { exact: Vec::new(), under: Vec::new() };
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let entry = entry.to_ascii_lowercase();
            let (name, wildcard) = match entry.strip_prefix("*.") {
                Some(domain) => (domain, true),
                None => (entry.as_str(), false),
            };
            if let Err(why) = dns_name(name) {
                return Err(format!("has {entry:?}, which is not a host or *.domain: the name {why}"));
            }
            if wildcard {
                hosts.under.push(format!(".{name}"));
            } else {
                hosts.exact.push(name.to_owned());
            }
        }
        if hosts.exact.is_empty() && hosts.under.is_empty() {
            return Err("names no host (a comma-separated list of host or *.domain)".into());
        }
        Ok(hosts)
    }

    /// Whether `host` (lowercase) is on the list.
    pub fn contains(&self, host: &str) -> bool {
        self.exact.iter().any(|h| h == host) || self.under.iter().any(|d| host.ends_with(d.as_str()))
    }
}

impl fmt::Display for PushHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let under = self.under.iter().map(|d| format!("*{d}"));
        let all: Vec<String> = self.exact.iter().cloned().chain(under).collect();
        f.write_str(&all.join(", "))
    }
}

/// Whether `name` (lowercase) is a DNS name Herald sends to, or why not: labels of ASCII
/// letters, digits and hyphens (not first or last), at least two of them, at most 253 bytes;
/// and not an IP address in any form a URL parser reads as one. The WHATWG URL standard takes
/// a host whose last label is a number (`127.1`, `0x7f.1`, `2130706433`) as IPv4, so a last
/// label of digits or `0x` hex is refused; IPv6 literals (`[…]`) have no letters-only form.
fn dns_name(name: &str) -> Result<(), &'static str> {
    const WHY: &str =
        "must be a DNS name with a dot (letters, digits, hyphens), not an IP address, localhost or one label";
    let labels: Vec<&str> = name.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let last = labels.last().copied().unwrap_or_default();
    let numeric = last.bytes().all(|b| b.is_ascii_digit())
        || last.strip_prefix("0x").is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()));
    if name.len() > 253 || labels.len() < 2 || !labels.iter().all(label_ok) || numeric {
        return Err(WHY);
    }
    Ok(())
}

/// A Web Push endpoint as stored (scheme and host lowercased, so one browser's subscription
/// has one id; the rest as given), or why not.
///
/// The authority is what follows the scheme up to the first `/` or `?` (RFC 3986 §3.2), so
/// `http://127.0.0.1.evil.com` names the host `127.0.0.1.evil.com`. Refused anywhere:
/// userinfo (`user@` would make the request go elsewhere than the host a reader sees), a
/// fragment (never sent, and no push service's endpoint has one), whitespace and backslashes
/// (WHATWG URL parsers read `\` as `/` in http(s) URLs). Over https the host must be on
/// `rules.hosts`; over plain http only `127.0.0.1`, `localhost` or `[::1]` (any port), and only
/// with `rules.allow_loopback_http`, so a local test can be its own push service.
pub fn check_endpoint(url: &str, rules: &EndpointRules) -> Result<String, String> {
    const SHAPE: &str = "must be an https URL of at most 2048 bytes, with a host, a port of 1 to 65535 if any, \
                         and no user:password@, #fragment, space or backslash";
    if url.len() > ENDPOINT_MAX || url.chars().any(|c| c.is_whitespace() || c.is_control() || c == '\\' || c == '#') {
        return Err(SHAPE.into());
    }
    let (scheme, rest) = url.split_once("://").ok_or(SHAPE)?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return Err(SHAPE.into());
    }
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(split);
    let (host, port) = match authority.rfind(':') {
        // A colon inside brackets is part of an IPv6 address, not a port.
        Some(i) if !authority[i..].contains(']') => (&authority[..i], Some(&authority[i + 1..])),
        _ => (authority, None),
    };
    let port_ok = port.is_none_or(|p| p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok_and(|n| n > 0));
    if authority.contains('@') || host.is_empty() || !port_ok {
        return Err(SHAPE.into());
    }
    let host = host.to_ascii_lowercase();
    if scheme == "http" {
        if !rules.allow_loopback_http {
            return Err("must be https (http only to this machine, and only with PUSH_ALLOW_LOOPBACK_HTTP)".into());
        }
        if !matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]") {
            return Err(
                "over http, must be to 127.0.0.1, localhost or [::1] (https to a push service otherwise)".into()
            );
        }
    } else {
        dns_name(&host).map_err(|why| format!("the host {why}"))?;
        if !rules.hosts.contains(&host) {
            return Err(format!(
                "the host {host} is not a known push service ({}; the operator sets WEB_PUSH_HOSTS)",
                rules.hosts
            ));
        }
    }
    let port = port.map_or(String::new(), |p| format!(":{p}"));
    Ok(format!("{scheme}://{host}{port}{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str) -> Result<String, String> {
        check_endpoint(url, &EndpointRules::default())
    }

    fn with_hosts(list: &str) -> EndpointRules {
        EndpointRules { allow_loopback_http: false, hosts: PushHosts::parse(list).unwrap() }
    }

    #[test]
    fn the_default_list_takes_the_browsers_push_services() {
        for endpoint in [
            "https://fcm.googleapis.com/fcm/send/czVGxJOoycA:APA91bGZt8FZU2fEAnDCr1PdRb7HDtayoGDUO1dy6vjTu1sDKh",
            "https://android.googleapis.com/gcm/send/czVGxJOoycA:APA91bGZt8",
            "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABmZ2x3example",
            "https://push.services.mozilla.com/wpush/v1/gAAAAAB",
            "https://web.push.apple.com/QGxjRkK5dGdhbGxvd2VkX3Rva2Vu",
            "https://api.push.apple.com/3/device/x",
            "https://wns2-by3p.notify.windows.com/w/?token=BQYAAAB%2fexample",
        ] {
            assert_eq!(check(endpoint).as_deref(), Ok(endpoint), "{endpoint}");
        }
        for other in [
            "https://push.example.com/x",
            "https://push.apple.com/x",
            "https://notify.windows.com/x",
            "https://evilpush.apple.com.evil.com/x",
            "https://fcm.googleapis.com.evil.com/x",
            "https://xfcm.googleapis.com/x",
        ] {
            let why = check(other).unwrap_err();
            assert!(why.contains("not a known push service") && why.contains("WEB_PUSH_HOSTS"), "{other}: {why}");
        }
    }

    #[test]
    fn ip_literals_localhost_and_single_labels_are_refused_over_https() {
        let rules = with_hosts("*.example.com, localhost.example.com");
        for host in [
            "169.254.169.254",
            "127.0.0.1",
            "127.1",
            "2130706433",
            "0x7f.0x1",
            "a.0x7f",
            "[::1]",
            "[2001:db8::1]",
            "[::ffff:169.254.169.254]",
            "localhost",
            "LOCALHOST",
            "push",
            "push.example.com.",
            ".example.com",
            "a..example.com",
            "-a.example.com",
            "a_b.example.com",
            "a%2eb.example.com",
            "é.example.com",
        ] {
            let why = check_endpoint(&format!("https://{host}/p"), &rules).unwrap_err();
            assert!(why.contains("DNS name") || why.contains("must be an https URL"), "{host}: {why}");
        }
        // IPv4 inside a name is only a name: its last label has a letter.
        assert!(check_endpoint("https://127.0.0.1.example.com/p", &rules).is_ok());
        assert!(check_endpoint("https://localhost.example.com/p", &rules).is_ok());
    }

    #[test]
    fn a_fragment_userinfo_or_bad_port_is_refused() {
        for bad in [
            "https://fcm.googleapis.com/fcm/send/x#y",
            "https://fcm.googleapis.com#/x",
            "https://u@fcm.googleapis.com/x",
            "https://fcm.googleapis.com:0/x",
            "https://fcm.googleapis.com:99999/x",
            "https://fcm.googleapis.com:+443/x",
            "https://fcm.googleapis.com\\@evil.com/x",
            "ftp://fcm.googleapis.com/x",
            "fcm.googleapis.com/x",
        ] {
            assert!(check(bad).unwrap_err().starts_with("must be an https URL"), "{bad}");
        }
    }

    #[test]
    fn the_scheme_and_host_are_lowercased_and_the_rest_kept() {
        assert_eq!(
            check("HTTPS://Updates.Push.Services.Mozilla.COM:8443/WPush/v2/AbC?X=Y").unwrap(),
            "https://updates.push.services.mozilla.com:8443/WPush/v2/AbC?X=Y"
        );
        assert_eq!(check("Https://WEB.push.apple.com").unwrap(), "https://web.push.apple.com");
    }

    #[test]
    fn loopback_is_taken_over_http_with_the_flag_and_never_over_https() {
        let local = EndpointRules { allow_loopback_http: true, ..Default::default() };
        for url in ["http://127.0.0.1:8788/push/1", "http://localhost/p", "http://[::1]:9/p"] {
            assert_eq!(check_endpoint(url, &local).as_deref(), Ok(url));
            assert!(check(url).unwrap_err().contains("PUSH_ALLOW_LOOPBACK_HTTP"), "{url}");
        }
        assert_eq!(check_endpoint("HTTP://LocalHost:9/P", &local).unwrap(), "http://localhost:9/P");
        for url in ["https://127.0.0.1/p", "https://localhost/p", "https://[::1]/p", "http://10.0.0.1/p"] {
            assert!(check_endpoint(url, &local).is_err(), "{url}");
        }
    }

    #[test]
    fn web_push_hosts_replace_the_default_list_with_exact_and_wildcard_entries() {
        let rules = with_hosts(" Push.Example.com ,*.Push.Example.NET,");
        assert!(check_endpoint("https://push.example.com/x", &rules).is_ok());
        assert!(check_endpoint("https://a.b.push.example.net/x", &rules).is_ok());
        for refused in [
            "https://push.example.net/x",
            "https://a.push.example.com/x",
            "https://fcm.googleapis.com/fcm/send/x",
            "https://evilpush.example.net/x",
        ] {
            assert!(check_endpoint(refused, &rules).unwrap_err().contains("not a known push service"), "{refused}");
        }
        assert_eq!(rules.hosts.to_string(), "push.example.com, *.push.example.net");
    }

    #[test]
    fn a_bad_web_push_hosts_entry_is_refused_with_the_entry() {
        for bad in ["", " , ", "127.0.0.1", "localhost", "*.com", "https://push.example.com", "push.*.example.com"] {
            assert!(PushHosts::parse(bad).is_err(), "{bad:?}");
        }
        let why = PushHosts::parse("fcm.googleapis.com, 10.0.0.1").unwrap_err();
        assert!(why.contains("\"10.0.0.1\""), "{why}");
        assert_eq!(PushHosts::default().to_string().replace(", ", ","), DEFAULT_PUSH_HOSTS.replace(", ", ","));
    }
}
