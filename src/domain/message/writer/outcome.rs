//! What a batch's sends are told: after a commit, the events and the
//! answers; after a failure, each send written alone, or its error.

use super::*;

impl Task {
    #[tracing::instrument(skip_all, fields(sends = batch.len()))]
    pub(super) async fn process(&self, mut batch: Vec<Job>) {
        let started = std::time::Instant::now();
        if self.limits.is_shared() {
            self.count_shared(&mut batch).await;
        }
        let careful = self.memory.reads_client_ids();
        let mut outcome = self.commit(&mut batch, careful).await;
        // A client id already stored (a resend the batch did not look up):
        // written again, reading them.
        if !careful
            && matches!(&outcome, Err(Failure::Statement(err)) if is_unique_violation(err, "uq_messages_client"))
        {
            self.memory.resend_found();
            outcome = self.commit(&mut batch, true).await;
        }
        metrics::histogram!("samvad_send_batch_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        let label = if outcome.is_ok() {
            "committed"
        } else {
            "failed"
        };
        metrics::counter!("samvad_send_batches_total", "outcome" => label).increment(1);
        match outcome {
            Ok(verdicts) => {
                let new = verdicts
                    .iter()
                    .filter(|(v, _)| matches!(v, Verdict::New(_)))
                    .count();
                metrics::counter!("samvad_messages_committed_total").increment(new as u64);
                self.answer(batch, verdicts).await
            }
            // A statement refused (a key, a trigger, a deadlock): one send
            // may be the cause, so each is written alone.
            Err(Failure::Statement(err @ sqlx::Error::Database(_))) if batch.len() > 1 => {
                tracing::warn!(error = %err, sends = batch.len(), "a batch failed; writing its sends one by one");
                for job in batch {
                    self.write_alone(job).await;
                }
            }
            Err(Failure::Down) => {
                for job in batch {
                    let _ = job.reply.send(Err(AppError::unreachable()));
                }
            }
            // The database is out of reach (or one send failed alone):
            // every send gets the error at once, none is retried here.
            Err(Failure::Statement(err)) => {
                let unreachable = is_unreachable(&err);
                let mut first = Some(AppError::from(err));
                for job in batch {
                    let err = first.take().unwrap_or_else(|| {
                        if unreachable {
                            AppError::unreachable()
                        } else {
                            AppError::Internal(anyhow::anyhow!("the batch of this send failed"))
                        }
                    });
                    let _ = job.reply.send(Err(err));
                }
            }
            Err(Failure::Commit(err)) => {
                tracing::error!(error = %err, sends = batch.len(), "a batch's commit failed");
                for job in batch {
                    let _ = job.reply.send(Err(AppError::Unavailable(
                        "the database did not confirm the write; send again with the same clientMsgId"
                            .into(),
                    )));
                }
            }
        }
    }

    /// One send on its own, after its batch failed. A duplicate client id
    /// that raced in from another writer is found by a second attempt.
    async fn write_alone(&self, mut job: Job) {
        for attempt in 0..2 {
            match self.commit(std::slice::from_mut(&mut job), true).await {
                Ok(verdicts) => return self.answer(vec![job], verdicts).await,
                Err(Failure::Statement(err))
                    if attempt == 0
                        && (is_unique_violation(&err, "uq_messages_client")
                            || is_deadlock(&err)) => {}
                Err(Failure::Statement(err) | Failure::Commit(err)) => {
                    return self.refuse(job, err);
                }
                Err(Failure::Down) => {
                    let _ = job.reply.send(Err(AppError::unreachable()));
                    return;
                }
            }
        }
    }

    fn refuse(&self, job: Job, err: sqlx::Error) {
        let _ = job.reply.send(Err(err.into()));
    }

    /// Publishes the events of the new messages, in order, then answers.
    async fn answer(&self, batch: Vec<Job>, verdicts: Verdicts) {
        for (job, (verdict, members)) in batch.into_iter().zip(verdicts) {
            let answer = match verdict {
                Verdict::New(message) => {
                    self.events
                        .publish(DomainEvent::MessageCreated {
                            message: Arc::new(message.clone()),
                            members: members.unwrap_or_else(|| Arc::from(vec![])),
                            sender_kind: job.draft.sender_kind,
                        })
                        .await;
                    Ok(message)
                }
                Verdict::Resent(message) => Ok(message),
                Verdict::Refused(err) => Err(err),
            };
            let _ = job.reply.send(answer);
        }
    }
}
