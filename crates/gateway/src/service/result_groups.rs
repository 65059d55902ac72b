//! Group commit for results from an allow-listed notifier (issue 12). PostgreSQL spends most of a result's cost
//! starting statements and committing, not writing rows; so the results that arrive while earlier groups are being
//! written wait in a queue, and the next group takes them all: one transaction, one commit, and each statement
//! writing the rows of all of them ([`Store::apply_with_messages`]). A result alone is a group of one, written at
//! once.
//!
//! Nothing of a rule changes: each result keeps its own decision, its raw message is committed with its effect,
//! its answer (`OK` to the notifier) waits for that commit, and a result the group cannot take (or a group that
//! cannot be written whole, or a database error) answers `NotHere`, so that the general path stores it raw first
//! and decides it alone. A group runs in a task of its own: a notifier hanging up does not cancel it halfway.

use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot, Semaphore};

use super::render_order;
use crate::store::results::{AppliedAtOnce, ResultAtOnce};
use crate::store::{OrderRecord, Store};

/// Groups written at the same time: enough to keep PostgreSQL busy while groups wait for their commits' fsync, few
/// enough that groups stay large. Measured with `scripts/bench.sh` (16 concurrent informs, 2 cores): 2 groups
/// 1,704 informs/s, 4 groups 1,942/s, 8 groups 1,608/s.
const GROUPS_IN_FLIGHT: usize = 4;
/// The most results in one group (its statement's arrays).
const MAX_GROUP: usize = 64;
/// Results waiting for a group; a notifier beyond that waits to be queued.
const QUEUE: usize = 4096;

struct Job {
    item: ResultAtOnce,
    reply: oneshot::Sender<AppliedAtOnce>,
}

/// The queue of results waiting for a group; its dispatcher task is started on first use, on the runtime of its
/// caller, and ends when every clone of this handle is gone.
#[derive(Clone)]
pub struct ResultGroups {
    store: Store,
    /// For the order shown in the events a group writes.
    public_url: Arc<str>,
    queue: Arc<OnceLock<mpsc::Sender<Job>>>,
}

impl ResultGroups {
    pub fn new(store: Store, public_url: &str) -> ResultGroups {
        ResultGroups {
            store,
            public_url: public_url.into(),
            queue: Arc::default(),
        }
    }

    /// Applies `item` in the next group and returns what became of it once its group is committed (or rolled back).
    pub async fn apply(&self, item: ResultAtOnce) -> AppliedAtOnce {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            tokio::spawn(dispatch(
                receiver,
                self.store.clone(),
                self.public_url.clone(),
            ));
            sender
        });
        let (reply, answer) = oneshot::channel();
        if queue.send(Job { item, reply }).await.is_err() {
            // The dispatcher is gone (its runtime shut down): every result takes the slower path, so say so.
            tracing::warn!("result groups stopped: general path");
            return AppliedAtOnce::NotHere;
        }
        // A group that failed without answering (a panic) wrote nothing: the general path decides.
        answer.await.unwrap_or_else(|_| {
            tracing::warn!("result group ended without an answer: general path");
            AppliedAtOnce::NotHere
        })
    }
}

/// Takes, whenever a group may start, every result waiting (up to [`MAX_GROUP`]) as the next group.
async fn dispatch(mut receiver: mpsc::Receiver<Job>, store: Store, public_url: Arc<str>) {
    let in_flight = Arc::new(Semaphore::new(GROUPS_IN_FLIGHT));
    loop {
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = receiver.recv().await else {
            return;
        };
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let store = store.clone();
        let public_url = public_url.clone();
        tokio::spawn(async move {
            write_group(&store, &public_url, jobs).await;
            drop(permit);
        });
    }
}

async fn write_group(store: &Store, public_url: &str, jobs: Vec<Job>) {
    let (items, replies): (Vec<ResultAtOnce>, Vec<oneshot::Sender<AppliedAtOnce>>) =
        jobs.into_iter().map(|job| (job.item, job.reply)).unzip();
    let render = |record: &OrderRecord| render_order(record, public_url);
    let answers = match store.apply_with_messages(&items, &render).await {
        Ok(answers) => answers,
        Err(e) => {
            // Nothing was committed: the general path stores each message (or finds the database down). A warning,
            // not a debug line: if this failed for every group, all results would quietly take the slower path,
            // and only this line would say so.
            tracing::warn!(error = %e, results = items.len(), "results not applied as a group: general path");
            vec![AppliedAtOnce::NotHere; items.len()]
        }
    };
    for (reply, answer) in replies.into_iter().zip(answers) {
        // The caller may be gone (its connection closed): the result is committed or not either way.
        let _ = reply.send(answer);
    }
}
