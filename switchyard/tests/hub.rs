//! The in-process hub: one order per room, recovery from the history, its limits, and the
//! slow-consumer policies.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::within;
use switchyard::hub::{
    Delivery, Epoch, Hub, HubConfig, Position, RecvError, RoomName, SlowConsumer, Subscription,
};

fn room(name: &str) -> RoomName {
    RoomName::new(name).unwrap()
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

#[tokio::test]
async fn concurrent_publishers_give_every_subscriber_one_order() {
    within(30, async {
        let hub = Hub::in_memory(HubConfig::default().with_queue(1000));
        let lobby = room("lobby");
        let mut subscribers = Vec::new();
        for _ in 0..3 {
            subscribers.push(hub.subscribe(&lobby, None).await.unwrap());
        }
        let mut other = hub.subscribe(&room("other"), None).await.unwrap();
        let publishers: Vec<_> = (0..4)
            .map(|p| {
                let hub = hub.clone();
                let lobby = lobby.clone();
                tokio::spawn(async move {
                    for i in 0..100 {
                        hub.publish(&lobby, format!("{p}:{i}").into())
                            .await
                            .unwrap();
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for publisher in publishers {
            publisher.await.unwrap();
        }
        let first = take(&mut subscribers[0], 400).await;
        assert_eq!(seqs(&first), (1..=400).collect::<Vec<_>>());
        for subscriber in &mut subscribers[1..] {
            assert_eq!(take(subscriber, 400).await, first);
        }
        // Each publisher's messages in the order it sent them.
        for p in 0..4 {
            let mine: Vec<_> = first
                .iter()
                .filter_map(|d| d.text().as_str().strip_prefix(&format!("{p}:")))
                .map(|i| i.parse::<u32>().unwrap())
                .collect();
            assert_eq!(mine, (0..100).collect::<Vec<_>>());
        }
        // Rooms are isolated: the other room's first message is its seq 1.
        hub.publish(&room("other"), "hi".into()).await.unwrap();
        let delivery = other.recv().await.unwrap();
        assert_eq!((delivery.seq(), delivery.text().as_str()), (1, "hi"));
    })
    .await;
}

#[tokio::test]
async fn a_subscriber_recovers_what_it_missed_then_continues_live() {
    within(30, async {
        let hub = Hub::in_memory(HubConfig::default());
        let lobby = room("lobby");
        let mut first = hub.subscribe(&lobby, None).await.unwrap();
        assert_eq!(
            (first.joined().seq(), first.joined().recovered()),
            (0, false)
        );
        for i in 1..=5 {
            hub.publish(&lobby, format!("m{i}").into()).await.unwrap();
        }
        let seen = take(&mut first, 5).await;
        let epoch = seen[4].epoch().clone();
        drop(first);
        for i in 6..=250 {
            hub.publish(&lobby, format!("m{i}").into()).await.unwrap();
        }
        let since = Position {
            epoch: epoch.clone(),
            seq: 5,
        };
        let mut back = hub.subscribe(&lobby, Some(&since)).await.unwrap();
        assert_eq!(back.joined().seq(), 250);
        assert!(back.joined().recovered());
        assert_eq!(back.joined().epoch(), &epoch);
        hub.publish(&lobby, "m251".into()).await.unwrap();
        let replayed = take(&mut back, 246).await;
        assert_eq!(seqs(&replayed), (6..=251).collect::<Vec<_>>());
        assert_eq!(replayed[0].text().as_str(), "m6");

        // Beyond the latest, or another epoch: nothing to recover.
        let beyond = Position {
            epoch: epoch.clone(),
            seq: 252,
        };
        let sub = hub.subscribe(&lobby, Some(&beyond)).await.unwrap();
        assert!(!sub.joined().recovered());
        let stranger = Position {
            epoch: Epoch::new("nope"),
            seq: 5,
        };
        let mut sub = hub.subscribe(&lobby, Some(&stranger)).await.unwrap();
        assert!(!sub.joined().recovered());
        hub.publish(&lobby, "m252".into()).await.unwrap();
        assert_eq!(
            sub.recv().await.unwrap().seq(),
            252,
            "only new messages follow"
        );
    })
    .await;
}

#[tokio::test]
async fn the_history_keeps_the_last_messages_and_forgets_a_silent_room() {
    within(30, async {
        let age = Duration::from_millis(300);
        let hub = Hub::in_memory(HubConfig::default().with_history(10, age));
        let lobby = room("lobby");
        for i in 1..=30 {
            hub.publish(&lobby, format!("m{i}").into()).await.unwrap();
        }
        let probe = hub.subscribe(&lobby, None).await.unwrap();
        let epoch = probe.joined().epoch().clone();
        drop(probe);
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
        let again = hub.subscribe(&lobby, Some(&at(30))).await.unwrap();
        assert!(!again.joined().recovered());
        assert_eq!(again.joined().seq(), 0);
        assert_ne!(
            again.joined().epoch(),
            &epoch,
            "a lost history is a new epoch"
        );
        drop(again);
        hub.publish(&lobby, "fresh".into()).await.unwrap();
        let delivery = sub.recv().await.unwrap();
        assert_eq!(delivery.seq(), 1);
        assert_ne!(delivery.epoch(), &epoch);
    })
    .await;
}

#[tokio::test]
async fn a_full_queue_cuts_off_its_subscriber_and_no_other() {
    within(30, async {
        let hub = Hub::in_memory(HubConfig::default().with_queue(4));
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

#[tokio::test]
async fn the_skip_policy_leaves_a_gap_instead() {
    within(30, async {
        let config = HubConfig::default()
            .with_queue(4)
            .with_slow_consumer(SlowConsumer::Skip);
        let hub = Hub::in_memory(config);
        let lobby = room("lobby");
        let mut slow = hub.subscribe(&lobby, None).await.unwrap();
        for i in 1..=10 {
            hub.publish(&lobby, format!("m{i}").into()).await.unwrap();
        }
        assert_eq!(seqs(&take(&mut slow, 4).await), vec![1, 2, 3, 4]);
        hub.publish(&lobby, "m11".into()).await.unwrap();
        assert_eq!(slow.recv().await.unwrap().seq(), 11);
    })
    .await;
}

#[tokio::test]
async fn dropping_the_hub_ends_its_subscriptions() {
    within(30, async {
        let hub = Hub::in_memory(HubConfig::default());
        let lobby = room("lobby");
        let mut sub = hub.subscribe(&lobby, None).await.unwrap();
        hub.publish(&lobby, "last".into()).await.unwrap();
        drop(hub);
        assert_eq!(sub.recv().await.unwrap().text().as_str(), "last");
        assert!(matches!(sub.recv().await, Err(RecvError::Closed)));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_with_since_while_messages_flow_loses_and_repeats_nothing() {
    within(60, async {
        const TOTAL: u64 = 300;
        let a = Hub::in_memory(HubConfig::default().with_queue(1000));
        let b = a.clone();
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
