// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The device's address spaces: bus (physical) addresses and the MMU that translates device
//! virtual addresses in an ASID's page tables.
//!
//! A bus address is guest RAM (guest physical address = offset in QEMU's RAM file; there is
//! no IOMMU in the guest), the device's own BAR2 as the driver placed it (`BAR2_BASE`), or the
//! BAR2 of a peer device of the same emulator as the peer's driver placed it: a peer-to-peer
//! transaction, counted in `P2P_TX_COUNT` of the device and `P2P_RX_COUNT` of the peer.
//! Device memory is reachable, register files are not. Anything else is a bus error.
//!
//! Translation walks Arm VMSAv8-64 stage-1 long-descriptor tables, 4 KiB granule, 48-bit
//! input, as Linux's `io-pgtable-arm` builds them for `ARM_64_LPAE_S1`. A [`Space`] lives for
//! one packet: it caches translations and table walks, so a change of the tables is seen by
//! the next packet, never in the middle of one.

use std::sync::atomic::{fence, Ordering};

use gaudi_hw::{mmu, queue, regs};

use crate::mem::Mapping;

/// Kind of access, for permissions and error reports (`queue::ACCESS_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Access {
    /// The `Q_ERR_INFO` access code.
    pub fn code(self) -> u32 {
        match self {
            Access::Read => queue::ACCESS_READ,
            Access::Write => queue::ACCESS_WRITE,
        }
    }
}

/// A failed access: `ERR_MMU_FAULT` or `ERR_BUS`, at virtual address `va`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// `queue::ERR_MMU_FAULT` or `queue::ERR_BUS`.
    pub code: u32,
    /// The first virtual address that could not be accessed.
    pub va: u64,
    pub access: Access,
}

/// The bus as the device sees it during one packet.
pub struct Bus<'a> {
    /// Guest RAM, if QEMU's file could be mapped.
    pub ram: Option<&'a Mapping>,
    /// The shared region (BAR2): register file, then device memory.
    pub dev: &'a Mapping,
    /// Bus address of BAR2 (`BAR2_BASE`); 0 while the driver has not set it, and then BAR2
    /// is not reachable.
    pub bar2: u64,
    /// The shared regions of every device of the emulator (this one included, which is
    /// skipped): their device memory is reachable at their `BAR2_BASE`.
    pub peers: &'a [std::sync::Arc<Mapping>],
}

/// A contiguous piece of bus memory around an address (see [`Bus::locate`]).
#[derive(Clone, Copy)]
pub struct Region<'a> {
    /// The memory.
    pub map: &'a Mapping,
    /// Offset of the looked-up address in `map`.
    pub off: usize,
    /// Bytes of the region before the looked-up address.
    pub before: u64,
    /// Bytes of the region from the looked-up address on.
    pub after: u64,
}

impl<'a> Bus<'a> {
    /// The memory at bus address `pa`, with the extent of the region (guest RAM or device
    /// memory) around it. `None` is a bus error.
    pub fn locate(&self, pa: u64) -> Option<Region<'a>> {
        let bar_len = self.dev.len() as u64;
        let bar_end = self.bar2.saturating_add(bar_len);
        // RAM below the window stops where it starts; RAM above it starts where it ends.
        let (mut lo, mut hi) = (0, u64::MAX);
        if self.bar2 != 0 {
            if pa >= self.bar2 && pa < bar_end {
                let off = pa - self.bar2;
                if off < regs::DRAM_OFFSET_VALUE {
                    return None;
                }
                return Some(Region {
                    map: self.dev,
                    off: off as usize,
                    before: off - regs::DRAM_OFFSET_VALUE,
                    after: bar_len - off,
                });
            }
            if pa < self.bar2 {
                hi = self.bar2;
            } else {
                lo = bar_end;
            }
        }
        if let Some(r) = self.locate_peer(pa) {
            return Some(r);
        }
        let ram = self.ram?;
        let hi = hi.min(ram.len() as u64);
        (pa < hi).then(|| Region {
            map: ram,
            off: pa as usize,
            before: pa - lo,
            after: hi - pa,
        })
    }

    /// The device memory of a peer at bus address `pa`, counting the transaction on both
    /// sides. Register files of peers are not reachable either.
    fn locate_peer(&self, pa: u64) -> Option<Region<'a>> {
        for peer in self.peers.iter() {
            if std::ptr::eq(&**peer, self.dev) {
                continue;
            }
            let base = peer.read64(regs::BAR2_BASE);
            let len = peer.len() as u64;
            if base == 0 || pa < base || pa - base >= len {
                continue;
            }
            let off = pa - base;
            if off < regs::DRAM_OFFSET_VALUE {
                return None;
            }
            self.dev.add32(regs::P2P_TX_COUNT, 1);
            peer.add32(regs::P2P_RX_COUNT, 1);
            return Some(Region {
                map: peer,
                off: off as usize,
                before: off - regs::DRAM_OFFSET_VALUE,
                after: len - off,
            });
        }
        None
    }

    /// The 64-bit word at bus address `pa` (8-aligned), read atomically.
    pub fn load64(&self, pa: u64) -> Option<u64> {
        let r = self.locate(pa)?;
        if r.after < 8 {
            return None;
        }
        r.map.load64(r.off)
    }
}

/// A leaf of the tables: `size` bytes at `va` map to `pa`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Leaf {
    pub va: u64,
    pub size: u64,
    pub pa: u64,
    pub read_only: bool,
}

/// Translations a [`Space`] keeps.
const TLB_ENTRIES: usize = 8;
/// Level-3 tables a [`Space`] remembers (the walk up to them is skipped).
const WALK_ENTRIES: usize = 4;

/// The translation of one walk, without the access check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Walk {
    Leaf(Leaf),
    /// No valid translation (`ERR_MMU_FAULT`).
    Fault,
    /// A table could not be read (`ERR_BUS`).
    Bus,
}

/// One address space (ASID) for the duration of one packet.
pub struct Space<'a> {
    bus: &'a Bus<'a>,
    /// Level-0 table, if the context is valid and its `CTX_TTBR` usable.
    ttbr: Option<u64>,
    tlb: [Option<Leaf>; TLB_ENTRIES],
    tlb_next: usize,
    /// (VA >> 21, bus address of the level-3 table for that 2 MiB).
    walks: [Option<(u64, u64)>; WALK_ENTRIES],
    walk_next: usize,
}

/// Descriptor type bits 1:0.
const TYPE_MASK: u64 = 3;
const TYPE_BLOCK: u64 = mmu::PTE_VALID;
const TYPE_TABLE: u64 = mmu::PTE_VALID | mmu::PTE_TABLE_OR_PAGE;

impl<'a> Space<'a> {
    /// The address space of `asid` as its context (`CTX_TTBR`, `CTX_CTRL`) in the register
    /// file `regs` says now. An ASID out of range, an invalid context or a `CTX_TTBR` that is
    /// not a 4 KiB aligned address below 2^48 gives a space where every access faults.
    pub fn new(bus: &'a Bus<'a>, regs: &Mapping, asid: u32) -> Self {
        let ttbr = (asid < regs::NUM_ASIDS_VALUE).then(|| {
            let ctrl = regs.read32(mmu::ctx_reg(asid, mmu::CTX_CTRL));
            let ttbr = regs.read64(mmu::ctx_reg(asid, mmu::CTX_TTBR));
            (ctrl & mmu::CTX_CTRL_VALID != 0 && ttbr & !mmu::PTE_ADDR_MASK == 0).then_some(ttbr)
        });
        // Tables written by the driver before the doorbell are visible from here on.
        fence(Ordering::Acquire);
        Self::with_ttbr(bus, ttbr.flatten())
    }

    /// An address space whose level-0 table is at bus address `ttbr` (`None`: no valid
    /// context).
    pub fn with_ttbr(bus: &'a Bus<'a>, ttbr: Option<u64>) -> Self {
        Self {
            bus,
            ttbr,
            tlb: [None; TLB_ENTRIES],
            tlb_next: 0,
            walks: [None; WALK_ENTRIES],
            walk_next: 0,
        }
    }

    /// The bus this space translates to.
    pub fn bus(&self) -> &'a Bus<'a> {
        self.bus
    }

    /// Walks the tables for `va` (no caches).
    fn walk(&mut self, va: u64) -> Walk {
        let Some(ttbr) = self.ttbr else {
            return Walk::Fault;
        };
        if va >> regs::VA_BITS_VALUE != 0 {
            return Walk::Fault;
        }
        let key = va >> 21;
        let (mut table, mut level) = match self.walks.iter().flatten().find(|w| w.0 == key) {
            Some(&(_, t)) => (t, 3),
            None => (ttbr, 0),
        };
        loop {
            let Some(desc) = self.bus.load64(table + 8 * mmu::index(va, level) as u64) else {
                return Walk::Bus;
            };
            let kind = desc & TYPE_MASK;
            let next = desc & mmu::PTE_ADDR_MASK;
            if level < 3 && kind == TYPE_TABLE {
                table = next;
                level += 1;
                if level == 3 {
                    self.walks[self.walk_next] = Some((key, table));
                    self.walk_next = (self.walk_next + 1) % WALK_ENTRIES;
                }
                continue;
            }
            // Level 3 pages are 0b11; blocks 0b01 exist at levels 1 (1 GiB) and 2 (2 MiB).
            let leaf = matches!((level, kind), (3, TYPE_TABLE) | (1 | 2, TYPE_BLOCK));
            if !leaf || desc & mmu::PTE_AF == 0 {
                return Walk::Fault;
            }
            let size = 1u64 << (39 - 9 * level);
            return Walk::Leaf(Leaf {
                va: va & !(size - 1),
                size,
                pa: next & !(size - 1),
                read_only: desc & mmu::PTE_AP_RDONLY != 0,
            });
        }
    }

    /// Translates `va` for `access`.
    pub fn translate(&mut self, va: u64, access: Access) -> Result<Leaf, Fault> {
        let cached = self
            .tlb
            .iter()
            .flatten()
            .find(|l| va.wrapping_sub(l.va) < l.size)
            .copied();
        let leaf = match cached {
            Some(l) => l,
            None => match self.walk(va) {
                Walk::Leaf(l) => {
                    self.tlb[self.tlb_next] = Some(l);
                    self.tlb_next = (self.tlb_next + 1) % TLB_ENTRIES;
                    l
                }
                Walk::Fault => return Err(self.fault(queue::ERR_MMU_FAULT, va, access)),
                Walk::Bus => return Err(self.fault(queue::ERR_BUS, va, access)),
            },
        };
        if access == Access::Write && leaf.read_only {
            return Err(self.fault(queue::ERR_MMU_FAULT, va, access));
        }
        Ok(leaf)
    }

    fn fault(&self, code: u32, va: u64, access: Access) -> Fault {
        Fault { code, va, access }
    }

    /// The memory behind `va`: mapping, offset, and the number of bytes from `va` on that are
    /// contiguous in it (within one leaf and one region of the bus).
    pub fn map(&mut self, va: u64, access: Access) -> Result<(&'a Mapping, usize, u64), Fault> {
        let leaf = self.translate(va, access)?;
        let within = va - leaf.va;
        let r = self
            .bus
            .locate(leaf.pa + within)
            .ok_or(self.fault(queue::ERR_BUS, va, access))?;
        Ok((r.map, r.off, r.after.min(leaf.size - within)))
    }

    /// The memory behind the byte at `last`, and how many bytes up to and including it are
    /// contiguous in it: `(mapping, offset of last, count)`.
    pub fn map_back(
        &mut self,
        last: u64,
        access: Access,
    ) -> Result<(&'a Mapping, usize, u64), Fault> {
        let leaf = self.translate(last, access)?;
        let within = last - leaf.va;
        let r =
            self.bus
                .locate(leaf.pa + within)
                .ok_or(self.fault(queue::ERR_BUS, last, access))?;
        Ok((r.map, r.off, r.before.min(within) + 1))
    }

    /// Calls `f(mapping, offset, chunk)` for consecutive chunks of `len` bytes at `va`, each
    /// contiguous in one mapping. An address range that leaves the 64-bit space faults at
    /// the first address that does not exist.
    fn for_each_chunk(
        &mut self,
        va: u64,
        len: usize,
        access: Access,
        mut f: impl FnMut(&'a Mapping, usize, std::ops::Range<usize>),
    ) -> Result<(), Fault> {
        let mut done = 0usize;
        while done < len {
            let Some(at) = va.checked_add(done as u64) else {
                return Err(self.fault(queue::ERR_MMU_FAULT, u64::MAX, access));
            };
            let (map, off, avail) = self.map(at, access)?;
            let n = (len - done).min(usize::try_from(avail).unwrap_or(usize::MAX));
            f(map, off, done..done + n);
            done += n;
        }
        Ok(())
    }

    /// Reads `out.len()` bytes at `va`.
    pub fn read(&mut self, va: u64, out: &mut [u8]) -> Result<(), Fault> {
        self.for_each_chunk(va, out.len(), Access::Read, |map, off, r| {
            // In bounds: `map` covers the chunk.
            let _ = map.read_bytes(off, &mut out[r]);
        })
    }

    /// Writes `data` at `va`.
    pub fn write(&mut self, va: u64, data: &[u8]) -> Result<(), Fault> {
        self.for_each_chunk(va, data.len(), Access::Write, |map, off, r| {
            let _ = map.write_bytes(off, &data[r]);
        })
    }

    /// Reads the `u64` at the 8-aligned `va` in one atomic access.
    pub fn load64(&mut self, va: u64) -> Result<u64, Fault> {
        let (map, off, _) = self.map(va, Access::Read)?;
        map.load64(off)
            .ok_or(self.fault(queue::ERR_BUS, va, Access::Read))
    }

    /// Writes the `u64` at the 8-aligned `va` in one atomic access.
    pub fn store64(&mut self, va: u64, value: u64) -> Result<(), Fault> {
        let (map, off, _) = self.map(va, Access::Write)?;
        if map.store64(off, value) {
            Ok(())
        } else {
            Err(self.fault(queue::ERR_BUS, va, Access::Write))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgtable::{leaf_bits, Tables};

    const RAM: usize = 8 << 20;
    const BAR2: u64 = 0x1_0000_0000;

    fn setup() -> (Mapping, Mapping) {
        (
            Mapping::anonymous(RAM).unwrap(),
            Mapping::anonymous(4 << 20).unwrap(),
        )
    }

    fn bus<'a>(ram: &'a Mapping, dev: &'a Mapping) -> Bus<'a> {
        Bus {
            ram: Some(ram),
            dev,
            bar2: BAR2,
            peers: &[],
        }
    }

    #[test]
    fn bus_decode() {
        let (ram, dev) = setup();
        let bus = bus(&ram, &dev);
        let at = |pa| {
            bus.locate(pa)
                .map(|r| (std::ptr::eq(r.map, &ram), r.off, r.after))
        };
        assert_eq!(at(0), Some((true, 0, RAM as u64)));
        assert_eq!(at(RAM as u64 - 1), Some((true, RAM - 1, 1)));
        assert_eq!(at(RAM as u64), None);
        assert_eq!(at(BAR2), None, "register file");
        assert_eq!(at(BAR2 + 0xfffff), None, "register file");
        assert_eq!(at(BAR2 + (1 << 20)), Some((false, 1 << 20, 3 << 20)));
        assert_eq!(at(BAR2 + (4 << 20) - 1), Some((false, (4 << 20) - 1, 1)));
        assert_eq!(at(BAR2 + (4 << 20)), None);
        assert_eq!(at(u64::MAX), None);
        // A BAR inside RAM's range shadows it, and RAM runs stop at the window.
        let low = Bus {
            ram: Some(&ram),
            dev: &dev,
            bar2: 4 << 20,
            peers: &[],
        };
        let r = low.locate(0x1000).unwrap();
        assert_eq!((r.before, r.after), (0x1000, (4 << 20) - 0x1000));
        assert!(low
            .locate(5 << 20)
            .is_some_and(|r| std::ptr::eq(r.map, &dev)));
        assert!(low.locate(8 << 20).is_none());
        let dram = bus.locate(BAR2 + (1 << 20) + 5).unwrap();
        assert_eq!((dram.before, dram.after), (5, (3 << 20) - 5));
        // BAR2_BASE 0: BAR2 is not reachable; RAM at 0 is.
        let unset = Bus {
            ram: Some(&ram),
            dev: &dev,
            bar2: 0,
            peers: &[],
        };
        assert_eq!(unset.locate(1 << 20).map(|r| r.off), Some(1 << 20));
        let none = Bus {
            ram: None,
            dev: &dev,
            bar2: BAR2,
            peers: &[],
        };
        assert!(none.locate(0).is_none());
    }

    #[test]
    fn peer_memory_is_reached_and_counted() {
        let (ram, dev) = setup();
        let dev = std::sync::Arc::new(dev);
        let peer = std::sync::Arc::new(Mapping::anonymous(4 << 20).unwrap());
        const PEER_BAR2: u64 = BAR2 + (16 << 20);
        peer.write64(regs::BAR2_BASE, PEER_BAR2);
        let all = [dev.clone(), peer.clone()];
        let bus = Bus {
            ram: Some(&ram),
            dev: &dev,
            bar2: BAR2,
            peers: &all,
        };
        let r = bus.locate(PEER_BAR2 + (1 << 20) + 8).unwrap();
        assert!(std::ptr::eq(r.map, &*peer));
        assert_eq!(
            (r.off, r.before, r.after),
            ((1 << 20) + 8, 8, (3 << 20) - 8)
        );
        assert_eq!(dev.read32(regs::P2P_TX_COUNT), 1);
        assert_eq!(peer.read32(regs::P2P_RX_COUNT), 1);
        // The peer's register file is not reachable, nor is anything past its BAR.
        assert!(bus.locate(PEER_BAR2 + 0x40).is_none());
        assert!(bus.locate(PEER_BAR2 + (4 << 20)).is_none());
        // The device's own memory and guest RAM are not peer transactions.
        assert!(bus.locate(BAR2 + (1 << 20)).is_some());
        assert!(bus.locate(0x1000).is_some());
        assert_eq!(dev.read32(regs::P2P_TX_COUNT), 1);
        assert_eq!(dev.read32(regs::P2P_RX_COUNT), 0);
        // A peer whose driver has not placed its BAR is not reachable.
        peer.write64(regs::BAR2_BASE, 0);
        assert!(bus.locate(PEER_BAR2 + (1 << 20)).is_none());
    }

    #[test]
    fn walks_pages_blocks_and_read_only() {
        let (ram, dev) = setup();
        let bus = bus(&ram, &dev);
        let mut t = Tables::new(&ram, 0, 0x10_0000);
        let va_page = 0x0000_7f12_3456_7000;
        t.map(va_page, 0x40_0000, mmu::PAGE_SIZE, false);
        t.map(va_page + 0x1000, 0x20_3000, mmu::PAGE_SIZE, true);
        t.map(0x4000_0000, 0x60_0000, mmu::BLOCK_2M, false);
        t.map(0x80_0000_0000, 0x4000_0000, mmu::BLOCK_1G, false);
        // Device memory mapped like RAM.
        t.map(0x1000, BAR2 + (1 << 20), mmu::PAGE_SIZE, false);
        let mut s = Space::with_ttbr(&bus, Some(t.root));

        let l = s.translate(va_page + 0x123, Access::Write).unwrap();
        assert_eq!(
            (l.va, l.size, l.pa, l.read_only),
            (va_page, 4096, 0x40_0000, false)
        );
        let l = s.translate(va_page + 0x1fff, Access::Read).unwrap();
        assert_eq!((l.pa, l.read_only), (0x20_3000, true));
        let f = s.translate(va_page + 0x1008, Access::Write).unwrap_err();
        assert_eq!(
            (f.code, f.va, f.access),
            (queue::ERR_MMU_FAULT, va_page + 0x1008, Access::Write)
        );
        let l = s.translate(0x4012_3456, Access::Write).unwrap();
        assert_eq!((l.va, l.size, l.pa), (0x4000_0000, 2 << 20, 0x60_0000));
        let l = s.translate(0x80_3fff_ffff, Access::Read).unwrap();
        assert_eq!((l.va, l.size, l.pa), (0x80_0000_0000, 1 << 30, 0x4000_0000));

        // Data through the mappings, across a page boundary (RW page then RO page).
        ram.write_bytes(0x40_0ffc, &[1, 2, 3, 4]).unwrap();
        ram.write_bytes(0x20_3000, &[5, 6, 7, 8]).unwrap();
        let mut out = [0u8; 8];
        s.read(va_page + 0xffc, &mut out).unwrap();
        assert_eq!(out, [1, 2, 3, 4, 5, 6, 7, 8]);
        let f = s.write(va_page + 0xffc, &[9; 8]).unwrap_err();
        assert_eq!((f.code, f.va), (queue::ERR_MMU_FAULT, va_page + 0x1000));
        // The first half went through (the access is not atomic across pages).
        assert_eq!(ram.read32(0x40_0ffc), 0x0909_0909);
        s.write(0x1008, b"devmem").unwrap();
        let mut dm = [0u8; 6];
        dev.read_bytes((1 << 20) + 8, &mut dm).unwrap();
        assert_eq!(&dm, b"devmem");
        // The 1 GiB block points beyond RAM: a bus error at the first byte outside.
        let f = s.read(0x80_0000_0000, &mut out).unwrap_err();
        assert_eq!((f.code, f.va), (queue::ERR_BUS, 0x80_0000_0000));
        assert!(s.load64(0x4000_0008).is_ok());
        s.store64(0x4000_0008, 42).unwrap();
        assert_eq!(ram.load64(0x60_0008), Some(42));
    }

    #[test]
    fn faults() {
        let (ram, dev) = setup();
        let bus = bus(&ram, &dev);
        let mut t = Tables::new(&ram, 0, 0x10_0000);
        t.map(0x1000, 0x40_0000, mmu::PAGE_SIZE, false);
        let fault = |t: &Tables, va: u64| {
            let mut s = Space::with_ttbr(&bus, Some(t.root));
            s.translate(va, Access::Read).map_err(|f| (f.code, f.va))
        };
        assert!(fault(&t, 0x1000).is_ok());
        // Not mapped at every level.
        for va in [0x2000, 0x40_0000, 0x8000_0000, 0x80_0000_0000] {
            assert_eq!(fault(&t, va), Err((queue::ERR_MMU_FAULT, va)));
        }
        // Bits 63:48 set.
        assert_eq!(
            fault(&t, 0xffff_0000_0000_1000),
            Err((queue::ERR_MMU_FAULT, 0xffff_0000_0000_1000))
        );
        assert_eq!(fault(&t, 1 << 48), Err((queue::ERR_MMU_FAULT, 1 << 48)));
        // Leaf without AF.
        t.set(0x3000, 3, 0x40_1000 | 3 | (leaf_bits(false) & !mmu::PTE_AF));
        assert_eq!(fault(&t, 0x3000), Err((queue::ERR_MMU_FAULT, 0x3000)));
        // Level-3 descriptor of type block (0b01) is reserved.
        t.set(0x4000, 3, 0x40_1000 | 1 | leaf_bits(false));
        assert_eq!(fault(&t, 0x4000), Err((queue::ERR_MMU_FAULT, 0x4000)));
        // A block at level 0 does not exist with a 4 KiB granule.
        t.set(0x100_0000_0000, 0, 1 | leaf_bits(false));
        assert!(fault(&t, 0x100_0000_0000).is_err());
        // Invalid (bit 0 clear) with other bits set.
        t.set(0x5000, 3, 0x40_1000 | 2 | leaf_bits(false));
        assert!(fault(&t, 0x5000).is_err());
        // A table pointer to nowhere: bus error while walking.
        t.set(0x200_0000_0000, 0, 0x7000_0000 | 3);
        assert_eq!(
            fault(&t, 0x200_0000_0000),
            Err((queue::ERR_BUS, 0x200_0000_0000))
        );
        // A table pointer into the register file is a bus error too.
        t.set(0x300_0000_0000, 0, BAR2 | 3);
        assert_eq!(fault(&t, 0x300_0000_0000).unwrap_err().0, queue::ERR_BUS);
        // No context.
        let mut s = Space::with_ttbr(&bus, None);
        assert_eq!(
            s.translate(0x1000, Access::Read).unwrap_err().code,
            queue::ERR_MMU_FAULT
        );
    }

    #[test]
    fn contexts_from_registers() {
        let (ram, dev) = setup();
        let bus = bus(&ram, &dev);
        let mut t = Tables::new(&ram, 0, 0x10_0000);
        t.map(0x1000, 0x40_0000, mmu::PAGE_SIZE, false);
        let ok = |asid| {
            Space::new(&bus, &dev, asid)
                .translate(0x1000, Access::Read)
                .is_ok()
        };
        dev.write64(mmu::ctx_reg(3, mmu::CTX_TTBR), t.root);
        assert!(!ok(3), "context not valid");
        dev.write32(mmu::ctx_reg(3, mmu::CTX_CTRL), mmu::CTX_CTRL_VALID);
        assert!(ok(3));
        assert!(!ok(4));
        assert!(!ok(regs::NUM_ASIDS_VALUE));
        dev.write64(mmu::ctx_reg(3, mmu::CTX_TTBR), t.root | 8);
        assert!(!ok(3), "TTBR not aligned");
        dev.write64(mmu::ctx_reg(3, mmu::CTX_TTBR), t.root | (1 << 48));
        assert!(!ok(3), "TTBR above 48 bits");
    }

    #[test]
    fn tables_in_device_memory_and_cached_walks() {
        let (ram, dev) = setup();
        let bus = bus(&ram, &dev);
        // Tables in device memory, at the bus addresses of BAR2.
        let mut t = Tables::new(&dev, BAR2, BAR2 + (2 << 20));
        for i in 0..600u64 {
            t.map(
                0x20_0000 + i * 4096,
                0x10_0000 + i * 4096,
                mmu::PAGE_SIZE,
                false,
            );
        }
        for i in 0..(600 * 512u64) {
            ram.write32((0x10_0000 + i * 8) as usize, i as u32);
        }
        let mut s = Space::with_ttbr(&bus, Some(t.root));
        let mut buf = vec![0u8; 600 * 4096];
        s.read(0x20_0000, &mut buf).unwrap();
        for i in 0..(600 * 512usize) {
            assert_eq!(
                u32::from_le_bytes(buf[i * 8..i * 8 + 4].try_into().unwrap()),
                i as u32
            );
        }
        // Backward mapping of the last byte of a page.
        let (m, off, run) = s.map_back(0x20_1fff, Access::Read).unwrap();
        assert!(std::ptr::eq(m, &ram));
        assert_eq!((off, run), (0x10_1fff, 4096));
    }
}
