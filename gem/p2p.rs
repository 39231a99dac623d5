// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Peer-to-peer imports: a dynamic attachment to a dma-buf of another device's memory.
//!
//! An accel driver imports a dma-buf of device memory (of another device driven by the accel
//! core, see [`super::vram`]) as a *dynamic* importer: the attachment sets `allow_peer2peer`
//! (the importer takes DMA addresses without `struct page`s) and implements
//! `invalidate_mappings`, so the exporter can move or revoke the memory while it is imported.
//!
//! # Validity
//!
//! The importer's mapping (the exporter's `sg_table`) is created at import and whenever it is
//! needed again, always under the dma-buf's reservation lock, and must be a single DMA
//! segment (device memory is contiguous). `invalidate_mappings`, which the exporter calls with
//! the reservation lock held, unmaps it at once and counts an invalidation. Users of the
//! mapping (a driver that put the address in its device's page tables) therefore:
//!
//! - call [`PeerImport::validate_locked`] under the reservation lock before a job that uses
//!   the memory is queued: it maps again if needed and fails with `ENODEV` when the exporter
//!   has revoked the memory (its device was unbound) and with `ESTALE` if the memory moved
//!   away from the address the import first had;
//! - compare [`PeerImport::invalidations`] from that moment with the count when the job is
//!   handed to the hardware, and fail the job if the memory was invalidated in between.
//!
//! Jobs that declared the memory add their fences to the exporter's reservation object, for
//! which the exporter waits after the invalidation: a job that started before the memory was
//! revoked finishes before the exporter's unbind goes on.

use crate::{
    bindings,
    error::from_err_ptr,
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
};
use core::{
    ptr,
    sync::atomic::{AtomicPtr, Ordering},
};

/// The importer side of a peer-to-peer import.
///
/// # Invariants
///
/// - `attach` is NULL or a dynamic attachment, with `self` as its `importer_priv`, of the
///   dma-buf `dma_buf`, made by [`PeerImport::attach`]; it is detached by [`PeerImport::detach`]
///   (or by the DRM core's release of the GEM object that owns it).
/// - `sgt` is NULL or the current mapping of `attach`; it is only changed with the dma-buf's
///   reservation lock held.
pub struct PeerImport {
    attach: *mut bindings::dma_buf_attachment,
    sgt: AtomicPtr<bindings::sg_table>,
    /// DMA address of the first mapping; later mappings must have the same.
    addr: u64,
    /// Invalidations so far.
    invalidations: Atomic<u64>,
}

// SAFETY: The attachment is a C object that is safe to use from any thread; `sgt` is only
// changed with the reservation lock held.
unsafe impl Send for PeerImport {}
// SAFETY: As above.
unsafe impl Sync for PeerImport {}

/// Importer operations of peer-to-peer attachments.
static IMPORT_OPS: super::vram::Ops<bindings::dma_buf_attach_ops> =
    super::vram::Ops(bindings::dma_buf_attach_ops {
        allow_peer2peer: true,
        invalidate_mappings: Some(invalidate_mappings),
    });

/// `dma_buf_attach_ops.invalidate_mappings`: drops the mapping; the next user maps again.
extern "C" fn invalidate_mappings(attach: *mut bindings::dma_buf_attachment) {
    // SAFETY: The dma-buf core passes one of our attachments, whose `importer_priv` is the
    // live `PeerImport` that made it (type invariant); it holds the reservation lock, which
    // `unmap_locked` needs.
    let this = unsafe { &*(*attach).importer_priv.cast::<PeerImport>() };
    this.invalidations.fetch_add(1, Relaxed);
    this.unmap_locked();
}

impl PeerImport {
    /// Attaches to `dma_buf` for `dev` as a peer-to-peer capable dynamic importer and maps it.
    ///
    /// Fails with what the exporter's `attach` or `map_dma_buf` returns (for device memory of
    /// the accel core: `EXDEV` when the PCI topology does not allow peer-to-peer DMA), and with
    /// `EINVAL` if the mapping is not one segment.
    ///
    /// # Safety
    ///
    /// `dma_buf` and `dev` must be live; the caller holds a reference to `dma_buf` for as long
    /// as the import lives.
    pub unsafe fn attach(
        dma_buf: *mut bindings::dma_buf,
        dev: *mut bindings::device,
    ) -> Result<Pin<KBox<Self>>> {
        let mut this = KBox::pin(
            Self {
                attach: ptr::null_mut(),
                sgt: AtomicPtr::new(ptr::null_mut()),
                addr: 0,
                invalidations: Atomic::new(0),
            },
            GFP_KERNEL,
        )?;
        // SAFETY: The import is not moved out of its box, which stays pinned.
        let inner = unsafe { this.as_mut().get_unchecked_mut() };
        let priv_: *mut Self = inner;
        // SAFETY: `dma_buf` and `dev` are live (safety requirements); the operations are static
        // and `priv_` outlives the attachment (detached before the box is dropped).
        inner.attach = from_err_ptr(unsafe {
            bindings::dma_buf_dynamic_attach(dma_buf, dev, &IMPORT_OPS.0, priv_.cast())
        })?;
        // SAFETY: `dma_buf` is live; its reservation object lives as long as it does.
        let resv = unsafe { (*dma_buf).resv };
        // SAFETY: As above; a NULL context locks just this object.
        let res = match unsafe { bindings::dma_resv_lock(resv, ptr::null_mut()) } {
            0 => {
                let res = inner.map_locked();
                // SAFETY: Locked above.
                unsafe { bindings::dma_resv_unlock(resv) };
                res
            }
            e => Err(Error::from_errno(e)),
        };
        match res {
            Ok(addr) => {
                inner.addr = addr;
                Ok(this)
            }
            Err(e) => {
                // SAFETY: The attachment was made above and has no mapping.
                unsafe { bindings::dma_buf_detach(dma_buf, inner.attach) };
                inner.attach = ptr::null_mut();
                Err(e)
            }
        }
    }

    /// The attachment, for the DRM core (`drm_gem_object.import_attach`).
    pub fn raw_attachment(&self) -> *mut bindings::dma_buf_attachment {
        self.attach
    }

    /// Maps the attachment if it is not mapped; returns the DMA address of the mapping.
    ///
    /// The caller holds the dma-buf's reservation lock.
    fn map_locked(&self) -> Result<u64> {
        let mut sgt = self.sgt.load(Ordering::Acquire);
        if sgt.is_null() {
            // SAFETY: `attach` is live (type invariant) and the reservation lock is held.
            sgt = from_err_ptr(unsafe {
                bindings::dma_buf_map_attachment(
                    self.attach,
                    bindings::dma_data_direction::DMA_BIDIRECTIONAL,
                )
            })?;
            // SAFETY: The exporter returned a valid table; only its DMA side is used.
            if unsafe { (*sgt).nents } != 1 {
                // SAFETY: `sgt` was mapped above for `attach`.
                unsafe {
                    bindings::dma_buf_unmap_attachment(
                        self.attach,
                        sgt,
                        bindings::dma_data_direction::DMA_BIDIRECTIONAL,
                    )
                };
                return Err(EINVAL);
            }
            self.sgt.store(sgt, Ordering::Release);
        }
        // SAFETY: `sgt` is the current mapping, with one entry; it stays mapped while the
        // lock is held.
        Ok(unsafe { (*(*sgt).sgl).dma_address })
    }

    /// Unmaps the current mapping, if any. The caller holds the reservation lock.
    fn unmap_locked(&self) {
        let sgt = self.sgt.swap(ptr::null_mut(), Ordering::AcqRel);
        if !sgt.is_null() {
            // SAFETY: `sgt` was mapped for `attach` (type invariant); the lock is held.
            unsafe {
                bindings::dma_buf_unmap_attachment(
                    self.attach,
                    sgt,
                    bindings::dma_data_direction::DMA_BIDIRECTIONAL,
                )
            };
        }
    }

    /// Makes sure the memory is mapped and returns its DMA address.
    ///
    /// Fails with `ENODEV` if the exporter revoked the memory and with `ESTALE` if it moved
    /// (users mapped the first address).
    ///
    /// # Safety
    ///
    /// The caller holds the dma-buf's reservation lock.
    pub unsafe fn validate_locked(&self) -> Result<u64> {
        let addr = self.map_locked()?;
        if addr != self.addr {
            return Err(ESTALE);
        }
        Ok(addr)
    }

    /// The DMA address the memory was first mapped at: the address users put in page tables.
    pub fn dma_address(&self) -> u64 {
        self.addr
    }

    /// How many times the exporter invalidated the mapping.
    pub fn invalidations(&self) -> u64 {
        self.invalidations.load(Relaxed)
    }

    /// Whether the memory is mapped now (it was not invalidated since it was last mapped).
    pub fn mapped(&self) -> bool {
        // Read without the lock: a snapshot for reporting.
        !self.sgt.load(Ordering::Relaxed).is_null()
    }

    /// Unmaps the memory before the attachment is detached (object release).
    pub fn release(&self) {
        if self.attach.is_null() || self.sgt.load(Ordering::Acquire).is_null() {
            return;
        }
        // SAFETY: The attachment is live, and so are its dma-buf and reservation object.
        let resv = unsafe { (*(*self.attach).dmabuf).resv };
        // SAFETY: As above; a NULL context cannot fail with EDEADLK, and without a signal
        // check the lock is always taken.
        unsafe { bindings::dma_resv_lock(resv, ptr::null_mut()) };
        self.unmap_locked();
        // SAFETY: Locked above.
        unsafe { bindings::dma_resv_unlock(resv) };
    }
}

/// Detaches an attachment made by [`PeerImport::attach`] whose import was dropped before an
/// object took it over.
///
/// # Safety
///
/// `attach` must be an attachment of `dma_buf` made by [`PeerImport::attach`], without a
/// mapping and not used any more.
pub unsafe fn detach(dma_buf: *mut bindings::dma_buf, attach: *mut bindings::dma_buf_attachment) {
    // SAFETY: By the safety requirements.
    unsafe { bindings::dma_buf_detach(dma_buf, attach) };
}

impl Drop for PeerImport {
    fn drop(&mut self) {
        // Normally unmapped already (the object's release unmaps before the DRM core
        // detaches); an import whose object could not be created is still attached here.
        self.release();
    }
}
