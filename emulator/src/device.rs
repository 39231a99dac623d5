// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The device model: register file, doorbells and interrupts of one Gaudi-class device.
//!
//! The device has no MMIO traps: the guest writes the register file in BAR2 (shared memory)
//! and rings a doorbell. [`Device::handle_doorbell`] runs the control blocks (the self-test)
//! on the caller's thread and returns the interrupt vectors to raise; a queue doorbell wakes
//! that queue's thread (`queue.rs`), which raises its interrupts itself.

use std::{
    io,
    os::fd::{AsFd, OwnedFd},
    os::unix::net::UnixStream,
    sync::{
        atomic::{fence, Ordering},
        Arc, Mutex, MutexGuard,
    },
    time::{Duration, Instant},
};

use gaudi_hw::{mmu, queue as hwq, regs};

use crate::{
    fault::{Fault, QueueFaults},
    health::{self, Load, Sensors},
    ivshmem,
    mem::{Dma, Mapping, SharedRam},
    queue::{Core, Irqs, Queue},
};

/// ivshmem peer id of the device (the emulator side); published in `DOORBELL_PEER`.
pub const DEVICE_PEER: u16 = 0;
/// ivshmem peer id given to the QEMU client; the guest reads it from BAR0 `IVPosition`.
pub const CLIENT_PEER: u16 = 1;
/// Vectors a device may have: what the driver needs, up to what QEMU's 8-bit doorbell
/// vector field can name.
pub const VECTORS: std::ops::RangeInclusive<usize> = regs::NUM_VECTORS_MIN as usize..=256;

/// The QEMU process attached to a device.
pub struct Client {
    pub sock: UnixStream,
    /// Eventfds the guest's doorbell writes to, one per vector (peer [`DEVICE_PEER`]).
    pub doorbells: Vec<OwnedFd>,
    /// Eventfds that inject the client's MSI-X vectors (peer [`CLIENT_PEER`]).
    pub interrupts: Arc<Irqs>,
    /// Vectors whose unhandled doorbell was already logged.
    logged: Vec<bool>,
}

/// One emulated device.
pub struct Device {
    pub instance: u32,
    pub vectors: usize,
    pub shm_fd: OwnedFd,
    pub shm: Arc<Mapping>,
    pub client: Option<Client>,
    ram: Arc<SharedRam>,
    core: Arc<Core>,
    queues: Vec<Queue>,
    /// The device is lost (injected) until then: it answers nothing.
    lost_until: Option<Instant>,
    load: Arc<Load>,
    sensors: Mutex<Sensors>,
}

/// Initialises the register file in `shm` as the device does at reset: every register zero
/// (every queue disabled, every MMU context invalid), then the RO registers, then
/// `STATUS = READY`.
pub fn reset_registers(shm: &Mapping, instance: u32, vectors: u32) {
    for off in (0..regs::REGS_SIZE.min(shm.len())).step_by(4) {
        shm.write32(off, 0);
    }
    shm.write64(regs::SIGNATURE, regs::SIGNATURE_VALUE);
    shm.write32(regs::VERSION, regs::VERSION_VALUE);
    shm.write32(regs::DOORBELL_PEER, u32::from(DEVICE_PEER));
    shm.write32(regs::DEVICE_ID, regs::DEVICE_ID_VALUE);
    shm.write32(regs::REVISION, regs::REVISION_VALUE);
    shm.write32(regs::NUM_QUEUES, regs::NUM_QUEUES_VALUE);
    shm.write32(regs::NUM_VECTORS, vectors);
    shm.write64(regs::DRAM_OFFSET, regs::DRAM_OFFSET_VALUE);
    shm.write64(
        regs::DRAM_SIZE,
        (shm.len() as u64).saturating_sub(regs::DRAM_OFFSET_VALUE),
    );
    shm.write32(regs::INSTANCE, instance);
    shm.write32(regs::NUM_ASIDS, regs::NUM_ASIDS_VALUE);
    shm.write32(regs::VA_BITS, regs::VA_BITS_VALUE);
    shm.write32(regs::PA_BITS, regs::PA_BITS_VALUE);
    for q in 0..regs::NUM_QUEUES_VALUE {
        shm.write32(hwq::queue_reg(q, hwq::Q_STATUS), hwq::Q_STATUS_DISABLED);
    }
    for asid in 0..regs::NUM_ASIDS_VALUE {
        shm.write32(mmu::ctx_reg(asid, mmu::CTX_CTRL), 0);
    }
    fence(Ordering::Release);
    shm.write32(regs::STATUS, regs::STATUS_READY);
}

/// Runs the self-test if the driver requested one (`SELFTEST_CTRL == START`), as the spec
/// says: clear `SELFTEST_CTRL`, DMA `!PATTERN` (8 bytes, little-endian) to `SELFTEST_ADDR`,
/// set `SELFTEST_STATUS` to DONE or ERR_DMA. Returns `None` if there was no request, else
/// the outcome of the DMA (for the log; the status register already tells the driver).
pub fn run_selftest(shm: &Mapping, dma: &mut (impl Dma + ?Sized)) -> Option<io::Result<()>> {
    if shm.read32(regs::SELFTEST_CTRL) != regs::SELFTEST_CTRL_START {
        return None;
    }
    shm.write32(regs::SELFTEST_CTRL, 0);
    shm.write32(regs::SELFTEST_STATUS, regs::SELFTEST_STATUS_BUSY);
    let addr = shm.read64(regs::SELFTEST_ADDR);
    let value = !shm.read64(regs::SELFTEST_PATTERN);
    let res = dma.dma_write(addr, &value.to_le_bytes());
    let status = match res {
        Ok(()) => regs::SELFTEST_STATUS_DONE,
        Err(_) => regs::SELFTEST_STATUS_ERR_DMA,
    };
    // The DMA must be visible before the status that announces it.
    fence(Ordering::Release);
    shm.write32(regs::SELFTEST_STATUS, status);
    Some(res.map_err(|e| io::Error::new(e.kind(), format!("self-test DMA to {addr:#x}: {e}"))))
}

impl Device {
    /// Creates device `instance` with a shared region of `shm_size` bytes and `vectors`
    /// doorbell/interrupt vectors, doing DMA to `ram`; starts its queue threads.
    pub fn new(
        instance: u32,
        shm_size: usize,
        vectors: usize,
        ram: Arc<SharedRam>,
    ) -> io::Result<Self> {
        if shm_size <= regs::DRAM_OFFSET_VALUE as usize || !VECTORS.contains(&vectors) {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let shm_fd = crate::mem::memfd(&format!("gaudi-emu{instance}"), shm_size)?;
        let shm = Arc::new(Mapping::new(&shm_fd, shm_size)?);
        ram.add_device(shm.clone());
        let load = Arc::new(Load::new(regs::NUM_QUEUES_VALUE as usize));
        let core = Arc::new(Core {
            instance,
            load: load.clone(),
            shm: shm.clone(),
            ram: ram.clone(),
            faults: (0..regs::NUM_QUEUES_VALUE)
                .map(|_| QueueFaults::new())
                .collect(),
        });
        let queues = (0..regs::NUM_QUEUES_VALUE)
            .map(|q| Queue::new(core.clone(), q))
            .collect::<io::Result<_>>()?;
        Ok(Self {
            instance,
            vectors,
            shm_fd,
            shm,
            client: None,
            ram,
            core,
            queues,
            lost_until: None,
            load,
            sensors: Mutex::new(Sensors::new()),
        })
    }

    fn sensors(&self) -> MutexGuard<'_, Sensors> {
        self.sensors.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a memory (ECC) error at device address `addr`, correctable or not, in the
    /// error counters of the health block.
    pub fn memory_error(&self, uncorrectable: bool, addr: u64) {
        health::memory_error(&self.shm, uncorrectable, addr);
    }

    /// Resets the device: the whole shared region becomes zero (device memory does not leak
    /// from one client to the next), then the register file is initialised. The queues must
    /// be stopped.
    pub fn reset(&self) {
        // Punching a hole in the memfd zeroes the range.
        let punched = rustix::fs::fallocate(
            &self.shm_fd,
            rustix::fs::FallocateFlags::PUNCH_HOLE | rustix::fs::FallocateFlags::KEEP_SIZE,
            0,
            self.shm.len() as u64,
        );
        if let Err(e) = punched {
            eprintln!(
                "gaudi-emu{}: could not clear device memory: {}",
                self.instance,
                io::Error::from(e)
            );
        }
        for f in &self.core.faults {
            f.clear();
        }
        reset_registers(&self.shm, self.instance, self.vectors as u32);
        self.sensors().reset(&self.shm, &self.load);
    }

    /// A device reset while a client is attached: the queues abandon their work, the device
    /// is reset as at attach, and the queues serve the client again.
    fn reset_attached(&mut self) {
        for q in &self.queues {
            q.stop();
        }
        self.reset();
        if let Some(c) = &self.client {
            for q in &self.queues {
                q.start(c.interrupts.clone());
            }
        }
    }

    /// Whether the device is lost (injected) and answers nothing.
    pub fn is_lost(&self) -> bool {
        self.lost_until.is_some()
    }

    /// Time passes: a lost device whose time is up comes back reset, as after a slot power
    /// cycle, and the sensors of an attached device that answers are updated if their time has
    /// come ([`health::UPDATE_INTERVAL`]). Called by the server's loop at least every 100 ms.
    pub fn tick(&mut self) {
        if self.lost_until.is_some_and(|t| Instant::now() >= t) {
            self.lost_until = None;
            self.reset_attached();
            eprintln!(
                "gaudi-emu{}: device back after a loss, reset",
                self.instance
            );
        }
        if self.client.is_some() && !self.is_lost() {
            self.sensors().tick(&self.shm, &self.load);
        }
    }

    /// Injects `fault` (see [`crate::fault`]). Fails with `EINVAL` for a queue the device
    /// does not have, and with `ENODEV` while the device is lost.
    pub fn inject(&mut self, fault: Fault) -> io::Result<()> {
        if self.is_lost() {
            return Err(io::Error::from_raw_os_error(libc::ENODEV));
        }
        if let Some(q) = fault.queue() {
            if q >= regs::NUM_QUEUES_VALUE {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            }
        }
        eprintln!("gaudi-emu{}: injecting {fault:?}", self.instance);
        let shm = &self.shm;
        match fault {
            Fault::SpuriousIrq { queue } => {
                self.raise(regs::vector_queue(queue) as usize)?;
                self.raise(regs::VECTOR_ERROR as usize)?;
            }
            Fault::EccCorrectable { addr } | Fault::EccUncorrectable { addr } => {
                let uncorrectable = matches!(fault, Fault::EccUncorrectable { .. });
                health::memory_error(shm, uncorrectable, u64::from(addr));
                if uncorrectable {
                    shm.or32(regs::STATUS, regs::STATUS_ERROR);
                }
                self.raise(regs::VECTOR_ERROR as usize)?;
            }
            Fault::DeviceLost { ms } => {
                for q in &self.queues {
                    q.stop();
                }
                // Reads of a device that fell off the bus return all ones.
                for off in (0..regs::REGS_SIZE.min(shm.len())).step_by(4) {
                    shm.write32(off, regs::STATUS_LOST);
                }
                self.lost_until = Some(Instant::now() + Duration::from_millis(u64::from(ms)));
            }
            _ => {
                if let Some(f) = fault.queue().and_then(|q| self.core.faults.get(q as usize)) {
                    f.arm(fault);
                }
            }
        }
        Ok(())
    }

    /// Attaches a new QEMU client: resets the device and sends the ivshmem handshake.
    ///
    /// Order (QEMU's `ivshmem_recv_setup` and `process_msg`): version 0; the client's id
    /// [`CLIENT_PEER`]; -1 with the shared memory; [`DEVICE_PEER`] once per vector with the
    /// doorbell eventfd of that vector; [`CLIENT_PEER`] once per vector with the interrupt
    /// eventfd of that vector.
    pub fn attach(&mut self, sock: UnixStream) -> io::Result<()> {
        self.detach();
        let mut doorbells = Vec::with_capacity(self.vectors);
        let mut interrupts = Vec::with_capacity(self.vectors);
        for _ in 0..self.vectors {
            doorbells.push(ivshmem::eventfd()?);
            interrupts.push(ivshmem::eventfd()?);
        }
        self.reset();
        ivshmem::send_msg(&sock, ivshmem::PROTOCOL_VERSION, None)?;
        ivshmem::send_msg(&sock, i64::from(CLIENT_PEER), None)?;
        ivshmem::send_msg(&sock, ivshmem::SHM_MESSAGE, Some(self.shm_fd.as_fd()))?;
        for fd in &doorbells {
            ivshmem::send_msg(&sock, i64::from(DEVICE_PEER), Some(fd.as_fd()))?;
        }
        for fd in &interrupts {
            ivshmem::send_msg(&sock, i64::from(CLIENT_PEER), Some(fd.as_fd()))?;
        }
        let interrupts = Arc::new(Irqs(interrupts));
        for q in &self.queues {
            q.start(interrupts.clone());
        }
        self.client = Some(Client {
            sock,
            doorbells,
            interrupts,
            logged: vec![false; self.vectors],
        });
        Ok(())
    }

    /// Drops the client and its eventfds once the queues stopped working for it (they no
    /// longer touch guest memory), and resets the device; the listening socket stays.
    pub fn detach(&mut self) {
        for q in &self.queues {
            q.stop();
        }
        if self.client.take().is_some() {
            self.reset();
        }
    }

    /// Raises interrupt `vector` of the client, if one is attached.
    pub fn raise(&self, vector: usize) -> io::Result<()> {
        match &self.client {
            Some(c) => c.interrupts.raise(vector as u32),
            None => Ok(()),
        }
    }

    /// Handles `rings` (> 0) rings of doorbell `vector`, coalesced; returns the interrupt
    /// vectors to raise (queues raise theirs from their threads).
    pub fn handle_doorbell(&mut self, vector: usize, rings: u64) -> Vec<usize> {
        // Everything the guest wrote before ringing is visible from here on.
        fence(Ordering::Acquire);
        if self.is_lost() {
            return Vec::new();
        }
        if vector == regs::DOORBELL_CONTROL as usize {
            return self.control_doorbell(rings);
        }
        let queue = vector
            .checked_sub(regs::doorbell_queue(0) as usize)
            .and_then(|q| self.queues.get(q));
        match queue {
            Some(q) => q.kick(),
            None => self.unused_doorbell(vector),
        }
        Vec::new()
    }

    /// The control doorbell: processes every control block, then counts the rings.
    fn control_doorbell(&mut self, rings: u64) -> Vec<usize> {
        let mut irqs = Vec::new();
        // A device reset first: it clears every other request.
        if self.shm.read32(regs::DEV_RESET) == regs::DEV_RESET_START {
            self.reset_attached();
            irqs.push(regs::VECTOR_CONTROL as usize);
        }
        for q in 0..regs::NUM_QUEUES_VALUE {
            let request = self.shm.read32(regs::engine_reset(q));
            if request != self.shm.read32(regs::engine_reset_ack(q)) {
                if let Some(queue) = self.queues.get(q as usize) {
                    queue.engine_reset();
                }
            }
        }
        let request = self.shm.read32(regs::FI_REQ);
        if request != self.shm.read32(regs::FI_ACK) {
            let op = self.shm.read32(regs::FI_OP);
            let queue = self.shm.read32(regs::FI_QUEUE);
            let arg = self.shm.read32(regs::FI_ARG);
            let res = Fault::from_regs(op, queue, arg)
                .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))
                .and_then(|f| self.inject(f));
            // A lost device acknowledges nothing.
            if !self.is_lost() {
                let status = match res {
                    Ok(()) => regs::FI_STATUS_OK,
                    Err(_) => regs::FI_STATUS_INVALID,
                };
                self.shm.write32(regs::FI_STATUS, status);
                fence(Ordering::Release);
                self.shm.write32(regs::FI_ACK, request);
                irqs.push(regs::VECTOR_CONTROL as usize);
            }
        }
        if self.is_lost() {
            return Vec::new();
        }
        self.sensors().mailbox(&self.shm);
        match run_selftest(&self.shm, &mut &*self.ram) {
            None => {}
            Some(res) => {
                if let Err(e) = res {
                    eprintln!("gaudi-emu{}: {e}", self.instance);
                }
                irqs.push(regs::VECTOR_CONTROL as usize);
            }
        }
        // The count moves only once the control blocks were processed.
        fence(Ordering::Release);
        self.shm.add32(regs::DOORBELL_COUNT, rings as u32);
        irqs
    }

    /// A doorbell that names no queue: logged once per client and vector, ignored.
    fn unused_doorbell(&mut self, vector: usize) {
        if let Some(logged) = self.client.as_mut().and_then(|c| c.logged.get_mut(vector)) {
            if !*logged {
                *logged = true;
                eprintln!(
                    "gaudi-emu{}: doorbell {vector} names no queue (ignored, logged once)",
                    self.instance
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATTERN: u64 = 0x0123_4567_89ab_cdef;

    fn regs_buffer() -> Mapping {
        let shm = Mapping::anonymous(2 << 20).unwrap();
        reset_registers(&shm, 0, 4);
        shm
    }

    fn request(shm: &Mapping, addr: u64, pattern: u64) {
        shm.write64(regs::SELFTEST_ADDR, addr);
        shm.write64(regs::SELFTEST_PATTERN, pattern);
        shm.write32(regs::SELFTEST_STATUS, regs::SELFTEST_STATUS_IDLE);
        shm.write32(regs::SELFTEST_CTRL, regs::SELFTEST_CTRL_START);
    }

    #[test]
    fn reset_publishes_identity() {
        let shm = Mapping::anonymous(4 << 20).unwrap();
        // Garbage from a previous client disappears.
        for off in (0..regs::REGS_SIZE).step_by(4) {
            shm.write32(off, 0xdead_beef);
        }
        reset_registers(&shm, 3, 4);
        let mut raw = [0u8; 0x60];
        shm.read_bytes(0, &mut raw).unwrap();
        assert_eq!(&raw[0..8], b"GAUDIEMU");
        let word = |off: usize| u32::from_le_bytes(raw[off..off + 4].try_into().unwrap());
        let quad = |off: usize| u64::from_le_bytes(raw[off..off + 8].try_into().unwrap());
        assert_eq!(word(0x08), 0x0002_0000, "VERSION 2.0");
        assert_eq!(word(0x0c), 0, "DOORBELL_PEER");
        assert_eq!(word(0x10), 1, "DEVICE_ID");
        assert_eq!(word(0x14), 2, "REVISION");
        assert_eq!(word(0x18), 4, "NUM_QUEUES");
        assert_eq!(word(0x1c), 4, "NUM_VECTORS");
        assert_eq!(quad(0x20), 1 << 20, "DRAM_OFFSET");
        assert_eq!(quad(0x28), 3 << 20, "DRAM_SIZE");
        assert_eq!(word(0x30), 1, "STATUS = READY");
        assert_eq!(word(0x34), 3, "INSTANCE");
        assert_eq!(word(0x38), 0, "DOORBELL_COUNT");
        assert_eq!(word(0x3c), 64, "NUM_ASIDS");
        assert_eq!(quad(0x40), 0, "BAR2_BASE");
        assert_eq!((word(0x48), word(0x4c)), (48, 48), "VA_BITS, PA_BITS");
        assert_eq!((word(0x50), word(0x54)), (0, 0), "ERR_QUEUES, PKT_COUNT");
        // Queues disabled, contexts invalid, control blocks zero.
        for q in 0..4 {
            assert_eq!(
                shm.read32(hwq::queue_reg(q, hwq::Q_STATUS)),
                hwq::Q_STATUS_DISABLED
            );
        }
        for off in (0x100..regs::REGS_SIZE).step_by(4) {
            assert_eq!(shm.read32(off), 0, "control block at {off:#x} not zero");
        }
    }

    #[test]
    fn selftest_writes_complement() {
        let shm = regs_buffer();
        let mut ram = vec![0u8; 1 << 16];
        request(&shm, 0x1008, PATTERN);
        assert!(run_selftest(&shm, ram.as_mut_slice()).unwrap().is_ok());
        assert_eq!(
            shm.read32(regs::SELFTEST_STATUS),
            regs::SELFTEST_STATUS_DONE
        );
        assert_eq!(shm.read32(regs::SELFTEST_CTRL), 0);
        assert_eq!(ram[0x1008..0x1010], (!PATTERN).to_le_bytes());
        assert!(ram[..0x1008].iter().chain(&ram[0x1010..]).all(|b| *b == 0));
        // No new request, nothing happens.
        assert!(run_selftest(&shm, ram.as_mut_slice()).is_none());
        // An unknown CTRL value is not a request.
        shm.write32(regs::SELFTEST_CTRL, 2);
        assert!(run_selftest(&shm, ram.as_mut_slice()).is_none());
        assert_eq!(shm.read32(regs::SELFTEST_CTRL), 2);
    }

    #[test]
    fn selftest_outside_ram_fails_with_err_dma() {
        let shm = regs_buffer();
        let mut ram = vec![0u8; 1 << 16];
        for addr in [
            1 << 16,
            (1 << 16) - 4,
            (1 << 16) - 7,
            u64::MAX - 3,
            u64::MAX,
        ] {
            request(&shm, addr, PATTERN);
            assert!(run_selftest(&shm, ram.as_mut_slice()).unwrap().is_err());
            assert_eq!(
                shm.read32(regs::SELFTEST_STATUS),
                regs::SELFTEST_STATUS_ERR_DMA
            );
            assert_eq!(shm.read32(regs::SELFTEST_CTRL), 0);
        }
        assert!(ram.iter().all(|b| *b == 0));
        // The last 8 bytes are in range.
        request(&shm, (1 << 16) - 8, PATTERN);
        assert!(run_selftest(&shm, ram.as_mut_slice()).unwrap().is_ok());
        assert_eq!(
            shm.read32(regs::SELFTEST_STATUS),
            regs::SELFTEST_STATUS_DONE
        );
    }

    fn device(instance: u32, vectors: usize) -> (Device, Arc<Mapping>) {
        let ram = Arc::new(Mapping::anonymous(4096).unwrap());
        let shared = Arc::new(SharedRam::fixed(ram.clone()));
        (
            Device::new(instance, 2 << 20, vectors, shared).unwrap(),
            ram,
        )
    }

    #[test]
    fn control_doorbell_raises_vector_0_and_counts() {
        let (mut dev, ram) = device(0, 8);
        dev.reset();
        // A ring without a request is counted but raises nothing.
        assert!(dev.handle_doorbell(0, 1).is_empty());
        assert_eq!(dev.shm.read32(regs::DOORBELL_COUNT), 1);
        request(&dev.shm, 8, PATTERN);
        assert_eq!(dev.handle_doorbell(0, 3), vec![0]);
        assert_eq!(dev.shm.read32(regs::DOORBELL_COUNT), 4);
        assert_eq!(ram.read64(8), !PATTERN);
        // Queue doorbells (and unused ones) raise nothing here and do not touch the control
        // blocks.
        request(&dev.shm, 16, PATTERN);
        for v in 1..8 {
            assert!(dev.handle_doorbell(v, 1).is_empty());
        }
        assert_eq!(
            dev.shm.read32(regs::SELFTEST_CTRL),
            regs::SELFTEST_CTRL_START
        );
        assert_eq!(dev.shm.read32(regs::DOORBELL_COUNT), 4);
    }

    #[test]
    fn reset_clears_device_memory() {
        let (dev, _) = device(1, 6);
        dev.shm.write_bytes((1 << 20) + 100, &[0xaa; 16]).unwrap();
        dev.shm.write32(regs::SELFTEST_PATTERN, 7);
        dev.reset();
        let mut out = [0xffu8; 16];
        dev.shm.read_bytes((1 << 20) + 100, &mut out).unwrap();
        assert_eq!(out, [0; 16]);
        assert_eq!(dev.shm.read32(regs::SELFTEST_PATTERN), 0);
        assert_eq!(dev.shm.read32(regs::INSTANCE), 1);
        assert_eq!(dev.shm.read64(regs::SIGNATURE), regs::SIGNATURE_VALUE);
    }

    #[test]
    fn bad_geometry_is_refused() {
        let ram = Arc::new(SharedRam::fixed(Arc::new(
            Mapping::anonymous(4096).unwrap(),
        )));
        for (shm, vectors) in [(1 << 20, 8), (2 << 20, 0), (2 << 20, 5), (2 << 20, 257)] {
            assert!(Device::new(0, shm, vectors, ram.clone()).is_err());
        }
        assert!(Device::new(0, 2 << 20, 256, ram).is_ok());
    }
}
