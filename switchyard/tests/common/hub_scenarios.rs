//! What every hub promises, written once and run on each: the in-process hub (`hub.rs`) and
//! nodes on one Redis (`hub_redis.rs`). A scenario takes the hubs to publish and subscribe
//! on; given one hub several times, it tests that hub alone. Included with `#[path]`.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use switchyard::hub::{Delivery, Epoch, Hub, Position, RecvError, RoomName, Subscription};

pub fn room(name: &str) -> RoomName {
    RoomName::new(name).unwrap()
}

pub async fn take(subscription: &mut Subscription, n: usize) -> Vec<Arc<Delivery>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(subscription.recv().await.unwrap());
    }
    out
}

pub fn seqs(deliveries: &[Arc<Delivery>]) -> Vec<u64> {
    deliveries.iter().map(|d| d.seq()).collect()
}

/// Each of `publishers` publishes `each` messages to one room at once; a subscriber on each
/// of `subscribers` sees them all, numbered 1 up, in one order that keeps each publisher's;
/// another room is numbered on its own.
pub async fn one_order(publishers: &[Hub], subscribers: &[Hub], each: u32) {
    let lobby = room("lobby");
    let mut subscriptions = Vec::new();
    for hub in subscribers {
        subscriptions.push(hub.subscribe(&lobby, None).await.unwrap());
    }
    let mut other = subscribers[0]
        .subscribe(&room("other"), None)
        .await
        .unwrap();
    let tasks: Vec<_> = publishers
        .iter()
        .enumerate()
        .map(|(p, hub)| {
            let (hub, lobby) = (hub.clone(), lobby.clone());
            tokio::spawn(async move {
                for i in 0..each {
                    hub.publish(&lobby, format!("{p}:{i}").into())
                        .await
                        .unwrap();
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let total = publishers.len() * each as usize;
    let first = take(&mut subscriptions[0], total).await;
    assert_eq!(seqs(&first), (1..=total as u64).collect::<Vec<_>>());
    for subscription in &mut subscriptions[1..] {
        assert_eq!(take(subscription, total).await, first);
    }
    for p in 0..publishers.len() {
        let mine: Vec<_> = first
            .iter()
            .filter_map(|d| d.text().as_str().strip_prefix(&format!("{p}:")))
            .map(|i| i.parse::<u32>().unwrap())
            .collect();
        assert_eq!(mine, (0..each).collect::<Vec<_>>(), "publisher {p}'s order");
    }
    publishers[publishers.len() - 1]
        .publish(&room("other"), "hi".into())
        .await
        .unwrap();
    let delivery = other.recv().await.unwrap();
    assert_eq!((delivery.seq(), delivery.text().as_str()), (1, "hi"));
}

/// A subscriber on `a` leaves after five messages and comes back on `b` with `since` after
/// 245 more (more than one page of replay): it gets exactly what it missed, then what is
/// published live. A position beyond the latest, or of another epoch, recovers nothing, and
/// only new messages follow.
pub async fn recovery(a: &Hub, b: &Hub) {
    let lobby = room("lobby");
    let mut first = a.subscribe(&lobby, None).await.unwrap();
    assert_eq!(
        (first.joined().seq(), first.joined().recovered()),
        (0, false)
    );
    for i in 1..=5 {
        b.publish(&lobby, format!("m{i}").into()).await.unwrap();
    }
    let seen = take(&mut first, 5).await;
    let epoch = seen[4].epoch().clone();
    drop(first);
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
    assert_eq!(replayed[0].text().as_str(), "m6");
    assert_eq!(replayed[244].text().as_str(), "m250");
    assert_eq!(replayed[245].text().as_str(), "m251");

    let beyond = Position {
        epoch: epoch.clone(),
        seq: 252,
    };
    let sub = a.subscribe(&lobby, Some(&beyond)).await.unwrap();
    assert!(!sub.joined().recovered());
    let stranger = Position {
        epoch: Epoch::new("0000"),
        seq: 5,
    };
    let mut sub = a.subscribe(&lobby, Some(&stranger)).await.unwrap();
    assert!(!sub.joined().recovered());
    b.publish(&lobby, "m252".into()).await.unwrap();
    assert_eq!(
        sub.recv().await.unwrap().seq(),
        252,
        "only new messages follow"
    );
}

/// `hub` keeps a history of 10 messages that a room silent for `age` forgets: 30 published,
/// a position before the last 10 recovers nothing and one within them recovers the rest;
/// after the room was silent for `age` twice over, the history is gone, and the room starts
/// again at seq 1 in a new epoch. `kept` and `forgotten` check the backend's own state at
/// those two points.
pub async fn history(hub: &Hub, age: Duration, kept: impl FnOnce(), forgotten: impl FnOnce()) {
    let lobby = room("lobby");
    for i in 1..=30 {
        hub.publish(&lobby, format!("m{i}").into()).await.unwrap();
    }
    kept();
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
    forgotten();
    let again = hub.subscribe(&lobby, Some(&at(30))).await.unwrap();
    assert!(!again.joined().recovered());
    assert_eq!(again.joined().seq(), 0);
    assert_ne!(
        again.joined().epoch(),
        &epoch,
        "a lost history is a new epoch"
    );
    let new_epoch = again.joined().epoch().clone();
    drop(again);
    hub.publish(&lobby, "fresh".into()).await.unwrap();
    let delivery = sub.recv().await.unwrap();
    assert_eq!((delivery.seq(), delivery.epoch()), (1, &new_epoch));
}

/// On `hub`, which keeps 10 messages of history: a subscriber that recovers from a position
/// the history still holds, but whose replay the room overtakes (five more messages trim what
/// it had still to read), ends with `Overtaken` rather than skip them; subscribing again from
/// there says nothing can be recovered.
pub async fn overtaken(hub: &Hub) {
    let lobby = room("overtaken");
    for i in 1..=10 {
        hub.publish(&lobby, format!("m{i}").into()).await.unwrap();
    }
    let probe = hub.subscribe(&lobby, None).await.unwrap();
    let since = Position {
        epoch: probe.joined().epoch().clone(),
        seq: 1,
    };
    drop(probe);
    let mut sub = hub.subscribe(&lobby, Some(&since)).await.unwrap();
    assert!(sub.joined().recovered());
    for i in 11..=15 {
        hub.publish(&lobby, format!("m{i}").into()).await.unwrap();
    }
    assert!(matches!(sub.recv().await, Err(RecvError::Overtaken)));
    // For good: the next receive does not go on past the gap with live messages.
    hub.publish(&lobby, "m16".into()).await.unwrap();
    assert!(matches!(sub.recv().await, Err(RecvError::Overtaken)));
    let again = hub.subscribe(&lobby, Some(&since)).await.unwrap();
    assert!(!again.joined().recovered());
}

/// On `hub`, whose queues hold 4, a subscriber that reads nothing is cut off once its queue
/// is full, while one that keeps up gets every message at once.
pub async fn slow_cut_off(hub: &Hub) {
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
}

/// While `a` publishes 300 messages, a subscriber on `b` leaves and comes back with `since`
/// every seven: each seam is exact, nothing lost and nothing repeated. (Queues longer than
/// the run: this is about seams, not slow consumers.)
pub async fn seams(a: &Hub, b: &Hub) {
    const TOTAL: u64 = 300;
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
}
