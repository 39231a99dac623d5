// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Command buffers: sequences of the device's packets, built with checked arguments.
//!
//! The packet formats are those of [`gaudi_hw::packet`]: 32-bit little-endian words, a header
//! `opcode | flags << 8 | len_words << 16`, even lengths, reserved words zero, 64-bit fields
//! low word first. A user command buffer may hold every packet but INDIRECT, which only the
//! kernel's rings use (the device fails a job whose command buffer holds one with
//! `ERR_NESTED_INDIRECT`).
//!
//! [`CommandBuffer`] appends packets and refuses arguments the device would reject (or that
//! cannot be what the caller meant): misaligned addresses, empty or oversized transfers,
//! matrix shapes out of range or leading dimensions smaller than a row, kernels that are not
//! whole instructions, empty or oversized grids. [`decode`] reads a command buffer back into
//! [`Packet`]s with the same checks plus the device's own (reserved words, lengths, opcodes).
//!
//! Addresses are device virtual addresses in the client's VM. Matrices are row-major; leading
//! dimensions (`lda`, `ldb`, `ldc`) count elements, not bytes.
//!
//! ```
//! use gaudi::cmdbuf::{CommandBuffer, Gemm};
//! let mut cb = CommandBuffer::new();
//! cb.dma_copy(0x10_0000, 0x20_0000, 100)?
//!     .gemm(&Gemm::new(4, 4, 4, 0x30_0000, 0x31_0000, 0x32_0000))?
//!     .fence(0x40_0000, 1, false)?;
//! assert_eq!(cb.words().len(), 8 + 20 + 6);
//! assert_eq!(gaudi::cmdbuf::decode(cb.words())?.len(), 3);
//! # Ok::<(), gaudi::cmdbuf::PacketError>(())
//! ```

use std::{fmt, io};

use gaudi_hw::packet as pkt;

use crate::{buffer::Buffer, exec::Context, exec::Submit, Device};

/// Why a packet cannot be built or decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketError(String);

impl PacketError {
    pub(crate) fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PacketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PacketError {}

impl From<PacketError> for io::Error {
    fn from(e: PacketError) -> Self {
        io::Error::new(io::ErrorKind::InvalidInput, e.0)
    }
}

type Result<T, E = PacketError> = std::result::Result<T, E>;

/// Fails unless `addr` is a multiple of `align`.
fn aligned(what: &str, addr: u64, align: u64) -> Result<()> {
    if addr % align != 0 {
        return Err(PacketError::new(format!(
            "{what} {addr:#x} is not {align}-byte aligned"
        )));
    }
    Ok(())
}

/// A matrix multiplication for the MME: `C = alpha * op(A) * op(B) + beta * C (+ bias)`,
/// optionally clamped at zero (ReLU, after the bias).
///
/// `op(A)` is `m x k` and `op(B)` is `k x n`; `C` is `m x n` fp32. A is stored `m x k`, or
/// `k x m` with `trans_a`; B `k x n`, or `n x k` with `trans_b`. All row-major, with leading
/// dimensions in elements. A and B are fp32, or bfloat16 with `bf16`. The bias is an
/// `n`-element fp32 row vector added to every row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gemm {
    /// Address of A.
    pub a: u64,
    /// Address of B.
    pub b: u64,
    /// Address of C (read when `beta` is not zero, written).
    pub c: u64,
    /// Address of the bias row, if any.
    pub bias: Option<u64>,
    /// Rows of `op(A)` and C.
    pub m: u32,
    /// Columns of `op(B)` and C.
    pub n: u32,
    /// Columns of `op(A)`, rows of `op(B)`.
    pub k: u32,
    /// Elements between the starts of two rows of A as stored.
    pub lda: u32,
    /// Elements between the starts of two rows of B as stored.
    pub ldb: u32,
    /// Elements between the starts of two rows of C.
    pub ldc: u32,
    /// Factor of the product.
    pub alpha: f32,
    /// Factor of the previous C.
    pub beta: f32,
    /// A is stored transposed (`k x m`).
    pub trans_a: bool,
    /// B is stored transposed (`n x k`).
    pub trans_b: bool,
    /// A and B are bfloat16.
    pub bf16: bool,
    /// Clamp the result at zero.
    pub relu: bool,
}

impl Gemm {
    /// `C = A * B` of fp32 `m x k` and `k x n` matrices stored densely, no bias, no ReLU.
    pub fn new(m: u32, n: u32, k: u32, a: u64, b: u64, c: u64) -> Self {
        Self {
            a,
            b,
            c,
            bias: None,
            m,
            n,
            k,
            lda: k,
            ldb: n,
            ldc: n,
            alpha: 1.0,
            beta: 0.0,
            trans_a: false,
            trans_b: false,
            bf16: false,
            relu: false,
        }
    }

    /// Rows and columns of A as stored.
    pub fn a_dims(&self) -> (u32, u32) {
        if self.trans_a {
            (self.k, self.m)
        } else {
            (self.m, self.k)
        }
    }

    /// Rows and columns of B as stored.
    pub fn b_dims(&self) -> (u32, u32) {
        if self.trans_b {
            (self.n, self.k)
        } else {
            (self.k, self.n)
        }
    }

    /// Bytes of an element of A and B.
    pub fn elem_size(&self) -> u64 {
        if self.bf16 {
            2
        } else {
            4
        }
    }

    /// Bytes from the first to past the last element of a `rows x cols` matrix with leading
    /// dimension `ld` and `elem`-byte elements.
    pub fn span(rows: u32, cols: u32, ld: u32, elem: u64) -> u64 {
        if rows == 0 || cols == 0 {
            return 0;
        }
        ((u64::from(rows) - 1) * u64::from(ld) + u64::from(cols)) * elem
    }

    /// Bytes A covers.
    pub fn a_span(&self) -> u64 {
        let (r, c) = self.a_dims();
        Self::span(r, c, self.lda, self.elem_size())
    }

    /// Bytes B covers.
    pub fn b_span(&self) -> u64 {
        let (r, c) = self.b_dims();
        Self::span(r, c, self.ldb, self.elem_size())
    }

    /// Bytes C covers.
    pub fn c_span(&self) -> u64 {
        Self::span(self.m, self.n, self.ldc, 4)
    }

    /// The packet's flags.
    pub fn flags(&self) -> u8 {
        let mut f = 0;
        for (on, bit) in [
            (self.trans_a, pkt::MME_TRANS_A),
            (self.trans_b, pkt::MME_TRANS_B),
            (self.bf16, pkt::MME_BF16),
            (self.bias.is_some(), pkt::MME_BIAS),
            (self.relu, pkt::MME_RELU),
        ] {
            if on {
                f |= bit;
            }
        }
        f
    }

    /// Checks shapes, leading dimensions and alignment.
    pub fn check(&self) -> Result<()> {
        for (name, d) in [("m", self.m), ("n", self.n), ("k", self.k)] {
            if d == 0 || d > pkt::MME_DIM_MAX {
                return Err(PacketError::new(format!(
                    "MME {name} = {d} is not in 1..={}",
                    pkt::MME_DIM_MAX
                )));
            }
        }
        for (name, ld, (_, cols)) in [
            ("lda", self.lda, self.a_dims()),
            ("ldb", self.ldb, self.b_dims()),
            ("ldc", self.ldc, (self.m, self.n)),
        ] {
            if ld < cols {
                return Err(PacketError::new(format!(
                    "MME {name} = {ld} is smaller than a row ({cols} elements)"
                )));
            }
        }
        let e = self.elem_size();
        aligned("MME A", self.a, e)?;
        aligned("MME B", self.b, e)?;
        aligned("MME C", self.c, 4)?;
        if let Some(bias) = self.bias {
            aligned("MME bias", bias, 4)?;
        }
        Ok(())
    }
}

/// A launch of a TPC kernel over a grid.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TpcLaunch {
    /// Address of the kernel's first instruction (8-byte aligned).
    pub code: u64,
    /// Bytes of code: a non-zero multiple of 8, at most [`pkt::TPC_CODE_MAX`].
    pub code_size: u32,
    /// Grid size in x, y and z; each at least 1, their product at most
    /// [`pkt::TPC_GRID_MAX`].
    pub grid: [u32; 3],
    /// The kernel's arguments (`arg sd, i`).
    pub args: [u64; pkt::TPC_ARGS],
}

impl TpcLaunch {
    /// A launch of the `code_size` bytes at `code` over `grid` with `args` (missing ones 0).
    pub fn new(code: u64, code_size: u32, grid: [u32; 3], args: &[u64]) -> Result<Self> {
        if args.len() > pkt::TPC_ARGS {
            return Err(PacketError::new(format!(
                "{} TPC arguments, at most {}",
                args.len(),
                pkt::TPC_ARGS
            )));
        }
        let mut a = [0; pkt::TPC_ARGS];
        a[..args.len()].copy_from_slice(args);
        Ok(Self {
            code,
            code_size,
            grid,
            args: a,
        })
    }

    /// Checks the code range and the grid.
    pub fn check(&self) -> Result<()> {
        aligned("TPC code", self.code, 8)?;
        if self.code_size == 0 || self.code_size % 8 != 0 || self.code_size > pkt::TPC_CODE_MAX {
            return Err(PacketError::new(format!(
                "TPC code size {} is not a multiple of 8 in 8..={}",
                self.code_size,
                pkt::TPC_CODE_MAX
            )));
        }
        let points = self.grid.iter().map(|&g| u64::from(g)).product::<u64>();
        if self.grid.contains(&0) || points > pkt::TPC_GRID_MAX {
            return Err(PacketError::new(format!(
                "TPC grid {:?} is empty or larger than {} points",
                self.grid,
                pkt::TPC_GRID_MAX
            )));
        }
        Ok(())
    }
}

/// A user packet.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Packet {
    /// Does nothing for `len` words (even, at least [`pkt::NOP_LEN`]).
    Nop {
        /// Length in words, header included.
        len: u16,
    },
    /// Writes `value` (u64) to `addr` once everything before it is done; with `irq` the
    /// queue's completion interrupt is raised after the write.
    Fence {
        /// Address, 8-byte aligned.
        addr: u64,
        /// Value.
        value: u64,
        /// Raise the completion interrupt.
        irq: bool,
    },
    /// Waits until the u64 at `addr` is at least `target`.
    Wait {
        /// Address, 8-byte aligned.
        addr: u64,
        /// Target.
        target: u64,
    },
    /// Copies `size` bytes from `src` to `dst`.
    DmaCopy {
        /// Source.
        src: u64,
        /// Destination.
        dst: u64,
        /// Bytes, at least 1.
        size: u64,
    },
    /// Fills `size` bytes at `dst` with the 32-bit `pattern`: byte `i` of the range gets byte
    /// `i % 4` of the little-endian pattern.
    DmaFill {
        /// Destination.
        dst: u64,
        /// Bytes, at least 1.
        size: u64,
        /// Pattern.
        pattern: u32,
    },
    /// A matrix multiplication.
    Mme(Gemm),
    /// A TPC kernel launch.
    TpcLaunch(TpcLaunch),
}

fn lo(x: u64) -> u32 {
    x as u32
}

fn hi(x: u64) -> u32 {
    (x >> 32) as u32
}

fn join(words: &[u32], i: usize) -> u64 {
    u64::from(words[i]) | (u64::from(words[i + 1]) << 32)
}

impl Packet {
    /// Length of the packet in words.
    pub fn len_words(&self) -> u16 {
        match self {
            Packet::Nop { len } => *len,
            Packet::Fence { .. } => pkt::FENCE_LEN,
            Packet::Wait { .. } => pkt::WAIT_LEN,
            Packet::DmaCopy { .. } | Packet::DmaFill { .. } => pkt::DMA_LEN,
            Packet::Mme(_) => pkt::MME_LEN,
            Packet::TpcLaunch(_) => pkt::TPC_LAUNCH_LEN,
        }
    }

    /// Checks the arguments.
    pub fn check(&self) -> Result<()> {
        match *self {
            Packet::Nop { len } => {
                if len < pkt::NOP_LEN || len % 2 != 0 {
                    return Err(PacketError::new(format!(
                        "NOP length {len} is not even and at least {}",
                        pkt::NOP_LEN
                    )));
                }
            }
            Packet::Fence { addr, .. } => aligned("FENCE address", addr, 8)?,
            Packet::Wait { addr, .. } => aligned("WAIT address", addr, 8)?,
            Packet::DmaCopy { src, dst, size } => {
                if size == 0 {
                    return Err(PacketError::new("DMA of 0 bytes"));
                }
                for (what, a) in [("DMA source", src), ("DMA destination", dst)] {
                    if a.checked_add(size).is_none() {
                        return Err(PacketError::new(format!("{what} {a:#x} + {size:#x} wraps")));
                    }
                }
            }
            Packet::DmaFill { dst, size, .. } => {
                if size == 0 || dst.checked_add(size).is_none() {
                    return Err(PacketError::new(format!(
                        "DMA fill of {size:#x} bytes at {dst:#x}: empty or wrapping"
                    )));
                }
            }
            Packet::Mme(ref g) => g.check()?,
            Packet::TpcLaunch(ref t) => t.check()?,
        }
        Ok(())
    }

    /// Checks the packet and appends its words to `out`.
    pub fn encode(&self, out: &mut Vec<u32>) -> Result<()> {
        self.check()?;
        let len = self.len_words();
        let (op, flags) = match *self {
            Packet::Nop { .. } => (pkt::OP_NOP, 0),
            Packet::Fence { irq, .. } => (pkt::OP_FENCE, if irq { pkt::FENCE_IRQ } else { 0 }),
            Packet::Wait { .. } => (pkt::OP_WAIT, 0),
            Packet::DmaCopy { .. } => (pkt::OP_DMA, 0),
            Packet::DmaFill { .. } => (pkt::OP_DMA, pkt::DMA_FILL),
            Packet::Mme(ref g) => (pkt::OP_MME, g.flags()),
            Packet::TpcLaunch(_) => (pkt::OP_TPC_LAUNCH, 0),
        };
        let start = out.len();
        out.push(pkt::header(op, flags, len));
        out.push(0);
        let mut u64s = |vals: &[u64]| {
            for &v in vals {
                out.push(lo(v));
                out.push(hi(v));
            }
        };
        match *self {
            Packet::Nop { len } => u64s(&vec![0; usize::from(len) / 2 - 1]),
            Packet::Fence { addr, value, .. } => u64s(&[addr, value]),
            Packet::Wait { addr, target } => u64s(&[addr, target]),
            Packet::DmaCopy { src, dst, size } => u64s(&[src, dst, size]),
            Packet::DmaFill { dst, size, pattern } => u64s(&[u64::from(pattern), dst, size]),
            Packet::Mme(ref g) => {
                u64s(&[g.a, g.b, g.c, g.bias.unwrap_or(0)]);
                out.extend_from_slice(&[
                    g.m,
                    g.n,
                    g.k,
                    g.lda,
                    g.ldb,
                    g.ldc,
                    g.alpha.to_bits(),
                    g.beta.to_bits(),
                    0,
                    0,
                ]);
            }
            Packet::TpcLaunch(ref t) => {
                u64s(&[t.code]);
                out.extend_from_slice(&[t.code_size, 0, t.grid[0], t.grid[1], t.grid[2], 0]);
                for &a in &t.args {
                    out.push(lo(a));
                    out.push(hi(a));
                }
            }
        }
        debug_assert_eq!(out.len() - start, usize::from(len));
        Ok(())
    }

    /// Decodes the packet at the start of `words`; returns it and its length in words. Fails
    /// for what the device would refuse: unknown opcodes, wrong lengths, non-zero reserved
    /// words or flags, INDIRECT (kernel only), and the arguments [`Packet::check`] refuses.
    pub fn decode(words: &[u32]) -> Result<(Packet, usize)> {
        let Some(&header) = words.first() else {
            return Err(PacketError::new("no packet"));
        };
        let (op, flags, len) = (pkt::opcode(header), pkt::flags(header), pkt::len(header));
        let n = usize::from(len);
        if n < 2 || n % 2 != 0 {
            return Err(PacketError::new(format!("packet length {len} words")));
        }
        if n > words.len() {
            return Err(PacketError::new(format!(
                "packet of {len} words, {} left",
                words.len()
            )));
        }
        let w = &words[..n];
        let expect = |want: u16, flag_mask: u8| -> Result<()> {
            if len != want {
                return Err(PacketError::new(format!(
                    "opcode {op:#04x}: {len} words, not {want}"
                )));
            }
            if flags & !flag_mask != 0 {
                return Err(PacketError::new(format!(
                    "opcode {op:#04x}: unknown flags {flags:#04x}"
                )));
            }
            Ok(())
        };
        let reserved_zero = |idx: &[usize]| -> Result<()> {
            match idx.iter().find(|&&i| w[i] != 0) {
                Some(i) => Err(PacketError::new(format!(
                    "opcode {op:#04x}: reserved word {i} is {:#x}",
                    w[*i]
                ))),
                None => Ok(()),
            }
        };
        let p = match op {
            pkt::OP_NOP => {
                if flags != 0 {
                    return Err(PacketError::new("NOP with flags"));
                }
                Packet::Nop { len }
            }
            pkt::OP_FENCE => {
                expect(pkt::FENCE_LEN, pkt::FENCE_IRQ)?;
                reserved_zero(&[1])?;
                Packet::Fence {
                    addr: join(w, 2),
                    value: join(w, 4),
                    irq: flags & pkt::FENCE_IRQ != 0,
                }
            }
            pkt::OP_WAIT => {
                expect(pkt::WAIT_LEN, 0)?;
                reserved_zero(&[1])?;
                Packet::Wait {
                    addr: join(w, 2),
                    target: join(w, 4),
                }
            }
            pkt::OP_INDIRECT => {
                return Err(PacketError::new(
                    "INDIRECT is for the kernel's rings only (ERR_NESTED_INDIRECT)",
                ))
            }
            pkt::OP_DMA => {
                expect(pkt::DMA_LEN, pkt::DMA_FILL)?;
                reserved_zero(&[1])?;
                if flags & pkt::DMA_FILL != 0 {
                    reserved_zero(&[3])?;
                    Packet::DmaFill {
                        pattern: w[2],
                        dst: join(w, 4),
                        size: join(w, 6),
                    }
                } else {
                    Packet::DmaCopy {
                        src: join(w, 2),
                        dst: join(w, 4),
                        size: join(w, 6),
                    }
                }
            }
            pkt::OP_MME => {
                let all = pkt::MME_TRANS_A
                    | pkt::MME_TRANS_B
                    | pkt::MME_BF16
                    | pkt::MME_BIAS
                    | pkt::MME_RELU;
                expect(pkt::MME_LEN, all)?;
                reserved_zero(&[1, 18, 19])?;
                let has_bias = flags & pkt::MME_BIAS != 0;
                if !has_bias {
                    reserved_zero(&[8, 9])?;
                }
                Packet::Mme(Gemm {
                    a: join(w, 2),
                    b: join(w, 4),
                    c: join(w, 6),
                    bias: has_bias.then(|| join(w, 8)),
                    m: w[10],
                    n: w[11],
                    k: w[12],
                    lda: w[13],
                    ldb: w[14],
                    ldc: w[15],
                    alpha: f32::from_bits(w[16]),
                    beta: f32::from_bits(w[17]),
                    trans_a: flags & pkt::MME_TRANS_A != 0,
                    trans_b: flags & pkt::MME_TRANS_B != 0,
                    bf16: flags & pkt::MME_BF16 != 0,
                    relu: flags & pkt::MME_RELU != 0,
                })
            }
            pkt::OP_TPC_LAUNCH => {
                expect(pkt::TPC_LAUNCH_LEN, 0)?;
                reserved_zero(&[1, 5, 9])?;
                let mut args = [0; pkt::TPC_ARGS];
                for (i, a) in args.iter_mut().enumerate() {
                    *a = join(w, 10 + 2 * i);
                }
                Packet::TpcLaunch(TpcLaunch {
                    code: join(w, 2),
                    code_size: w[4],
                    grid: [w[6], w[7], w[8]],
                    args,
                })
            }
            _ => return Err(PacketError::new(format!("unknown opcode {op:#04x}"))),
        };
        p.check()?;
        Ok((p, n))
    }
}

/// Decodes a whole command buffer; the error names the word offset of the bad packet.
pub fn decode(mut words: &[u32]) -> Result<Vec<Packet>> {
    let mut packets = Vec::new();
    let mut at = 0;
    while !words.is_empty() {
        let (p, n) = Packet::decode(words)
            .map_err(|e| PacketError::new(format!("word {at}: {}", e.message())))?;
        packets.push(p);
        words = &words[n..];
        at += n;
    }
    Ok(packets)
}

/// A command buffer under construction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandBuffer {
    words: Vec<u32>,
}

impl CommandBuffer {
    /// An empty command buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `p` after checking it.
    pub fn packet(&mut self, p: &Packet) -> Result<&mut Self> {
        p.encode(&mut self.words)?;
        Ok(self)
    }

    /// Appends a NOP of `len` words.
    pub fn nop(&mut self, len: u16) -> Result<&mut Self> {
        self.packet(&Packet::Nop { len })
    }

    /// Appends a FENCE writing `value` to `addr`.
    pub fn fence(&mut self, addr: u64, value: u64, irq: bool) -> Result<&mut Self> {
        self.packet(&Packet::Fence { addr, value, irq })
    }

    /// Appends a WAIT until the u64 at `addr` is at least `target`.
    pub fn wait(&mut self, addr: u64, target: u64) -> Result<&mut Self> {
        self.packet(&Packet::Wait { addr, target })
    }

    /// Appends a DMA copy of `size` bytes.
    pub fn dma_copy(&mut self, src: u64, dst: u64, size: u64) -> Result<&mut Self> {
        self.packet(&Packet::DmaCopy { src, dst, size })
    }

    /// Appends a DMA fill of `size` bytes with `pattern`.
    pub fn dma_fill(&mut self, dst: u64, size: u64, pattern: u32) -> Result<&mut Self> {
        self.packet(&Packet::DmaFill { dst, size, pattern })
    }

    /// Appends a matrix multiplication.
    pub fn gemm(&mut self, g: &Gemm) -> Result<&mut Self> {
        self.packet(&Packet::Mme(*g))
    }

    /// Appends a TPC kernel launch.
    pub fn tpc_launch(&mut self, t: &TpcLaunch) -> Result<&mut Self> {
        self.packet(&Packet::TpcLaunch(*t))
    }

    /// Appends raw words, unchecked: for tests of the device's checks.
    pub fn raw(&mut self, words: &[u32]) -> &mut Self {
        self.words.extend_from_slice(words);
        self
    }

    /// The words so far.
    pub fn words(&self) -> &[u32] {
        &self.words
    }

    /// Whether no packet was added.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Size in bytes.
    pub fn size_bytes(&self) -> usize {
        self.words.len() * 4
    }

    /// The little-endian bytes of the command buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    /// Removes every packet.
    pub fn clear(&mut self) {
        self.words.clear();
    }

    /// Places the command buffer in a new system-memory object bound read-only in `dev`'s VM.
    /// `EINVAL` for an empty command buffer or one larger than the device takes
    /// ([`pkt::INDIRECT_SIZE_MAX`]).
    pub fn upload<'d>(&self, dev: &'d Device) -> io::Result<UploadedCb<'d>> {
        let size = u32::try_from(self.size_bytes()).map_err(|_| crate::einval())?;
        if size == 0 || size > pkt::INDIRECT_SIZE_MAX {
            return Err(crate::einval());
        }
        Ok(UploadedCb {
            buf: Buffer::with_data(dev, &self.to_bytes(), 0, true)?,
            size,
        })
    }
}

/// A command buffer in a buffer object bound in the device VM ([`CommandBuffer::upload`]).
#[derive(Debug)]
pub struct UploadedCb<'d> {
    buf: Buffer<'d>,
    size: u32,
}

impl UploadedCb<'_> {
    /// Device address of the command buffer.
    pub fn va(&self) -> u64 {
        self.buf.va()
    }

    /// Size in bytes.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// The buffer holding it.
    pub fn buffer(&self) -> &Buffer<'_> {
        &self.buf
    }

    /// A job of `ctx` that runs this command buffer (reading its object).
    pub fn job(&self, ctx: &Context<'_>) -> Submit {
        ctx.job(self.va(), self.size).read(self.buf.handle())
    }
}

/// `x` as bfloat16, rounded to nearest even (NaNs stay NaNs).
pub fn f32_to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) as u16) | 0x40;
    }
    let round = 0x7fff + ((bits >> 16) & 1);
    (bits.wrapping_add(round) >> 16) as u16
}

/// The fp32 value of bfloat16 `h` (exact).
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

/// The words of a kernel (little-endian 64-bit instructions) as bytes, for upload.
pub fn code_bytes(code: &[u64]) -> Vec<u8> {
    code.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// Bytes of `n` TPC instructions.
pub fn code_size(n: usize) -> usize {
    n * std::mem::size_of::<u64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(p: &Packet) -> Vec<u32> {
        let mut v = Vec::new();
        p.encode(&mut v).unwrap();
        v
    }

    #[test]
    fn encodings() {
        assert_eq!(words(&Packet::Nop { len: 2 }), [0x0002_0000, 0]);
        assert_eq!(words(&Packet::Nop { len: 4 }), [0x0004_0000, 0, 0, 0]);
        assert_eq!(
            words(&Packet::Fence {
                addr: 0x1_2345_6780,
                value: 0xaabb_ccdd_0011_2233,
                irq: true
            }),
            [0x0006_0101, 0, 0x2345_6780, 1, 0x0011_2233, 0xaabb_ccdd]
        );
        assert_eq!(
            words(&Packet::Wait {
                addr: 0x10_0008,
                target: 7
            }),
            [0x0006_0002, 0, 0x10_0008, 0, 7, 0]
        );
        assert_eq!(
            words(&Packet::DmaCopy {
                src: 0x10_0000,
                dst: 0x2_0000_0001,
                size: 3
            }),
            [0x0008_0004, 0, 0x10_0000, 0, 1, 2, 3, 0]
        );
        assert_eq!(
            words(&Packet::DmaFill {
                dst: 0x20_0000,
                size: 8,
                pattern: 0xdead_beef
            }),
            [0x0008_0104, 0, 0xdead_beef, 0, 0x20_0000, 0, 8, 0]
        );
        let mut g = Gemm::new(2, 3, 4, 0x1000, 0x2000, 0x3000);
        g.bias = Some(0x4000);
        g.trans_b = true;
        g.ldb = 5;
        g.relu = true;
        g.alpha = 2.0;
        g.beta = 0.5;
        assert_eq!(
            words(&Packet::Mme(g)),
            [
                0x0014_1a05,
                0,
                0x1000,
                0,
                0x2000,
                0,
                0x3000,
                0,
                0x4000,
                0,
                2,
                3,
                4,
                4,
                5,
                3,
                2.0f32.to_bits(),
                0.5f32.to_bits(),
                0,
                0
            ]
        );
        let t = TpcLaunch::new(0x5000, 64, [2, 3, 4], &[1, 2, 0x3_0000_0004]).unwrap();
        let w = words(&Packet::TpcLaunch(t));
        assert_eq!(w.len(), 26);
        assert_eq!(&w[..10], &[0x001a_0006, 0, 0x5000, 0, 64, 0, 2, 3, 4, 0]);
        assert_eq!(&w[10..16], &[1, 0, 2, 0, 4, 3]);
        assert!(w[16..].iter().all(|&x| x == 0));
    }

    #[test]
    fn refusals() {
        let bad = [
            Packet::Nop { len: 0 },
            Packet::Nop { len: 3 },
            Packet::Fence {
                addr: 4,
                value: 0,
                irq: false,
            },
            Packet::Wait {
                addr: 0x1001,
                target: 0,
            },
            Packet::DmaCopy {
                src: 0,
                dst: 0,
                size: 0,
            },
            Packet::DmaCopy {
                src: u64::MAX,
                dst: 0,
                size: 2,
            },
            Packet::DmaFill {
                dst: 2,
                size: 0,
                pattern: 0,
            },
            Packet::DmaFill {
                dst: u64::MAX - 4,
                size: 6,
                pattern: 0,
            },
        ];
        for p in bad {
            let mut v = Vec::new();
            assert!(p.encode(&mut v).is_err(), "{p:?} accepted");
            assert!(v.is_empty(), "{p:?} left words");
        }
        let g = Gemm::new(4, 4, 4, 0, 0, 0);
        for bad in [
            Gemm { m: 0, ..g },
            Gemm {
                k: pkt::MME_DIM_MAX + 1,
                lda: pkt::MME_DIM_MAX + 1,
                ..g
            },
            Gemm { lda: 3, ..g },
            Gemm { ldb: 3, ..g },
            Gemm { ldc: 3, ..g },
            Gemm { a: 2, ..g },
            Gemm {
                c: 2,
                bf16: true,
                ..g
            },
            Gemm { bias: Some(6), ..g },
            // Transposed A is k x m: lda counts m.
            Gemm {
                m: 8,
                trans_a: true,
                lda: 4,
                ldc: 4,
                n: 4,
                ..g
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?} accepted");
        }
        assert!(Gemm {
            a: 2,
            b: 6,
            bf16: true,
            ..g
        }
        .check()
        .is_ok());
        let t = TpcLaunch::new(0x1000, 8, [1, 1, 1], &[]).unwrap();
        for bad in [
            TpcLaunch { code: 4, ..t },
            TpcLaunch { code_size: 0, ..t },
            TpcLaunch { code_size: 12, ..t },
            TpcLaunch {
                code_size: pkt::TPC_CODE_MAX + 8,
                ..t
            },
            TpcLaunch {
                grid: [1, 0, 1],
                ..t
            },
            TpcLaunch {
                grid: [1 << 12, 1 << 12, 2],
                ..t
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?} accepted");
        }
        assert!(TpcLaunch {
            grid: [1 << 12, 1 << 12, 1],
            ..t
        }
        .check()
        .is_ok());
        assert!(TpcLaunch::new(0, 8, [1, 1, 1], &[0; 9]).is_err());
    }

    #[test]
    fn decode_round_trips_and_refuses() {
        let mut g = Gemm::new(5, 7, 3, 0x1000, 0x2000, 0x3000);
        g.bf16 = true;
        g.trans_a = true;
        g.lda = 9;
        let packets = [
            Packet::Nop { len: 8 },
            Packet::Fence {
                addr: 0x8,
                value: u64::MAX,
                irq: false,
            },
            Packet::Wait {
                addr: 0x10,
                target: 3,
            },
            Packet::DmaCopy {
                src: 1,
                dst: 3,
                size: 5,
            },
            Packet::DmaFill {
                dst: 3,
                size: 5,
                pattern: 9,
            },
            Packet::Mme(g),
            Packet::TpcLaunch(TpcLaunch::new(0x100, 16, [3, 1, 1], &[7; 8]).unwrap()),
        ];
        let mut cb = CommandBuffer::new();
        for p in &packets {
            cb.packet(p).unwrap();
        }
        assert_eq!(decode(cb.words()).unwrap(), packets);
        assert_eq!(cb.size_bytes(), cb.to_bytes().len());

        let fence = words(&packets[1]);
        let mut bad = fence.clone();
        bad[1] = 1;
        assert!(decode(&bad).is_err(), "reserved word");
        let mut bad = fence.clone();
        bad[0] |= 0x80 << 8;
        assert!(decode(&bad).is_err(), "unknown flag");
        assert!(decode(&fence[..4]).is_err(), "truncated");
        assert!(decode(&[pkt::header(pkt::OP_FENCE, 0, 8), 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(decode(&[pkt::header(0x7f, 0, 2), 0]).is_err(), "opcode");
        assert!(
            decode(&[pkt::header(pkt::OP_NOP, 0, 3), 0, 0]).is_err(),
            "odd"
        );
        let indirect = [pkt::header(pkt::OP_INDIRECT, 0, 6), 1, 0x1000, 0, 64, 0];
        let e = decode(&indirect).unwrap_err();
        assert!(e.message().contains("INDIRECT"), "{e}");
        let mut mme = words(&packets[5]);
        mme[8] = 4;
        assert!(decode(&mme).is_err(), "bias address without the flag");
        let mut fill = words(&packets[4]);
        fill[3] = 1;
        assert!(decode(&fill).is_err(), "high half of the fill pattern");
        let mut two = words(&packets[0]);
        two.extend(words(&packets[2]));
        two[9] = 1;
        let e = decode(&two).unwrap_err();
        assert!(e.message().starts_with("word 8:"), "{e}");
    }

    #[test]
    fn bf16() {
        for x in [0.0f32, 1.0, -2.5, 0.375, 1e10, -1e-10, f32::INFINITY] {
            let h = f32_to_bf16(x);
            let back = bf16_to_f32(h);
            assert!(
                back == x || (back - x).abs() <= x.abs() / 128.0,
                "{x} -> {back}"
            );
        }
        assert_eq!(f32_to_bf16(1.0), 0x3f80);
        // Ties round to even.
        assert_eq!(f32_to_bf16(f32::from_bits(0x3f80_8000)), 0x3f80);
        assert_eq!(f32_to_bf16(f32::from_bits(0x3f81_8000)), 0x3f82);
        assert!(bf16_to_f32(f32_to_bf16(f32::NAN)).is_nan());
        assert_eq!(code_bytes(&[0x0102]).len(), code_size(1));
    }
}
