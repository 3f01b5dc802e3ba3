//! `/chat/{room}`: chat rooms on the [`Hub`], in this process or shared through Redis.
//!
//! The connection's reader publishes each text message the client sends (after the rate
//! limit), one at a time, so a client's messages keep their order. Its writer sends `joined`,
//! then the subscription's replay and live messages, and the `error`s the reader reports.
//! The hub never waits for a member: one whose queue (`--chat-queue`) fills up is cut off and
//! closed with 1008, so one slow client neither slows the others nor makes the room hold more
//! than the queues.

pub(crate) mod query;
mod rate;
mod wire;

use std::net::SocketAddr;
use std::time::Instant;

use switchyard::hub::{Hub, RecvError, Subscription};
use switchyard::{CloseCode, Message, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::log_line::Peer;
use crate::routes::Ended;
use crate::shutdown::Shutdown;
use rate::TokenBucket;
use wire::Reason;

/// The room a bare `/chat` joins.
pub(crate) const LOBBY: &str = "lobby";

/// The publish rate limit of each connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rate {
    pub(crate) per_second: u32,
    pub(crate) burst: u32,
}

/// What the reader asks the writer to send.
enum Note {
    Error(Reason, &'static str),
    Close(CloseCode, &'static str),
}

/// Why a member's writer stopped.
enum Stop {
    TooSlow,
    Shutdown,
    Close(CloseCode, &'static str),
    Gone,
}

pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    ws: WebSocket<S>,
    mut subscription: Subscription,
    hub: &Hub,
    rate: Rate,
    peer: SocketAddr,
    mut shutdown: Shutdown,
) -> Ended {
    let room = subscription.room().clone();
    let cut_off = subscription.cut_off();
    let (mut read, mut write) = ws.split();
    // Bounded: a client that floods faster than its errors can be written waits here.
    let (notes, noted) = mpsc::channel::<Note>(8);
    let reader = async {
        let mut bucket = TokenBucket::new(rate.per_second, rate.burst, Instant::now());
        let mut closing = false;
        // Read to the end even after asking to close: the client's close frame ends it.
        while let Some(message) = read.recv().await {
            let note = match message {
                Ok(_) if closing => continue,
                Ok(Message::Text(text)) => {
                    if !bucket.take(Instant::now()) {
                        Note::Error(Reason::RateLimited, "over the publish rate: not sent")
                    } else if let Err(error) = hub.publish(&room, text).await {
                        debug!(peer = %Peer(peer), %room, %error, "chat: publish failed");
                        Note::Error(Reason::Unavailable, "the rooms are unavailable: not sent")
                    } else {
                        continue;
                    }
                }
                Ok(Message::Binary(_)) => {
                    closing = true;
                    Note::Close(CloseCode::UNSUPPORTED_DATA, "chat messages are text")
                }
                Err(_) => break,
            };
            if notes.send(note).await.is_err() {
                closing = true;
            }
        }
        drop(notes);
    };
    let writer = async {
        // Owned here, and dropped when the writer stops: the reader's next note then fails
        // rather than wait for ever for room in a channel nobody reads, and the reader goes
        // on to the client's close frame.
        let mut noted = noted;
        let stop = 'run: {
            let joined = wire::joined(&room, subscription.joined());
            if write.send(Message::Text(joined.into())).await.is_err() {
                break 'run Stop::Gone;
            }
            loop {
                let forward = async {
                    let text = tokio::select! {
                        biased;
                        note = noted.recv() => match note {
                            Some(Note::Error(reason, detail)) => wire::error(reason, detail),
                            Some(Note::Close(code, reason)) => return Some(Stop::Close(code, reason)),
                            None => return Some(Stop::Gone),
                        },
                        delivery = subscription.recv() => match delivery {
                            Ok(delivery) => wire::message(&delivery),
                            Err(RecvError::Lagged) => return Some(Stop::TooSlow),
                            Err(RecvError::Replay(error)) => {
                                warn!(peer = %Peer(peer), %room, %error, "chat: replay failed");
                                return Some(Stop::Close(CloseCode::TRY_AGAIN_LATER, "history unavailable"));
                            }
                            // The client reconnects with `since` and learns what it missed.
                            Err(RecvError::Overtaken) => {
                                return Some(Stop::Close(CloseCode::TRY_AGAIN_LATER, "the room overtook the replay"));
                            }
                            Err(_) => return Some(Stop::Shutdown),
                        },
                    };
                    write
                        .send(Message::Text(text.into()))
                        .await
                        .err()
                        .map(|_| Stop::Gone)
                };
                tokio::select! {
                    biased;
                    () = cut_off.wait() => break Stop::TooSlow,
                    () = shutdown.wait() => break Stop::Shutdown,
                    stop = forward => if let Some(stop) = stop { break stop },
                }
            }
        };
        // The member leaves the room before the closing handshake.
        drop(subscription);
        drop(noted);
        match stop {
            Stop::TooSlow => {
                let queue = hub.config().queue();
                warn!(peer = %Peer(peer), %room, queue, "chat: closing a client that fell behind");
                let reason = format!("too slow: fell {queue} messages behind the room");
                let _ = write.close(CloseCode::POLICY, &reason).await;
            }
            Stop::Shutdown => {
                let _ = write
                    .close(CloseCode::GOING_AWAY, "server shutting down")
                    .await;
            }
            Stop::Close(code, reason) => {
                let _ = write.close(code, reason).await;
            }
            Stop::Gone => {}
        }
    };
    tokio::join!(reader, writer);
    Ended {
        info: read.close_info(),
        traffic: read.traffic(),
    }
}
