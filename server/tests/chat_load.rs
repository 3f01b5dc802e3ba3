//! Load, bounded and on loopback: 3 nodes on one Redis, 1,000 subscribers on each, in 10
//! rooms, with publishers on every node. Every subscriber must receive every message of its
//! room exactly once, in the one order of the room. The figures are printed with
//! `--nocapture`.

mod common;

use std::time::{Duration, Instant};

use common::binary::*;
use common::chat::Chat;
use common::redis_server::RedisServer;
use common::*;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

const NODES: usize = 3;
const PER_NODE: usize = 1000;
const ROOMS: usize = 10;
/// Messages per room: one publisher per room on each node sends `EACH`.
const EACH: usize = 4;

/// Raises this process's open-file limit (inherited by the nodes) to hold every socket.
fn raise_fd_limit(needed: u64) {
    let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap();
    if soft < needed {
        let _ = rlimit::Resource::NOFILE.set(needed, hard.max(needed));
        let _ = rlimit::increase_nofile_limit(needed);
    }
    let (soft, _) = rlimit::Resource::NOFILE.get().unwrap();
    assert!(soft >= needed, "need {needed} open files, have {soft}");
}

async fn wait_up(server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !String::from_utf8_lossy(&http(server.addr, &get("/healthz", &[])).await.body)
        .contains("redis: up")
    {
        assert!(
            Instant::now() < deadline,
            "the node's Redis link never came up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_deliver_to_3000_subscribers_in_10_rooms() {
    raise_fd_limit(4 * (NODES * PER_NODE) as u64 + 1000);
    let redis = RedisServer::start("chat-load");
    within(120, async {
        let started = Instant::now();
        let url = redis.url();
        let mut nodes = Vec::new();
        for _ in 0..NODES {
            let server = Server::start(&["--redis", &url, "--chat-queue", "64"]).await;
            wait_up(&server).await;
            nodes.push(server);
        }
        // Everyone joins (64 handshakes in flight at a time) before anyone speaks.
        let urls: Vec<(usize, String)> = (0..NODES * PER_NODE)
            .map(|i| {
                let room = i % ROOMS;
                (room, nodes[i / PER_NODE].url(&format!("/chat/room{room}")))
            })
            .collect();
        let mut joins = futures_util::stream::iter(urls)
            .map(|(room, url)| async move { (room, Chat::join(&url).await) })
            .buffer_unordered(64);
        let mut members = Vec::with_capacity(NODES * PER_NODE);
        while let Some(member) = joins.next().await {
            members.push(member);
        }
        let joined = started.elapsed();

        let readers: FuturesUnordered<_> = members
            .into_iter()
            .map(|(room, mut chat)| {
                tokio::spawn(async move { (room, chat.messages(NODES * EACH).await) })
            })
            .collect();
        let sent = Instant::now();
        let mut publishers = Vec::new();
        for (n, server) in nodes.iter().enumerate() {
            for room in 0..ROOMS {
                let mut chat = Chat::join(&server.url(&format!("/chat/room{room}"))).await;
                publishers.push(tokio::spawn(async move {
                    for i in 0..EACH {
                        chat.say(&format!("room{room}-node{n}-{i}")).await;
                    }
                    chat
                }));
            }
        }
        let mut orders: Vec<Option<Vec<(u64, String)>>> = vec![None; ROOMS];
        let mut delivered = 0;
        let results: Vec<_> = readers.collect().await;
        for result in results {
            let (room, got) = result.unwrap();
            delivered += got.len();
            match &orders[room] {
                None => {
                    let seqs: Vec<u64> = got.iter().map(|(seq, _)| *seq).collect();
                    assert_eq!(seqs, (1..=(NODES * EACH) as u64).collect::<Vec<_>>());
                    for n in 0..NODES {
                        let prefix = format!("room{room}-node{n}-");
                        let mine: Vec<usize> = got
                            .iter()
                            .filter_map(|(_, text)| text.strip_prefix(&prefix))
                            .map(|i| i.parse().unwrap())
                            .collect();
                        assert_eq!(mine, (0..EACH).collect::<Vec<_>>(), "{prefix}");
                    }
                    orders[room] = Some(got);
                }
                Some(first) => assert_eq!(&got, first, "room{room}: one order for everyone"),
            }
        }
        let elapsed = sent.elapsed();
        for publisher in publishers {
            publisher.await.unwrap();
        }
        assert_eq!(delivered, NODES * PER_NODE * NODES * EACH);
        println!(
            "chat load: {} subscribers joined in {joined:?}; {delivered} deliveries in {elapsed:?}",
            NODES * PER_NODE
        );
    })
    .await;
}
