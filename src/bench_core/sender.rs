//! One sender of `bench core`: which conversations it writes to, what it
//! sends, and how each answer is counted.

use super::*;

/// One sender: its index, its conversations, how many it has sent.
pub(super) struct Sender {
    pub(super) index: usize,
    pub(super) conversations: Vec<usize>,
    pub(super) sent: u64,
    pub(super) tally: Tally,
}

impl Sender {
    pub(super) fn new(index: usize, concurrency: usize, pairs: usize, seconds: usize) -> Self {
        let conversations = if pairs >= concurrency {
            (index..pairs).step_by(concurrency).collect()
        } else {
            vec![index % pairs]
        };
        Self {
            index,
            conversations,
            sent: 0,
            tally: Tally {
                slices: vec![0; seconds],
                ..Tally::default()
            },
        }
    }

    /// Sends the next message, counted by `at` (when it started, or in the
    /// open loop when it was due). False if it was refused as overloaded.
    pub(super) async fn send(&mut self, plan: &Plan, at: Instant) -> bool {
        let n = self.sent;
        self.sent += 1;
        // Round the sender's conversations; each round the other side speaks.
        let rounds = self.conversations.len() as u64;
        let conversation = self.conversations[(n % rounds) as usize];
        let side = ((n / rounds) % 2) as usize;
        let target = &plan.conversations[conversation];
        let input = SendInput {
            kind_given: true,
            files: Vec::new(),
            kind: MessageType::Text,
            content: Some(format!(
                "bench core {} {n}: the stars are aligned for a quick reply",
                self.index
            )),
            media_url: None,
            metadata: None,
            reply_to: None,
            client_msg_id: Some(format!("{}-s{}-{n}", plan.run, self.index)),
        };
        let started = Instant::now();
        let result = plan
            .core
            .send_message(&target.sides[side], target.id, input)
            .await;
        let end = Instant::now();
        let tally = &mut self.tally;
        let in_window = at >= plan.t0 && at < plan.t1;
        match result {
            Ok(message) => {
                tally.acks.push(Ack {
                    conversation,
                    seq: message.seq,
                    id: message.id,
                });
                if in_window {
                    tally.latencies.push(micros(end - at));
                    if plan.open {
                        tally.service.push(micros(end - started));
                    }
                    let second = (at - plan.t0).as_secs() as usize;
                    if let Some(slot) = tally.slices.get_mut(second.min(plan.seconds - 1)) {
                        *slot += 1;
                    }
                } else if at < plan.t0 {
                    tally.warmup_accepted += 1;
                }
                true
            }
            Err(err) if err.code() == "overloaded" => {
                if in_window {
                    tally.overloaded += 1;
                }
                false
            }
            Err(err) => {
                if in_window {
                    *tally.errors.entry(err.code()).or_default() += 1;
                } else {
                    tally.errors_outside += 1;
                }
                true
            }
        }
    }
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}
