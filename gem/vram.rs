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
//! # CPU mappings
//!
//! Userspace maps device memory through the fake offset of the object, or through its dma-buf;
//! the mapping is write-combined and covers BAR pages directly (`VM_IO | VM_PFNMAP`). Private
//! (copy-on-write) mappings are refused with `EINVAL`.
//!
//! # Export and peer-to-peer DMA
//!
//! Device memory has no `struct page`, so a dma-buf of it can only be used by importers that
//! accept peer-to-peer DMA addresses (`dma_buf_attachment.peer2peer`). As habanalabs does, the
//! exporter checks at attach time that the importer is such an importer and that the PCI
//! topology allows the transfer (`pci_p2pdma_distance()`); the mapping is then a
//! `dma_map_resource()` of the BAR range for the importing device. Every other attach fails
//! with `EOPNOTSUPP`, which the importer's `DRM_IOCTL_PRIME_FD_TO_HANDLE` returns. Kernels
//! without `CONFIG_PCI_P2PDMA` cannot do peer-to-peer DMA at all. CPU access through `mmap()`
//! of the dma-buf works for every process, whatever the importers can do.

use crate::{
    bindings, device,
    error::to_result,
    ffi,
    gpu::buddy::{AllocatedBlocks, GpuBuddy, GpuBuddyAllocFlag, GpuBuddyAllocMode, GpuBuddyParams},
    mm::virt::flags as vm_flags,
    page::{PAGE_SHIFT, PAGE_SIZE},
    prelude::*,
    ptr::Alignment,
    sizes::SZ_4K,
    sync::aref::ARef,
};

use core::ptr::NonNull;

use super::Header;

/// Device-local memory that the CPU and peers reach through a PCI BAR.
///
/// # Invariants
///
/// `cpu` is an `ioremap_wc()` mapping of the `buddy.size()` bytes at `phys`, unmapped on drop.
pub struct DeviceMemory {
    buddy: GpuBuddy,
    /// CPU physical address of offset 0 of the device memory.
    phys: u64,
    /// Kernel mapping of the device memory, for clearing.
    cpu: NonNull<ffi::c_void>,
    /// The device that provides the memory (the exporter in peer-to-peer transfers).
    provider: ARef<device::Device>,
}

impl DeviceMemory {
    /// Manages `size` bytes of device memory that the CPU sees at physical address `phys`,
    /// provided by the PCI function `provider`.
    pub fn new(provider: &device::Device, phys: u64, size: u64) -> Result<Self> {
        let size = size & !(PAGE_SIZE as u64 - 1);
        if size == 0 || phys % PAGE_SIZE as u64 != 0 {
            return Err(EINVAL);
        }
        let len = usize::try_from(size).map_err(|_| EINVAL)?;
        let buddy = GpuBuddy::new(GpuBuddyParams {
            base_offset: 0,
            size,
            chunk_size: Alignment::new::<SZ_4K>(),
        })?;
        // SAFETY: Maps a physical range of the provider's BAR; the mapping does not touch it.
        let cpu = NonNull::new(unsafe { bindings::ioremap_wc(phys, len) }).ok_or(ENOMEM)?;
        // INVARIANT: `cpu` maps `size` bytes at `phys`.
        Ok(Self {
            buddy,
            phys,
            cpu,
            provider: provider.into(),
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

    /// Allocates a contiguous range of `size` bytes (a multiple of the page size).
    ///
    /// Fails with `ENOSPC` when no free range is large enough.
    pub(super) fn alloc(&self, size: usize) -> Result<Allocation> {
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
        // SAFETY: `offset + size` lies within the allocator's range, which `cpu` maps (type
        // invariant); nobody else uses the range, which was just allocated.
        unsafe { bindings::memset_io(self.cpu.as_ptr().add(offset as usize), 0, size) };
        Ok(Allocation {
            _blocks: blocks,
            offset,
            phys: self.phys + offset,
            size: size as u64,
            provider: self.provider.clone(),
        })
    }
}

impl Drop for DeviceMemory {
    fn drop(&mut self) {
        // SAFETY: `cpu` is an `ioremap_wc()` mapping (type invariant), unmapped once, here.
        unsafe { bindings::iounmap(self.cpu.as_ptr()) };
    }
}

// SAFETY: The kernel mapping is only used to clear ranges owned by the caller; the allocator
// has its own lock.
unsafe impl Send for DeviceMemory {}
// SAFETY: See `Send`.
unsafe impl Sync for DeviceMemory {}

/// A contiguous range of device memory, returned to its [`DeviceMemory`] on drop.
pub struct Allocation {
    _blocks: Pin<KBox<AllocatedBlocks>>,
    offset: u64,
    phys: u64,
    size: u64,
    provider: ARef<device::Device>,
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

/// VMA operations of device-memory mappings: the GEM reference counting of the DRM core. The
/// whole range is mapped at `mmap()` time, so there is no fault handler.
pub(super) static VM_OPS: bindings::vm_operations_struct = {
    let mut ops: bindings::vm_operations_struct = pin_init::zeroed();
    ops.open = Some(bindings::drm_gem_vm_open);
    ops.close = Some(bindings::drm_gem_vm_close);
    ops
};

/// dma-buf operations of device-memory objects.
static DMA_BUF_OPS: Ops<bindings::dma_buf_ops> = Ops({
    let mut ops: bindings::dma_buf_ops = pin_init::zeroed();
    ops.attach = Some(attach);
    ops.map_dma_buf = Some(map_dma_buf);
    ops.unmap_dma_buf = Some(unmap_dma_buf);
    ops.release = Some(bindings::drm_gem_dmabuf_release);
    ops.mmap = Some(bindings::drm_gem_dmabuf_mmap);
    ops
});

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

/// `drm_gem_object_funcs.mmap` of device-memory objects.
pub(super) extern "C" fn mmap(
    obj: *mut bindings::drm_gem_object,
    vma: *mut bindings::vm_area_struct,
) -> ffi::c_int {
    // SAFETY: This callback is only installed on device-memory objects; the DRM core holds a
    // reference to the object during the call.
    let alloc = match unsafe { allocation(obj) } {
        Ok(a) => a,
        Err(e) => return e.to_errno(),
    };
    // SAFETY: The DRM core passes the VMA it is setting up for this mmap.
    let new = unsafe { crate::mm::virt::VmaNew::from_raw(vma) };
    let flags = new.flags();
    // Copy-on-write mappings of device memory make no sense.
    if flags & vm_flags::SHARED == 0 && flags & vm_flags::MAYWRITE != 0 {
        return EINVAL.to_errno();
    }
    // SAFETY: `obj` is live and its offset node was set up at creation.
    let start = unsafe { bindings::drm_vma_node_offset_addr(&raw mut (*obj).vma_node) };
    // SAFETY: The VMA is not visible to others yet; `vm_iomap_memory` checks that the
    // (object-relative) page offset and the length lie within the range.
    unsafe {
        (*vma).vm_pgoff -= (start >> PAGE_SHIFT) as ffi::c_ulong;
        (*vma).vm_page_prot = bindings::pgprot_writecombine(bindings::vm_get_page_prot(flags));
        bindings::vm_iomap_memory(vma, alloc.phys, alloc.size as ffi::c_ulong)
    }
}

/// `drm_gem_object_funcs.export` of device-memory objects.
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
        bindings::drm_gem_dmabuf_export(dev, &mut info)
    }
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

/// Whether the PCI topology lets `client` reach the BAR of `provider`.
fn p2p_reachable(provider: &device::Device, client: *mut bindings::device) -> bool {
    #[cfg(CONFIG_PCI_P2PDMA)]
    {
        if !crate::pci::dev_is_pci(provider) {
            return false;
        }
        let mut clients = [client];
        // SAFETY: `provider` is a PCI device (checked above), `clients` one live device.
        unsafe {
            bindings::pci_p2pdma_distance_many(
                bindings::to_pci_dev(provider.as_raw()),
                clients.as_mut_ptr(),
                1,
                true,
            ) >= 0
        }
    }
    #[cfg(not(CONFIG_PCI_P2PDMA))]
    {
        let _ = (provider, client);
        false
    }
}

/// `dma_buf_ops.attach`: only peer-to-peer capable importers the topology allows.
extern "C" fn attach(
    dma_buf: *mut bindings::dma_buf,
    attach: *mut bindings::dma_buf_attachment,
) -> ffi::c_int {
    // SAFETY: The dma-buf core passes a live dma-buf of ours, whose `priv` is a device-memory
    // object it holds a reference to, and the attachment being set up.
    let (alloc, peer2peer, client) = unsafe {
        match allocation((*dma_buf).priv_.cast()) {
            Ok(a) => (a, (*attach).peer2peer, (*attach).dev),
            Err(e) => return e.to_errno(),
        }
    };
    if !peer2peer || !p2p_reachable(&alloc.provider, client) {
        return EOPNOTSUPP.to_errno();
    }
    0
}

/// `dma_buf_ops.map_dma_buf`: one segment, the BAR range mapped for the importer.
extern "C" fn map_dma_buf(
    attach: *mut bindings::dma_buf_attachment,
    dir: bindings::dma_data_direction,
) -> *mut bindings::sg_table {
    // SAFETY: The dma-buf core passes a live attachment of one of our dma-bufs.
    let (alloc, dev) = unsafe {
        match allocation((*(*attach).dmabuf).priv_.cast()) {
            Ok(a) => (a, (*attach).dev),
            Err(e) => return e.to_ptr(),
        }
    };
    let sgt = match KBox::new(
        // SAFETY: An all-zero `sg_table` is the empty table `sg_alloc_table` expects.
        unsafe { core::mem::zeroed::<bindings::sg_table>() },
        GFP_KERNEL,
    ) {
        Ok(s) => KBox::into_raw(s),
        Err(e) => return Error::from(e).to_ptr(),
    };
    // SAFETY: `sgt` is a valid, empty table.
    if let Err(e) = to_result(unsafe { bindings::sg_alloc_table(sgt, 1, bindings::GFP_KERNEL) }) {
        // SAFETY: `sgt` came from `KBox::into_raw` above.
        drop(unsafe { KBox::from_raw(sgt) });
        return e.to_ptr();
    }
    // SAFETY: `dev` is the importer's live device; the range is the object's BAR range.
    let addr = unsafe {
        bindings::dma_map_resource(
            dev,
            alloc.phys,
            alloc.size as usize,
            dir,
            bindings::DMA_ATTR_SKIP_CPU_SYNC as usize,
        )
    };
    if addr == bindings::dma_addr_t::MAX {
        // SAFETY: `sgt` was allocated above and holds no mapping.
        unsafe {
            bindings::sg_free_table(sgt);
            drop(KBox::from_raw(sgt));
        }
        return ENOMEM.to_ptr();
    }
    // SAFETY: The table has one entry. Peer-to-peer segments have no page: only the DMA
    // address and length are set, as importers of device memory expect.
    unsafe {
        let sg = (*sgt).sgl;
        (*sg).length = alloc.size as u32;
        (*sg).dma_address = addr;
        (*sg).dma_length = alloc.size as u32;
    }
    sgt
}

/// `dma_buf_ops.unmap_dma_buf`.
extern "C" fn unmap_dma_buf(
    attach: *mut bindings::dma_buf_attachment,
    sgt: *mut bindings::sg_table,
    dir: bindings::dma_data_direction,
) {
    // SAFETY: `sgt` is a table `map_dma_buf` created for `attach`.
    unsafe {
        let sg = (*sgt).sgl;
        bindings::dma_unmap_resource(
            (*attach).dev,
            (*sg).dma_address,
            (*sg).dma_length as usize,
            dir,
            bindings::DMA_ATTR_SKIP_CPU_SYNC as usize,
        );
        bindings::sg_free_table(sgt);
        drop(KBox::from_raw(sgt));
    }
}
