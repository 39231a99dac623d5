// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Device page tables for accel drivers.
//!
//! C header: [`include/linux/io-pgtable.h`](srctree/include/linux/io-pgtable.h)
//!
//! An accelerator whose MMU walks page tables in Arm's long-descriptor format (stage 1, 4 KiB
//! granule) can have its tables built by the kernel's `io-pgtable-arm` code, as Tyr does for
//! Mali GPUs. [`PageTable`] wraps [`IoPageTable`] for devices that walk their tables
//! coherently with the CPU: such a table does not depend on the device's binding (the DMA API
//! is never used for it), so it can belong to a client's address space, which lives as long as
//! the client's file, possibly after the device was unbound.
//!
//! A table maps device virtual addresses to bus addresses with 4 KiB pages and 2 MiB blocks;
//! [`PageTable::map`] picks the largest size that the alignment of both addresses allows.

use crate::{
    device::{self, Bound},
    io::PhysAddr,
    iommu::pgtable::{prot, Config, IoPageTable, ARM64LPAES1},
    prelude::*,
    sizes::{SZ_1G, SZ_2M, SZ_4K},
    sync::aref::ARef,
};

/// The page sizes a [`PageTable`] maps with.
const PGSIZES: usize = SZ_4K | SZ_2M;

/// Access rights of a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// The device may read the mapping.
    ReadOnly,
    /// The device may read and write the mapping.
    ReadWrite,
}

impl Access {
    fn prot(self) -> u32 {
        match self {
            Access::ReadOnly => prot::READ | prot::CACHE,
            Access::ReadWrite => prot::READ | prot::WRITE | prot::CACHE,
        }
    }
}

/// A device page table in the `ARM_64_LPAE_S1` format, walked coherently by the device.
///
/// # Invariants
///
/// `pt` was created with `coherent_walk` set, for the device that `_dev` keeps alive.
pub struct PageTable {
    pt: IoPageTable<'static, ARM64LPAES1>,
    _dev: ARef<device::Device>,
    ias: u32,
    oas: u32,
}

impl PageTable {
    /// Creates an empty table with `ias` bits of input (device virtual) address and `oas` bits
    /// of output (bus) address, for `dev`.
    ///
    /// The table holds CPU physical addresses (its root and its tables' links), which a device
    /// can only walk if it reaches memory without an IOMMU: devices behind one are refused.
    pub fn new(dev: &device::Device<Bound>, ias: u32, oas: u32) -> Result<Self> {
        if !(32..=48).contains(&ias) || !(32..=48).contains(&oas) {
            return Err(EINVAL);
        }
        // `device_iommu_mapped()`, an inline function.
        // SAFETY: `dev` is a valid device; `iommu_group` is set when it joins an IOMMU group.
        if !unsafe { (*dev.as_raw()).iommu_group }.is_null() {
            return Err(ENODEV);
        }
        let config = Config {
            quirks: 0,
            pgsize_bitmap: PGSIZES,
            ias,
            oas,
            coherent_walk: true,
        };
        let pt = IoPageTable::<ARM64LPAES1>::new(dev, config)?;
        // SAFETY: `IoPageTable` borrows the bound device because io-pgtable may DMA-map its
        // tables for it. With `coherent_walk` set it never does: io-pgtable-arm then uses the
        // device only to choose the NUMA node of new table pages, which needs the `struct
        // device` to be alive, not bound; `_dev` holds a reference to it for as long as the
        // table exists. The flush operations are no-ops that ignore the device.
        let pt = unsafe {
            core::mem::transmute::<IoPageTable<'_, ARM64LPAES1>, IoPageTable<'static, ARM64LPAES1>>(
                pt,
            )
        };
        Ok(Self {
            pt,
            _dev: dev.into(),
            ias,
            oas,
        })
    }

    /// The bus address of the table's root (level 0), to program into the device.
    ///
    /// # Safety
    ///
    /// The device must stop using the table before it is dropped.
    pub unsafe fn ttbr(&self) -> u64 {
        // SAFETY: Forwarded to the caller.
        unsafe { self.pt.ttbr() }
    }

    /// Maps `len` bytes of bus addresses from `paddr` at `iova`.
    ///
    /// `iova`, `paddr` and `len` must be multiples of 4 KiB (`EINVAL`) and the ranges must fit
    /// the table's address sizes (`ERANGE`). Table memory is charged to the caller's memory
    /// cgroup. On failure nothing of the range stays mapped.
    ///
    /// # Safety
    ///
    /// * No mapping of the table overlaps `iova..iova + len`.
    /// * The memory at `paddr..paddr + len` stays valid for the device for as long as it is
    ///   mapped.
    pub unsafe fn map(&mut self, iova: u64, paddr: u64, len: u64, access: Access) -> Result {
        if (iova | paddr | len) % SZ_4K as u64 != 0 {
            return Err(EINVAL);
        }
        let iova_end = iova.checked_add(len).ok_or(ERANGE)?;
        let paddr_end = paddr.checked_add(len).ok_or(ERANGE)?;
        if iova_end > 1u64 << self.ias || paddr_end > 1u64 << self.oas {
            return Err(ERANGE);
        }
        let mut done = 0u64;
        while done < len {
            let (pgsize, pgcount) = page_size(iova + done, paddr + done, len - done);
            // SAFETY: `&mut self` excludes every other operation on the table; the caller
            // guarantees that nothing is mapped in the range and that the memory stays valid
            // while mapped. The range fits `ias`, so the address fits `usize`.
            let (mapped, res) = unsafe {
                self.pt.map_pages(
                    (iova + done) as usize,
                    (paddr + done) as PhysAddr,
                    pgsize as usize,
                    pgcount as usize,
                    access.prot(),
                    GFP_KERNEL_ACCOUNT,
                )
            };
            let mapped = mapped as u64;
            if res.is_err() || mapped == 0 {
                done += mapped;
                // SAFETY: `iova..iova + done` was mapped above.
                let _ = unsafe { self.unmap(iova, done) };
                return Err(res.err().unwrap_or(ENOMEM));
            }
            done += mapped;
        }
        Ok(())
    }

    /// Unmaps `iova..iova + len`. Fails with `EINVAL` if part of the range was not unmapped
    /// (it was not mapped, or it covers only part of a 2 MiB block: io-pgtable does not split
    /// blocks).
    ///
    /// # Safety
    ///
    /// The range must be exactly covered by earlier [`PageTable::map`] calls, and the device
    /// must not use it any more.
    pub unsafe fn unmap(&mut self, iova: u64, len: u64) -> Result {
        let mut done = 0u64;
        while done < len {
            // The size of the pages is looked up by io-pgtable; this one only bounds the step.
            let (pgsize, pgcount) = page_size(iova + done, 0, len - done);
            let cur = usize::try_from(iova + done).map_err(|_| EINVAL)?;
            // SAFETY: `&mut self` excludes every other operation; the caller guarantees that
            // the range is mapped.
            let unmapped = unsafe { self.pt.unmap_pages(cur, pgsize as usize, pgcount as usize) };
            if unmapped == 0 {
                return Err(EINVAL);
            }
            done += unmapped as u64;
        }
        Ok(())
    }
}

/// The largest page size that maps `len` bytes at `iova` from `paddr`, and how many such pages
/// fit before the next boundary of the level above.
fn page_size(iova: u64, paddr: u64, len: u64) -> (u64, u64) {
    let (sz_4k, sz_2m, sz_1g) = (SZ_4K as u64, SZ_2M as u64, SZ_1G as u64);
    if (iova | paddr) % sz_2m == 0 && len >= sz_2m {
        let to_1g = sz_1g - iova % sz_1g;
        (sz_2m, len.min(to_1g) / sz_2m)
    } else {
        let to_2m = sz_2m - iova % sz_2m;
        (sz_4k, len.min(to_2m) / sz_4k)
    }
}

#[kunit_tests(rust_drm_accel_vm)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_follow_alignment() {
        let (k4, m2) = (SZ_4K as u64, SZ_2M as u64);
        // Unaligned: 4 KiB pages up to the next 2 MiB boundary.
        assert_eq!(page_size(m2 - 2 * k4, 0, 8 * m2), (k4, 2));
        // Aligned on both sides: 2 MiB blocks.
        assert_eq!(page_size(4 * m2, 2 * m2, 3 * m2 + k4), (m2, 3));
        // The bus address breaks the alignment.
        assert_eq!(page_size(4 * m2, k4, 4 * m2), (k4, 512));
        // Less than a block left.
        assert_eq!(page_size(0, 0, m2 - k4), (k4, 511));
        // Blocks stop at the next 1 GiB boundary.
        assert_eq!(page_size(SZ_1G as u64 - m2, 0, 4 * m2), (m2, 1));
    }
}
