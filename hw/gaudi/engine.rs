// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The device's hardware queues: kernel rings, completion and error interrupts.
//!
//! Each hardware queue has a ring in the kernel's device address space (ASID 0). A job takes
//! [`JOB_BYTES`] of it: an INDIRECT packet that runs the client's command buffer in the
//! client's address space, then a FENCE packet that writes the job's hardware sequence number
//! to the queue's slot of the fence page and raises the queue's completion vector. The
//! completion interrupt signals every job whose sequence number the fence page has reached;
//! the error interrupt fails the job at the head of a stopped queue and resumes the queue
//! after it.
//!
//! A queue is the backend of one accel-core job queue, whose entities are the clients'
//! contexts. `run` allocates nothing: the job brings the memory of its hardware fence, and the
//! table of jobs on the hardware has one slot per credit.
//!
//! A job counts as done once its FENCE wrote the fence page and `Q_HEAD` passed it: the device
//! moves the head past the FENCE packet only after writing its value, and a reset moves it past
//! jobs that did not run. A fence value beyond what was submitted is a corrupted completion:
//! it is counted and signals nothing early. Recovery beyond one queue is in `recovery.rs`.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use kernel::{
    device::{Bound, Device},
    dma::Coherent,
    drm::accel::{
        sched::{
            fence::{Fence, FenceMemory, PendingFence, Timeline},
            queue::Backend,
        },
        vm::{Access, PageTable},
        WedgeTask,
    },
    io::{io_read, io_write, Io},
    irq::{self, IrqReturn},
    new_spinlock_irq,
    pci::DevresBar,
    prelude::*,
    sync::{aref::ARef, Arc, SpinLockIrq},
    time::{delay::fsleep, Delta},
};

use crate::{
    hw::{
        mmu,
        packet::{self, FENCE_LEN, INDIRECT_LEN},
        queue::{self as q, queue_reg},
        regs,
    },
    recovery::{wait_ms, Ras, Snapshot, WedgeReason},
    regs::{BAR_IVSHMEM_SIZE, IVSHMEM_DOORBELL},
    usage::{ClientUsage, JobUsage, QueueStats},
};

/// Bytes of a hardware queue's ring.
pub(crate) const RING_SIZE: u32 = 64 << 10;
/// Ring bytes of one job: INDIRECT + FENCE.
pub(crate) const JOB_BYTES: u32 = (INDIRECT_LEN as u32 + FENCE_LEN as u32) * 4;
/// Jobs a hardware queue holds at once: the job queue's credits.
pub(crate) const QUEUE_DEPTH: u32 = 1024;
const _: () = assert!(QUEUE_DEPTH * JOB_BYTES < RING_SIZE);

/// Kernel address (ASID 0) of the fence page: one `u64` per queue.
const KVA_FENCES: u64 = 0x1000;
/// Kernel address of the ring of queue `q`.
const fn kva_ring(q: u32) -> u64 {
    0x10_0000 * (q as u64 + 1)
}

/// How long the device may take to acknowledge a queue or engine reset.
const RESET_TIMEOUT_MS: u32 = 2000;
/// How long the device may take to acknowledge a fault-injection request.
const INJECT_TIMEOUT_MS: u32 = 1000;

/// The device's registers, reachable while it is bound (`Devres`): what may outlive the
/// binding (client VMs' address-space ids) reaches the device through this only.
pub(crate) struct Shared {
    regs: DevresBar<{ regs::REGS_SIZE }>,
    ivshmem: DevresBar<BAR_IVSHMEM_SIZE>,
    peer: u32,
}

/// The fence page: the device writes queue `q`'s completed sequence number at index `q`.
pub(crate) struct FencePage(Coherent<[u64]>);

impl FencePage {
    fn new(dev: &Device<Bound>) -> Result<Arc<Self>> {
        let page = Coherent::zeroed_slice(dev, (mmu::PAGE_SIZE / 8) as usize, GFP_KERNEL)?;
        Ok(Arc::new(Self(page), GFP_KERNEL)?)
    }

    /// The completed sequence number the device wrote for queue `q`.
    fn completed(&self, q: u32) -> Result<u64> {
        Ok(io_read!(self.0, [try: q as usize]))
    }
}

impl Shared {
    pub(crate) fn new(
        regs: DevresBar<{ regs::REGS_SIZE }>,
        ivshmem: DevresBar<BAR_IVSHMEM_SIZE>,
        peer: u32,
    ) -> Self {
        Self {
            regs,
            ivshmem,
            peer,
        }
    }

    /// Reads the 32-bit register at `off`; `ENODEV` once the device is unbound.
    pub(crate) fn read32(&self, off: usize) -> Result<u32> {
        self.regs
            .try_access_with(|r| r.try_read32(off))
            .ok_or(ENODEV)?
    }

    /// Reads the 64-bit register at `off` as two halves, low first.
    pub(crate) fn read64(&self, off: usize) -> Result<u64> {
        Ok(u64::from(self.read32(off)?) | (u64::from(self.read32(off + 4)?) << 32))
    }

    /// Writes the 32-bit register at `off`.
    pub(crate) fn write32(&self, off: usize, value: u32) -> Result {
        self.regs
            .try_access_with(|r| r.try_write32(value, off))
            .ok_or(ENODEV)?
    }

    /// Writes the 64-bit register at `off` as two halves, low first. The device reads
    /// registers only when a doorbell rings, so it never sees half of the value.
    pub(crate) fn write64(&self, off: usize, value: u64) -> Result {
        self.write32(off, value as u32)?;
        self.write32(off + 4, (value >> 32) as u32)
    }

    /// Rings doorbell `vector` of the device.
    pub(crate) fn ring(&self, vector: u32) -> Result {
        let value = (self.peer << 16) | vector;
        self.ivshmem
            .try_access_with(|r| r.try_write32(value, IVSHMEM_DOORBELL))
            .ok_or(ENODEV)?
    }

    /// Points MMU context `asid` at the table whose root is `ttbr`, or invalidates it.
    pub(crate) fn set_context(&self, asid: u32, ttbr: Option<u64>) -> Result {
        match ttbr {
            Some(ttbr) => {
                self.write64(mmu::ctx_reg(asid, mmu::CTX_TTBR), ttbr)?;
                self.write32(mmu::ctx_reg(asid, mmu::CTX_CTRL), mmu::CTX_CTRL_VALID)
            }
            None => self.write32(mmu::ctx_reg(asid, mmu::CTX_CTRL), 0),
        }
    }
}

/// Why a context's job failed, as `DRM_IOCTL_GAUDI_CTX_QUERY` reports it.
#[derive(Clone, Copy, Default)]
pub(crate) struct JobError {
    /// `DRM_GAUDI_ERR_*`.
    pub(crate) code: u32,
    pub(crate) seqno: u64,
    pub(crate) fault_addr: u64,
    pub(crate) packet: u64,
    pub(crate) access: u32,
}

/// State of a context that the interrupt handlers update.
#[pin_data]
pub(crate) struct CtxState {
    /// A job of the context failed: submits are refused.
    pub(crate) banned: AtomicBool,
    /// Sequence number of the context's last job that ended.
    pub(crate) completed: AtomicU64,
    /// The first failure.
    #[pin]
    pub(crate) error: SpinLockIrq<JobError>,
    /// The task that created the context: blamed for a wedge its job causes.
    pub(crate) task: WedgeTask,
    /// The hardware queue the context runs on.
    pub(crate) queue: u32,
}

impl CtxState {
    pub(crate) fn new(queue: u32) -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                banned: AtomicBool::new(false),
                completed: AtomicU64::new(0),
                error <- new_spinlock_irq!(JobError::default(), "gaudi_ctx_error"),
                task: WedgeTask::current(),
                queue,
            }),
            GFP_KERNEL,
        )
    }

    /// Records the end of job `seqno`, with `error` if it failed; a failure bans the context.
    fn job_ended(&self, seqno: u64, error: Option<JobError>) {
        if let Some(e) = error {
            let mut first = self.error.lock();
            if first.code == 0 {
                *first = JobError { seqno, ..e };
            }
            self.banned.store(true, Ordering::Release);
        }
        self.completed.fetch_max(seqno, Ordering::AcqRel);
    }
}

/// A job as the hardware queue sees it.
pub(crate) struct HwJob {
    /// Address space of the command buffer.
    pub(crate) asid: u32,
    /// Command buffer address and size.
    pub(crate) cb_addr: u64,
    pub(crate) cb_size: u32,
    /// Memory of the job's hardware fence, armed in `run`.
    pub(crate) fence: Option<FenceMemory>,
    /// The job's context and its sequence number there.
    pub(crate) ctx: Arc<CtxState>,
    pub(crate) seqno: u64,
    /// Hardware sequence number, set by `run`.
    pub(crate) hw_seq: u64,
    /// Busy time of the job's client.
    pub(crate) usage: Arc<ClientUsage>,
}

/// A job on the hardware.
struct InFlight {
    fence: PendingFence,
    /// Ring position (free-running) of the job's first and past its last byte.
    start: u32,
    end: u32,
    ctx: Arc<CtxState>,
    seqno: u64,
    usage: JobUsage,
}

impl InFlight {
    /// Ends the job: records the outcome in its context, then signals its hardware fence.
    fn end(self, error: Option<(Error, JobError)>) {
        self.usage.end(error.as_ref().map(|(_, e)| e));
        match error {
            None => {
                self.ctx.job_ended(self.seqno, None);
                self.fence.signal(None);
            }
            Some((err, info)) => {
                self.ctx.job_ended(self.seqno, Some(info));
                self.fence.signal(Some(err));
            }
        }
    }
}

/// The memory the device reaches for a queue: its ring and the fence page. It belongs to the
/// binding: freed when the queue is shut down, even if contexts keep the queue's backend.
struct QueueMem {
    ring: Coherent<[u32]>,
    fences: Arc<FencePage>,
}

struct QueueState {
    /// The ring and fence page, until the queue is shut down.
    mem: Option<QueueMem>,
    /// Ring bytes written (free-running), the value of `Q_TAIL`.
    tail: u32,
    /// Jobs on the hardware, at index `hw seqno % QUEUE_DEPTH`.
    jobs: KVec<Option<InFlight>>,
    /// Hardware sequence numbers of the oldest job on the hardware and of the next job.
    oldest: u64,
    next: u64,
    /// A timed-out job being reset off the queue: completions stop before it.
    failing: Option<u64>,
    /// The queue was shut down: `run` fails with this error.
    stopped: Option<Error>,
    /// The oldest job, when the last heartbeat found it done but not signalled.
    beat_oldest: Option<u64>,
}

impl QueueState {
    fn slot(seq: u64) -> usize {
        (seq % u64::from(QUEUE_DEPTH)) as usize
    }

    /// The oldest job, if any.
    fn head(&self) -> Option<&InFlight> {
        if self.oldest == self.next {
            return None;
        }
        self.jobs
            .get(Self::slot(self.oldest))
            .and_then(Option::as_ref)
    }

    /// Takes the oldest job off the table.
    fn pop(&mut self) -> Option<InFlight> {
        if self.oldest == self.next {
            return None;
        }
        let slot = Self::slot(self.oldest);
        self.oldest += 1;
        self.jobs.get_mut(slot).and_then(Option::take)
    }
}

/// One hardware queue.
///
/// Jobs' hardware fences are signalled under `state`, in ring order, whatever path ends them
/// (completion, error, timeout, shutdown).
#[pin_data]
pub(crate) struct HwQueue {
    index: u32,
    timeline: Timeline,
    shared: Arc<Shared>,
    ras: Arc<Ras>,
    /// Busy time and job counts.
    pub(crate) stats: Arc<QueueStats>,
    #[pin]
    state: SpinLockIrq<QueueState>,
}

impl HwQueue {
    fn new(
        dev: &Device<Bound>,
        index: u32,
        shared: Arc<Shared>,
        fences: Arc<FencePage>,
        ras: Arc<Ras>,
    ) -> Result<Arc<Self>> {
        let ring = Coherent::zeroed_slice(dev, (RING_SIZE / 4) as usize, GFP_KERNEL)?;
        let mut jobs = KVec::with_capacity(QUEUE_DEPTH as usize, GFP_KERNEL)?;
        for _ in 0..QUEUE_DEPTH {
            jobs.push(None, GFP_KERNEL)?;
        }
        let stats = QueueStats::new(index)?;
        Arc::pin_init(
            pin_init!(Self {
                index,
                timeline: Timeline::new(c"gaudi", c"gaudi-hw-queue"),
                shared,
                ras,
                stats,
                state <- new_spinlock_irq!(
                    QueueState {
                        mem: Some(QueueMem { ring, fences }),
                        tail: 0,
                        jobs,
                        oldest: 1,
                        next: 1,
                        failing: None,
                        stopped: None,
                        beat_oldest: None,
                    },
                    "gaudi_hw_queue"
                ),
            }),
            GFP_KERNEL,
        )
    }

    fn reg(&self, reg: usize) -> usize {
        queue_reg(self.index, reg)
    }

    /// Index of the queue on the device.
    pub(crate) fn index(&self) -> u32 {
        self.index
    }

    /// Whether the device reached the FENCE of job `job` of the ring, given `head`: its
    /// command buffer (the INDIRECT) completed. The device raises the completion interrupt once
    /// the FENCE wrote its value, which may be before the head moved past the FENCE.
    fn passed(head: u32, job: &InFlight) -> bool {
        let done = head.wrapping_sub(job.start);
        (u32::from(INDIRECT_LEN) * 4..=RING_SIZE).contains(&done)
    }

    /// A snapshot of the queue and of the job at its head, for the coredump of a reset.
    fn snapshot(&self, st: &QueueState, what: &'static str, error: JobError) -> Snapshot {
        let mut snap = Snapshot::new(what);
        snap.queue = Some(self.index);
        for (i, w) in snap.regs.iter_mut().enumerate() {
            *w = self
                .shared
                .read32(self.reg(4 * i))
                .unwrap_or(regs::STATUS_LOST);
        }
        snap.fence = st
            .mem
            .as_ref()
            .and_then(|m| m.fences.completed(self.index).ok())
            .unwrap_or(0);
        snap.in_flight = st.next - st.oldest;
        snap.error = error;
        if let Some(job) = st.head() {
            snap.hw_seq = st.oldest;
            snap.ctx_seqno = job.seqno;
            snap.task = Some(job.ctx.task);
        }
        snap
    }

    /// Writes `words` to the ring at free-running position `pos`.
    fn write_ring(st: &QueueState, pos: u32, words: &[u32]) -> Result {
        let ring = &st.mem.as_ref().ok_or(ENODEV)?.ring;
        let len = (RING_SIZE / 4) as usize;
        for (i, &w) in words.iter().enumerate() {
            let idx = ((pos / 4) as usize + i) % len;
            io_write!(ring, [try: idx], w);
        }
        Ok(())
    }

    /// The DMA address of the ring, while the queue has it.
    fn ring_dma(&self) -> Result<u64> {
        Ok(self
            .state
            .lock()
            .mem
            .as_ref()
            .ok_or(ENODEV)?
            .ring
            .dma_address())
    }

    /// The completed sequence number on the fence page; the caller holds `state`.
    fn fenced(&self, st: &QueueState) -> Option<u64> {
        st.mem.as_ref()?.fences.completed(self.index).ok()
    }

    /// Asks the device to drop what the queue is doing and resume at `resume`. The caller
    /// holds `state`, which serializes reset requests. Does not wait for the acknowledgment.
    fn request_reset(&self, _st: &QueueState, resume: u32) -> Result {
        let shared = &self.shared;
        let req = shared.read32(self.reg(q::Q_RESET))?.wrapping_add(1);
        shared.write32(self.reg(q::Q_RESUME), resume)?;
        shared.write32(self.reg(q::Q_RESET), req)?;
        shared.ring(regs::doorbell_queue(self.index))
    }

    /// Waits until the device acknowledged the last reset request.
    fn wait_reset(&self) -> Result {
        let shared = &self.shared;
        let req = shared.read32(self.reg(q::Q_RESET))?;
        for _ in 0..RESET_TIMEOUT_MS {
            if shared.read32(self.reg(q::Q_RESET_ACK))? == req {
                return Ok(());
            }
            fsleep(Delta::from_millis(1));
        }
        Err(ETIMEDOUT)
    }

    /// Programs the ring and enables the queue. The device may hold a position and an error
    /// from a previous driver: a reset makes it start empty at that position.
    fn init(&self) -> Result {
        let shared = &self.shared;
        shared.write32(self.reg(q::Q_CTRL), 0)?;
        let head = shared.read32(self.reg(q::Q_HEAD))?;
        shared.write32(self.reg(q::Q_TAIL), head)?;
        {
            let mut st = self.state.lock();
            st.tail = head;
            self.request_reset(&st, head)?;
        }
        self.wait_reset()?;
        shared.write64(self.reg(q::Q_BASE), kva_ring(self.index))?;
        shared.write32(self.reg(q::Q_SIZE), RING_SIZE)?;
        shared.write32(self.reg(q::Q_CTRL), q::Q_CTRL_ENABLE)
    }

    /// Hands `job` to the device: `Backend::run`. Allocates nothing.
    fn submit(&self, job: &mut HwJob) -> Result<ARef<Fence>> {
        // A failed job bans its context: what it queued behind the failure does not run.
        if job.ctx.banned.load(Ordering::Acquire) {
            return Err(ECANCELED);
        }
        let mem = job.fence.take().ok_or(EINVAL)?;
        let mut st = self.state.lock();
        if let Some(e) = st.stopped {
            return Err(e);
        }
        // The job queue's credits keep the table from overflowing.
        if st.next - st.oldest >= u64::from(QUEUE_DEPTH) {
            return Err(EBUSY);
        }
        let pending = self.timeline.arm_fence(mem);
        let seq = pending.seqno();
        let start = st.tail;
        let end = start.wrapping_add(JOB_BYTES);
        let fence_addr = KVA_FENCES + 8 * u64::from(self.index);
        let words: [u32; (INDIRECT_LEN + FENCE_LEN) as usize] = [
            packet::header(packet::OP_INDIRECT, 0, INDIRECT_LEN),
            job.asid,
            job.cb_addr as u32,
            (job.cb_addr >> 32) as u32,
            job.cb_size,
            0,
            packet::header(packet::OP_FENCE, packet::FENCE_IRQ, FENCE_LEN),
            0,
            fence_addr as u32,
            (fence_addr >> 32) as u32,
            seq as u32,
            (seq >> 32) as u32,
        ];
        let fence = pending.fence();
        // The table takes the job before the device can see it.
        st.next = seq + 1;
        st.tail = end;
        if let Some(entry) = st.jobs.get_mut(QueueState::slot(seq)) {
            *entry = Some(InFlight {
                fence: pending,
                start,
                end,
                ctx: job.ctx.clone(),
                seqno: job.seqno,
                usage: JobUsage::start(&self.stats, &job.usage),
            });
        }
        job.hw_seq = seq;
        let written = Self::write_ring(&st, start, &words)
            .and_then(|()| {
                // The packets must be in memory before the device sees the new tail.
                core::sync::atomic::fence(Ordering::Release);
                self.shared.write32(self.reg(q::Q_TAIL), end)
            })
            .and_then(|()| self.shared.ring(regs::doorbell_queue(self.index)));
        if let Err(e) = written {
            // Only an unbound device fails here: the queue is done for. Everything on it
            // fails, in order; this job's fence too, which the job queue then ignores.
            st.stopped = Some(e);
            while let Some(job) = st.pop() {
                job.end(Some((e, JobError::default())));
            }
            return Err(e);
        }
        Ok(fence)
    }

    /// Signals every job the device completed. Called from the completion interrupt, and
    /// wherever completions may have been missed. Returns how many jobs it signalled.
    fn complete(&self) -> u64 {
        // The head first: the device writes a job's fence before its head passes the job.
        let Ok(head) = self.shared.read32(self.reg(q::Q_HEAD)) else {
            return 0;
        };
        let mut st = self.state.lock();
        let Some(done) = self.fenced(&st) else {
            return 0;
        };
        // A value beyond every job submitted cannot be a completion.
        let corrupt = done >= st.next;
        let mut signalled = 0;
        // Done is what the device passed (a reset may skip jobs that did not run) and fenced
        // (a corrupted fence value may be ahead of the jobs that ran).
        while st.oldest < st.next && st.oldest <= done && st.failing != Some(st.oldest) {
            match st.head() {
                Some(job) if Self::passed(head, job) => {}
                _ => break,
            }
            if let Some(job) = st.pop() {
                job.end(None);
                signalled += 1;
            }
        }
        st.beat_oldest = None;
        drop(st);
        if corrupt {
            self.ras.corrupt_completions.fetch_add(1, Ordering::Relaxed);
        }
        signalled
    }

    /// The heartbeat: if the job at the head was done (passed) at the last beat already and is
    /// still not signalled, its completion interrupt was lost; signal what is done. Returns
    /// whether an interrupt was lost.
    pub(crate) fn recover_lost_irq(&self) -> bool {
        let Ok(head) = self.shared.read32(self.reg(q::Q_HEAD)) else {
            return false;
        };
        {
            let mut st = self.state.lock();
            let Some(fenced) = self.fenced(&st) else {
                return false;
            };
            let done = st.failing.is_none()
                && st.oldest <= fenced
                && st.head().is_some_and(|j| Self::passed(head, j));
            if !done {
                st.beat_oldest = None;
                return false;
            }
            if st.beat_oldest != Some(st.oldest) {
                st.beat_oldest = Some(st.oldest);
                return false;
            }
        }
        self.complete() > 0
    }

    /// Handles an error the device reported on this queue: the device stopped at the job that
    /// starts at `Q_HEAD`; it fails, and the queue resumes after it. The queue is stopped, so
    /// the job's memory is no longer accessed when its fence signals.
    fn handle_error(&self) {
        let shared = &self.shared;
        if shared.read32(self.reg(q::Q_STATUS)) != Ok(q::Q_STATUS_ERROR) {
            return;
        }
        let Ok(head) = shared.read32(self.reg(q::Q_HEAD)) else {
            return;
        };
        let code = shared.read32(self.reg(q::Q_ERR_CODE)).unwrap_or(0);
        let info = shared.read32(self.reg(q::Q_ERR_INFO)).unwrap_or(0);
        let error = JobError {
            code,
            seqno: 0,
            fault_addr: shared.read64(self.reg(q::Q_ERR_ADDR)).unwrap_or(0),
            packet: shared.read64(self.reg(q::Q_ERR_PKT)).unwrap_or(0),
            access: if code == q::ERR_MMU_FAULT {
                (info >> 16) & 3
            } else {
                0
            },
        };
        // Jobs that completed before the failure are not the guilty one.
        self.complete();
        let mut st = self.state.lock();
        // A stopped queue's jobs are failed by `shutdown`.
        if st.stopped.is_some() {
            return;
        }
        // A second report of the same stop finds the next job at the head and does nothing.
        if st.head().map(|j| j.start) != Some(head) || st.failing.is_some() {
            return;
        }
        let snap = self.snapshot(&st, "queue reset after a device error", error);
        let Some(job) = st.pop() else {
            return;
        };
        let resume = job.end;
        job.end(Some((EIO, error)));
        let _ = self.request_reset(&st, resume);
        drop(st);
        self.ras.queue_resets.fetch_add(1, Ordering::Relaxed);
        self.ras.record(snap);
    }

    /// Resets the queue's engines (the queue did not acknowledge its reset) and waits for the
    /// device to acknowledge. `Q_RESUME` already says where the queue resumes.
    fn engine_reset(&self) -> Result {
        let shared = &self.shared;
        let reg = regs::engine_reset(self.index);
        let req = shared.read32(reg)?.wrapping_add(1);
        shared.write32(reg, req)?;
        shared.ring(regs::DOORBELL_CONTROL)?;
        wait_ms(RESET_TIMEOUT_MS, || {
            Ok(shared.read32(regs::engine_reset_ack(self.index))? == req)
        })
    }

    /// Job `hw_seq` is at the head of the queue for too long: the device drops it and its
    /// fence signals `ETIMEDOUT` once the device acknowledged, so that nothing of the job
    /// runs any more when its memory may go.
    fn timeout(&self, hw_seq: u64) {
        // A job whose completion interrupt was lost is done, not hung.
        self.complete();
        let error = JobError {
            code: crate::uapi::DRM_GAUDI_ERR_TIMEOUT,
            ..JobError::default()
        };
        let (mut snap, task) = {
            let mut st = self.state.lock();
            if st.stopped.is_some() {
                return;
            }
            let (end, task) = match st.head() {
                Some(job) if st.oldest == hw_seq && st.failing.is_none() => (job.end, job.ctx.task),
                // Completed meanwhile, or already failed.
                _ => return,
            };
            let snap = self.snapshot(&st, "queue reset after a timeout", error);
            st.failing = Some(hw_seq);
            if self.request_reset(&st, end).is_err() {
                st.failing = None;
                return;
            }
            (snap, task)
        };
        if self.wait_reset().is_ok() {
            self.ras.queue_resets.fetch_add(1, Ordering::Relaxed);
        } else if self.engine_reset().is_ok() {
            // The engine hung: the queue could not drop the job by itself.
            self.ras.engine_resets.fetch_add(1, Ordering::Relaxed);
            snap.what = "engine reset after a timeout";
        } else {
            // Nothing less than the whole device will do. The engine may still run the job:
            // before its memory may go, the queue stops and no address space is valid any more.
            let _ = self.shared.write32(self.reg(q::Q_CTRL), 0);
            for asid in 0..regs::NUM_ASIDS_VALUE {
                let _ = self.shared.set_context(asid, None);
            }
            self.ras
                .request_wedge(WedgeReason::Unresponsive, Some(task));
        }
        self.ras.record(snap);
        {
            let mut st = self.state.lock();
            st.failing = None;
            if st.oldest == hw_seq {
                if let Some(job) = st.pop() {
                    job.end(Some((ETIMEDOUT, error)));
                }
            }
        }
        // Jobs after it may have completed while completions stopped before it, and the next
        // one may have failed meanwhile (an error report that found the reset in progress).
        self.complete();
        self.handle_error();
    }

    /// Stops the queue for good: disables it on the device and fails every job on it with
    /// `err`, after the device acknowledged (if `wait`: a lost device never does).
    pub(crate) fn shutdown(&self, err: Error, wait: bool) {
        let tail = {
            let mut st = self.state.lock();
            if st.stopped.is_some() && st.oldest == st.next {
                let mem = st.mem.take();
                drop(st);
                drop(mem);
                return;
            }
            st.stopped = Some(err);
            let tail = st.tail;
            let _ = self.request_reset(&st, tail);
            tail
        };
        let disabled = self.shared.write32(self.reg(q::Q_CTRL), 0);
        let stopped = if wait {
            disabled.and_then(|()| self.wait_reset())
        } else {
            disabled
        };
        if let Err(e) = stopped {
            pr_warn!(
                "gaudi: queue {} did not stop at {:#x}: {:?}\n",
                self.index,
                tail,
                e
            );
        }
        let mut st = self.state.lock();
        let mem = st.mem.take();
        while let Some(job) = st.pop() {
            let info = JobError {
                code: if err == ENODEV {
                    0
                } else {
                    crate::uapi::DRM_GAUDI_ERR_WEDGED
                },
                ..JobError::default()
            };
            job.end(Some((err, info)));
        }
        drop(st);
        // The device does not reach the ring and the fence page any more.
        drop(mem);
    }
}

/// The job-queue backend of one hardware queue.
pub(crate) struct QueueBackend {
    queue: Arc<HwQueue>,
}

impl Backend for QueueBackend {
    type Job = crate::submit::Job;

    fn run(&self, job: &mut Self::Job) -> Result<ARef<Fence>> {
        // Peer memory that the exporter invalidated (or revoked) after the job was submitted
        // is not reached: the job fails instead.
        if !job.peers_valid() {
            return Err(ENODEV);
        }
        self.queue.submit(&mut job.hw)
    }

    fn timed_out(&self, job: &mut Self::Job) {
        self.queue.timeout(job.hw.hw_seq);
    }

    fn stop(&self) {
        self.queue.shutdown(ENODEV, true);
    }
}

/// Completion interrupt of one queue.
pub(crate) struct QueueIrq {
    queue: Arc<HwQueue>,
}

impl irq::Handler for QueueIrq {
    fn handle(&self) -> IrqReturn {
        self.queue.complete();
        IrqReturn::Handled
    }
}

/// Error interrupt: some queues stopped, or device memory reported an ECC error.
pub(crate) struct ErrorIrq {
    shared: Arc<Shared>,
    ras: Arc<Ras>,
    queues: KVec<Arc<HwQueue>>,
}

impl irq::Handler for ErrorIrq {
    fn handle(&self) -> IrqReturn {
        let shared = &self.shared;
        let (Ok(bits), Ok(ce), Ok(ue)) = (
            shared.read32(regs::ERR_QUEUES),
            shared.read32(crate::hw::health::ECC_CE_COUNT),
            shared.read32(crate::hw::health::ECC_UE_COUNT),
        ) else {
            return IrqReturn::None;
        };
        // A lost device reads all ones: the heartbeat deals with it.
        if bits == regs::STATUS_LOST {
            return IrqReturn::None;
        }
        let ecc = self.ras.ecc(ce, ue);
        let mut queues = false;
        for queue in self.queues.iter() {
            if bits & (1 << queue.index) != 0 {
                queue.handle_error();
                queues = true;
            }
        }
        if ecc || queues {
            IrqReturn::Handled
        } else {
            self.ras.spurious_irqs.fetch_add(1, Ordering::Relaxed);
            IrqReturn::None
        }
    }
}

/// The device's address-space ids. Client VMs hold it: it outlives the binding and reaches
/// the device only through [`Shared`].
#[pin_data]
pub(crate) struct Asids {
    shared: Arc<Shared>,
    /// Address-space ids in use, bit per ASID; ASID 0 is the kernel's.
    #[pin]
    used: SpinLockIrq<u64>,
    count: u32,
    /// Bits of a device virtual and physical address.
    pub(crate) va_bits: u32,
    pub(crate) pa_bits: u32,
}

impl Asids {
    /// Allocates an address-space id for a table whose root is at `ttbr`.
    pub(crate) fn alloc(&self, ttbr: u64) -> Result<u32> {
        let asid = {
            let mut used = self.used.lock();
            let asid = (1..self.count)
                .find(|&a| *used & (1 << a) == 0)
                .ok_or(ENOSPC)?;
            *used |= 1 << asid;
            asid
        };
        if let Err(e) = self.shared.set_context(asid, Some(ttbr)) {
            self.free(asid);
            return Err(e);
        }
        Ok(asid)
    }

    /// Invalidates and frees `asid`. The device must not run work in it any more.
    pub(crate) fn free(&self, asid: u32) {
        // Fails only once the device is unbound, when every context was invalidated.
        let _ = self.shared.set_context(asid, None);
        *self.used.lock() &= !(1 << asid);
    }
}

/// The device's execution resources: hardware queues, the kernel address space, the fence
/// page. They belong to the binding: dropped at unbind (or when probe fails), after the
/// queues were stopped and every MMU context invalidated.
pub(crate) struct Engine {
    pub(crate) shared: Arc<Shared>,
    pub(crate) ras: Arc<Ras>,
    /// The job timeout in ms (debugfs `job_timeout_ms`), which submits hand to the job queues.
    pub(crate) job_timeout_ms: AtomicU32,
    pub(crate) asids: Arc<Asids>,
    pub(crate) queues: KVec<Arc<HwQueue>>,
    _fences: Arc<FencePage>,
    /// The kernel's address space: the fence page and the rings.
    _kernel_pt: PageTable,
}

impl Engine {
    /// Builds the kernel address space and brings up every hardware queue.
    pub(crate) fn new(dev: &Device<Bound>, shared: Arc<Shared>) -> Result<Arc<Self>> {
        let num_queues = shared.read32(regs::NUM_QUEUES)?.min(regs::NUM_QUEUES_VALUE);
        let num_asids = shared.read32(regs::NUM_ASIDS)?.min(64);
        let va_bits = shared.read32(regs::VA_BITS)?;
        let pa_bits = shared.read32(regs::PA_BITS)?;
        // The device walks four levels from the root: a 48-bit input address.
        if num_asids < 2 || va_bits != 48 {
            return Err(ENODEV);
        }
        // Contexts a previous driver left valid point at memory that is gone.
        for asid in 0..num_asids {
            shared.set_context(asid, None)?;
        }
        let fences = FencePage::new(dev)?;
        let ras = Ras::new()?;
        ras.sync_ecc(
            shared.read32(crate::hw::health::ECC_CE_COUNT)?,
            shared.read32(crate::hw::health::ECC_UE_COUNT)?,
        );
        let mut pt = PageTable::new(dev, va_bits, pa_bits)?;
        let mut queues = KVec::new();
        for i in 0..num_queues {
            queues.push(
                HwQueue::new(dev, i, shared.clone(), fences.clone(), ras.clone())?,
                GFP_KERNEL,
            )?;
        }
        // SAFETY: The kernel address space is empty but for what is mapped here, at distinct
        // addresses; the fence page and the rings are freed with the engine, whose `Drop`
        // first stops the queues and invalidates the context.
        unsafe {
            pt.map(
                KVA_FENCES,
                fences.0.dma_address(),
                mmu::PAGE_SIZE,
                Access::ReadWrite,
            )?;
            for queue in queues.iter() {
                pt.map(
                    kva_ring(queue.index),
                    queue.ring_dma()?,
                    u64::from(RING_SIZE),
                    Access::ReadOnly,
                )?;
            }
        }
        let asids_shared = shared.clone();
        let asids = Arc::pin_init(
            pin_init!(Asids {
                shared: asids_shared,
                used <- new_spinlock_irq!(1, "gaudi_asids"),
                count: num_asids,
                va_bits,
                pa_bits,
            }),
            GFP_KERNEL,
        )?;
        // From here on `Drop` stops what was started.
        let engine = Arc::new(
            Self {
                shared,
                ras,
                job_timeout_ms: AtomicU32::new(crate::driver::JOB_TIMEOUT_MS),
                asids,
                queues,
                _fences: fences,
                _kernel_pt: pt,
            },
            GFP_KERNEL,
        )?;
        // SAFETY: The context is invalidated in `Engine::shutdown`, before the table goes.
        let ttbr = unsafe { engine._kernel_pt.ttbr() };
        engine.shared.set_context(mmu::ASID_KERNEL, Some(ttbr))?;
        for queue in engine.queues.iter() {
            queue.init()?;
        }
        Ok(engine)
    }

    /// The job-queue backend of queue `q`.
    pub(crate) fn backend(&self, q: usize) -> Option<QueueBackend> {
        Some(QueueBackend {
            queue: self.queues.get(q)?.clone(),
        })
    }

    /// The completion interrupt handler of queue `q`.
    pub(crate) fn queue_irq(&self, q: usize) -> Option<QueueIrq> {
        Some(QueueIrq {
            queue: self.queues.get(q)?.clone(),
        })
    }

    /// The error interrupt handler.
    pub(crate) fn error_irq(&self) -> Result<ErrorIrq> {
        let mut queues = KVec::new();
        for queue in self.queues.iter() {
            queues.push(queue.clone(), GFP_KERNEL)?;
        }
        Ok(ErrorIrq {
            shared: self.shared.clone(),
            ras: self.ras.clone(),
            queues,
        })
    }

    /// Stops the device's queues and address spaces. Idempotent.
    pub(crate) fn shutdown(&self) {
        self.halt(ENODEV, true);
    }

    /// Stops the device's queues, failing their jobs with `err`, and invalidates its address
    /// spaces; waits for the device's acknowledgments if `wait`. Idempotent.
    pub(crate) fn halt(&self, err: Error, wait: bool) {
        // No address space first: whatever the queues still run reaches no memory once its
        // job's fence signals.
        for asid in 0..self.asids.count {
            let _ = self.shared.set_context(asid, None);
        }
        for queue in self.queues.iter() {
            queue.shutdown(err, wait);
        }
    }

    /// Asks the device to inject a fault (`FI_OP`, `FI_QUEUE`, `FI_ARG`) and waits for its
    /// answer: `EINVAL` if it refused the request. A device told to get lost does not answer.
    pub(crate) fn inject(&self, op: u32, queue: u32, arg: u32) -> Result {
        let shared = &self.shared;
        self.ras.check()?;
        let req = shared.read32(regs::FI_REQ)?.wrapping_add(1);
        shared.write32(regs::FI_OP, op)?;
        shared.write32(regs::FI_QUEUE, queue)?;
        shared.write32(regs::FI_ARG, arg)?;
        shared.write32(regs::FI_REQ, req)?;
        shared.ring(regs::DOORBELL_CONTROL)?;
        let mut lost = false;
        wait_ms(INJECT_TIMEOUT_MS, || {
            lost = shared.read32(regs::STATUS)? == regs::STATUS_LOST;
            Ok(lost || shared.read32(regs::FI_ACK)? == req)
        })?;
        if lost || shared.read32(regs::FI_STATUS)? == regs::FI_STATUS_OK {
            Ok(())
        } else {
            Err(EINVAL)
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // The rings, the fence page and the kernel page table go with the engine: the device
        // must not reach them any more.
        self.shutdown();
    }
}
