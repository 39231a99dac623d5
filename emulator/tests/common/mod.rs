// SPDX-License-Identifier: GPL-2.0 OR MIT

//! A device with a client attached over a socket pair, guest RAM in anonymous memory and the
//! kernel's address space (ASID 0) set up: the tests play the driver, writing packets into
//! rings and ringing doorbells through the library API.

#![allow(dead_code)]

use std::{
    os::fd::OwnedFd,
    os::unix::net::UnixStream,
    sync::Arc,
    time::{Duration, Instant},
};

use rustix::event::{PollFd, PollFlags, Timespec};

use gaudi_emu::{
    device::Device,
    hw::{mmu, packet, queue as hwq, regs},
    ivshmem,
    mem::{Mapping, SharedRam},
    pgtable::Tables,
};

/// Guest RAM.
pub const RAM_SIZE: u64 = 64 << 20;
/// The device's shared region: 1 MiB of registers, 3 MiB of device memory.
pub const SHM_SIZE: usize = 4 << 20;
/// Where the driver placed BAR2.
pub const BAR2: u64 = 0x1_0000_0000;
/// Bus address of device memory.
pub const DRAM: u64 = BAR2 + regs::DRAM_OFFSET_VALUE;
pub const DRAM_SIZE: u64 = SHM_SIZE as u64 - regs::DRAM_OFFSET_VALUE;
/// ASID 0 maps all of guest RAM at `KVA + pa` (2 MiB blocks) and device memory at
/// `KVA_DEV + offset` (pages).
pub const KVA: u64 = 0x40_0000_0000;
pub const KVA_DEV: u64 = 0x50_0000_0000;
/// Page tables of ASID `a` live in guest RAM at `a` MiB, below `TABLES_END`.
pub const TABLES_END: u64 = 4 << 20;
/// Rings: 64 KiB each, from 4 MiB.
pub const RING_SIZE: u32 = 64 << 10;
pub const RINGS: u64 = 4 << 20;
/// Free guest RAM for the tests, from 8 MiB.
pub const DATA: u64 = 8 << 20;
pub const VECTORS: usize = 8;

pub fn ring_pa(q: u32) -> u64 {
    RINGS + u64::from(q) * (1 << 20)
}

pub struct Rig {
    pub dev: Device,
    pub ram: Arc<Mapping>,
    pub shm: Arc<Mapping>,
    /// The client's interrupt eventfds (what QEMU would inject as MSI-X).
    pub irqs: Vec<OwnedFd>,
    _sock: UnixStream,
    /// Where the next table of ASID `a` goes.
    table_next: [u64; 4],
    roots: [u64; 4],
    /// The driver's view of each ring's tail.
    tails: [u32; 4],
}

pub fn q_reg(q: u32, reg: usize) -> usize {
    hwq::queue_reg(q, reg)
}

impl Rig {
    pub fn new() -> Self {
        let ram = Arc::new(Mapping::anonymous(RAM_SIZE as usize).unwrap());
        let shared = Arc::new(SharedRam::fixed(ram.clone()));
        let mut dev = Device::new(0, SHM_SIZE, VECTORS, shared).unwrap();
        let (ours, theirs) = UnixStream::pair().unwrap();
        dev.attach(ours).unwrap();
        // The handshake: version, id, shared memory, doorbells, interrupts.
        let mut irqs = Vec::new();
        for i in 0..3 + 2 * VECTORS {
            let (_, fd) = ivshmem::recv_msg(&theirs).unwrap();
            if i >= 3 + VECTORS {
                irqs.push(fd.unwrap());
            }
        }
        let shm = dev.shm.clone();
        let mut rig = Self {
            dev,
            ram,
            shm,
            irqs,
            _sock: theirs,
            table_next: [0, 1 << 20, 2 << 20, 3 << 20],
            roots: [0; 4],
            tails: [0; 4],
        };
        rig.shm.write64(regs::BAR2_BASE, BAR2);
        for pa in (0..RAM_SIZE).step_by(2 << 20) {
            rig.map(0, KVA + pa, pa, mmu::BLOCK_2M, false);
        }
        rig.map_pages(0, KVA_DEV, DRAM, DRAM_SIZE, false);
        rig.set_ctx(0, true);
        rig
    }

    /// Runs `f` on the tables of `asid` (0..4).
    pub fn tables<R>(&mut self, asid: u32, f: impl FnOnce(&mut Tables) -> R) -> R {
        let a = asid as usize;
        let mut t = if self.roots[a] == 0 {
            Tables::new(&self.ram, 0, self.table_next[a])
        } else {
            Tables::resume(&self.ram, 0, self.roots[a], self.table_next[a])
        };
        let r = f(&mut t);
        self.roots[a] = t.root;
        self.table_next[a] = t.end();
        assert!(
            t.end() <= (u64::from(asid) + 1) << 20,
            "tables of ASID {asid} full"
        );
        r
    }

    pub fn map(&mut self, asid: u32, va: u64, pa: u64, size: u64, ro: bool) {
        self.tables(asid, |t| t.map(va, pa, size, ro));
    }

    pub fn map_pages(&mut self, asid: u32, va: u64, pa: u64, len: u64, ro: bool) {
        self.tables(asid, |t| t.map_pages(va, pa, len, ro));
    }

    /// Makes context `asid` valid (with its tables) or invalid.
    pub fn set_ctx(&mut self, asid: u32, valid: bool) {
        let root = if asid < 4 {
            self.tables(asid, |t| t.root)
        } else {
            0
        };
        self.shm.write64(mmu::ctx_reg(asid, mmu::CTX_TTBR), root);
        let ctrl = if valid { mmu::CTX_CTRL_VALID } else { 0 };
        self.shm.write32(mmu::ctx_reg(asid, mmu::CTX_CTRL), ctrl);
    }

    pub fn reg(&self, q: u32, reg: usize) -> u32 {
        self.shm.read32(q_reg(q, reg))
    }

    pub fn reg64(&self, q: u32, reg: usize) -> u64 {
        self.shm.read64(q_reg(q, reg))
    }

    /// Enables queue `q` on its ring of `size` bytes, empty.
    pub fn enable(&mut self, q: u32, size: u32) {
        self.shm.write64(q_reg(q, hwq::Q_BASE), KVA + ring_pa(q));
        self.shm.write32(q_reg(q, hwq::Q_SIZE), size);
        let head = self.reg(q, hwq::Q_HEAD);
        self.tails[q as usize] = head;
        self.shm.write32(q_reg(q, hwq::Q_TAIL), head);
        self.shm.write32(q_reg(q, hwq::Q_CTRL), hwq::Q_CTRL_ENABLE);
        self.doorbell(q);
    }

    pub fn doorbell(&mut self, q: u32) {
        self.dev
            .handle_doorbell(regs::doorbell_queue(q) as usize, 1);
    }

    /// Writes a packet into ring `q` at the tail (wrapping) without moving the tail.
    pub fn write_ring(&mut self, q: u32, words: &[u32]) {
        let size = self.reg(q, hwq::Q_SIZE);
        let mut tail = self.tails[q as usize];
        for w in words {
            let pos = u64::from(tail & (size - 1));
            self.ram.write32((ring_pa(q) + pos) as usize, *w);
            tail = tail.wrapping_add(4);
        }
        self.tails[q as usize] = tail;
    }

    /// Publishes what was written: moves `Q_TAIL` and rings the doorbell.
    pub fn kick(&mut self, q: u32) {
        self.shm
            .write32(q_reg(q, hwq::Q_TAIL), self.tails[q as usize]);
        self.doorbell(q);
    }

    pub fn submit(&mut self, q: u32, words: &[u32]) {
        self.write_ring(q, words);
        self.kick(q);
    }

    pub fn tail(&self, q: u32) -> u32 {
        self.tails[q as usize]
    }

    /// Waits until `pred` holds for queue `q`'s status (10 s at most).
    pub fn wait_status(&self, q: u32, what: &str, pred: impl Fn(&Self) -> bool) {
        let t = Instant::now();
        while !pred(self) {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "queue {q}: timed out waiting for {what}: status {} head {:#x} tail {:#x} err {}",
                self.reg(q, hwq::Q_STATUS),
                self.reg(q, hwq::Q_HEAD),
                self.tails[q as usize],
                self.reg(q, hwq::Q_ERR_CODE),
            );
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Waits until queue `q` consumed everything and is idle; panics if it stopped in error.
    pub fn idle(&self, q: u32) {
        self.wait_status(q, "idle", |r| {
            let st = r.reg(q, hwq::Q_STATUS);
            assert_ne!(
                st,
                hwq::Q_STATUS_ERROR,
                "queue {q} in error: code {} addr {:#x} pkt {:#x} info {:#x}",
                r.reg(q, hwq::Q_ERR_CODE),
                r.reg64(q, hwq::Q_ERR_ADDR),
                r.reg64(q, hwq::Q_ERR_PKT),
                r.reg(q, hwq::Q_ERR_INFO)
            );
            st == hwq::Q_STATUS_IDLE && r.reg(q, hwq::Q_HEAD) == r.tails[q as usize]
        });
    }

    /// Runs packets on queue `q` to completion.
    pub fn run(&mut self, q: u32, words: &[u32]) {
        self.submit(q, words);
        self.idle(q);
    }

    /// Waits for queue `q` to stop in error; returns (code, addr, pkt, info).
    pub fn error(&self, q: u32) -> (u32, u64, u64, u32) {
        self.wait_status(q, "an error", |r| {
            r.reg(q, hwq::Q_STATUS) == hwq::Q_STATUS_ERROR
        });
        (
            self.reg(q, hwq::Q_ERR_CODE),
            self.reg64(q, hwq::Q_ERR_ADDR),
            self.reg64(q, hwq::Q_ERR_PKT),
            self.reg(q, hwq::Q_ERR_INFO),
        )
    }

    /// Runs packets that must fail; returns (code, addr, pkt, info).
    pub fn fail(&mut self, q: u32, words: &[u32]) -> (u32, u64, u64, u32) {
        self.submit(q, words);
        self.error(q)
    }

    /// Requests a reset of queue `q` resuming at `resume`; waits for the acknowledgement.
    pub fn reset(&mut self, q: u32, resume: u32) {
        let req = self.reg(q, hwq::Q_RESET).wrapping_add(1);
        self.shm.write32(q_reg(q, hwq::Q_RESUME), resume);
        self.shm.write32(q_reg(q, hwq::Q_RESET), req);
        self.doorbell(q);
        self.wait_status(q, "reset ack", |r| r.reg(q, hwq::Q_RESET_ACK) == req);
    }

    /// Interrupts raised on `vector` since the last look.
    pub fn irqs(&self, vector: u32) -> u64 {
        ivshmem::drain(&self.irqs[vector as usize]).unwrap()
    }

    /// Waits up to 5 s for an interrupt on `vector`; returns how many were counted.
    pub fn wait_irq(&self, vector: u32) -> u64 {
        let mut p = [PollFd::new(&self.irqs[vector as usize], PollFlags::IN)];
        let timeout = Timespec {
            tv_sec: 5,
            tv_nsec: 0,
        };
        let n = rustix::event::poll(&mut p, Some(&timeout));
        assert_eq!(n, Ok(1), "no interrupt on vector {vector}");
        self.irqs(vector)
    }

    pub fn write(&self, pa: u64, data: &[u8]) {
        self.ram.write_bytes(pa as usize, data).unwrap();
    }

    pub fn read(&self, pa: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.ram.read_bytes(pa as usize, &mut v).unwrap();
        v
    }

    pub fn read_u64(&self, pa: u64) -> u64 {
        self.ram.load64(pa as usize).unwrap()
    }

    pub fn write_u64(&self, pa: u64, v: u64) {
        assert!(self.ram.store64(pa as usize, v));
    }

    pub fn dev_write(&self, off: u64, data: &[u8]) {
        self.shm
            .write_bytes((regs::DRAM_OFFSET_VALUE + off) as usize, data)
            .unwrap();
    }

    pub fn dev_read(&self, off: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.shm
            .read_bytes((regs::DRAM_OFFSET_VALUE + off) as usize, &mut v)
            .unwrap();
        v
    }

    pub fn pkt_count(&self) -> u32 {
        self.shm.read32(regs::PKT_COUNT)
    }
}

/// Packet encoders.
pub mod pkt {
    use super::packet::*;

    fn lo(x: u64) -> u32 {
        x as u32
    }

    fn hi(x: u64) -> u32 {
        (x >> 32) as u32
    }

    pub fn nop(len: u16) -> Vec<u32> {
        let mut v = vec![0xdead_beef; len as usize];
        v[0] = header(OP_NOP, 0, len);
        v
    }

    pub fn fence(addr: u64, value: u64, irq: bool) -> Vec<u32> {
        let flags = if irq { FENCE_IRQ } else { 0 };
        vec![
            header(OP_FENCE, flags, FENCE_LEN),
            0,
            lo(addr),
            hi(addr),
            lo(value),
            hi(value),
        ]
    }

    pub fn wait(addr: u64, target: u64) -> Vec<u32> {
        vec![
            header(OP_WAIT, 0, WAIT_LEN),
            0,
            lo(addr),
            hi(addr),
            lo(target),
            hi(target),
        ]
    }

    pub fn indirect(asid: u32, addr: u64, size: u32) -> Vec<u32> {
        vec![
            header(OP_INDIRECT, 0, INDIRECT_LEN),
            asid,
            lo(addr),
            hi(addr),
            size,
            0,
        ]
    }

    pub fn dma(src: u64, dst: u64, size: u64) -> Vec<u32> {
        vec![
            header(OP_DMA, 0, DMA_LEN),
            0,
            lo(src),
            hi(src),
            lo(dst),
            hi(dst),
            lo(size),
            hi(size),
        ]
    }

    pub fn fill(dst: u64, size: u64, pattern: u32) -> Vec<u32> {
        let mut v = dma(u64::from(pattern), dst, size);
        v[0] = header(OP_DMA, DMA_FILL, DMA_LEN);
        v
    }

    /// An MME packet.
    #[derive(Clone, Copy, Debug)]
    pub struct Mme {
        pub flags: u8,
        pub a: u64,
        pub b: u64,
        pub c: u64,
        pub bias: u64,
        pub m: u32,
        pub n: u32,
        pub k: u32,
        pub lda: u32,
        pub ldb: u32,
        pub ldc: u32,
        pub alpha: f32,
        pub beta: f32,
    }

    pub fn mme(p: &Mme) -> Vec<u32> {
        vec![
            header(OP_MME, p.flags, MME_LEN),
            0,
            lo(p.a),
            hi(p.a),
            lo(p.b),
            hi(p.b),
            lo(p.c),
            hi(p.c),
            lo(p.bias),
            hi(p.bias),
            p.m,
            p.n,
            p.k,
            p.lda,
            p.ldb,
            p.ldc,
            p.alpha.to_bits(),
            p.beta.to_bits(),
            0,
            0,
        ]
    }

    pub fn tpc(code: u64, size: u32, grid: [u32; 3], args: [u64; TPC_ARGS]) -> Vec<u32> {
        let mut v = vec![
            header(OP_TPC_LAUNCH, 0, TPC_LAUNCH_LEN),
            0,
            lo(code),
            hi(code),
            size,
            0,
            grid[0],
            grid[1],
            grid[2],
            0,
        ];
        for a in args {
            v.extend([lo(a), hi(a)]);
        }
        v
    }

    /// Packets one after the other.
    pub fn cat(packets: &[Vec<u32>]) -> Vec<u32> {
        packets.concat()
    }
}

/// Little-endian bytes of a packet stream (for indirect buffers).
pub fn bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}
