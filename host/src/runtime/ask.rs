//! What `host.ask` hands the MCP face, and what comes back. The runtime knows nothing of MCP's
//! transports or protocol generations: it parses the plugin's questions into [`Question`]s, gives
//! them to the call's [`Asker`], and turns the [`Asked`] into the answer the plugin sees, or into
//! the end of this run of the call when the answers must come in a later request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::bindings::pier::mcp::host::{AskError, InputRequest};

/// One question as MCP's request: its method and parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// The plugin's key for it (unique within one `ask`).
    pub key: String,
    /// `elicitation/create`, `sampling/createMessage` or `roots/list`.
    pub method: &'static str,
    /// The request's `params` object.
    pub params: serde_json::Value,
}

pub const ELICIT: &str = "elicitation/create";
pub const SAMPLE: &str = "sampling/createMessage";
pub const LIST_ROOTS: &str = "roots/list";
/// The most questions one `ask` may carry (each is a request to the client, or an entry of the
/// result's `inputRequests`).
pub const MAX_QUESTIONS: usize = 16;

/// How an ask ended.
pub enum Asked {
    /// Every answer, as MCP result JSON, in the order asked.
    Answered(Vec<(String, String)>),
    /// The plugin gets this error.
    Refused(AskError),
    /// The client cannot answer a required question: the call ends with MCP's
    /// missing-capability error, naming it.
    MissingCapability(String),
    /// The answers come with a later request (2026-07-28): this run of the call ends and the
    /// client is handed these questions.
    Later(Vec<Question>),
}

/// How the MCP face asks the call's client.
pub trait Asker: Send + Sync {
    fn ask(
        &self,
        questions: Vec<Question>,
        required: bool,
    ) -> Pin<Box<dyn Future<Output = Asked> + Send + 'static>>;
}

/// Why a run of a call stopped inside `host.ask` instead of answering.
#[derive(Debug, Clone)]
pub enum Interrupted {
    Later(Vec<Question>),
    MissingCapability(String),
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Interrupted::Later(_) => f.write_str("pier: the call waits for the client's answers"),
            Interrupted::MissingCapability(c) => write!(f, "pier: the client cannot answer ({c})"),
        }
    }
}

impl std::error::Error for Interrupted {}

/// Parses the plugin's questions: valid JSON objects, unique keys, at least one.
pub fn questions(raw: Vec<(String, InputRequest)>) -> Result<Vec<Question>, AskError> {
    if raw.is_empty() {
        return Err(AskError::Invalid("ask needs at least one question".into()));
    }
    if raw.len() > MAX_QUESTIONS {
        return Err(AskError::Invalid(format!(
            "ask carries {} questions; at most {MAX_QUESTIONS} at once",
            raw.len()
        )));
    }
    let mut out: Vec<Question> = Vec::with_capacity(raw.len());
    for (key, request) in raw {
        if key.is_empty() || key.len() > 128 {
            return Err(AskError::Invalid(format!(
                "question key {key:?}: give a name of 1 to 128 characters"
            )));
        }
        if out.iter().any(|q| q.key == key) {
            return Err(AskError::Invalid(format!(
                "question key {key:?} is used twice in one ask"
            )));
        }
        let object = |what: &str, json: &str| -> Result<serde_json::Value, AskError> {
            match serde_json::from_str::<serde_json::Value>(json) {
                Ok(v @ serde_json::Value::Object(_)) => Ok(v),
                Ok(_) => Err(AskError::Invalid(format!(
                    "question {key:?}: the {what} parameters must be a JSON object"
                ))),
                Err(e) => Err(AskError::Invalid(format!(
                    "question {key:?}: the {what} parameters are not JSON: {e}"
                ))),
            }
        };
        let (method, params) = match &request {
            InputRequest::Elicit(json) => (ELICIT, object("elicit", json)?),
            InputRequest::Sample(json) => (SAMPLE, object("sample", json)?),
            InputRequest::ListRoots => (LIST_ROOTS, serde_json::json!({})),
        };
        out.push(Question {
            key,
            method,
            params,
        });
    }
    Ok(out)
}

/// Time a call spent waiting for its client, which does not count against its time limit: a
/// person answering a form must not make the plugin look stuck.
#[derive(Default)]
pub struct WaitClock {
    /// Asks in flight.
    asking: AtomicU32,
    /// Time spent in finished asks.
    waited: Mutex<Duration>,
}

impl WaitClock {
    pub fn start(&self) -> Instant {
        self.asking.fetch_add(1, Ordering::AcqRel);
        Instant::now()
    }

    pub fn stop(&self, started: Instant) {
        if let Ok(mut w) = self.waited.lock() {
            *w += started.elapsed();
        }
        self.asking.fetch_sub(1, Ordering::AcqRel);
    }

    pub fn waited(&self) -> Duration {
        self.waited.lock().map(|w| *w).unwrap_or_default()
    }

    pub fn is_asking(&self) -> bool {
        self.asking.load(Ordering::Acquire) > 0
    }
}

/// Runs `work` for at most `limit` of its own time: time the clock counts as waiting for the
/// client is added to the limit. `None` when the limit ran out.
pub async fn within<F: Future>(limit: Duration, clock: &WaitClock, work: F) -> Option<F::Output> {
    let started = tokio::time::Instant::now();
    tokio::pin!(work);
    loop {
        let deadline = started + limit + clock.waited();
        tokio::select! {
            out = &mut work => return Some(out),
            () = tokio::time::sleep_until(deadline) => {
                if clock.is_asking() {
                    // Counted when the ask ends; look again shortly, still driving the work.
                    tokio::select! {
                        out = &mut work => return Some(out),
                        () = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                } else if tokio::time::Instant::now() >= started + limit + clock.waited() {
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_are_checked() {
        let q = |k: &str, r| (k.to_string(), r);
        assert!(matches!(questions(vec![]), Err(AskError::Invalid(_))));
        let many = (0..=MAX_QUESTIONS)
            .map(|i| q(&i.to_string(), InputRequest::ListRoots))
            .collect();
        assert!(matches!(questions(many), Err(AskError::Invalid(m)) if m.contains("at most")));
        let twice = questions(vec![
            q("a", InputRequest::ListRoots),
            q("a", InputRequest::ListRoots),
        ]);
        assert!(matches!(twice, Err(AskError::Invalid(m)) if m.contains("twice")));
        let bad = questions(vec![q("a", InputRequest::Elicit("[1]".into()))]);
        assert!(matches!(bad, Err(AskError::Invalid(m)) if m.contains("JSON object")));
        let ok = questions(vec![
            q("who", InputRequest::Elicit(r#"{"message":"Name?"}"#.into())),
            q("roots", InputRequest::ListRoots),
        ])
        .unwrap_or_default();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[0].method, ELICIT);
        assert_eq!(ok[1].params, serde_json::json!({}));
    }

    #[tokio::test]
    async fn waiting_for_the_client_does_not_count() {
        let clock = std::sync::Arc::new(WaitClock::default());
        let c = clock.clone();
        let work = async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let t = c.start();
            tokio::time::sleep(Duration::from_millis(400)).await;
            c.stop(t);
            tokio::time::sleep(Duration::from_millis(50)).await;
            7
        };
        assert_eq!(
            within(Duration::from_millis(200), &clock, work).await,
            Some(7)
        );
        let fresh = WaitClock::default();
        let stuck = within(
            Duration::from_millis(200),
            &fresh,
            tokio::time::sleep(Duration::from_millis(600)),
        );
        assert_eq!(stuck.await, None);
    }
}
