// SPDX-License-Identifier: GPL-2.0 OR MIT

//! A simple allocator of device virtual addresses.
//!
//! Every client (open file) has a VM of its own, in which it chooses the addresses of its
//! mappings ([`crate::Device::vm_bind_map`]). [`VaAllocator`] hands out free ranges of the
//! window [`DRM_GAUDI_VA_START`, `DRM_GAUDI_VA_END`) first fit, in pages, so that a client need
//! not plan its address space by hand. Each [`crate::Device`] has one
//! ([`crate::Device::va_alloc`]); a client that also picks fixed addresses should take them
//! from a part of the window it first [`reserve`](VaAllocator::reserve)s.

use std::collections::BTreeMap;

use crate::uapi::{DRM_GAUDI_VA_END, DRM_GAUDI_VA_START, DRM_GAUDI_VM_PAGE_SIZE};

/// Free ranges of a VA window, first fit.
#[derive(Clone, Debug)]
pub struct VaAllocator {
    /// Free ranges, start to end (exclusive); never adjacent, never empty.
    free: BTreeMap<u64, u64>,
}

impl Default for VaAllocator {
    fn default() -> Self {
        Self::new(DRM_GAUDI_VA_START, DRM_GAUDI_VA_END)
    }
}

/// `x` rounded up to a multiple of `align` (a power of two), `None` on overflow.
fn align_up(x: u64, align: u64) -> Option<u64> {
    Some(x.checked_add(align - 1)? & !(align - 1))
}

impl VaAllocator {
    /// An allocator of the pages of [`start`, `end`); both are rounded inwards to pages.
    pub fn new(start: u64, end: u64) -> Self {
        let mut free = BTreeMap::new();
        let start = align_up(start, DRM_GAUDI_VM_PAGE_SIZE).unwrap_or(u64::MAX);
        let end = end & !(DRM_GAUDI_VM_PAGE_SIZE - 1);
        if start < end {
            free.insert(start, end);
        }
        Self { free }
    }

    /// The page-rounded size of a request, `None` for 0 or an overflow.
    fn pages(size: u64) -> Option<u64> {
        (size != 0)
            .then(|| align_up(size, DRM_GAUDI_VM_PAGE_SIZE))
            .flatten()
    }

    /// Allocates `size` bytes (rounded up to pages) at an address aligned to `align` (a power
    /// of two; at least the page size is used). `None` if no free range fits.
    pub fn alloc(&mut self, size: u64, align: u64) -> Option<u64> {
        let size = Self::pages(size)?;
        if !align.is_power_of_two() {
            return None;
        }
        let align = align.max(DRM_GAUDI_VM_PAGE_SIZE);
        let (start, end, va) = self.free.iter().find_map(|(&start, &end)| {
            let va = align_up(start, align)?;
            (va.checked_add(size)? <= end).then_some((start, end, va))
        })?;
        self.free.remove(&start);
        if start < va {
            self.free.insert(start, va);
        }
        if va + size < end {
            self.free.insert(va + size, end);
        }
        Some(va)
    }

    /// Takes [`va`, `va + size`) out of the free ranges, for fixed addresses; `false` (and
    /// nothing taken) unless the whole range is free.
    pub fn reserve(&mut self, va: u64, size: u64) -> bool {
        let Some(size) = Self::pages(size) else {
            return false;
        };
        let va = va & !(DRM_GAUDI_VM_PAGE_SIZE - 1);
        let Some(last) = va.checked_add(size) else {
            return false;
        };
        let Some((&start, &end)) = self.free.range(..=va).next_back() else {
            return false;
        };
        if last > end {
            return false;
        }
        self.free.remove(&start);
        if start < va {
            self.free.insert(start, va);
        }
        if last < end {
            self.free.insert(last, end);
        }
        true
    }

    /// Returns [`va`, `va + size`) (rounded to pages) to the free ranges. Freeing a range
    /// that is partly free already only frees the rest.
    pub fn free(&mut self, va: u64, size: u64) {
        let Some(size) = Self::pages(size) else {
            return;
        };
        let mut start = va & !(DRM_GAUDI_VM_PAGE_SIZE - 1);
        let mut end = start.saturating_add(size);
        // Merge with every free range that overlaps or touches [start, end).
        let touching: Vec<(u64, u64)> = self
            .free
            .range(..=end)
            .rev()
            .take_while(|&(_, &e)| e >= start)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in touching {
            self.free.remove(&s);
            start = start.min(s);
            end = end.max(e);
        }
        self.free.insert(start, end);
    }

    /// Free bytes.
    pub fn free_bytes(&self) -> u64 {
        self.free.iter().map(|(s, e)| e - s).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: u64 = DRM_GAUDI_VM_PAGE_SIZE;

    #[test]
    fn first_fit_and_alignment() {
        let mut a = VaAllocator::default();
        let total = a.free_bytes();
        assert_eq!(total, DRM_GAUDI_VA_END - DRM_GAUDI_VA_START);
        let x = a.alloc(1, 1).unwrap();
        assert_eq!(x, DRM_GAUDI_VA_START);
        let y = a.alloc(P + 1, 0).map(Some).unwrap_or(None);
        assert_eq!(y, None, "alignment 0 is not a power of two");
        let y = a.alloc(P + 1, P).unwrap();
        assert_eq!(y, x + P);
        let z = a.alloc(P, 1 << 21).unwrap();
        assert_eq!(z % (1 << 21), 0);
        assert_eq!(a.free_bytes(), total - 4 * P);
        a.free(y, P + 1);
        assert_eq!(a.alloc(2 * P, P), Some(y), "hole reused");
        a.free(x, P);
        a.free(y, 2 * P);
        a.free(z, P);
        assert_eq!(a.free_bytes(), total);
        assert_eq!(a.free.len(), 1, "ranges merged");
    }

    #[test]
    fn refusals() {
        let mut a = VaAllocator::new(DRM_GAUDI_VA_START, DRM_GAUDI_VA_START + 4 * P);
        assert_eq!(a.alloc(0, P), None);
        assert_eq!(a.alloc(u64::MAX, P), None);
        assert_eq!(a.alloc(5 * P, P), None);
        assert_eq!(a.alloc(P, 3 * P), None);
        assert!(a.alloc(4 * P, P).is_some());
        assert_eq!(a.alloc(P, P), None);
        assert!(VaAllocator::new(5 * P, 5 * P).alloc(1, 1).is_none());
    }

    #[test]
    fn reservations() {
        let base = DRM_GAUDI_VA_START;
        let mut a = VaAllocator::new(base, base + 16 * P);
        assert!(a.reserve(base + 4 * P, 2 * P));
        assert!(!a.reserve(base + 5 * P, 2 * P), "overlaps a reservation");
        assert!(!a.reserve(base + 15 * P, 2 * P), "past the end");
        assert!(!a.reserve(u64::MAX - P, 4 * P), "wraps");
        assert_eq!(a.alloc(4 * P, P), Some(base));
        assert_eq!(a.alloc(P, P), Some(base + 6 * P));
        a.free(base + 4 * P, 2 * P);
        assert_eq!(a.alloc(2 * P, P), Some(base + 4 * P));
        // Double frees do not grow the window.
        a.free(base, 16 * P);
        a.free(base, 16 * P);
        assert_eq!(a.free_bytes(), 16 * P);
    }
}
