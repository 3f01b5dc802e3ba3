//! A `/chat` client for the tests: joins, reads the server's JSON, says things.

use serde_json::Value;
use switchyard::{ClientStream, Message, WebSocket, connect};

pub struct Chat {
    pub ws: WebSocket<ClientStream>,
    /// The `joined` object the server sent first.
    pub joined: Value,
}

impl Chat {
    /// Connects to `url` (a `ws://.../chat...` URL) and reads `joined`.
    pub async fn join(url: &str) -> Chat {
        let (ws, _) = connect(url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
        let mut chat = Chat {
            ws,
            joined: Value::Null,
        };
        chat.joined = chat.next().await;
        assert_eq!(chat.joined["type"], "joined", "{}", chat.joined);
        chat
    }

    pub fn epoch(&self) -> String {
        self.joined["epoch"].as_str().unwrap().to_owned()
    }

    pub fn seq(&self) -> u64 {
        self.joined["seq"].as_u64().unwrap()
    }

    pub fn recovered(&self) -> bool {
        self.joined["recovered"].as_bool().unwrap()
    }

    /// The next JSON object the server sends.
    pub async fn next(&mut self) -> Value {
        match self.ws.recv().await {
            Some(Ok(Message::Text(text))) => serde_json::from_str(text.as_str()).unwrap(),
            other => panic!("expected a JSON text message, got {other:?}"),
        }
    }

    /// The next `n` messages as `(seq, text)`, checking each is a `message`.
    pub async fn messages(&mut self, n: usize) -> Vec<(u64, String)> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let value = self.next().await;
            assert_eq!(value["type"], "message", "{value}");
            out.push((
                value["seq"].as_u64().unwrap(),
                value["text"].as_str().unwrap().to_owned(),
            ));
        }
        out
    }

    pub async fn say(&mut self, text: &str) {
        self.ws.send(Message::Text(text.into())).await.unwrap();
    }
}

/// `(seq, text)` pairs' seqs.
pub fn seqs(messages: &[(u64, String)]) -> Vec<u64> {
    messages.iter().map(|(seq, _)| *seq).collect()
}
