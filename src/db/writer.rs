//! How writes are committed.
//!
//! On SQLite, an acknowledged write must be on disk, and one fsync costs
//! milliseconds. A single task owns the one connection that writes: it takes
//! every write queued while the previous commit was being flushed, runs them
//! one after the other in one transaction, and commits them together with
//! one fsync (group commit, as PostgreSQL does for concurrent commits). Each
//! caller learns the outcome of its own write only after that commit.
//!
//! A write refused by a constraint (a taken username) fails alone: SQLite
//! undoes the failing statement and keeps the transaction, so the others
//! commit. This is why a write must be one statement, or wrap its
//! statements in a nested transaction (a savepoint) of its own. Any other
//! failure could have ended the transaction, so the whole batch is rolled
//! back and every write in it reported failed: nothing is acknowledged that
//! was not committed.
//!
//! On PostgreSQL every write is a transaction on a pooled connection; the
//! server groups concurrent commits itself.

use std::sync::{Arc, Mutex};

use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr, RuntimeErr, SqlErr};

use tokio::sync::{Notify, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{BoxFuture, begin_write};

/// More writes than this wait for the next commit, to bound its latency.
const MAX_BATCH: usize = 256;
/// Writes queued beyond this make callers wait (backpressure).
const QUEUE: usize = 4096;

pub enum Writer {
    Direct,
    GroupCommit {
        queue: mpsc::Sender<Job>,
        /// Tells the task to commit what is queued and stop.
        stop: Arc<Notify>,
        task: Mutex<Option<JoinHandle<()>>>,
    },
}

/// One queued write. It is given the transaction to run in, or the error
/// that prevented the batch from starting.
pub struct Job(Run);

type Run = Box<dyn for<'t> FnOnce(Result<&'t DatabaseTransaction, &'t DbErr>) -> BoxFuture<'t, Done> + Send>;

/// A write that ran: how it went, and how to tell its caller the final
/// outcome once the batch has committed (or failed to).
struct Done {
    outcome: Outcome,
    notify: Deliver,
}

enum Outcome {
    Succeeded,
    /// Refused by a constraint; the transaction goes on without it.
    Refused,
    /// Failed in a way that may have ended the transaction.
    Failed(String),
}

/// Delivers a write's outcome, given the outcome of its batch's commit.
type Deliver = Box<dyn FnOnce(Result<(), &DbErr>) + Send>;

impl Writer {
    pub fn group_commit(conn: DatabaseConnection) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let stop = Arc::new(Notify::new());
        let task = tokio::spawn(run(conn, receiver, stop.clone()));
        Self::GroupCommit { queue, stop, task: Mutex::new(Some(task)) }
    }

    pub async fn write<T, F>(&self, pool: &DatabaseConnection, work: F) -> Result<T, DbErr>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<T, DbErr>> + Send + 'static,
    {
        match self {
            Self::Direct => {
                let txn = super::begin_write(pool).await?;
                let value = work(&txn).await?;
                txn.commit().await?;
                Ok(value)
            }
            Self::GroupCommit { queue, .. } => {
                let (sender, receiver) = oneshot::channel();
                queue.send(job(work, sender)).await.map_err(|_| stopped())?;
                receiver.await.map_err(|_| stopped())?
            }
        }
    }

    pub fn write_detached<F>(&self, pool: &DatabaseConnection, what: &'static str, work: F)
    where
        F: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<(), DbErr>> + Send + 'static,
    {
        let log = move |result: Result<(), DbErr>| {
            if let Err(e) = result {
                tracing::warn!(error = %e, "background write failed: {what}");
            }
        };
        match self {
            Self::Direct => {
                let pool = pool.clone();
                tokio::spawn(async move {
                    let result = async {
                        let txn = super::begin_write(&pool).await?;
                        work(&txn).await?;
                        txn.commit().await
                    };
                    log(result.await);
                });
            }
            Self::GroupCommit { queue, .. } => {
                let (sender, receiver) = oneshot::channel();
                // A full queue means the server is saturated with writes;
                // bookkeeping is the thing to drop then.
                if queue.try_send(job(work, sender)).is_ok() {
                    tokio::spawn(async move { log(receiver.await.unwrap_or_else(|_| Err(stopped()))) });
                }
            }
        }
    }

    pub async fn close(&self) {
        if let Self::GroupCommit { stop, task, .. } = self {
            stop.notify_one();
            let task = task.lock().ok().and_then(|mut task| task.take());
            if let Some(task) = task
                && let Err(e) = task.await
            {
                tracing::error!(error = %e, "the database writer stopped abnormally");
            }
        }
    }
}

fn stopped() -> DbErr {
    DbErr::Conn(RuntimeErr::Internal("the database writer has stopped".into()))
}

/// An error for a write that shares a batch with the one that failed.
fn copy(error: &DbErr) -> DbErr {
    DbErr::Conn(RuntimeErr::Internal(format!("the commit failed: {error}")))
}

fn job<T, F>(work: F, sender: oneshot::Sender<Result<T, DbErr>>) -> Job
where
    T: Send + 'static,
    F: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<T, DbErr>> + Send + 'static,
{
    Job(Box::new(move |txn| {
        Box::pin(async move {
            let outcome = match txn {
                Ok(txn) => work(txn).await,
                Err(error) => Err(copy(error)),
            };
            match outcome {
                Ok(value) => Done {
                    outcome: Outcome::Succeeded,
                    notify: Box::new(move |committed| {
                        let _ = sender.send(committed.map(|()| value).map_err(copy));
                    }),
                },
                Err(error) => {
                    let refused = matches!(
                        error.sql_err(),
                        Some(SqlErr::UniqueConstraintViolation(_) | SqlErr::ForeignKeyConstraintViolation(_))
                    );
                    let outcome = if refused { Outcome::Refused } else { Outcome::Failed(error.to_string()) };
                    Done {
                        outcome,
                        notify: Box::new(move |_| {
                            let _ = sender.send(Err(error));
                        }),
                    }
                }
            }
        })
    }))
}

async fn run(conn: DatabaseConnection, mut queue: mpsc::Receiver<Job>, stop: Arc<Notify>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        tokio::select! {
            received = queue.recv_many(&mut batch, MAX_BATCH) => {
                if received == 0 {
                    break;
                }
                commit_batch(&conn, std::mem::take(&mut batch)).await;
            }
            () = stop.notified() => {
                // Refuse new writes, then commit those already queued.
                queue.close();
                while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
                    commit_batch(&conn, std::mem::take(&mut batch)).await;
                }
                break;
            }
        }
    }
    if let Err(e) = conn.close().await {
        tracing::warn!(error = %e, "closing the database writer");
    }
}

async fn commit_batch(conn: &DatabaseConnection, jobs: Vec<Job>) {
    let txn = match begin_write(conn).await {
        Ok(txn) => txn,
        Err(error) => {
            tracing::error!(error = %error, "cannot begin a write transaction");
            return abandon(jobs, &error).await;
        }
    };
    let mut finished = Vec::with_capacity(jobs.len());
    let mut jobs = jobs.into_iter();
    let mut failure = None;
    for Job(run) in jobs.by_ref() {
        let done = run(Ok(&txn)).await;
        if let Outcome::Failed(message) = &done.outcome {
            failure = Some(DbErr::Conn(RuntimeErr::Internal(format!(
                "a write in the same commit failed: {message}"
            ))));
        }
        finished.push(done);
        if failure.is_some() {
            break;
        }
    }
    let committed = match failure {
        None if finished.iter().all(|d| !matches!(d.outcome, Outcome::Succeeded)) => txn.rollback().await,
        None => txn.commit().await,
        Some(error) => {
            if let Err(e) = txn.rollback().await {
                tracing::error!(error = %e, "rolling back a failed group commit");
            }
            Err(error)
        }
    };
    if let Err(error) = &committed {
        tracing::error!(error = %error, writes = finished.len(), "a group commit failed");
        abandon(jobs.collect(), error).await;
    }
    for done in finished {
        (done.notify)(committed.as_ref().map(|_| ()));
    }
}

/// Tells writes that never ran why.
async fn abandon(jobs: Vec<Job>, error: &DbErr) {
    for Job(run) in jobs {
        let done = run(Err(error)).await;
        (done.notify)(Err(error));
    }
}
