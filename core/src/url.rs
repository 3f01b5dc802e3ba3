//! WebSocket URIs (RFC 6455 §3) and the `host[:port]` authorities inside them.
//!
//! [`WsUrl::parse`] reads `ws://` and `wss://` URIs just far enough to connect and to write the
//! request: the host to dial, the port, the `Host` header value, the path and the query.
//! [`split_authority`] is the one place `host[:port]` and `[v6]:port` are split, used by the
//! URL parser and by the Origin check alike, so both follow the same rules (port 0 refused).
//! Whether a `wss://` URI can be served is the shell's decision: the parser accepts it.

use core::fmt;

/// Why a URI is not a usable WebSocket URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// The scheme is neither `ws` nor `wss` (§3).
    UnsupportedScheme,
    /// `wss://` given to a shell that has no TLS. Never returned by [`WsUrl::parse`]: made by
    /// shells, so a caller can tell "cannot do TLS" from a malformed URI.
    TlsUnsupported,
    /// No host.
    MissingHost,
    /// A port that is not a number from 1 to 65535.
    InvalidPort,
    /// A `#fragment`: §3 says fragment identifiers MUST NOT be used in WebSocket URIs.
    HasFragment,
    /// `user@host`: credentials do not belong in a WebSocket URI.
    HasUserinfo,
    /// A space or control character, or a character that cannot appear in an authority.
    InvalidCharacter,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::UnsupportedScheme => "the scheme must be ws:// or wss://",
            UrlError::TlsUnsupported => "wss:// needs TLS, which this build does not provide",
            UrlError::MissingHost => "no host",
            UrlError::InvalidPort => "invalid port",
            UrlError::HasFragment => "a WebSocket URL may not have a #fragment",
            UrlError::HasUserinfo => "a WebSocket URL may not carry credentials",
            UrlError::InvalidCharacter => "space, control or misplaced character",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for UrlError {}

/// The two WebSocket schemes (§3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `ws://`: plain TCP, default port 80.
    Ws,
    /// `wss://`: TLS, default port 443.
    Wss,
}

impl Scheme {
    /// The port a URI without one means (§3).
    pub const fn default_port(self) -> u16 {
        match self {
            Scheme::Ws => 80,
            Scheme::Wss => 443,
        }
    }
}

/// A parsed `ws[s]://host[:port][/path][?query]`, borrowing the text it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsUrl<'a> {
    scheme: Scheme,
    host: &'a str,
    port: u16,
    authority: &'a str,
    path: &'a str,
    query: Option<&'a str>,
}

impl<'a> WsUrl<'a> {
    /// Parses a WebSocket URI (RFC 6455 §3). The scheme is ASCII case-insensitive.
    pub fn parse(url: &'a str) -> Result<WsUrl<'a>, UrlError> {
        if url.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(UrlError::InvalidCharacter);
        }
        // §3: "Fragment identifiers are meaningless in the context of WebSocket URIs and MUST
        // NOT be used on these URIs."
        if url.contains('#') {
            return Err(UrlError::HasFragment);
        }
        let (scheme, rest) = url.split_once("://").ok_or(UrlError::UnsupportedScheme)?;
        let scheme = if scheme.eq_ignore_ascii_case("ws") {
            Scheme::Ws
        } else if scheme.eq_ignore_ascii_case("wss") {
            Scheme::Wss
        } else {
            return Err(UrlError::UnsupportedScheme);
        };
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, resource) = rest.split_at(end);
        let (host, port) = split_authority(authority, scheme.default_port())?;
        let (path, query) = match resource.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (resource, None),
        };
        // §3: an empty path is "/".
        let path = if path.is_empty() { "/" } else { path };
        // The `Host` header names the port only when it is not the scheme's default (§4.1).
        let authority = match authority.rfind(':') {
            Some(colon) if port == scheme.default_port() && !authority[colon..].contains(']') => {
                &authority[..colon]
            }
            _ => authority,
        };
        Ok(WsUrl {
            scheme,
            host,
            port,
            authority,
            path,
            query,
        })
    }

    /// `ws` or `wss`.
    pub const fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Whether the connection must use TLS (`wss://`).
    pub const fn is_secure(&self) -> bool {
        matches!(self.scheme, Scheme::Wss)
    }

    /// The host to connect to, without IPv6 brackets.
    pub const fn host(&self) -> &'a str {
        self.host
    }

    /// The port, the scheme's default when the URI names none.
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// The `Host` header value: the host as written, and the port unless it is the default.
    pub const fn authority(&self) -> &'a str {
        self.authority
    }

    /// The path, `/` when the URI has none.
    pub const fn path(&self) -> &'a str {
        self.path
    }

    /// The query, without its `?`, if the URI has one.
    pub const fn query(&self) -> Option<&'a str> {
        self.query
    }
}

/// Splits `host`, `host:port`, `[v6]` or `[v6]:port`; the port defaults to `default_port`.
///
/// The host comes back without IPv6 brackets. Refused: an empty host, credentials
/// (`user@host`), a path, query or fragment character, whitespace, and a port that is empty,
/// not all digits, 0 or above 65535.
pub fn split_authority(authority: &str, default_port: u16) -> Result<(&str, u16), UrlError> {
    if authority.contains('@') {
        return Err(UrlError::HasUserinfo);
    }
    if authority
        .bytes()
        .any(|b| b <= b' ' || b == 0x7f || b"/?#".contains(&b))
    {
        return Err(UrlError::InvalidCharacter);
    }
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
        None => default_port,
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

    /// (URI, scheme, host, port, `Host` value, path, query).
    type Parts = (
        &'static str,
        Scheme,
        &'static str,
        u16,
        &'static str,
        &'static str,
        Option<&'static str>,
    );

    #[test]
    fn parses_what_section_3_allows() {
        let table: [Parts; 11] = [
            (
                "ws://example.com",
                Scheme::Ws,
                "example.com",
                80,
                "example.com",
                "/",
                None,
            ),
            (
                "WS://example.com/",
                Scheme::Ws,
                "example.com",
                80,
                "example.com",
                "/",
                None,
            ),
            ("ws://a:80?x", Scheme::Ws, "a", 80, "a", "/", Some("x")),
            (
                "ws://a:8080/p?q=1&r",
                Scheme::Ws,
                "a",
                8080,
                "a:8080",
                "/p",
                Some("q=1&r"),
            ),
            ("wss://a", Scheme::Wss, "a", 443, "a", "/", None),
            ("wss://a:443/x", Scheme::Wss, "a", 443, "a", "/x", None),
            ("wss://a:80/x", Scheme::Wss, "a", 80, "a:80", "/x", None),
            (
                "ws://[::1]:8080/echo",
                Scheme::Ws,
                "::1",
                8080,
                "[::1]:8080",
                "/echo",
                None,
            ),
            ("ws://[::1]", Scheme::Ws, "::1", 80, "[::1]", "/", None),
            ("ws://[::1]:80", Scheme::Ws, "::1", 80, "[::1]", "/", None),
            (
                "ws://a:65535/?",
                Scheme::Ws,
                "a",
                65535,
                "a:65535",
                "/",
                Some(""),
            ),
        ];
        for (text, scheme, host, port, authority, path, query) in table {
            let url = WsUrl::parse(text).unwrap();
            assert_eq!(
                (
                    url.scheme(),
                    url.host(),
                    url.port(),
                    url.authority(),
                    url.path(),
                    url.query()
                ),
                (scheme, host, port, authority, path, query),
                "{text}"
            );
            assert_eq!(url.is_secure(), scheme == Scheme::Wss);
        }
    }

    #[test]
    fn refuses_hostile_and_malformed_uris() {
        for (text, error) in [
            ("", UrlError::UnsupportedScheme),
            ("http://a/", UrlError::UnsupportedScheme),
            ("a/b", UrlError::UnsupportedScheme),
            ("wsx://a", UrlError::UnsupportedScheme),
            ("ws:/a", UrlError::UnsupportedScheme),
            ("ws://", UrlError::MissingHost),
            ("ws:///x", UrlError::MissingHost),
            ("ws://:80/", UrlError::MissingHost),
            ("ws://[]:80/", UrlError::MissingHost),
            ("ws://[::1/", UrlError::MissingHost),
            ("ws://a:0/", UrlError::InvalidPort),
            ("ws://a:00/", UrlError::InvalidPort),
            ("ws://a:65536/", UrlError::InvalidPort),
            ("ws://a:99999999999999999999/", UrlError::InvalidPort),
            ("ws://a:/", UrlError::InvalidPort),
            ("ws://a:x/", UrlError::InvalidPort),
            ("ws://a:+80/", UrlError::InvalidPort),
            ("ws://a:80:80/", UrlError::InvalidPort),
            ("ws://[::1]x/", UrlError::InvalidPort),
            ("ws://a/#top", UrlError::HasFragment),
            ("ws://a#", UrlError::HasFragment),
            ("ws://u:p@a/", UrlError::HasUserinfo),
            ("ws://@a/", UrlError::HasUserinfo),
            ("ws://a/b c", UrlError::InvalidCharacter),
            ("ws://a\r\nHost: b/", UrlError::InvalidCharacter),
            ("ws://a/\0", UrlError::InvalidCharacter),
            ("ws://a\x7f/", UrlError::InvalidCharacter),
            ("ws://a\t/", UrlError::InvalidCharacter),
        ] {
            assert_eq!(WsUrl::parse(text), Err(error), "{text:?}");
        }
    }

    #[test]
    fn splits_authorities_with_one_set_of_rules() {
        assert_eq!(split_authority("a", 80), Ok(("a", 80)));
        assert_eq!(split_authority("a:1", 80), Ok(("a", 1)));
        assert_eq!(split_authority("[v6]:2", 80), Ok(("v6", 2)));
        assert_eq!(split_authority("a:0", 80), Err(UrlError::InvalidPort));
        assert_eq!(split_authority("a/b", 80), Err(UrlError::InvalidCharacter));
        assert_eq!(split_authority("a?b", 80), Err(UrlError::InvalidCharacter));
        assert_eq!(split_authority("u@a", 80), Err(UrlError::HasUserinfo));
        assert_eq!(split_authority("", 80), Err(UrlError::MissingHost));
    }

    #[test]
    fn long_inputs_are_linear() {
        let long = std::format!("ws://{}:{}/", "a".repeat(100_000), "9".repeat(100_000));
        assert_eq!(WsUrl::parse(&long), Err(UrlError::InvalidPort));
        let colons = std::format!("ws://[{}]/", ":".repeat(100_000));
        assert!(WsUrl::parse(&colons).is_ok());
    }
}
