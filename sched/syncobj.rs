// SPDX-License-Identifier: GPL-2.0 OR MIT

//! DRM sync objects, for the in-fences and out-fences of job submission.
//!
//! A driver that sets `FEAT_SYNCOBJ` (and `FEAT_SYNCOBJ_TIMELINE`) gets the
//! `DRM_IOCTL_SYNCOBJ_*` ioctls from the DRM core; userspace then names syncobjs by handle in
//! its submissions. This module is the driver's side:
//!
//! - [`find_fence`] turns a handle and a timeline point (0 for a binary syncobj) into the
//!   fence to wait for, an in-fence of a job;
//! - [`SyncObjSignal`] installs a job's finished fence in a syncobj, an out-fence: binary
//!   syncobjs get their fence replaced, timeline syncobjs a new point. It is prepared with
//!   every allocation before the job is pushed, and installs infallibly afterwards, so that a
//!   submission never fails after its fences are published.
//!
//! C header: [`include/drm/drm_syncobj.h`](srctree/include/drm/drm_syncobj.h)

use crate::{
    bindings,
    drm::{file::DriverFile, File},
    error::to_result,
    prelude::*,
    sync::aref::{ARef, AlwaysRefCounted},
    types::Opaque,
};
use core::ptr::{self, NonNull};

use super::fence::Fence;

/// A DRM sync object: a container for a fence (binary) or a chain of points (timeline).
///
/// # Invariants
///
/// The wrapped `drm_syncobj` is initialised and its reference count is non-zero while a
/// `&SyncObj` exists.
#[repr(transparent)]
pub struct SyncObj(Opaque<bindings::drm_syncobj>);

// SAFETY: Sync objects are thread-safe: their fence is replaced under their lock and read
// under RCU.
unsafe impl Send for SyncObj {}
// SAFETY: See `Send`.
unsafe impl Sync for SyncObj {}

// SAFETY: The reference count of a `drm_syncobj` is its `kref`, managed by `drm_syncobj_get()`
// and `drm_syncobj_put()`.
unsafe impl AlwaysRefCounted for SyncObj {
    fn inc_ref(&self) {
        // SAFETY: The syncobj is live (type invariant).
        unsafe { bindings::drm_syncobj_get(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller owns a reference.
        unsafe { bindings::drm_syncobj_put(obj.as_ref().as_raw()) };
    }
}

impl SyncObj {
    fn as_raw(&self) -> *mut bindings::drm_syncobj {
        self.0.get()
    }

    /// Takes over a reference to a C syncobj.
    ///
    /// # Safety
    ///
    /// `raw` must be a live `drm_syncobj` whose reference the caller gives up.
    unsafe fn from_owned_raw(raw: NonNull<bindings::drm_syncobj>) -> ARef<Self> {
        // SAFETY: `SyncObj` is a transparent wrapper; by the safety requirements.
        unsafe { ARef::from_raw(raw.cast()) }
    }

    /// Creates a syncobj that is not in any file, empty or holding a signalled fence.
    pub fn new(signalled: bool) -> Result<ARef<Self>> {
        let flags = if signalled {
            bindings::DRM_SYNCOBJ_CREATE_SIGNALED
        } else {
            0
        };
        let mut raw = ptr::null_mut();
        // SAFETY: `raw` is a valid out pointer; without a fence argument the syncobj starts
        // empty (or with the stub fence for `DRM_SYNCOBJ_CREATE_SIGNALED`).
        to_result(unsafe { bindings::drm_syncobj_create(&mut raw, flags, ptr::null_mut()) })?;
        let raw = NonNull::new(raw).ok_or(ENOMEM)?;
        // SAFETY: `drm_syncobj_create()` returned a new reference.
        Ok(unsafe { Self::from_owned_raw(raw) })
    }

    /// Looks up the syncobj of `handle` in `file`; `ENOENT` if there is none.
    pub fn lookup<T: DriverFile>(file: &File<T>, handle: u32) -> Result<ARef<Self>> {
        // SAFETY: `file` is an open DRM file; the lookup takes a reference.
        let raw = unsafe { bindings::drm_syncobj_find(file.as_raw(), handle) };
        let raw = NonNull::new(raw).ok_or(ENOENT)?;
        // SAFETY: `drm_syncobj_find()` returned a new reference.
        Ok(unsafe { Self::from_owned_raw(raw) })
    }

    /// The syncobj's current fence (the last point of a timeline), if any.
    pub fn fence(&self) -> Option<ARef<Fence>> {
        // SAFETY: The syncobj is live; the helper returns a new reference or NULL.
        let raw = unsafe { bindings::drm_syncobj_fence_get(self.as_raw()) };
        // SAFETY: A non-NULL result is a reference we own.
        NonNull::new(raw).map(|f| unsafe { Fence::from_owned_raw(f) })
    }

    /// The fence of timeline `point` (0: the current fence, as [`SyncObj::fence`]).
    ///
    /// A point that has signalled and been collected yields the signalled stub fence.
    /// Fails with `EINVAL` if the syncobj has no fence or the point was not submitted yet.
    pub fn fence_at(&self, point: u64) -> Result<ARef<Fence>> {
        let fence = self.fence().ok_or(EINVAL)?;
        let mut raw = fence.as_raw();
        // SAFETY: `raw` is the reference `fence` owns. On success the walk releases it and
        // leaves a reference to the fence of `point` (or NULL for a collected point) in `raw`;
        // on failure it leaves `raw` alone and `fence` still owns its reference.
        to_result(unsafe { bindings::dma_fence_chain_find_seqno(&mut raw, point) })?;
        core::mem::forget(fence);
        match NonNull::new(raw) {
            // SAFETY: A non-NULL result is a reference we own.
            Some(f) => Ok(unsafe { Fence::from_owned_raw(f) }),
            None => Ok(Fence::signalled_stub()),
        }
    }

    /// Replaces the fence of a binary syncobj (`None` empties it).
    ///
    /// Takes the syncobj's spinlock and never allocates.
    pub fn replace_fence(&self, fence: Option<&Fence>) {
        let raw = fence.map_or(ptr::null_mut(), Fence::as_raw);
        // SAFETY: The syncobj is live; the syncobj takes its own reference to the fence.
        unsafe { bindings::drm_syncobj_replace_fence(self.as_raw(), raw) };
    }
}

/// The in-fence of `handle` in `file` at timeline `point` (0 for a binary syncobj).
///
/// Fails with `ENOENT` for an unknown handle and `EINVAL` for a syncobj without a fence or a
/// point that was not submitted yet. A point that already signalled yields a signalled fence.
pub fn find_fence<T: DriverFile>(file: &File<T>, handle: u32, point: u64) -> Result<ARef<Fence>> {
    let mut raw = ptr::null_mut();
    // SAFETY: `file` is an open DRM file and `raw` a valid out pointer. Without
    // `DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT` the lookup does not sleep.
    to_result(unsafe {
        bindings::drm_syncobj_find_fence(file.as_raw(), handle, point, 0, &mut raw)
    })?;
    let raw = NonNull::new(raw).ok_or(EINVAL)?;
    // SAFETY: On success the function returned a fence reference we own.
    Ok(unsafe { Fence::from_owned_raw(raw) })
}

/// A prepared out-fence: the syncobj and, for a timeline point, the preallocated chain node.
///
/// # Invariants
///
/// `chain` is NULL for point 0, and otherwise an unused `dma_fence_chain_alloc()` allocation
/// owned by `self`.
pub struct SyncObjSignal {
    syncobj: ARef<SyncObj>,
    point: u64,
    chain: *mut bindings::dma_fence_chain,
}

// SAFETY: The chain node is plain memory owned by `self`; the syncobj is thread-safe.
unsafe impl Send for SyncObjSignal {}
// SAFETY: `&SyncObjSignal` gives no access to the chain node.
unsafe impl Sync for SyncObjSignal {}

impl SyncObjSignal {
    /// Prepares to install a fence in the syncobj of `handle` in `file`, at timeline `point`
    /// (0 for a binary syncobj). Fails with `ENOENT` for an unknown handle and `ENOMEM`.
    pub fn prepare<T: DriverFile>(file: &File<T>, handle: u32, point: u64) -> Result<Self> {
        Self::new(SyncObj::lookup(file, handle)?, point)
    }

    /// Prepares to install a fence in `syncobj` at timeline `point` (0: replace its fence).
    pub fn new(syncobj: ARef<SyncObj>, point: u64) -> Result<Self> {
        let chain = if point == 0 {
            ptr::null_mut()
        } else {
            // SAFETY: Always safe to call; the node is freed by `Drop` or taken over by
            // `drm_syncobj_add_point()`.
            let chain = unsafe { bindings::dma_fence_chain_alloc() };
            if chain.is_null() {
                return Err(ENOMEM);
            }
            chain
        };
        // INVARIANT: `chain` is NULL for point 0 and a fresh allocation otherwise.
        Ok(Self {
            syncobj,
            point,
            chain,
        })
    }

    /// The syncobj the fence goes to.
    pub fn syncobj(&self) -> &SyncObj {
        &self.syncobj
    }

    /// Installs `fence`: a new timeline point, or the syncobj's new fence. Never fails and
    /// never allocates.
    pub fn install(mut self, fence: &Fence) {
        let chain = core::mem::take(&mut self.chain);
        if chain.is_null() {
            self.syncobj.replace_fence(Some(fence));
        } else {
            // SAFETY: `chain` is an unused chain allocation (type invariant), which the
            // syncobj takes over; the syncobj takes its own reference to the fence.
            unsafe {
                bindings::drm_syncobj_add_point(
                    self.syncobj.as_raw(),
                    chain,
                    fence.as_raw(),
                    self.point,
                )
            };
        }
    }
}

impl Drop for SyncObjSignal {
    fn drop(&mut self) {
        if !self.chain.is_null() {
            // SAFETY: The node was allocated and never used (type invariant).
            unsafe { bindings::dma_fence_chain_free(self.chain) };
        }
    }
}

#[kunit_tests(rust_drm_accel_syncobj)]
mod tests {
    use super::*;
    use crate::{drm::accel::sched::fence::Timeline, time::Delta};

    #[test]
    fn binary_fence_is_replaced() -> Result {
        let s = SyncObj::new(false)?;
        assert!(s.fence().is_none());
        assert_eq!(s.fence_at(0).err(), Some(EINVAL));
        let tl = Timeline::new(c"kunit", c"syncobj");
        let job = tl.new_fence()?;
        SyncObjSignal::new(s.clone(), 0)?.install(&job.fence());
        let f = s.fence().ok_or(EINVAL)?;
        assert_eq!(f.as_raw(), job.fence().as_raw());
        assert!(!f.is_signaled());
        job.signal(None);
        assert!(f.is_signaled());
        s.replace_fence(None);
        assert!(s.fence().is_none());
        assert!(SyncObj::new(true)?.fence().ok_or(EINVAL)?.is_signaled());
        Ok(())
    }

    #[test]
    fn timeline_points_are_found() -> Result {
        let s = SyncObj::new(false)?;
        let tl = Timeline::new(c"kunit", c"syncobj-timeline");
        let a = tl.new_fence()?;
        let b = tl.new_fence()?;
        // Prepared and dropped: nothing is installed and the chain node is freed.
        drop(SyncObjSignal::new(s.clone(), 1)?);
        assert!(s.fence().is_none());
        SyncObjSignal::new(s.clone(), 1)?.install(&a.fence());
        SyncObjSignal::new(s.clone(), 3)?.install(&b.fence());
        // Point 2 lies between 1 and 3: it is covered by point 3.
        let p1 = s.fence_at(1)?;
        let p3 = s.fence_at(3)?;
        assert_eq!(s.fence_at(4).err(), Some(EINVAL));
        assert!(!p1.is_signaled());
        a.signal(None);
        assert!(p1.is_signaled());
        assert!(!p3.is_signaled());
        assert_eq!(p3.wait(false, Delta::from_millis(10)), Err(ETIME));
        let bf = b.fence();
        b.signal(Some(EIO));
        p3.wait(false, Delta::from_secs(1))?;
        // A timeline point is a `dma_fence_chain` node: it signals with its fence, but does
        // not carry the fence's error (the DRM core's behaviour for timeline syncobjs).
        assert_eq!(bf.status(), Some(Err(EIO)));
        assert_eq!(p3.status(), Some(Ok(())));
        // Once signalled, points may be collected: the lookup still yields a signalled fence.
        assert!(s.fence_at(3)?.is_signaled());
        Ok(())
    }
}
