//! Group commit (issue 12). PostgreSQL spends much of a small write's cost starting its statement and committing,
//! not writing rows; so writes that arrive while earlier groups are being written wait in a queue, and the next
//! group takes them all: one statement (or transaction) and one commit for the lot. A write alone is a group of
//! one, written at once. What a group writes, and what each of its callers is answered, is the [`GroupWriter`]'s.
//!
//! A group runs in a task of its own: a caller that hangs up does not cancel it halfway.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot, Semaphore};

/// Writes a group of items, answering each.
pub trait GroupWriter: Clone + Send + Sync + 'static {
    type Item: Send + 'static;
    type Answer: Send + 'static;
    /// What names this queue in log lines.
    const NAME: &'static str;
    /// Groups written at the same time: enough to keep PostgreSQL busy while groups wait for their commits' fsync,
    /// few enough that groups stay large.
    const IN_FLIGHT: usize;
    /// The most items in one group.
    const MAX_GROUP: usize;
    /// The answer when the item could not be given to a group at all (nothing was written for it).
    fn not_written() -> Self::Answer;
    /// Writes `items` as one group and answers each, in order.
    fn write(&self, items: Vec<Self::Item>) -> impl Future<Output = Vec<Self::Answer>> + Send;
}

/// Items waiting for a group; a caller beyond that waits to be queued.
const QUEUE: usize = 4096;

struct Job<W: GroupWriter> {
    item: W::Item,
    reply: oneshot::Sender<W::Answer>,
}

/// The queue of items waiting for a group; its dispatcher task is started on first use, on the runtime of its
/// caller, and ends when every clone of this handle is gone.
pub struct Groups<W: GroupWriter> {
    writer: W,
    queue: Arc<OnceLock<mpsc::Sender<Job<W>>>>,
}

impl<W: GroupWriter> Clone for Groups<W> {
    fn clone(&self) -> Self {
        Groups {
            writer: self.writer.clone(),
            queue: self.queue.clone(),
        }
    }
}

impl<W: GroupWriter> Groups<W> {
    pub fn new(writer: W) -> Groups<W> {
        Groups {
            writer,
            queue: Arc::default(),
        }
    }

    /// Writes `item` in the next group and returns its answer once its group is committed (or rolled back).
    pub async fn write(&self, item: W::Item) -> W::Answer {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(QUEUE);
            tokio::spawn(dispatch(receiver, self.writer.clone()));
            sender
        });
        let (reply, answer) = oneshot::channel();
        if queue.send(Job { item, reply }).await.is_err() {
            // The dispatcher is gone (its runtime shut down): every item takes the slower path, so say so.
            tracing::warn!(queue = W::NAME, "group queue stopped: general path");
            return W::not_written();
        }
        // A group that failed without answering (a panic) wrote nothing.
        answer.await.unwrap_or_else(|_| {
            tracing::warn!(
                queue = W::NAME,
                "group ended without an answer: general path"
            );
            W::not_written()
        })
    }
}

/// Takes, whenever a group may start, every item waiting (up to the writer's `MAX_GROUP`) as the next group.
async fn dispatch<W: GroupWriter>(mut receiver: mpsc::Receiver<Job<W>>, writer: W) {
    let in_flight = Arc::new(Semaphore::new(W::IN_FLIGHT));
    loop {
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = receiver.recv().await else {
            return;
        };
        let mut jobs = vec![first];
        while jobs.len() < W::MAX_GROUP {
            match receiver.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let writer = writer.clone();
        tokio::spawn(async move {
            let (items, replies): (Vec<W::Item>, Vec<oneshot::Sender<W::Answer>>) =
                jobs.into_iter().map(|job| (job.item, job.reply)).unzip();
            let answers = writer.write(items).await;
            for (reply, answer) in replies.into_iter().zip(answers) {
                // The caller may be gone (its connection closed): the item is committed or not either way.
                let _ = reply.send(answer);
            }
            drop(permit);
        });
    }
}
