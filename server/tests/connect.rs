//! `switchyard connect` as a child process, stdin piped: round trips against our server and
//! against Python websockets, `--jsonl`, each exit status, and proxies (tinyproxy and dante
//! started on loopback, given with --proxy and from the environment).

mod common;
#[path = "../../switchyard/tests/common/proxies.rs"]
mod proxies;

use std::path::PathBuf;
use std::process::Stdio;

use common::binary::Server;
use common::*;
use proxies::ProxyServer;
use switchyard::accept;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// The proxy variables a test must not inherit from the machine.
const PROXY_VARS: [&str; 8] = [
    "http_proxy",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
    "HTTP_PROXY",
];

struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    fn stdout(&self) -> String {
        String::from_utf8(self.stdout.clone()).unwrap()
    }
}

/// Runs `switchyard connect ARGS` with `stdin` piped in (then EOF) and `env` added to a
/// proxy-free environment.
async fn connect(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Run {
    run(args, stdin, env, false).await
}

/// [`connect`] with stdin left open after `stdin`: for a server that ends the connection
/// itself, which an EOF's close would otherwise race.
async fn connect_held(args: &[&str], stdin: &[u8]) -> Run {
    run(args, stdin, &[], true).await
}

async fn run(args: &[&str], stdin: &[u8], env: &[(&str, &str)], hold: bool) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    command.arg("connect").args(args);
    for var in PROXY_VARS {
        command.env_remove(var);
    }
    command.envs(env.iter().copied());
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the switchyard binary starts");
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let (done, exited) = tokio::sync::oneshot::channel::<()>();
    // Written from a task: a large input must not block reading the output.
    tokio::spawn(async move {
        let _ = input.write_all(&stdin).await;
        if hold {
            let _ = exited.await;
        }
    });
    let output = within(30, child.wait_with_output()).await.unwrap();
    drop(done);
    Run {
        code: output.status.code().expect("exited, not killed"),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[tokio::test]
async fn piped_text_lines_round_trip_through_our_server() {
    let server = Server::start(&[]).await;
    let run = connect(&[&server.url("/echo")], b"hello\n\nwith crlf\r\nlast", &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout(), "hello\n\nwith crlf\nlast\n");
    assert!(run.stderr.contains("closed: 1000"), "{}", run.stderr);
}

#[tokio::test]
async fn a_line_that_is_not_utf8_is_refused_and_the_rest_sent() {
    let server = Server::start(&[]).await;
    let run = connect(&[&server.url("/echo")], b"a\xff\nb\n", &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout(), "b\n");
    assert!(run.stderr.contains("not UTF-8"), "{}", run.stderr);
}

#[tokio::test]
async fn binary_stdin_goes_in_chunks_and_prints_as_hex_base64_or_raw() {
    let server = Server::start(&[]).await;
    let url = server.url("/echo");
    let data = pattern(100_000);
    let run = connect(
        &["--binary", "--chunk", "40000", "--binary-as", "raw", &url],
        &data,
        &[],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, data);
    let run = connect(&["--binary", "--chunk", "2", &url], &[0, 0xab, 0xff], &[]).await;
    assert_eq!(run.stdout(), "00ab\nff\n");
    let run = connect(
        &["--binary", "--binary-as", "base64", &url],
        &[1, 2, 255],
        &[],
    )
    .await;
    assert_eq!(run.stdout(), "AQL/\n");
}

#[tokio::test]
async fn jsonl_prints_one_object_per_event() {
    let server = Server::start(&[]).await;
    let run = connect(&["--jsonl", &server.url("/echo")], b"h\xc3\xa9\n", &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<serde_json::Value> = run
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            serde_json::json!({"type": "text", "len": 3, "text": "hé"}),
            serde_json::json!({"type": "close", "code": 1000, "reason": ""}),
        ]
    );
    let run = connect(
        &["--jsonl", "--binary", &server.url("/echo")],
        b"\x00\x01",
        &[],
    )
    .await;
    let first: serde_json::Value =
        serde_json::from_str(run.stdout().lines().next().unwrap()).unwrap();
    assert_eq!(
        first,
        serde_json::json!({"type": "binary", "len": 2, "base64": "AAE="})
    );
}

/// Python websockets' echo server (`switchyard/tests/peers/websockets_peer.py server`); its
/// first message names the extensions it agreed to.
async fn python_server() -> (tokio::process::Child, u16) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../switchyard/tests/peers/websockets_peer.py");
    let mut child = Command::new(peers_python())
        .arg(script)
        .arg("server")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .await
        .unwrap();
    let port = line.trim().strip_prefix("PORT ").unwrap().parse().unwrap();
    (child, port)
}

/// Sends each line and reads its echo before the next: a server that, like websockets, may
/// drop an echo it owes once the close arrives sees the EOF only after the last answer.
async fn lines_in_turn(args: &[&str], lines: &[&str]) -> (i32, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("connect")
        .args(args)
        .env_remove("http_proxy")
        .env_remove("all_proxy")
        .env_remove("ALL_PROXY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    // The server's greeting first.
    let mut received = vec![within(10, stdout.next_line()).await.unwrap().unwrap()];
    for line in lines {
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        received.push(within(10, stdout.next_line()).await.unwrap().unwrap());
    }
    drop(stdin);
    let status = within(10, child.wait()).await.unwrap();
    (status.code().unwrap(), received)
}

#[tokio::test]
async fn round_trips_against_python_websockets_with_deflate_offered_by_default() {
    let (_python, port) = python_server().await;
    let url = format!("ws://127.0.0.1:{port}/");
    let text = "compressible ".repeat(1000);
    let (code, received) = lines_in_turn(&[&url], &[&text, "", "second"]).await;
    assert_eq!(code, 0);
    let greeting: serde_json::Value = serde_json::from_str(&received[0]).unwrap();
    assert!(
        greeting["extensions"]
            .as_str()
            .unwrap()
            .starts_with("permessage-deflate"),
        "{greeting}"
    );
    assert_eq!(&received[1..], [text.as_str(), "", "second"]);
    let (code, received) = lines_in_turn(&["--no-deflate", "--jsonl", &url], &["x"]).await;
    assert_eq!(code, 0);
    assert_eq!(
        received[0],
        r#"{"len":20,"text":"{\"extensions\": null}","type":"text"}"#
    );
    assert_eq!(received[1], r#"{"len":1,"text":"x","type":"text"}"#);
}

#[tokio::test]
async fn exit_statuses_say_how_it_ended() {
    let server = Server::start(&[]).await;
    // 1: nothing listens there.
    let (closed, addr) = listener().await;
    drop(closed);
    let run = connect(&[&format!("ws://{addr}/")], b"", &[]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("cannot reach the server"),
        "{}",
        run.stderr
    );
    // 2: usage.
    for args in [
        &["-H", "Sec-WebSocket-Key: x", "ws://h/"][..],
        &["http://h/"],
        &["--proxy", "ftp://p", "ws://h/"],
        &["--chunk", "0", "ws://h/"],
    ] {
        let run = connect(args, b"", &[]).await;
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
    }
    // A refused --proxy is named, its URL (which may hold a password) is not repeated.
    let run = connect(&["--proxy", "ftp://u:s3cret@p", "ws://h/"], b"", &[]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--proxy"), "{}", run.stderr);
    assert!(!run.stderr.contains("s3cret"), "{}", run.stderr);
    let run = connect(&["ws://h/"], b"", &[("HTTPS_PROXY", "ftp://p")]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("HTTPS_PROXY"), "{}", run.stderr);
    // 3: the server refused the upgrade.
    let run = connect(&[&server.url("/nowhere")], b"", &[]).await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("HTTP 404: not found\n"),
        "{}",
        run.stderr
    );
    // 4: /chat closes a binary message with 1003.
    let run = connect_held(&["--binary", &server.url("/chat/room")], b"\x01").await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("1003"), "{}", run.stderr);
    // 5: an echo larger than --max-message-size: closed 1009.
    let run = connect(
        &["--max-message-size", "10", &server.url("/echo")],
        b"more than ten\n",
        &[],
    )
    .await;
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(run.stderr.contains("1009"), "{}", run.stderr);
    // 6: a server that accepts the TCP connection and never answers.
    let (silent, addr) = listener().await;
    let run = connect(&["--timeout", "300ms", &format!("ws://{addr}/")], b"", &[]).await;
    assert_eq!(run.code, 6, "{}", run.stderr);
    drop(silent);
}

#[tokio::test]
async fn a_connection_dropped_without_a_close_is_1006_exit_4() {
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let (mut ws, _) = accept(tcp).await.unwrap();
        ws.send(text_message("bye")).await.unwrap();
        // Dropped: the TCP connection ends with no close frame.
    });
    let run = connect_held(&[&format!("ws://{addr}/")], b"").await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert_eq!(run.stdout(), "bye\n");
    assert!(run.stderr.contains("1006"), "{}", run.stderr);
}

#[tokio::test]
async fn through_http_and_socks_proxies_given_or_from_the_environment() {
    let server = Server::start(&[]).await;
    let url = server.url("/echo");
    let http = ProxyServer::tinyproxy("cli", Some(("u", "p")), &[]);
    let socks = ProxyServer::dante("cli", false, 9);
    for proxy in [http.url("http", Some("u:p")), socks.url("socks5h", None)] {
        let run = connect(&["--proxy", &proxy, &url], b"via proxy\n", &[]).await;
        assert_eq!(
            (run.code, run.stdout().as_str()),
            (0, "via proxy\n"),
            "{}",
            run.stderr
        );
    }
    assert!(http.tunnelled_to(server.addr.port()) && socks.tunnelled_to(server.addr.port()));
    // http_proxy applies to ws://; --no-proxy ignores it; no_proxy exempts the host.
    let nothing = "http://127.0.0.1:9";
    let run = connect(&[&url], b"env\n", &[("http_proxy", nothing)]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("cannot reach the proxy"),
        "{}",
        run.stderr
    );
    let run = connect(&["--no-proxy", &url], b"env\n", &[("http_proxy", nothing)]).await;
    assert_eq!(
        (run.code, run.stdout().as_str()),
        (0, "env\n"),
        "{}",
        run.stderr
    );
    let env = [("all_proxy", nothing), ("no_proxy", "127.0.0.0/8")];
    let run = connect(&[&url], b"exempt\n", &env).await;
    assert_eq!(
        (run.code, run.stdout().as_str()),
        (0, "exempt\n"),
        "{}",
        run.stderr
    );
    // A proxy that refuses: its status, exit 1.
    let run = connect(&["--proxy", &http.url("http", None), &url], b"", &[]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("requires authentication"),
        "{}",
        run.stderr
    );
    let run = connect(
        &["--proxy", &socks.url("socks5", None), "ws://127.0.0.1:9/"],
        b"",
        &[],
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("not allowed by ruleset"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn show_handshake_prints_the_heads_inspect_saw_with_the_options_in_them() {
    let server = Server::start(&[]).await;
    let origin = format!("http://{}", server.addr);
    let args = [
        "--show-handshake",
        "--jsonl",
        "-H",
        "X-Trace: 7",
        "--origin",
        &origin,
        "--protocol",
        "chat",
        "--protocol",
        "other",
        &server.url("/inspect"),
    ];
    let run = connect(&args, b"", &[]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let first: serde_json::Value =
        serde_json::from_str(run.stdout().lines().next().unwrap()).unwrap();
    let inspected: serde_json::Value =
        serde_json::from_str(first["text"].as_str().unwrap()).unwrap();
    // The heads, rebuilt from the lines printed.
    let head = |prefix: &str| {
        let lines: Vec<&str> = run
            .stderr
            .lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .collect();
        format!("{}\r\n", lines.join("\r\n"))
    };
    assert_eq!(head("> "), inspected["request"].as_str().unwrap());
    assert_eq!(head("< "), inspected["response"].as_str().unwrap());
    let request = head("> ");
    for field in [
        "X-Trace: 7\r\n".to_owned(),
        format!("Origin: {origin}\r\n"),
        "Sec-WebSocket-Protocol: chat, other\r\n".to_owned(),
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n".to_owned(),
    ] {
        assert!(request.contains(&field), "{field:?} not in {request}");
    }
    assert!(
        run.stderr.contains("Sec-WebSocket-Accept verified"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn wss_with_the_ca_file_or_insecure_and_over_http2() {
    let server = Server::start_logged(&["--tls-self-signed"]).await;
    let line = server.wait_for_log("self-signed certificate").await;
    let ca = line
        .split_whitespace()
        .find_map(|field| field.strip_prefix("cert="))
        .unwrap_or_else(|| panic!("no cert= in {line}"))
        .to_owned();
    let url = format!("wss://localhost:{}/echo", server.addr.port());
    // Not trusted by the system: a TLS failure, exit 1, with the reason.
    let run = connect(&[&url], b"x\n", &[]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("certificate"), "{}", run.stderr);
    let run = connect(&["--ca-file", &ca, &url], b"trusted\n", &[]).await;
    assert_eq!(
        (run.code, run.stdout().as_str()),
        (0, "trusted\n"),
        "{}",
        run.stderr
    );
    let run = connect(&["--insecure", &url], b"unchecked\n", &[]).await;
    assert_eq!(
        (run.code, run.stdout().as_str()),
        (0, "unchecked\n"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("WARNING: --insecure"), "{}", run.stderr);
    // Over HTTP/2: the handshake shows the extended CONNECT's fields and the answer's.
    let args = ["--ca-file", &ca, "--http2", "--show-handshake", &url];
    let run = connect(&args, b"over h2\n", &[]).await;
    assert_eq!(
        (run.code, run.stdout().as_str()),
        (0, "over h2\n"),
        "{}",
        run.stderr
    );
    for line in [
        "> :method: CONNECT\n",
        "> :protocol: websocket\n",
        "> :path: /echo\n",
        "> sec-websocket-version: 13\n",
        "< :status: 200\n",
    ] {
        assert!(run.stderr.contains(line), "{line:?} not in {}", run.stderr);
    }
}

#[tokio::test]
async fn a_server_that_stops_answering_pings_is_a_timeout() {
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        // Accepted, then never read again: no pong for the client's ping.
        let (ws, _) = accept(tcp).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_secs(20)).await;
        drop(ws);
    });
    let args = ["--ping-interval", "200ms", &format!("ws://{addr}/")];
    let run = connect_held(&args, b"").await;
    assert_eq!(run.code, 6, "{}", run.stderr);
    assert!(
        run.stderr.contains("stopped answering pings"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn jsonl_reports_the_servers_pings() {
    let server = Server::start(&["--keepalive-interval", "100ms"]).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["connect", "--no-proxy", "--jsonl", &server.url("/echo")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = within(10, stdout.next_line()).await.unwrap().unwrap();
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["type"], "ping", "{line}");
    assert_eq!(
        event["len"],
        event["base64"].as_str().unwrap().len() * 3 / 4
    );
}
