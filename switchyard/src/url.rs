//! `ws://` URLs (RFC 6455 §3), parsed just enough to connect and to write the request.

use std::fmt;

/// Why a URL cannot be used by [`connect`](crate::connect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// The scheme is not `ws`.
    UnsupportedScheme,
    /// `wss://`: this crate has no TLS. Connect a TLS stream yourself and use
    /// [`client_handshake`](crate::client_handshake).
    TlsUnsupported,
    /// No host.
    MissingHost,
    /// A port that is not a number from 1 to 65535.
    InvalidPort,
    /// A `#fragment`: §3 says fragment identifiers MUST NOT be used in WebSocket URIs.
    HasFragment,
    /// `user@host`: credentials do not belong in a WebSocket URI.
    HasUserinfo,
    /// A space or control character.
    InvalidCharacter,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::UnsupportedScheme => "the scheme must be ws://",
            UrlError::TlsUnsupported => "wss:// needs TLS, which this crate does not provide",
            UrlError::MissingHost => "no host",
            UrlError::InvalidPort => "invalid port",
            UrlError::HasFragment => "a WebSocket URL may not have a #fragment",
            UrlError::HasUserinfo => "a WebSocket URL may not carry credentials",
            UrlError::InvalidCharacter => "space or control character",
        })
    }
}

impl std::error::Error for UrlError {}

/// A parsed `ws://host[:port][/path][?query]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WsUrl<'a> {
    /// The host to connect to, without IPv6 brackets.
    pub(crate) host: &'a str,
    pub(crate) port: u16,
    /// The `Host` header value: the host as written, and the port unless it is the default.
    pub(crate) authority: &'a str,
    /// The request target: path and query, `/` when empty.
    pub(crate) target: String,
}

impl<'a> WsUrl<'a> {
    pub(crate) fn parse(url: &'a str) -> Result<WsUrl<'a>, UrlError> {
        if url.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(UrlError::InvalidCharacter);
        }
        if url.contains('#') {
            return Err(UrlError::HasFragment);
        }
        let (scheme, rest) = url.split_once("://").ok_or(UrlError::UnsupportedScheme)?;
        if scheme.eq_ignore_ascii_case("wss") {
            return Err(UrlError::TlsUnsupported);
        }
        if !scheme.eq_ignore_ascii_case("ws") {
            return Err(UrlError::UnsupportedScheme);
        }
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(end);
        if authority.contains('@') {
            return Err(UrlError::HasUserinfo);
        }
        let (host, port) = split_authority(authority)?;
        let target = match target.strip_prefix('?') {
            Some(_) => format!("/{target}"),
            None if target.is_empty() => String::from("/"),
            None => String::from(target),
        };
        let authority = match authority.strip_suffix(":80") {
            Some(without) if port == 80 => without,
            _ => authority,
        };
        Ok(WsUrl {
            host,
            port,
            authority,
            target,
        })
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; the port defaults to 80 (§3).
fn split_authority(authority: &str) -> Result<(&str, u16), UrlError> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or(UrlError::MissingHost)?;
        match after {
            "" => (v6, None),
            _ => (
                v6,
                Some(after.strip_prefix(':').ok_or(UrlError::InvalidPort)?),
            ),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(UrlError::MissingHost);
    }
    let port = match port {
        None => 80,
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p
            .parse()
            .ok()
            .filter(|&n| n != 0)
            .ok_or(UrlError::InvalidPort)?,
        Some(_) => return Err(UrlError::InvalidPort),
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_host_port_path_and_query() {
        let url = WsUrl::parse("ws://127.0.0.1:9001/runCase?case=1&agent=a").unwrap();
        assert_eq!((url.host, url.port), ("127.0.0.1", 9001));
        assert_eq!(url.authority, "127.0.0.1:9001");
        assert_eq!(url.target, "/runCase?case=1&agent=a");
    }

    #[test]
    fn fills_in_defaults() {
        let url = WsUrl::parse("WS://example.com").unwrap();
        assert_eq!(
            (url.host, url.port, url.target.as_str()),
            ("example.com", 80, "/")
        );
        let url = WsUrl::parse("ws://example.com:80?x").unwrap();
        assert_eq!((url.authority, url.target.as_str()), ("example.com", "/?x"));
    }

    #[test]
    fn strips_ipv6_brackets_for_connecting_only() {
        let url = WsUrl::parse("ws://[::1]:8080/echo").unwrap();
        assert_eq!((url.host, url.port), ("::1", 8080));
        assert_eq!(url.authority, "[::1]:8080");
    }

    #[test]
    fn refuses_what_rfc_6455_section_3_forbids_or_we_cannot_do() {
        for (url, error) in [
            ("http://a/", UrlError::UnsupportedScheme),
            ("a/b", UrlError::UnsupportedScheme),
            ("wss://a/", UrlError::TlsUnsupported),
            ("ws:///x", UrlError::MissingHost),
            ("ws://a:0/", UrlError::InvalidPort),
            ("ws://a:65536/", UrlError::InvalidPort),
            ("ws://a:x/", UrlError::InvalidPort),
            ("ws://[::1]x/", UrlError::InvalidPort),
            ("ws://a/#top", UrlError::HasFragment),
            ("ws://u:p@a/", UrlError::HasUserinfo),
            ("ws://a/b c", UrlError::InvalidCharacter),
        ] {
            assert_eq!(WsUrl::parse(url), Err(error), "{url}");
        }
    }
}
