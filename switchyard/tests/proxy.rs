//! The client through real proxies started on loopback: tinyproxy (HTTP CONNECT, with and
//! without basic auth) and dante (SOCKS5, with and without a password, names resolved here
//! or at the proxy); `wss://` inside each tunnel; each refusal with its typed error; the
//! environment's proxy and `no_proxy`.

mod common;
#[path = "common/proxies.rs"]
mod proxies;
#[path = "common/wss.rs"]
mod wss;

use std::net::SocketAddr;
use std::sync::Arc;

use common::certs::TestCa;
use common::*;
use proxies::{ProxyServer, SystemUser};
use switchyard::proxy::{Proxy, ProxyChoice, ProxyEnv, ProxyError, SocksReply};
use switchyard::{ClientOptions, CloseCode, Config, ConnectError, TlsRoots, connect_with};
use wss::{client_config, tls_echo_server};

/// A `wss://` echo server for `localhost` and `127.0.0.1`, and the roots that trust it.
async fn wss_echo_server() -> (SocketAddr, TlsRoots) {
    let ca = TestCa::new("proxy CA");
    let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
    let addr = tls_echo_server(&leaf).await;
    (addr, TlsRoots::Config(Arc::new(client_config(&ca, &[]))))
}

fn through(proxy: &str) -> ClientOptions {
    ClientOptions::default().with_proxy(ProxyChoice::Always(Proxy::parse(proxy).unwrap()))
}

/// Connects to `url` with `options`, echoes a message and closes cleanly.
async fn echo_through(url: &str, options: &ClientOptions) {
    let (mut ws, response) = connect_with(url, options)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    assert_eq!(response.status().as_u16(), 101);
    let message = binary_message(&pattern(20_000));
    ws.send(message.clone()).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), message);
    ws.close(CloseCode::NORMAL, "done").await.unwrap();
    assert!(ws.closed().await.unwrap().clean);
}

async fn proxy_error(url: &str, options: &ClientOptions) -> ProxyError {
    match connect_with(url, options).await {
        Ok(_) => panic!("{url} connected"),
        Err(ConnectError::Proxy(error)) => error,
        Err(error) => panic!("{url}: not a proxy error: {error:?}"),
    }
}

#[tokio::test]
async fn http_connect_tunnels_ws_and_wss() {
    let proxy = ProxyServer::tinyproxy("open", None, &[]);
    within(30, async {
        let ws = echo_server(Config::default()).await;
        let (wss, roots) = wss_echo_server().await;
        let options = through(&proxy.url("http", None));
        echo_through(&format!("ws://127.0.0.1:{}/", ws.port()), &options).await;
        echo_through(&format!("ws://localhost:{}/", ws.port()), &options).await;
        let options = options.with_tls_roots(roots);
        echo_through(&format!("wss://localhost:{}/", wss.port()), &options).await;
        assert!(proxy.tunnelled_to(ws.port()) && proxy.tunnelled_to(wss.port()));
    })
    .await;
}

#[tokio::test]
async fn http_connect_with_basic_auth() {
    let proxy = ProxyServer::tinyproxy("auth", Some(("alice", "s3cret")), &[]);
    within(30, async {
        let ws = echo_server(Config::default()).await;
        let (wss, roots) = wss_echo_server().await;
        let options = through(&proxy.url("http", Some("alice:s3cret"))).with_tls_roots(roots);
        echo_through(&format!("ws://127.0.0.1:{}/", ws.port()), &options).await;
        echo_through(&format!("wss://localhost:{}/", wss.port()), &options).await;
        let url = format!("ws://127.0.0.1:{}/", ws.port());
        for userinfo in [None, Some("alice:wrong")] {
            let error = proxy_error(&url, &through(&proxy.url("http", userinfo))).await;
            assert!(matches!(error, ProxyError::HttpAuthRequired), "{error:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn an_http_proxy_refusal_carries_its_status() {
    // Tunnels to port 443 only: the echo server's port is refused with 403.
    let proxy = ProxyServer::tinyproxy("ports", None, &[443]);
    within(30, async {
        let ws = echo_server(Config::default()).await;
        let url = format!("ws://127.0.0.1:{}/", ws.port());
        let error = proxy_error(&url, &through(&proxy.url("http", None))).await;
        assert!(
            matches!(error, ProxyError::HttpRefused(status) if status.as_u16() == 403),
            "{error:?}"
        );
        assert_eq!(error.to_string(), "the proxy refused the tunnel: HTTP 403");
    })
    .await;
}

#[tokio::test]
async fn socks5_tunnels_ws_and_wss_resolving_here_or_at_the_proxy() {
    within(30, async {
        let ws = echo_server(Config::default()).await;
        let (wss, roots) = wss_echo_server().await;
        let proxy = ProxyServer::dante("open", false, 9);
        for scheme in ["socks5", "socks5h"] {
            let options = through(&proxy.url(scheme, None)).with_tls_roots(roots.clone());
            echo_through(&format!("ws://localhost:{}/", ws.port()), &options).await;
            echo_through(&format!("wss://localhost:{}/", wss.port()), &options).await;
        }
        assert!(proxy.tunnelled_to(ws.port()) && proxy.tunnelled_to(wss.port()));
        // A port the rules block: "not allowed by ruleset".
        let error = proxy_error("ws://127.0.0.1:9/", &through(&proxy.url("socks5h", None))).await;
        assert!(
            matches!(error, ProxyError::SocksRefused(SocksReply::NOT_ALLOWED)),
            "{error:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn socks5_with_a_password() {
    let user = SystemUser::add("pw");
    let proxy = ProxyServer::dante("password", true, 9);
    within(30, async {
        let ws = echo_server(Config::default()).await;
        let (wss, roots) = wss_echo_server().await;
        let good = format!("{}:{}", user.name, user.password);
        let options = through(&proxy.url("socks5h", Some(&good))).with_tls_roots(roots);
        echo_through(&format!("ws://localhost:{}/", ws.port()), &options).await;
        echo_through(&format!("wss://localhost:{}/", wss.port()), &options).await;
        let url = format!("ws://127.0.0.1:{}/", ws.port());
        let bad = format!("{}:wrong", user.name);
        let error = proxy_error(&url, &through(&proxy.url("socks5", Some(&bad)))).await;
        assert!(matches!(error, ProxyError::SocksAuthFailed), "{error:?}");
        let error = proxy_error(&url, &through(&proxy.url("socks5", None))).await;
        assert!(matches!(error, ProxyError::SocksAuthRequired), "{error:?}");
    })
    .await;
}

#[tokio::test]
async fn the_environment_proxy_applies_unless_no_proxy_exempts_the_host() {
    let proxy = ProxyServer::tinyproxy("env", Some(("env", "pw")), &[]);
    within(30, async {
        let ws = echo_server(Config::default()).await;
        let (wss, roots) = wss_echo_server().await;
        let https = proxy.url("http", Some("env:pw"));
        let vars = [
            ("https_proxy", https.as_str()),
            // Upper case is ignored for ws:// (httpoxy); all_proxy is the fallback. A port
            // nothing listens on: going there would fail as unreachable.
            ("HTTP_PROXY", "http://127.0.0.1:9"),
            ("all_proxy", "socks5://127.0.0.1:9"),
            ("no_proxy", "localhost,10.0.0.0/8"),
        ];
        let env = ProxyEnv::from_vars(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
        .unwrap();
        let options = ClientOptions::default()
            .with_proxy(ProxyChoice::Env(Box::new(env)))
            .with_tls_roots(roots);
        // Through the authenticating proxy: wss:// to 127.0.0.1 is not exempt.
        echo_through(&format!("wss://127.0.0.1:{}/", wss.port()), &options).await;
        assert!(proxy.tunnelled_to(wss.port()));
        // Direct: localhost is exempt.
        echo_through(&format!("ws://localhost:{}/", ws.port()), &options).await;
        assert!(!proxy.tunnelled_to(ws.port()));
        // ws:// to 127.0.0.1 goes to all_proxy, where nothing listens.
        let error = proxy_error(&format!("ws://127.0.0.1:{}/", ws.port()), &options).await;
        assert!(matches!(error, ProxyError::Unreachable(_)), "{error:?}");
    })
    .await;
}

/// Who resolves the name, seen from the proxy's side of the wire (dante logs the same line
/// either way): socks5h:// sends the name itself (RFC 1928 §5, ATYP 3), so that nothing is
/// looked up here; socks5:// sends an address it resolved (ATYP 1 or 4).
#[tokio::test]
async fn socks5h_sends_the_name_and_socks5_an_address() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    within(30, async {
        let (listener, addr) = listener().await;
        // A SOCKS5 proxy that notes the address type asked for and refuses the tunnel (a
        // socks5:// client tries each address `localhost` has).
        let types = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let noted = std::sync::Arc::clone(&types);
        let proxy = tokio::spawn(async move {
            loop {
                let (mut tcp, _) = listener.accept().await.unwrap();
                let mut greeting = [0u8; 3];
                tcp.read_exact(&mut greeting).await.unwrap();
                assert_eq!(greeting, [5, 1, 0], "no authentication offered");
                tcp.write_all(&[5, 0]).await.unwrap();
                let mut request = [0u8; 4];
                tcp.read_exact(&mut request).await.unwrap();
                noted.lock().unwrap().push(request[3]);
                tcp.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0])
                    .await
                    .unwrap();
            }
        });
        for scheme in ["socks5h", "socks5"] {
            let error =
                proxy_error("ws://localhost:1/", &through(&format!("{scheme}://{addr}"))).await;
            assert!(
                matches!(
                    error,
                    ProxyError::SocksRefused(SocksReply::CONNECTION_REFUSED)
                ),
                "{scheme}: {error:?}"
            );
        }
        proxy.abort();
        let types = types.lock().unwrap().clone();
        assert_eq!(types[0], 3, "socks5h:// sends the name");
        assert!(
            types.len() > 1 && types[1..].iter().all(|t| matches!(t, 1 | 4)),
            "socks5:// sends addresses: {types:?}"
        );
    })
    .await;
}
