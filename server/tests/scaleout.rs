//! Several `switchyard` nodes on one Redis (a `redis-server` of the test's own): one order
//! per room on every node, recovery across nodes, and the faults: Redis killed and
//! restarted, a node killed, Redis down at startup, a slow subscriber.

mod common;

use std::time::{Duration, Instant};

use common::binary::*;
use common::chat::{Chat, seqs};
use common::redis_server::RedisServer;
use common::*;
use switchyard::{Message, connect};

/// Starts a node on `redis` (with `extra` flags) and waits for its link to be up.
async fn node(redis: &RedisServer, extra: &[&str]) -> Server {
    let url = redis.url();
    let mut args = vec!["--redis", url.as_str()];
    args.extend_from_slice(extra);
    let server = Server::start(&args).await;
    health(&server, "redis: up").await;
    server
}

/// Waits (bounded) until `/healthz` is 200 and its body contains `want`.
async fn health(server: &Server, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = http(server.addr, &get("/healthz", &[])).await;
        let body = String::from_utf8_lossy(&response.body).into_owned();
        assert_eq!(response.status, 200, "{body}");
        if body.contains(want) {
            return;
        }
        assert!(Instant::now() < deadline, "/healthz still says {body:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn three_nodes_give_every_client_every_message_once_in_one_order() {
    let redis = RedisServer::start("scale-order");
    within(90, async {
        let mut nodes = Vec::new();
        for _ in 0..3 {
            nodes.push(node(&redis, &["--chat-queue", "1000"]).await);
        }
        const EACH: usize = 30;
        // Every client joins before anyone speaks.
        let mut clients = Vec::new();
        for (n, server) in nodes.iter().enumerate() {
            for role in 0..3 {
                clients.push((n, role, Chat::join(&server.url("/chat/x")).await));
            }
        }
        let mut readers = Vec::new();
        for (n, role, mut chat) in clients {
            readers.push(tokio::spawn(async move {
                if role == 0 {
                    // One publisher per node, all at once.
                    for i in 0..EACH {
                        chat.say(&format!("n{n}-{i}")).await;
                    }
                }
                chat.messages(3 * EACH).await
            }));
        }
        let mut other = Chat::join(&nodes[1].url("/chat/y")).await;
        let mut first = None;
        for reader in readers {
            let got = reader.await.unwrap();
            match &first {
                None => first = Some(got),
                Some(first) => assert_eq!(&got, first, "every client, the same order"),
            }
        }
        let first = first.unwrap();
        assert_eq!(seqs(&first), (1..=3 * EACH as u64).collect::<Vec<_>>());
        for n in 0..3 {
            let mine: Vec<usize> = first
                .iter()
                .filter_map(|(_, text)| text.strip_prefix(&format!("n{n}-")))
                .map(|i| i.parse().unwrap())
                .collect();
            assert_eq!(
                mine,
                (0..EACH).collect::<Vec<_>>(),
                "node {n}'s publisher's order"
            );
        }
        // Room y heard none of it.
        other.say("y").await;
        assert_eq!(other.messages(1).await, vec![(1, "y".to_owned())]);
    })
    .await;
}

#[tokio::test]
async fn a_client_recovers_on_another_node_with_since() {
    let redis = RedisServer::start("scale-recover");
    within(90, async {
        let a = node(&redis, &[]).await;
        let b = node(&redis, &[]).await;
        let c = node(&redis, &[]).await;
        let mut client = Chat::join(&a.url("/chat/r")).await;
        let epoch = client.epoch();
        let mut talker = Chat::join(&b.url("/chat/r")).await;
        for i in 1..=5 {
            talker.say(&format!("m{i}")).await;
        }
        assert_eq!(seqs(&client.messages(5).await), vec![1, 2, 3, 4, 5]);
        drop(client);
        for i in 6..=15 {
            talker.say(&format!("m{i}")).await;
        }
        talker.messages(15).await;

        let url = c.url(&format!("/chat/r?since=5&epoch={epoch}"));
        let mut back = Chat::join(&url).await;
        assert_eq!(
            (back.seq(), back.recovered(), back.epoch()),
            (15, true, epoch.clone())
        );
        talker.say("m16").await;
        let got = back.messages(11).await;
        assert_eq!(seqs(&got), (6..=16).collect::<Vec<_>>());
        assert_eq!((got[0].1.as_str(), got[10].1.as_str()), ("m6", "m16"));

        for query in [
            format!("since=17&epoch={epoch}"),
            "since=5&epoch=x".to_owned(),
        ] {
            let chat = Chat::join(&a.url(&format!("/chat/r?{query}"))).await;
            assert!(!chat.recovered(), "{query}");
        }
    })
    .await;
}

#[tokio::test]
async fn redis_killed_and_restarted_keeps_members_fails_publishes_visibly_then_resumes() {
    let mut redis = RedisServer::start("scale-restart");
    within(90, async {
        let a = node(&redis, &[]).await;
        let b = node(&redis, &[]).await;
        let mut on_a = Chat::join(&a.url("/chat/r")).await;
        let mut on_b = Chat::join(&b.url("/chat/r")).await;
        on_a.say("one").await;
        assert_eq!(on_a.messages(1).await, vec![(1, "one".to_owned())]);
        assert_eq!(on_b.messages(1).await, vec![(1, "one".to_owned())]);
        let old_epoch = on_a.epoch();

        redis.kill();
        health(&a, "redis: down").await;
        health(&b, "redis: down").await;
        on_a.say("lost?").await;
        let error = on_a.next().await;
        assert_eq!(
            (&error["type"], &error["reason"]),
            (&"error".into(), &"unavailable".into())
        );
        let refused = http(b.addr, &get("/chat/r", &UPGRADE)).await;
        assert_eq!(refused.status, 503);
        // Everything but /chat is served.
        let (mut echo, _) = connect(&b.url("/echo")).await.unwrap();
        echo.send(Message::Text("still here".into())).await.unwrap();
        assert_eq!(
            echo.recv().await.unwrap().unwrap(),
            Message::Text("still here".into())
        );

        redis.restart();
        health(&a, "redis: up").await;
        health(&b, "redis: up").await;
        on_b.say("two").await;
        // The same connections; Redis lost the history, so a new epoch starts at seq 1.
        for chat in [&mut on_a, &mut on_b] {
            let message = chat.next().await;
            assert_eq!(
                (&message["seq"], &message["text"]),
                (&1.into(), &"two".into())
            );
            assert_ne!(message["epoch"], old_epoch.as_str());
        }
        let url = a.url(&format!("/chat/r?since=1&epoch={old_epoch}"));
        assert!(!Chat::join(&url).await.recovered(), "a changed epoch");
    })
    .await;
}

#[tokio::test]
async fn a_node_whose_pubsub_link_drops_fills_its_members_gap_from_the_history() {
    let redis = RedisServer::start("scale-gap");
    within(90, async {
        let a = node(&redis, &[]).await;
        let b = node(&redis, &[]).await;
        let mut member = Chat::join(&a.url("/chat/r")).await;
        let mut talker = Chat::join(&b.url("/chat/r")).await;
        talker.say("m1").await;
        assert_eq!(member.messages(1).await, vec![(1, "m1".to_owned())]);
        // Every node's pub/sub connection drops; publishing (the command connection) goes on.
        redis.command(&["CLIENT", "KILL", "TYPE", "pubsub"]);
        for i in 2..=30 {
            talker.say(&format!("m{i}")).await;
        }
        let got = member.messages(29).await;
        assert_eq!(seqs(&got), (2..=30).collect::<Vec<_>>());
        assert_eq!(got[28].1, "m30");
    })
    .await;
}

#[tokio::test]
async fn clients_of_a_killed_node_reconnect_elsewhere_and_recover() {
    let redis = RedisServer::start("scale-kill");
    within(90, async {
        let a = node(&redis, &[]).await;
        let b = node(&redis, &[]).await;
        let mut client = Chat::join(&a.url("/chat/r")).await;
        let epoch = client.epoch();
        let mut talker = Chat::join(&b.url("/chat/r")).await;
        for i in 1..=3 {
            talker.say(&format!("m{i}")).await;
        }
        let seen = client.messages(3).await;
        drop(a); // SIGKILL
        assert!(client.ws.recv().await.is_none_or(|r| r.is_err()));
        for i in 4..=8 {
            talker.say(&format!("m{i}")).await;
        }
        let last = seen.last().unwrap().0;
        let mut back = Chat::join(&b.url(&format!("/chat/r?since={last}&epoch={epoch}"))).await;
        assert!(back.recovered());
        assert_eq!(seqs(&back.messages(5).await), vec![4, 5, 6, 7, 8]);
    })
    .await;
}

#[tokio::test]
async fn a_node_started_while_redis_is_down_serves_the_rest_and_joins_when_it_comes() {
    let mut redis = RedisServer::start("scale-late");
    redis.kill();
    within(90, async {
        let url = redis.url();
        let server = Server::start(&["--redis", &url]).await;
        health(&server, "redis: connecting").await;
        assert_eq!(http(server.addr, &get("/chat", &UPGRADE)).await.status, 503);
        let (mut echo, _) = connect(&server.url("/echo")).await.unwrap();
        echo.send(Message::Text("hi".into())).await.unwrap();
        assert_eq!(
            echo.recv().await.unwrap().unwrap(),
            Message::Text("hi".into())
        );
        redis.restart();
        health(&server, "redis: up").await;
        let mut chat = Chat::join(&server.url("/chat")).await;
        chat.say("finally").await;
        assert_eq!(chat.messages(1).await, vec![(1, "finally".to_owned())]);
    })
    .await;
}

#[tokio::test]
async fn a_malformed_redis_url_is_a_usage_error() {
    for url in ["localhost:6379", "redis://host:port", "http://host"] {
        // Bounded: a URL accepted by mistake would serve for ever (the child is killed when
        // dropped).
        let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["--listen", "127.0.0.1:0", "--redis", url])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .status();
        let status = tokio::time::timeout(std::time::Duration::from_secs(10), status)
            .await
            .unwrap_or_else(|_| panic!("{url} was accepted: the server is still running"))
            .unwrap();
        assert_eq!(status.code(), Some(2), "{url}");
    }
}

#[tokio::test]
async fn a_slow_subscriber_is_cut_off_without_slowing_the_others() {
    let redis = RedisServer::start("scale-slow");
    within(120, async {
        let flags = [
            "--chat-queue",
            "8",
            "--close-timeout",
            "60s",
            "--chat-burst",
            "1000",
        ];
        let a = node(&redis, &flags).await;
        let b = node(&redis, &flags).await;
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(8 * 1024).unwrap();
        let mut stalled = socket.connect(a.addr).await.unwrap();
        upgrade_on(&mut stalled, "/chat").await;

        let mut reader = Chat::join(&a.url("/chat")).await;
        let mut talker = Chat::join(&b.url("/chat")).await;
        const COUNT: u64 = 300;
        let line = |i: u64| format!("{i:08}{}", "x".repeat(32 * 1024));
        // In step: each message reaches both members that read before the next is sent, so
        // only the stalled member can fall behind, and the room never waits for it.
        for i in 1..=COUNT {
            talker.say(&line(i)).await;
            assert_eq!(talker.messages(1).await.remove(0).0, i);
            assert_eq!(reader.messages(1).await.remove(0), (i, line(i)));
        }
        let code = loop {
            let (_, opcode, payload) = read_server_frame(&mut stalled)
                .await
                .expect("a close frame");
            if opcode == 0x8 {
                break u16::from_be_bytes([payload[0], payload[1]]);
            }
        };
        assert_eq!(code, 1008);
    })
    .await;
}
