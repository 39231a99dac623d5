// SPDX-License-Identifier: GPL-2.0 OR MIT

//! GEM buffer objects for compute accelerators.
//!
//! C header: [`include/drm/drm_gem_shmem_helper.h`](srctree/include/drm/drm_gem_shmem_helper.h)
//!
//! [`Object`] is the buffer object type of an accel driver. It has three kinds of backing
//! storage, all behind the same GEM object so that the DRM core (handles, `GEM_CLOSE`, PRIME,
//! mmap through the fake offset) treats them alike:
//!
//! - [`Kind::System`]: pages of a shmem file, allocated on first use, with cached or
//!   write-combined CPU mappings, kernel vmap and a DMA mapping for the device;
//! - [`Kind::Device`]: a contiguous range of device-local memory that the CPU reaches through a
//!   PCI BAR, see [`vram`];
//! - [`Kind::Imported`]: a dma-buf of another device or driver, imported once per device
//!   however many files import it; device memory of another device is imported peer-to-peer
//!   as a dynamic importer (see [`p2p`]).
//!
//! Unlike `kernel::drm::gem::shmem`, whose PRIME imports the shmem helper allocates as plain C
//! objects, imports are created by this module (`gem_prime_import_sg_table`), so they are of
//! this type too: handle lookups never see a foreign C object. Every object carries the
//! `dma_resv` of its GEM object (the exporter's for imports) and driver-private data of type
//! `T`.
//!
//! # Lifetimes
//!
//! An object lives as long as a reference to it exists: a handle in a file, a CPU mapping, an
//! exported dma-buf, or an [`ARef`] in the kernel. Closing the handle of a mapped object leaves
//! the mapping valid. Every object holds a reference to its DRM device (the C core does not),
//! so the device and its data outlive its objects; they may outlive the binding of the
//! device's parent, which is why device memory separates its bookkeeping from the mapping of
//! the BAR (see [`vram`]).

pub mod p2p;
pub mod vram;

use crate::{
    bindings, container_of, device,
    drm::{
        self,
        driver::{AllocImpl, AllocOps},
        gem::IntoGEMObject,
        private::Sealed,
    },
    error::{from_err_ptr, to_result},
    ffi,
    prelude::*,
    scatterlist::SGTable,
    sync::aref::ARef,
    types::Opaque,
};
use core::{mem::MaybeUninit, ptr::NonNull};

/// The backing storage of an [`Object`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// System memory, with write-combined CPU mappings if `wc` is set.
    System {
        /// CPU mappings are write-combined.
        wc: bool,
    },
    /// Device-local memory reached through a PCI BAR.
    Device,
    /// A dma-buf of another device or driver.
    Imported,
}

/// What a driver learns about an object when its private data is created.
#[derive(Clone, Copy, Debug)]
pub struct ObjectInfo {
    /// Size of the object in bytes, a multiple of the page size.
    pub size: usize,
    /// The backing storage.
    pub kind: Kind,
}

/// Driver-private data of a buffer object.
pub trait BoDriverData: Send + Sync + Sized + 'static {
    /// The DRM driver whose objects carry this data.
    type Driver: drm::Driver<Object = Object<Self>>;

    /// Creates the private data of a new object.
    ///
    /// For [`Kind::Imported`] objects this is called while the DRM core imports a dma-buf.
    /// The data is dropped when the object is freed, whatever its kind.
    fn new(dev: &drm::Device<Self::Driver>, info: &ObjectInfo) -> impl PinInit<Self, Error>;
}

/// The part of an [`Object`] that does not depend on the driver data.
///
/// C callbacks that are shared by all drivers (CPU mapping and export of device memory) reach
/// it from the embedded `drm_gem_object` without knowing the driver's type.
///
/// # Invariants
///
/// - `obj` is an initialised `struct drm_gem_shmem_object` for as long as the header lives.
/// - `vram` is `Some` if and only if `kind` is [`Kind::Device`].
/// - `peer` is `Some` only if `kind` is [`Kind::Imported`]: the dynamic attachment of a
///   peer-to-peer import, which is the GEM object's `import_attach`.
#[repr(C)]
#[pin_data]
struct Header {
    #[pin]
    obj: Opaque<bindings::drm_gem_shmem_object>,
    kind: Kind,
    vram: Option<vram::Allocation>,
    peer: Option<Pin<KBox<p2p::PeerImport>>>,
}

impl Header {
    /// # Safety
    ///
    /// `obj` must be the GEM object embedded in a live [`Header`].
    unsafe fn from_gem<'a>(obj: *mut bindings::drm_gem_object) -> &'a Self {
        // SAFETY: By the safety requirements, the header is live.
        unsafe { &*Self::from_gem_ptr(obj) }
    }

    /// Returns the header that embeds `obj`, with the provenance of `obj`.
    ///
    /// # Safety
    ///
    /// `obj` must be the GEM object embedded in a [`Header`].
    unsafe fn from_gem_ptr(obj: *mut bindings::drm_gem_object) -> *mut Self {
        // SAFETY: `base` is embedded in a `drm_gem_shmem_object`, which is embedded in a
        // `Header`, by the safety requirements.
        unsafe {
            let shmem = container_of!(obj, bindings::drm_gem_shmem_object, base);
            container_of!(Opaque::cast_from(shmem), Header, obj).cast_mut()
        }
    }

    fn as_gem(&self) -> *mut bindings::drm_gem_object {
        // SAFETY: `obj` is valid by the type invariants.
        unsafe { &raw mut (*self.obj.get()).base }
    }
}

/// A buffer object of an accel driver.
///
/// # Invariants
///
/// - `header.obj` is an initialised GEM object whose `funcs` are those of `Object<T>`, and the
///   object is referenced-counted by the DRM core.
/// - The object was allocated with [`KBox`] and is only freed by its `free` callback.
/// - `dev` is the DRM device of `header.obj`.
#[repr(C)]
#[pin_data]
pub struct Object<T: BoDriverData> {
    #[pin]
    header: Header,
    #[pin]
    inner: T,
    /// The object's DRM device, kept alive until the object is freed: the C core does not hold
    /// a device reference per object, but releasing an object uses its device (offset
    /// manager) and `dev()` hands it out. Declared last, so it is dropped last.
    dev: ARef<drm::Device<T::Driver>>,
}

crate::impl_aref_for_gem_obj! {
    impl<T> for Object<T>
    where
        T: BoDriverData
}

// SAFETY: GEM objects are reference-counted and thread-safe; the driver data is `Send + Sync`.
unsafe impl<T: BoDriverData> Send for Object<T> {}
// SAFETY: See `Send`.
unsafe impl<T: BoDriverData> Sync for Object<T> {}

impl<T: BoDriverData> Object<T> {
    /// GEM callbacks of system-memory and imported objects: the shmem helpers.
    const SYSTEM_FUNCS: bindings::drm_gem_object_funcs = bindings::drm_gem_object_funcs {
        free: Some(Self::free_shmem),
        open: None,
        close: None,
        print_info: Some(bindings::drm_gem_shmem_object_print_info),
        export: None,
        pin: Some(bindings::drm_gem_shmem_object_pin),
        unpin: Some(bindings::drm_gem_shmem_object_unpin),
        get_sg_table: Some(bindings::drm_gem_shmem_object_get_sg_table),
        vmap: Some(bindings::drm_gem_shmem_object_vmap),
        vunmap: Some(bindings::drm_gem_shmem_object_vunmap),
        mmap: Some(bindings::drm_gem_shmem_object_mmap),
        status: Some(Self::status_shmem),
        rss: Some(Self::rss_shmem),
        #[allow(unused_unsafe, reason = "Safe since Rust 1.82.0")]
        // SAFETY: `drm_gem_shmem_vm_ops` is a valid, static const on the C side.
        vm_ops: unsafe { &raw const bindings::drm_gem_shmem_vm_ops },
        evict: None,
    };

    /// GEM callbacks of device-memory objects.
    const DEVICE_FUNCS: bindings::drm_gem_object_funcs = bindings::drm_gem_object_funcs {
        free: Some(Self::free_device),
        open: None,
        close: None,
        print_info: None,
        export: Some(vram::export),
        pin: None,
        unpin: None,
        get_sg_table: None,
        vmap: None,
        vunmap: None,
        mmap: Some(vram::mmap),
        status: Some(Self::status_device),
        rss: None,
        vm_ops: &vram::VM_OPS,
        evict: None,
    };

    fn shmem(&self) -> *mut bindings::drm_gem_shmem_object {
        self.header.obj.get()
    }

    /// Returns the DRM device of the object.
    pub fn dev(&self) -> &drm::Device<T::Driver> {
        // The object holds a reference to its device until it is freed (`dev` field).
        &self.dev
    }

    /// Returns the backing storage of the object.
    pub fn kind(&self) -> Kind {
        self.header.kind
    }

    /// Returns the size of the object in bytes.
    pub fn size(&self) -> usize {
        // SAFETY: The GEM object is valid by the type invariants and its size never changes.
        unsafe { (*self.as_raw()).size }
    }

    /// Returns the device-memory range of a [`Kind::Device`] object.
    pub fn device_memory(&self) -> Option<&vram::Allocation> {
        self.header.vram.as_ref()
    }

    /// Returns the peer-to-peer attachment of an object imported from another device's
    /// memory.
    pub fn peer_import(&self) -> Option<&p2p::PeerImport> {
        self.header.peer.as_deref()
    }

    /// Allocates a pinned object and hands it to `init_gem`, which initialises the GEM part.
    ///
    /// On failure of `init_gem` the object is dropped; `init_gem` must leave the GEM object
    /// released.
    fn alloc(
        dev: &drm::Device<T::Driver>,
        info: ObjectInfo,
        vram: Option<vram::Allocation>,
        peer: Option<Pin<KBox<p2p::PeerImport>>>,
        funcs: &'static bindings::drm_gem_object_funcs,
    ) -> Result<Pin<KBox<Self>>> {
        let new = KBox::pin_init(
            try_pin_init!(Self {
                header <- pin_init!(Header {
                    obj <- Opaque::init_zeroed(),
                    kind: info.kind,
                    vram,
                    peer,
                }),
                inner <- T::new(dev, &info),
                dev: dev.into(),
            }),
            GFP_KERNEL,
        )?;
        // SAFETY: The object is not shared yet; `funcs` is static.
        unsafe { (*new.as_raw()).funcs = funcs };
        Ok(new)
    }

    /// Takes over the initial reference of a fully initialised object.
    fn publish(new: Pin<KBox<Self>>) -> ARef<Self> {
        // SAFETY: The object is never moved out of its allocation: `ARef` keeps it pinned.
        let ptr = KBox::into_raw(unsafe { Pin::into_inner_unchecked(new) });
        // SAFETY: `ptr` comes from `KBox::into_raw` and is not NULL. We take over the initial
        // reference the GEM initialisation created.
        unsafe { ARef::from_raw(NonNull::new_unchecked(ptr)) }
    }

    /// Creates a system-memory object of `size` bytes, rounded up to the page size.
    ///
    /// Pages are allocated when first used. Objects larger than the system's RAM could never
    /// be backed and fail with `ENOMEM`.
    pub fn new_system(dev: &drm::Device<T::Driver>, size: usize, wc: bool) -> Result<ARef<Self>> {
        let size = page_align(size)?;
        if size as u64 > total_ram() {
            return Err(ENOMEM);
        }
        let info = ObjectInfo {
            size,
            kind: Kind::System { wc },
        };
        let new = Self::alloc(dev, info, None, None, &Self::SYSTEM_FUNCS)?;

        // SAFETY: `new` is a zeroed shmem object with our `funcs`; on failure the helper
        // releases what it initialised and the allocation is dropped below.
        to_result(unsafe { bindings::drm_gem_shmem_init(dev.as_raw(), new.shmem(), size) })?;

        // SAFETY: The object is not shared yet, so nothing else accesses the flag.
        unsafe { (*new.shmem()).set_map_wc(wc) };

        Ok(Self::publish(new))
    }

    /// Creates a device-memory object of `size` bytes, rounded up to the page size, from `mem`.
    ///
    /// The device must be registered, so that its parent, the provider of `mem`, is bound:
    /// the new range is cleared through the provider's mapping of the BAR. Fails with `EINVAL`
    /// if `mem` is not provided by the parent of `dev`.
    pub fn new_device(
        dev: &drm::Device<T::Driver, drm::Registered>,
        mem: &vram::DeviceMemory,
        size: usize,
    ) -> Result<ARef<Self>> {
        let size = page_align(size)?;
        let parent: &<T::Driver as drm::Driver>::ParentDevice<device::Bound> = dev.as_ref();
        let alloc = mem.alloc(parent.as_ref(), size)?;
        let info = ObjectInfo {
            size,
            kind: Kind::Device,
        };
        let new = Self::alloc(dev, info, Some(alloc), None, &Self::DEVICE_FUNCS)?;
        let obj = new.as_raw();

        // SAFETY: `obj` is a zeroed GEM object with our `funcs`.
        unsafe { bindings::drm_gem_private_object_init(dev.as_raw(), obj, size) };
        // SAFETY: `obj` was initialised above.
        if let Err(e) = to_result(unsafe { bindings::drm_gem_create_mmap_offset(obj) }) {
            // SAFETY: Undoes `drm_gem_private_object_init()`; the object was never shared.
            unsafe { bindings::drm_gem_object_release(obj) };
            return Err(e);
        }

        Ok(Self::publish(new))
    }

    /// Returns the reservation object of the object (the exporter's for imports).
    pub fn resv(&self) -> &super::sched::resv::DmaResv {
        // SAFETY: `resv` is set when the GEM object is initialised (to the exporter's for
        // imports, which the attachment keeps alive) and lives as long as the object.
        unsafe { super::sched::resv::DmaResv::from_raw((*self.as_raw()).resv) }
    }

    /// Returns the fake offset that maps the object through the DRM file.
    pub fn mmap_offset(&self) -> u64 {
        // SAFETY: Every object gets its offset node when it is created (for imports too, by
        // the shmem helper), and keeps it until it is freed.
        unsafe { bindings::drm_vma_node_offset_addr(&raw mut (*self.as_raw()).vma_node) }
    }

    /// Returns the scatter-gather table that maps a system-memory or imported object for the
    /// DMA of the DRM device's parent.
    ///
    /// The pages are pinned and mapped on the first call and stay so until the object is
    /// freed.
    ///
    /// Device memory and peer-to-peer imports have no such table: `EINVAL`.
    pub fn sg_table(&self) -> Result<&SGTable> {
        if self.header.kind == Kind::Device || self.header.peer.is_some() {
            return Err(EINVAL);
        }
        // SAFETY: The object is a live shmem object; the helper takes the reservation lock.
        let sgt = from_err_ptr(unsafe { bindings::drm_gem_shmem_get_pages_sgt(self.shmem()) })?;
        // SAFETY: The table stays valid until the object is freed (`drm_gem_shmem_release`),
        // which cannot happen while `self` is borrowed.
        Ok(unsafe { SGTable::from_raw(sgt) })
    }

    /// Maps the object into the kernel's address space.
    pub fn vmap(&self) -> Result<VMap<'_, T>> {
        let mut map = MaybeUninit::<bindings::iosys_map>::zeroed();
        // SAFETY: The object is live; `drm_gem_vmap` takes the reservation lock.
        to_result(unsafe { bindings::drm_gem_vmap(self.as_raw(), map.as_mut_ptr()) })?;
        // SAFETY: `drm_gem_vmap` succeeded and filled in `map`.
        let mut map = unsafe { map.assume_init() };
        if map.is_iomem {
            // SAFETY: `map` was just created on this object. `drm_gem_vunmap` clears it, so it
            // gets a pointer to a mutable place.
            unsafe { bindings::drm_gem_vunmap(self.as_raw(), &raw mut map) };
            return Err(EOPNOTSUPP);
        }
        // SAFETY: The map is not I/O memory, so `vaddr` is the active member.
        let addr = unsafe { map.__bindgen_anon_1.vaddr };
        Ok(VMap { obj: self, addr })
    }

    /// Whether a system-memory or imported object has its memory: imports always (it is the
    /// exporter's), system objects once their pages were allocated.
    ///
    /// # Safety
    ///
    /// `obj` must be the GEM object of a live object of this type.
    unsafe fn shmem_resident(obj: *mut bindings::drm_gem_object) -> bool {
        // SAFETY: By the safety requirements, the header is live.
        let header = unsafe { Header::from_gem(obj) };
        // SAFETY: The shmem object is initialised by the type invariants. The page array is
        // set and cleared under the object's reservation lock, which fdinfo does not hold:
        // this reads a snapshot, as a C driver does with `READ_ONCE()`.
        let pages = unsafe { core::ptr::read_volatile(&raw const (*header.obj.get()).pages) };
        header.kind == Kind::Imported || !pages.is_null()
    }

    /// `status` of system-memory and imported objects, for the memory keys of fdinfo. No
    /// object is purgeable: the driver has no way to mark one so.
    extern "C" fn status_shmem(
        obj: *mut bindings::drm_gem_object,
    ) -> bindings::drm_gem_object_status {
        // SAFETY: `status` is only installed on objects of this type, and the core calls it
        // with a reference held.
        if unsafe { Self::shmem_resident(obj) } {
            bindings::drm_gem_object_status_DRM_GEM_OBJECT_RESIDENT
        } else {
            0
        }
    }

    /// `rss` of system-memory and imported objects: what is resident of them, all or nothing.
    extern "C" fn rss_shmem(obj: *mut bindings::drm_gem_object) -> usize {
        // SAFETY: As for `status_shmem`.
        if unsafe { Self::shmem_resident(obj) } {
            // SAFETY: `obj` is a live GEM object; its size never changes.
            unsafe { (*obj).size }
        } else {
            0
        }
    }

    /// `status` of device-memory objects: resident, since their memory is allocated when they
    /// are created.
    extern "C" fn status_device(
        _obj: *mut bindings::drm_gem_object,
    ) -> bindings::drm_gem_object_status {
        bindings::drm_gem_object_status_DRM_GEM_OBJECT_RESIDENT
    }

    extern "C" fn free_shmem(obj: *mut bindings::drm_gem_object) {
        // SAFETY: `free` is only installed on objects of this type, whose header comes first.
        let this = unsafe { Header::from_gem_ptr(obj) }.cast::<Self>();
        // SAFETY: The object is live until it is dropped below.
        if let Some(peer) = unsafe { (*this).header.peer.as_deref() } {
            // The mapping goes before the DRM core detaches.
            peer.release();
        }
        // SAFETY: The last reference is gone; this releases the pages, the DMA mapping and,
        // for imports, the attachment, then the GEM object itself.
        unsafe { bindings::drm_gem_shmem_release(obj.cast()) };
        // SAFETY: The object was allocated with `KBox` in `alloc`.
        drop(unsafe { KBox::from_raw(this) });
    }

    extern "C" fn free_device(obj: *mut bindings::drm_gem_object) {
        // SAFETY: `free` is only installed on objects of this type, whose header comes first.
        let this = unsafe { Header::from_gem_ptr(obj) }.cast::<Self>();
        // SAFETY: The last reference is gone: no mapping or dma-buf refers to the object.
        unsafe { bindings::drm_gem_object_release(obj) };
        // SAFETY: The object was allocated with `KBox` in `new_device`. Dropping it returns
        // the device memory.
        drop(unsafe { KBox::from_raw(this) });
    }

    /// `gem_prime_import_sg_table`: wraps the mapped dma-buf of another device or driver in an
    /// object of this type. The DRM core then sets the attachment and the exporter's
    /// reservation object; releasing the object unmaps and detaches.
    extern "C" fn import_sg_table(
        raw_dev: *mut bindings::drm_device,
        attach: *mut bindings::dma_buf_attachment,
        sgt: *mut bindings::sg_table,
    ) -> *mut bindings::drm_gem_object {
        // SAFETY: The callback is only installed in the `drm_driver` of `T::Driver`.
        let dev = unsafe { drm::Device::<T::Driver>::from_raw(raw_dev) };
        // SAFETY: The DRM core passes a live attachment to a live dma-buf.
        let size = unsafe { (*(*attach).dmabuf).size };
        match Self::import(dev, size, sgt) {
            Ok(obj) => {
                let raw = obj.as_raw();
                // The DRM core owns the initial reference from here on.
                core::mem::forget(obj);
                raw
            }
            Err(e) => e.to_ptr(),
        }
    }

    fn import(
        dev: &drm::Device<T::Driver>,
        size: usize,
        sgt: *mut bindings::sg_table,
    ) -> Result<ARef<Self>> {
        Self::import_with(dev, size, sgt, None)
    }

    fn import_with(
        dev: &drm::Device<T::Driver>,
        size: usize,
        sgt: *mut bindings::sg_table,
        peer: Option<Pin<KBox<p2p::PeerImport>>>,
    ) -> Result<ARef<Self>> {
        let size = page_align(size)?;
        let info = ObjectInfo {
            size,
            kind: Kind::Imported,
        };
        let new = Self::alloc(dev, info, None, peer, &Self::SYSTEM_FUNCS)?;
        let shmem = new.shmem();
        let obj = new.as_raw();

        // SAFETY: `obj` is a zeroed GEM object with our `funcs`. This is the private
        // (no shmem file) initialisation the shmem helper does for imports.
        unsafe { bindings::drm_gem_private_object_init(dev.as_raw(), obj, size) };
        // SAFETY: `obj` was initialised above.
        if let Err(e) = to_result(unsafe { bindings::drm_gem_create_mmap_offset(obj) }) {
            // SAFETY: Undoes `drm_gem_private_object_init()`; the object was never shared.
            unsafe { bindings::drm_gem_object_release(obj) };
            return Err(e);
        }
        // SAFETY: The object is not shared yet. The table belongs to the attachment, which
        // the object owns once the DRM core sets it; `drm_gem_shmem_release()` unmaps it.
        unsafe {
            let list = &raw mut (*shmem).madv_list;
            (*list).next = list;
            (*list).prev = list;
            (*shmem).sgt = sgt;
            // dma-buf mappings of the exporter decide the caching.
            (*shmem).set_map_wc(false);
        }

        Ok(Self::publish(new))
    }

    /// Imports device memory of another device peer-to-peer, as a dynamic importer (see
    /// [`p2p`]). The object gets the attachment and the exporter's reservation object, as the
    /// DRM core's import would set them, and holds a reference to the dma-buf, which the DRM
    /// core's release of imports drops.
    ///
    /// # Safety
    ///
    /// `dma_buf` must be live.
    unsafe fn import_peer(
        dev: &drm::Device<T::Driver>,
        dma_buf: *mut bindings::dma_buf,
    ) -> Result<ARef<Self>> {
        // SAFETY: The DRM device's parent is live while the device is.
        let parent = unsafe { (*dev.as_raw()).dev };
        // SAFETY: `dma_buf` and `parent` are live; the object takes a reference to the
        // dma-buf below, before the import can be released.
        let peer = unsafe { p2p::PeerImport::attach(dma_buf, parent) }?;
        let attach = peer.raw_attachment();
        // SAFETY: `dma_buf` is live.
        let size = unsafe { (*dma_buf).size };
        let obj = match Self::import_with(dev, size, core::ptr::null_mut(), Some(peer)) {
            Ok(obj) => obj,
            // The import was dropped with the failed object: it unmapped (`Drop`), but is
            // still attached.
            Err(e) => {
                // SAFETY: `attach` was made by `PeerImport::attach` on `dma_buf`; its
                // mapping is gone with the import and nothing else uses it.
                unsafe { p2p::detach(dma_buf, attach) };
                return Err(e);
            }
        };
        // SAFETY: The object is new and not shared yet; the DRM core's release of imports
        // detaches `attach` and drops the reference taken here.
        unsafe {
            bindings::get_file((*dma_buf).file);
            let raw = obj.as_raw();
            (*raw).import_attach = attach;
            (*raw).resv = (*dma_buf).resv;
        }
        Ok(obj)
    }

    /// `gem_prime_import`: the DRM core's import, plus self-import of device-memory objects,
    /// whose dma-bufs the core does not recognise as its own.
    extern "C" fn prime_import(
        dev: *mut bindings::drm_device,
        dma_buf: *mut bindings::dma_buf,
    ) -> *mut bindings::drm_gem_object {
        // SAFETY: The DRM core passes a live dma-buf it holds a reference to.
        if let Some(obj) = unsafe { vram::own_dma_buf(dev, dma_buf) } {
            return obj;
        }
        // SAFETY: As above.
        if unsafe { vram::is_device_memory(dma_buf) } {
            // SAFETY: The callback is only installed in the `drm_driver` of `T::Driver`.
            let drm = unsafe { drm::Device::<T::Driver>::from_raw(dev) };
            // SAFETY: As above.
            return match unsafe { Self::import_peer(drm, dma_buf) } {
                Ok(obj) => {
                    let raw = obj.as_raw();
                    // The DRM core owns the initial reference from here on.
                    core::mem::forget(obj);
                    raw
                }
                Err(e) => e.to_ptr(),
            };
        }
        // SAFETY: As above.
        if let Some(obj) = unsafe { Self::shared_import(dev, dma_buf) } {
            return obj;
        }
        // SAFETY: Same arguments as the core passes to us.
        let obj = unsafe { bindings::drm_gem_prime_import(dev, dma_buf) };
        if let Ok(new) = from_err_ptr(obj) {
            // SAFETY: `new` is a live object that the DRM core has just imported.
            unsafe { Self::share_import(new) };
        }
        obj
    }

    /// Finds this device's live import of the dma-buf `dma_buf` and takes a reference to it.
    ///
    /// A device imports a dma-buf of another device or driver once, however many files import
    /// it: every file that imports it gets a handle to the same object, as for the device's own
    /// dma-bufs. One attachment and one DMA mapping of the exporter's pages per device, instead
    /// of one per file: DMA-API debugging takes more than a few mappings of the same pages at
    /// once for a leak, and every mapping may take IOMMU space.
    ///
    /// The attachments of a dma-buf are listed under its reservation lock; [`Self::share_import`]
    /// marks this device's shareable ones with their object in `importer_priv`. An object whose
    /// last reference is gone is not taken: its release detaches under the same lock before its
    /// memory goes, so the pointer stays valid while the lock is held.
    ///
    /// # Safety
    ///
    /// `dev` must be a DRM device of `T::Driver` and `dma_buf` a live dma-buf.
    unsafe fn shared_import(
        dev: *mut bindings::drm_device,
        dma_buf: *mut bindings::dma_buf,
    ) -> Option<*mut bindings::drm_gem_object> {
        // SAFETY: The DRM device's parent is live while the device is.
        let parent = unsafe { (*dev).dev };
        // SAFETY: `dma_buf` is live.
        let resv = unsafe { (*dma_buf).resv };
        // SAFETY: `resv` is live with the dma-buf. Without an acquire context the lock cannot
        // fail.
        unsafe { bindings::dma_resv_lock(resv, core::ptr::null_mut()) };
        let mut found = None;
        // SAFETY: The attachment list is only changed under the reservation lock, held here.
        unsafe {
            let head = &raw mut (*dma_buf).attachments;
            let mut pos = (*head).next;
            while pos != head {
                let attach = container_of!(pos, bindings::dma_buf_attachment, node);
                let obj = (*attach).importer_priv.cast::<bindings::drm_gem_object>();
                // Static attachments of this device with an object are the ones that
                // `share_import` marked; peer imports are dynamic (`importer_ops`).
                if (*attach).dev == parent
                    && (*attach).importer_ops.is_null()
                    && !obj.is_null()
                    && bindings::refcount_inc_not_zero(&raw mut (*obj).refcount.refcount)
                {
                    found = Some(obj);
                    break;
                }
                pos = (*pos).next;
            }
            bindings::dma_resv_unlock(resv);
        }
        found
    }

    /// Marks a new import of another device's or driver's dma-buf as shareable by the other
    /// files of the device, see [`Self::shared_import`].
    ///
    /// # Safety
    ///
    /// `obj` must be a live object of this type that the DRM core has just imported.
    unsafe fn share_import(obj: *mut bindings::drm_gem_object) {
        // SAFETY: `obj` is live; `import_attach` is set for imports and only for them.
        let attach = unsafe { (*obj).import_attach };
        // Objects of this device come back themselves; peer imports are not shared.
        // SAFETY: A set attachment is live as long as the import.
        if attach.is_null() || unsafe { !(*attach).importer_ops.is_null() } {
            return;
        }
        // SAFETY: The attachment's dma-buf is live while it is attached.
        let resv = unsafe { (*(*attach).dmabuf).resv };
        // SAFETY: As in `shared_import`; `importer_priv` is the importer's and read under the
        // reservation lock only. The object's release detaches under the same lock.
        unsafe {
            bindings::dma_resv_lock(resv, core::ptr::null_mut());
            (*attach).importer_priv = obj.cast();
            bindings::dma_resv_unlock(resv);
        }
    }
}

impl<T: BoDriverData> core::ops::Deref for Object<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: BoDriverData> Sealed for Object<T> {}

impl<T: BoDriverData> IntoGEMObject for Object<T> {
    fn as_raw(&self) -> *mut bindings::drm_gem_object {
        self.header.as_gem()
    }

    unsafe fn from_raw<'a>(obj: *mut bindings::drm_gem_object) -> &'a Self {
        // SAFETY: By the safety requirements `obj` is embedded in the header of an `Object<T>`,
        // which is the first field of the `repr(C)` object.
        unsafe { &*core::ptr::from_ref(Header::from_gem(obj)).cast::<Self>() }
    }
}

impl<T: BoDriverData> AllocImpl for Object<T> {
    type Driver = T::Driver;

    const ALLOC_OPS: AllocOps = AllocOps {
        gem_create_object: None,
        prime_handle_to_fd: None,
        prime_fd_to_handle: None,
        gem_prime_import: Some(Self::prime_import),
        gem_prime_import_sg_table: Some(Self::import_sg_table),
        dumb_create: None,
        dumb_map_offset: None,
    };
}

/// Returns the bytes of RAM the kernel manages.
fn total_ram() -> u64 {
    // SAFETY: Reads an atomic counter.
    let pages = unsafe { bindings::totalram_pages() };
    (pages as u64).saturating_mul(crate::page::PAGE_SIZE as u64)
}

/// Rounds `size` up to the page size; zero and overflowing sizes are invalid.
pub fn page_align(size: usize) -> Result<usize> {
    if size == 0 {
        return Err(EINVAL);
    }
    size.checked_next_multiple_of(crate::page::PAGE_SIZE)
        .ok_or(EINVAL)
}

/// A kernel mapping of a system-memory or imported object.
///
/// # Invariants
///
/// `addr` is the start of a kernel mapping of all of `obj`, created by `drm_gem_vmap()`.
pub struct VMap<'a, T: BoDriverData> {
    obj: &'a Object<T>,
    addr: *mut ffi::c_void,
}

impl<T: BoDriverData> VMap<'_, T> {
    /// Checks that `len` bytes at `offset` lie within the object.
    fn check(&self, offset: usize, len: usize) -> Result {
        match offset.checked_add(len) {
            Some(end) if end <= self.obj.size() => Ok(()),
            _ => Err(EINVAL),
        }
    }

    /// Copies `buf.len()` bytes at `offset` of the object into `buf`.
    ///
    /// Userspace (through a mapping) or a device may write the object at the same time, so
    /// the memory is read with volatile accesses, never as a Rust reference or plain copy; a
    /// concurrent writer makes the result a mix of old and new bytes, nothing worse.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result {
        self.check(offset, buf.len())?;
        let src = self.addr.cast::<u8>();
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: `offset + i` lies within the mapping (checked above).
            *b = unsafe { src.add(offset + i).read_volatile() };
        }
        Ok(())
    }

    /// Copies `buf` to `offset` of the object.
    ///
    /// As in [`Self::read`], the memory is only written with volatile accesses.
    pub fn write(&self, offset: usize, buf: &[u8]) -> Result {
        self.check(offset, buf.len())?;
        let dst = self.addr.cast::<u8>();
        for (i, b) in buf.iter().enumerate() {
            // SAFETY: `offset + i` lies within the mapping (checked above).
            unsafe { dst.add(offset + i).write_volatile(*b) };
        }
        Ok(())
    }
}

impl<T: BoDriverData> Drop for VMap<'_, T> {
    fn drop(&mut self) {
        let mut map = bindings::iosys_map {
            is_iomem: false,
            __bindgen_anon_1: bindings::iosys_map__bindgen_ty_1 { vaddr: self.addr },
        };
        // SAFETY: `map` is the mapping created in `Object::vmap` (type invariant).
        unsafe { bindings::drm_gem_vunmap(self.obj.as_raw(), &mut map) };
    }
}

#[kunit_tests(rust_drm_accel_gem)]
mod tests {
    use super::*;
    use crate::{
        device::DeviceContext,
        drm::UnregisteredDevice,
        faux,
        page::PAGE_SIZE,
        sizes::SZ_1M,
        sync::atomic::{Atomic, Relaxed},
    };

    /// A driver with just enough to create objects on a faux device.
    struct TestDriver;
    struct TestFile;

    #[pin_data]
    struct TestData {
        live: Atomic<i64>,
    }

    struct TestObject {
        dev: ARef<drm::Device<TestDriver>>,
        kind: Kind,
    }

    impl drm::file::DriverFile for TestFile {
        type Driver = TestDriver;

        fn open(_dev: &drm::Device<TestDriver>) -> Result<Pin<KBox<Self>>> {
            Ok(KBox::new(Self, GFP_KERNEL)?.into())
        }
    }

    impl BoDriverData for TestObject {
        type Driver = TestDriver;

        fn new(dev: &drm::Device<TestDriver>, info: &ObjectInfo) -> impl PinInit<Self, Error> {
            dev.live.fetch_add(1, Relaxed);
            Ok::<_, Error>(Self {
                dev: dev.into(),
                kind: info.kind,
            })
        }
    }

    impl Drop for TestObject {
        fn drop(&mut self) {
            self.dev.live.fetch_sub(1, Relaxed);
        }
    }

    #[vtable]
    impl drm::Driver for TestDriver {
        type Data = TestData;
        type RegistrationData<'a> = ();
        type File = TestFile;
        type Object = Object<TestObject>;
        type ParentDevice<Ctx: DeviceContext> = faux::Device<Ctx>;

        const INFO: drm::DriverInfo = drm::DriverInfo {
            major: 0,
            minor: 0,
            patchlevel: 0,
            name: c"accel-gem-kunit",
            desc: c"accel GEM KUnit",
        };
        const IOCTLS: &'static [drm::ioctl::DrmIoctlDescriptor] = &[];
    }

    fn device() -> Result<(faux::Registration, UnregisteredDevice<TestDriver>)> {
        let reg = faux::Registration::new(c"accel-gem-kunit", None)?;
        let drm = UnregisteredDevice::new(
            reg.as_ref(),
            try_pin_init!(TestData {
                live: Atomic::new(0),
            }),
        )?;
        Ok((reg, drm))
    }

    #[test]
    fn sizes_are_page_aligned() -> Result {
        assert_eq!(page_align(1)?, PAGE_SIZE);
        assert_eq!(page_align(PAGE_SIZE)?, PAGE_SIZE);
        assert_eq!(page_align(PAGE_SIZE + 1)?, 2 * PAGE_SIZE);
        assert_eq!(page_align(0), Err(EINVAL));
        assert_eq!(page_align(usize::MAX), Err(EINVAL));
        assert_eq!(page_align(usize::MAX - PAGE_SIZE + 2), Err(EINVAL));
        Ok(())
    }

    #[test]
    fn system_object_vmap_round_trip() -> Result {
        let (_reg, drm) = device()?;
        let obj = Object::<TestObject>::new_system(&drm, 3 * PAGE_SIZE + 5, true)?;
        assert_eq!(obj.size(), 4 * PAGE_SIZE);
        assert_eq!(obj.kind(), Kind::System { wc: true });
        assert_eq!(obj.kind, Kind::System { wc: true });
        assert!(obj.device_memory().is_none());
        assert_eq!(drm.live.load(Relaxed), 1);

        let map = obj.vmap()?;
        let pattern = [0x5a_u8, 0xa5, 0x3c, 0xc3];
        map.write(obj.size() - pattern.len(), &pattern)?;
        let mut back = [0u8; 4];
        map.read(obj.size() - back.len(), &mut back)?;
        assert_eq!(back, pattern);
        // Accesses that leave the object fail and touch nothing.
        assert_eq!(map.read(obj.size() - 3, &mut back), Err(EINVAL));
        assert_eq!(map.write(usize::MAX, &pattern), Err(EINVAL));
        drop(map);

        drop(obj);
        assert_eq!(drm.live.load(Relaxed), 0);
        Ok(())
    }

    #[test]
    fn system_objects_fit_in_ram() -> Result {
        let (_reg, drm) = device()?;
        let too_big = usize::try_from(total_ram())? + PAGE_SIZE;
        assert_eq!(
            Object::<TestObject>::new_system(&drm, too_big, false).err(),
            Some(ENOMEM)
        );
        assert_eq!(drm.live.load(Relaxed), 0);
        Ok(())
    }

    #[test]
    fn objects_get_distinct_mmap_offsets() -> Result {
        let (_reg, drm) = device()?;
        let a = Object::<TestObject>::new_system(&drm, PAGE_SIZE, false)?;
        let b = Object::<TestObject>::new_system(&drm, PAGE_SIZE, false)?;
        assert_ne!(a.mmap_offset(), 0);
        assert_ne!(a.mmap_offset(), b.mmap_offset());
        assert_eq!(a.mmap_offset() % PAGE_SIZE as u64, 0);
        Ok(())
    }

    #[test]
    fn device_memory_needs_a_page_aligned_range_in_its_bar() -> Result {
        // `DeviceMemory::new` takes the range from a BAR of a bound PCI function, so objects in
        // device memory are covered on the device itself (the `gaudi_gem` IGT tests, including
        // unbinding); its range checks are tested here.
        let page = PAGE_SIZE as u64;
        let bar = 1u64 << 40;
        let len = 16 * SZ_1M as u64;
        assert_eq!(vram::bar_range(bar, len, 0, len)?, (bar, len));
        assert_eq!(
            vram::bar_range(bar, len, page, 3 * page + 5)?,
            (bar + page, 3 * page)
        );
        // Empty once rounded down to the page size.
        assert_eq!(vram::bar_range(bar, len, 0, 0), Err(EINVAL));
        assert_eq!(vram::bar_range(bar, len, 0, page - 1), Err(EINVAL));
        // Not page aligned.
        assert_eq!(vram::bar_range(bar, len, 512, 4 * page), Err(EINVAL));
        assert_eq!(vram::bar_range(bar + 512, len, 0, 4 * page), Err(EINVAL));
        // Beyond the BAR, or overflowing.
        assert_eq!(vram::bar_range(bar, len, page, len), Err(EINVAL));
        assert_eq!(vram::bar_range(bar, len, len, page), Err(EINVAL));
        assert_eq!(
            vram::bar_range(bar, u64::MAX, u64::MAX - page + 1, page),
            Err(EINVAL)
        );
        assert_eq!(
            vram::bar_range(u64::MAX - page + 1, len, page, page),
            Err(EINVAL)
        );
        Ok(())
    }

    #[test]
    fn objects_keep_their_device() -> Result {
        let (_reg, drm) = device()?;
        let dev: ARef<drm::Device<TestDriver>> = (&*drm).into();
        let obj = Object::<TestObject>::new_system(&drm, PAGE_SIZE, false)?;
        assert!(core::ptr::eq(obj.dev(), &*dev));
        drop(drm);
        drop(dev);
        // The object's own reference keeps the device and its data alive.
        assert_eq!(obj.dev().live.load(Relaxed), 1);
        drop(obj);
        Ok(())
    }
}
