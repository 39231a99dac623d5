// SPDX-License-Identifier: GPL-2.0 OR MIT

//! What the engines share: how an operation stops (error, reset, detach), and the DMA engine.

use gaudi_hw::{packet, queue};

use crate::{
    mem::Mapping,
    mmu::{Access, Fault, Space},
};

/// Why a queue stops: the fields of `Q_ERR_CODE`, `Q_ERR_ADDR` and `Q_ERR_INFO` that the
/// engine knows (the queue adds the packet's address and ASID).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fail {
    /// `queue::ERR_*`.
    pub code: u32,
    /// `Q_ERR_ADDR`.
    pub addr: u64,
    /// `queue::ACCESS_*`, or 0.
    pub access: u32,
    /// `queue::ENGINE_*`.
    pub engine: u32,
}

impl Fail {
    /// An error of the packet fetcher without an address.
    pub fn queue(code: u32) -> Self {
        Self {
            code,
            addr: 0,
            access: 0,
            engine: queue::ENGINE_QUEUE,
        }
    }

    /// A failed memory access of `engine`.
    pub fn fault(f: Fault, engine: u32) -> Self {
        Self {
            code: f.code,
            addr: f.va,
            access: f.access.code(),
            engine,
        }
    }
}

/// How an operation ends early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// An error of the packet being executed.
    Fail(Fail),
    /// An error, with the ASID and address of the packet it belongs to.
    Located(Fail, u32, u64),
    /// The driver requested a queue reset: abandon the work.
    Reset,
    /// The client went away or the emulator stops: abandon the work, touch nothing.
    Abort,
}

impl From<Fail> for Stop {
    fn from(f: Fail) -> Self {
        Stop::Fail(f)
    }
}

/// `ERR_BAD_PACKET`.
pub fn bad_packet() -> Stop {
    Stop::Fail(Fail::queue(queue::ERR_BAD_PACKET))
}

/// Fails with `ERR_BAD_PACKET` unless `ok`.
pub fn check(ok: bool) -> Result<(), Stop> {
    if ok {
        Ok(())
    } else {
        Err(bad_packet())
    }
}

/// Checks for a reset request or a detach; long operations call it between pieces of work.
pub type Poll<'p> = &'p mut dyn FnMut() -> Result<(), Stop>;

/// The 64-bit value in words `lo` and `lo + 1` of a packet.
pub fn quad(w: &[u32], lo: usize) -> u64 {
    u64::from(w[lo]) | (u64::from(w[lo + 1]) << 32)
}

/// Bytes moved between two polls for a reset request.
const POLL_BYTES: u64 = 1 << 20;

/// A DMA packet: header, reserved, src (2), dst (2), size (2).
pub fn dma(space: &mut Space, flags: u8, w: &[u32], poll: Poll) -> Result<(), Stop> {
    check(w[1] == 0)?;
    let (src, dst, size) = (quad(w, 2), quad(w, 4), quad(w, 6));
    check(dst.checked_add(size).is_some())?;
    let fault = |f: Fault| Stop::Fail(Fail::fault(f, queue::ENGINE_DMA));
    if flags & packet::DMA_FILL != 0 {
        check(src >> 32 == 0)?;
        fill(space, dst, size, (src as u32).to_le_bytes(), poll, fault)
    } else {
        check(src.checked_add(size).is_some())?;
        copy(space, dst, src, size, poll, fault)
    }
}

/// Runs `step(done)`, which handles the next bytes and says how many (at most
/// `POLL_BYTES`), until `size` bytes are done; polls for a reset in between.
fn paced(
    size: u64,
    poll: Poll,
    mut step: impl FnMut(u64) -> Result<u64, Stop>,
) -> Result<(), Stop> {
    let mut done = 0;
    let mut since_poll = 0;
    while done < size {
        if since_poll >= POLL_BYTES {
            poll()?;
            since_poll = 0;
        }
        let n = step(done)?;
        done += n;
        since_poll += n;
    }
    Ok(())
}

/// Copies chunk by chunk, each chunk within one page or block and one bus region on both
/// sides; from the end if the destination overlaps the source from above (`memmove`).
fn copy(
    space: &mut Space,
    dst: u64,
    src: u64,
    size: u64,
    poll: Poll,
    fault: impl Fn(Fault) -> Stop,
) -> Result<(), Stop> {
    let backward = dst > src && dst - src < size;
    paced(size, poll, |done| {
        let left = size - done;
        let mut locate = |va: u64, access| {
            if backward {
                space.map_back(va + left - 1, access)
            } else {
                space.map(va + done, access)
            }
        };
        let (sm, so, sa) = locate(src, Access::Read).map_err(&fault)?;
        let (dm, dof, da) = locate(dst, Access::Write).map_err(&fault)?;
        let n = sa.min(da).min(left).min(POLL_BYTES);
        // A backward chunk ends at the located byte. In bounds: both runs cover `n` bytes.
        let back = if backward { n as usize - 1 } else { 0 };
        let _ = Mapping::copy(sm, so - back, dm, dof - back, n as usize);
        Ok(n)
    })
}

/// Fills `size` bytes at `dst`, byte `k` getting `pattern[k % 4]`.
fn fill(
    space: &mut Space,
    dst: u64,
    size: u64,
    pattern: [u8; 4],
    poll: Poll,
    fault: impl Fn(Fault) -> Stop,
) -> Result<(), Stop> {
    paced(size, poll, |done| {
        let (dm, dof, da) = space.map(dst + done, Access::Write).map_err(&fault)?;
        let n = da.min(size - done).min(POLL_BYTES);
        let phase = (done % 4) as usize;
        let _ = dm.fill(
            dof,
            n as usize,
            [0, 1, 2, 3].map(|i| pattern[(phase + i) % 4]),
        );
        Ok(n)
    })
}
