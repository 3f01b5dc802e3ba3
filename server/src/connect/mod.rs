//! `switchyard connect URL`: a WebSocket client for the terminal and for scripts, on the
//! library's own client (permessage-deflate, wss://, HTTP/2, proxies).
//!
//! One task drives the connection: it waits on the next event from the server, the send in
//! flight, the next input from stdin (read on a thread, since stdin blocks; taken once no
//! send is in flight) and SIGINT, whichever comes first. Received messages go to stdout;
//! everything else to stderr.

mod args;
mod exit;
mod input;
mod insecure;
mod output;

use std::future::Future;
use std::io::IsTerminal;
use std::pin::Pin;
use std::process::ExitCode;

use switchyard::switchyard_core::connection::SendError;
use switchyard::{ClientStream, CloseCode, Error, WriteHalf, connect_with};
use tokio::signal::unix::{SignalKind, signal};

use crate::runtime::{Main, block_on};

pub(crate) use args::ConnectArgs;
use exit::Failure;
use input::{Command, Input};
use output::Output;

/// Runs the command; the exit status says how it ended.
pub(crate) fn run(args: ConnectArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("switchyard connect: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let main = || -> Main<'_> {
        Box::pin(async {
            match session(&args).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(failure) => {
                    eprintln!("switchyard connect: {failure}");
                    failure.exit_code()
                }
            }
        })
    };
    // The server's way of running its runtime (see `Main`).
    block_on(&runtime, main).unwrap_or_else(|e| {
        eprintln!("switchyard connect: cannot start the runtime's thread: {e}");
        ExitCode::FAILURE
    })
}

async fn session(args: &ConnectArgs) -> Result<(), Failure> {
    let options = args.options()?;
    let interactive = std::io::stdin().is_terminal();
    let output = Output {
        jsonl: args.jsonl,
        binary_as: args.binary_as,
        interactive,
    };
    if args.insecure {
        eprintln!(
            "WARNING: --insecure: the server's certificate is NOT verified; anyone on the \
             path can read and change this connection"
        );
    }
    let (ws, response) = connect_with(&args.url, &options)
        .await
        .map_err(Failure::of_connect)?;
    // Watched once open: until then SIGINT stops the process as usual.
    let mut sigint = signal(SignalKind::interrupt())
        .map_err(|e| Failure::Network(format!("cannot watch SIGINT: {e}")))?;
    if args.show_handshake {
        eprint!("{}", output::handshake(&response));
    }
    if interactive {
        let mut agreed = String::new();
        if let Some(protocol) = response.protocol() {
            agreed.push_str(&format!(", protocol {protocol}"));
        }
        for extension in response.extensions() {
            agreed.push_str(&format!(", {extension}"));
        }
        eprintln!(
            "connected to {}{agreed}; /help lists the commands",
            args.url
        );
    }
    let mut stdin = input::spawn_reader(args.binary, args.chunk as usize, interactive);
    let mut stdout = std::io::stdout();
    let (mut read, write) = ws.split();
    // The write half, or the one send (or close) in flight, which owns it until it is done.
    // Polled with receiving and SIGINT: a send waits until the whole message is written, and
    // a server that stops reading (one that writes back before it reads on, as an echo
    // does) must not stop us from reading, or SIGINT from being heard.
    let mut writer = Writer::Idle(write);
    let mut reading = true;
    let mut closing = false;
    let mut interrupted = false;
    loop {
        tokio::select! {
            event = read.recv_event() => match event {
                Some(Ok(event)) => {
                    if let Err(e) = output.event(&mut stdout, &event) {
                        return Err(Failure::Network(format!("cannot write to stdout: {e}")));
                    }
                }
                Some(Err(error)) => return Err(Failure::of_error(error)),
                None => break,
            },
            (write, keep_reading) = writer.done() => {
                reading &= keep_reading;
                writer = if interrupted && !closing {
                    // SIGINT came while a send was in flight: the close frame goes after it.
                    closing = true;
                    Writer::close(write, CloseCode::NORMAL, String::new())
                } else {
                    Writer::Idle(write)
                };
            }
            input = stdin.recv(), if reading && writer.is_idle() => {
                let Writer::Idle(write) = std::mem::replace(&mut writer, Writer::Gone) else {
                    unreachable!("guarded by is_idle");
                };
                writer = match input {
                    Some(input) => Writer::handle(write, input, &mut closing),
                    None => {
                        reading = false;
                        closing = true;
                        Writer::close(write, CloseCode::NORMAL, String::new())
                    }
                };
            }
            _ = sigint.recv() => {
                if interrupted {
                    return Err(Failure::Abnormal(CloseCode::ABNORMAL, "aborted".into()));
                }
                interrupted = true;
                reading = false;
                if !closing && let Writer::Idle(_) = writer {
                    let Writer::Idle(write) = std::mem::replace(&mut writer, Writer::Gone) else {
                        unreachable!("matched above");
                    };
                    closing = true;
                    writer = Writer::close(write, CloseCode::NORMAL, String::new());
                }
            }
        }
    }
    let info = read
        .close_info()
        .ok_or(Failure::Abnormal(CloseCode::ABNORMAL, String::new()))?;
    output
        .close(&mut stdout, &info)
        .map_err(|e| Failure::Network(format!("cannot write to stdout: {e}")))?;
    Failure::of_close(&info).map_or(Ok(()), Err)
}

type Write = WriteHalf<ClientStream>;

/// The write half, idle or owned by what it is doing.
enum Writer {
    Idle(Write),
    /// A send or a close in flight: it gives the write half back, and whether stdin is still
    /// to be read.
    Busy(Pin<Box<dyn Future<Output = (Write, bool)>>>),
    /// Only while being replaced.
    Gone,
}

impl Writer {
    fn is_idle(&self) -> bool {
        matches!(self, Writer::Idle(_))
    }

    /// Completes when the operation in flight does; never while idle.
    async fn done(&mut self) -> (Write, bool) {
        match self {
            Writer::Busy(operation) => operation.await,
            Writer::Idle(_) | Writer::Gone => std::future::pending().await,
        }
    }

    /// Acts on one input. A close command marks the session `closing`.
    fn handle(write: Write, input: Input, closing: &mut bool) -> Writer {
        match input {
            Input::Command(Command::Close(code, reason)) => {
                *closing = true;
                Writer::close(write, code, reason)
            }
            Input::Command(Command::Quit) => {
                *closing = true;
                Writer::close(write, CloseCode::NORMAL, String::new())
            }
            input => Writer::Busy(Box::pin(async move {
                let mut write = write;
                let keep_reading = send(&mut write, input).await;
                (write, keep_reading)
            })),
        }
    }

    /// Starts the closing handshake; receiving then waits for the server's close (within
    /// --close-timeout).
    fn close(write: Write, code: CloseCode, reason: String) -> Writer {
        Writer::Busy(Box::pin(async move {
            let mut write = write;
            if let Err(error) = write.close(code, &reason).await {
                eprintln!("cannot send the close frame: {error}");
            }
            (write, false)
        }))
    }
}

/// Sends one input; `false` once stdin is done with (nothing more can be sent). A send that
/// is refused for what it is (a `/ping` payload over 125 bytes) leaves stdin open.
async fn send(ws: &mut Write, input: Input) -> bool {
    let sent = match input {
        Input::Text(text) => ws.send_text(&text).await,
        Input::Binary(bytes) => ws.send_binary(&bytes).await,
        Input::NotUtf8 => {
            eprintln!("not sent: the line is not UTF-8");
            return true;
        }
        Input::Command(Command::Ping(data)) => ws.ping(&data).await,
        Input::Command(Command::Help) => {
            eprintln!("{}", input::HELP);
            return true;
        }
        Input::Command(Command::Invalid(why)) => {
            eprintln!("{why}");
            return true;
        }
        Input::Command(Command::Close(..) | Command::Quit) => {
            unreachable!("closing is Writer::handle's")
        }
    };
    match sent {
        Ok(()) => true,
        Err(error) => {
            eprintln!("not sent: {error}");
            // The connection is closing or failed (receiving reports how it ended), unless
            // the input itself was refused.
            matches!(
                error,
                Error::Send(SendError::ControlPayloadTooLong | SendError::InvalidUtf8)
            )
        }
    }
}
