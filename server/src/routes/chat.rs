//! `/chat`: a broadcast room. Every message goes to every connected client, the sender
//! included, as it came.
//!
//! Each member has a bounded queue (`--chat-queue` messages). Broadcasting never waits: a
//! member whose queue is full has fallen too far behind and is removed and closed with 1008,
//! so one slow client neither slows the others nor makes the room hold more than the queues
//! (messages are shared, not copied, between queues).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use switchyard::{CloseCode, CloseInfo, Message, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use crate::shutdown::Shutdown;

struct Member {
    inbox: mpsc::Sender<Message>,
    /// Sent to when the member is removed for falling behind; dropped when it leaves.
    kick: oneshot::Sender<()>,
}

pub(crate) struct Room {
    members: Mutex<HashMap<u64, Member>>,
    next_id: AtomicU64,
    queue: usize,
}

impl Room {
    pub(crate) fn new(queue: usize) -> Room {
        Room {
            members: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            queue,
        }
    }

    fn join(&self) -> (u64, mpsc::Receiver<Message>, oneshot::Receiver<()>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (inbox, rx) = mpsc::channel(self.queue);
        let (kick, kicked) = oneshot::channel();
        self.lock().insert(id, Member { inbox, kick });
        (id, rx, kicked)
    }

    fn leave(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Queues `message` for every member; members whose queue is full are removed and told.
    fn broadcast(&self, from: u64, message: &Message) {
        let mut members = self.lock();
        if !members.contains_key(&from) {
            // The sender itself was removed: its messages no longer reach the room.
            return;
        }
        let mut behind = Vec::new();
        for (&id, member) in members.iter() {
            if let Err(mpsc::error::TrySendError::Full(_)) = member.inbox.try_send(message.clone())
            {
                behind.push(id);
            }
        }
        for id in behind {
            if let Some(member) = members.remove(&id) {
                let _ = member.kick.send(());
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Member>> {
        self.members.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Why a member's writer stopped.
enum Stop {
    TooSlow,
    Shutdown,
    Gone,
}

pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    ws: WebSocket<S>,
    room: &Room,
    peer: SocketAddr,
    mut shutdown: Shutdown,
) -> Option<CloseInfo> {
    let (id, mut inbox, mut kicked) = room.join();
    let (mut read, mut write) = ws.split();
    let reader = async {
        while let Some(message) = read.recv().await {
            if let Ok(message) = message {
                room.broadcast(id, &message);
            }
        }
        // Dropping our queue's sender ends the writer's wait for a kick.
        room.leave(id);
    };
    let writer = async {
        let stop = loop {
            let forward = async {
                match inbox.recv().await {
                    Some(message) => write.send(message).await.is_ok(),
                    None => false,
                }
            };
            tokio::select! {
                biased;
                kick = &mut kicked => break if kick.is_ok() { Stop::TooSlow } else { Stop::Gone },
                () = shutdown.wait() => break Stop::Shutdown,
                sent = forward => if !sent { break Stop::Gone },
            }
        };
        match stop {
            Stop::TooSlow => {
                warn!(%peer, queue = room.queue, "chat: closing a client that fell behind");
                let reason = format!("too slow: fell {} messages behind the room", room.queue);
                let _ = write.close(CloseCode::POLICY, &reason).await;
            }
            Stop::Shutdown => {
                let _ = write
                    .close(CloseCode::GOING_AWAY, "server shutting down")
                    .await;
            }
            Stop::Gone => {}
        }
    };
    tokio::join!(reader, writer);
    read.close_info()
}
