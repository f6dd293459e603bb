//! How writes are committed.
//!
//! On SQLite, an acknowledged write must be on disk, and one fsync costs
//! milliseconds. A single task owns the one connection that writes: it takes
//! every write queued while the previous commit was being flushed, runs each
//! in a savepoint of one transaction, and commits them together with one
//! fsync (group commit, as PostgreSQL does for concurrent commits). Each
//! caller learns the outcome of its own write only after that commit. A
//! failing write rolls back its savepoint without affecting the others.
//!
//! On PostgreSQL every write is a transaction on a pooled connection; the
//! server groups concurrent commits itself.

use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr, RuntimeErr, TransactionTrait};
use std::sync::{Arc, Mutex};

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

/// A write that ran: whether it succeeded, and how to tell its caller the
/// final outcome once the batch has committed (or failed to).
struct Done {
    ok: bool,
    notify: Deliver,
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
                    ok: true,
                    notify: Box::new(move |committed| {
                        let _ = sender.send(committed.map(|()| value).map_err(copy));
                    }),
                },
                Err(error) => Done {
                    ok: false,
                    notify: Box::new(move |_| {
                        let _ = sender.send(Err(error));
                    }),
                },
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
            for Job(run) in jobs {
                let done = run(Err(&error)).await;
                (done.notify)(Err(&error));
            }
            return;
        }
    };
    let single = jobs.len() == 1;
    let mut finished = Vec::with_capacity(jobs.len());
    for Job(run) in jobs {
        // A lone write needs no savepoint: the transaction is its own.
        let done = if single { run(Ok(&txn)).await } else { run_in_savepoint(&txn, run).await };
        finished.push(done);
    }
    let committed =
        if single && !finished.iter().any(|d| d.ok) { txn.rollback().await } else { txn.commit().await };
    if let Err(error) = &committed {
        tracing::error!(error = %error, writes = finished.len(), "a group commit failed");
    }
    for done in finished {
        (done.notify)(committed.as_ref().map(|_| ()));
    }
}

async fn run_in_savepoint(txn: &DatabaseTransaction, run: Run) -> Done {
    let savepoint = match txn.begin().await {
        Ok(savepoint) => savepoint,
        Err(error) => return run(Err(&error)).await,
    };
    let done = run(Ok(&savepoint)).await;
    let closed = if done.ok { savepoint.commit().await } else { savepoint.rollback().await };
    match closed {
        Ok(()) => done,
        Err(error) => {
            // The write cannot be kept apart from the others: report it failed.
            tracing::error!(error = %error, "cannot close a savepoint");
            let message = error.to_string();
            Done {
                ok: false,
                notify: Box::new(move |_| {
                    (done.notify)(Err(&DbErr::Conn(RuntimeErr::Internal(message))));
                }),
            }
        }
    }
}
