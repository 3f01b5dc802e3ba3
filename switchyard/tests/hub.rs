//! The in-process hub: one order per room, recovery from the history, its limits, and the
//! slow-consumer policies.

mod common;
#[path = "common/hub_scenarios.rs"]
mod hub_scenarios;

use std::time::Duration;

use common::within;
use hub_scenarios::{room, seqs, take};
use switchyard::hub::{Hub, HubConfig, RecvError, SlowConsumer};

#[tokio::test]
async fn concurrent_publishers_give_every_subscriber_one_order() {
    within(30, async {
        let hub = Hub::in_memory(HubConfig::default().with_queue(1000));
        hub_scenarios::one_order(&vec![hub.clone(); 4], &vec![hub; 3], 100).await;
    })
    .await;
}

#[tokio::test]
async fn a_subscriber_recovers_what_it_missed_then_continues_live() {
    within(30, async {
        let hub = Hub::in_memory(HubConfig::default());
        hub_scenarios::recovery(&hub, &hub).await;
    })
    .await;
}

/// The history keeps each text in an allocation of its own: a received message is a view of
/// its connection's read buffer, and a history of such views would keep a whole buffer (16 to
/// 64 KiB) alive per message, for the history's age.
#[tokio::test]
async fn the_history_keeps_no_view_of_a_read_buffer() {
    use switchyard::switchyard_core::connection::{Connection, Event, Message};
    let mut conn = Connection::server(switchyard::Limits::DEFAULT);
    // "hello", masked with a zero key.
    let frame = [0x81, 0x85, 0, 0, 0, 0, b'h', b'e', b'l', b'l', b'o'];
    assert_eq!(conn.receive_data(&frame), Ok(frame.len()));
    let Some(Event::Message(Message::Text(text))) = conn.poll_event() else {
        panic!("no message");
    };
    drop(conn);
    let buffer = text.clone().into_bytes();
    assert!(!buffer.is_unique(), "the text is a view of the read buffer");
    let hub = Hub::in_memory(HubConfig::default());
    hub.publish(&room("r"), text).await.unwrap();
    assert!(
        buffer.is_unique(),
        "the history keeps a view of the read buffer"
    );
}

#[tokio::test]
async fn a_replay_the_room_overtakes_ends_rather_than_skip() {
    within(30, async {
        let hub = Hub::in_memory(HubConfig::default().with_history(10, Duration::from_secs(3600)));
        hub_scenarios::overtaken(&hub).await;
    })
    .await;
}

#[tokio::test]
async fn the_history_keeps_the_last_messages_and_forgets_a_silent_room() {
    within(30, async {
        // Long enough that the checks after the last publish, on a loaded machine, come
        // well within it (the scenario then waits twice as long for it to pass).
        let age = Duration::from_secs(2);
        let hub = Hub::in_memory(HubConfig::default().with_history(10, age));
        hub_scenarios::history(&hub, age, || {}, || {}).await;
    })
    .await;
}

#[tokio::test]
async fn a_full_queue_cuts_off_its_subscriber_and_no_other() {
    within(30, async {
        let hub = Hub::in_memory(HubConfig::default().with_queue(4));
        hub_scenarios::slow_cut_off(&hub).await;
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
        let hub = Hub::in_memory(HubConfig::default().with_queue(1000));
        hub_scenarios::seams(&hub, &hub).await;
    })
    .await;
}
