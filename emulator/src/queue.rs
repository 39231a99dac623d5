// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Hardware queues: one host thread per queue fetches packets from the queue's ring and runs
//! them, so engines of different queues run concurrently.
//!
//! The main thread tells a queue about its doorbell ([`Queue::kick`]), about the client that
//! came ([`Queue::start`]) and went ([`Queue::stop`], which waits until the thread no longer
//! touches guest memory). The queue's own state (head, status, last reset handled) lives in
//! the thread; the registers are its published copy, so a guest that scribbles over RO
//! registers cannot confuse the device.

use std::{
    io,
    os::fd::OwnedFd,
    sync::{
        atomic::{fence, AtomicU64, Ordering},
        Arc, Condvar, Mutex, MutexGuard,
    },
    thread::JoinHandle,
    time::Duration,
};

use gaudi_hw::{
    mmu,
    packet::{self, OP_DMA, OP_FENCE, OP_INDIRECT, OP_MME, OP_NOP, OP_TPC_LAUNCH, OP_WAIT},
    queue::{self as hwq, queue_reg},
    regs,
};

use crate::{
    engine::{self, check, quad, Fail, Stop},
    fault::QueueFaults,
    ivshmem,
    mem::{Mapping, SharedRam},
    mme,
    mmu::{Bus, Space},
    tpc,
};

/// The interrupt eventfds of the attached client, one per vector.
pub struct Irqs(pub Vec<OwnedFd>);

impl Irqs {
    /// Raises `vector` (a release fence first: everything written before is visible to the
    /// guest when it takes the interrupt).
    pub fn raise(&self, vector: u32) -> io::Result<()> {
        fence(Ordering::Release);
        match self.0.get(vector as usize) {
            Some(fd) => ivshmem::notify(fd),
            None => Ok(()),
        }
    }
}

/// What a device's queues share: its memory and guest RAM.
pub struct Core {
    pub instance: u32,
    /// Busy time of the queues, for the sensors.
    pub load: Arc<crate::health::Load>,
    /// The shared region: register file and device memory.
    pub shm: Arc<Mapping>,
    pub ram: Arc<SharedRam>,
    /// Faults armed on each queue.
    pub faults: Vec<QueueFaults>,
}

/// Control state of a queue thread, under [`Shared::ctl`].
struct Ctl {
    /// The doorbell rang since the thread last looked.
    kick: bool,
    /// The client's interrupts while one is attached.
    irqs: Option<Arc<Irqs>>,
    /// Client generation: a new client is a reset device.
    gen: u64,
    /// The thread is working for generation `gen`.
    busy: bool,
    /// An engine reset was requested.
    hard_reset: bool,
    exit: bool,
}

struct Shared {
    q: u32,
    core: Arc<Core>,
    /// Bumped on every change of `ctl`, so that running engines notice with one load.
    events: AtomicU64,
    ctl: Mutex<Ctl>,
    cv: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Ctl> {
        self.ctl.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tells the thread that `ctl` changed; the caller holds the lock (`_locked`).
    fn changed(&self, _locked: &mut Ctl) {
        self.events.fetch_add(1, Ordering::Release);
        self.cv.notify_all();
    }

    fn reg(&self, reg: usize) -> usize {
        queue_reg(self.q, reg)
    }
}

/// A hardware queue and its thread.
pub struct Queue {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Queue {
    /// Starts the thread of queue `q` of the device.
    pub fn new(core: Arc<Core>, q: u32) -> io::Result<Self> {
        let shared = Arc::new(Shared {
            q,
            core,
            events: AtomicU64::new(0),
            ctl: Mutex::new(Ctl {
                kick: false,
                irqs: None,
                gen: 0,
                busy: false,
                hard_reset: false,
                exit: false,
            }),
            cv: Condvar::new(),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("gaudi-emu{}q{q}", shared.core.instance))
            .spawn(move || thread_main(&s))?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// The queue's doorbell rang (rings coalesce).
    pub fn kick(&self) {
        let mut c = self.shared.lock();
        if c.irqs.is_some() {
            c.kick = true;
            self.shared.changed(&mut c);
        }
    }

    /// An engine reset was requested: the queue abandons what it runs, even a hung engine,
    /// and resumes at `Q_RESUME` (see [`Worker::engine_reset`]).
    pub fn engine_reset(&self) {
        let mut c = self.shared.lock();
        if c.irqs.is_some() {
            c.hard_reset = true;
            c.kick = true;
            self.shared.changed(&mut c);
        }
    }

    /// A client attached to the freshly reset device: from now on the queue serves it.
    pub fn start(&self, irqs: Arc<Irqs>) {
        let mut c = self.shared.lock();
        c.irqs = Some(irqs);
        c.gen += 1;
        c.kick = false;
        c.hard_reset = false;
        self.shared.changed(&mut c);
    }

    /// The client is gone: the thread abandons its work; returns once it no longer touches
    /// guest memory, device memory or the client's interrupts.
    pub fn stop(&self) {
        let mut c = self.shared.lock();
        c.irqs = None;
        c.gen += 1;
        c.kick = false;
        c.hard_reset = false;
        self.shared.changed(&mut c);
        while c.busy {
            c = self.shared.cv.wait(c).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        {
            let mut c = self.shared.lock();
            c.exit = true;
            self.shared.changed(&mut c);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The queue's own state, for one client generation.
struct State {
    gen: u64,
    head: u32,
    status: u32,
    /// Last `Q_RESET` value handled.
    ack: u32,
}

fn thread_main(sh: &Shared) {
    let mut st = State {
        gen: 0,
        head: 0,
        status: hwq::Q_STATUS_DISABLED,
        ack: 0,
    };
    loop {
        let (irqs, seen, hard) = {
            let mut c = sh.lock();
            loop {
                if c.exit {
                    return;
                }
                if let (true, Some(irqs)) = (c.kick, &c.irqs) {
                    let irqs = irqs.clone();
                    c.kick = false;
                    c.busy = true;
                    if c.gen != st.gen {
                        // The device was reset (its registers are zero).
                        st = State {
                            gen: c.gen,
                            head: 0,
                            status: hwq::Q_STATUS_DISABLED,
                            ack: 0,
                        };
                    }
                    let hard = std::mem::take(&mut c.hard_reset);
                    break (irqs, sh.events.load(Ordering::Acquire), hard);
                }
                c = sh.cv.wait(c).unwrap_or_else(|e| e.into_inner());
            }
        };
        sh.core.load.begin(sh.q);
        Worker {
            sh,
            irqs: &irqs,
            st: &mut st,
            seen,
            hard,
        }
        .burst();
        sh.core.load.end(sh.q);
        drop(irqs);
        let mut c = sh.lock();
        c.busy = false;
        sh.cv.notify_all();
    }
}

/// Largest fixed packet, in words.
const MAX_WORDS: usize = packet::TPC_LAUNCH_LEN as usize;
/// First and longest sleep of a WAIT between two looks at its value.
const WAIT_SLEEP_MIN: Duration = Duration::from_micros(20);
const WAIT_SLEEP_MAX: Duration = Duration::from_millis(1);

/// Where packets come from: the ring (wrapping) or an indirect buffer.
#[derive(Clone, Copy)]
enum Source {
    Ring { base: u64, size: u32, pos: u32 },
    Buffer { addr: u64 },
}

impl Source {
    /// Address of byte `off` of the packet.
    fn va(self, off: u32) -> u64 {
        match self {
            Source::Ring { base, size, pos } => {
                base + u64::from(pos.wrapping_add(off) & (size - 1))
            }
            Source::Buffer { addr } => addr + u64::from(off),
        }
    }
}

/// Where a packet is: its source, its address space, the bytes available from it on in the
/// ring or buffer, and whether it is in an indirect buffer.
#[derive(Clone, Copy)]
struct At {
    src: Source,
    asid: u32,
    avail: u32,
    in_ib: bool,
}

struct Worker<'a> {
    sh: &'a Shared,
    irqs: &'a Irqs,
    st: &'a mut State,
    /// `sh.events` when last looked at.
    seen: u64,
    /// An engine reset is pending.
    hard: bool,
}

impl Worker<'_> {
    fn shm(&self) -> &Mapping {
        &self.sh.core.shm
    }

    fn faults(&self) -> Option<&QueueFaults> {
        self.sh.core.faults.get(self.sh.q as usize)
    }

    fn raise(&self, vector: u32) {
        if let Err(e) = self.irqs.raise(vector) {
            eprintln!(
                "gaudi-emu{}: queue {}: raising vector {vector}: {e}",
                self.sh.core.instance, self.sh.q
            );
        }
    }

    fn set_status(&mut self, status: u32) {
        if self.st.status != status {
            self.st.status = status;
            self.shm().write32(self.sh.reg(hwq::Q_STATUS), status);
        }
    }

    fn reset_requested(&self) -> bool {
        self.shm().read32(self.sh.reg(hwq::Q_RESET)) != self.st.ack
    }

    /// Looks at doorbells and the client: `Reset` if a reset was requested, `Abort` if the
    /// client went away or the emulator stops.
    fn poll(&mut self) -> Result<(), Stop> {
        if self.sh.events.load(Ordering::Acquire) == self.seen {
            return Ok(());
        }
        let mut c = self.sh.lock();
        self.seen = self.sh.events.load(Ordering::Acquire);
        if c.exit || c.gen != self.st.gen {
            return Err(Stop::Abort);
        }
        if std::mem::take(&mut c.hard_reset) {
            c.kick = false;
            self.hard = true;
            return Err(Stop::Reset);
        }
        if !std::mem::take(&mut c.kick) {
            return Ok(());
        }
        drop(c);
        fence(Ordering::Acquire);
        if self.reset_requested() {
            Err(Stop::Reset)
        } else {
            Ok(())
        }
    }

    /// Sleeps for at most `d`, less if the doorbell rings or the client goes; then polls.
    fn sleep(&mut self, d: Duration) -> Result<(), Stop> {
        {
            let c = self.sh.lock();
            if !c.kick && !c.exit && c.gen == self.st.gen {
                let _ = self.sh.cv.wait_timeout(c, d);
            }
        }
        self.poll()
    }

    /// Runs packets until the ring is empty, the queue is disabled or in error, or the client
    /// goes away.
    fn burst(&mut self) {
        // The doorbell rang: look for a reset request first.
        let mut check_reset = true;
        loop {
            if std::mem::take(&mut check_reset) {
                fence(Ordering::Acquire);
                if std::mem::take(&mut self.hard) {
                    self.engine_reset();
                } else if self.reset_requested() {
                    self.reset();
                }
            }
            if self.st.status == hwq::Q_STATUS_ERROR {
                return;
            }
            let shm = &self.sh.core.shm;
            if shm.read32(self.sh.reg(hwq::Q_CTRL)) & hwq::Q_CTRL_ENABLE == 0 {
                self.set_status(hwq::Q_STATUS_DISABLED);
                return;
            }
            let tail = shm.read32(self.sh.reg(hwq::Q_TAIL));
            // The packets the driver wrote before moving the tail are visible from here on.
            fence(Ordering::Acquire);
            if tail == self.st.head {
                self.set_status(hwq::Q_STATUS_IDLE);
                return;
            }
            // A client that went away, or a reset request, wins over the next packet.
            match self.poll() {
                Err(Stop::Reset) => {
                    check_reset = true;
                    continue;
                }
                Err(_) => return,
                Ok(()) => {}
            }
            self.set_status(hwq::Q_STATUS_BUSY);
            match self.ring_packet(tail) {
                Ok(len) => {
                    // The packet's effects are visible before the head moves past it.
                    fence(Ordering::Release);
                    self.st.head = self.st.head.wrapping_add(len);
                    shm.write32(self.sh.reg(hwq::Q_HEAD), self.st.head);
                }
                Err(Stop::Reset) => check_reset = true,
                Err(Stop::Abort) => return,
                Err(Stop::Located(f, asid, pkt)) => {
                    self.error(f, asid, pkt);
                    return;
                }
                Err(Stop::Fail(f)) => {
                    // Not expected: packets locate their errors. Report it at the head.
                    let base = shm.read64(self.sh.reg(hwq::Q_BASE));
                    self.error(f, mmu::ASID_KERNEL, base);
                    return;
                }
            }
        }
    }

    /// Stops the queue with an error.
    fn error(&mut self, f: Fail, asid: u32, pkt: u64) {
        let shm = &self.sh.core.shm;
        let reg = |r| self.sh.reg(r);
        shm.write32(reg(hwq::Q_ERR_CODE), f.code);
        shm.write64(reg(hwq::Q_ERR_ADDR), f.addr);
        shm.write64(reg(hwq::Q_ERR_PKT), pkt);
        shm.write32(
            reg(hwq::Q_ERR_INFO),
            hwq::err_info(asid, f.access, f.engine),
        );
        self.set_status(hwq::Q_STATUS_ERROR);
        fence(Ordering::Release);
        shm.or32(regs::ERR_QUEUES, 1 << self.sh.q);
        eprintln!(
            "gaudi-emu{}: queue {}: error {} at {:#x} (packet {pkt:#x} in ASID {asid}, \
             engine {}, access {})",
            self.sh.core.instance, self.sh.q, f.code, f.addr, f.engine, f.access
        );
        self.raise(regs::VECTOR_ERROR);
    }

    /// Handles a reset request: forget the error, resume at `Q_RESUME`, acknowledge.
    fn reset(&mut self) {
        let shm = &self.sh.core.shm;
        let reg = |r| self.sh.reg(r);
        let request = shm.read32(reg(hwq::Q_RESET));
        let resume = shm.read32(reg(hwq::Q_RESUME));
        for r in [hwq::Q_ERR_CODE, hwq::Q_ERR_INFO] {
            shm.write32(reg(r), 0);
        }
        for r in [hwq::Q_ERR_ADDR, hwq::Q_ERR_PKT] {
            shm.write64(reg(r), 0);
        }
        shm.clear32(regs::ERR_QUEUES, 1 << self.sh.q);
        if resume != self.st.head {
            shm.add32(gaudi_hw::health::RESET_COUNT, 1);
        }
        self.st.head = resume;
        shm.write32(reg(hwq::Q_HEAD), resume);
        // Not in error any more; the fetch loop says what the queue does next.
        self.set_status(hwq::Q_STATUS_IDLE);
        fence(Ordering::Release);
        self.st.ack = request;
        shm.write32(reg(hwq::Q_RESET_ACK), request);
        self.raise(regs::vector_queue(self.sh.q));
    }

    /// Handles an engine reset: abandons whatever ran (a hung engine too), forgets the error,
    /// resumes at `Q_RESUME`, and acknowledges both the engine reset and any queue reset
    /// request it superseded.
    fn engine_reset(&mut self) {
        let shm = &self.sh.core.shm;
        let q = self.sh.q;
        let request = shm.read32(regs::engine_reset(q));
        self.st.ack = shm.read32(self.sh.reg(hwq::Q_RESET));
        self.reset();
        shm.write32(regs::engine_reset_ack(q), request);
        eprintln!(
            "gaudi-emu{}: queue {q}: engine reset",
            self.sh.core.instance
        );
    }

    /// A hang injected at this packet: the queue makes no progress and stays BUSY. A queue
    /// reset ends a queue hang; an engine hang only ends with an engine reset (or the client).
    fn hang(&mut self, hard: bool) -> Result<u32, Stop> {
        eprintln!(
            "gaudi-emu{}: queue {}: {} hung (injected)",
            self.sh.core.instance,
            self.sh.q,
            if hard { "engine" } else { "queue" }
        );
        self.set_status(hwq::Q_STATUS_BUSY);
        loop {
            match self.sleep(Duration::from_millis(20)) {
                Ok(()) => {}
                Err(Stop::Reset) if hard && !self.hard => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Fetches and runs the packet at the head; returns its length in bytes.
    fn ring_packet(&mut self, tail: u32) -> Result<u32, Stop> {
        let sh = self.sh;
        let shm = &sh.core.shm;
        let base = shm.read64(self.sh.reg(hwq::Q_BASE));
        let size = shm.read32(self.sh.reg(hwq::Q_SIZE));
        let head = self.st.head;
        let pending = tail.wrapping_sub(head);
        let size_ok = size.is_power_of_two()
            && (hwq::RING_SIZE_MIN..=hwq::RING_SIZE_MAX).contains(&size)
            && base % 8 == 0
            && base.checked_add(u64::from(size)).is_some();
        let pos = if size_ok { head & (size - 1) } else { 0 };
        if !size_ok || head % 8 != 0 || tail % 8 != 0 || pending > size {
            let f = Fail::queue(hwq::ERR_BAD_RING);
            return Err(Stop::Located(f, mmu::ASID_KERNEL, base + u64::from(pos)));
        }
        let src = Source::Ring { base, size, pos };
        // The bus as it is now serves the ring packet, indirect buffer included.
        let ram = sh.core.ram.current().ok();
        let peers = sh.core.ram.devices();
        let bus = Bus {
            ram: ram.as_deref(),
            dev: shm,
            bar2: shm.read64(regs::BAR2_BASE),
            peers: &peers,
        };
        let at = At {
            src,
            asid: mmu::ASID_KERNEL,
            avail: pending,
            in_ib: false,
        };
        self.packet(&bus, at)
    }

    /// Fetches and runs one packet of `src` in `asid`, with `avail` bytes left in the ring
    /// or buffer; returns its length in bytes. Errors come back located.
    fn packet(&mut self, bus: &Bus, at: At) -> Result<u32, Stop> {
        if let Some(hard) = self.faults().and_then(QueueFaults::hang_now) {
            return self.hang(hard);
        }
        match self.fetch_and_run(bus, at) {
            Ok(len) => {
                self.shm().add32(regs::PKT_COUNT, 1);
                Ok(len)
            }
            Err(Stop::Fail(f)) => Err(Stop::Located(f, at.asid, at.src.va(0))),
            Err(e) => Err(e),
        }
    }

    fn fetch_and_run(&mut self, bus: &Bus, at: At) -> Result<u32, Stop> {
        let At {
            src,
            asid,
            avail,
            in_ib,
        } = at;
        let sh = self.sh;
        let shm = &sh.core.shm;
        let mut space = Space::new(bus, shm, asid);
        let word = |space: &mut Space, i: usize| -> Result<u32, Stop> {
            let mut b = [0u8; 4];
            space
                .read(src.va(4 * i as u32), &mut b)
                .map_err(|f| Fail::fault(f, hwq::ENGINE_QUEUE))?;
            Ok(u32::from_le_bytes(b))
        };
        let header = word(&mut space, 0)?;
        let op = packet::opcode(header);
        let flags = packet::flags(header);
        let len = usize::from(packet::len(header));
        let Some(&(_, _, fixed)) = packet::PACKETS.iter().find(|p| p.1 == op) else {
            return Err(Fail::queue(hwq::ERR_BAD_OPCODE).into());
        };
        if in_ib && op == OP_INDIRECT {
            return Err(Fail::queue(hwq::ERR_NESTED_INDIRECT).into());
        }
        let allowed = match op {
            OP_FENCE => packet::FENCE_IRQ,
            OP_DMA => packet::DMA_FILL,
            OP_MME => {
                packet::MME_TRANS_A
                    | packet::MME_TRANS_B
                    | packet::MME_BF16
                    | packet::MME_BIAS
                    | packet::MME_RELU
            }
            _ => 0,
        };
        check(
            len >= 2
                && len % 2 == 0
                && (fixed == 0 || len == usize::from(fixed))
                && len as u64 * 4 <= u64::from(avail)
                && flags & !allowed == 0,
        )?;
        if op == OP_NOP {
            return Ok(len as u32 * 4);
        }
        let mut words = [0u32; MAX_WORDS];
        words[0] = header;
        for (i, w) in words.iter_mut().enumerate().take(len).skip(1) {
            *w = word(&mut space, i)?;
        }
        let w = &words[..len];
        match op {
            OP_FENCE => self.fence_packet(bus, asid, flags, w)?,
            OP_WAIT => self.wait_packet(bus, asid, w)?,
            OP_INDIRECT => self.indirect(bus, w)?,
            _ => {
                // Data accesses of the packet start with fresh translations.
                let mut space = Space::new(bus, shm, asid);
                let mut poll = || self.poll();
                match op {
                    OP_DMA => engine::dma(&mut space, flags, w, &mut poll)?,
                    OP_MME => mme::run(&mut space, flags, w, &mut poll)?,
                    OP_TPC_LAUNCH => tpc::launch(&mut space, w, &mut poll)?,
                    _ => unreachable!("opcode {op:#x} is in PACKETS"),
                }
            }
        }
        Ok(len as u32 * 4)
    }

    /// FENCE: header, reserved, addr (2), value (2).
    fn fence_packet(&mut self, bus: &Bus, asid: u32, flags: u8, w: &[u32]) -> Result<(), Stop> {
        let (addr, mut value) = (quad(w, 2), quad(w, 4));
        check(w[1] == 0 && addr % 8 == 0)?;
        // An injected corruption hits the kernel's completion fences.
        let completion = asid == mmu::ASID_KERNEL && flags & packet::FENCE_IRQ != 0;
        if completion && self.faults().is_some_and(QueueFaults::corrupt_now) {
            value = value.wrapping_add(1 << 40);
            eprintln!(
                "gaudi-emu{}: queue {}: completion corrupted (injected)",
                self.sh.core.instance, self.sh.q
            );
        }
        // Everything before the fence is visible before its value.
        fence(Ordering::Release);
        Space::new(bus, self.shm(), asid)
            .store64(addr, value)
            .map_err(|f| Fail::fault(f, hwq::ENGINE_QUEUE))?;
        if flags & packet::FENCE_IRQ != 0 {
            if self.faults().is_some_and(QueueFaults::drop_irq_now) {
                eprintln!(
                    "gaudi-emu{}: queue {}: completion interrupt lost (injected)",
                    self.sh.core.instance, self.sh.q
                );
            } else {
                self.raise(regs::vector_queue(self.sh.q));
            }
        }
        Ok(())
    }

    /// WAIT: header, reserved, addr (2), target (2). Looks at the value with a fresh
    /// translation each time, sleeping between looks (at most 1 ms).
    fn wait_packet(&mut self, bus: &Bus, asid: u32, w: &[u32]) -> Result<(), Stop> {
        let (addr, target) = (quad(w, 2), quad(w, 4));
        check(w[1] == 0 && addr % 8 == 0)?;
        let mut sleep = WAIT_SLEEP_MIN;
        loop {
            let value = Space::new(bus, self.shm(), asid)
                .load64(addr)
                .map_err(|f| Fail::fault(f, hwq::ENGINE_QUEUE))?;
            if value >= target {
                break;
            }
            self.set_status(hwq::Q_STATUS_WAITING);
            let slept = self.sleep(sleep);
            if slept.is_err() {
                self.set_status(hwq::Q_STATUS_BUSY);
                return slept;
            }
            sleep = (sleep * 2).min(WAIT_SLEEP_MAX);
        }
        self.set_status(hwq::Q_STATUS_BUSY);
        Ok(())
    }

    /// INDIRECT: header, asid, addr (2), size, reserved.
    fn indirect(&mut self, bus: &Bus, w: &[u32]) -> Result<(), Stop> {
        let (asid, addr, size) = (w[1], quad(w, 2), w[4]);
        check(
            w[5] == 0
                && addr % 8 == 0
                && size % 8 == 0
                && (8..=packet::INDIRECT_SIZE_MAX).contains(&size)
                && addr.checked_add(u64::from(size)).is_some(),
        )?;
        let shm = self.shm();
        if asid >= regs::NUM_ASIDS_VALUE
            || shm.read32(mmu::ctx_reg(asid, mmu::CTX_CTRL)) & mmu::CTX_CTRL_VALID == 0
        {
            return Err(Fail {
                addr: u64::from(asid),
                ..Fail::queue(hwq::ERR_BAD_ASID)
            }
            .into());
        }
        let mut off = 0;
        while off < size {
            self.poll()?;
            let src = Source::Buffer {
                addr: addr + u64::from(off),
            };
            let at = At {
                src,
                asid,
                avail: size - off,
                in_ib: true,
            };
            off += self.packet(bus, at)?;
        }
        Ok(())
    }
}
