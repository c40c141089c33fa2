//! The senders' loops: closed (back to back) and open (a fixed arrival rate).

use super::*;

/// The open loop's own figures.
pub(super) struct OpenFigures {
    pub(super) rate: u32,
    pub(super) max_backlog: usize,
    pub(super) not_sent: u64,
}

pub(super) async fn join(mut tasks: JoinSet<Tally>) -> AppResult<Tally> {
    let mut total = Tally::default();
    while let Some(joined) = tasks.join_next().await {
        total.merge(joined.map_err(|err| AppError::Internal(err.into()))?);
    }
    Ok(total)
}

pub(super) async fn closed_loop(
    plan: &Arc<Plan>,
    senders: impl Iterator<Item = Sender>,
    db_pid: Option<u32>,
) -> AppResult<([Probe; 2], Tally, Option<OpenFigures>)> {
    let mut tasks = JoinSet::new();
    for mut sender in senders {
        let plan = plan.clone();
        tasks.spawn(async move {
            loop {
                let at = Instant::now();
                if at >= plan.t1 {
                    return sender.tally;
                }
                if !sender.send(&plan, at).await {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        });
    }
    let probes = window_probes(plan, db_pid).await;
    Ok((probes, join(tasks).await?, None))
}

pub(super) async fn open_loop(
    plan: &Arc<Plan>,
    senders: impl Iterator<Item = Sender>,
    start: Instant,
    rate: u32,
    db_pid: Option<u32>,
) -> AppResult<([Probe; 2], Tally, Option<OpenFigures>)> {
    let abandon = Arc::new(AtomicBool::new(false));
    let mut queues = Vec::new();
    let mut tasks = JoinSet::new();
    for mut sender in senders {
        let (push, mut arrivals) = mpsc::unbounded_channel::<Instant>();
        let depth = Arc::new(AtomicUsize::new(0));
        queues.push((push, depth.clone()));
        let (plan, abandon) = (plan.clone(), abandon.clone());
        tasks.spawn(async move {
            while let Some(at) = arrivals.recv().await {
                depth.fetch_sub(1, Ordering::Relaxed);
                if abandon.load(Ordering::Relaxed) {
                    if at >= plan.t0 && at < plan.t1 {
                        sender.tally.not_sent += 1;
                    }
                    continue;
                }
                sender.send(&plan, at).await;
            }
            sender.tally
        });
    }
    // Arrival k is due at start + k / rate, up to the window's end.
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let total = ((plan.t1 - start).as_secs_f64() * f64::from(rate)).ceil() as u64;
    let generator = {
        let plan = plan.clone();
        tokio::spawn(async move {
            let mut next = 0u64;
            let mut max_backlog = 0;
            loop {
                let now = Instant::now().min(plan.t1);
                let due =
                    (((now - start).as_secs_f64() / interval.as_secs_f64()) as u64 + 1).min(total);
                for k in next..due {
                    let (push, depth) = &queues[(k % queues.len() as u64) as usize];
                    // Queued behind the one in progress.
                    max_backlog = max_backlog.max(depth.fetch_add(1, Ordering::Relaxed));
                    let _ = push.send(start + interval.mul_f64(k as f64));
                }
                next = due;
                if next >= total {
                    // Dropping the queues lets the senders end once drained.
                    return max_backlog;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    let probes = window_probes(plan, db_pid).await;
    let max_backlog = generator
        .await
        .map_err(|err| AppError::Internal(err.into()))?;
    // The queues drain for up to max(10, S) seconds; then the rest is
    // abandoned (each sender finishes the send it is in).
    let deadline = Instant::now() + Duration::from_secs(plan.seconds.max(10) as u64);
    let mut tally = Tally::default();
    loop {
        match tokio::time::timeout_at(deadline.into(), tasks.join_next()).await {
            Ok(Some(joined)) => tally.merge(joined.map_err(|err| AppError::Internal(err.into()))?),
            Ok(None) => break,
            Err(_) => {
                abandon.store(true, Ordering::Relaxed);
                break;
            }
        }
    }
    tally.merge(join(tasks).await?);
    let not_sent = tally.not_sent;
    Ok((
        probes,
        tally,
        Some(OpenFigures {
            rate,
            max_backlog,
            not_sent,
        }),
    ))
}
