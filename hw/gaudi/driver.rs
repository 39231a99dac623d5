// SPDX-License-Identifier: GPL-2.0 OR MIT

//! PCI probe of the device and its registration as a DRM compute accelerator.

use core::{
    mem::ManuallyDrop,
    sync::atomic::{AtomicU32, Ordering},
};

use kernel::{
    device::{self, Bound, Core, DeviceContext},
    dma::{Coherent, Device as _},
    drm::{
        self,
        accel::{
            fdinfo::Printer,
            gem::vram::{DeviceMemory, Exports},
            sched::queue::{Config, JobQueue},
        },
    },
    fwctl, hwmon,
    io::{io_read, io_write, poll, Io},
    irq::{self, IrqReturn},
    pci::{self, IrqType, IrqTypes, IrqVectorRegistration},
    prelude::*,
    sync::Arc,
    time::Delta,
    transmute::AsBytes,
};

use crate::{
    debugfs::Debugfs,
    engine::{Engine, ErrorIrq, QueueBackend, QueueIrq, Shared, QUEUE_DEPTH},
    file::{File, FileData},
    fwctl::{FwctlUser, Mailbox},
    gem::{Bo, BoStats},
    health::Sensors,
    hw::regs as hwregs,
    recovery::Health,
    regs, uapi,
    usage::ENGINE_NAMES,
};

/// How long a job may run at the head of its hardware queue, by default (debugfs
/// `job_timeout_ms` changes it).
pub(crate) const JOB_TIMEOUT_MS: u32 = 10_000;
/// Jobs a context may have queued and not yet on the hardware.
const CTX_DEPTH: u32 = 256;

/// The DRM driver.
pub(crate) struct GaudiDriver;

/// A DRM device of this driver.
pub(crate) type GaudiDevice<Ctx = drm::Normal> = drm::Device<GaudiDriver, Ctx>;

/// The PCI driver.
pub(crate) struct GaudiPciDriver;

type IvshmemBar<'bound> = pci::Bar<'bound, { regs::BAR_IVSHMEM_SIZE }>;
type RegsBar<'bound> = pci::Bar<'bound, { hwregs::REGS_SIZE }>;

/// Device information as `DRM_GAUDI_QUERY_DEVICE_INFO` reports it.
#[repr(transparent)]
pub(crate) struct DeviceInfo(uapi::drm_gaudi_device_info);

// The uapi struct is made of integers with no implicit padding.
const _: () = assert!(core::mem::size_of::<uapi::drm_gaudi_device_info>() == 40);

// SAFETY: `drm_gaudi_device_info` only has integer fields and, as asserted above, no padding, so
// all of its bytes are initialized.
unsafe impl AsBytes for DeviceInfo {}

/// Data of the DRM device; it lives as long as the device or any of its buffer objects (each
/// holds a reference to the device), which may be longer than the PCI binding.
#[pin_data]
pub(crate) struct GaudiData {
    /// The device memory, behind BAR2: its allocator outlives the binding, its kernel mapping
    /// of the BAR does not (it is a device resource of the PCI function).
    pub(crate) vram: DeviceMemory,
    /// Accounting of the live buffer objects.
    pub(crate) bo_stats: BoStats,
}

/// Data the ioctls see while the device is registered: what belongs to the binding.
///
/// It is dropped at unbind, when the accel node is unplugged: the job queues then stop their
/// hardware queues and fail what is on them. Contexts (entities) outlive their queue and
/// refuse further jobs.
pub(crate) struct GaudiRegData<'a> {
    pub(crate) info: DeviceInfo,
    /// The bound parent device.
    pub(crate) dev: &'a device::Device<Bound>,
    /// Hardware queues and address spaces.
    pub(crate) engine: Arc<Engine>,
    /// One job queue per hardware queue.
    queues: KVec<JobQueue<QueueBackend>>,
    /// Where the next context goes.
    next_queue: AtomicU32,
    /// The job timeout the job queues have, in ms.
    timeout_ms: AtomicU32,
}

impl GaudiRegData<'_> {
    /// The hardware queue and job queue of a new context: the hardware queues take contexts
    /// in turn.
    pub(crate) fn pick_queue(&self) -> Result<(u32, &JobQueue<QueueBackend>)> {
        let n = self.queues.len();
        if n == 0 {
            return Err(ENODEV);
        }
        let i = self.next_queue.fetch_add(1, Ordering::Relaxed) as usize % n;
        Ok((i as u32, self.queues.get(i).ok_or(ENODEV)?))
    }

    /// Gives the job queues the job timeout of the engine, if it changed (submit).
    pub(crate) fn sync_timeout(&self) {
        let ms = self.engine.job_timeout_ms.load(Ordering::Relaxed);
        if self.timeout_ms.swap(ms, Ordering::AcqRel) != ms {
            for q in self.queues.iter() {
                let _ = q.set_timeout(Delta::from_millis(i64::from(ms)));
            }
        }
    }
}

/// Counts the control interrupts of a device.
#[pin_data]
pub(crate) struct ControlIrq {
    events: AtomicU32,
}

impl irq::Handler for ControlIrq {
    fn handle(&self) -> IrqReturn {
        self.events.fetch_add(1, Ordering::AcqRel);
        IrqReturn::Handled
    }
}

/// Reads the 64-bit register at `OFF` of the register file.
///
/// The BAR only guarantees 32-bit aligned accesses, so 64-bit registers are accessed as two
/// 32-bit halves, low half first. The device only acts on registers when a doorbell rings, so
/// it never sees a half-written value.
fn read64<const OFF: usize>(regs: &RegsBar<'_>) -> u64 {
    u64::from(regs.read32(OFF)) | (u64::from(regs.read32(OFF + 4)) << 32)
}

/// Writes the 64-bit register at `OFF`; see [`read64`].
fn write64<const OFF: usize>(regs: &RegsBar<'_>, value: u64) {
    regs.write32(value as u32, OFF);
    regs.write32((value >> 32) as u32, OFF + 4);
}

/// The mapped BARs of a device.
struct Hw<'bound> {
    ivshmem: IvshmemBar<'bound>,
    regs: RegsBar<'bound>,
    /// The device's ivshmem peer id, the target of doorbells.
    peer: u32,
}

impl<'bound> Hw<'bound> {
    /// Checks the identity of the device behind the BARs.
    fn new(
        pdev: &pci::Device<Core<'_>>,
        ivshmem: IvshmemBar<'bound>,
        regs: RegsBar<'bound>,
    ) -> Result<Self> {
        let signature = read64::<{ hwregs::SIGNATURE }>(&regs);
        if signature != hwregs::SIGNATURE_VALUE {
            dev_err!(
                pdev,
                "no Gaudi-class device behind this ivshmem function (signature {signature:#x})\n"
            );
            return Err(ENODEV);
        }

        let version = regs.read32(hwregs::VERSION);
        if version >> 16 != hwregs::VERSION_MAJOR {
            dev_err!(
                pdev,
                "unsupported interface version {}.{}\n",
                version >> 16,
                version & 0xffff
            );
            return Err(ENODEV);
        }

        // A device reset first, as after a function-level reset: a device that was wedged
        // (in error, or lost and back) starts afresh, and nothing of a previous driver
        // remains. The device is done when DEV_RESET reads 0 and STATUS READY again.
        regs.write32(hwregs::DEV_RESET_START, hwregs::DEV_RESET);
        let peer = regs.read32(hwregs::DOORBELL_PEER);
        if peer <= u32::from(u16::MAX) {
            ivshmem.write32(
                (peer << 16) | hwregs::DOORBELL_CONTROL,
                regs::IVSHMEM_DOORBELL,
            );
        }
        poll::read_poll_timeout(
            || Ok((regs.read32(hwregs::DEV_RESET), regs.read32(hwregs::STATUS))),
            |(reset, status)| *reset == 0 && status & hwregs::STATUS_READY != 0,
            Delta::from_millis(1),
            Delta::from_secs(5),
        )
        .inspect_err(|_| dev_err!(pdev, "the device did not complete its reset\n"))?;

        let status = regs.read32(hwregs::STATUS);
        if status & hwregs::STATUS_READY == 0 || status & hwregs::STATUS_ERROR != 0 {
            dev_err!(pdev, "device not ready (status {status:#x})\n");
            return Err(EIO);
        }

        let peer = regs.read32(hwregs::DOORBELL_PEER);
        let own = ivshmem.read32(regs::IVSHMEM_IVPOSITION);
        if peer > u32::from(u16::MAX) || peer == own {
            dev_err!(pdev, "invalid doorbell peer {peer} (own peer id {own})\n");
            return Err(EIO);
        }

        let vectors = regs.read32(hwregs::NUM_VECTORS);
        if vectors < hwregs::NUM_VECTORS_MIN {
            dev_err!(
                pdev,
                "device has {vectors} interrupt vectors, {} needed\n",
                hwregs::NUM_VECTORS_MIN
            );
            return Err(ENODEV);
        }

        let dram_offset = read64::<{ hwregs::DRAM_OFFSET }>(&regs);
        if dram_offset < hwregs::REGS_SIZE as u64 {
            dev_err!(
                pdev,
                "device memory at {dram_offset:#x} overlaps the registers\n"
            );
            return Err(ENODEV);
        }

        Ok(Self {
            ivshmem,
            regs,
            peer,
        })
    }

    /// Rings doorbell `vector` of the device.
    fn ring(&self, vector: u32) {
        self.ivshmem
            .write32((self.peer << 16) | vector, regs::IVSHMEM_DOORBELL);
    }

    /// Proves both directions of the device path: the doorbell wakes the device, the device
    /// DMAs into a driver buffer and raises the control interrupt.
    fn selftest(&self, pdev: &pci::Device<Core<'_>>, irq: &ControlIrq) -> Result {
        let buf: Coherent<[u64]> = Coherent::zeroed_slice(pdev.as_ref(), 1, GFP_KERNEL)?;
        let instance = u64::from(self.regs.read32(hwregs::INSTANCE));
        let pattern = 0x0123_4567_89ab_cdef_u64 ^ (instance << 40);
        let irqs_before = irq.events.load(Ordering::Acquire);

        write64::<{ hwregs::SELFTEST_ADDR }>(&self.regs, buf.dma_address());
        write64::<{ hwregs::SELFTEST_PATTERN }>(&self.regs, pattern);
        self.regs
            .write32(hwregs::SELFTEST_STATUS_IDLE, hwregs::SELFTEST_STATUS);
        self.regs
            .write32(hwregs::SELFTEST_CTRL_START, hwregs::SELFTEST_CTRL);
        self.ring(hwregs::DOORBELL_CONTROL);

        poll::read_poll_timeout(
            || Ok(irq.events.load(Ordering::Acquire)),
            |events| *events != irqs_before,
            Delta::from_millis(1),
            Delta::from_secs(5),
        )
        .inspect_err(|_| dev_err!(pdev, "self-test: no interrupt from the device\n"))?;

        let status = self.regs.read32(hwregs::SELFTEST_STATUS);
        if status != hwregs::SELFTEST_STATUS_DONE {
            dev_err!(pdev, "self-test: device reported status {status}\n");
            return Err(EIO);
        }

        let value = io_read!(buf, [try: 0]);
        if value != !pattern {
            dev_err!(
                pdev,
                "self-test: DMA wrote {value:#x}, expected {:#x}\n",
                !pattern
            );
            return Err(EIO);
        }

        // Leave nothing behind that a later reader could mistake for a result.
        io_write!(buf, [try: 0], 0);
        Ok(())
    }

    /// Describes the device memory: the part of BAR2 after the register file.
    ///
    /// The bookkeeping lives in the DRM device's data and may outlive the binding; its kernel
    /// mapping of the BAR is a device resource of `pdev`, unmapped at unbind.
    fn device_memory(&self, pdev: &pci::Device<Core<'_>>) -> Result<DeviceMemory> {
        let offset = read64::<{ hwregs::DRAM_OFFSET }>(&self.regs);
        let size = read64::<{ hwregs::DRAM_SIZE }>(&self.regs);
        DeviceMemory::new(pdev, regs::BAR_SHARED, offset, size).inspect_err(|_| {
            dev_err!(
                pdev,
                "device memory {offset:#x}+{size:#x} is not a page-aligned range of BAR2\n"
            )
        })
    }

    fn info(&self, pdev: &pci::Device<Core<'_>>) -> DeviceInfo {
        DeviceInfo(uapi::drm_gaudi_device_info {
            device_id: self.regs.read32(hwregs::DEVICE_ID),
            revision: self.regs.read32(hwregs::REVISION),
            hw_version: self.regs.read32(hwregs::VERSION),
            num_queues: self.regs.read32(hwregs::NUM_QUEUES),
            dram_size: read64::<{ hwregs::DRAM_SIZE }>(&self.regs),
            pci_vendor: pdev.vendor_id().as_raw(),
            pci_device: pdev.device_id(),
            pci_bdf: pdev.dev_id(),
            pad: 0,
            instance: self.regs.read32(hwregs::INSTANCE),
            // Probe fails if the self-test does, so a bound device has passed it.
            selftest_passed: 1,
        })
    }
}

/// Per-device driver data, dropped when the device is unbound.
///
/// The teardown order matters and is spelled out in [`Drop`] rather than left to the order of
/// the fields: the accel node goes first (`drm_dev_unplug()`: no ioctl, mapping or attach
/// reaches the device after it), then the dma-bufs of its device memory are revoked (importers
/// on other devices unmap, and their jobs that use it finish or fail), then the device's queues
/// and address spaces are stopped and
/// the jobs on them failed, then the interrupt handlers, then the interrupt vectors that the
/// handlers' registrations borrow. The BARs are device resources, revoked after this.
pub(crate) struct GaudiPciData<'bound> {
    /// The heartbeat, which wedges the device when needed: stopped first.
    health: Arc<Health>,
    drm: ManuallyDrop<drm::Registration<'bound, GaudiDriver>>,
    /// The device memory's dma-bufs, revoked once the accel node is unplugged.
    exports: Arc<Exports>,
    engine: Arc<Engine>,
    queue_irqs: ManuallyDrop<KVec<Pin<KBox<irq::Registration<'bound, QueueIrq>>>>>,
    error_irq: ManuallyDrop<Pin<KBox<irq::Registration<'bound, ErrorIrq>>>>,
    irq: ManuallyDrop<Pin<KBox<irq::Registration<'bound, ControlIrq>>>>,
    /// Borrowed by the interrupt registrations (see [`GaudiPciDriver::probe`]).
    vectors: ManuallyDrop<KBox<IrqVectorRegistration<'bound>>>,
    /// The hwmon device of the sensors.
    _hwmon: hwmon::Registration<'bound, Sensors>,
    /// The fwctl device of the management firmware.
    _fwctl: fwctl::Registration<'bound, FwctlUser>,
    _debugfs: Debugfs,
}

impl Drop for GaudiPciData<'_> {
    fn drop(&mut self) {
        self.health.stop();
        // SAFETY: Each field is dropped exactly once, here, and not used afterwards. The order
        // is the one documented on the type: the interrupt registrations borrow `vectors`, so
        // they go before them.
        unsafe { ManuallyDrop::drop(&mut self.drm) };
        // Importers on other devices give up their mappings of the device memory, and the
        // jobs that use it finish, before the BAR and its p2pdma provider go away.
        self.exports.revoke();
        self.engine.shutdown();
        // SAFETY: As above.
        unsafe {
            ManuallyDrop::drop(&mut self.queue_irqs);
            ManuallyDrop::drop(&mut self.error_irq);
            ManuallyDrop::drop(&mut self.irq);
            ManuallyDrop::drop(&mut self.vectors);
        }
    }
}

kernel::pci_device_table!(
    PCI_TABLE,
    <GaudiPciDriver as pci::Driver>::IdInfo,
    [(
        pci::DeviceId::from_id(pci::Vendor::REDHAT_QUMRANET, 0x1110),
        ()
    )]
);

impl pci::Driver for GaudiPciDriver {
    type IdInfo = ();
    type Data<'bound> = GaudiPciData<'bound>;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        pdev.enable_device_mem()?;
        pdev.set_master();
        // The device's MMU maps page by page, so a scatterlist segment may be of any length;
        // the DMA layer's default limit (64 KiB) would make every larger segment of a shmem
        // object a DMA-API violation.
        // SAFETY: Probe runs before anything maps or allocates DMA memory for the device.
        unsafe { pdev.dma_set_max_seg_size(u32::MAX) };

        let ivshmem = pdev.iomap_region_sized::<{ regs::BAR_IVSHMEM_SIZE }>(
            regs::BAR_IVSHMEM,
            c"gaudi-ivshmem",
        )?;
        let regs_bar =
            pdev.iomap_region_sized::<{ hwregs::REGS_SIZE }>(regs::BAR_SHARED, c"gaudi-shared")?;
        let hw = Hw::new(pdev, ivshmem, regs_bar)?;
        // The device recognises accesses to its own memory by their bus address.
        write64::<{ hwregs::BAR2_BASE }>(&hw.regs, pdev.resource_start(regs::BAR_SHARED)?);

        let nvec = hwregs::NUM_VECTORS_MIN;
        let msix = IrqTypes::default().with(IrqType::MsiX);
        let vectors = KBox::new(pdev.alloc_irq_vectors(nvec, nvec, msix)?, GFP_KERNEL)?;
        // SAFETY: The vector registration lives in its own allocation, which does not move when
        // the box does, until `vectors` is dropped. Everything that borrows it through
        // `vectors_ref` is dropped first: the interrupt registrations are declared after
        // `vectors` in this function (so they are dropped first if probe fails), and
        // `GaudiPciData::drop` drops them before `vectors`.
        let vectors_ref: &'bound IrqVectorRegistration<'bound> =
            unsafe { &*core::ptr::from_ref::<IrqVectorRegistration<'bound>>(&*vectors) };
        let request = vectors_ref.index(hwregs::VECTOR_CONTROL as usize)?;

        // SAFETY: The registration is stored in the driver data and dropped with it, never
        // forgotten.
        let irq = KBox::pin_init(
            unsafe {
                irq::Registration::new(
                    request.into(),
                    irq::Flags::TRIGGER_NONE,
                    c"gaudi-control",
                    try_pin_init!(ControlIrq {
                        events: AtomicU32::new(0),
                    }? Error),
                )
            },
            GFP_KERNEL,
        )?;

        hw.selftest(pdev, irq.handler())?;
        let info = hw.info(pdev);
        let vram = hw.device_memory(pdev)?;

        let Hw {
            ivshmem,
            regs: regs_bar,
            peer,
        } = hw;
        let shared = Arc::new(
            Shared::new(regs_bar.into_devres()?, ivshmem.into_devres()?, peer),
            GFP_KERNEL,
        )?;
        let engine = Engine::new(pdev.as_ref(), shared)
            .inspect_err(|e| dev_err!(pdev, "queues did not come up: {e:?}\n"))?;
        let bound: &'bound device::Device<Bound> = pdev.as_ref();
        let hwmon = hwmon::Registration::new(bound, c"gaudi", Sensors::new(engine.shared.clone()))?;
        let fwctl_dev = fwctl::Device::<FwctlUser>::new(bound)?;
        // SAFETY: The registration is stored in the driver data and dropped with it, never
        // forgotten; the fwctl device was just allocated and is registered only here.
        let fwctl = unsafe {
            fwctl::Registration::new(
                bound,
                &fwctl_dev,
                Mailbox::new(engine.shared.clone(), info.0.instance),
            )?
        };
        let debugfs = Debugfs::new(bound, &engine)?;

        let request = vectors_ref.index(hwregs::VECTOR_ERROR as usize)?;
        // SAFETY: As above.
        let error_irq = KBox::pin_init(
            unsafe {
                irq::Registration::new(
                    request.into(),
                    irq::Flags::TRIGGER_NONE,
                    c"gaudi-error",
                    Ok::<_, Error>(engine.error_irq()?),
                )
            },
            GFP_KERNEL,
        )?;
        let mut queue_irqs = KVec::new();
        let mut queues = KVec::new();
        for q in 0..engine.queues.len() {
            let request = vectors_ref.index(hwregs::vector_queue(q as u32) as usize)?;
            let handler = engine.queue_irq(q).ok_or(EINVAL)?;
            // SAFETY: As above.
            let reg = KBox::pin_init(
                unsafe {
                    irq::Registration::new(
                        request.into(),
                        irq::Flags::TRIGGER_NONE,
                        c"gaudi-queue",
                        Ok::<_, Error>(handler),
                    )
                },
                GFP_KERNEL,
            )?;
            queue_irqs.push(reg, GFP_KERNEL)?;
            let backend = engine.backend(q).ok_or(EINVAL)?;
            let config = Config {
                name: c"gaudi-queue",
                credits: QUEUE_DEPTH,
                entity_depth: CTX_DEPTH,
                timeout: Delta::from_millis(i64::from(JOB_TIMEOUT_MS)),
            };
            queues.push(JobQueue::new(backend, config)?, GFP_KERNEL)?;
        }

        dev_info!(
            pdev,
            "device {}: id {:#x} rev {}, interface {}.{}, {} queues, {} MiB, self-test passed\n",
            info.0.instance,
            info.0.device_id,
            info.0.revision,
            info.0.hw_version >> 16,
            info.0.hw_version & 0xffff,
            info.0.num_queues,
            info.0.dram_size >> 20,
        );

        let exports = vram.exports();
        let data = try_pin_init!(GaudiData {
            vram,
            bo_stats: BoStats::default(),
        }? Error);
        let unregistered = drm::UnregisteredDevice::<GaudiDriver>::new(pdev, data)?;
        // SAFETY: The registration is stored in the driver data and dropped with it, never
        // forgotten.
        let drm = unsafe {
            drm::Registration::new(
                pdev.as_ref(),
                unregistered,
                GaudiRegData {
                    info,
                    dev: bound,
                    engine: engine.clone(),
                    queues,
                    next_queue: AtomicU32::new(0),
                    timeout_ms: AtomicU32::new(JOB_TIMEOUT_MS),
                },
                0,
            )?
        };

        // Last: nothing fails after the heartbeat started.
        let health = Health::start(engine.clone(), drm.device(), bound)?;

        Ok(GaudiPciData {
            health,
            drm: ManuallyDrop::new(drm),
            exports,
            engine,
            queue_irqs: ManuallyDrop::new(queue_irqs),
            error_irq: ManuallyDrop::new(error_irq),
            irq: ManuallyDrop::new(irq),
            vectors: ManuallyDrop::new(vectors),
            _hwmon: hwmon,
            _fwctl: fwctl,
            _debugfs: debugfs,
        })
    }
}

const INFO: drm::DriverInfo = drm::DriverInfo {
    major: 0,
    minor: 1,
    patchlevel: 0,
    name: c"gaudi",
    desc: c"Gaudi-class compute accelerator",
};

#[vtable]
impl drm::Driver for GaudiDriver {
    type Data = GaudiData;
    type RegistrationData<'a> = GaudiRegData<'a>;
    type File = FileData;
    type Object = Bo;
    type ParentDevice<Ctx: DeviceContext> = pci::Device<Ctx>;

    const INFO: drm::DriverInfo = INFO;
    const FEAT_COMPUTE_ACCEL: bool = true;
    const FEAT_SYNCOBJ: bool = true;
    const FEAT_SYNCOBJ_TIMELINE: bool = true;

    kernel::declare_drm_ioctls! {
        uapi = crate::uapi;
        (GAUDI_QUERY, drm_gaudi_query, 0, FileData::query),
        (GAUDI_GEM_CREATE, drm_gaudi_gem_create, 0, FileData::gem_create),
        (GAUDI_GEM_INFO, drm_gaudi_gem_info, 0, FileData::gem_info),
        (GAUDI_GEM_MMAP_OFFSET, drm_gaudi_gem_mmap_offset, 0, FileData::gem_mmap_offset),
        (GAUDI_VM_BIND, drm_gaudi_vm_bind, 0, FileData::vm_bind),
        (GAUDI_CTX_CREATE, drm_gaudi_ctx_create, 0, FileData::ctx_create),
        (GAUDI_CTX_DESTROY, drm_gaudi_ctx_destroy, 0, FileData::ctx_destroy),
        (GAUDI_SUBMIT, drm_gaudi_submit, 0, FileData::submit),
        (GAUDI_CTX_QUERY, drm_gaudi_ctx_query, 0, FileData::ctx_query),
    }

    /// The client's busy time on each hardware queue (`drm-engine-queue<q>`) and the memory
    /// keys of its buffer objects.
    fn show_fdinfo(_dev: &GaudiDevice, file: &File, printer: &mut Printer<'_>) {
        let usage = &file.inner().usage;
        for (q, name) in ENGINE_NAMES.iter().enumerate() {
            printer.engine(name, usage.busy_ns(q));
        }
        printer.memory_stats(file);
    }
}
