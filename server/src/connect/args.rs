//! `switchyard connect`'s command line, and the client options it makes.

use std::path::PathBuf;
use std::time::Duration;

use clap::ValueEnum;
use switchyard::proxy::{Proxy, ProxyChoice};
use switchyard::{ClientOptions, Config, DeflateConfig, TlsRoots};

use super::exit::Failure;

pub(crate) const AFTER_HELP: &str = "\
Input: on a terminal, each line typed is a text message and a line starting with / is a
command:
  /ping [data]             send a ping (its pong is shown on stderr)
  /close [code [reason]]   start the closing handshake (default 1000) and wait for the answer
  /binary HEX              send a binary message (hex digits, spaces allowed)
  /quit                    close with 1000 and wait for the server's close
  /help                    list the commands
  //text                   send the text message /text
In a pipe, each line (LF or CRLF stripped) is a text message, an empty line an empty message;
a line that is not UTF-8 is refused on stderr and not sent. --binary sends stdin as binary
messages instead: what each read returns, up to --chunk bytes. EOF on stdin, or SIGINT, closes with
1000 and waits for the server's close; a second SIGINT aborts.

Output: each received message on stdout: text as is and a newline, binary as one line of hex
(or --binary-as base64, or raw: the bytes alone). With --jsonl, one JSON object per event:
  {\"type\":\"text\",\"len\":N,\"text\":T}   {\"type\":\"binary\",\"len\":N,\"base64\":B}
  {\"type\":\"ping\"|\"pong\",\"len\":N,\"base64\":B}   {\"type\":\"close\",\"code\":C,\"reason\":R}
Everything else (refusals, close codes, errors) goes to stderr.

Exit status:
  0  a normal close (1000, 1001 or 1005)
  1  DNS, TCP, TLS or proxy failure
  2  usage (a bad flag, URL, header or proxy URL)
  3  the server refused the upgrade (its HTTP status is printed)
  4  an abnormal close, 1006 included (the code is printed)
  5  a protocol error (the server's, or a message over --max-message-size: closed 1009)
  6  a timeout (--timeout, or no answer to the --ping-interval pings)

Proxies: --proxy URL (http://[user:pass@]host:port for HTTP CONNECT, socks5:// or
socks5h:// to resolve names at the proxy) always applies. Without it the environment is read
as curl does: https_proxy/HTTPS_PROXY for wss://, http_proxy (lower case only) for ws://,
else all_proxy/ALL_PROXY; no_proxy/NO_PROXY lists hosts, domain suffixes, IPs, CIDR blocks or
* to reach directly; lower case wins where both are set. --no-proxy ignores the environment.
TLS to a wss:// server runs inside the tunnel.

Examples:
  echo hello | switchyard connect ws://127.0.0.1:8080/echo
  switchyard connect --jsonl --protocol chat wss://example.com/socket
  switchyard connect --proxy socks5h://127.0.0.1:9050 wss://example.com/";

/// How binary messages are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum BinaryAs {
    /// One line of lower-case hex.
    Hex,
    /// One line of standard base64.
    Base64,
    /// The bytes themselves, with nothing added.
    Raw,
}

/// Open a WebSocket and exchange messages over stdin and stdout.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct ConnectArgs {
    /// The server: ws://host[:port]/path or wss://...
    #[arg(value_name = "URL")]
    pub(crate) url: String,

    /// An extra request header, 'Name: value' (repeatable). Host, Upgrade, Connection and
    /// Sec-WebSocket-* are the handshake's own and refused.
    #[arg(short = 'H', long = "header", value_name = "HEADER", value_parser = header)]
    pub(crate) headers: Vec<(String, String)>,

    /// The Origin header.
    #[arg(long, value_name = "ORIGIN")]
    pub(crate) origin: Option<String>,

    /// A subprotocol to offer (repeatable, most preferred first).
    #[arg(long = "protocol", value_name = "NAME")]
    pub(crate) protocols: Vec<String>,

    /// Send stdin as binary messages instead of lines of text.
    #[arg(long)]
    pub(crate) binary: bool,

    /// With --binary, the largest message: each read of stdin, up to this many bytes, is
    /// sent as one.
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024,
          value_parser = clap::value_parser!(u32).range(1..=(1 << 30)))]
    pub(crate) chunk: u32,

    /// How received binary messages are printed.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = BinaryAs::Hex)]
    pub(crate) binary_as: BinaryAs,

    /// Print one JSON object per received event (see below).
    #[arg(long)]
    pub(crate) jsonl: bool,

    /// Ping the server after this long without a byte from it; close if it then stays
    /// silent as long again (exit 6).
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::positive_duration)]
    pub(crate) ping_interval: Option<Duration>,

    /// Time for the connection: DNS, TCP, proxy, TLS and the opening handshake.
    #[arg(long, value_name = "DURATION", default_value = "10s",
          value_parser = crate::cli::positive_duration)]
    pub(crate) timeout: Duration,

    /// Time the closing handshake may take before the connection is dropped (1006).
    #[arg(long, value_name = "DURATION", default_value = "5s",
          value_parser = crate::cli::positive_duration)]
    pub(crate) close_timeout: Duration,

    /// Largest message accepted from the server, in bytes; a larger one closes with 1009.
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 20)]
    pub(crate) max_message_size: u64,

    /// For wss://: trust the CA certificates in this PEM file instead of the system's.
    #[arg(long, value_name = "FILE")]
    pub(crate) ca_file: Option<PathBuf>,

    /// For wss://: accept any certificate. INSECURE: anyone on the path can read and change
    /// the connection; a warning says so on every run.
    #[arg(long, conflicts_with = "ca_file")]
    pub(crate) insecure: bool,

    /// Do not offer permessage-deflate (offered by default).
    #[arg(long)]
    pub(crate) no_deflate: bool,

    /// For wss://: offer HTTP/2 and open the WebSocket as an HTTP/2 stream (RFC 8441) if
    /// the server supports it.
    #[arg(long)]
    pub(crate) http2: bool,

    /// Print the opening handshake on stderr: the request and response heads line by line
    /// as sent and received ("> " and "< " before each) and that the Sec-WebSocket-Accept
    /// key verified; over HTTP/2, the fields of both, pseudo-headers first.
    #[arg(long)]
    pub(crate) show_handshake: bool,

    /// Go through this proxy: http://, socks5:// or socks5h:// (see Proxies below).
    // Parsed in `options`, not by clap: clap's message for a value it refuses quotes the
    // value, and a proxy URL may hold a password.
    #[arg(long, value_name = "URL", conflicts_with = "no_proxy")]
    pub(crate) proxy: Option<ProxyUrl>,

    /// Ignore the proxy environment variables.
    #[arg(long)]
    pub(crate) no_proxy: bool,
}

impl ConnectArgs {
    /// The options for `connect_with`; the environment's proxies unless told otherwise.
    pub(crate) fn options(&self) -> Result<ClientOptions, Failure> {
        let mut config = Config::default()
            .with_handshake_timeout(self.timeout)
            .with_max_message_size(self.max_message_size)
            .with_close_timeout(self.close_timeout)
            .with_keepalive(
                self.ping_interval,
                self.ping_interval.unwrap_or(Duration::from_secs(20)),
            );
        if !self.no_deflate {
            config = config.with_deflate(DeflateConfig::CLIENT);
        }
        let mut options = ClientOptions::default().with_config(config);
        options.protocols.clone_from(&self.protocols);
        options.headers.clone_from(&self.headers);
        options.origin.clone_from(&self.origin);
        if let Some(file) = &self.ca_file {
            options = options.with_tls_roots(TlsRoots::CaFile(file.clone()));
        }
        if self.insecure {
            options = options.with_tls_roots(TlsRoots::Config(super::insecure::config()));
        }
        if self.http2 {
            options = options.with_http2();
        }
        let proxy = match (&self.proxy, self.no_proxy) {
            (Some(proxy), _) => ProxyChoice::Always(
                // The URL is not repeated: it may hold a password.
                Proxy::parse(&proxy.0).map_err(|e| Failure::Usage(format!("--proxy: {e}")))?,
            ),
            (None, true) => ProxyChoice::Direct,
            (None, false) => ProxyChoice::Env(Box::new(Proxy::from_env().map_err(|e| {
                Failure::Usage(format!("{e} (--no-proxy ignores the environment)"))
            })?)),
        };
        Ok(options.with_proxy(proxy))
    }
}

/// A `--proxy` URL as given, parsed by [`ConnectArgs::options`]. Its `Debug` leaves the URL
/// out: it may hold a password.
#[derive(Clone)]
pub(crate) struct ProxyUrl(String);

impl std::str::FromStr for ProxyUrl {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<ProxyUrl, Self::Err> {
        Ok(ProxyUrl(text.to_owned()))
    }
}

impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProxyUrl(..)")
    }
}

/// `Name: value`, refusing the fields the handshake writes itself.
fn header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text.split_once(':').ok_or("a header is 'Name: value'")?;
    let name = name.trim();
    let lower = name.to_ascii_lowercase();
    if ["host", "upgrade", "connection"].contains(&lower.as_str())
        || lower.starts_with("sec-websocket-")
    {
        return Err(format!("{name} is set by the handshake itself"));
    }
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
        return Err(format!("{name:?} is not a header name"));
    }
    let value = value.trim();
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err("a header value may not hold CR, LF or NUL".into());
    }
    Ok((name.to_owned(), value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxy_url_is_not_shown_by_debug() {
        let url: ProxyUrl = "http://u:s3cret@p:3128".parse().unwrap();
        assert!(!format!("{url:?}").contains("s3cret"));
    }

    #[test]
    fn headers_are_checked_when_parsed() {
        assert_eq!(
            header("X-Token:  abc ").unwrap(),
            ("X-Token".to_owned(), "abc".to_owned())
        );
        for bad in [
            "Host: x",
            "upgrade: y",
            "Connection: z",
            "Sec-WebSocket-Protocol: p",
            "no colon",
            ": empty",
            "Bad Name: v",
        ] {
            assert!(header(bad).is_err(), "{bad}");
        }
    }
}
