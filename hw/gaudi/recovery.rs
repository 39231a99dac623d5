// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Error handling and recovery of a device, and its fault-injection interface.
//!
//! Recovery has three levels, as `Documentation/recovery.rst` describes:
//!
//! 1. A **queue reset** drops the job at the head of a hardware queue: the error interrupt
//!    does it for a job the device stopped (MMU fault, bad packet), the job queue's timeout
//!    for a job that runs too long. The job fails, its context is banned, the queue resumes
//!    after it; other contexts do not notice.
//! 2. An **engine reset** when the queue does not acknowledge its reset (the engine behind it
//!    hangs): the device abandons whatever the queue's engines run. Same outcome.
//! 3. The device is **wedged** when less is not enough: an engine that does not acknowledge
//!    its reset, an uncorrectable memory error, a device that stopped answering. Every job
//!    fails, the ioctls that need the device fail with `EIO`, and a `WEDGED=rebind` uevent
//!    tells userspace to rebind the driver, whose probe resets the device.
//!
//! The interrupt handlers and the queues only count and record ([`Ras`]); the device's
//! heartbeat ([`Health`], a delayed work item every [`BEAT_MS`] ms) acts: it wedges the device
//! when asked to or when the device is lost and recovers completion interrupts the device did
//! not deliver. Both signal fences, so the heartbeat runs on a queue of its own that memory
//! reclaim can count on (`WQ_MEM_RECLAIM`) and allocates nothing; what does allocate, the
//! device coredump of the last reset and the wedged uevent, is reported by a second work item
//! on the system workqueue.

use core::{
    fmt::Write,
    sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
};

use kernel::{
    alloc::VVec,
    debugfs,
    device::{self, Bound},
    drm::accel::{self, sched::fence::SignallingSection, WedgeTask},
    impl_has_delayed_work, impl_has_work, new_delayed_work, new_spinlock_irq, new_work,
    prelude::*,
    sync::{aref::ARef, Arc, SpinLockIrq},
    time::{delay::fsleep, msecs_to_jiffies, Delta},
    uaccess::UserSliceReader,
    workqueue::{self, DelayedWork, LockdepMap, OwnedQueue, Work, WorkItem},
};

use crate::{
    driver::GaudiDevice,
    engine::{Engine, JobError},
    hw::{queue as q, regs},
};

/// Period of the heartbeat.
pub(crate) const BEAT_MS: u32 = 250;

/// Why a device was wedged.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum WedgeReason {
    /// An uncorrectable error in device memory.
    Uncorrectable = 1,
    /// The device does not answer: its registers read all ones.
    Lost = 2,
    /// A queue's engine did not acknowledge its reset.
    Unresponsive = 3,
    /// The device reports an error state.
    DeviceError = 4,
}

impl WedgeReason {
    fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            1 => Self::Uncorrectable,
            2 => Self::Lost,
            3 => Self::Unresponsive,
            4 => Self::DeviceError,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Uncorrectable => "uncorrectable memory error",
            Self::Lost => "device lost",
            Self::Unresponsive => "engine does not acknowledge its reset",
            Self::DeviceError => "device error",
        }
    }
}

/// State of the device at a reset, for its coredump. Captured where the reset happens (also
/// in interrupt context), formatted by the heartbeat.
#[derive(Clone, Copy)]
pub(crate) struct Snapshot {
    /// What happened.
    pub(crate) what: &'static str,
    /// The queue, if one.
    pub(crate) queue: Option<u32>,
    /// Its register block.
    pub(crate) regs: [u32; 16],
    /// Its completion fence value.
    pub(crate) fence: u64,
    /// The failed job: hardware and context sequence numbers, error.
    pub(crate) hw_seq: u64,
    pub(crate) ctx_seqno: u64,
    pub(crate) error: JobError,
    /// The task that created the job's context.
    pub(crate) task: Option<WedgeTask>,
    /// Jobs on the queue when it happened.
    pub(crate) in_flight: u64,
}

impl Snapshot {
    /// An empty snapshot of `what`.
    pub(crate) fn new(what: &'static str) -> Self {
        Self {
            what,
            queue: None,
            regs: [0; 16],
            fence: 0,
            hw_seq: 0,
            ctx_seqno: 0,
            error: JobError::default(),
            task: None,
            in_flight: 0,
        }
    }
}

/// Counters and requests of the device's error handling.
#[pin_data]
pub(crate) struct Ras {
    pub(crate) queue_resets: AtomicU64,
    pub(crate) engine_resets: AtomicU64,
    pub(crate) lost_irqs: AtomicU64,
    pub(crate) spurious_irqs: AtomicU64,
    pub(crate) corrupt_completions: AtomicU64,
    pub(crate) ecc_correctable: AtomicU64,
    pub(crate) ecc_uncorrectable: AtomicU64,
    pub(crate) coredumps: AtomicU64,
    /// ECC counters of the device as last read.
    seen_ce: AtomicU32,
    seen_ue: AtomicU32,
    /// The device is wedged: it runs nothing until the driver is rebound.
    wedged: AtomicBool,
    /// Why, once wedged.
    wedge_reason: AtomicU32,
    /// A wedge requested where it cannot be carried out (`WedgeReason`, 0: none).
    wedge_request: AtomicU32,
    /// The guilty task of a requested wedge.
    #[pin]
    wedge_task: SpinLockIrq<Option<WedgeTask>>,
    /// The last reset not yet written as a coredump.
    #[pin]
    dump: SpinLockIrq<Option<Snapshot>>,
}

impl Ras {
    pub(crate) fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                queue_resets: AtomicU64::new(0),
                engine_resets: AtomicU64::new(0),
                lost_irqs: AtomicU64::new(0),
                spurious_irqs: AtomicU64::new(0),
                corrupt_completions: AtomicU64::new(0),
                ecc_correctable: AtomicU64::new(0),
                ecc_uncorrectable: AtomicU64::new(0),
                coredumps: AtomicU64::new(0),
                seen_ce: AtomicU32::new(0),
                seen_ue: AtomicU32::new(0),
                wedged: AtomicBool::new(false),
                wedge_reason: AtomicU32::new(0),
                wedge_request: AtomicU32::new(0),
                wedge_task <- new_spinlock_irq!(None, "gaudi_wedge_task"),
                dump <- new_spinlock_irq!(None, "gaudi_dump"),
            }),
            GFP_KERNEL,
        )
    }

    /// Whether the device is wedged.
    pub(crate) fn is_wedged(&self) -> bool {
        self.wedged.load(Ordering::Acquire)
    }

    /// Fails with `EIO` once the device is wedged: what ioctls that need the device check.
    pub(crate) fn check(&self) -> Result {
        if self.is_wedged() {
            Err(EIO)
        } else {
            Ok(())
        }
    }

    /// Asks the heartbeat to wedge the device; callable in any context.
    pub(crate) fn request_wedge(&self, reason: WedgeReason, task: Option<WedgeTask>) {
        // The task is published with the reason, under the lock the heartbeat takes it under.
        let mut t = self.wedge_task.lock();
        if self
            .wedge_request
            .compare_exchange(0, reason as u32, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            *t = task;
        }
    }

    /// The requested wedge, if any, with its task.
    fn wedge_requested(&self) -> Option<(WedgeReason, Option<WedgeTask>)> {
        let mut t = self.wedge_task.lock();
        let reason = WedgeReason::from_u32(self.wedge_request.load(Ordering::Acquire))?;
        Some((reason, t.take()))
    }

    /// Records a reset for the coredump; the first one not yet written wins, as the devcoredump
    /// class keeps one dump per device.
    pub(crate) fn record(&self, snap: Snapshot) {
        let mut dump = self.dump.lock();
        if dump.is_none() {
            *dump = Some(snap);
        }
    }

    /// Reads the device's ECC counters (error interrupt): counts new errors, and asks for a
    /// wedge on an uncorrectable one. Returns whether there was anything new.
    pub(crate) fn ecc(&self, ce: u32, ue: u32) -> bool {
        let new_ce = ce.wrapping_sub(self.seen_ce.swap(ce, Ordering::AcqRel));
        let new_ue = ue.wrapping_sub(self.seen_ue.swap(ue, Ordering::AcqRel));
        self.ecc_correctable
            .fetch_add(u64::from(new_ce), Ordering::Relaxed);
        self.ecc_uncorrectable
            .fetch_add(u64::from(new_ue), Ordering::Relaxed);
        if new_ue != 0 {
            self.request_wedge(WedgeReason::Uncorrectable, None);
        }
        new_ce != 0 || new_ue != 0
    }

    /// Takes the device's ECC counters as they are (probe: errors of a previous life are not
    /// new).
    pub(crate) fn sync_ecc(&self, ce: u32, ue: u32) {
        self.seen_ce.store(ce, Ordering::Release);
        self.seen_ue.store(ue, Ordering::Release);
    }

    fn show(&self, f: &mut impl Write) -> core::fmt::Result {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let reason = WedgeReason::from_u32(self.wedge_reason.load(Ordering::Acquire));
        writeln!(
            f,
            "wedged: {}",
            match (self.is_wedged(), reason) {
                (true, Some(r)) => r.as_str(),
                _ => "no",
            }
        )?;
        writeln!(f, "queue_resets: {}", n(&self.queue_resets))?;
        writeln!(f, "engine_resets: {}", n(&self.engine_resets))?;
        writeln!(f, "lost_irqs: {}", n(&self.lost_irqs))?;
        writeln!(f, "spurious_irqs: {}", n(&self.spurious_irqs))?;
        writeln!(f, "corrupt_completions: {}", n(&self.corrupt_completions))?;
        writeln!(f, "ecc_correctable: {}", n(&self.ecc_correctable))?;
        writeln!(f, "ecc_uncorrectable: {}", n(&self.ecc_uncorrectable))?;
        writeln!(f, "coredumps: {}", n(&self.coredumps))
    }
}

/// A `vmalloc()` buffer that text is formatted into, for a coredump.
struct DumpText(VVec<u8>);

impl Write for DumpText {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0
            .extend_from_slice(s.as_bytes(), GFP_KERNEL)
            .map_err(|_| core::fmt::Error)
    }
}

/// Names of the words of a queue register block, for the coredump.
const QUEUE_WORDS: [&str; 16] = [
    "Q_BASE_LO",
    "Q_BASE_HI",
    "Q_SIZE",
    "Q_CTRL",
    "Q_TAIL",
    "Q_HEAD",
    "Q_STATUS",
    "Q_ERR_CODE",
    "Q_ERR_ADDR_LO",
    "Q_ERR_ADDR_HI",
    "Q_ERR_PKT_LO",
    "Q_ERR_PKT_HI",
    "Q_ERR_INFO",
    "Q_RESET",
    "Q_RESET_ACK",
    "Q_RESUME",
];

const _: () = assert!(q::Q_RESUME / 4 == QUEUE_WORDS.len() - 1);

/// The lockdep class of the heartbeat workqueues.
static BEAT_LOCKDEP_MAP: LockdepMap = LockdepMap::new(c"gaudi_heartbeat_wq");

/// The device's heartbeat and the owner of its recovery.
///
/// # Invariants
///
/// Work items hold references to the `Health`; once [`Health::stop`] returned, none is queued
/// or running, so the last reference, which destroys `wq`, is never dropped by one of its own
/// work items.
#[pin_data]
pub(crate) struct Health {
    engine: Arc<Engine>,
    drm: ARef<GaudiDevice>,
    dev: ARef<device::Device>,
    /// The binding ends: the heartbeat does not come back.
    stopping: AtomicBool,
    /// The heartbeat's queue: ordered, with a rescuer (`WQ_MEM_RECLAIM`), as it signals fences.
    wq: OwnedQueue,
    #[pin]
    beat: DelayedWork<Health, 0>,
    /// Writes the coredump and sends the wedged uevent, which allocate: not on `wq`.
    #[pin]
    report: Work<Health, 1>,
    /// A wedged uevent not sent yet: `Some(task)`.
    #[pin]
    wedged_event: SpinLockIrq<Option<Option<WedgeTask>>>,
}

impl_has_delayed_work! {
    impl HasDelayedWork<Self, 0> for Health { self.beat }
}

impl_has_work! {
    impl HasWork<Self, 1> for Health { self.report }
}

impl WorkItem<0> for Health {
    type Pointer = Arc<Health>;

    fn run(this: Arc<Health>) {
        let report = this.heartbeat();
        if report {
            // Already queued: that run reports this too.
            let _ = workqueue::system().enqueue::<_, 1>(this.clone());
        }
        if !this.stopping.load(Ordering::Acquire) {
            let _ = this
                .wq
                .enqueue_delayed(this.clone(), msecs_to_jiffies(BEAT_MS));
        }
    }
}

impl WorkItem<1> for Health {
    type Pointer = Arc<Health>;

    fn run(this: Arc<Health>) {
        this.report();
    }
}

impl Health {
    /// Starts the heartbeat of a device.
    pub(crate) fn start(
        engine: Arc<Engine>,
        drm: &GaudiDevice,
        dev: &device::Device<Bound>,
    ) -> Result<Arc<Self>> {
        let dev: &device::Device = dev;
        let this = Arc::pin_init(
            try_pin_init!(Self {
                engine,
                drm: drm.into(),
                dev: dev.into(),
                stopping: AtomicBool::new(false),
                wq: OwnedQueue::new_ordered(c"gaudi-heartbeat", true, &BEAT_LOCKDEP_MAP)?,
                beat <- new_delayed_work!("gaudi_heartbeat"),
                report <- new_work!("gaudi_report"),
                wedged_event <- new_spinlock_irq!(None, "gaudi_wedged_event"),
            }),
            GFP_KERNEL,
        )?;
        let _ = this
            .wq
            .enqueue_delayed(this.clone(), msecs_to_jiffies(BEAT_MS));
        Ok(this)
    }

    /// Stops the heartbeat (unbind): it runs once more, now, and not again; what it found is
    /// reported, and a coredump not yet read goes.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        // A beat that started before `stopping` was set re-arms itself once: the second flush
        // runs that one at once, and it sees `stopping`.
        self.beat.flush();
        self.beat.flush();
        // No beat queues a report any more.
        self.report.flush();
        accel::dev_coredump_put(&self.dev);
    }

    /// One beat; returns whether there is something to report.
    fn heartbeat(&self) -> bool {
        // Wedging and recovering lost interrupts signal fences: nothing here may allocate or
        // wait for a fence.
        let _section = SignallingSection::begin();
        let engine = &self.engine;
        let ras = &engine.ras;
        if !ras.is_wedged() {
            match engine.shared.read32(regs::STATUS) {
                // Unbound: nothing to watch any more.
                Err(_) => return false,
                Ok(regs::STATUS_LOST) => self.wedge(WedgeReason::Lost, None),
                Ok(status) if status & regs::STATUS_ERROR != 0 => {
                    let (reason, task) = ras
                        .wedge_requested()
                        .unwrap_or((WedgeReason::DeviceError, None));
                    self.wedge(reason, task);
                }
                Ok(_) => {
                    if let Some((reason, task)) = ras.wedge_requested() {
                        self.wedge(reason, task);
                    }
                }
            }
        }
        if !ras.is_wedged() {
            for queue in engine.queues.iter() {
                if queue.recover_lost_irq() {
                    ras.lost_irqs.fetch_add(1, Ordering::Relaxed);
                    dev_notice!(
                        self.dev,
                        "queue {}: completion interrupt lost, recovered\n",
                        queue.index()
                    );
                }
            }
        }
        ras.dump.lock().is_some() || self.wedged_event.lock().is_some()
    }

    /// Reports what the heartbeat found: the wedged uevent, then the coredump.
    fn report(&self) {
        let event = self.wedged_event.lock().take();
        if let Some(task) = event {
            if let Err(e) = accel::wedged_event(&self.drm, accel::wedge::REBIND, task.as_ref()) {
                dev_warn!(self.dev, "wedged uevent not sent: {e:?}\n");
            }
        }
        let snap = self.engine.ras.dump.lock().take();
        if let Some(snap) = snap {
            self.coredump(&snap);
        }
    }

    /// Wedges the device: stops every queue and fails its jobs, refuses further work, and
    /// tells userspace to rebind.
    fn wedge(&self, reason: WedgeReason, task: Option<WedgeTask>) {
        let ras = &self.engine.ras;
        if ras.wedged.swap(true, Ordering::AcqRel) {
            return;
        }
        ras.wedge_reason.store(reason as u32, Ordering::Release);
        // Userspace learns of it from the uevent and from its ioctls; the log says why.
        dev_notice!(
            self.dev,
            "device wedged: {}; unbind and bind the driver to recover\n",
            reason.as_str()
        );
        let mut snap = Snapshot::new("wedge");
        snap.task = task;
        *ras.dump.lock() = Some(snap);
        // A lost device acknowledges nothing: do not wait for it.
        self.engine.halt(EIO, reason != WedgeReason::Lost);
        *self.wedged_event.lock() = Some(task);
    }

    /// Writes `snap` and the device's state as a coredump.
    fn coredump(&self, snap: &Snapshot) {
        let mut text = DumpText(VVec::new());
        if self.format(snap, &mut text).is_err() {
            return;
        }
        self.engine.ras.coredumps.fetch_add(1, Ordering::Relaxed);
        accel::dev_coredump(&self.dev, text.0);
    }

    fn format(&self, snap: &Snapshot, f: &mut DumpText) -> core::fmt::Result {
        let shared = &self.engine.shared;
        let reg = |off: usize| shared.read32(off).unwrap_or(regs::STATUS_LOST);
        writeln!(f, "gaudi device coredump: {}", snap.what)?;
        writeln!(f, "device: {}", self.dev.name().to_str().unwrap_or("?"))?;
        writeln!(f, "STATUS: {:#010x}", reg(regs::STATUS))?;
        writeln!(f, "ERR_QUEUES: {:#010x}", reg(regs::ERR_QUEUES))?;
        writeln!(f, "PKT_COUNT: {}", reg(regs::PKT_COUNT))?;
        writeln!(f, "ECC_CE_COUNT: {}", reg(crate::hw::health::ECC_CE_COUNT))?;
        writeln!(f, "ECC_UE_COUNT: {}", reg(crate::hw::health::ECC_UE_COUNT))?;
        if let Some(qi) = snap.queue {
            writeln!(f, "queue: {qi}")?;
            for (name, v) in QUEUE_WORDS.iter().zip(snap.regs.iter()) {
                writeln!(f, "  {name}: {v:#010x}")?;
            }
            writeln!(f, "  completion fence: {}", snap.fence)?;
            writeln!(f, "  jobs on the queue: {}", snap.in_flight)?;
            writeln!(
                f,
                "job: hw seqno {} context seqno {}",
                snap.hw_seq, snap.ctx_seqno
            )?;
            let e = &snap.error;
            writeln!(
                f,
                "error: code {} address {:#x} packet {:#x} access {}",
                e.code, e.fault_addr, e.packet, e.access
            )?;
        }
        if let Some(t) = &snap.task {
            writeln!(
                f,
                "task: pid {} comm {}",
                t.pid(),
                core::str::from_utf8(t.comm()).unwrap_or("?")
            )?;
        }
        for queue in self.engine.queues.iter() {
            let i = queue.index();
            writeln!(
                f,
                "queue {i}: status {} head {:#x} tail {:#x}",
                reg(q::queue_reg(i, q::Q_STATUS)),
                reg(q::queue_reg(i, q::Q_HEAD)),
                reg(q::queue_reg(i, q::Q_TAIL)),
            )?;
        }
        writeln!(f, "counters:")?;
        self.engine.ras.show(f)
    }
}

/// Text of the `ras` debugfs file.
fn show_ras(engine: &Arc<Engine>, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    engine.ras.show(f)
}

/// Parses a decimal or `0x` hexadecimal number.
fn number(word: &[u8]) -> Result<u32> {
    let (digits, radix) = match word.strip_prefix(b"0x") {
        Some(h) => (h, 16),
        None => (word, 10),
    };
    if digits.is_empty() {
        return Err(EINVAL);
    }
    let mut v: u32 = 0;
    for &c in digits {
        let d = (c as char).to_digit(radix).ok_or(EINVAL)?;
        v = v
            .checked_mul(radix)
            .and_then(|v| v.checked_add(d))
            .ok_or(EINVAL)?;
    }
    Ok(v)
}

/// Writes to the `inject` debugfs file: `FAULT [QUEUE [ARG]]`, with the fault names of the
/// device specification; the device's fault-injection registers carry the request.
fn inject(engine: &Arc<Engine>, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; 64];
    let len = reader.len();
    if len == 0 || len > buf.len() {
        return Err(EINVAL);
    }
    reader.read_slice(&mut buf[..len])?;
    let mut words = buf[..len]
        .split(|c| c.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    let name = words.next().ok_or(EINVAL)?;
    let op = regs::FAULTS
        .iter()
        .find(|(n, _)| n.as_bytes() == name)
        .map(|&(_, op)| op)
        .ok_or(EINVAL)?;
    let first = words.next().map(number).transpose()?.unwrap_or(0);
    let second = words.next().map(number).transpose()?.unwrap_or(0);
    if words.next().is_some() {
        return Err(EINVAL);
    }
    // Device faults take their argument in the first place.
    let (queue, arg) = match op {
        regs::FI_ECC_CORRECTABLE | regs::FI_ECC_UNCORRECTABLE | regs::FI_DEVICE_LOST => (0, first),
        _ => (first, second),
    };
    engine.inject(op, queue, arg)
}

/// Reads the `job_timeout_ms` debugfs file.
fn show_timeout(engine: &Arc<Engine>, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    writeln!(f, "{}", engine.job_timeout_ms.load(Ordering::Relaxed))
}

/// Writes the `job_timeout_ms` debugfs file: 1..=3600000, for the jobs submitted from now on.
fn set_timeout(engine: &Arc<Engine>, reader: &mut UserSliceReader) -> Result {
    let mut buf = [0u8; 16];
    let len = reader.len();
    if len == 0 || len > buf.len() {
        return Err(EINVAL);
    }
    reader.read_slice(&mut buf[..len])?;
    let ms = number(buf[..len].trim_ascii())?;
    if !(1..=3_600_000).contains(&ms) {
        return Err(EINVAL);
    }
    engine.job_timeout_ms.store(ms, Ordering::Relaxed);
    Ok(())
}

/// The recovery files of a device's debugfs directory (`debugfs.rs`): `ras` (counters and
/// state of error handling), `inject` (fault injection) and `job_timeout_ms`.
pub(crate) struct RecoveryFiles {
    _ras: Pin<KBox<debugfs::File<Arc<Engine>>>>,
    _inject: Pin<KBox<debugfs::File<Arc<Engine>>>>,
    _timeout: Pin<KBox<debugfs::File<Arc<Engine>>>>,
}

impl RecoveryFiles {
    pub(crate) fn new(dir: &debugfs::Dir, engine: &Arc<Engine>) -> Result<Self> {
        let ras = KBox::pin_init(
            dir.read_callback_file(c"ras", engine.clone(), &show_ras),
            GFP_KERNEL,
        )?;
        let inject = KBox::pin_init(
            dir.write_callback_file(c"inject", engine.clone(), &inject),
            GFP_KERNEL,
        )?;
        let timeout = KBox::pin_init(
            dir.read_write_callback_file(
                c"job_timeout_ms",
                engine.clone(),
                &show_timeout,
                &set_timeout,
            ),
            GFP_KERNEL,
        )?;
        Ok(Self {
            _ras: ras,
            _inject: inject,
            _timeout: timeout,
        })
    }
}

/// Waits up to `ms` milliseconds, a millisecond at a time, for `done`.
pub(crate) fn wait_ms(ms: u32, mut done: impl FnMut() -> Result<bool>) -> Result {
    for _ in 0..ms {
        if done()? {
            return Ok(());
        }
        fsleep(Delta::from_millis(1));
    }
    if done()? {
        Ok(())
    } else {
        Err(ETIMEDOUT)
    }
}
