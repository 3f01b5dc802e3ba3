//! `switchyard`: the demo server. Serves the demo page, `/healthz`, and the WebSocket routes
//! `/echo`, `/chat` and `/inspect`; `switchyard --help` documents every option.
#![forbid(unsafe_code)]

mod app;
mod assets;
mod boxed;
mod cli;
mod connect;
mod connection;
mod hangup;
mod http;
mod http2;
mod log_batch;
mod log_line;
mod malloc;
mod routes;
mod runtime;
mod server;
mod shutdown;
mod tap;
mod tapped;
mod tls;
mod transport;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing::error;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let args = match cli.command {
        Some(cli::Subcommand::Connect(args)) => return connect::run(args),
        Some(cli::Subcommand::Serve(args)) => args,
        None => cli.serve,
    };
    // After parsing, so `--help` and usage errors stay instant; before anything else starts.
    let untuned = malloc::tune();
    let terminal = std::io::stderr().is_terminal();
    let log = tracing_subscriber::fmt().with_env_filter(
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    );
    if terminal {
        log.with_writer(std::io::stderr).init();
    } else {
        log.with_writer(log_batch::Batched(&log_batch::STDERR))
            .with_ansi(false)
            .event_format(log_line::PlainLine)
            .init();
        log_line::write_close_lines_to(&log_batch::STDERR);
    }
    // Declared before the runtime, so dropped after it: the lines its shutdown logs (the
    // tasks it drops) are written too.
    let _flushed = log_batch::Flushed;
    if let Some(error) = untuned {
        tracing::warn!(%error, "running with glibc's default malloc settings");
    }
    let runtime = match runtime::build() {
        Ok(runtime) => runtime,
        Err(e) => {
            error!(error = %e, "cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    let listen = args.listen;
    // The server runs as a task rather than in `block_on`: on the multi-thread runtime its
    // task is on a worker thread, so the accept loop spawns each connection onto its own
    // worker's queue, where it starts without a cross-thread wake (a futex and an eventfd
    // write per connection, measured with strace).
    let main = move || -> runtime::Main<'static> {
        Box::pin(async move {
            match tokio::spawn(server::run(args)).await {
                Ok(Ok(())) => ExitCode::SUCCESS,
                Ok(Err(e)) => {
                    error!(%listen, error = %e, "cannot serve");
                    ExitCode::FAILURE
                }
                Err(e) => {
                    error!(%listen, error = %e, "the server's task failed");
                    ExitCode::FAILURE
                }
            }
        })
    };
    runtime::block_on(&runtime, main).unwrap_or_else(|e| {
        error!(error = %e, "cannot start the server's thread");
        ExitCode::FAILURE
    })
}
