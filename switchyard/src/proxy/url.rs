//! Proxy URLs: `[scheme://][user[:password]@]host[:port][/]`.

use std::fmt;

use switchyard_core::url::split_authority;

use super::{Credentials, Proxy, ProxyKind};

/// Why a proxy URL cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyUrlError {
    /// A scheme other than `http`, `socks5` and `socks5h` (`https://` proxies, TLS to the
    /// proxy itself, are not supported).
    UnsupportedScheme,
    /// No host, or an unclosed `[`.
    MissingHost,
    /// A port that is not a number from 1 to 65535.
    InvalidPort,
    /// A path, query or fragment other than a lone `/`.
    HasPath,
    /// A `%` not followed by two hex digits, or credentials that are not UTF-8 once decoded.
    InvalidPercentEncoding,
    /// A SOCKS5 username or password longer than 255 bytes (RFC 1929 §2).
    CredentialsTooLong,
    /// A space or control character, or a character that cannot appear in a host.
    InvalidCharacter,
}

impl fmt::Display for ProxyUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProxyUrlError::UnsupportedScheme => {
                "a proxy URL must be http://, socks5:// or socks5h://"
            }
            ProxyUrlError::MissingHost => "no proxy host",
            ProxyUrlError::InvalidPort => "invalid proxy port",
            ProxyUrlError::HasPath => "a proxy URL has no path",
            ProxyUrlError::InvalidPercentEncoding => "invalid percent-encoding in the credentials",
            ProxyUrlError::CredentialsTooLong => {
                "SOCKS5 usernames and passwords are at most 255 bytes"
            }
            ProxyUrlError::InvalidCharacter => "space, control or misplaced character",
        })
    }
}

impl std::error::Error for ProxyUrlError {}

pub(super) fn parse(url: &str) -> Result<Proxy, ProxyUrlError> {
    let (kind, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (scheme_kind(scheme)?, rest),
        None => (ProxyKind::HttpConnect, url),
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#']) {
        return Err(ProxyUrlError::HasPath);
    }
    // The userinfo ends at the last `@`: a password may hold a raw `@` in the wild.
    let (userinfo, authority) = match rest.rsplit_once('@') {
        Some((userinfo, authority)) => (Some(userinfo), authority),
        None => (None, rest),
    };
    let default_port = match kind {
        ProxyKind::HttpConnect => 80,
        ProxyKind::Socks5 | ProxyKind::Socks5h => 1080,
    };
    let (host, port) = split_authority(authority, default_port).map_err(|e| match e {
        switchyard_core::url::UrlError::InvalidPort => ProxyUrlError::InvalidPort,
        switchyard_core::url::UrlError::MissingHost => ProxyUrlError::MissingHost,
        _ => ProxyUrlError::InvalidCharacter,
    })?;
    let credentials = userinfo.map(credentials).transpose()?;
    if kind != ProxyKind::HttpConnect
        && let Some(c) = &credentials
        && (c.username.len() > 255 || c.password.len() > 255)
    {
        return Err(ProxyUrlError::CredentialsTooLong);
    }
    Ok(Proxy {
        kind,
        host: host.to_owned(),
        port,
        credentials,
    })
}

fn scheme_kind(scheme: &str) -> Result<ProxyKind, ProxyUrlError> {
    [
        ("http", ProxyKind::HttpConnect),
        ("socks5", ProxyKind::Socks5),
        ("socks5h", ProxyKind::Socks5h),
    ]
    .into_iter()
    .find(|(name, _)| scheme.eq_ignore_ascii_case(name))
    .map(|(_, kind)| kind)
    .ok_or(ProxyUrlError::UnsupportedScheme)
}

fn credentials(userinfo: &str) -> Result<Credentials, ProxyUrlError> {
    if userinfo.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(ProxyUrlError::InvalidCharacter);
    }
    let (username, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    Ok(Credentials {
        username: percent_decode(username)?,
        password: percent_decode(password)?,
    })
}

fn percent_decode(text: &str) -> Result<String, ProxyUrlError> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next(), bytes.next()];
            let digit = |d: Option<u8>| {
                d.and_then(|d| (d as char).to_digit(16))
                    .ok_or(ProxyUrlError::InvalidPercentEncoding)
            };
            out.push((digit(hex[0])? * 16 + digit(hex[1])?) as u8);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).map_err(|_| ProxyUrlError::InvalidPercentEncoding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_scheme_credentials_host_and_port() {
        let proxy = parse("socks5h://al%40ice:p%3Ass@[::1]:9050/").unwrap();
        assert_eq!(proxy.kind(), ProxyKind::Socks5h);
        assert_eq!(proxy.host(), "::1");
        assert_eq!(proxy.port(), 9050);
        let credentials = proxy.credentials().unwrap();
        assert_eq!(credentials.username(), "al@ice");
        assert_eq!(credentials.password(), "p:ss");
        assert!(!format!("{proxy:?}").contains("p:ss"));
    }

    #[test]
    fn defaults_to_http_and_the_scheme_port() {
        let proxy = parse("proxy.example:3128").unwrap();
        assert_eq!((proxy.kind(), proxy.port()), (ProxyKind::HttpConnect, 3128));
        assert_eq!(parse("HTTP://proxy.example").unwrap().port(), 80);
        assert_eq!(parse("socks5://proxy.example").unwrap().port(), 1080);
        assert_eq!(parse("http://proxy.example").unwrap().credentials(), None);
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        assert_eq!(
            parse("https://proxy:443"),
            Err(ProxyUrlError::UnsupportedScheme)
        );
        assert_eq!(parse("http://proxy/path"), Err(ProxyUrlError::HasPath));
        assert_eq!(parse("http://proxy:0"), Err(ProxyUrlError::InvalidPort));
        assert_eq!(parse("http://proxy:99999"), Err(ProxyUrlError::InvalidPort));
        assert_eq!(parse("http://"), Err(ProxyUrlError::MissingHost));
        assert_eq!(
            parse("http://a%zz@proxy"),
            Err(ProxyUrlError::InvalidPercentEncoding)
        );
        assert_eq!(
            parse("http://a%ff@proxy"),
            Err(ProxyUrlError::InvalidPercentEncoding)
        );
        assert_eq!(
            parse("http://a%4@proxy"),
            Err(ProxyUrlError::InvalidPercentEncoding)
        );
        let long = format!("socks5://{}:pw@proxy", "u".repeat(256));
        assert_eq!(parse(&long), Err(ProxyUrlError::CredentialsTooLong));
        assert!(parse(&long.replace("socks5", "http")).is_ok());
    }
}
