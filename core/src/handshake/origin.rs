//! The Origin check (RFC 6455 §4.2.2 item 1, §10.2): refusing cross-site browser handshakes.
//!
//! Browsers always send `Origin`; a page on another site can open a WebSocket to us carrying
//! the user's cookies (Cross-Site WebSocket Hijacking). The default policy accepts only pages
//! served from the same host and port the request was sent to, plus an explicit allow-list.
//! Comparison is exact on scheme, host and port (host ASCII case-insensitive); never by prefix
//! or suffix, so `example.com.evil` and `evil-example.com` are refused.

use crate::url::split_authority;

/// Which `Origin` values a server accepts. `S` is any string type, so a server can keep an
/// allow-list of `String`s.
#[derive(Debug, Clone, Copy)]
pub struct OriginPolicy<'a, S = &'a str> {
    /// Accept an origin whose host and port equal the request's `Host`.
    pub same_host: bool,
    /// Origins accepted exactly (`scheme://host[:port]`, as browsers send them).
    pub allowed: &'a [S],
    /// Accept requests with no `Origin` (non-browser clients; gorilla and Tornado do too).
    pub allow_missing: bool,
    /// Accept any origin (the policy is off). `null` is then accepted too.
    pub allow_any: bool,
}

impl<'a> OriginPolicy<'a> {
    /// Same host as `Host`, no allow-list, requests without `Origin` accepted.
    pub const SAME_HOST: OriginPolicy<'static> = OriginPolicy {
        same_host: true,
        allowed: &[],
        allow_missing: true,
        allow_any: false,
    };

    /// Every origin accepted.
    pub const ANY: OriginPolicy<'static> = OriginPolicy {
        same_host: true,
        allowed: &[],
        allow_missing: true,
        allow_any: true,
    };
}

impl<'a, S: AsRef<str>> OriginPolicy<'a, S> {
    /// The same-host policy plus an allow-list.
    pub const fn same_host_or(allowed: &'a [S]) -> Self {
        OriginPolicy {
            same_host: true,
            allowed,
            allow_missing: true,
            allow_any: false,
        }
    }

    /// Whether a request with this `Origin` (if any) sent to this `Host` is accepted.
    pub fn allows(&self, origin: Option<&str>, host: &str) -> bool {
        let Some(origin) = origin else {
            return self.allow_missing;
        };
        if self.allow_any {
            return true;
        }
        let Some(parsed) = SerializedOrigin::parse(origin) else {
            // `null` (sandboxed frames, file:// pages) and anything malformed: only an exact
            // allow-list entry admits it.
            return self.allowed.iter().any(|a| a.as_ref() == origin);
        };
        if self
            .allowed
            .iter()
            .filter_map(|a| SerializedOrigin::parse(a.as_ref()))
            .any(|a| a == parsed)
        {
            return true;
        }
        // (An explicit port 0 is refused, so 0 stands for none.)
        self.same_host
            && split_authority(host, 0).is_ok_and(|(h, port)| {
                h.eq_ignore_ascii_case(parsed.host)
                    && match port {
                        // A `Host` without a port names the default port of the request's
                        // scheme (RFC 9110 §7.2): 80 for `ws`, 443 for `wss`. Which one the
                        // request came over is the shell's to know, so either, and only
                        // those: a page on another port of the same host is another origin.
                        0 => matches!(parsed.port, 80 | 443),
                        port => port == parsed.port,
                    }
            })
    }
}

/// `scheme://host[:port]` with the port made explicit.
#[derive(Debug, Clone, Copy)]
struct SerializedOrigin<'a> {
    scheme: &'a str,
    host: &'a str,
    port: u16,
}

impl PartialEq for SerializedOrigin<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.scheme.eq_ignore_ascii_case(other.scheme)
            && self.host.eq_ignore_ascii_case(other.host)
            && self.port == other.port
    }
}

impl<'a> SerializedOrigin<'a> {
    fn parse(origin: &'a str) -> Option<SerializedOrigin<'a>> {
        let (scheme, authority) = origin.split_once("://")?;
        // Browsers send http/https; ws/wss appear from non-browser clients.
        let default_port =
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("ws") {
                80
            } else if scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("wss") {
                443
            } else {
                return None;
            };
        let (host, port) = split_authority(authority, default_port).ok()?;
        Some(SerializedOrigin { scheme, host, port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_host_compares_host_and_port_exactly() {
        let p = OriginPolicy::SAME_HOST;
        assert!(p.allows(Some("http://localhost:8080"), "localhost:8080"));
        assert!(p.allows(Some("http://LocalHost:8080"), "localhost:8080"));
        assert!(p.allows(Some("https://example.com"), "example.com"));
        assert!(p.allows(Some("http://example.com"), "example.com:80"));
        assert!(p.allows(Some("http://[::1]:8080"), "[::1]:8080"));
        assert!(!p.allows(Some("http://localhost:8081"), "localhost:8080"));
        // No port in `Host`: the default port of ws or wss, never another.
        assert!(p.allows(Some("http://example.com"), "example.com"));
        assert!(p.allows(Some("http://example.com:443"), "example.com"));
        assert!(!p.allows(Some("http://example.com:8080"), "example.com"));
        assert!(!p.allows(Some("https://example.com:8443"), "example.com"));
        assert!(!p.allows(Some("https://example.com"), "example.com:80"));
        assert!(!p.allows(Some("http://example.com.evil"), "example.com"));
        assert!(!p.allows(Some("http://evil-example.com"), "example.com"));
        assert!(!p.allows(Some("http://user@example.com"), "example.com"));
        assert!(!p.allows(Some("null"), "example.com"));
        assert!(!p.allows(Some("ftp://example.com"), "example.com"));
        // The URL parser's rules: port 0 is no port.
        assert!(!p.allows(Some("http://example.com:0"), "example.com:0"));
    }

    #[test]
    fn missing_origin_is_a_separate_choice() {
        assert!(OriginPolicy::SAME_HOST.allows(None, "a"));
        let strict = OriginPolicy {
            allow_missing: false,
            ..OriginPolicy::SAME_HOST
        };
        assert!(!strict.allows(None, "a"));
    }

    #[test]
    fn allow_list_admits_exact_origins_only() {
        let list = ["https://app.example.com", "null"];
        let p = OriginPolicy::same_host_or(&list);
        assert!(p.allows(Some("https://app.example.com"), "api.example.com"));
        assert!(p.allows(Some("https://app.example.com:443"), "api.example.com"));
        assert!(p.allows(Some("null"), "api.example.com"));
        assert!(!p.allows(Some("https://app.example.com.evil"), "api.example.com"));
        assert!(!p.allows(Some("http://app.example.com"), "api.example.com"));
        let owned = [std::string::String::from("http://x.test")];
        assert!(OriginPolicy::same_host_or(&owned).allows(Some("http://x.test"), "y"));
    }

    #[test]
    fn any_allows_everything() {
        assert!(OriginPolicy::ANY.allows(Some("https://evil.example"), "example.com"));
    }
}
