//! Real proxy servers from Debian, each of the test's own: tinyproxy (HTTP CONNECT) and dante
//! (SOCKS5) on a free loopback port, configured by a file in a fresh directory, stopped by
//! their PID when dropped. A missing binary fails the test: `scripts/tools.sh proxies`
//! installs them.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A proxy server process and its directory.
pub struct ProxyServer {
    child: Child,
    dir: PathBuf,
    pub port: u16,
}

impl ProxyServer {
    /// tinyproxy, answering CONNECT for 127.0.0.1 to the `connect_ports` given (every port
    /// if empty), with basic auth if `credentials` are given.
    pub fn tinyproxy(name: &str, credentials: Option<(&str, &str)>, connect_ports: &[u16]) -> Self {
        ProxyServer::start(Kind::Http, name, |dir, port| {
            let mut config = format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 50\nAllow 127.0.0.1\n\
                 LogLevel Info\nLogfile \"{}\"\n",
                dir.join("log").display()
            );
            if let Some((user, password)) = credentials {
                config.push_str(&format!("BasicAuth {user} {password}\n"));
            }
            for p in connect_ports {
                config.push_str(&format!("ConnectPort {p}\n"));
            }
            std::fs::write(dir.join("tinyproxy.conf"), config).unwrap();
            Command::new("tinyproxy")
                .arg("-d")
                .arg("-c")
                .arg(dir.join("tinyproxy.conf"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("tinyproxy is not installed: run scripts/tools.sh proxies")
        })
    }

    /// dante, with username/password checked against the system's accounts if
    /// `with_password`, refusing (by rule) connections to 127.0.0.1 port `blocked_port`.
    pub fn dante(name: &str, with_password: bool, blocked_port: u16) -> Self {
        let method = if with_password { "username" } else { "none" };
        ProxyServer::start(Kind::Socks, name, |dir, port| {
            let config = format!(
                "logoutput: {log}\ninternal: 127.0.0.1 port = {port}\nexternal: 127.0.0.1\n\
                 clientmethod: none\nsocksmethod: {method}\n\
                 user.privileged: root\nuser.unprivileged: nobody\n\
                 client pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 }}\n\
                 socks block {{ from: 0.0.0.0/0 to: 127.0.0.1/32 port = {blocked_port} }}\n\
                 socks pass {{ from: 127.0.0.0/8 to: 0.0.0.0/0 command: connect\n log: connect }}\n",
                log = dir.join("log").display()
            );
            std::fs::write(dir.join("danted.conf"), config).unwrap();
            Command::new("danted")
                .arg("-f")
                .arg(dir.join("danted.conf"))
                .arg("-p")
                .arg(dir.join("danted.pid"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("danted is not installed: run scripts/tools.sh proxies")
        })
    }

    /// Starts a proxy with `launch(dir, port)` on a free port and waits until that port
    /// answers as the proxy. The port is found free and released before the proxy binds it,
    /// so another test's listener can take it in between: the proxy then exits (its bind
    /// fails) while the port answers for someone else, and a tunnel through it is refused
    /// once that listener closes. So the wait asks who answers (`Kind::answers`), and a proxy
    /// that exited is started again on another port.
    fn start(kind: Kind, name: &str, launch: impl Fn(&Path, u16) -> Child) -> Self {
        let dir =
            std::env::temp_dir().join(format!("switchyard-{kind:?}-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        for _ in 0..5 {
            let port = free_port();
            let mut child = launch(&dir, port);
            loop {
                if kind.answers(port) {
                    return ProxyServer { child, dir, port };
                }
                if let Ok(Some(status)) = child.try_wait() {
                    let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
                    eprintln!("{kind:?} proxy on port {port} exited ({status}): {log}");
                    break;
                }
                if Instant::now() > deadline {
                    drop(ProxyServer { child, dir, port });
                    panic!("the {kind:?} proxy did not start on port {port}");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("the {kind:?} proxy exited five times");
    }

    /// Whether the proxy's log shows a tunnel to `port` on loopback (tinyproxy logs the
    /// request line, `CONNECT host:port`; dante its pass, `-> … 127.0.0.1.port`).
    pub fn tunnelled_to(&self, port: u16) -> bool {
        let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
        log.lines().any(|line| {
            (line.contains("CONNECT ") && line.contains(&format!(":{port} HTTP/1.1")))
                || (line.contains("tcp/connect") && line.ends_with(&format!("127.0.0.1.{port}")))
        })
    }

    /// `scheme://[userinfo@]127.0.0.1:port`.
    pub fn url(&self, scheme: &str, userinfo: Option<&str>) -> String {
        match userinfo {
            Some(userinfo) => format!("{scheme}://{userinfo}@127.0.0.1:{}", self.port),
            None => format!("{scheme}://127.0.0.1:{}", self.port),
        }
    }
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        // SIGTERM, not SIGKILL: dante's mother process then takes its children down too.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A free loopback port (bound, read and released: the proxy binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Which protocol a proxy speaks.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Http,
    Socks,
}

impl Kind {
    /// Whether `port` answers as this kind of proxy: tinyproxy names itself in the `Server`
    /// field of its answer to a request it refuses; a SOCKS5 server answers a greeting that
    /// offers "no authentication" and "username/password" with version 5 and its choice
    /// (RFC 1928 §3). An echo server that took the port answers neither.
    fn answers(self, port: u16) -> bool {
        use std::io::{Read, Write};
        let Ok(mut probe) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return false;
        };
        let _ = probe.set_read_timeout(Some(Duration::from_secs(1)));
        let question: &[u8] = match self {
            Kind::Http => b"GET / HTTP/1.0\r\n\r\n",
            Kind::Socks => &[5, 2, 0, 2],
        };
        if probe.write_all(question).is_err() {
            return false;
        }
        let mut answer = Vec::new();
        let mut chunk = [0; 512];
        while let Ok(n @ 1..) = probe.read(&mut chunk) {
            answer.extend_from_slice(&chunk[..n]);
            if matches!(self, Kind::Socks) && answer.len() >= 2 {
                break;
            }
            if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        match self {
            Kind::Http => String::from_utf8_lossy(&answer).contains("\r\nServer: tinyproxy"),
            Kind::Socks => answer.len() == 2 && answer[0] == 5,
        }
    }
}

/// A throwaway system account (dante checks SOCKS passwords against them), removed when
/// dropped. Needs root, as the tests run.
pub struct SystemUser {
    pub name: String,
    pub password: String,
}

impl SystemUser {
    pub fn add(tag: &str) -> SystemUser {
        let name = format!("sy{tag}{}", std::process::id());
        let password = format!("pw-{}", std::process::id());
        let _ = Command::new("userdel").arg(&name).status();
        let status = Command::new("useradd")
            .args(["-M", "-s", "/usr/sbin/nologin", &name])
            .status()
            .expect("useradd is missing");
        assert!(status.success(), "useradd {name} failed (not root?)");
        let user = SystemUser { name, password };
        let mut chpasswd = Command::new("chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .expect("chpasswd is missing");
        use std::io::Write;
        writeln!(
            chpasswd.stdin.take().unwrap(),
            "{}:{}",
            user.name,
            user.password
        )
        .unwrap();
        assert!(chpasswd.wait().unwrap().success());
        user
    }
}

impl Drop for SystemUser {
    fn drop(&mut self) {
        let _ = Command::new("userdel").arg(&self.name).status();
    }
}
