//! The Redis hub against a real `redis-server` of the test's own: several hubs (nodes) on one
//! Redis give one order per room, recover across nodes, and survive Redis going away.

mod common;
#[path = "common/hub_scenarios.rs"]
mod hub_scenarios;
#[path = "common/redis_server.rs"]
mod redis_server;

use std::time::Duration;

use common::within;
use hub_scenarios::{room, seqs, take};
use redis_server::RedisServer;
use switchyard::hub::{Hub, HubConfig, HubError, LinkState, RedisUrl};

async fn node(redis: &RedisServer, config: HubConfig) -> Hub {
    let hub = Hub::redis(RedisUrl::parse(&redis.url()).unwrap(), config);
    wait_for(&hub, LinkState::Up).await;
    hub
}

async fn wait_for(hub: &Hub, state: LinkState) {
    let mut changes = hub.link_changes().unwrap();
    changes.wait_for(|now| *now == state).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_deliver_every_message_once_in_one_order() {
    let redis = RedisServer::start("order");
    within(60, async {
        let mut nodes = Vec::new();
        for _ in 0..3 {
            nodes.push(node(&redis, HubConfig::default().with_queue(1000)).await);
        }
        // Two subscribers on each node.
        let subscribers: Vec<Hub> = nodes.iter().flat_map(|n| [n.clone(), n.clone()]).collect();
        hub_scenarios::one_order(&nodes, &subscribers, 50).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_recovers_on_another_node() {
    let redis = RedisServer::start("recover");
    within(60, async {
        let a = node(&redis, HubConfig::default()).await;
        let b = node(&redis, HubConfig::default()).await;
        hub_scenarios::recovery(&a, &b).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_is_bounded_and_a_silent_room_expires() {
    let redis = RedisServer::start("history");
    within(60, async {
        // Long enough that the checks after the last publish, on a loaded machine, come
        // well within it (the scenario then waits twice as long for it to pass).
        let age = Duration::from_secs(2);
        let hub = node(&redis, HubConfig::default().with_history(10, age)).await;
        let kept = || {
            assert!(
                redis
                    .command(&["XLEN", "switchyard:{lobby}:log"])
                    .contains(":10\r\n")
            );
            let pttl = redis.command(&["PTTL", "switchyard:{lobby}:seq"]);
            let pttl: i64 = pttl.trim().trim_start_matches(':').parse().unwrap();
            assert!(pttl > 0 && pttl <= 2000, "the keys expire: {pttl}");
        };
        let forgotten = || {
            assert!(
                redis
                    .command(&["EXISTS", "switchyard:{lobby}:log"])
                    .contains(":0\r\n")
            );
        };
        hub_scenarios::history(&hub, age, kept, forgotten).await;
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

#[tokio::test]
async fn a_replay_the_room_overtakes_ends_rather_than_skip() {
    let redis = RedisServer::start("overtaken");
    within(30, async {
        let config = HubConfig::default().with_history(10, Duration::from_secs(3600));
        let hub = node(&redis, config).await;
        hub_scenarios::overtaken(&hub).await;
    })
    .await;
}

/// The command connection can die alone (here killed; Redis's idle `timeout` spares pub/sub
/// connections, an idle-timeout NAT the same): the next command that finds it gone has the
/// link reconnect, and publishing works again without the pub/sub side ever dropping.
#[tokio::test]
async fn a_dead_command_connection_is_replaced() {
    let redis = RedisServer::start("commands");
    within(60, async {
        let a = node(&redis, HubConfig::default()).await;
        let lobby = room("lobby");
        let mut sub = a.subscribe(&lobby, None).await.unwrap();
        a.publish(&lobby, "one".into()).await.unwrap();
        assert_eq!(sub.recv().await.unwrap().seq(), 1);
        redis.command(&["CLIENT", "KILL", "TYPE", "normal"]);
        let started = std::time::Instant::now();
        let seq = loop {
            match a.publish(&lobby, "two".into()).await {
                Ok(seq) => break seq,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        assert_eq!(seq, 2);
        // Well before the heartbeat (5 s) would have noticed.
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(sub.recv().await.unwrap().text().as_str(), "two");
    })
    .await;
}

/// A Redis restarted from a snapshot older than its last writes (RDB) has the room's seq go
/// back under the same epoch: what is published after it must not reuse seqs the nodes
/// already delivered (every node would drop it as stale). A restart starts a new epoch.
#[tokio::test]
async fn a_redis_restored_from_an_older_snapshot_starts_a_new_epoch() {
    let mut redis = RedisServer::start("snapshot");
    within(60, async {
        let a = node(&redis, HubConfig::default()).await;
        let lobby = room("lobby");
        let mut sub = a.subscribe(&lobby, None).await.unwrap();
        for i in 1..=5 {
            a.publish(&lobby, format!("m{i}").into()).await.unwrap();
        }
        redis.command(&["SAVE"]);
        for i in 6..=10 {
            a.publish(&lobby, format!("m{i}").into()).await.unwrap();
        }
        let old = take(&mut sub, 10).await[9].epoch().clone();
        redis.kill();
        wait_for(&a, LinkState::Down).await;
        // The same directory: the snapshot is loaded, the room at seq 5 of its epoch.
        redis.restart();
        assert!(
            redis
                .command(&["GET", "switchyard:{lobby}:seq"])
                .contains("5")
        );
        wait_for(&a, LinkState::Up).await;
        a.publish(&lobby, "after".into()).await.unwrap();
        let delivery = sub.recv().await.unwrap();
        assert_eq!(delivery.text().as_str(), "after");
        assert_ne!(delivery.epoch(), &old);
        assert_eq!(delivery.seq(), 1);
    })
    .await;
}

/// A room written before runs were recorded (no `run` key) keeps its epoch and history: an
/// upgrade loses nothing.
#[tokio::test]
async fn a_room_without_a_recorded_run_is_adopted() {
    let redis = RedisServer::start("adopt");
    within(30, async {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            .to_string();
        redis.command(&["SET", "switchyard:{r}:epoch", "e0"]);
        redis.command(&["SET", "switchyard:{r}:seq", "5"]);
        for seq in 1..=5 {
            let id = format!("{seq}-0");
            let text = format!("m{seq}");
            redis.command(&["XADD", "switchyard:{r}:log", &id, "t", &now, "m", &text]);
        }
        let hub = node(&redis, HubConfig::default()).await;
        let since = switchyard::hub::Position {
            epoch: switchyard::hub::Epoch::new("e0"),
            seq: 3,
        };
        let mut sub = hub.subscribe(&room("r"), Some(&since)).await.unwrap();
        assert!(sub.joined().recovered());
        assert_eq!(seqs(&take(&mut sub, 2).await), [4, 5]);
        hub.publish(&room("r"), "m6".into()).await.unwrap();
        let next = sub.recv().await.unwrap();
        assert_eq!((next.epoch().as_str(), next.seq()), ("e0", 6));
    })
    .await;
}

/// A Redis user without `INFO` (an ACL without `@dangerous`, as Redis's own example has)
/// still gets rooms: the restart check is off, nothing else.
#[tokio::test]
async fn a_redis_user_without_info_still_gets_rooms() {
    let redis = RedisServer::start("acl");
    within(30, async {
        redis.command(&[
            "ACL",
            "SETUSER",
            "sy",
            "on",
            ">pw",
            "~switchyard:*",
            "&*",
            "+@all",
            "-@dangerous",
        ]);
        let url = format!("{}?user=sy&pass=pw", redis.url());
        let hub = Hub::redis(RedisUrl::parse(&url).unwrap(), HubConfig::default());
        wait_for(&hub, LinkState::Up).await;
        let mut sub = hub.subscribe(&room("r"), None).await.unwrap();
        hub.publish(&room("r"), "hello".into()).await.unwrap();
        assert_eq!(sub.recv().await.unwrap().text().as_str(), "hello");
    })
    .await;
}

/// A node whose pub/sub was down while another node started a new epoch in a room (here
/// Redis lost everything) delivers that epoch's messages from its seq 1, not from the first
/// one it happened to hear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_epoch_begun_while_a_node_was_not_listening_is_filled_from_its_start() {
    let redis = RedisServer::start("new-epoch");
    within(60, async {
        let a = node(&redis, HubConfig::default()).await;
        let b = node(&redis, HubConfig::default()).await;
        let lobby = room("lobby");
        let mut sub = a.subscribe(&lobby, None).await.unwrap();
        b.publish(&lobby, "before".into()).await.unwrap();
        let old = sub.recv().await.unwrap().epoch().clone();
        redis.command(&["FLUSHALL"]);
        redis.command(&["CLIENT", "KILL", "TYPE", "pubsub"]);
        for i in 1..=3 {
            b.publish(&lobby, format!("m{i}").into()).await.unwrap();
        }
        b.publish(&lobby, "after".into()).await.unwrap();
        let got = take(&mut sub, 4).await;
        assert_eq!(seqs(&got), [1, 2, 3, 4]);
        assert!(got.iter().all(|d| d.epoch() != &old));
        assert_eq!(got[3].text().as_str(), "after");
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
        hub_scenarios::slow_cut_off(&hub).await;
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
        let a = node(&redis, HubConfig::default().with_queue(1000)).await;
        let b = node(&redis, HubConfig::default().with_queue(1000)).await;
        hub_scenarios::seams(&a, &b).await;
    })
    .await;
}
