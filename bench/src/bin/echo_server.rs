//! One echo server binary, four WebSocket implementations behind it, all on the same runtime:
//! a single-threaded Tokio runtime, one task per connection, `TCP_NODELAY` on every accepted
//! socket, each library used the way its own documentation and examples use it.
//!
//! ```text
//! echo_server --impl {switchyard,tungstenite,fastwebsockets,tokio-websockets} --listen 127.0.0.1:PORT
//! ```
//!
//! Once bound it prints `listening ADDR:PORT` (so `--listen 127.0.0.1:0` takes a free port).
//!
//! Every text and binary message is sent back as it came; the close handshake is each
//! library's own. Message size limits: every library's default is at least 1 MiB, above the
//! benchmark's largest message (64 KiB).

use std::net::SocketAddr;
use std::process::ExitCode;

use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Impl {
    Switchyard,
    Tungstenite,
    FastWebSockets,
    TokioWebSockets,
}

impl Impl {
    fn parse(name: &str) -> Option<Impl> {
        match name {
            "switchyard" => Some(Impl::Switchyard),
            "tungstenite" => Some(Impl::Tungstenite),
            "fastwebsockets" => Some(Impl::FastWebSockets),
            "tokio-websockets" => Some(Impl::TokioWebSockets),
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
            ("--print-task-sizes", _) => return print_task_sizes(),
            _ => which = None,
        }
    }
    let (Some(which), Some(listen)) = (which, listen) else {
        eprintln!(
            "usage: echo_server --impl {{switchyard,tungstenite,fastwebsockets,tokio-websockets}} \
             --listen ADDR:PORT"
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

/// Prints the size of each implementation's per-connection task (the future spawned for a
/// connection, which Tokio allocates whole): the floor of its memory per idle connection.
fn print_task_sizes() -> ExitCode {
    fn size<A, F>(_: fn(A) -> F) -> usize {
        std::mem::size_of::<F>()
    }
    println!("switchyard {}", size(switchyard));
    println!("tungstenite {}", size(tungstenite));
    println!(
        "fastwebsockets {} (after the upgrade; hyper's connection task before it: {})",
        size(fastwebsockets_echo),
        size(fastwebsockets)
    );
    println!("tokio-websockets {}", size(tokio_websockets));
    ExitCode::SUCCESS
}

async fn serve(which: Impl, listen: SocketAddr) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    // The one line a script waits for (port 0 picks a free port).
    println!("listening {}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        match which {
            Impl::Switchyard => tokio::spawn(switchyard(tcp)),
            Impl::Tungstenite => tokio::spawn(tungstenite(tcp)),
            Impl::FastWebSockets => tokio::spawn(fastwebsockets(tcp)),
            Impl::TokioWebSockets => tokio::spawn(tokio_websockets(tcp)),
        };
    }
}

/// `switchyard::accept`, then `recv`/`send` until the peer closes.
async fn switchyard(tcp: TcpStream) {
    use switchyard::accept;

    let Ok((mut ws, _)) = accept(tcp).await else {
        return;
    };
    while let Some(Ok(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            return;
        }
    }
}

/// `tokio_tungstenite::accept_async`, then the `Stream`/`Sink` pair.
async fn tungstenite(tcp: TcpStream) {
    use futures_util::{SinkExt, StreamExt};

    let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
        return;
    };
    while let Some(Ok(message)) = ws.next().await {
        if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
            return;
        }
    }
}

/// hyper's HTTP/1 server with fastwebsockets' `upgrade` helper, which spawns
/// [`fastwebsockets_echo`] for the upgraded connection.
async fn fastwebsockets(tcp: TcpStream) {
    use fastwebsockets::{WebSocketError, upgrade};
    use http_body_util::Empty;
    use hyper::body::{Bytes, Incoming};
    use hyper::{Request, Response};

    async fn on_request(
        mut request: Request<Incoming>,
    ) -> Result<Response<Empty<Bytes>>, WebSocketError> {
        let (response, upgrade) = upgrade::upgrade(&mut request)?;
        tokio::spawn(fastwebsockets_echo(upgrade));
        Ok(response)
    }

    let io = hyper_util::rt::TokioIo::new(tcp);
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, hyper::service::service_fn(on_request))
        .with_upgrades()
        .await;
}

/// A `FragmentCollector` (whole messages) over the upgraded socket, its default auto-pong and
/// auto-close kept.
async fn fastwebsockets_echo(upgrade: fastwebsockets::upgrade::UpgradeFut) {
    use fastwebsockets::{FragmentCollector, OpCode};

    let Ok(ws) = upgrade.await else {
        return;
    };
    let mut ws = FragmentCollector::new(ws);
    while let Ok(frame) = ws.read_frame().await {
        let echoed = match frame.opcode {
            OpCode::Close => return,
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await,
            _ => Ok(()),
        };
        if echoed.is_err() {
            return;
        }
    }
}

/// `tokio_websockets::ServerBuilder::accept`, then the `Stream`/`Sink` pair.
async fn tokio_websockets(tcp: TcpStream) {
    use futures_util::{SinkExt, StreamExt};

    let Ok((_request, mut ws)) = tokio_websockets::ServerBuilder::new().accept(tcp).await else {
        return;
    };
    while let Some(Ok(message)) = ws.next().await {
        if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
            return;
        }
    }
}
