// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Busy time of the hardware queues, per client and per queue.
//!
//! A hardware queue runs its jobs one after the other, in ring order. A job keeps its queue
//! busy from the moment it reaches the head of the ring (when it is handed to an idle queue,
//! or when the job before it ends) until it ends, whatever the outcome. The driver accounts
//! that time when the job ends, to the job's client (its fdinfo's `drm-engine-queue<q>`) and
//! to the queue (the health query and debugfs): a job's time shows once it has ended.
//!
//! The queue calls [`JobUsage::start`] when it puts a job on its ring and
//! [`JobUsage::end`] when the job leaves it, both under the queue's lock, so the ends of a
//! queue's jobs are serialized and come in ring order.

use core::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};

use kernel::{
    prelude::*,
    sync::Arc,
    time::{Delta, Instant, Monotonic},
};

use crate::{engine::JobError, hw::regs::NUM_QUEUES_VALUE};

/// Hardware queues the accounting covers.
pub(crate) const QUEUES: usize = NUM_QUEUES_VALUE as usize;

/// Name of queue `q` as an fdinfo engine: `queue<q>`.
pub(crate) const ENGINE_NAMES: [&str; QUEUES] = ["queue0", "queue1", "queue2", "queue3"];

/// Busy time of one client, per hardware queue.
#[derive(Default)]
pub(crate) struct ClientUsage {
    busy_ns: [AtomicU64; QUEUES],
}

impl ClientUsage {
    pub(crate) fn new() -> Result<Arc<Self>> {
        Ok(Arc::new(Self::default(), GFP_KERNEL)?)
    }

    /// Nanoseconds the client's jobs kept queue `q` busy.
    pub(crate) fn busy_ns(&self, q: usize) -> u64 {
        self.busy_ns.get(q).map_or(0, |b| b.load(Ordering::Relaxed))
    }
}

/// The last failure of a job on a queue, for the health query.
#[derive(Clone, Copy)]
pub(crate) struct Fault {
    /// When the job ended.
    pub(crate) at: Instant<Monotonic>,
    pub(crate) code: u32,
    pub(crate) addr: u64,
    pub(crate) packet: u64,
}

/// Counters of one hardware queue since the driver bound the device.
pub(crate) struct QueueStats {
    index: usize,
    /// The origin of the queue's times.
    epoch: Instant<Monotonic>,
    /// When the last job left the queue (ns since `epoch`).
    last_end: AtomicI64,
    busy_ns: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    /// `DRM_GAUDI_ERR_*` of the last failure, 0 if none; its address and packet.
    fault_code: AtomicU32,
    fault_addr: AtomicU64,
    fault_packet: AtomicU64,
    fault_at: AtomicI64,
}

impl QueueStats {
    pub(crate) fn new(index: u32) -> Result<Arc<Self>> {
        Ok(Arc::new(
            Self {
                index: index as usize,
                epoch: Instant::now(),
                last_end: AtomicI64::new(0),
                busy_ns: AtomicU64::new(0),
                completed: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                fault_code: AtomicU32::new(0),
                fault_addr: AtomicU64::new(0),
                fault_packet: AtomicU64::new(0),
                fault_at: AtomicI64::new(0),
            },
            GFP_KERNEL,
        )?)
    }

    /// Nanoseconds since `epoch`.
    fn now_ns(&self) -> i64 {
        (Instant::<Monotonic>::now() - self.epoch).as_nanos()
    }

    /// Nanoseconds the queue had a job at its head.
    pub(crate) fn busy_ns(&self) -> u64 {
        self.busy_ns.load(Ordering::Relaxed)
    }

    /// Jobs that completed and jobs that failed.
    pub(crate) fn jobs(&self) -> (u64, u64) {
        (
            self.completed.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }

    /// The last failure of a job on the queue, if any.
    pub(crate) fn fault(&self) -> Option<Fault> {
        let code = self.fault_code.load(Ordering::Acquire);
        (code != 0).then(|| Fault {
            at: self.epoch + Delta::from_nanos(self.fault_at.load(Ordering::Relaxed)),
            code,
            addr: self.fault_addr.load(Ordering::Relaxed),
            packet: self.fault_packet.load(Ordering::Relaxed),
        })
    }
}

/// The accounting of a job on a hardware queue.
pub(crate) struct JobUsage {
    client: Arc<ClientUsage>,
    queue: Arc<QueueStats>,
    /// When the job was put on the ring (ns since the queue's epoch).
    queued: i64,
}

impl JobUsage {
    /// The job of `client` was put on `queue`'s ring. Allocates nothing.
    pub(crate) fn start(queue: &Arc<QueueStats>, client: &Arc<ClientUsage>) -> Self {
        Self {
            client: client.clone(),
            queue: queue.clone(),
            queued: queue.now_ns(),
        }
    }

    /// The job left the queue, with `error` if it failed.
    pub(crate) fn end(self, error: Option<&JobError>) {
        let q = &self.queue;
        let now = q.now_ns();
        // It reached the head when it was queued or when the job before it ended.
        let start = self.queued.max(q.last_end.load(Ordering::Relaxed));
        let busy = u64::try_from(now - start).unwrap_or(0);
        q.last_end.store(now, Ordering::Relaxed);
        q.busy_ns.fetch_add(busy, Ordering::Relaxed);
        if let Some(b) = self.client.busy_ns.get(q.index) {
            b.fetch_add(busy, Ordering::Relaxed);
        }
        match error {
            None => {
                q.completed.fetch_add(1, Ordering::Relaxed);
            }
            Some(e) => {
                q.failed.fetch_add(1, Ordering::Relaxed);
                if e.code != 0 {
                    q.fault_addr.store(e.fault_addr, Ordering::Relaxed);
                    q.fault_packet.store(e.packet, Ordering::Relaxed);
                    q.fault_at.store(now, Ordering::Relaxed);
                    q.fault_code.store(e.code, Ordering::Release);
                }
            }
        }
    }
}
