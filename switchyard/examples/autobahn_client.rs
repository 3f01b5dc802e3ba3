//! The Autobahn|Testsuite client driver: `autobahn_client <base-url> <agent>`, e.g.
//! `autobahn_client ws://127.0.0.1:9001 switchyard` against `wstest -m fuzzingserver`.
//!
//! Asks `/getCaseCount`, then for each case connects to `/runCase?case=N&agent=A` and echoes
//! every message back as it came (text as text, binary as binary) until the connection ends,
//! then asks for `/updateReports?agent=A`. Limits are raised to 20 MiB for section 9, and
//! permessage-deflate is offered for sections 12 and 13.
//!
//! A case that ends in an error is normal (the fuzzer breaks the protocol on purpose); the
//! program fails (exit status 1) only on local trouble: a bad command line (2), or a
//! connection to the fuzzer that cannot be made or a case count that makes no sense (1).

use std::process::ExitCode;
use std::time::Duration;

use switchyard::{ClientOptions, CloseCode, Config, DeflateConfig, Message, connect_with};

fn options() -> ClientOptions {
    let mut config = Config::default()
        .with_max_message_size(20 << 20)
        // The fuzzer judges every frame we send: no unsolicited pings.
        .with_keepalive(None, Duration::from_secs(20))
        .with_handshake_timeout(Duration::from_secs(30))
        // Sections 12 and 13: the default offer, `permessage-deflate; client_max_window_bits`
        // (13.3-13.6 answer a window only to an offer that names the parameter); every
        // message compressed, as the fuzzer's own peers do.
        .with_deflate(DeflateConfig::CLIENT.with_threshold(0));
    // Section 9.3 sends 4 MiB in 64-byte fragments.
    config.limits.max_fragments = 1 << 20;
    ClientOptions::default().with_config(config)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, agent] = args.as_slice() else {
        eprintln!(
            "usage: autobahn_client <base-url> <agent>   (e.g. ws://127.0.0.1:9001 switchyard)"
        );
        return ExitCode::from(2);
    };
    match run(base.trim_end_matches('/'), agent).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("autobahn_client: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(base: &str, agent: &str) -> Result<(), String> {
    let options = options();
    let count = case_count(base, &options).await?;
    eprintln!("autobahn_client: {count} cases");
    let mut failed = Vec::new();
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        match connect_with(&url, &options).await {
            Ok((ws, _)) => echo(ws).await,
            Err(error) => {
                eprintln!("case {case}: cannot connect: {error}");
                failed.push(case);
            }
        }
    }
    let url = format!("{base}/updateReports?agent={agent}");
    let (mut ws, _) = connect_with(&url, &options)
        .await
        .map_err(|e| format!("cannot update the reports: {e}"))?;
    // The fuzzer closes once the reports are written.
    while ws.recv().await.is_some() {}
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("could not connect for cases {failed:?}"))
    }
}

async fn case_count(base: &str, options: &ClientOptions) -> Result<u32, String> {
    let url = format!("{base}/getCaseCount");
    let (mut ws, _) = connect_with(&url, options)
        .await
        .map_err(|e| format!("cannot ask for the case count: {e}"))?;
    let count = match ws.recv().await {
        Some(Ok(Message::Text(text))) => text
            .as_str()
            .trim()
            .parse()
            .map_err(|_| format!("case count {:?} is not a number", text.as_str()))?,
        other => return Err(format!("expected the case count, got {other:?}")),
    };
    let _ = ws.close(CloseCode::NORMAL, "").await;
    let _ = ws.closed().await;
    Ok(count)
}

/// Echoes until the connection ends, however it ends.
async fn echo<S>(mut ws: switchyard::WebSocket<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // An error ends the stream (the next recv is None): the fuzzer breaking the protocol,
    // or dropping the connection, is what the cases test.
    while let Some(message) = ws.recv().await {
        if let Ok(message) = message {
            // A refused send means the connection is closing; recv finishes it.
            drop(ws.send(message).await);
        }
    }
}
