//! The queue of events waiting for the application: one slot held inline, the rest in a
//! deque allocated only when several wait at once.
//!
//! Most reads complete at most one message, which the application polls before the next
//! read; a plain `VecDeque` would allocate room for four events on the first message and keep
//! it for the connection's life, a few hundred bytes on every idle connection that ever
//! received anything. Here the common case allocates nothing, and the deque a burst needed is
//! given back once the connection goes idle ([`release`](EventQueue::release)) or, past
//! [`RETAINED_EVENTS`], as soon as it empties.

use alloc::collections::VecDeque;

use super::Event;

/// Deque capacity kept while the connection is busy once the queue empties; a burst's
/// larger deque is released at once.
const RETAINED_EVENTS: usize = 32;

/// Events in order: `first` holds the oldest whenever any waits (so the queue is empty
/// exactly when it is unset: one compare), `rest` those after it.
#[derive(Debug, Default)]
pub(super) struct EventQueue {
    first: Option<Event>,
    rest: VecDeque<Event>,
}

impl EventQueue {
    pub(super) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    pub(super) fn push_back(&mut self, event: Event) {
        if self.is_empty() {
            self.first = Some(event);
        } else {
            self.rest.push_back(event);
        }
    }

    /// The oldest event if it is a message and the only one waiting.
    #[inline(always)]
    pub(super) fn take_lone_message(&mut self) -> Option<Event> {
        if matches!(self.first, Some(Event::Message(_))) && self.rest.is_empty() {
            return self.first.take();
        }
        None
    }

    pub(super) fn pop_front(&mut self) -> Option<Event> {
        let event = self.first.take()?;
        // The next oldest moves up, keeping `first` set while any event waits.
        self.first = self.rest.pop_front();
        if self.rest.is_empty() && self.rest.capacity() > RETAINED_EVENTS {
            self.rest = VecDeque::new();
        }
        Some(event)
    }

    /// The newest event, if any.
    pub(super) fn last_mut(&mut self) -> Option<&mut Event> {
        match self.rest.back_mut() {
            Some(event) => Some(event),
            None => self.first.as_mut(),
        }
    }

    /// Gives the deque's allocation back if nothing waits in it: the connection is idle.
    pub(super) fn release(&mut self) {
        if self.rest.capacity() > 0 && self.rest.is_empty() {
            self.rest = VecDeque::new();
        }
    }

    /// Whether the queue holds an allocation (for tests of idle memory).
    #[cfg(test)]
    pub(super) fn allocated(&self) -> bool {
        self.rest.capacity() > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Message;
    use bytes::Bytes;

    fn ping(n: u8) -> Event {
        Event::Ping(Bytes::from(alloc::vec![n]))
    }

    fn popped(queue: &mut EventQueue) -> Option<u8> {
        match queue.pop_front()? {
            Event::Ping(p) => Some(p[0]),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn one_event_at_a_time_allocates_nothing() {
        let mut queue = EventQueue::default();
        for n in 0..100 {
            queue.push_back(ping(n));
            assert_eq!(queue.len(), 1);
            assert_eq!(popped(&mut queue), Some(n));
            assert!(queue.is_empty());
        }
        assert!(!queue.allocated());
    }

    #[test]
    fn order_holds_across_the_slot_and_the_deque() {
        let mut queue = EventQueue::default();
        let mut next_in = 0u8;
        let mut next_out = 0u8;
        // Interleave pushes and pops so the oldest event is sometimes inline and sometimes
        // at the deque's front.
        for round in 0..50u8 {
            for _ in 0..(round % 4 + 1) {
                queue.push_back(ping(next_in));
                next_in += 1;
            }
            for _ in 0..(round % 3 + 1) {
                match popped(&mut queue) {
                    Some(n) => {
                        assert_eq!(n, next_out);
                        next_out += 1;
                    }
                    None => assert_eq!(next_out, next_in),
                }
            }
            assert_eq!(queue.len(), usize::from(next_in - next_out));
        }
        while let Some(n) = popped(&mut queue) {
            assert_eq!(n, next_out);
            next_out += 1;
        }
        assert_eq!(next_out, next_in);
    }

    #[test]
    fn release_frees_an_empty_deque_only() {
        let mut queue = EventQueue::default();
        queue.push_back(ping(0));
        queue.push_back(ping(1));
        queue.push_back(ping(2));
        assert!(queue.allocated());
        assert_eq!(popped(&mut queue), Some(0));
        queue.release();
        assert!(queue.allocated(), "events still wait in the deque");
        assert_eq!(popped(&mut queue), Some(1));
        assert_eq!(popped(&mut queue), Some(2));
        assert!(queue.allocated(), "a small deque is kept while busy");
        queue.release();
        assert!(!queue.allocated());
    }

    #[test]
    fn a_burst_larger_than_retained_is_freed_when_it_empties() {
        let mut queue = EventQueue::default();
        for n in 0..=RETAINED_EVENTS as u8 + 1 {
            queue.push_back(ping(n));
        }
        while popped(&mut queue).is_some() {}
        assert!(!queue.allocated());
        // A message event goes through the slot like any other.
        queue.push_back(Event::Message(Message::Binary(Bytes::new())));
        assert!(matches!(queue.pop_front(), Some(Event::Message(_))));
    }
}
