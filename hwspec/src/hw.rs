// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Programming interface of the Gaudi-class device, interface version 2.0.
//!
//! This file is the one definition of the device's registers, queues, packets, page-table
//! format and TPC instruction set. The kernel driver includes it with `#[path]`, the emulator
//! and the userspace library use it through the `gaudi-hw` crate. It depends on `core` only.
//! `Documentation/device-spec.rst` explains every item; tests of the `gaudi-hw` crate check
//! the register table and the opcode tables against it.
//!
//! All multi-byte values are little-endian.

/// The register file at offset 0 of the shared region (BAR2).
///
/// The register file is plain shared memory: the device acts on it only when a doorbell
/// rings. Every register has one writer, the driver (`RW`) or the device (`RO`).
pub mod regs {
    /// `"GAUDIEMU"` read as a little-endian `u64`.
    pub const SIGNATURE_VALUE: u64 = u64::from_le_bytes(*b"GAUDIEMU");
    /// Interface major version.
    pub const VERSION_MAJOR: u32 = 2;
    /// Interface minor version.
    pub const VERSION_MINOR: u32 = 0;
    /// Value of [`VERSION`]: `major << 16 | minor`.
    pub const VERSION_VALUE: u32 = (VERSION_MAJOR << 16) | VERSION_MINOR;
    /// Device id of the Gaudi-class compute device.
    pub const DEVICE_ID_VALUE: u32 = 1;
    /// Silicon revision.
    pub const REVISION_VALUE: u32 = 2;
    /// Offset of device memory in the shared region.
    pub const DRAM_OFFSET_VALUE: u64 = 1 << 20;
    /// Size of the register file; device memory starts at [`DRAM_OFFSET_VALUE`].
    pub const REGS_SIZE: usize = 0x1000;

    /// `"GAUDIEMU"`, RO, u64.
    pub const SIGNATURE: usize = 0x000;
    /// `major << 16 | minor`, RO, u32.
    pub const VERSION: usize = 0x008;
    /// ivshmem peer id of the device, the target of doorbells, RO, u32.
    pub const DOORBELL_PEER: usize = 0x00c;
    /// Device id, RO, u32.
    pub const DEVICE_ID: usize = 0x010;
    /// Silicon revision, RO, u32.
    pub const REVISION: usize = 0x014;
    /// Number of hardware queues, RO, u32.
    pub const NUM_QUEUES: usize = 0x018;
    /// Number of doorbell/MSI-X vectors, RO, u32.
    pub const NUM_VECTORS: usize = 0x01c;
    /// Offset of device memory in BAR2, RO, u64.
    pub const DRAM_OFFSET: usize = 0x020;
    /// Size of device memory, RO, u64.
    pub const DRAM_SIZE: usize = 0x028;
    /// Device status ([`STATUS_READY`], [`STATUS_ERROR`]), RO, u32.
    pub const STATUS: usize = 0x030;
    /// Index of the device in its emulator, RO, u32.
    pub const INSTANCE: usize = 0x034;
    /// Control doorbells handled (wraps), RO, u32.
    pub const DOORBELL_COUNT: usize = 0x038;
    /// Number of MMU address-space ids, RO, u32.
    pub const NUM_ASIDS: usize = 0x03c;
    /// Bus address of BAR2, RW, u64: the driver tells the device where the host sees it.
    pub const BAR2_BASE: usize = 0x040;
    /// Bits of a device virtual address, RO, u32.
    pub const VA_BITS: usize = 0x048;
    /// Bits of a device physical (bus) address, RO, u32.
    pub const PA_BITS: usize = 0x04c;
    /// Queues in error, one bit per queue, RO, u32; see [`super::queue::Q_STATUS`].
    pub const ERR_QUEUES: usize = 0x050;
    /// Packets executed by all queues (wraps), RO, u32.
    pub const PKT_COUNT: usize = 0x054;

    /// Accesses of this device's engines to a peer device's memory (peer-to-peer
    /// transactions, one per contiguous piece of an access; wraps), RO, u32.
    pub const P2P_TX_COUNT: usize = 0xa00;
    /// Accesses of peer devices to this device's memory (wraps), RO, u32.
    pub const P2P_RX_COUNT: usize = 0xa04;

    /// DMA address of the self-test's 8-byte buffer, RW, u64.
    pub const SELFTEST_ADDR: usize = 0x100;
    /// Self-test pattern, RW, u64.
    pub const SELFTEST_PATTERN: usize = 0x108;
    /// Self-test control ([`SELFTEST_CTRL_START`]), RW, u32 (the device clears it).
    pub const SELFTEST_CTRL: usize = 0x110;
    /// Self-test status (`SELFTEST_STATUS_*`), RW, u32.
    pub const SELFTEST_STATUS: usize = 0x114;

    /// Device reset, RW, u32: the driver writes [`DEV_RESET_START`] and rings the control
    /// doorbell; the device resets and the register reads 0 again when it is done.
    pub const DEV_RESET: usize = 0x810;
    /// Engine reset request counter of queue `q`, RW, u32.
    pub const fn engine_reset(q: u32) -> usize {
        ENGINE_RESET0 + 4 * q as usize
    }
    /// Last engine reset request of queue `q` handled, RO, u32.
    pub const fn engine_reset_ack(q: u32) -> usize {
        ENGINE_RESET_ACK0 + 4 * q as usize
    }
    /// Engine reset request counters, one per queue, RW, u32.
    pub const ENGINE_RESET0: usize = 0x820;
    /// Engine reset acknowledgments, one per queue, RO, u32.
    pub const ENGINE_RESET_ACK0: usize = 0x830;
    /// Fault to inject (`FI_*`), RW, u32.
    pub const FI_OP: usize = 0x840;
    /// Queue the fault concerns, RW, u32.
    pub const FI_QUEUE: usize = 0x844;
    /// Argument of the fault, RW, u32.
    pub const FI_ARG: usize = 0x848;
    /// Fault-injection request counter, RW, u32: the driver increments it and rings the
    /// control doorbell.
    pub const FI_REQ: usize = 0x84c;
    /// Last fault-injection request handled, RO, u32.
    pub const FI_ACK: usize = 0x850;
    /// Outcome of the last request (`FI_STATUS_*`), RO, u32.
    pub const FI_STATUS: usize = 0x854;

    /// First queue register block; block `q` is at `QUEUE_BASE + q * QUEUE_STRIDE`.
    pub const QUEUE_BASE: usize = 0x200;
    /// Size of a queue register block.
    pub const QUEUE_STRIDE: usize = 0x40;
    /// First MMU context; context `asid` is at `CTX_BASE + asid * CTX_STRIDE`.
    pub const CTX_BASE: usize = 0x400;
    /// Size of an MMU context entry.
    pub const CTX_STRIDE: usize = 0x10;

    /// `STATUS`: the device is ready.
    pub const STATUS_READY: u32 = 1 << 0;
    /// `STATUS`: the device is in error.
    pub const STATUS_ERROR: u32 = 1 << 1;
    /// `STATUS` of a device that does not answer: PCIe reads of a lost device return all ones.
    pub const STATUS_LOST: u32 = !0;
    /// `DEV_RESET`: the driver requests a device reset.
    pub const DEV_RESET_START: u32 = 1;

    /// `FI_OP`: queue `FI_QUEUE` hangs at its `FI_ARG`-th next packet (0: the next one); a
    /// queue reset recovers it.
    pub const FI_HANG_QUEUE: u32 = 1;
    /// `FI_OP`: as [`FI_HANG_QUEUE`], but the engine hangs: only an engine reset recovers it.
    pub const FI_HANG_ENGINE: u32 = 2;
    /// `FI_OP`: the next completion fence of queue `FI_QUEUE` writes a wrong value.
    pub const FI_CORRUPT_COMPLETION: u32 = 3;
    /// `FI_OP`: the next `FI_ARG` (0: one) completion interrupts of queue `FI_QUEUE` are lost.
    pub const FI_DROP_IRQ: u32 = 4;
    /// `FI_OP`: the completion vector of queue `FI_QUEUE` and the error vector fire with
    /// nothing to report.
    pub const FI_SPURIOUS_IRQ: u32 = 5;
    /// `FI_OP`: a correctable ECC error at device-memory offset `FI_ARG`.
    pub const FI_ECC_CORRECTABLE: u32 = 6;
    /// `FI_OP`: an uncorrectable ECC error at device-memory offset `FI_ARG`.
    pub const FI_ECC_UNCORRECTABLE: u32 = 7;
    /// `FI_OP`: the device stops answering for `FI_ARG` milliseconds (0: 2000), then comes
    /// back reset, as after a slot power cycle.
    pub const FI_DEVICE_LOST: u32 = 8;
    /// Fault names (as the emulator's control socket and the driver's debugfs take them) and
    /// their `FI_OP` values.
    pub const FAULTS: &[(&str, u32)] = &[
        ("hang-queue", FI_HANG_QUEUE),
        ("hang-engine", FI_HANG_ENGINE),
        ("corrupt-completion", FI_CORRUPT_COMPLETION),
        ("drop-irq", FI_DROP_IRQ),
        ("spurious-irq", FI_SPURIOUS_IRQ),
        ("ecc-correctable", FI_ECC_CORRECTABLE),
        ("ecc-uncorrectable", FI_ECC_UNCORRECTABLE),
        ("device-lost", FI_DEVICE_LOST),
    ];
    /// `FI_STATUS`: the fault was injected.
    pub const FI_STATUS_OK: u32 = 0;
    /// `FI_STATUS`: unknown `FI_OP` or bad `FI_QUEUE`.
    pub const FI_STATUS_INVALID: u32 = 1;

    /// `SELFTEST_CTRL`: the driver requests a self-test.
    pub const SELFTEST_CTRL_START: u32 = 1;
    /// `SELFTEST_STATUS`: no self-test ran.
    pub const SELFTEST_STATUS_IDLE: u32 = 0;
    /// `SELFTEST_STATUS`: the device took the request.
    pub const SELFTEST_STATUS_BUSY: u32 = 1;
    /// `SELFTEST_STATUS`: the device wrote the complement.
    pub const SELFTEST_STATUS_DONE: u32 = 2;
    /// `SELFTEST_STATUS`: the address is outside guest RAM.
    pub const SELFTEST_STATUS_ERR_DMA: u32 = 3;

    /// Number of hardware queues of this device model.
    pub const NUM_QUEUES_VALUE: u32 = 4;
    /// Number of MMU address spaces of this device model; ASID 0 is the kernel's.
    pub const NUM_ASIDS_VALUE: u32 = 64;
    /// Virtual address bits of this device model.
    pub const VA_BITS_VALUE: u32 = 48;
    /// Physical address bits of this device model.
    pub const PA_BITS_VALUE: u32 = 48;

    /// Doorbell (driver to device) of the control blocks.
    pub const DOORBELL_CONTROL: u32 = 0;
    /// Doorbell of hardware queue `q`.
    pub const fn doorbell_queue(q: u32) -> u32 {
        1 + q
    }
    /// Interrupt vector (device to driver) of control events.
    pub const VECTOR_CONTROL: u32 = 0;
    /// Interrupt vector of queue errors.
    pub const VECTOR_ERROR: u32 = 1;
    /// Interrupt vector of completions on hardware queue `q`.
    pub const fn vector_queue(q: u32) -> u32 {
        2 + q
    }
    /// Vectors a driver needs for every queue: control, error and one per queue.
    pub const NUM_VECTORS_MIN: u32 = 2 + NUM_QUEUES_VALUE;

    /// Every register of the file, queue and context blocks excluded: name as in the spec,
    /// offset, size in bytes.
    pub const REGISTERS: &[(&str, usize, usize)] = &[
        ("SIGNATURE", SIGNATURE, 8),
        ("VERSION", VERSION, 4),
        ("DOORBELL_PEER", DOORBELL_PEER, 4),
        ("DEVICE_ID", DEVICE_ID, 4),
        ("REVISION", REVISION, 4),
        ("NUM_QUEUES", NUM_QUEUES, 4),
        ("NUM_VECTORS", NUM_VECTORS, 4),
        ("DRAM_OFFSET", DRAM_OFFSET, 8),
        ("DRAM_SIZE", DRAM_SIZE, 8),
        ("STATUS", STATUS, 4),
        ("INSTANCE", INSTANCE, 4),
        ("DOORBELL_COUNT", DOORBELL_COUNT, 4),
        ("NUM_ASIDS", NUM_ASIDS, 4),
        ("BAR2_BASE", BAR2_BASE, 8),
        ("VA_BITS", VA_BITS, 4),
        ("PA_BITS", PA_BITS, 4),
        ("ERR_QUEUES", ERR_QUEUES, 4),
        ("PKT_COUNT", PKT_COUNT, 4),
        ("SELFTEST_ADDR", SELFTEST_ADDR, 8),
        ("SELFTEST_PATTERN", SELFTEST_PATTERN, 8),
        ("SELFTEST_CTRL", SELFTEST_CTRL, 4),
        ("SELFTEST_STATUS", SELFTEST_STATUS, 4),
        ("DEV_RESET", DEV_RESET, 4),
        ("ENGINE_RESET0", ENGINE_RESET0, 4),
        ("ENGINE_RESET1", ENGINE_RESET0 + 4, 4),
        ("ENGINE_RESET2", ENGINE_RESET0 + 8, 4),
        ("ENGINE_RESET3", ENGINE_RESET0 + 12, 4),
        ("ENGINE_RESET_ACK0", ENGINE_RESET_ACK0, 4),
        ("ENGINE_RESET_ACK1", ENGINE_RESET_ACK0 + 4, 4),
        ("ENGINE_RESET_ACK2", ENGINE_RESET_ACK0 + 8, 4),
        ("ENGINE_RESET_ACK3", ENGINE_RESET_ACK0 + 12, 4),
        ("FI_OP", FI_OP, 4),
        ("FI_QUEUE", FI_QUEUE, 4),
        ("FI_ARG", FI_ARG, 4),
        ("FI_REQ", FI_REQ, 4),
        ("FI_ACK", FI_ACK, 4),
        ("FI_STATUS", FI_STATUS, 4),
        ("P2P_TX_COUNT", P2P_TX_COUNT, 4),
        ("P2P_RX_COUNT", P2P_RX_COUNT, 4),
    ];
}

/// Hardware queues: a ring of packets in the kernel's address space (ASID 0).
///
/// Offsets are relative to the queue's block, [`queue_reg`]. `Q_TAIL` and `Q_HEAD` are
/// free-running byte counters; the ring position is the counter modulo `Q_SIZE`. Packets may
/// wrap around the end of the ring.
///
/// [`queue_reg`]: queue::queue_reg
pub mod queue {
    use super::regs;

    /// Offset of register `reg` of queue `q` in the register file.
    pub const fn queue_reg(q: u32, reg: usize) -> usize {
        regs::QUEUE_BASE + q as usize * regs::QUEUE_STRIDE + reg
    }

    /// Ring address in ASID 0, 8-byte aligned, RW, u64.
    pub const Q_BASE: usize = 0x00;
    /// Ring size in bytes, a power of two in [`RING_SIZE_MIN`]..=[`RING_SIZE_MAX`], RW, u32.
    pub const Q_SIZE: usize = 0x08;
    /// Control: [`Q_CTRL_ENABLE`], RW, u32.
    pub const Q_CTRL: usize = 0x0c;
    /// Bytes the driver has written (free-running), RW, u32.
    pub const Q_TAIL: usize = 0x10;
    /// Bytes the device has consumed (free-running), RO, u32.
    pub const Q_HEAD: usize = 0x14;
    /// Queue state (`Q_STATUS_*`), RO, u32.
    pub const Q_STATUS: usize = 0x18;
    /// Why the queue stopped (`ERR_*`), RO, u32.
    pub const Q_ERR_CODE: usize = 0x1c;
    /// Faulting virtual address of an MMU fault, RO, u64.
    pub const Q_ERR_ADDR: usize = 0x20;
    /// Address of the packet that failed, in the address space of `Q_ERR_INFO`, RO, u64.
    pub const Q_ERR_PKT: usize = 0x28;
    /// ASID (bits 15:0), access (bits 17:16, `ACCESS_*`) and engine (bits 27:24,
    /// `ENGINE_*`) of the failure, RO, u32.
    pub const Q_ERR_INFO: usize = 0x30;
    /// Reset request counter, RW, u32: the driver increments it and rings the doorbell.
    pub const Q_RESET: usize = 0x34;
    /// Last reset request handled, RO, u32.
    pub const Q_RESET_ACK: usize = 0x38;
    /// Where a reset resumes, RW, u32: the device sets `Q_HEAD` to it (a free-running byte
    /// counter between the failed `Q_HEAD` and `Q_TAIL`, 8-byte aligned).
    pub const Q_RESUME: usize = 0x3c;

    /// Registers of a queue block: name as in the spec, offset, size.
    pub const QUEUE_REGISTERS: &[(&str, usize, usize)] = &[
        ("Q_BASE", Q_BASE, 8),
        ("Q_SIZE", Q_SIZE, 4),
        ("Q_CTRL", Q_CTRL, 4),
        ("Q_TAIL", Q_TAIL, 4),
        ("Q_HEAD", Q_HEAD, 4),
        ("Q_STATUS", Q_STATUS, 4),
        ("Q_ERR_CODE", Q_ERR_CODE, 4),
        ("Q_ERR_ADDR", Q_ERR_ADDR, 8),
        ("Q_ERR_PKT", Q_ERR_PKT, 8),
        ("Q_ERR_INFO", Q_ERR_INFO, 4),
        ("Q_RESET", Q_RESET, 4),
        ("Q_RESET_ACK", Q_RESET_ACK, 4),
        ("Q_RESUME", Q_RESUME, 4),
    ];

    /// `Q_CTRL`: the queue fetches packets.
    pub const Q_CTRL_ENABLE: u32 = 1 << 0;

    /// Smallest ring.
    pub const RING_SIZE_MIN: u32 = 4096;
    /// Largest ring.
    pub const RING_SIZE_MAX: u32 = 1 << 20;

    /// `Q_STATUS`: disabled.
    pub const Q_STATUS_DISABLED: u32 = 0;
    /// `Q_STATUS`: enabled, nothing to do (`Q_HEAD == Q_TAIL`).
    pub const Q_STATUS_IDLE: u32 = 1;
    /// `Q_STATUS`: executing packets.
    pub const Q_STATUS_BUSY: u32 = 2;
    /// `Q_STATUS`: waiting in a WAIT packet.
    pub const Q_STATUS_WAITING: u32 = 3;
    /// `Q_STATUS`: stopped by an error until reset; `Q_ERR_*` say why.
    pub const Q_STATUS_ERROR: u32 = 4;

    /// No error.
    pub const ERR_NONE: u32 = 0;
    /// Unknown opcode.
    pub const ERR_BAD_OPCODE: u32 = 1;
    /// Malformed packet: wrong length, non-zero reserved field, bad alignment or size.
    pub const ERR_BAD_PACKET: u32 = 2;
    /// Translation or permission fault; `Q_ERR_ADDR` holds the address.
    pub const ERR_MMU_FAULT: u32 = 3;
    /// INDIRECT inside an indirect command buffer.
    pub const ERR_NESTED_INDIRECT: u32 = 4;
    /// INDIRECT names an ASID that is out of range or whose context is not valid.
    pub const ERR_BAD_ASID: u32 = 5;
    /// A translated address is neither guest RAM nor device memory.
    pub const ERR_BUS: u32 = 6;
    /// A TPC kernel executed an invalid instruction or ran out of its budget.
    pub const ERR_TPC: u32 = 7;
    /// The ring configuration (`Q_BASE`, `Q_SIZE`) is invalid.
    pub const ERR_BAD_RING: u32 = 8;

    /// `Q_ERR_INFO` access: read.
    pub const ACCESS_READ: u32 = 1;
    /// `Q_ERR_INFO` access: write.
    pub const ACCESS_WRITE: u32 = 2;
    /// `Q_ERR_INFO` engine: the queue's packet fetcher.
    pub const ENGINE_QUEUE: u32 = 0;
    /// `Q_ERR_INFO` engine: DMA.
    pub const ENGINE_DMA: u32 = 1;
    /// `Q_ERR_INFO` engine: matrix engine.
    pub const ENGINE_MME: u32 = 2;
    /// `Q_ERR_INFO` engine: vector cores.
    pub const ENGINE_TPC: u32 = 3;

    /// Packs `Q_ERR_INFO`.
    pub const fn err_info(asid: u32, access: u32, engine: u32) -> u32 {
        (asid & 0xffff) | ((access & 3) << 16) | ((engine & 0xf) << 24)
    }
}

/// MMU contexts and the page-table format.
///
/// The format is the one of Arm's VMSAv8-64 long descriptors for stage 1 with a 4 KiB
/// granule and a 48-bit input address (four levels), as `io-pgtable-arm` builds it for
/// `ARM_64_LPAE_S1`: the kernel driver builds tables with the kernel's page-table code.
pub mod mmu {
    use super::regs;

    /// Offset of register `reg` of context `asid`.
    pub const fn ctx_reg(asid: u32, reg: usize) -> usize {
        regs::CTX_BASE + asid as usize * regs::CTX_STRIDE + reg
    }

    /// Bus address of the level-0 table, 4 KiB aligned, RW, u64.
    pub const CTX_TTBR: usize = 0x0;
    /// Context control ([`CTX_CTRL_VALID`]), RW, u32.
    pub const CTX_CTRL: usize = 0x8;

    /// `CTX_CTRL`: the context's tables may be walked.
    pub const CTX_CTRL_VALID: u32 = 1 << 0;

    /// The kernel's address space: rings and the fence page live there.
    pub const ASID_KERNEL: u32 = 0;

    /// Granule.
    pub const PAGE_SIZE: u64 = 4096;
    /// Level-2 block.
    pub const BLOCK_2M: u64 = 2 << 20;
    /// Level-1 block.
    pub const BLOCK_1G: u64 = 1 << 30;

    /// Descriptor bit 0: valid.
    pub const PTE_VALID: u64 = 1 << 0;
    /// Descriptor bit 1: table (levels 0..=2) or page (level 3); clear for a block.
    pub const PTE_TABLE_OR_PAGE: u64 = 1 << 1;
    /// Descriptor bit 6, AP\[1\]: accessible at EL0. Ignored by the device.
    pub const PTE_AP_UNPRIV: u64 = 1 << 6;
    /// Descriptor bit 7, AP\[2\]: read-only.
    pub const PTE_AP_RDONLY: u64 = 1 << 7;
    /// Descriptor bit 10: access flag; a leaf without it faults.
    pub const PTE_AF: u64 = 1 << 10;
    /// Output address (next table, block or page), bits 47:12.
    pub const PTE_ADDR_MASK: u64 = 0x0000_ffff_ffff_f000;

    /// Index into the table of `level` (0..=3) for virtual address `va`.
    pub const fn index(va: u64, level: u32) -> usize {
        ((va >> (39 - 9 * level)) & 0x1ff) as usize
    }
}

/// Packets: the command stream of rings and indirect command buffers.
///
/// A packet is a sequence of 32-bit words. Word 0 is the header: opcode in bits 7:0, flags
/// in bits 15:8, the packet's length in words (header included) in bits 31:16. Every length
/// is even (packets are 8-byte multiples); words named `reserved` must be zero.
pub mod packet {
    /// NOP: length >= 2, content ignored.
    pub const OP_NOP: u8 = 0x00;
    /// FENCE: write a 64-bit value once everything before it is done.
    pub const OP_FENCE: u8 = 0x01;
    /// WAIT: until the 64-bit value at an address is at least a target.
    pub const OP_WAIT: u8 = 0x02;
    /// INDIRECT: execute a command buffer in a given address space (rings only).
    pub const OP_INDIRECT: u8 = 0x03;
    /// DMA: copy or fill.
    pub const OP_DMA: u8 = 0x04;
    /// MME: matrix multiply.
    pub const OP_MME: u8 = 0x05;
    /// TPC_LAUNCH: run a TPC kernel over a grid.
    pub const OP_TPC_LAUNCH: u8 = 0x06;

    /// FENCE flag: raise the queue's completion vector after the write.
    pub const FENCE_IRQ: u8 = 1 << 0;
    /// DMA flag: fill with the 32-bit pattern in the low half of `src`.
    pub const DMA_FILL: u8 = 1 << 0;
    /// MME flag: A is stored transposed (k x m).
    pub const MME_TRANS_A: u8 = 1 << 0;
    /// MME flag: B is stored transposed (n x k).
    pub const MME_TRANS_B: u8 = 1 << 1;
    /// MME flag: A and B are bfloat16 (C is always fp32).
    pub const MME_BF16: u8 = 1 << 2;
    /// MME flag: add the n-element fp32 row vector at `bias` to every row.
    pub const MME_BIAS: u8 = 1 << 3;
    /// MME flag: clamp the result at zero (ReLU), after the bias.
    pub const MME_RELU: u8 = 1 << 4;

    /// Words of a NOP (the minimum; longer NOPs are allowed).
    pub const NOP_LEN: u16 = 2;
    /// Words of a FENCE: header, reserved, addr (2), value (2).
    pub const FENCE_LEN: u16 = 6;
    /// Words of a WAIT: header, reserved, addr (2), target (2).
    pub const WAIT_LEN: u16 = 6;
    /// Words of an INDIRECT: header, asid, addr (2), size in bytes, reserved.
    pub const INDIRECT_LEN: u16 = 6;
    /// Words of a DMA: header, reserved, src (2), dst (2), size in bytes (2).
    pub const DMA_LEN: u16 = 8;
    /// Words of an MME: header, reserved, a (2), b (2), c (2), bias (2), m, n, k, lda, ldb,
    /// ldc, alpha (f32 bits), beta (f32 bits), reserved (2).
    pub const MME_LEN: u16 = 20;
    /// Words of a TPC_LAUNCH: header, reserved, code (2), code size in bytes, reserved,
    /// grid x, y, z, reserved, eight 64-bit arguments (16).
    pub const TPC_LAUNCH_LEN: u16 = 26;

    /// Largest indirect command buffer.
    pub const INDIRECT_SIZE_MAX: u32 = 4 << 20;
    /// Largest MME dimension (m, n, k).
    pub const MME_DIM_MAX: u32 = 16384;
    /// Largest TPC kernel, in bytes.
    pub const TPC_CODE_MAX: u32 = 64 << 10;
    /// Largest number of grid points of a launch.
    pub const TPC_GRID_MAX: u64 = 1 << 24;
    /// Number of 64-bit kernel arguments.
    pub const TPC_ARGS: usize = 8;

    /// Packs a header word.
    pub const fn header(op: u8, flags: u8, len: u16) -> u32 {
        op as u32 | ((flags as u32) << 8) | ((len as u32) << 16)
    }
    /// Opcode of a header word.
    pub const fn opcode(header: u32) -> u8 {
        header as u8
    }
    /// Flags of a header word.
    pub const fn flags(header: u32) -> u8 {
        (header >> 8) as u8
    }
    /// Length in words of a header word.
    pub const fn len(header: u32) -> u16 {
        (header >> 16) as u16
    }

    /// Packets: name as in the spec, opcode, length in words (0: variable).
    pub const PACKETS: &[(&str, u8, u16)] = &[
        ("NOP", OP_NOP, 0),
        ("FENCE", OP_FENCE, FENCE_LEN),
        ("WAIT", OP_WAIT, WAIT_LEN),
        ("INDIRECT", OP_INDIRECT, INDIRECT_LEN),
        ("DMA", OP_DMA, DMA_LEN),
        ("MME", OP_MME, MME_LEN),
        ("TPC_LAUNCH", OP_TPC_LAUNCH, TPC_LAUNCH_LEN),
    ];
}

/// The TPC vector cores' instruction set.
///
/// An instruction is a 64-bit word: opcode in bits 7:0, `rd` in 15:8, `ra` in 23:16, `rb` in
/// 31:24 and a signed 32-bit immediate in 63:32. A core has 32 scalar registers `s0..s31`
/// (64-bit integers), 16 vector registers `v0..v15` of [`VLEN`] fp32 lanes and a vector
/// length `vl` (0..=[`VLEN`], [`VLEN`] at the start of a grid point). Each grid point starts
/// at instruction 0 with every register zero and runs until `halt`; a grid point that
/// executes more than [`BUDGET`] instructions, an invalid encoding or a branch outside the
/// kernel stops the queue with `ERR_TPC`.
///
/// [`VLEN`]: tpc::VLEN
/// [`BUDGET`]: tpc::BUDGET
pub mod tpc {
    /// Lanes of a vector register.
    pub const VLEN: usize = 16;
    /// Scalar registers.
    pub const NUM_SREGS: u8 = 32;
    /// Vector registers.
    pub const NUM_VREGS: u8 = 16;
    /// Instructions a grid point may execute.
    pub const BUDGET: u64 = 1 << 22;

    /// Operand shape of an instruction, for validation, the assembler and the disassembler.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Form {
        /// No operand: `halt`.
        None,
        /// `op imm`: relative branch target in instructions.
        Jump,
        /// `op sa, sb, imm`: compare and branch.
        Branch,
        /// `op sd, imm`.
        SdImm,
        /// `op sd, sa, sb`.
        SdSaSb,
        /// `op sd, sa, imm`.
        SdSaImm,
        /// `op sd, [sa + imm]`: scalar load.
        SdMem,
        /// `op sb, [sa + imm]`: scalar store of `sb` (`rd` is zero).
        SbMem,
        /// `op sd, sa`: set the vector length.
        SdSa,
        /// `op vd, [sa + imm]`: vector load.
        VdMem,
        /// `op vd, [sa + imm]`: vector store of `vd`.
        VsMem,
        /// `op vd, [sa], sb`: strided vector load, `sb` bytes between lanes.
        VdMemStride,
        /// `op vd, sa`: broadcast or convert a scalar.
        VdSa,
        /// `op vd, imm`: broadcast an fp32 immediate (its bits).
        VdImm,
        /// `op vd, va, vb`.
        VdVaVb,
        /// `op vd, va`.
        VdVa,
        /// `op vd`.
        Vd,
        /// `op sd, va, imm`: move lane `imm` to a scalar.
        SdVaImm,
    }

    /// Opcodes, named `OP_<MNEMONIC>`.
    pub mod op {
        /// Ends the grid point.
        pub const HALT: u8 = 0x00;
        /// `pc += imm`.
        pub const J: u8 = 0x02;
        /// Branch by `imm` if `sa == sb`.
        pub const BEQ: u8 = 0x03;
        /// Branch if `sa != sb`.
        pub const BNE: u8 = 0x04;
        /// Branch if `sa < sb` (signed).
        pub const BLT: u8 = 0x05;
        /// Branch if `sa >= sb` (signed).
        pub const BGE: u8 = 0x06;
        /// Branch if `sa < sb` (unsigned).
        pub const BLTU: u8 = 0x07;
        /// `sd = imm` (sign-extended).
        pub const LI: u8 = 0x10;
        /// `sd = imm << 32 | (sd & 0xffff_ffff)`.
        pub const LUI: u8 = 0x11;
        /// `sd = sa + sb` (wrapping).
        pub const ADD: u8 = 0x12;
        /// `sd = sa - sb` (wrapping).
        pub const SUB: u8 = 0x13;
        /// `sd = sa * sb` (wrapping).
        pub const MUL: u8 = 0x14;
        /// `sd = sa + imm`.
        pub const ADDI: u8 = 0x15;
        /// `sd = sa << (imm & 63)`.
        pub const SHLI: u8 = 0x16;
        /// `sd = sa >> (imm & 63)` (logical).
        pub const SHRI: u8 = 0x17;
        /// `sd = sa & sb`.
        pub const AND: u8 = 0x18;
        /// `sd = sa | sb`.
        pub const OR: u8 = 0x19;
        /// `sd = sa ^ sb`.
        pub const XOR: u8 = 0x1a;
        /// `sd = sa * imm`.
        pub const MULI: u8 = 0x1b;
        /// `sd = min(sa, sb)` (signed).
        pub const MIN: u8 = 0x1c;
        /// `sd = max(sa, sb)` (signed).
        pub const MAX: u8 = 0x1d;
        /// `sd = sa / sb` (unsigned; `u64::MAX` if `sb == 0`).
        pub const DIVU: u8 = 0x1e;
        /// `sd = sa % sb` (unsigned; `sa` if `sb == 0`).
        pub const REMU: u8 = 0x1f;
        /// `sd = args[imm]` (0..8).
        pub const ARG: u8 = 0x20;
        /// `sd = grid index in dimension imm` (0..3).
        pub const GID: u8 = 0x21;
        /// `sd = grid size in dimension imm` (0..3).
        pub const GSIZE: u8 = 0x22;
        /// `sd = u64 at [sa + imm]`.
        pub const LD: u8 = 0x23;
        /// `sd = u32 at [sa + imm]`, zero-extended.
        pub const LDW: u8 = 0x24;
        /// u64 at `[sa + imm] = sb`.
        pub const ST: u8 = 0x25;
        /// u32 at `[sa + imm] = sb` (low half).
        pub const STW: u8 = 0x26;
        /// `vl = min(sa, VLEN)` (unsigned; 0 makes vector memory accesses no-ops); `sd = vl`.
        pub const SETVL: u8 = 0x30;
        /// Loads `vl` fp32 lanes from `[sa + imm]`; lanes from `vl` on become 0.
        pub const VLD: u8 = 0x31;
        /// Stores `vl` lanes of `vd` to `[sa + imm]`.
        pub const VST: u8 = 0x32;
        /// Loads `vl` lanes, lane `i` from `[sa + i * sb]`.
        pub const VLDS: u8 = 0x33;
        /// Every lane = `f32::from_bits(sa as u32)`.
        pub const VBCAST: u8 = 0x34;
        /// Every lane = `f32::from_bits(imm as u32)`.
        pub const VBCASTI: u8 = 0x35;
        /// Every lane = `sa as i64 as f32`.
        pub const VITOF: u8 = 0x36;
        /// Lane `i` = `i as f32`.
        pub const VIOTA: u8 = 0x37;
        /// `vd = va + vb`.
        pub const VADD: u8 = 0x40;
        /// `vd = va - vb`.
        pub const VSUB: u8 = 0x41;
        /// `vd = va * vb`.
        pub const VMUL: u8 = 0x42;
        /// `vd = va / vb`.
        pub const VDIV: u8 = 0x43;
        /// `vd = vd + va * vb` (fused).
        pub const VFMA: u8 = 0x44;
        /// `vd = max(va, vb)`.
        pub const VMAX: u8 = 0x45;
        /// `vd = min(va, vb)`.
        pub const VMIN: u8 = 0x46;
        /// `vd = exp(va)`.
        pub const VEXP: u8 = 0x47;
        /// `vd = ln(va)`.
        pub const VLOG: u8 = 0x48;
        /// `vd = va > vb ? 1.0 : 0.0`.
        pub const VCMPGT: u8 = 0x49;
        /// `vd = va == vb ? 1.0 : 0.0`.
        pub const VCMPEQ: u8 = 0x4a;
        /// `vd = vd != 0.0 ? va : vb`.
        pub const VSEL: u8 = 0x4b;
        /// `vd = va` (copy).
        pub const VMOV: u8 = 0x4c;
        /// Every lane = sum of lanes `0..vl` of `va`.
        pub const VRSUM: u8 = 0x50;
        /// Every lane = maximum of lanes `0..vl` of `va`.
        pub const VRMAX: u8 = 0x51;
        /// Every lane = minimum of lanes `0..vl` of `va`.
        pub const VRMIN: u8 = 0x52;
        /// `sd = va[imm].to_bits()` (zero-extended).
        pub const VMOVS: u8 = 0x53;
    }

    /// Every instruction: mnemonic, opcode, operand form.
    pub const INSNS: &[(&str, u8, Form)] = &[
        ("halt", op::HALT, Form::None),
        ("j", op::J, Form::Jump),
        ("beq", op::BEQ, Form::Branch),
        ("bne", op::BNE, Form::Branch),
        ("blt", op::BLT, Form::Branch),
        ("bge", op::BGE, Form::Branch),
        ("bltu", op::BLTU, Form::Branch),
        ("li", op::LI, Form::SdImm),
        ("lui", op::LUI, Form::SdImm),
        ("add", op::ADD, Form::SdSaSb),
        ("sub", op::SUB, Form::SdSaSb),
        ("mul", op::MUL, Form::SdSaSb),
        ("addi", op::ADDI, Form::SdSaImm),
        ("shli", op::SHLI, Form::SdSaImm),
        ("shri", op::SHRI, Form::SdSaImm),
        ("and", op::AND, Form::SdSaSb),
        ("or", op::OR, Form::SdSaSb),
        ("xor", op::XOR, Form::SdSaSb),
        ("muli", op::MULI, Form::SdSaImm),
        ("min", op::MIN, Form::SdSaSb),
        ("max", op::MAX, Form::SdSaSb),
        ("divu", op::DIVU, Form::SdSaSb),
        ("remu", op::REMU, Form::SdSaSb),
        ("arg", op::ARG, Form::SdImm),
        ("gid", op::GID, Form::SdImm),
        ("gsize", op::GSIZE, Form::SdImm),
        ("ld", op::LD, Form::SdMem),
        ("ldw", op::LDW, Form::SdMem),
        ("st", op::ST, Form::SbMem),
        ("stw", op::STW, Form::SbMem),
        ("setvl", op::SETVL, Form::SdSa),
        ("vld", op::VLD, Form::VdMem),
        ("vst", op::VST, Form::VsMem),
        ("vlds", op::VLDS, Form::VdMemStride),
        ("vbcast", op::VBCAST, Form::VdSa),
        ("vbcasti", op::VBCASTI, Form::VdImm),
        ("vitof", op::VITOF, Form::VdSa),
        ("viota", op::VIOTA, Form::Vd),
        ("vadd", op::VADD, Form::VdVaVb),
        ("vsub", op::VSUB, Form::VdVaVb),
        ("vmul", op::VMUL, Form::VdVaVb),
        ("vdiv", op::VDIV, Form::VdVaVb),
        ("vfma", op::VFMA, Form::VdVaVb),
        ("vmax", op::VMAX, Form::VdVaVb),
        ("vmin", op::VMIN, Form::VdVaVb),
        ("vexp", op::VEXP, Form::VdVa),
        ("vlog", op::VLOG, Form::VdVa),
        ("vcmpgt", op::VCMPGT, Form::VdVaVb),
        ("vcmpeq", op::VCMPEQ, Form::VdVaVb),
        ("vsel", op::VSEL, Form::VdVaVb),
        ("vmov", op::VMOV, Form::VdVa),
        ("vrsum", op::VRSUM, Form::VdVa),
        ("vrmax", op::VRMAX, Form::VdVa),
        ("vrmin", op::VRMIN, Form::VdVa),
        ("vmovs", op::VMOVS, Form::SdVaImm),
    ];

    /// A decoded instruction.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Insn {
        /// Opcode.
        pub op: u8,
        /// Destination (or stored) register.
        pub rd: u8,
        /// First source register.
        pub ra: u8,
        /// Second source register.
        pub rb: u8,
        /// Immediate.
        pub imm: i32,
    }

    impl Insn {
        /// Encodes the instruction.
        pub const fn encode(self) -> u64 {
            self.op as u64
                | ((self.rd as u64) << 8)
                | ((self.ra as u64) << 16)
                | ((self.rb as u64) << 24)
                | ((self.imm as u32 as u64) << 32)
        }

        /// Splits a word into its fields (no validation; see [`Insn::validate`]).
        pub const fn decode(word: u64) -> Self {
            Self {
                op: word as u8,
                rd: (word >> 8) as u8,
                ra: (word >> 16) as u8,
                rb: (word >> 24) as u8,
                imm: (word >> 32) as u32 as i32,
            }
        }

        /// The operand form of the opcode, or `None` if the opcode is unknown.
        pub fn form(self) -> Option<Form> {
            INSNS
                .iter()
                .find(|&&(_, op, _)| op == self.op)
                .map(|&(_, _, form)| form)
        }

        /// Checks the register fields against the form: every register in range, every
        /// unused field zero, and the immediates that select something in range (`arg`
        /// 0..8, `gid` and `gsize` 0..3, `vmovs` 0..[`VLEN`]). Returns the form if the
        /// instruction is valid.
        pub fn validate(self) -> Option<Form> {
            let form = self.form()?;
            let s = |r: u8| r < NUM_SREGS;
            let v = |r: u8| r < NUM_VREGS;
            let (rd, ra, rb, imm) = (self.rd, self.ra, self.rb, self.imm);
            let imm_ok = match self.op {
                op::ARG => (0..super::packet::TPC_ARGS as i32).contains(&imm),
                op::GID | op::GSIZE => (0..3).contains(&imm),
                _ => true,
            };
            let ok = match form {
                Form::None => rd == 0 && ra == 0 && rb == 0 && imm == 0,
                Form::Jump => rd == 0 && ra == 0 && rb == 0,
                Form::Branch => rd == 0 && s(ra) && s(rb),
                Form::SdImm => s(rd) && ra == 0 && rb == 0,
                Form::SdSaSb => s(rd) && s(ra) && s(rb) && imm == 0,
                Form::SdSaImm | Form::SdMem => s(rd) && s(ra) && rb == 0,
                Form::SbMem => rd == 0 && s(ra) && s(rb),
                Form::SdSa => s(rd) && s(ra) && rb == 0 && imm == 0,
                Form::VdMem | Form::VsMem => v(rd) && s(ra) && rb == 0,
                Form::VdMemStride => v(rd) && s(ra) && s(rb) && imm == 0,
                Form::VdSa => v(rd) && s(ra) && rb == 0 && imm == 0,
                Form::VdImm => v(rd) && ra == 0 && rb == 0,
                Form::VdVaVb => v(rd) && v(ra) && v(rb) && imm == 0,
                Form::VdVa => v(rd) && v(ra) && rb == 0 && imm == 0,
                Form::Vd => v(rd) && ra == 0 && rb == 0 && imm == 0,
                Form::SdVaImm => s(rd) && v(ra) && rb == 0 && (imm as u32 as usize) < VLEN,
            };
            (ok && imm_ok).then_some(form)
        }
    }
}

/// Health sensors, error counters and the management-firmware mailbox, at `0x900..0xa00` of
/// the register file.
///
/// The sensors follow the device's load: the device updates them about every 100 ms from the
/// busy time of its queues (a power and thermal model) and from the configuration the
/// firmware holds (`CFG_*`, read and changed through the mailbox). The error counters count
/// from the device's reset; fault injection in the emulator (or a real memory error) bumps
/// them.
///
/// The mailbox: the driver writes `MBOX_CMD`, `MBOX_ARG0`, `MBOX_ARG1`, then increments
/// `MBOX_SEQ` and rings the control doorbell. The firmware answers in `MBOX_STATUS` and
/// `MBOX_DATA`, then sets `MBOX_ACK` to `MBOX_SEQ`. One request at a time.
pub mod health {
    /// Die temperature in millidegrees Celsius, RO, u32.
    pub const TEMP: usize = 0x900;
    /// Highest temperature the device is specified for, millidegrees Celsius, RO, u32.
    pub const TEMP_CRIT: usize = 0x904;
    /// Board power in microwatts, RO, u32.
    pub const POWER: usize = 0x908;
    /// Board power averaged over the last second, microwatts, RO, u32.
    pub const POWER_AVG: usize = 0x90c;
    /// Power cap in microwatts (the `CFG_POWER_CAP` setting), RO, u32.
    pub const POWER_CAP: usize = 0x910;
    /// Core voltage in millivolts, RO, u32.
    pub const VOLTAGE: usize = 0x914;
    /// Core current in milliamperes, RO, u32.
    pub const CURRENT: usize = 0x918;
    /// Core clock in MHz, RO, u32.
    pub const CLOCK: usize = 0x91c;
    /// Energy used since reset in microjoules, RO, u64.
    pub const ENERGY: usize = 0x920;
    /// Busy time of all queues since reset in nanoseconds, RO, u64.
    pub const BUSY_NS: usize = 0x928;
    /// Queues executing packets, one bit per queue, RO, u32.
    pub const ENGINE_BUSY: usize = 0x930;
    /// Correctable memory (ECC) errors since reset, RO, u32.
    pub const ECC_CE_COUNT: usize = 0x940;
    /// Uncorrectable memory (ECC) errors since reset, RO, u32.
    pub const ECC_UE_COUNT: usize = 0x944;
    /// Device address of the last memory error, RO, u64.
    pub const ECC_LAST_ADDR: usize = 0x948;
    /// Queue resets that dropped work (`Q_RESUME` past `Q_HEAD`) since reset, RO, u32.
    pub const RESET_COUNT: usize = 0x950;
    /// Mailbox command (`MBOX_CMD_*`), RW, u32.
    pub const MBOX_CMD: usize = 0x980;
    /// First argument of the command, RW, u32.
    pub const MBOX_ARG0: usize = 0x984;
    /// Second argument of the command, RW, u32.
    pub const MBOX_ARG1: usize = 0x988;
    /// Request counter, RW, u32: the driver increments it and rings the control doorbell.
    pub const MBOX_SEQ: usize = 0x98c;
    /// Last request answered, RO, u32.
    pub const MBOX_ACK: usize = 0x990;
    /// Outcome of the last request (`MBOX_STATUS_*`), RO, u32.
    pub const MBOX_STATUS: usize = 0x994;
    /// Answer of the last request, [`MBOX_DATA_WORDS`] words, RO.
    pub const MBOX_DATA: usize = 0x9a0;
    /// Words of [`MBOX_DATA`].
    pub const MBOX_DATA_WORDS: usize = 16;

    /// `MBOX_CMD`: firmware version and diagnostics, [`DIAG_WORDS`] words of `MBOX_DATA`.
    pub const MBOX_CMD_DIAG: u32 = 1;
    /// `MBOX_CMD`: read configuration value `ARG0` (`CFG_*`) into `MBOX_DATA[0]`.
    pub const MBOX_CMD_GET_CONFIG: u32 = 2;
    /// `MBOX_CMD`: set configuration value `ARG0` to `ARG1`.
    pub const MBOX_CMD_SET_CONFIG: u32 = 3;

    /// `MBOX_STATUS`: done.
    pub const MBOX_STATUS_OK: u32 = 0;
    /// `MBOX_STATUS`: unknown command.
    pub const MBOX_STATUS_BAD_CMD: u32 = 1;
    /// `MBOX_STATUS`: unknown configuration value.
    pub const MBOX_STATUS_BAD_KEY: u32 = 2;
    /// `MBOX_STATUS`: value out of range.
    pub const MBOX_STATUS_BAD_VALUE: u32 = 3;

    /// Configuration value: power cap in milliwatts, [`POWER_CAP_MIN_MW`]..=[`POWER_CAP_MAX_MW`].
    pub const CFG_POWER_CAP: u32 = 0;
    /// Configuration value: highest core clock in MHz, [`CLOCK_MIN_MHZ`]..=[`CLOCK_MAX_MHZ`].
    pub const CFG_CLOCK_MAX: u32 = 1;
    /// Number of configuration values.
    pub const NUM_CFG: u32 = 2;

    /// Lowest power cap, mW.
    pub const POWER_CAP_MIN_MW: u32 = 50_000;
    /// Highest power cap and the default, mW.
    pub const POWER_CAP_MAX_MW: u32 = 350_000;
    /// Idle core clock, MHz.
    pub const CLOCK_MIN_MHZ: u32 = 400;
    /// Highest core clock and the default, MHz.
    pub const CLOCK_MAX_MHZ: u32 = 1800;
    /// Firmware version in `MBOX_DATA[0]` of [`MBOX_CMD_DIAG`]: `major << 16 | minor`.
    pub const FW_VERSION: u32 = 0x0001_0000;

    // The answer follows the mailbox registers and ends with the block.
    const _: () = assert!(MBOX_STATUS < MBOX_DATA && MBOX_DATA + 4 * MBOX_DATA_WORDS <= 0xa00);
    const _: () = assert!(DIAG_WORDS <= MBOX_DATA_WORDS);

    /// Words of the [`MBOX_CMD_DIAG`] answer: firmware version, uptime in ms, temperature
    /// (m°C), power (µW), clock (MHz), ECC correctable, ECC uncorrectable, resets, doorbells
    /// handled, packets executed.
    pub const DIAG_WORDS: usize = 10;

    /// Registers of the health block: name as in the spec, offset, size.
    pub const HEALTH_REGISTERS: &[(&str, usize, usize)] = &[
        ("TEMP", TEMP, 4),
        ("TEMP_CRIT", TEMP_CRIT, 4),
        ("POWER", POWER, 4),
        ("POWER_AVG", POWER_AVG, 4),
        ("POWER_CAP", POWER_CAP, 4),
        ("VOLTAGE", VOLTAGE, 4),
        ("CURRENT", CURRENT, 4),
        ("CLOCK", CLOCK, 4),
        ("ENERGY", ENERGY, 8),
        ("BUSY_NS", BUSY_NS, 8),
        ("ENGINE_BUSY", ENGINE_BUSY, 4),
        ("ECC_CE_COUNT", ECC_CE_COUNT, 4),
        ("ECC_UE_COUNT", ECC_UE_COUNT, 4),
        ("ECC_LAST_ADDR", ECC_LAST_ADDR, 8),
        ("RESET_COUNT", RESET_COUNT, 4),
        ("MBOX_CMD", MBOX_CMD, 4),
        ("MBOX_ARG0", MBOX_ARG0, 4),
        ("MBOX_ARG1", MBOX_ARG1, 4),
        ("MBOX_SEQ", MBOX_SEQ, 4),
        ("MBOX_ACK", MBOX_ACK, 4),
        ("MBOX_STATUS", MBOX_STATUS, 4),
    ];
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::{string::String, vec::Vec};

    use super::*;

    /// Rows `0xOFF   NAME   u32|u64 ...` of the table that starts after `marker` in the spec.
    fn spec_table(marker: &str) -> Vec<(String, usize, usize)> {
        let spec = include_str!("../../Documentation/device-spec.rst");
        let start = spec.find(marker).expect("table marker in the spec");
        let mut rows = Vec::new();
        let mut seen_row = false;
        for line in spec[start..].lines().skip(1) {
            let mut words = line.split_whitespace();
            let (Some(off), Some(name), Some(size)) = (words.next(), words.next(), words.next())
            else {
                if seen_row && line.trim().is_empty() {
                    break;
                }
                continue;
            };
            let Some(off) = off.strip_prefix("0x") else {
                continue;
            };
            let size = match size {
                "u32" => 4,
                "u64" => 8,
                _ => continue,
            };
            seen_row = true;
            rows.push((name.into(), usize::from_str_radix(off, 16).unwrap(), size));
        }
        rows
    }

    fn ours(table: &[(&str, usize, usize)]) -> Vec<(String, usize, usize)> {
        table.iter().map(|&(n, o, s)| (n.into(), o, s)).collect()
    }

    #[test]
    fn registers_match_the_spec() {
        assert_eq!(ours(regs::REGISTERS), spec_table(".. register-table"));
        assert_eq!(
            ours(queue::QUEUE_REGISTERS),
            spec_table(".. queue-register-table")
        );
        assert_eq!(
            ours(health::HEALTH_REGISTERS),
            spec_table(".. health-register-table")
        );
    }

    #[test]
    fn layout_is_aligned_and_disjoint() {
        for table in [
            regs::REGISTERS,
            queue::QUEUE_REGISTERS,
            health::HEALTH_REGISTERS,
        ] {
            let mut end = 0;
            for &(name, off, size) in table {
                assert_eq!(off % size, 0, "{name} is not naturally aligned");
                assert!(off >= end, "{name} overlaps the previous register");
                end = off + size;
            }
        }
        let last_queue = queue::queue_reg(regs::NUM_QUEUES_VALUE - 1, regs::QUEUE_STRIDE);
        assert!(last_queue <= regs::CTX_BASE);
        assert!(mmu::ctx_reg(regs::NUM_ASIDS_VALUE, 0) <= regs::REGS_SIZE);
        assert!(regs::REGS_SIZE as u64 <= regs::DRAM_OFFSET_VALUE);
        assert!(mmu::ctx_reg(regs::NUM_ASIDS_VALUE, 0) <= health::TEMP);
    }

    #[test]
    fn faults_match_the_spec() {
        let spec = include_str!("../../Documentation/device-spec.rst");
        let table = &spec[spec.find(".. fault-table").expect("fault table")..];
        for &(name, op) in regs::FAULTS {
            let row = std::format!("{op:<7}{name:<21}");
            assert!(table.contains(&row), "spec has no fault row `{row}`");
        }
    }

    #[test]
    fn packets_match_the_spec() {
        let spec = include_str!("../../Documentation/device-spec.rst");
        for &(name, op, len) in packet::PACKETS {
            let row = std::format!("{name:<12}{op:#04x}");
            assert!(spec.contains(&row), "spec has no packet row `{row}`");
            assert!(len % 2 == 0, "{name} has an odd length");
        }
    }

    #[test]
    fn instructions_match_the_spec_and_round_trip() {
        let spec = include_str!("../../Documentation/device-spec.rst");
        let mut seen = Vec::new();
        for &(name, op, form) in tpc::INSNS {
            assert!(!seen.contains(&op), "opcode {op:#x} used twice");
            seen.push(op);
            let row = std::format!("{op:#04x}  {name} ");
            assert!(spec.contains(&row), "spec has no instruction row `{row}`");
            let insn = tpc::Insn {
                op,
                rd: 0,
                ra: 0,
                rb: 0,
                imm: 0,
            };
            assert_eq!(tpc::Insn::decode(insn.encode()), insn);
            assert_eq!(insn.form(), Some(form));
        }
        let insn = tpc::Insn {
            op: tpc::op::ADDI,
            rd: 31,
            ra: 7,
            rb: 0,
            imm: -5,
        };
        assert_eq!(tpc::Insn::decode(insn.encode()), insn);
        assert_eq!(insn.validate(), Some(tpc::Form::SdSaImm));
        let bad = tpc::Insn { rd: 32, ..insn };
        assert_eq!(bad.validate(), None);
    }

    #[test]
    fn constants() {
        assert_eq!(regs::SIGNATURE_VALUE, 0x554d_4549_4455_4147);
        assert_eq!(regs::VERSION_VALUE, 0x0002_0000);
        assert_eq!((regs::STATUS_READY, regs::STATUS_ERROR), (1, 2));
        assert_eq!(
            [
                regs::SELFTEST_STATUS_IDLE,
                regs::SELFTEST_STATUS_BUSY,
                regs::SELFTEST_STATUS_DONE,
                regs::SELFTEST_STATUS_ERR_DMA
            ],
            [0, 1, 2, 3]
        );
        assert_eq!(regs::NUM_VECTORS_MIN, 6);
        assert_eq!(regs::doorbell_queue(3), 4);
        assert_eq!(regs::vector_queue(3), regs::NUM_VECTORS_MIN - 1);
        assert_eq!(
            queue::err_info(0x1_0005, 3, 0x13),
            5 | (3 << 16) | (3 << 24)
        );
    }

    #[test]
    fn immediates_that_select_are_validated() {
        let insn = |op, imm| tpc::Insn {
            op,
            rd: 1,
            ra: 0,
            rb: 0,
            imm,
        };
        for (op, max) in [
            (tpc::op::ARG, packet::TPC_ARGS as i32),
            (tpc::op::GID, 3),
            (tpc::op::GSIZE, 3),
        ] {
            assert!(insn(op, 0).validate().is_some());
            assert!(insn(op, max - 1).validate().is_some());
            assert!(insn(op, max).validate().is_none());
            assert!(insn(op, -1).validate().is_none());
        }
        let vmovs = |imm| tpc::Insn {
            imm,
            ..insn(tpc::op::VMOVS, 0)
        };
        assert!(vmovs(tpc::VLEN as i32 - 1).validate().is_some());
        assert!(vmovs(tpc::VLEN as i32).validate().is_none());
        assert!(vmovs(-1).validate().is_none());
    }

    #[test]
    fn page_table_indices() {
        let va = (3u64 << 39) | (5 << 30) | (7 << 21) | (9 << 12) | 0x123;
        assert_eq!([0, 1, 2, 3].map(|l| mmu::index(va, l)), [3, 5, 7, 9]);
    }
}
