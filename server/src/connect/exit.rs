//! How a `switchyard connect` session ends, and the exit status each way has (documented in
//! `--help`).

use std::fmt;
use std::process::ExitCode;

use switchyard::{CloseCode, CloseInfo, ConnectError, Error};

/// A session that did not end with a normal close.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Exit 1: DNS, TCP, TLS or the proxy.
    Network(String),
    /// Exit 2: the command line (or the proxy environment) cannot be used.
    Usage(String),
    /// Exit 3: the server answered the upgrade with another status (and the first line of
    /// its body, as far as it came with the head).
    Refused(u16, String),
    /// Exit 4: closed with a code other than 1000, 1001 and 1005, or without a close (1006).
    Abnormal(CloseCode, String),
    /// Exit 5: the server broke the protocol (or the handshake's rules).
    Protocol(String),
    /// Exit 6: the connection or the keepalive timed out.
    Timeout(&'static str),
}

impl Failure {
    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Failure::Network(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Refused(..) => 3,
            Failure::Abnormal(..) => 4,
            Failure::Protocol(_) => 5,
            Failure::Timeout(_) => 6,
        })
    }

    /// The failure of an opening handshake.
    pub(crate) fn of_connect(error: ConnectError) -> Failure {
        match error {
            ConnectError::Url(e) => Failure::Usage(format!("invalid URL: {e}")),
            ConnectError::Refused(response) => {
                let body = String::from_utf8_lossy(response.body_start());
                let first = body.lines().next().unwrap_or("").trim().to_owned();
                Failure::Refused(response.status().as_u16(), first)
            }
            ConnectError::Handshake(e) => Failure::Protocol(format!("handshake failed: {e}")),
            ConnectError::Timeout => Failure::Timeout("the connection timed out (--timeout)"),
            other => Failure::Network(other.to_string()),
        }
    }

    /// The failure of an open connection.
    pub(crate) fn of_error(error: Error) -> Failure {
        match error {
            Error::Protocol(e) => Failure::Protocol(format!(
                "protocol error: {e} (closed with {})",
                e.close_code().as_u16()
            )),
            Error::KeepaliveTimeout => Failure::Timeout("the server stopped answering pings"),
            Error::AbnormalClosure => {
                Failure::Abnormal(CloseCode::ABNORMAL, "no closing handshake".into())
            }
            other => Failure::Abnormal(CloseCode::ABNORMAL, other.to_string()),
        }
    }

    /// How a connection that ended with a close frame ended: `None` for a normal close.
    pub(crate) fn of_close(info: &CloseInfo) -> Option<Failure> {
        if let Some(error) = &info.error {
            return Some(Failure::Protocol(format!(
                "protocol error: {error} (closed with {})",
                info.code.as_u16()
            )));
        }
        // RFC 6455 §7.4.1: 1000 normal, 1001 going away; 1005 no code given.
        if [
            CloseCode::NORMAL,
            CloseCode::GOING_AWAY,
            CloseCode::NO_STATUS,
        ]
        .contains(&info.code)
        {
            return None;
        }
        Some(Failure::Abnormal(info.code, info.reason.clone()))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Network(e) | Failure::Usage(e) | Failure::Protocol(e) => f.write_str(e),
            Failure::Refused(status, body) if body.is_empty() => {
                write!(f, "the server refused the upgrade: HTTP {status}")
            }
            Failure::Refused(status, body) => {
                write!(f, "the server refused the upgrade: HTTP {status}: {body}")
            }
            Failure::Abnormal(code, reason) if reason.is_empty() => {
                write!(f, "closed abnormally: {}", code.as_u16())
            }
            Failure::Abnormal(code, reason) => {
                write!(f, "closed abnormally: {} {reason}", code.as_u16())
            }
            Failure::Timeout(what) => f.write_str(what),
        }
    }
}
