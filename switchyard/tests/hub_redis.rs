//! The Redis hub against a real `redis-server` of the test's own: several hubs (nodes) on one
//! Redis give one order per room, recover across nodes, and survive Redis going away.

mod common;
#[path = "common/redis_server.rs"]
mod redis_server;

use std::sync::Arc;
use std::time::Duration;

use common::within;
use redis_server::RedisServer;
use switchyard::hub::{
    Delivery, Epoch, Hub, HubConfig, HubError, LinkState, Position, RecvError, RedisUrl, RoomName,
    Subscription,
};

fn room(name: &str) -> RoomName {
    RoomName::new(name).unwrap()
}

async fn node(redis: &RedisServer, config: HubConfig) -> Hub {
    let hub = Hub::redis(RedisUrl::parse(&redis.url()).unwrap(), config);
    wait_for(&hub, LinkState::Up).await;
    hub
}

async fn wait_for(hub: &Hub, state: LinkState) {
    let mut changes = hub.link_changes().unwrap();
    changes.wait_for(|now| *now == state).await.unwrap();
}

async fn take(subscription: &mut Subscription, n: usize) -> Vec<Arc<Delivery>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(subscription.recv().await.unwrap());
    }
    out
}

fn seqs(deliveries: &[Arc<Delivery>]) -> Vec<u64> {
    deliveries.iter().map(|d| d.seq()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_deliver_every_message_once_in_one_order() {
    let redis = RedisServer::start("order");
    within(60, async {
        let config = HubConfig::default().with_queue(1000);
        let mut nodes = Vec::new();
        for _ in 0..3 {
            nodes.push(node(&redis, config).await);
        }
        let lobby = room("lobby");
        let mut subscribers = Vec::new();
        for hub in &nodes {
            for _ in 0..2 {
                subscribers.push(hub.subscribe(&lobby, None).await.unwrap());
            }
        }
        let mut other = nodes[0].subscribe(&room("other"), None).await.unwrap();
        let publishers: Vec<_> = nodes
            .iter()
            .enumerate()
            .map(|(p, hub)| {
                let hub = hub.clone();
                let lobby = lobby.clone();
                tokio::spawn(async move {
                    for i in 0..50 {
                        hub.publish(&lobby, format!("{p}:{i}").into())
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for publisher in publishers {
            publisher.await.unwrap();
        }
        let first = take(&mut subscribers[0], 150).await;
        assert_eq!(seqs(&first), (1..=150).collect::<Vec<_>>());
        for subscriber in &mut subscribers[1..] {
            assert_eq!(take(subscriber, 150).await, first);
        }
        for p in 0..3 {
            let mine: Vec<_> = first
                .iter()
                .filter_map(|d| d.text().as_str().strip_prefix(&format!("{p}:")))
                .map(|i| i.parse::<u32>().unwrap())
                .collect();
            assert_eq!(mine, (0..50).collect::<Vec<_>>(), "publisher {p}'s order");
        }
        nodes[2].publish(&room("other"), "hi".into()).await.unwrap();
        let delivery = other.recv().await.unwrap();
        assert_eq!((delivery.seq(), delivery.text().as_str()), (1, "hi"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_recovers_on_another_node() {
    let redis = RedisServer::start("recover");
    within(60, async {
        let a = node(&redis, HubConfig::default()).await;
        let b = node(&redis, HubConfig::default()).await;
        let lobby = room("lobby");
        let mut sub = a.subscribe(&lobby, None).await.unwrap();
        for i in 1..=5 {
            b.publish(&lobby, format!("m{i}").into()).await.unwrap();
        }
        let seen = take(&mut sub, 5).await;
        let epoch = seen[4].epoch().clone();
        drop(sub);
        // More than one page of replay.
        for i in 6..=250 {
            a.publish(&lobby, format!("m{i}").into()).await.unwrap();
        }
        let since = Position {
            epoch: epoch.clone(),
            seq: 5,
        };
        let mut back = b.subscribe(&lobby, Some(&since)).await.unwrap();
        assert!(back.joined().recovered());
        assert_eq!((back.joined().seq(), back.joined().epoch()), (250, &epoch));
        a.publish(&lobby, "m251".into()).await.unwrap();
        let replayed = take(&mut back, 246).await;
        assert_eq!(seqs(&replayed), (6..=251).collect::<Vec<_>>());
        assert_eq!(replayed[244].text().as_str(), "m250");
        assert_eq!(replayed[245].text().as_str(), "m251");

        let beyond = Position {
            epoch: epoch.clone(),
            seq: 300,
        };
        assert!(
            !a.subscribe(&lobby, Some(&beyond))
                .await
                .unwrap()
                .joined()
                .recovered()
        );
        let stranger = Position {
            epoch: Epoch::new("0000"),
            seq: 5,
        };
        assert!(
            !a.subscribe(&lobby, Some(&stranger))
                .await
                .unwrap()
                .joined()
                .recovered()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_is_bounded_and_a_silent_room_expires() {
    let redis = RedisServer::start("history");
    within(60, async {
        let age = Duration::from_millis(400);
        let hub = node(&redis, HubConfig::default().with_history(10, age)).await;
        let lobby = room("lobby");
        for i in 1..=30 {
            hub.publish(&lobby, format!("m{i}").into()).await.unwrap();
        }
        assert!(
            redis
                .command(&["XLEN", "switchyard:{lobby}:log"])
                .contains(":10\r\n")
        );
        let pttl = redis.command(&["PTTL", "switchyard:{lobby}:seq"]);
        let pttl: i64 = pttl.trim().trim_start_matches(':').parse().unwrap();
        assert!(pttl > 0 && pttl <= 400, "the keys expire: {pttl}");
        let epoch = hub
            .subscribe(&lobby, None)
            .await
            .unwrap()
            .joined()
            .epoch()
            .clone();
        let at = |seq| Position {
            epoch: epoch.clone(),
            seq,
        };
        assert!(
            !hub.subscribe(&lobby, Some(&at(19)))
                .await
                .unwrap()
                .joined()
                .recovered()
        );
        let mut sub = hub.subscribe(&lobby, Some(&at(20))).await.unwrap();
        assert!(sub.joined().recovered());
        assert_eq!(
            seqs(&take(&mut sub, 10).await),
            (21..=30).collect::<Vec<_>>()
        );

        tokio::time::sleep(age * 2).await;
        assert!(
            redis
                .command(&["EXISTS", "switchyard:{lobby}:log"])
                .contains(":0\r\n")
        );
        let again = hub.subscribe(&lobby, Some(&at(30))).await.unwrap();
        assert!(!again.joined().recovered());
        assert_eq!(again.joined().seq(), 0);
        assert_ne!(again.joined().epoch(), &epoch);
        let new_epoch = again.joined().epoch().clone();
        hub.publish(&lobby, "fresh".into()).await.unwrap();
        let delivery = sub.recv().await.unwrap();
        assert_eq!((delivery.seq(), delivery.epoch()), (1, &new_epoch));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_fills_from_the_history_what_pubsub_missed() {
    let redis = RedisServer::start("gap");
    within(60, async {
        let a = node(&redis, HubConfig::default().with_queue(1000)).await;
        let b = node(&redis, HubConfig::default()).await;
        let lobby = room("lobby");
        let mut sub = a.subscribe(&lobby, None).await.unwrap();
        b.publish(&lobby, "before".into()).await.unwrap();
        assert_eq!(sub.recv().await.unwrap().seq(), 1);
        // Every node's pub/sub connection drops; b's command connection stays, so what it
        // publishes now reaches the history while a is not listening.
        redis.command(&["CLIENT", "KILL", "TYPE", "pubsub"]);
        for i in 2..=40 {
            b.publish(&lobby, format!("m{i}").into()).await.unwrap();
        }
        // Whether or not a has reconnected yet, "after" follows the gap.
        b.publish(&lobby, "after".into()).await.unwrap();
        let got = take(&mut sub, 40).await;
        assert_eq!(seqs(&got), (2..=41).collect::<Vec<_>>());
        assert_eq!(got[39].text().as_str(), "after");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarting_fails_publishes_visibly_and_rooms_resume() {
    let mut redis = RedisServer::start("restart");
    within(60, async {
        let a = node(&redis, HubConfig::default()).await;
        let b = node(&redis, HubConfig::default()).await;
        let lobby = room("lobby");
        let mut on_a = a.subscribe(&lobby, None).await.unwrap();
        let mut on_b = b.subscribe(&lobby, None).await.unwrap();
        a.publish(&lobby, "one".into()).await.unwrap();
        let old = on_a.recv().await.unwrap().epoch().clone();
        assert_eq!(on_b.recv().await.unwrap().seq(), 1);

        redis.kill();
        wait_for(&a, LinkState::Down).await;
        wait_for(&b, LinkState::Down).await;
        assert!(a.publish(&lobby, "lost?".into()).await.is_err());
        assert!(matches!(
            b.subscribe(&lobby, None).await,
            Err(HubError::Unavailable)
        ));

        redis.restart();
        wait_for(&a, LinkState::Up).await;
        wait_for(&b, LinkState::Up).await;
        b.publish(&lobby, "two".into()).await.unwrap();
        // The subscriptions survived; Redis lost the history, so a new epoch starts at 1.
        for sub in [&mut on_a, &mut on_b] {
            let delivery = sub.recv().await.unwrap();
            assert_eq!((delivery.seq(), delivery.text().as_str()), (1, "two"));
            assert_ne!(delivery.epoch(), &old);
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_starts_while_redis_is_down_and_connects_when_it_comes() {
    let mut redis = RedisServer::start("late");
    redis.kill();
    within(60, async {
        let hub = Hub::redis(RedisUrl::parse(&redis.url()).unwrap(), HubConfig::default());
        assert_eq!(hub.link(), Some(LinkState::Connecting));
        assert!(matches!(
            hub.subscribe(&room("lobby"), None).await,
            Err(HubError::Unavailable)
        ));
        assert!(matches!(
            hub.publish(&room("lobby"), "x".into()).await,
            Err(HubError::Unavailable)
        ));
        redis.restart();
        wait_for(&hub, LinkState::Up).await;
        let mut sub = hub.subscribe(&room("lobby"), None).await.unwrap();
        hub.publish(&room("lobby"), "x".into()).await.unwrap();
        assert_eq!(sub.recv().await.unwrap().seq(), 1);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_is_cut_off_without_slowing_the_room() {
    let redis = RedisServer::start("slow");
    within(60, async {
        let hub = node(&redis, HubConfig::default().with_queue(4)).await;
        let lobby = room("lobby");
        let mut slow = hub.subscribe(&lobby, None).await.unwrap();
        let cut = slow.cut_off();
        let mut fast = hub.subscribe(&lobby, None).await.unwrap();
        for i in 1..=10 {
            hub.publish(&lobby, format!("m{i}").into()).await.unwrap();
            assert_eq!(fast.recv().await.unwrap().seq(), i);
        }
        cut.wait().await;
        assert!(matches!(slow.recv().await, Err(RecvError::Lagged)));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_hangs_counts_as_down_until_it_answers() {
    let redis = RedisServer::start("hang");
    within(60, async {
        let hub = node(&redis, HubConfig::default()).await;
        let lobby = room("lobby");
        let mut sub = hub.subscribe(&lobby, None).await.unwrap();
        redis.signal("-STOP");
        // The heartbeat notices within its period plus the command timeout.
        wait_for(&hub, LinkState::Down).await;
        redis.signal("-CONT");
        wait_for(&hub, LinkState::Up).await;
        hub.publish(&lobby, "back".into()).await.unwrap();
        assert_eq!(sub.recv().await.unwrap().text().as_str(), "back");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_with_since_while_messages_flow_loses_and_repeats_nothing() {
    let redis = RedisServer::start("seam");
    within(60, async {
        const TOTAL: u64 = 300;
        let a = node(&redis, HubConfig::default().with_queue(1000)).await;
        let b = node(&redis, HubConfig::default().with_queue(1000)).await;
        let lobby = room("lobby");
        let mut sub = b.subscribe(&lobby, None).await.unwrap();
        let publisher = {
            let (a, lobby) = (a.clone(), lobby.clone());
            tokio::spawn(async move {
                for i in 1..=TOTAL {
                    a.publish(&lobby, format!("m{i}").into()).await.unwrap();
                    tokio::task::yield_now().await;
                }
            })
        };
        // (A queue longer than the run: this is about seams, not slow consumers.)
        // Leave and come back with `since` every few messages, while the publisher goes on:
        // each seam must be exact.
        let mut next = 1;
        loop {
            let mut last = None;
            for _ in 0..7 {
                let delivery = sub.recv().await.unwrap();
                assert_eq!(delivery.seq(), next);
                assert_eq!(delivery.text().as_str(), format!("m{next}"));
                next += 1;
                last = Some(delivery);
                if next > TOTAL {
                    break;
                }
            }
            if next > TOTAL {
                break;
            }
            let last = last.unwrap();
            drop(sub);
            let since = Position {
                epoch: last.epoch().clone(),
                seq: last.seq(),
            };
            sub = b.subscribe(&lobby, Some(&since)).await.unwrap();
            assert!(sub.joined().recovered());
        }
        publisher.await.unwrap();
    })
    .await;
}
