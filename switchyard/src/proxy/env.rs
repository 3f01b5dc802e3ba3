//! The proxy environment variables, with curl's rules.
//!
//! - `wss://` uses `https_proxy`, else `HTTPS_PROXY`; `ws://` uses `http_proxy` in lower case
//!   only: a CGI program sees a request's `Proxy:` header as `HTTP_PROXY`, so an upper-case
//!   one may come from an attacker ("httpoxy").
//! - Either falls back to `all_proxy`, else `ALL_PROXY`.
//! - `no_proxy`, else `NO_PROXY`: hosts that go direct. Where both cases are set the lower
//!   case wins, for every variable; an empty variable counts as unset.

use std::fmt;
use std::net::IpAddr;

use switchyard_core::url::WsUrl;

use super::{Proxy, ProxyUrlError};

/// The environment's proxies, read by [`Proxy::from_env`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    https: Option<Proxy>,
    http: Option<Proxy>,
    all: Option<Proxy>,
    no_proxy: NoProxy,
}

/// A proxy variable whose value is not a usable proxy URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvError {
    /// The variable's name, as set (`https_proxy` or `HTTPS_PROXY`...).
    pub variable: &'static str,
    /// What is wrong with its value.
    pub error: ProxyUrlError,
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.variable, self.error)
    }
}

impl std::error::Error for EnvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl ProxyEnv {
    /// Reads the variables through `get` (e.g. `|name| std::env::var(name).ok()`), so that
    /// a caller, or a test, can supply its own environment.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<ProxyEnv, EnvError> {
        let first = |names: &[&'static str]| {
            names
                .iter()
                .find_map(|&name| get(name).filter(|v| !v.is_empty()).map(|v| (name, v)))
        };
        let proxy = |names: &[&'static str]| {
            first(names)
                .map(|(variable, value)| {
                    Proxy::parse(value.trim()).map_err(|error| EnvError { variable, error })
                })
                .transpose()
        };
        Ok(ProxyEnv {
            https: proxy(&["https_proxy", "HTTPS_PROXY"])?,
            http: proxy(&["http_proxy"])?,
            all: proxy(&["all_proxy", "ALL_PROXY"])?,
            no_proxy: first(&["no_proxy", "NO_PROXY"])
                .map(|(_, v)| NoProxy::parse(&v))
                .unwrap_or_default(),
        })
    }

    /// The proxy for `url`: by its scheme, unless `no_proxy` exempts its host.
    pub fn for_url(&self, url: &WsUrl<'_>) -> Option<&Proxy> {
        if self.no_proxy.matches(url.host()) {
            return None;
        }
        let by_scheme = if url.is_secure() {
            &self.https
        } else {
            &self.http
        };
        by_scheme.as_ref().or(self.all.as_ref())
    }

    /// The `no_proxy` rules read.
    pub fn no_proxy(&self) -> &NoProxy {
        &self.no_proxy
    }
}

/// The hosts `no_proxy` sends direct: a comma- or space-separated list of `*` (every host),
/// host names (`example.com` matches it and every subdomain; a leading `.` or `*.` means the
/// same), IP addresses and CIDR blocks (`10.0.0.0/8`, `fd00::/8`). A `:port` after an entry
/// is ignored, as curl does. Addresses match only a URL whose host is written as an address:
/// no name is resolved to decide.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy {
    every_host: bool,
    domains: Vec<String>,
    networks: Vec<(IpAddr, u8)>,
}

impl NoProxy {
    /// Parses a `no_proxy` value. Entries it cannot read (a bad CIDR) are skipped: the
    /// variable is shared with every other program, which may read more than this does.
    pub fn parse(value: &str) -> NoProxy {
        let mut rules = NoProxy::default();
        for entry in value.split([',', ' ', '\t']).filter(|e| !e.is_empty()) {
            if entry == "*" {
                rules.every_host = true;
            } else if let Some((address, bits)) = entry.split_once('/') {
                if let (Some(address), Ok(bits)) = (address_of(address), bits.parse::<u8>()) {
                    let max = if address.is_ipv4() { 32 } else { 128 };
                    if bits <= max {
                        rules.networks.push((address, bits));
                    }
                }
            } else if let Some(address) = address_of(entry) {
                let bits = if address.is_ipv4() { 32 } else { 128 };
                rules.networks.push((address, bits));
            } else {
                let host = entry.rsplit_once(':').map_or(entry, |(host, _)| host);
                // A trailing dot (a fully qualified name) is dropped, as it is from hosts.
                let domain = host
                    .trim_start_matches('*')
                    .trim_start_matches('.')
                    .trim_end_matches('.');
                if !domain.is_empty() {
                    rules.domains.push(domain.to_ascii_lowercase());
                }
            }
        }
        rules
    }

    /// Whether `host` (as in a URL, IPv6 without brackets) goes direct.
    pub fn matches(&self, host: &str) -> bool {
        if self.every_host {
            return true;
        }
        if let Some(address) = address_of(host) {
            return self
                .networks
                .iter()
                .any(|&(network, bits)| in_network(address, network, bits));
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.domains.iter().any(|domain| {
            host == *domain
                || host
                    .strip_suffix(domain.as_str())
                    .is_some_and(|prefix| prefix.ends_with('.'))
        })
    }
}

/// An IP address as written in a URL or `no_proxy`: bare, `[v6]`, or `v4:port`/`[v6]:port`.
fn address_of(text: &str) -> Option<IpAddr> {
    if let Ok(address) = text.parse() {
        return Some(address);
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (v6, _) = rest.split_once(']')?;
        return v6.parse().ok();
    }
    text.rsplit_once(':')?
        .0
        .parse::<std::net::Ipv4Addr>()
        .ok()
        .map(IpAddr::V4)
}

fn in_network(address: IpAddr, network: IpAddr, bits: u8) -> bool {
    let prefix = |a: u128, width: u8| {
        if bits == 0 { 0 } else { a >> (width - bits) }
    };
    match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            prefix(u32::from(a).into(), 32) == prefix(u32::from(n).into(), 32)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => prefix(a.into(), 128) == prefix(n.into(), 128),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::ProxyKind;

    fn env(vars: &[(&str, &str)]) -> ProxyEnv {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        ProxyEnv::from_vars(|name| vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()))
            .unwrap()
    }

    fn proxy_for(env: &ProxyEnv, url: &str) -> Option<String> {
        let url = WsUrl::parse(url).unwrap();
        env.for_url(&url)
            .map(|p| format!("{}:{}", p.host(), p.port()))
    }

    #[test]
    fn wss_uses_https_proxy_and_ws_uses_http_proxy() {
        let e = env(&[("https_proxy", "h:1"), ("http_proxy", "p:2")]);
        assert_eq!(proxy_for(&e, "wss://example.com/").as_deref(), Some("h:1"));
        assert_eq!(proxy_for(&e, "ws://example.com/").as_deref(), Some("p:2"));
    }

    #[test]
    fn upper_case_http_proxy_is_ignored_against_httpoxy() {
        let e = env(&[("HTTP_PROXY", "evil:80"), ("HTTPS_PROXY", "h:1")]);
        assert_eq!(proxy_for(&e, "ws://example.com/"), None);
        assert_eq!(proxy_for(&e, "wss://example.com/").as_deref(), Some("h:1"));
    }

    #[test]
    fn lower_case_wins_where_both_are_set() {
        let e = env(&[
            ("HTTPS_PROXY", "upper:1"),
            ("https_proxy", "lower:1"),
            ("ALL_PROXY", "upper:2"),
            ("all_proxy", "lower:2"),
            ("NO_PROXY", "a.test"),
            ("no_proxy", "b.test"),
        ]);
        assert_eq!(proxy_for(&e, "wss://a.test/").as_deref(), Some("lower:1"));
        assert_eq!(proxy_for(&e, "ws://a.test/").as_deref(), Some("lower:2"));
        assert_eq!(proxy_for(&e, "wss://b.test/"), None);
    }

    #[test]
    fn all_proxy_is_the_fallback_and_empty_counts_as_unset() {
        let e = env(&[("https_proxy", ""), ("ALL_PROXY", "socks5h://s:9")]);
        assert_eq!(proxy_for(&e, "wss://example.com/").as_deref(), Some("s:9"));
        assert_eq!(proxy_for(&e, "ws://example.com/").as_deref(), Some("s:9"));
        let url = WsUrl::parse("ws://example.com/").unwrap();
        assert_eq!(e.for_url(&url).unwrap().kind(), ProxyKind::Socks5h);
        assert_eq!(env(&[]), ProxyEnv::default());
    }

    #[test]
    fn reports_the_variable_with_a_bad_url() {
        let error = ProxyEnv::from_vars(|n| (n == "HTTPS_PROXY").then(|| "ftp://x".into()));
        assert_eq!(
            error,
            Err(EnvError {
                variable: "HTTPS_PROXY",
                error: ProxyUrlError::UnsupportedScheme
            })
        );
    }

    #[test]
    fn no_proxy_matches_hosts_and_domain_suffixes() {
        let rules = NoProxy::parse("example.com, .internal,*.corp.test localhost:8080 fqdn.test.");
        for host in [
            "fqdn.test",
            "a.fqdn.test.",
            "example.com",
            "EXAMPLE.com.",
            "a.b.example.com",
            "x.internal",
            "internal",
            "a.corp.test",
            "localhost",
        ] {
            assert!(rules.matches(host), "{host}");
        }
        for host in [
            "notexample.com",
            "example.com.evil",
            "corp.tester",
            "10.0.0.1",
        ] {
            assert!(!rules.matches(host), "{host}");
        }
    }

    #[test]
    fn no_proxy_matches_addresses_and_cidr_blocks() {
        let rules = NoProxy::parse("127.0.0.1,10.0.0.0/8,[::1],fd00::/8,192.168.1.0/33,0.0.0.0/x");
        for host in ["127.0.0.1", "10.255.1.2", "::1", "fd12::1"] {
            assert!(rules.matches(host), "{host}");
        }
        for host in [
            "127.0.0.2",
            "11.0.0.1",
            "::2",
            "fe00::1",
            "192.168.1.1",
            "10.example",
        ] {
            assert!(!rules.matches(host), "{host}");
        }
        assert!(NoProxy::parse("0.0.0.0/0").matches("203.0.113.9"));
        assert!(!NoProxy::parse("0.0.0.0/0").matches("::1"));
    }

    #[test]
    fn star_exempts_everything_but_only_from_the_environment() {
        let e = env(&[("all_proxy", "p:1"), ("no_proxy", "*")]);
        assert_eq!(proxy_for(&e, "wss://example.com/"), None);
        assert!(!NoProxy::parse("").matches("example.com"));
        let explicit = crate::proxy::ProxyChoice::Always(Proxy::parse("p:1").unwrap());
        let url = WsUrl::parse("ws://example.com/").unwrap();
        assert!(explicit.for_url(&url).is_some());
    }
}
