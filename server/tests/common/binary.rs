//! The `switchyard` binary as a child process, and raw HTTP against it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// A running `switchyard`, killed if the test ends without stopping it.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    /// Whether it said `https://` (it serves TLS).
    pub secure: bool,
    /// Its log lines so far, if started with [`Server::start_logged`].
    logs: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the binary on a free loopback port with `args`.
    pub async fn start(args: &[&str]) -> Server {
        Server::spawn(args, false).await
    }

    /// [`Server::start`], keeping its log (at `info`) for [`Server::wait_for_log`].
    pub async fn start_logged(args: &[&str]) -> Server {
        Server::spawn(args, true).await
    }

    /// [`Server::start`] with the process allowed onto `cpus` alone (a `taskset -c` list).
    pub async fn start_pinned(cpus: &str, args: &[&str]) -> Server {
        let mut command = Command::new("taskset");
        command.args(["-c", cpus, env!("CARGO_BIN_EXE_switchyard")]);
        Server::spawn_with(command, args, false).await
    }

    async fn spawn(args: &[&str], logged: bool) -> Server {
        let command = Command::new(env!("CARGO_BIN_EXE_switchyard"));
        Server::spawn_with(command, args, logged).await
    }

    /// Runs `command` (the binary, or a launcher that execs it) with `args`.
    async fn spawn_with(mut command: Command, args: &[&str], logged: bool) -> Server {
        let mut child = command
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", if logged { "info" } else { "warn" })
            // The binary tunes glibc's malloc only when the environment does not already
            // (`server/src/malloc.rs`): the tests run it as shipped, whatever the caller set.
            .env_remove("GLIBC_TUNABLES")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(if logged {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .kill_on_drop(true)
            .spawn()
            .expect("the switchyard binary starts");
        let logs = Arc::new(Mutex::new(Vec::new()));
        if let Some(stderr) = child.stderr.take() {
            let logs = Arc::clone(&logs);
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    logs.lock().unwrap().push(line);
                }
            });
        }
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        // Bounded: a binary that stalls before saying where it listens fails the test rather
        // than hanging it.
        let mut stdout = BufReader::new(stdout);
        let first = stdout.read_line(&mut line);
        tokio::time::timeout(std::time::Duration::from_secs(30), first)
            .await
            .expect("the binary printed where it listens within 30 s")
            .unwrap();
        let rest = line.trim().strip_prefix("switchyard listening on ");
        let (secure, addr) = match rest.and_then(|r| r.split_once("://")) {
            Some(("http", addr)) => (false, addr),
            Some(("https", addr)) => (true, addr),
            _ => panic!("unexpected first line: {line:?}"),
        };
        let addr = addr.parse().unwrap();
        Server {
            child,
            addr,
            secure,
            logs,
        }
    }

    /// Waits up to 10 s for a log line containing `text`, and returns it.
    pub async fn wait_for_log(&self, text: &str) -> String {
        for _ in 0..200 {
            if let Some(line) = self.logs.lock().unwrap().iter().find(|l| l.contains(text)) {
                return line.clone();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "no log line with {text:?} in {:#?}",
            self.logs.lock().unwrap()
        );
    }

    /// Sends `signal` (a `kill` name such as `HUP`) to this child, and only it.
    pub async fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .await
            .unwrap();
        assert!(status.success());
    }

    pub fn url(&self, path: &str) -> String {
        let scheme = if self.secure { "wss" } else { "ws" };
        format!("{scheme}://{}{path}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("still running")
    }

    /// Sends SIGTERM to this child (and only it).
    pub async fn terminate(&self) {
        self.signal("TERM").await;
    }

    pub async fn wait(&mut self) -> ExitStatus {
        self.child.wait().await.unwrap()
    }

    /// How many threads the process runs (Linux).
    pub fn threads(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.pid()))
            .unwrap()
            .count()
    }

    /// Resident memory of the process in KiB (Linux).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

/// How a `switchyard` that was meant to refuse to start ended: its exit status and what it
/// wrote to stderr. Fails the test if it runs longer than 10 s.
pub async fn run_to_exit(args: &[&str]) -> (ExitStatus, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the switchyard binary starts");
    let output = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("switchyard exits")
        .unwrap();
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A response read to EOF: status, head, body.
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }
}

/// Sends `request` as is and reads the response until the server closes.
pub async fn http(addr: SocketAddr, request: &[u8]) -> Response {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request).await.unwrap();
    read_response(&mut tcp).await
}

pub async fn read_response(tcp: &mut TcpStream) -> Response {
    let mut bytes = Vec::new();
    tcp.read_to_end(&mut bytes).await.unwrap();
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(&bytes)));
    let head = String::from_utf8(bytes[..split].to_vec()).unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Response {
        status,
        head,
        body: bytes[split + 4..].to_vec(),
    }
}

/// A GET for `path` with `headers` (each `Name: value`).
pub fn get(path: &str, headers: &[&str]) -> Vec<u8> {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n");
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.into_bytes()
}

/// The headers of a valid upgrade request, for `get`.
pub const UPGRADE: [&str; 4] = [
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
];

/// A fresh directory under the system's temporary directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("switchyard-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn write(&self, relative: &str, contents: &[u8]) {
        let path = self.0.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
