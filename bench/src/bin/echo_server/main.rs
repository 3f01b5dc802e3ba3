//! One echo server binary, several implementations behind it, all on the same runtime: a
//! single-threaded Tokio runtime, one task per connection, `TCP_NODELAY` on every accepted
//! socket, each library used the way its own documentation and examples use it.
//!
//! ```text
//! echo_server --impl NAME --listen 127.0.0.1:PORT [--tls-cert FILE --tls-key FILE]
//! ```
//!
//! - `floor`: plain TCP, no WebSocket: one read and one write per message, the kernel's share
//!   of any echo server's cost ([`floor`]).
//! - `switchyard-lib`: the library's minimal echo server ([`library`]);
//!   `switchyard-lib-no-keepalive` the same with keepalive off, not in the benchmark's grid:
//!   it shows what the keepalive timer costs (see `bench/README.md`).
//! - with the `peers` feature: `tungstenite`, `fastwebsockets`, `tokio-websockets`,
//!   `sockudo-ws`, `yawc`, and the last two with permessage-deflate: `sockudo-ws-deflate`,
//!   `yawc-deflate` ([`peers`]).
//! - with the `tls` feature: `switchyard-lib-tls` and `tungstenite-tls`, `switchyard-lib`
//!   and the `tungstenite` peer over TLS with the certificate and key in `--tls-cert` and
//!   `--tls-key` ([`tls`]).
//!
//! Once bound it prints `listening ADDR:PORT` (so `--listen 127.0.0.1:0` takes a free port).
//!
//! Every text and binary message is sent back as it came; the close handshake is each
//! library's own. Message size limits: every library's default is at least 1 MiB, the
//! benchmark's largest message.

mod floor;
mod library;
#[cfg(feature = "peers")]
mod peers;
#[cfg(feature = "tls")]
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use tokio::net::TcpListener;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Impl {
    Floor,
    SwitchyardLib,
    SwitchyardLibNoKeepalive,
    #[cfg(feature = "peers")]
    Peer(peers::Peer),
    #[cfg(feature = "tls")]
    Tls(Secure),
}

/// The `wss://` servers ([`tls`]).
#[cfg(feature = "tls")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Secure {
    SwitchyardLib,
    Tungstenite,
}

impl Impl {
    fn parse(name: &str) -> Option<Impl> {
        match name {
            "floor" => Some(Impl::Floor),
            "switchyard-lib" => Some(Impl::SwitchyardLib),
            "switchyard-lib-no-keepalive" => Some(Impl::SwitchyardLibNoKeepalive),
            #[cfg(feature = "tls")]
            "switchyard-lib-tls" => Some(Impl::Tls(Secure::SwitchyardLib)),
            #[cfg(feature = "tls")]
            "tungstenite-tls" => Some(Impl::Tls(Secure::Tungstenite)),
            #[cfg(feature = "peers")]
            _ => peers::Peer::parse(name).map(Impl::Peer),
            #[cfg(not(feature = "peers"))]
            _ => None,
        }
    }
}

fn main() -> ExitCode {
    let mut which = None;
    let mut listen: Option<SocketAddr> = None;
    let (mut cert, mut key) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--impl", Some(v)) => which = Impl::parse(&v),
            ("--listen", Some(v)) => listen = v.parse().ok(),
            ("--tls-cert", Some(v)) => cert = Some(PathBuf::from(v)),
            ("--tls-key", Some(v)) => key = Some(PathBuf::from(v)),
            _ => which = None,
        }
    }
    let (Some(which), Some(listen)) = (which, listen) else {
        eprintln!(
            "usage: echo_server --impl {{floor,switchyard-lib,switchyard-lib-no-keepalive{}}} --listen ADDR:PORT \
             [--tls-cert FILE --tls-key FILE]",
            if cfg!(feature = "tls") {
                ",tungstenite,fastwebsockets,tokio-websockets,sockudo-ws,yawc,\
                 sockudo-ws-deflate,yawc-deflate,switchyard-lib-tls,tungstenite-tls"
            } else if cfg!(feature = "peers") {
                ",tungstenite,fastwebsockets,tokio-websockets,sockudo-ws,yawc,\
                 sockudo-ws-deflate,yawc-deflate"
            } else {
                "; peers need --features peers"
            }
        );
        return ExitCode::from(2);
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let files = TlsFiles { cert, key };
    match runtime.block_on(serve(which, listen, files)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--tls-cert` and `--tls-key`, for the `wss://` servers.
struct TlsFiles {
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

async fn serve(which: Impl, listen: SocketAddr, files: TlsFiles) -> std::io::Result<()> {
    #[cfg(feature = "tls")]
    let acceptor = match (which, &files.cert, &files.key) {
        (Impl::Tls(_), Some(cert), Some(key)) => Some(tls::acceptor(cert, key)?),
        (Impl::Tls(_), ..) => {
            return Err(std::io::Error::other(
                "a wss:// server needs --tls-cert and --tls-key",
            ));
        }
        _ => None,
    };
    #[cfg(not(feature = "tls"))]
    if files.cert.is_some() || files.key.is_some() {
        return Err(std::io::Error::other(
            "--tls-cert: built without the tls feature",
        ));
    }
    let listener = TcpListener::bind(listen).await?;
    // The one line a script waits for (port 0 picks a free port).
    println!("listening {}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        match which {
            Impl::Floor => drop(tokio::spawn(floor::echo(tcp))),
            Impl::SwitchyardLib => drop(tokio::spawn(library::echo(tcp))),
            Impl::SwitchyardLibNoKeepalive => {
                drop(tokio::spawn(library::echo_without_keepalive(tcp)))
            }
            #[cfg(feature = "peers")]
            Impl::Peer(peer) => peer.spawn(tcp),
            #[cfg(feature = "tls")]
            Impl::Tls(secure) => {
                let acceptor = acceptor.clone().expect("loaded before the first accept");
                match secure {
                    Secure::SwitchyardLib => drop(tokio::spawn(tls::switchyard_lib(acceptor, tcp))),
                    Secure::Tungstenite => drop(tokio::spawn(tls::tungstenite(acceptor, tcp))),
                }
            }
        }
    }
}
