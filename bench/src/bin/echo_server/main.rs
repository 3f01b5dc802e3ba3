//! One echo server binary, several implementations behind it, all on the same runtime: a
//! single-threaded Tokio runtime, one task per connection, `TCP_NODELAY` on every accepted
//! socket, each library used the way its own documentation and examples use it.
//!
//! ```text
//! echo_server --impl NAME --listen 127.0.0.1:PORT
//! ```
//!
//! - `floor`: plain TCP, no WebSocket: one read and one write per message, the kernel's share
//!   of any echo server's cost ([`floor`]).
//! - `switchyard-lib`: the library's minimal echo server ([`library`]).
//! - with the `peers` feature: `tungstenite`, `fastwebsockets`, `tokio-websockets`,
//!   `sockudo-ws`, `yawc`, and the last two with permessage-deflate: `sockudo-ws-deflate`,
//!   `yawc-deflate` ([`peers`]).
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

use std::net::SocketAddr;
use std::process::ExitCode;

use tokio::net::TcpListener;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Impl {
    Floor,
    SwitchyardLib,
    #[cfg(feature = "peers")]
    Peer(peers::Peer),
}

impl Impl {
    fn parse(name: &str) -> Option<Impl> {
        match name {
            "floor" => Some(Impl::Floor),
            "switchyard-lib" => Some(Impl::SwitchyardLib),
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
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--impl", Some(v)) => which = Impl::parse(&v),
            ("--listen", Some(v)) => listen = v.parse().ok(),
            _ => which = None,
        }
    }
    let (Some(which), Some(listen)) = (which, listen) else {
        eprintln!(
            "usage: echo_server --impl {{floor,switchyard-lib{}}} --listen ADDR:PORT",
            if cfg!(feature = "peers") {
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
    match runtime.block_on(serve(which, listen)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(which: Impl, listen: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    // The one line a script waits for (port 0 picks a free port).
    println!("listening {}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        match which {
            Impl::Floor => drop(tokio::spawn(floor::echo(tcp))),
            Impl::SwitchyardLib => drop(tokio::spawn(library::echo(tcp))),
            #[cfg(feature = "peers")]
            Impl::Peer(peer) => peer.spawn(tcp),
        }
    }
}
