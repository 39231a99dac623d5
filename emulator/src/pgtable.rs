// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Page tables as Linux's `io-pgtable-arm` builds them for `ARM_64_LPAE_S1` (4 KiB granule,
//! 48-bit input, four levels): the tests of the emulator and of its users build address
//! spaces with it, the way the driver's tables look.
//!
//! Tables are 4 KiB; a table descriptor is `pa | 0b11`; a leaf is `pa | prot | 0b01` (a
//! 1 GiB block at level 1 or a 2 MiB block at level 2) or `pa | prot | 0b11` (a 4 KiB page at
//! level 3), `prot` being what `arm_lpae_prot_to_pte` gives.

use gaudi_hw::mmu;

use crate::mem::Mapping;

/// Descriptor bits `io-pgtable-arm` sets on a stage-1 leaf for `IOMMU_READ | IOMMU_WRITE |
/// IOMMU_CACHE`: nG, AP\[1\], SH inner shareable, AttrIndx 1 and AF; plus AP\[2\] for a
/// mapping without `IOMMU_WRITE`.
pub fn leaf_bits(read_only: bool) -> u64 {
    let mut d = (1 << 11) | mmu::PTE_AP_UNPRIV | (3 << 8) | (1 << 2) | mmu::PTE_AF;
    if read_only {
        d |= mmu::PTE_AP_RDONLY;
    }
    d
}

/// Page tables in `mem`, whose offset 0 is at bus address `base`; tables are allocated
/// upwards from a given bus address.
pub struct Tables<'m> {
    mem: &'m Mapping,
    base: u64,
    next: u64,
    /// Bus address of the level-0 table (`CTX_TTBR`).
    pub root: u64,
}

impl<'m> Tables<'m> {
    /// Empty tables, the level-0 table at bus address `first`.
    pub fn new(mem: &'m Mapping, base: u64, first: u64) -> Self {
        let mut t = Self {
            mem,
            base,
            next: first,
            root: 0,
        };
        t.root = t.alloc();
        t
    }

    /// Tables built before: level-0 table at `root`, the next free table at `next`.
    pub fn resume(mem: &'m Mapping, base: u64, root: u64, next: u64) -> Self {
        Self {
            mem,
            base,
            next,
            root,
        }
    }

    /// Bus address of the next free table (the tables so far end there).
    pub fn end(&self) -> u64 {
        self.next
    }

    fn alloc(&mut self) -> u64 {
        let pa = self.next;
        self.next += mmu::PAGE_SIZE;
        let off = (pa - self.base) as usize;
        self.mem.fill(off, mmu::PAGE_SIZE as usize, [0; 4]).unwrap();
        pa
    }

    fn slot(&self, table: u64, va: u64, level: u32) -> usize {
        (table - self.base) as usize + 8 * mmu::index(va, level)
    }

    /// The table at `level` for `va`, allocating the missing ones.
    fn table(&mut self, va: u64, level: u32) -> u64 {
        let mut t = self.root;
        for l in 0..level {
            let slot = self.slot(t, va, l);
            let d = self.mem.load64(slot).unwrap();
            t = if d & 3 == 3 {
                d & mmu::PTE_ADDR_MASK
            } else {
                let n = self.alloc();
                self.mem.store64(slot, n | 3);
                n
            };
        }
        t
    }

    /// Maps `size` bytes (a page, a 2 MiB or a 1 GiB block) at `va` to bus address `pa`.
    pub fn map(&mut self, va: u64, pa: u64, size: u64, read_only: bool) {
        let level = match size {
            mmu::PAGE_SIZE => 3,
            mmu::BLOCK_2M => 2,
            mmu::BLOCK_1G => 1,
            _ => panic!("no leaf of {size:#x} bytes"),
        };
        let kind = if level == 3 { 3 } else { 1 };
        self.set(va, level, pa | leaf_bits(read_only) | kind);
    }

    /// Maps `len` bytes (page multiple) at `va` to `pa` with 4 KiB pages.
    pub fn map_pages(&mut self, va: u64, pa: u64, len: u64, read_only: bool) {
        for off in (0..len).step_by(mmu::PAGE_SIZE as usize) {
            self.map(va + off, pa + off, mmu::PAGE_SIZE, read_only);
        }
    }

    /// Writes descriptor `desc` at `level` for `va`, allocating the tables above it.
    pub fn set(&mut self, va: u64, level: u32, desc: u64) {
        let t = self.table(va, level);
        let slot = self.slot(t, va, level);
        self.mem.store64(slot, desc);
    }
}
