//! Soak's connection tasks without a `JoinSet`. A `JoinSet` keeps a 56-byte entry for every
//! task (its join handle in a linked list, with a waker), 5% of the 1 KiB a soak connection may
//! cost (issue 17). Soak needs three things from it, and gets them for 8 bytes a task here:
//! - stop them all at the drain deadline: an `AbortHandle` each (one pointer);
//! - know when they have all ended: the last task to end drops the last reference to the
//!   workers' `Shared`, which drops a oneshot sender (`Shared::gone`), so soak awaits its
//!   receiver instead of joining every task;
//! - tell a panicked worker (a bug, exit 101) from one aborted at the deadline: a worker that
//!   is dropped before it finished, while no abort was asked for, panicked (`Census`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::task::AbortHandle;

/// How the tasks ended, as the tasks report it when they are dropped.
#[derive(Debug, Default)]
pub struct Census {
    crashed: AtomicU64,
    aborting: AtomicBool,
}

impl Census {
    /// A task's state is being dropped: `finished` when it ran to its end. Dropped unfinished
    /// outside an abort, it panicked (tokio drops a panicked task's future).
    pub fn dropped(&self, finished: bool) {
        if !finished && !self.aborting.load(Ordering::Acquire) {
            self.crashed.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn crashed(&self) -> u64 {
        self.crashed.load(Ordering::Relaxed)
    }
}

/// The running tasks' handles, to abort them all.
#[derive(Debug, Default)]
pub struct Tasks {
    handles: Vec<AbortHandle>,
}

impl Tasks {
    pub fn with_capacity(n: usize) -> Self {
        Tasks {
            handles: Vec::with_capacity(n),
        }
    }

    pub fn spawn<F>(&mut self, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.handles.push(tokio::spawn(f).abort_handle());
    }

    /// Stop every task that has not ended; what they drop from now on is not a crash.
    pub fn abort_all(&self, census: &Census) {
        census.aborting.store(true, Ordering::Release);
        for h in &self.handles {
            h.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tokio::sync::oneshot;

    /// What a worker does on drop, with the `Shared` that tells when all are gone.
    struct Worker {
        census: Arc<Census>,
        _gone: Arc<oneshot::Sender<()>>,
        finished: bool,
    }

    impl Drop for Worker {
        fn drop(&mut self) {
            self.census.dropped(self.finished);
        }
    }

    #[tokio::test]
    async fn a_panicked_task_is_told_from_an_aborted_or_finished_one_and_the_end_is_seen() {
        let census = Arc::new(Census::default());
        let (tx, rx) = oneshot::channel::<()>();
        let gone = Arc::new(tx);
        let mut tasks = Tasks::with_capacity(3);
        let worker = |finished| Worker {
            census: census.clone(),
            _gone: gone.clone(),
            finished,
        };
        let w = worker(false);
        tasks.spawn(async move {
            let _w = w;
            panic!("worker bug (expected by this test)");
        });
        let w = worker(false);
        tasks.spawn(async move {
            let mut w = w;
            tokio::task::yield_now().await;
            w.finished = true;
            drop(w);
        });
        let w = worker(false);
        tasks.spawn(async move {
            let _w = w;
            std::future::pending::<()>().await;
        });
        drop(gone);
        // Two end by themselves; the pending one only when aborted.
        while census.crashed() == 0 {
            tokio::task::yield_now().await;
        }
        tasks.abort_all(&census);
        // Every task's reference is dropped: the receiver sees the sender gone.
        assert!(rx.await.is_err());
        assert_eq!(census.crashed(), 1, "only the panic is a crash");
    }
}
