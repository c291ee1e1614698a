//! The fake Slack Web API of the tests (tests/src/slack.rs) as a process, for bench/slack.py:
//! prints `{"api_url": ..., "origin": ...}` on one line, then serves until killed.
//!
//! Environment: `FAKE_SLACK_TOKEN` (the bot token it accepts), `FAKE_SLACK_HISTORY` (messages in
//! #general; default 100), `FAKE_SLACK_CHANNELS` (public channels beyond the fixed six; default 50).

use pier_e2e::slack::FakeSlack;

fn number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let token = std::env::var("FAKE_SLACK_TOKEN").unwrap_or_else(|_| "xoxb-bench".into());
    let channels = usize::try_from(number("FAKE_SLACK_CHANNELS", 50)).unwrap_or(50);
    let sl = FakeSlack::with(
        &token,
        "xoxp-unused",
        channels,
        number("FAKE_SLACK_HISTORY", 100),
    );
    println!(
        "{}",
        serde_json::json!({"api_url": sl.api_url(), "origin": sl.origin()})
    );
    loop {
        std::thread::park();
    }
}
