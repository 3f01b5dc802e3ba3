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
        let age = Duration::from_millis(300);
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
