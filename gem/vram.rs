// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Device-local memory behind a PCI BAR.
//!
//! [`DeviceMemory`] manages the device memory that the CPU reaches through a BAR with the GPU
//! buddy allocator. Objects in it are physically contiguous, so that a CPU mapping is a single
//! remap of BAR pages and an export is a single DMA segment.
//!
//! # Clearing
//!
//! Device memory is cleared when it is allocated, through a write-combined kernel mapping of
//! the whole range, so that no client sees what another client left in it.
//!
//! # Lifetime
//!
//! Device memory is part of a PCI BAR of the provider, so it is only reachable while the
//! provider is bound to its driver. [`DeviceMemory`] is built from the BAR of the bound device
//! and split accordingly:
//!
//! - the bookkeeping (the allocator, the BAR range's address and the provider) may outlive the
//!   binding, so that buffer objects that outlive it can still return their range;
//! - the kernel mapping of the range, used for clearing, is a device resource ([`Devres`]) and is
//!   unmapped when the provider is unbound; allocating needs the bound provider.
//!
//! Every path that lets userspace or another device reach the BAR checks, under
//! `drm_dev_enter()`, that the DRM device has not been unplugged, and fails with `ENODEV` (or
//! `SIGBUS` for a CPU access) otherwise: `mmap()` through the fake offset or the dma-buf, the CPU
//! fault handler, and the dma-buf's attach and map operations. `drm_dev_unplug()`, which the
//! DRM registration calls when the provider is unbound, zaps every CPU mapping of the DRM
//! device's address space; dma-buf mappings of device memory live in that address space too
//! (see [`export`]), so a CPU access after the unplug faults and gets `SIGBUS`.
//!
//! # CPU mappings
//!
//! Userspace maps device memory through the fake offset of the object, or through its dma-buf;
//! the mapping is write-combined and covers BAR pages directly (`VM_IO | VM_PFNMAP`). The pages
//! are inserted by the fault handler, under `drm_dev_enter()`, so that none can appear after the
//! unplug has zapped the mappings. Private (copy-on-write) mappings are refused with `EINVAL`.
//!
//! # Export and peer-to-peer DMA
//!
//! Device memory has no `struct page`, so a dma-buf of it can only be used by importers that
//! accept peer-to-peer DMA addresses. The exporter follows the kernel's helpers for MMIO
//! dma-bufs, as VFIO's does:
//!
//! - [`DeviceMemory::new`] sets up the PCI peer-to-peer DMA provider of the BAR
//!   (`pcim_p2pdma_init()`, `pcim_p2pdma_provider()`), a device resource of the provider;
//! - `attach` accepts only importers that set `allow_peer2peer` and implement
//!   `invalidate_mappings` (`dma_buf_attach_revocable()`): static importers (vgem, udmabuf
//!   users, any `dma_buf_attach()` caller) and importers without peer-to-peer support get
//!   `EOPNOTSUPP`. An importer whose PCI path to the provider does not allow peer-to-peer
//!   transactions (`pci_p2pdma_map_type()` says `NOT_SUPPORTED`: no common upstream bridge and
//!   no whitelisted host bridge) gets `EXDEV`;
//! - `map_dma_buf` builds the importer's table with `dma_buf_phys_vec_to_sgt()` from the
//!   object's BAR range: bus addresses for a path through a switch or bridge, an IOVA mapping
//!   through the host bridge otherwise. Tables have no `struct page`s; `unmap_dma_buf` frees
//!   them with `dma_buf_free_sgt()`.
//!
//! CPU access through `mmap()` of the dma-buf works for every process while the provider is
//! bound, whatever the importers can do.
//!
//! # Revocation
//!
//! The provider of the memory can go away (unbind, reset) while importers have it mapped.
//! [`Exports`] keeps the device-memory dma-bufs of a provider; the driver calls
//! [`Exports::revoke`] when the provider is unbound, after `drm_dev_unplug()` (so no new
//! attachment or mapping can be made: they fail with `ENODEV`) and before the provider's device
//! resources (the p2pdma provider among them) are released. For every dma-buf, under its
//! reservation lock, revocation marks the exports revoked, calls `dma_buf_invalidate_mappings()`
//! (the importers' `invalidate_mappings`: they must stop using the mapping and unmap it), and
//! waits for every fence of the reservation object (the importers' jobs that use the memory);
//! then it waits until every mapping of the provider's memory has been unmapped. Importers
//! that implement `invalidate_mappings` must unmap within bounded time, which is why only
//! they may attach.

use crate::{
    bindings,
    device::{self, Bound},
    devres::Devres,
    ffi,
    gpu::buddy::{AllocatedBlocks, GpuBuddy, GpuBuddyAllocFlag, GpuBuddyAllocMode, GpuBuddyParams},
    mm::virt::flags as vm_flags,
    page::{PAGE_SHIFT, PAGE_SIZE},
    pci,
    prelude::*,
    ptr::Alignment,
    sizes::SZ_4K,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, Mutex,
    },
    time::Delta,
};

use core::ptr::NonNull;

use super::Header;

/// Returns the CPU physical address and the page-aligned size of `size` bytes at `offset` of a
/// BAR of `bar_len` bytes at `bar_start`.
///
/// The size is rounded down to the page size; the range must be page aligned, non-empty and
/// within the BAR.
pub(super) fn bar_range(
    bar_start: u64,
    bar_len: u64,
    offset: u64,
    size: u64,
) -> Result<(u64, u64)> {
    let page = PAGE_SIZE as u64;
    let size = size & !(page - 1);
    if size == 0 || offset % page != 0 {
        return Err(EINVAL);
    }
    match offset.checked_add(size) {
        Some(end) if end <= bar_len => {}
        _ => return Err(EINVAL),
    }
    let phys = bar_start.checked_add(offset).ok_or(EINVAL)?;
    if phys % page != 0 {
        return Err(EINVAL);
    }
    Ok((phys, size))
}

/// The kernel's write-combined mapping of device memory, unmapped on drop.
///
/// # Invariants
///
/// `addr` is an `ioremap_wc()` mapping of `len` bytes of a BAR of a bound PCI device.
struct CpuMapping {
    addr: NonNull<ffi::c_void>,
    len: usize,
}

impl CpuMapping {
    /// Maps `len` bytes at `phys`, which must lie within a memory BAR of a bound device.
    fn new(phys: u64, len: usize) -> Result<Self> {
        // SAFETY: Maps a physical range of a BAR of a bound device (callers' requirement);
        // creating the mapping does not access it.
        let addr = NonNull::new(unsafe { bindings::ioremap_wc(phys, len) }).ok_or(ENOMEM)?;
        // INVARIANT: `addr` maps `len` bytes at `phys`.
        Ok(Self { addr, len })
    }
}

impl Drop for CpuMapping {
    fn drop(&mut self) {
        // SAFETY: `addr` is an `ioremap_wc()` mapping (type invariant), unmapped once, here.
        unsafe { bindings::iounmap(self.addr.as_ptr()) };
    }
}

// SAFETY: The mapping is only a range of kernel virtual addresses; any thread may unmap it.
unsafe impl Send for CpuMapping {}
// SAFETY: The mapping is only used to clear ranges that the caller owns (allocated from the
// allocator), so concurrent users never touch the same bytes.
unsafe impl Sync for CpuMapping {}

/// Device-local memory that the CPU and peers reach through a PCI BAR.
///
/// # Invariants
///
/// - `phys` and `buddy.size()` describe a page-aligned range of a memory BAR of the PCI
///   function that created `self` (the provider).
/// - `cpu` maps that range and belongs to the binding of the provider that created `self`.
pub struct DeviceMemory {
    buddy: GpuBuddy,
    /// CPU physical address of offset 0 of the device memory.
    phys: u64,
    /// Kernel mapping of the device memory, for clearing; revoked when the provider is unbound.
    cpu: Devres<CpuMapping>,
    /// The PCI peer-to-peer DMA provider of the BAR, if the kernel supports it.
    p2p: Option<P2pProvider>,
    /// The dma-bufs of the memory, for revocation.
    exports: Arc<Exports>,
}

/// The PCI peer-to-peer DMA provider of a BAR (`struct p2pdma_provider`).
///
/// # Invariants
///
/// `ptr` was returned by `pcim_p2pdma_provider()` for a BAR of the provider of the device
/// memory; it is a device resource of the provider, valid while the provider is bound. It is
/// only used inside a `drm_dev_enter()` section of the DRM device of the provider (see
/// [`Entered`]), during which the provider is bound, and by [`Exports::revoke`], which runs
/// before the provider's resources are released.
#[derive(Clone, Copy)]
struct P2pProvider {
    ptr: NonNull<bindings::p2pdma_provider>,
}

// SAFETY: The provider is an immutable C structure; the pointer is only a handle to it.
unsafe impl Send for P2pProvider {}
// SAFETY: As above.
unsafe impl Sync for P2pProvider {}

impl DeviceMemory {
    /// Manages the `size` bytes at `offset` of memory BAR `bar` of the bound PCI function
    /// `pdev`, which provides them.
    ///
    /// The size is rounded down to the page size. The range must be page aligned, non-empty
    /// and lie within the BAR. The kernel mapping that clears allocations is a device resource
    /// of `pdev`, unmapped when `pdev` is unbound; the bookkeeping stays usable after that, but
    /// nothing can be allocated any more.
    pub fn new(pdev: &pci::Device<Bound>, bar: u32, offset: u64, size: u64) -> Result<Self> {
        let dev: &device::Device<Bound> = pdev.as_ref();
        // SAFETY: `dev` is the `struct device` embedded in the `struct pci_dev` of `pdev`.
        let raw = unsafe { crate::container_of!(dev.as_raw(), bindings::pci_dev, dev) };
        let index = usize::try_from(bar)?;
        if index >= bindings::PCI_STD_NUM_BARS as usize {
            return Err(EINVAL);
        }
        // SAFETY: `raw` is a live, bound PCI device; `index` is a standard BAR (checked above)
        // and the resources of a bound device do not change.
        let flags = unsafe { (*raw).resource[index].flags };
        if flags & bindings::IORESOURCE_MEM as ffi::c_ulong == 0 {
            return Err(EINVAL);
        }
        let (phys, size) = bar_range(
            pdev.resource_start(bar)?,
            pdev.resource_len(bar)?,
            offset,
            size,
        )?;
        let len = usize::try_from(size).map_err(|_| EINVAL)?;
        let buddy = GpuBuddy::new(GpuBuddyParams {
            base_offset: 0,
            size,
            chunk_size: Alignment::new::<SZ_4K>(),
        })?;
        // The range lies within a memory BAR of `pdev`, which is bound.
        let cpu = Devres::new(dev, CpuMapping::new(phys, len)?)?;
        let p2p = p2p_provider(raw, bar);
        // INVARIANT: `phys` and `size` describe a range of BAR `bar` of `pdev` (checked by
        // `bar_range`), which `cpu` maps for the current binding of `pdev`.
        Ok(Self {
            buddy,
            phys,
            cpu,
            p2p,
            exports: Exports::new()?,
        })
    }

    /// Total bytes managed.
    pub fn size(&self) -> u64 {
        self.buddy.size()
    }

    /// Bytes not allocated.
    pub fn avail(&self) -> u64 {
        self.buddy.avail()
    }

    /// Whether importers on other PCI devices can be given peer-to-peer mappings of the
    /// memory (the kernel has `CONFIG_PCI_P2PDMA` and the BAR has a provider).
    pub fn peer_to_peer(&self) -> bool {
        self.p2p.is_some()
    }

    /// The dma-bufs exported from the memory, which the driver revokes when the provider is
    /// unbound.
    pub fn exports(&self) -> Arc<Exports> {
        self.exports.clone()
    }

    /// Allocates a contiguous range of `size` bytes (a multiple of the page size) and clears
    /// it.
    ///
    /// `provider` is the bound device that provides the memory: clearing goes through its
    /// mapping. Fails with `ENOSPC` when no free range is large enough and with `EINVAL` if
    /// `provider` is not the (current binding of the) provider.
    pub(super) fn alloc(
        &self,
        provider: &device::Device<Bound>,
        size: usize,
    ) -> Result<Allocation> {
        let cpu = self.cpu.access(provider)?;
        let blocks = KBox::pin_init(
            self.buddy.alloc_blocks(
                GpuBuddyAllocMode::Simple,
                size as u64,
                Alignment::new::<SZ_4K>(),
                GpuBuddyAllocFlag::Contiguous,
            ),
            GFP_KERNEL,
        )
        .map_err(|e| if e == ENOMEM { ENOMEM } else { ENOSPC })?;
        let offset = blocks.iter().map(|b| b.offset()).min().ok_or(ENOSPC)?;
        // A dma-buf segment length is 32 bits wide.
        if size > u32::MAX as usize {
            return Err(EINVAL);
        }
        let start = usize::try_from(offset)?;
        match start.checked_add(size) {
            Some(end) if end <= cpu.len => {}
            _ => return Err(EINVAL),
        }
        // SAFETY: `start + size` lies within `cpu`'s mapping (checked above), which stays
        // mapped while `provider` is bound; nobody else uses the range, which was just
        // allocated.
        unsafe { bindings::memset_io(cpu.addr.as_ptr().add(start), 0, size) };
        Ok(Allocation {
            _blocks: blocks,
            offset,
            phys: self.phys + offset,
            size: size as u64,
            p2p: self.p2p,
            exports: self.exports.clone(),
        })
    }
}

/// A contiguous range of device memory, returned to its [`DeviceMemory`] on drop.
pub struct Allocation {
    _blocks: Pin<KBox<AllocatedBlocks>>,
    offset: u64,
    phys: u64,
    size: u64,
    p2p: Option<P2pProvider>,
    exports: Arc<Exports>,
}

impl Allocation {
    /// Offset of the range in device memory, as the device addresses it.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// CPU physical address of the range.
    pub fn phys(&self) -> u64 {
        self.phys
    }

    /// Size of the range in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// Wrapper that lets C operation tables live in `static`s.
#[repr(transparent)]
pub(super) struct Ops<T>(pub(super) T);

// SAFETY: The tables are immutable and only hold function pointers.
unsafe impl<T> Sync for Ops<T> {}

/// VMA operations of device-memory mappings: the GEM reference counting of the DRM core and
/// a fault handler that maps BAR pages while the device is bound.
pub(super) static VM_OPS: bindings::vm_operations_struct = {
    let mut ops: bindings::vm_operations_struct = pin_init::zeroed();
    ops.open = Some(bindings::drm_gem_vm_open);
    ops.close = Some(bindings::drm_gem_vm_close);
    ops.fault = Some(fault);
    ops
};

/// dma-buf operations of device-memory objects.
static DMA_BUF_OPS: Ops<bindings::dma_buf_ops> = Ops({
    let mut ops: bindings::dma_buf_ops = pin_init::zeroed();
    ops.attach = Some(attach);
    ops.map_dma_buf = Some(map_dma_buf);
    ops.unmap_dma_buf = Some(unmap_dma_buf);
    ops.release = Some(release);
    ops.mmap = Some(bindings::drm_gem_dmabuf_mmap);
    ops
});

/// A `drm_dev_enter()` critical section: while it lasts, the DRM device is not unplugged, so
/// its parent (the provider of the device memory) stays bound.
///
/// # Invariants
///
/// `idx` was returned by a successful `drm_dev_enter()` that `drop` ends.
struct Entered {
    idx: ffi::c_int,
}

impl Entered {
    /// Enters the critical section of `dev`, unless `dev` has been unplugged.
    ///
    /// # Safety
    ///
    /// `dev` must be a live DRM device.
    unsafe fn new(dev: *mut bindings::drm_device) -> Option<Self> {
        let mut idx: ffi::c_int = 0;
        // SAFETY: `dev` is live by the safety requirements.
        if unsafe { bindings::drm_dev_enter(dev, &mut idx) } {
            // INVARIANT: `idx` comes from the successful call.
            Some(Self { idx })
        } else {
            // Nothing to exit: `drm_dev_enter()` has left the section itself, so no `Self`
            // (whose drop would exit it again) may be created here.
            None
        }
    }
}

impl Drop for Entered {
    fn drop(&mut self) {
        // SAFETY: `idx` is the index of a section entered in `new` (type invariant).
        unsafe { bindings::drm_dev_exit(self.idx) };
    }
}

/// Returns the allocation of a device-memory object.
///
/// # Safety
///
/// `obj` must be the GEM object of a live [`super::Object`] of kind [`super::Kind::Device`].
unsafe fn allocation<'a>(obj: *mut bindings::drm_gem_object) -> Result<&'a Allocation> {
    // SAFETY: By the safety requirements.
    let header = unsafe { Header::from_gem(obj) };
    header.vram.as_ref().ok_or(EINVAL)
}

/// `drm_gem_object_funcs.mmap` of device-memory objects, for mappings through the fake offset
/// and through the dma-buf (`drm_gem_prime_mmap()`).
///
/// Nothing is mapped here: the fault handler inserts the pages. Fails with `ENODEV` once the
/// DRM device is unplugged.
pub(super) extern "C" fn mmap(
    obj: *mut bindings::drm_gem_object,
    vma: *mut bindings::vm_area_struct,
) -> ffi::c_int {
    // SAFETY: This callback is only installed on device-memory objects; the DRM core holds a
    // reference to the object, and so to its device, during the call.
    let (dev, _alloc) = match unsafe { ((*obj).dev, allocation(obj)) } {
        (dev, Ok(a)) => (dev, a),
        (_, Err(e)) => return e.to_errno(),
    };
    // SAFETY: `dev` is live (see above).
    let Some(_entered) = (unsafe { Entered::new(dev) }) else {
        return ENODEV.to_errno();
    };
    // SAFETY: The DRM core passes the VMA it is setting up for this mmap.
    let new = unsafe { crate::mm::virt::VmaNew::from_raw(vma) };
    let flags = new.flags();
    // Copy-on-write mappings of device memory make no sense.
    if flags & vm_flags::SHARED == 0 && flags & vm_flags::MAYWRITE != 0 {
        return EINVAL.to_errno();
    }
    // SAFETY: The VMA is being set up and not visible to anyone else yet. Both callers check
    // that it lies within the object: `drm_gem_mmap()` through the offset node, the dma-buf
    // core against the dma-buf's size; its page offset is in the DRM device's offset space
    // (fake offset of the object plus the page within it).
    unsafe {
        (*vma).__bindgen_anon_2.vm_flags |=
            vm_flags::IO | vm_flags::PFNMAP | vm_flags::DONTEXPAND | vm_flags::DONTDUMP;
        (*vma).vm_page_prot = bindings::pgprot_writecombine(bindings::vm_get_page_prot(flags));
    }
    0
}

/// Pages the fault handler maps at once, from the faulting one on (as TTM does).
const FAULT_AROUND: usize = 16;

/// `vm_operations_struct.fault` of device-memory mappings: maps the BAR pages of the object
/// while the DRM device is not unplugged, and fails with `SIGBUS` after.
///
/// The pages are inserted inside a `drm_dev_enter()` section, and `drm_dev_unplug()` waits for
/// such sections before it zaps the mappings, so no page of an unplugged device stays mapped.
extern "C" fn fault(vmf: *mut bindings::vm_fault) -> bindings::vm_fault_t {
    const SIGBUS: bindings::vm_fault_t = bindings::vm_fault_reason_VM_FAULT_SIGBUS;
    // SAFETY: The MM core passes a live fault of a VMA with our operations, whose private data
    // is the GEM object that the VMA holds a reference to (`drm_gem_vm_open()`).
    let (vma, obj, pgoff, address) = unsafe {
        let f = &(*vmf).__bindgen_anon_1;
        (
            f.vma,
            (*f.vma).vm_private_data.cast::<bindings::drm_gem_object>(),
            f.pgoff,
            f.address,
        )
    };
    // SAFETY: `obj` is live (see above), and so is its device.
    let Some(_entered) = (unsafe { Entered::new((*obj).dev) }) else {
        return SIGBUS;
    };
    // SAFETY: Only device-memory objects have these VMA operations.
    let Ok(alloc) = (unsafe { allocation(obj) }) else {
        return SIGBUS;
    };
    // SAFETY: `obj` is live and its offset node was set up at creation.
    let first =
        unsafe { bindings::drm_vma_node_offset_addr(&raw mut (*obj).vma_node) } >> PAGE_SHIFT;
    let pages = alloc.size >> PAGE_SHIFT;
    let Some(page) = (pgoff as u64).checked_sub(first).filter(|p| *p < pages) else {
        return SIGBUS;
    };
    const NOPAGE: bindings::vm_fault_t = bindings::vm_fault_reason_VM_FAULT_NOPAGE;
    // SAFETY: `vma` is live during the fault.
    let (vm_end, prot) = unsafe {
        (
            (*vma).__bindgen_anon_1.__bindgen_anon_1.vm_end,
            (*vma).vm_page_prot,
        )
    };
    let base_pfn = alloc.phys >> PAGE_SHIFT;
    let mut ret = SIGBUS;
    for i in 0..FAULT_AROUND as u64 {
        let addr = address + (i << PAGE_SHIFT) as ffi::c_ulong;
        if page + i >= pages || addr >= vm_end {
            break;
        }
        // SAFETY: `addr` lies in the VMA, a `VM_PFNMAP` mapping whose lock the fault holds;
        // the PFN is a page of the object's BAR range, and the provider is bound
        // (`_entered`).
        let r = unsafe {
            bindings::vmf_insert_pfn_prot(vma, addr, (base_pfn + page + i) as ffi::c_ulong, prot)
        };
        if i == 0 {
            ret = r;
        }
        // The pages after the faulting one are best effort.
        if r != NOPAGE {
            break;
        }
    }
    ret
}

/// `drm_gem_object_funcs.export` of device-memory objects.
///
/// The dma-buf's file shares the address space of the DRM device's files (as the DRM files
/// themselves do), so that CPU mappings of the dma-buf are zapped with the others by
/// `drm_dev_unplug()` and by `drm_vma_node_unmap()`. The dma-buf holds a reference to the DRM
/// device, which owns that address space, until it is released.
pub(super) extern "C" fn export(
    obj: *mut bindings::drm_gem_object,
    flags: ffi::c_int,
) -> *mut bindings::dma_buf {
    // SAFETY: The DRM core holds a reference to `obj`; its device and driver are live.
    unsafe {
        let dev = (*obj).dev;
        let mut info = bindings::dma_buf_export_info {
            exp_name: c"drm-accel-vram".as_char_ptr(),
            owner: (*(*(*dev).driver).fops).owner,
            ops: &DMA_BUF_OPS.0,
            size: (*obj).size,
            flags,
            resv: (*obj).resv,
            priv_: obj.cast(),
        };
        let dma_buf = bindings::drm_gem_dmabuf_export(dev, &mut info);
        if !bindings::IS_ERR(dma_buf.cast::<ffi::c_void>()) {
            // The file is new and has no mapping yet; no one else has seen it.
            (*(*dma_buf).file).f_mapping = (*(*dev).anon_inode).i_mapping;
            // `export` is only installed on device-memory objects.
            if let Ok(alloc) = allocation(obj) {
                if let Err(e) = alloc.exports.add(dma_buf) {
                    // Releasing the dma-buf drops the object reference it took.
                    bindings::dma_buf_put(dma_buf);
                    return e.to_ptr();
                }
            }
        }
        dma_buf
    }
}

/// Whether `dma_buf` is a dma-buf of device memory exported by the accel core (of any
/// device).
///
/// # Safety
///
/// `dma_buf` must be live.
pub(super) unsafe fn is_device_memory(dma_buf: *mut bindings::dma_buf) -> bool {
    // SAFETY: `dma_buf` is live by the safety requirements.
    core::ptr::eq(unsafe { (*dma_buf).ops }, &DMA_BUF_OPS.0)
}

/// Returns the object of `dma_buf` with a new reference if it is a device-memory object of
/// `dev` itself.
///
/// # Safety
///
/// `dev` and `dma_buf` must be live.
pub(super) unsafe fn own_dma_buf(
    dev: *mut bindings::drm_device,
    dma_buf: *mut bindings::dma_buf,
) -> Option<*mut bindings::drm_gem_object> {
    // SAFETY: `dma_buf` is live by the safety requirements; our dma-bufs hold a reference
    // to their GEM object in `priv`.
    unsafe {
        if !core::ptr::eq((*dma_buf).ops, &DMA_BUF_OPS.0) {
            return None;
        }
        let obj: *mut bindings::drm_gem_object = (*dma_buf).priv_.cast();
        if (*obj).dev != dev {
            return None;
        }
        bindings::drm_gem_object_get(obj);
        Some(obj)
    }
}

/// Sets up the peer-to-peer DMA provider of BAR `bar` of the bound PCI function `pdev`.
///
/// Returns `None` if the kernel cannot do peer-to-peer DMA (no `CONFIG_PCI_P2PDMA`) or the
/// BAR cannot be used for it; the memory then works for the device and the CPU only.
fn p2p_provider(pdev: *mut bindings::pci_dev, bar: u32) -> Option<P2pProvider> {
    let bar = ffi::c_int::try_from(bar).ok()?;
    // SAFETY: `pdev` is a bound PCI function (caller's requirement, from `DeviceMemory::new`);
    // the provider is a device resource of it.
    if unsafe { bindings::pcim_p2pdma_init(pdev) } != 0 {
        return None;
    }
    // SAFETY: As above; `pcim_p2pdma_init()` succeeded, and `bar` is a memory BAR (checked by
    // the caller).
    let ptr = NonNull::new(unsafe { bindings::pcim_p2pdma_provider(pdev, bar) })?;
    // INVARIANT: `ptr` comes from `pcim_p2pdma_provider()` of the provider.
    Some(P2pProvider { ptr })
}

/// What [`Exports`] protects with its lock.
struct ExportList {
    /// The live dma-bufs of device memory of the provider (`struct dma_buf *`). A dma-buf is
    /// added when it is exported and removed by its `release` callback, under the lock, so
    /// the dma-bufs in the list are live while the lock is held.
    bufs: KVec<usize>,
    /// The provider has been unbound.
    revoked: bool,
}

/// The dma-bufs of the device memory of one provider, for revocation.
#[pin_data]
pub struct Exports {
    #[pin]
    list: Mutex<ExportList>,
    /// Live importer mappings (`map_dma_buf` not yet undone by `unmap_dma_buf`).
    mapped: Atomic<usize>,
}

impl Exports {
    fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            pin_init!(Self {
                list <- crate::new_mutex!(
                    ExportList {
                        bufs: KVec::new(),
                        revoked: false,
                    },
                    "accel_vram_exports"
                ),
                mapped: Atomic::new(0),
            }),
            GFP_KERNEL,
        )
    }

    /// Whether the provider has been unbound.
    pub fn revoked(&self) -> bool {
        self.list.lock().revoked
    }

    /// Revokes every importer's access to the memory; called when the provider is unbound,
    /// after its DRM device is unplugged and before its device resources are released.
    ///
    /// For each dma-buf, under its reservation lock: `dma_buf_invalidate_mappings()`, then a
    /// wait for every fence of the reservation object. Then waits until the importers have
    /// unmapped every mapping, which importers that implement `invalidate_mappings` (the only
    /// ones that can attach) do within bounded time. When this returns, no importer has a
    /// mapping of the memory and no job that declared the memory is running.
    pub fn revoke(&self) {
        {
            let mut list = self.list.lock();
            list.revoked = true;
            for &buf in list.bufs.iter() {
                let buf = buf as *mut bindings::dma_buf;
                // SAFETY: `buf` is live while it is in the list (see `ExportList::bufs`), and
                // so is its reservation object, the GEM object's, which the dma-buf holds a
                // reference to.
                unsafe {
                    let resv = (*buf).resv;
                    if bindings::dma_resv_lock(resv, core::ptr::null_mut()) != 0 {
                        continue;
                    }
                    bindings::dma_buf_invalidate_mappings(buf);
                    bindings::dma_resv_wait_timeout(
                        resv,
                        bindings::dma_resv_usage_DMA_RESV_USAGE_BOOKKEEP,
                        false,
                        ffi::c_long::MAX as ffi::c_ulong,
                    );
                    bindings::dma_resv_unlock(resv);
                }
            }
        }
        while self.mapped.load(Relaxed) != 0 {
            crate::time::delay::fsleep(Delta::from_millis(1));
        }
    }

    fn add(&self, buf: *mut bindings::dma_buf) -> Result {
        self.list.lock().bufs.push(buf as usize, GFP_KERNEL)?;
        Ok(())
    }

    fn remove(&self, buf: *mut bindings::dma_buf) {
        self.list.lock().bufs.retain(|b| *b != buf as usize);
    }
}

/// `dma_buf_ops.release`: forgets the dma-buf for revocation, then the DRM core's release.
extern "C" fn release(dma_buf: *mut bindings::dma_buf) {
    // SAFETY: The dma-buf core passes one of our dma-bufs, whose `priv` is a device-memory
    // object that the dma-buf still holds a reference to.
    if let Ok(alloc) = unsafe { allocation((*dma_buf).priv_.cast()) } {
        alloc.exports.remove(dma_buf);
    }
    // SAFETY: The dma-buf was exported with `drm_gem_dmabuf_export()`.
    unsafe { bindings::drm_gem_dmabuf_release(dma_buf) };
}

/// `dma_buf_ops.attach`: only dynamic, peer-to-peer capable importers that the topology lets
/// reach the provider.
extern "C" fn attach(
    dma_buf: *mut bindings::dma_buf,
    attach: *mut bindings::dma_buf_attachment,
) -> ffi::c_int {
    let obj: *mut bindings::drm_gem_object = {
        // SAFETY: The dma-buf core passes a live dma-buf of ours.
        unsafe { (*dma_buf).priv_.cast() }
    };
    // SAFETY: `priv` is a device-memory object that the dma-buf holds a reference to, and the
    // dma-buf holds one to the object's device.
    let (alloc, peer2peer, client) = unsafe {
        match allocation(obj) {
            Ok(a) => (a, (*attach).peer2peer, (*attach).dev),
            Err(e) => return e.to_errno(),
        }
    };
    // No new importer reaches the BAR of an unbound device.
    // SAFETY: The device is live (see above).
    let Some(_entered) = (unsafe { Entered::new((*obj).dev) }) else {
        return ENODEV.to_errno();
    };
    // SAFETY: `attach` is the attachment being created.
    if !peer2peer || !unsafe { bindings::dma_buf_attach_revocable(attach) } {
        return EOPNOTSUPP.to_errno();
    }
    let Some(p2p) = alloc.p2p else {
        return EOPNOTSUPP.to_errno();
    };
    // The path between the importer and the provider must allow peer-to-peer transactions: a
    // common upstream bridge or a whitelisted host bridge. The check is quiet (the importer
    // learns the reason from the errno) and caches the result, which `map_dma_buf` then gets
    // from `pci_p2pdma_map_type()`.
    let mut clients = [client];
    // SAFETY: The provider is bound (`_entered`, type invariant of `P2pProvider`), and its
    // owner is the PCI function of the BAR; `clients` holds the importer's live device.
    let distance = unsafe {
        bindings::pci_p2pdma_distance_many(
            crate::container_of!((*p2p.ptr.as_ptr()).owner, bindings::pci_dev, dev),
            clients.as_mut_ptr(),
            1,
            false,
        )
    };
    if distance < 0 {
        return EXDEV.to_errno();
    }
    0
}

/// `dma_buf_ops.map_dma_buf`: the object's BAR range mapped for the importer by
/// `dma_buf_phys_vec_to_sgt()`, under the dma-buf's reservation lock.
extern "C" fn map_dma_buf(
    attach: *mut bindings::dma_buf_attachment,
    dir: bindings::dma_data_direction,
) -> *mut bindings::sg_table {
    // SAFETY: The dma-buf core passes a live attachment of one of our dma-bufs, whose `priv`
    // is a device-memory object that the dma-buf holds a reference to.
    let (obj, alloc) = unsafe {
        let obj: *mut bindings::drm_gem_object = (*(*attach).dmabuf).priv_.cast();
        match allocation(obj) {
            Ok(a) => (obj, a),
            Err(e) => return e.to_ptr(),
        }
    };
    // A revoked provider (unplugged DRM device) gets no new mapping.
    // SAFETY: The object's device is live: the dma-buf holds a reference to it.
    let Some(_entered) = (unsafe { Entered::new((*obj).dev) }) else {
        return ENODEV.to_ptr();
    };
    let Some(p2p) = alloc.p2p else {
        return EOPNOTSUPP.to_ptr();
    };
    let Ok(len) = usize::try_from(alloc.size) else {
        return EINVAL.to_ptr();
    };
    let mut range = bindings::phys_vec {
        paddr: alloc.phys,
        len,
    };
    // SAFETY: The dma-buf core holds the reservation lock during `map_dma_buf`; the provider
    // is bound (`_entered`) and the range is the object's part of its BAR.
    let sgt = unsafe {
        bindings::dma_buf_phys_vec_to_sgt(attach, p2p.ptr.as_ptr(), &mut range, 1, len, dir)
    };
    // SAFETY: Only looks at the pointer's value.
    if !unsafe { bindings::IS_ERR(sgt.cast::<ffi::c_void>()) } {
        alloc.exports.mapped.fetch_add(1, Relaxed);
    }
    sgt
}

/// `dma_buf_ops.unmap_dma_buf`.
extern "C" fn unmap_dma_buf(
    attach: *mut bindings::dma_buf_attachment,
    sgt: *mut bindings::sg_table,
    dir: bindings::dma_data_direction,
) {
    // SAFETY: `sgt` is a table `map_dma_buf` created for `attach` with
    // `dma_buf_phys_vec_to_sgt()`; the dma-buf core holds the reservation lock.
    unsafe { bindings::dma_buf_free_sgt(attach, sgt, dir) };
    // SAFETY: The dma-buf holds a reference to its device-memory object.
    if let Ok(alloc) = unsafe { allocation((*(*attach).dmabuf).priv_.cast()) } {
        alloc.exports.mapped.fetch_sub(1, Relaxed);
    }
}
