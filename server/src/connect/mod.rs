//! `switchyard connect URL`: a WebSocket client for the terminal and for scripts, on the
//! library's own client (permessage-deflate, wss://, HTTP/2, proxies).
//!
//! One task drives the connection: it waits on the next event from the server, the next
//! input from stdin (read on a thread, since stdin blocks) and SIGINT, whichever comes
//! first. Received messages go to stdout; everything else to stderr.

mod args;
mod exit;
mod input;
mod insecure;
mod output;

use std::io::IsTerminal;
use std::process::ExitCode;

use switchyard::{ClientStream, CloseCode, WebSocket, connect_with};
use tokio::signal::unix::{SignalKind, signal};

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
    let result = runtime.block_on(session(&args));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("switchyard connect: {failure}");
            failure.exit_code()
        }
    }
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
    let (mut ws, response) = connect_with(&args.url, &options)
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
    let mut reading = true;
    let mut interrupted = false;
    loop {
        tokio::select! {
            event = ws.recv_event() => match event {
                Some(Ok(event)) => {
                    if let Err(e) = output.event(&mut stdout, &event) {
                        return Err(Failure::Network(format!("cannot write to stdout: {e}")));
                    }
                }
                Some(Err(error)) => return Err(Failure::of_error(error)),
                None => break,
            },
            input = stdin.recv(), if reading => match input {
                Some(input) => {
                    if !handle(&mut ws, input).await {
                        reading = false;
                    }
                }
                None => {
                    reading = false;
                    close(&mut ws, CloseCode::NORMAL, "").await;
                }
            },
            _ = sigint.recv() => {
                if interrupted {
                    return Err(Failure::Abnormal(CloseCode::ABNORMAL, "aborted".into()));
                }
                interrupted = true;
                reading = false;
                close(&mut ws, CloseCode::NORMAL, "").await;
            }
        }
    }
    let info = ws
        .close_info()
        .ok_or(Failure::Abnormal(CloseCode::ABNORMAL, String::new()))?;
    output
        .close(&mut stdout, &info)
        .map_err(|e| Failure::Network(format!("cannot write to stdout: {e}")))?;
    Failure::of_close(&info).map_or(Ok(()), Err)
}

/// Acts on one input; `false` once stdin is done with (closing, or nothing can be sent).
async fn handle(ws: &mut WebSocket<ClientStream>, input: Input) -> bool {
    let sent = match input {
        Input::Text(text) => ws.send_text(&text).await,
        Input::Binary(bytes) => ws.send_binary(&bytes).await,
        Input::NotUtf8 => {
            eprintln!("not sent: the line is not UTF-8");
            return true;
        }
        Input::Command(Command::Ping(data)) => ws.ping(&data).await,
        Input::Command(Command::Close(code, reason)) => {
            close(ws, code, &reason).await;
            return false;
        }
        Input::Command(Command::Quit) => {
            close(ws, CloseCode::NORMAL, "").await;
            return false;
        }
        Input::Command(Command::Help) => {
            eprintln!("{}", input::HELP);
            return true;
        }
        Input::Command(Command::Invalid(why)) => {
            eprintln!("{why}");
            return true;
        }
    };
    match sent {
        Ok(()) => true,
        // The connection is closing or failed: receiving reports how it ended.
        Err(error) => {
            eprintln!("not sent: {error}");
            false
        }
    }
}

/// Starts the closing handshake; receiving then waits for the server's close (within
/// --close-timeout).
async fn close(ws: &mut WebSocket<ClientStream>, code: CloseCode, reason: &str) {
    if let Err(error) = ws.close(code, reason).await {
        eprintln!("cannot send the close frame: {error}");
    }
}
