//! What `switchyard connect` reads from stdin: lines of text, binary chunks, and on a
//! terminal the `/` commands. Read on a thread of its own (stdin blocks), handed over a
//! channel.

use std::io::{BufRead, Read};

use switchyard::CloseCode;
use tokio::sync::mpsc;

/// One thing read from stdin.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Input {
    /// A text message to send.
    Text(String),
    /// A binary message to send (a `--binary` chunk, or `/binary`).
    Binary(Vec<u8>),
    /// A line that is not UTF-8: refused, nothing sent.
    NotUtf8,
    /// A `/` command typed on a terminal.
    Command(Command),
}

/// The interactive commands.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Command {
    Ping(Vec<u8>),
    Close(CloseCode, String),
    Quit,
    Help,
    /// A command that cannot be run, and why.
    Invalid(String),
}

pub(crate) const HELP: &str = "\
/ping [data]            send a ping
/close [code [reason]]  start the closing handshake (default 1000)
/binary HEX             send a binary message
/quit                   close with 1000 and wait for the server's close
/help                   this list
//text                  send the text message /text";

/// Reads stdin until EOF on a thread, sending what it reads; the channel closing is EOF.
pub(crate) fn spawn_reader(binary: bool, chunk: usize, interactive: bool) -> mpsc::Receiver<Input> {
    let (tx, rx) = mpsc::channel(4);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut stdin = stdin.lock();
        if binary {
            // Each read is one message: what a pipe has ready, up to `chunk` bytes, so a
            // stream that pauses is sent as it comes.
            let mut buf = vec![0; chunk];
            loop {
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if tx.blocking_send(Input::Binary(buf[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                }
            }
        }
        let mut line = Vec::new();
        loop {
            line.clear();
            match stdin.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    if tx.blocking_send(parse_line(&line, interactive)).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

/// A line as read (its LF or CRLF included, if any).
pub(crate) fn parse_line(line: &[u8], interactive: bool) -> Input {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Ok(text) = std::str::from_utf8(line) else {
        return Input::NotUtf8;
    };
    if !interactive {
        return Input::Text(text.to_owned());
    }
    if let Some(escaped) = text.strip_prefix("//") {
        return Input::Text(format!("/{escaped}"));
    }
    let Some(command) = text.strip_prefix('/') else {
        return Input::Text(text.to_owned());
    };
    let (name, rest) = command.split_once(' ').unwrap_or((command, ""));
    Input::Command(match name {
        "ping" => Command::Ping(rest.as_bytes().to_vec()),
        "binary" => match super::output::unhex(rest) {
            Some(bytes) => return Input::Binary(bytes),
            None => Command::Invalid("/binary takes hex digits, two a byte".into()),
        },
        "close" => close(rest),
        "quit" => Command::Quit,
        "help" => Command::Help,
        _ => Command::Invalid(format!("no command /{name}: /help lists them")),
    })
}

fn close(rest: &str) -> Command {
    let rest = rest.trim_start();
    if rest.is_empty() {
        return Command::Close(CloseCode::NORMAL, String::new());
    }
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    match code.parse::<u16>().map(CloseCode::new) {
        // RFC 6455 §7.4: only some codes may be sent in a close frame.
        Ok(code) if code.is_sendable() => Command::Close(code, reason.to_owned()),
        _ => Command::Invalid(format!("{code} is not a close code an endpoint may send")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_lose_their_ending_and_non_utf8_is_refused() {
        assert_eq!(parse_line(b"hi\r\n", false), Input::Text("hi".into()));
        assert_eq!(parse_line(b"\n", false), Input::Text(String::new()));
        assert_eq!(parse_line(b"last", false), Input::Text("last".into()));
        assert_eq!(parse_line(b"\xff\xfe\n", false), Input::NotUtf8);
        assert_eq!(parse_line(b"/ping\n", false), Input::Text("/ping".into()));
    }

    #[test]
    fn commands_on_a_terminal() {
        let command = |line: &str| parse_line(line.as_bytes(), true);
        assert_eq!(
            command("/ping hello"),
            Input::Command(Command::Ping(b"hello".to_vec()))
        );
        assert_eq!(command("/ping"), Input::Command(Command::Ping(vec![])));
        assert_eq!(
            command("/close"),
            Input::Command(Command::Close(CloseCode::NORMAL, String::new()))
        );
        assert_eq!(
            command("/close 4000 bye now"),
            Input::Command(Command::Close(CloseCode::new(4000), "bye now".into()))
        );
        assert_eq!(command("/binary 00ff"), Input::Binary(vec![0, 0xff]));
        assert_eq!(command("//etc"), Input::Text("/etc".into()));
        assert_eq!(command("/quit"), Input::Command(Command::Quit));
        assert_eq!(command("/help"), Input::Command(Command::Help));
        for bad in ["/close 1006", "/close x", "/binary 0", "/nope"] {
            assert!(
                matches!(command(bad), Input::Command(Command::Invalid(_))),
                "{bad}"
            );
        }
    }
}
