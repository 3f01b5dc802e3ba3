//! `switchyard connect` on a terminal: a session inside `tmux` (its own server socket),
//! driven with send-keys and read with capture-pane; and SIGINT in a pipe. A missing tmux
//! fails the test: `scripts/tools.sh proxies` installs it.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::binary::Server;
use common::*;
use tokio::io::AsyncBufReadExt;

/// A tmux server of the test's own (`-L`), killed when dropped, running one command.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(name: &str, command: &str) -> Tmux {
        let tmux = Tmux {
            socket: format!("switchyard-{name}-{}", std::process::id()),
        };
        let status = tmux
            .command()
            .args([
                "new-session",
                "-d",
                "-s",
                "t",
                "-x",
                "200",
                "-y",
                "50",
                command,
            ])
            .status()
            .expect("tmux is not installed: run scripts/tools.sh proxies");
        assert!(status.success());
        tmux
    }

    fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command
            .args(["-L", &self.socket])
            .stdin(Stdio::null())
            .stderr(Stdio::null());
        command
    }

    /// Types `keys` and Enter.
    fn type_line(&self, keys: &str) {
        let status = self
            .command()
            .args(["send-keys", "-t", "t", "-l", keys])
            .status()
            .unwrap();
        assert!(status.success());
        let status = self
            .command()
            .args(["send-keys", "-t", "t", "Enter"])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn screen(&self) -> String {
        let output = self
            .command()
            .args(["capture-pane", "-p", "-t", "t"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Waits up to 10 s until the screen holds `text` `times` times, and returns it.
    fn wait_for(&self, text: &str, times: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let screen = self.screen();
            if screen.matches(text).count() >= times {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "{text:?} x{times} not on screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.command().arg("kill-server").status();
    }
}

/// The command tmux runs: the client, then its exit status, kept on screen.
fn session(url: &str) -> String {
    format!(
        "{} connect --no-proxy {url} ; echo EXIT=$? ; sleep 60",
        env!("CARGO_BIN_EXE_switchyard")
    )
}

#[tokio::test]
async fn an_interactive_session_sends_lines_pings_binary_and_closes() {
    let server = Server::start(&[]).await;
    let tmux = Tmux::start("session", &session(&server.url("/echo")));
    tmux.wait_for("/help lists the commands", 1);
    // Typed, then echoed: twice on screen.
    tmux.type_line("hello there");
    tmux.wait_for("hello there", 2);
    tmux.type_line("/ping abc");
    tmux.wait_for("pong (3 bytes): abc", 1);
    // A ping payload over 125 bytes is refused, and the session goes on.
    tmux.type_line(&format!("/ping {}", "p".repeat(126)));
    tmux.wait_for("not sent", 1);
    tmux.type_line("still here");
    tmux.wait_for("still here", 2);
    tmux.type_line("/binary 00 ff 10");
    tmux.wait_for("00ff10", 1);
    tmux.type_line("//slash");
    tmux.wait_for("\n/slash", 1);
    tmux.type_line("/help");
    tmux.wait_for("/close [code [reason]]", 1);
    tmux.type_line("/nope");
    tmux.wait_for("no command /nope", 1);
    tmux.type_line("/close");
    let screen = tmux.wait_for("EXIT=", 1);
    assert!(screen.contains("closed: 1000"), "{screen}");
    assert!(screen.contains("EXIT=0"), "{screen}");
}

#[tokio::test]
async fn close_with_a_code_reports_it_and_exits_4() {
    let server = Server::start(&[]).await;
    let tmux = Tmux::start("close", &session(&server.url("/echo")));
    tmux.wait_for("/help lists the commands", 1);
    tmux.type_line("/close 4001 going");
    let screen = tmux.wait_for("EXIT=", 1);
    assert!(screen.contains("closed abnormally: 4001"), "{screen}");
    assert!(screen.contains("EXIT=4"), "{screen}");
}

#[tokio::test]
async fn quit_closes_with_1000_and_exits_0() {
    let server = Server::start(&[]).await;
    let tmux = Tmux::start("quit", &session(&server.url("/echo")));
    tmux.wait_for("/help lists the commands", 1);
    tmux.type_line("/quit");
    let screen = tmux.wait_for("EXIT=", 1);
    assert!(screen.contains("closed: 1000"), "{screen}");
    assert!(screen.contains("EXIT=0"), "{screen}");
}

#[tokio::test]
async fn sigint_closes_with_1000_and_waits_for_the_answer() {
    let server = Server::start(&[]).await;
    let (code, stderr, _) = interrupted(&[], &server.url("/echo"), b"x\n", 1).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("closed: 1000"), "{stderr}");
}

/// A server that accepts, then never reads again: a close sent to it is never answered.
async fn deaf_server() -> std::net::SocketAddr {
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let (ws, _) = switchyard::accept(tcp).await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(ws);
    });
    addr
}

/// Runs the client against `url` with `args`, stdin held open after `stdin`; once it is
/// open (the handshake it prints comes after SIGINT is watched), sends it `sigints` SIGINTs
/// 300 ms apart. Returns its exit status, its stderr and how long it ran after the first.
async fn interrupted(
    args: &[&str],
    url: &str,
    stdin: &[u8],
    sigints: usize,
) -> (i32, String, Duration) {
    interrupted_after(args, url, stdin, sigints, Duration::ZERO).await
}

/// [`interrupted`], the first SIGINT `delay` after the connection opened.
async fn interrupted_after(
    args: &[&str],
    url: &str,
    stdin: &[u8],
    sigints: usize,
    delay: Duration,
) -> (i32, String, Duration) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["connect", "--no-proxy", "--show-handshake"])
        .args(args)
        .arg(url)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    // Written from a task, and held open: the client may take a large input slowly, or never.
    let writer = tokio::spawn(async move {
        let _ = tokio::io::AsyncWriteExt::write_all(&mut input, &stdin).await;
        input
    });
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    while !seen.contains("Sec-WebSocket-Accept verified") {
        let line = within(10, stderr.next_line())
            .await
            .unwrap()
            .expect("still running");
        seen.push_str(&line);
        seen.push('\n');
    }
    tokio::time::sleep(delay).await;
    let started = Instant::now();
    let pid = child.id().unwrap().to_string();
    for i in 0..sigints {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        assert!(
            Command::new("kill")
                .args(["-INT", &pid])
                .status()
                .unwrap()
                .success()
        );
    }
    while let Some(line) = within(10, stderr.next_line()).await.unwrap() {
        seen.push_str(&line);
        seen.push('\n');
    }
    let status = within(10, child.wait()).await.unwrap();
    writer.abort();
    (status.code().unwrap(), seen, started.elapsed())
}

#[tokio::test]
async fn an_unanswered_close_ends_at_the_close_timeout_as_1006() {
    let addr = deaf_server().await;
    let (code, stderr, took) = interrupted(
        &["--close-timeout", "300ms"],
        &format!("ws://{addr}/"),
        b"",
        1,
    )
    .await;
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("1006"), "{stderr}");
    assert!(took < Duration::from_secs(4), "{took:?}");
}

#[tokio::test]
async fn a_second_sigint_aborts() {
    let addr = deaf_server().await;
    let (code, stderr, took) = interrupted(
        &["--close-timeout", "20s"],
        &format!("ws://{addr}/"),
        b"",
        2,
    )
    .await;
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("aborted"), "{stderr}");
    assert!(took < Duration::from_secs(4), "{took:?}");
}

/// A send to a server that has stopped reading waits for ever for room: the client still
/// reads and still hears SIGINT meanwhile (the first queues the close behind the send, the
/// second aborts).
#[tokio::test]
async fn sigint_is_heard_while_a_send_waits_for_a_server_that_does_not_read() {
    let addr = deaf_server().await;
    let line = format!("{}\n", "a".repeat(1 << 20));
    let stdin = line.repeat(64);
    // The signals come once the client has filled what the sockets hold and waits.
    let (code, stderr, took) = interrupted_after(
        &["--close-timeout", "20s", "--no-deflate"],
        &format!("ws://{addr}/"),
        stdin.as_bytes(),
        2,
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("aborted"), "{stderr}");
    assert!(took < Duration::from_secs(4), "{took:?}");
}
