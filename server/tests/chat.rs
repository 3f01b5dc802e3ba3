//! `/chat/{room}` on one node (rooms in the process): the JSON contract, room names,
//! recovery with `since`, and the limits against a hostile client.

mod common;

use common::binary::*;
use common::chat::{Chat, seqs};
use common::*;
use switchyard::{CloseCode, Message};

/// Far above anything these tests send, so the rate limit stays out of the way.
const NO_RATE_LIMIT: [&str; 4] = ["--chat-rate", "1000000", "--chat-burst", "1000000"];

#[tokio::test]
async fn rooms_relay_each_message_as_json_to_every_member_in_seq_order() {
    within(60, async {
        let server = Server::start(&[]).await;
        let mut alice = Chat::join(&server.url("/chat/a")).await;
        let mut bob = Chat::join(&server.url("/chat/a")).await;
        let mut carol = Chat::join(&server.url("/chat/b")).await;
        let lobby = Chat::join(&server.url("/chat")).await;
        assert_eq!(lobby.joined["room"], "lobby");
        assert_eq!(alice.joined["room"], "a");
        assert_eq!((alice.seq(), alice.recovered()), (0, false));
        assert_eq!(alice.epoch(), bob.epoch());

        for text in ["one", "two \"quoted\" ✓", "three"] {
            alice.say(text).await;
        }
        let seen = alice.messages(3).await;
        assert_eq!(seen, bob.messages(3).await);
        assert_eq!(
            seen,
            vec![
                (1, "one".to_owned()),
                (2, "two \"quoted\" ✓".to_owned()),
                (3, "three".to_owned())
            ]
        );
        // The exact shape, fields in order.
        bob.say("four").await;
        let Some(Ok(Message::Text(raw))) = alice.ws.recv().await else {
            panic!("a text message")
        };
        let epoch = alice.epoch();
        assert_eq!(
            raw.as_str(),
            format!(r#"{{"type":"message","room":"a","epoch":"{epoch}","seq":4,"text":"four"}}"#)
        );
        // Room b heard nothing: its first message is its seq 1.
        carol.say("hi").await;
        assert_eq!(carol.messages(1).await, vec![(1, "hi".to_owned())]);
    })
    .await;
}

#[tokio::test]
async fn a_path_that_is_no_room_is_404_and_bad_recovery_parameters_400() {
    within(60, async {
        let server = Server::start(&[]).await;
        let long = format!("/chat/{}", "x".repeat(65));
        for path in [
            "/chat/",
            "/chat/.",
            "/chat/..",
            "/chat/a%20b",
            "/chat/a/b",
            "/chat/a:b",
            long.as_str(),
        ] {
            let response = http(server.addr, &get(path, &UPGRADE)).await;
            assert_eq!(response.status, 404, "{path}");
        }
        let ok = format!("/chat/{}", "x".repeat(64));
        assert_eq!(
            http(server.addr, &get(&ok, &[])).await.status,
            426,
            "a room, but not an upgrade"
        );
        for query in [
            "since=x&epoch=e",
            "since=-1&epoch=e",
            "since=1",
            "since=1&since=2&epoch=e",
        ] {
            let response = http(server.addr, &get(&format!("/chat/a?{query}"), &UPGRADE)).await;
            assert_eq!(response.status, 400, "{query}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_client_that_comes_back_with_since_gets_what_it_missed_then_live() {
    within(60, async {
        let server = Server::start(&["--chat-history", "20"]).await;
        let mut first = Chat::join(&server.url("/chat/r")).await;
        let epoch = first.epoch();
        for i in 1..=5 {
            first.say(&format!("m{i}")).await;
        }
        assert_eq!(seqs(&first.messages(5).await), vec![1, 2, 3, 4, 5]);
        drop(first);
        let mut other = Chat::join(&server.url("/chat/r")).await;
        for i in 6..=8 {
            other.say(&format!("m{i}")).await;
        }
        other.messages(3).await;

        let mut back = Chat::join(&server.url(&format!("/chat/r?since=5&epoch={epoch}"))).await;
        assert_eq!((back.seq(), back.recovered()), (8, true));
        other.say("m9").await;
        let got = back.messages(4).await;
        assert_eq!(seqs(&got), vec![6, 7, 8, 9]);
        assert_eq!(got[0].1, "m6");

        // Beyond the latest seq, another epoch, or older than the history: not recovered,
        // and only new messages follow.
        for query in [
            format!("since=10&epoch={epoch}"),
            "since=5&epoch=0000000000000000".to_owned(),
        ] {
            let chat = Chat::join(&server.url(&format!("/chat/r?{query}"))).await;
            assert!(!chat.recovered(), "{query}");
        }
        for i in 10..=30 {
            other.say(&format!("m{i}")).await;
        }
        other.messages(22).await;
        let mut late = Chat::join(&server.url(&format!("/chat/r?since=5&epoch={epoch}"))).await;
        assert_eq!((late.seq(), late.recovered()), (30, false));
        other.say("m31").await;
        assert_eq!(late.messages(1).await, vec![(31, "m31".to_owned())]);
    })
    .await;
}

#[tokio::test]
async fn oversized_text_closes_1009_binary_1003_and_a_flood_is_refused() {
    within(60, async {
        let server = Server::start(&[
            "--chat-max-text",
            "10",
            "--chat-rate",
            "1",
            "--chat-burst",
            "3",
        ])
        .await;
        let mut big = Chat::join(&server.url("/chat/r")).await;
        big.say("0123456789!").await;
        assert!(big.ws.recv().await.is_none());
        assert_eq!(big.ws.close_info().unwrap().code, CloseCode::TOO_BIG);

        let mut binary = Chat::join(&server.url("/chat/r")).await;
        binary
            .ws
            .send(Message::Binary(vec![1, 2].into()))
            .await
            .unwrap();
        assert!(binary.ws.recv().await.is_none());
        assert_eq!(
            binary.ws.close_info().unwrap().code,
            CloseCode::UNSUPPORTED_DATA
        );

        let mut flood = Chat::join(&server.url("/chat/r")).await;
        for i in 0..6 {
            flood.say(&format!("f{i}")).await;
        }
        let (mut relayed, mut refused) = (0, 0);
        for _ in 0..6 {
            let value = flood.next().await;
            match value["type"].as_str().unwrap() {
                "message" => relayed += 1,
                "error" => {
                    assert_eq!(value["reason"], "rate_limited", "{value}");
                    assert!(value["detail"].is_string());
                    refused += 1;
                }
                _ => panic!("{value}"),
            }
        }
        assert_eq!((relayed, refused), (3, 3));
    })
    .await;
}

#[tokio::test]
async fn a_stalled_member_is_closed_1008_while_the_room_goes_on() {
    within(120, async {
        let mut args = vec!["--chat-queue", "8", "--close-timeout", "60s"];
        args.extend(NO_RATE_LIMIT);
        let server = Server::start(&args).await;
        // A member that joins and never reads again, with small socket buffers.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(8 * 1024).unwrap();
        let mut stalled = socket.connect(server.addr).await.unwrap();
        upgrade_on(&mut stalled, "/chat").await;

        let mut alice = Chat::join(&server.url("/chat")).await;
        let mut bob = Chat::join(&server.url("/chat")).await;
        const COUNT: u64 = 300;
        let line = |i: u64| format!("{i:08}{}", "x".repeat(32 * 1024));
        // In step: each message reaches both members that read before the next is sent, so
        // only the stalled member can fall behind, and the room never waits for it.
        for i in 1..=COUNT {
            alice.say(&line(i)).await;
            assert_eq!(alice.messages(1).await.remove(0).0, i, "alice, message {i}");
            assert_eq!(
                bob.messages(1).await.remove(0),
                (i, line(i)),
                "bob, message {i}"
            );
        }

        // The stalled member was closed with 1008 behind what it had been sent.
        let (code, reason) = loop {
            let (_, opcode, payload) = read_server_frame(&mut stalled)
                .await
                .expect("a close frame");
            if opcode == 0x8 {
                break (
                    u16::from_be_bytes([payload[0], payload[1]]),
                    String::from_utf8(payload[2..].to_vec()).unwrap(),
                );
            }
        };
        assert_eq!(code, 1008);
        assert!(reason.contains("too slow"), "{reason}");
    })
    .await;
}

/// A member cut off for falling behind while it still sends: what the reader has to tell it
/// (here, rate limits) finds no writer, and must not wait for one, or the client's close
/// frame is never read and the connection never ends.
#[tokio::test]
async fn a_member_cut_off_while_it_floods_still_ends_when_it_closes() {
    use tokio::io::AsyncWriteExt;
    within(120, async {
        let args = [
            "--chat-queue",
            "8",
            "--chat-rate",
            "1",
            "--chat-burst",
            "300",
            "--close-timeout",
            "60s",
        ];
        let server = Server::start_logged(&args).await;
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(8 * 1024).unwrap();
        let mut tcp = socket.connect(server.addr).await.unwrap();
        upgrade_on(&mut tcp, "/chat/r").await;
        // Its own messages, which it never reads, fill its queue: it is cut off.
        let big = "x".repeat(32 * 1024);
        for _ in 0..300 {
            tcp.write_all(&client_frame(true, 0x1, big.as_bytes()))
                .await
                .unwrap();
        }
        // Past the burst: each is refused with an error the writer would have sent.
        for _ in 0..20 {
            tcp.write_all(&client_frame(true, 0x1, b"more"))
                .await
                .unwrap();
        }
        tcp.write_all(&client_frame(true, 0x8, &1000u16.to_be_bytes()))
            .await
            .unwrap();
        // Now it reads: the 1008, then the end of the connection.
        let mut code = None;
        while let Some((_, opcode, payload)) = read_server_frame(&mut tcp).await {
            if opcode == 0x8 {
                code = Some(u16::from_be_bytes([payload[0], payload[1]]));
            }
        }
        assert_eq!(code, Some(1008));
        // And the server is done with it: its task ended and logged the close.
        let line = server.wait_for_log("close peer=").await;
        assert!(line.contains("clean=true"), "{line}");
    })
    .await;
}

#[tokio::test]
async fn healthz_says_ok_without_redis() {
    within(30, async {
        let server = Server::start(&[]).await;
        let response = http(server.addr, &get("/healthz", &[])).await;
        assert_eq!(
            (response.status, response.body.as_slice()),
            (200, &b"ok\n"[..])
        );
    })
    .await;
}
