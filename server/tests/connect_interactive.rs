//! `switchyard connect` on a terminal: a session inside `tmux` (its own server socket),
//! driven with send-keys and read with capture-pane; and SIGINT in a pipe. A missing tmux
//! fails the test: `scripts/tools.sh proxies` installs it.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::binary::Server;
use common::*;

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
async fn sigint_closes_with_1000_and_waits_for_the_answer() {
    let server = Server::start(&[]).await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["connect", "--no-proxy", &server.url("/echo")])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Open once a line comes back... the pipe stays open: only SIGINT ends the session.
    let mut stdin = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, b"x\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = child.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let output = within(10, child.wait_with_output()).await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("closed: 1000"), "{stderr}");
    drop(stdin);
}
