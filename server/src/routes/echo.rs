//! `/echo`: every text and binary message goes back as it came.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker, ready};

use futures_core::Stream;

use switchyard::{CloseCode, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::routes::{Closing, Ended};
use crate::shutdown::Shutdown;

/// An `async move` block rather than an `async fn`, for the reason given at
/// [`connection::answer`](crate::connection): the WebSocket is most of what an open
/// connection holds.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice"
)]
pub(crate) fn run<S: AsyncRead + AsyncWrite + Unpin>(
    mut ws: WebSocket<S>,
    mut shutdown: Shutdown,
    closing: Closing,
) -> impl Future<Output = ()> {
    async move {
        // One poll function for the whole exchange, rather than a future per message to
        // receive and another to send: the echo still owed (queued when there is room, then
        // written) before the next message is read, so a client that does not read its
        // echoes stops being read; then the shutdown flag (a load); then the next message
        // (cancel-safe, so none is lost to the flag), and only when none is ready the flag's
        // waker, which the flag keeps until it changes. A failed send means the connection is
        // closing: the next read ends it.
        let mut owed = None;
        let mut sending = false;
        let ended = poll_fn(|cx| {
            loop {
                if sending {
                    // The echo goes out in one write when nothing is queued ahead of it.
                    ready!(ws.poll_send(cx, &mut owed)).ok();
                    owed = None;
                    sending = false;
                }
                if shutdown.is_draining() {
                    return Poll::Ready(false);
                }
                match Pin::new(&mut ws).poll_next(cx) {
                    Poll::Ready(Some(Ok(message))) => {
                        owed = Some(message);
                        sending = true;
                    }
                    Poll::Ready(Some(Err(_))) => {}
                    Poll::Ready(None) => return Poll::Ready(true),
                    Poll::Pending => return shutdown.poll_wait(cx).map(|()| false),
                }
            }
        })
        .await;
        if ended {
            return closing.ended(&Ended::of(&ws));
        }
        // Shutting down: nothing already received is lost. Echo every message the transport
        // already holds (`recv` is cancel-safe, so polling it once and dropping it is fine), then
        // say goodbye.
        while let Some(Some(Ok(message))) = now_or_never(ws.recv()) {
            if ws.send(message).await.is_err() {
                break;
            }
        }
        let _ = ws
            .close(CloseCode::GOING_AWAY, "server shutting down")
            .await;
        let info = ws.closed().await.ok();
        closing.ended(&Ended {
            info,
            traffic: ws.traffic(),
        });
    }
}

/// Polls `future` once: its output if it is ready without waiting.
fn now_or_never<F: Future>(future: F) -> Option<F::Output> {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}
