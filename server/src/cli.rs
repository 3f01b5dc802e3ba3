//! The command line: every limit, timeout and policy of the server, with its default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use switchyard::hub::{HubConfig, RedisUrl};
use switchyard::{Config, DeflateConfig};

const AFTER_HELP: &str = "\
Routes:
  GET /               the demo page (www/ built into the binary, or --www DIR); its files,
                      and the wasm package under /pkg/ (served as application/wasm)
  GET /healthz        200 \"ok\"; with --redis, a second line names the link's state
                      (redis: up, connecting or down)
  /echo               WebSocket: every text and binary message comes straight back
  /chat/{room}        WebSocket: chat rooms (/chat is the room lobby); see Chat below
  /inspect            WebSocket: first the handshake as the server saw and answered it (JSON),
                      then one JSON report per frame received: the raw bytes (hex; cut
                      after 4096 bytes, except a compressed message's, kept whole up to the
                      message limit) and the decoded header and payload
  anything else       404; a plain HTTP request to a WebSocket route gets 426

Origins: browsers may open WebSockets from pages on the server's own host and port (the Host
header), or on an origin given with --allow-origin; clients that send no Origin (not
browsers) are accepted. Other origins get 403.

Refusals carry the status the protocol core chose: 400 (bad request), 403 (origin), 414
(request line over 8 KiB), 426 (not an upgrade, or not version 13), 431 (header too large);
503 at --max-connections or while shutting down.

Chat: a room name is 1-64 characters of A-Z a-z 0-9 . _ - (not . or ..; anything else is
404). Each text message a client sends is one chat message (at most --chat-max-text bytes,
else close 1009; binary closes 1003), relayed to every member of the room on every node, the
sender included. The server sends one JSON object per message: first
  {\"type\":\"joined\",\"room\":R,\"epoch\":E,\"seq\":N,\"recovered\":B}
then, for each chat message (seq: one more per message, the same on every node),
  {\"type\":\"message\",\"room\":R,\"epoch\":E,\"seq\":N,\"text\":T}
and, when something goes wrong,
  {\"type\":\"error\",\"reason\":C,\"detail\":D}
with C one of: unavailable (Redis unreachable: the message was not sent), rate_limited (over
--chat-rate: the message was not sent). /chat/{room}?since=N&epoch=E first replays every
message after N if the history still holds them all (recovered true); a since that is not a
number, or since without epoch, is 400. A client --chat-queue messages behind is closed with
1008. With --redis, every node on that Redis serves the same rooms; while Redis is
unreachable, new chat connections get 503 and the node reconnects with backoff.

Durations: 250ms, 10s, 2m, 1h, or a bare number of seconds.

Logging: one line per connection as it closes (its opening at debug), to stderr; the level
comes from RUST_LOG (default info), e.g. RUST_LOG=debug or RUST_LOG=switchyard=warn.

TLS: --tls-cert and --tls-key (PEM files; the key PKCS#8, PKCS#1 or SEC1) make the listener
serve TLS only: https:// and wss://. SIGHUP reads both files again for the
connections that follow (open ones are kept); if that fails, the previous pair stays and the
log says why. Without TLS, SIGHUP is logged and ignored. --tls-self-signed makes a certificate
for localhost and 127.0.0.1 at start and logs the file it wrote it to, for trying https://
out: trust that file (or pass it to a client as its CA).

HTTP/2: over TLS, ALPN offers h2 before http/1.1; on a plain listener a connection that
opens with the HTTP/2 preface (prior knowledge) speaks HTTP/2. Every route is served over
it; the WebSocket routes take extended CONNECT with :protocol websocket (RFC 8441), many on
one connection, each counting against --max-connections (one over it is reset with
REFUSED_STREAM). A CONNECT without :protocol gets 405, another :protocol 501, a GET to a
WebSocket route 400, a header list over 16 KiB 431. --no-http2 turns HTTP/2 off.

SIGINT or SIGTERM: stop accepting, answer handshakes in flight with 503, close every
WebSocket with 1001 (after echoing what /echo already received), wait for the closing
handshakes up to --shutdown-timeout (a second signal ends the wait), then exit 0.";

/// switchyard: a WebSocket (RFC 6455) server with a demo page, /echo, /chat and /inspect,
/// and a client (`switchyard connect`).
// Serving takes no subcommand, as before `connect` existed, so old command lines still work;
// `serve` says the same explicitly.
#[derive(Debug, Parser)]
#[command(name = "switchyard", version, after_help = AFTER_HELP, args_conflicts_with_subcommands = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Subcommand>,
    #[command(flatten)]
    pub(crate) serve: Args,
}

/// `switchyard serve` and `switchyard connect`.
#[derive(Debug, clap::Subcommand)]
#[expect(
    clippy::large_enum_variant,
    reason = "parsed once, at the start, and taken apart at once"
)]
pub(crate) enum Subcommand {
    /// Serve (what `switchyard` with no subcommand does).
    #[command(after_help = AFTER_HELP)]
    Serve(Args),
    /// Open a WebSocket: stdin in, received messages out (a client for the terminal and for
    /// scripts, through HTTP and SOCKS proxies).
    Connect(crate::connect::ConnectArgs),
}

/// switchyard: a WebSocket (RFC 6455) server with a demo page, /echo, /chat and /inspect.
#[derive(Debug, Parser)]
#[command(name = "switchyard", version, after_help = AFTER_HELP)]
pub(crate) struct Args {
    /// Address to listen on (port 0 picks a free one; the address is printed on stdout).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub(crate) listen: SocketAddr,

    /// Largest frame and message a client may send, in bytes; larger closes with 1009.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    max_message_size: u64,

    /// Most frames one message may span; more closes with 1008. Default: 1024 while
    /// --max-message-size is at most 1 MiB; above that, one per 256 bytes of it (Autobahn's
    /// section 9.3 sends 4 MiB in 64-byte fragments).
    #[arg(long, value_name = "N")]
    max_fragments: Option<u32>,

    /// Most connections open at once (HTTP and WebSocket); more are answered 503.
    #[arg(long, value_name = "N", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub(crate) max_connections: u32,

    /// Bytes queued for one client past which sending to it waits.
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024)]
    write_buffer_size: usize,

    /// Time a client has to finish its handshake (TLS, then its whole request), so a slow or
    /// silent one cannot hold a slot; over HTTP/2, to open a stream.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = positive_duration)]
    handshake_timeout: Duration,

    /// Ping a client silent for this long (checked once per interval: the ping goes out one
    /// to two intervals after its last byte); 0 turns keepalive off.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = duration)]
    keepalive_interval: Duration,

    /// Close a client that sends nothing for this long after a ping.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = positive_duration)]
    keepalive_timeout: Duration,

    /// Time the closing handshake may take before the TCP connection is closed anyway.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = positive_duration)]
    close_timeout: Duration,

    /// After SIGINT or SIGTERM, time to wait for connections to close before exiting.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration)]
    pub(crate) shutdown_timeout: Duration,

    /// An origin also allowed to open WebSockets, as browsers send it (e.g.
    /// http://localhost:3000); repeatable. `*` allows every origin.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub(crate) allow_origins: Vec<String>,

    /// Serve the demo page from DIR instead of the copy built into the binary.
    #[arg(long, value_name = "DIR")]
    pub(crate) www: Option<PathBuf>,

    /// Serve TLS only, with this certificate chain (PEM, the server's certificate first);
    /// needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1); needs --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,

    /// Serve TLS with a certificate made at start for localhost and 127.0.0.1; the file it
    /// is written to is logged.
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    pub(crate) tls_self_signed: bool,

    /// Serve HTTP/1.1 only: no `h2` in ALPN over TLS, no cleartext HTTP/2 (prior knowledge)
    /// on a plain listener, so no WebSocket over HTTP/2 (RFC 8441).
    #[arg(long)]
    pub(crate) no_http2: bool,

    /// Most streams open at once on one HTTP/2 connection (SETTINGS_MAX_CONCURRENT_STREAMS).
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) h2_max_streams: u32,

    /// Do not negotiate permessage-deflate (RFC 7692). By default every WebSocket route
    /// accepts a browser's offer with 12-bit windows both ways and context takeover
    /// (/inspect asks the client to reset after each message, so each frame inflates alone).
    #[arg(long)]
    no_deflate: bool,

    /// permessage-deflate compression level, 1 (fastest) to 9 (smallest).
    #[arg(long, value_name = "LEVEL", default_value_t = DeflateConfig::SERVER.level,
          value_parser = clap::value_parser!(u8).range(1..=9))]
    deflate_level: u8,

    /// permessage-deflate window for both directions, as bits (8 to 15: 256 bytes to
    /// 32 KiB). With context takeover an idle connection keeps one window per direction.
    #[arg(long, value_name = "BITS", default_value_t = DeflateConfig::SERVER.server_max_window_bits,
          value_parser = clap::value_parser!(u8).range(8..=15))]
    deflate_window_bits: u8,

    /// Messages a /chat client may fall behind before it is closed with 1008.
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub(crate) chat_queue: u32,

    /// Largest chat message a client may send, in bytes; larger closes with 1009.
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024,
          value_parser = clap::value_parser!(u32).range(1..=16 << 20))]
    pub(crate) chat_max_text: u32,

    /// Messages each room's history keeps for clients reconnecting with `since`.
    #[arg(long, value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub(crate) chat_history: u32,

    /// Age past which a message leaves a room's history; a room silent this long is
    /// forgotten (its Redis keys expire) and starts a new epoch.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = positive_duration)]
    pub(crate) chat_history_age: Duration,

    /// Chat messages per second one client may send, on average; past it (and past
    /// --chat-burst) a message is refused with an `error`, not relayed.
    #[arg(long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub(crate) chat_rate: u32,

    /// Chat messages one client may send at once before --chat-rate applies.
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub(crate) chat_burst: u32,

    /// Serve /chat rooms from the Redis at URL, shared with every node that uses it:
    /// redis://[user:password@]host:port[/db] or unix:///path. Without it, rooms live in this
    /// process.
    #[arg(long, value_name = "URL", value_parser = redis_url)]
    pub(crate) redis: Option<RedisUrl>,
}

impl Args {
    /// The connection settings the flags describe.
    pub(crate) fn config(&self) -> Config {
        let keepalive = (!self.keepalive_interval.is_zero()).then_some(self.keepalive_interval);
        let mut limits = Config::DEFAULT
            .limits
            .with_max_message_size(self.max_message_size);
        limits.max_fragments = self.max_fragments.unwrap_or_else(|| {
            if self.max_message_size <= Config::DEFAULT.limits.max_message_size {
                limits.max_fragments
            } else {
                u32::try_from(self.max_message_size / 256)
                    .unwrap_or(u32::MAX)
                    .max(limits.max_fragments)
            }
        });
        let mut config = Config::default();
        if !self.no_deflate {
            config = config.with_deflate(
                DeflateConfig::SERVER
                    .with_level(self.deflate_level)
                    .with_window_bits(self.deflate_window_bits),
            );
        }
        config
            .with_limits(limits)
            .with_write_buffer_size(self.write_buffer_size)
            .with_keepalive(keepalive, self.keepalive_timeout)
            .with_close_timeout(self.close_timeout)
            .with_handshake_timeout(self.handshake_timeout)
    }
}

impl Args {
    /// The chat rooms' limits the flags describe.
    pub(crate) fn hub_config(&self) -> HubConfig {
        HubConfig::default()
            .with_history(self.chat_history as usize, self.chat_history_age)
            .with_queue(self.chat_queue as usize)
    }
}

fn redis_url(text: &str) -> Result<RedisUrl, String> {
    RedisUrl::parse(text).map_err(|e| e.to_string())
}

/// `250ms`, `10s`, `2m`, `1h`, or a bare number of seconds.
fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (like 250ms, 10s, 2m)"))?;
    let scale = match unit {
        "ms" => 1,
        "" | "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(format!("unknown unit `{unit}`: use ms, s, m or h")),
    };
    n.checked_mul(scale)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("`{text}` is too long"))
}

pub(crate) fn positive_duration(text: &str) -> Result<Duration, String> {
    match duration(text)? {
        d if d.is_zero() => Err(String::from("must be more than 0")),
        d => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn durations_take_units() {
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(duration("1.5s").is_err());
        assert!(duration("s").is_err());
        assert!(duration("10 parsecs").is_err());
        assert!(positive_duration("0s").is_err());
    }

    #[test]
    fn chat_defaults_are_the_documented_contract() {
        let args = Args::parse_from(["switchyard"]);
        assert_eq!(args.chat_max_text, 64 * 1024);
        assert_eq!((args.chat_rate, args.chat_burst), (50, 100));
        assert!(args.redis.is_none());
        let hub = args.hub_config();
        assert_eq!(hub.history_len(), 1000);
        assert_eq!(hub.history_age(), Duration::from_secs(3600));
        assert_eq!(hub.queue(), 64);
        assert!(Args::try_parse_from(["switchyard", "--chat-history-age", "0"]).is_err());
    }

    #[test]
    fn redis_urls_are_checked_when_parsed() {
        let args = Args::parse_from(["switchyard", "--redis", "redis://u:p@127.0.0.1:6379/1"]);
        assert_eq!(
            args.redis.unwrap().to_string(),
            "redis://u:***@127.0.0.1:6379/1"
        );
        Args::parse_from(["switchyard", "--redis", "unix:///tmp/r.sock"]);
        for bad in ["localhost:6379", "redis://h:port", "http://h"] {
            let error = Args::try_parse_from(["switchyard", "--redis", bad]).unwrap_err();
            assert_eq!(error.exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        Args::command().debug_assert();
        Cli::command().debug_assert();
    }

    #[test]
    fn serving_needs_no_subcommand_and_connect_takes_a_url() {
        let cli = Cli::parse_from(["switchyard", "--listen", "127.0.0.1:9"]);
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.listen.port(), 9);
        let cli = Cli::parse_from(["switchyard", "serve", "--listen", "127.0.0.1:9"]);
        assert!(matches!(cli.command, Some(Subcommand::Serve(a)) if a.listen.port() == 9));
        let cli = Cli::parse_from(["switchyard", "connect", "ws://h/"]);
        assert!(matches!(cli.command, Some(Subcommand::Connect(a)) if a.url == "ws://h/"));
        let error = Cli::try_parse_from(["switchyard", "--listen", "127.0.0.1:9", "connect"]);
        assert_eq!(error.unwrap_err().exit_code(), 2);
    }

    #[test]
    fn max_message_size_raises_frame_and_message_limits_together() {
        let args = Args::parse_from(["switchyard", "--max-message-size", "20971520"]);
        let limits = args.config().limits;
        assert_eq!(limits.max_message_size, 20 << 20);
        assert_eq!(limits.max_frame_size, 20 << 20);
        // Autobahn 9.3.1 sends 4 MiB in 64-byte fragments.
        assert!(limits.max_fragments >= 65536);
    }

    #[test]
    fn tls_needs_both_files_and_excludes_self_signed() {
        use clap::error::ErrorKind;
        let parse = |args: &[&str]| Args::try_parse_from([&["switchyard"], args].concat());
        let kind = |args: &[&str]| parse(args).err().map(|e| e.kind());
        assert_eq!(
            kind(&["--tls-cert", "c.pem"]),
            Some(ErrorKind::MissingRequiredArgument)
        );
        assert_eq!(
            kind(&["--tls-key", "k.pem"]),
            Some(ErrorKind::MissingRequiredArgument)
        );
        assert_eq!(
            kind(&[
                "--tls-self-signed",
                "--tls-cert",
                "c.pem",
                "--tls-key",
                "k.pem"
            ]),
            Some(ErrorKind::ArgumentConflict)
        );
        let args = parse(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).unwrap();
        assert_eq!(args.tls_cert, Some(PathBuf::from("c.pem")));
        assert!(parse(&["--tls-self-signed"]).unwrap().tls_self_signed);
    }

    #[test]
    fn fragments_default_to_the_message_size_and_can_be_set() {
        let args = Args::parse_from(["switchyard"]);
        assert_eq!(args.config().limits.max_fragments, 1024);
        let args = Args::parse_from(["switchyard", "--max-message-size", "4194304"]);
        assert_eq!(args.config().limits.max_fragments, 16384);
        let args = Args::parse_from(["switchyard", "--max-message-size", "1000"]);
        assert_eq!(args.config().limits.max_fragments, 1024);
        let args = Args::parse_from(["switchyard", "--max-fragments", "7"]);
        assert_eq!(args.config().limits.max_fragments, 7);
    }
}
