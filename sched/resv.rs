// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Reservation objects: the fences attached to a buffer.
//!
//! C header: [`include/linux/dma-resv.h`](srctree/include/linux/dma-resv.h)
//!
//! Every GEM object has a `dma_resv` that records the fences of the work that uses the buffer,
//! each with a [`Usage`]. Submitting a job that reads a buffer waits for its `WRITE` fences and
//! adds a `READ` fence; a job that writes waits for all fences and adds a `WRITE` fence. This is
//! the implicit synchronisation between drivers and processes that share buffers.
//!
//! Adding a fence needs a slot reserved beforehand, under the lock: reserve in the fallible
//! preparation of a job, add in its infallible push.
//!
//! A job with several buffers locks all their reservation objects together with [`ExecLock`]
//! (`drm_exec`: wound/wait locking with back-off), so that its dependencies, its push and its
//! fences are one atomic step for every other user of the buffers, on any device.

use crate::{
    bindings, drm::gem::IntoGEMObject, error::to_result, ffi, prelude::*, sync::aref::ARef,
    time::Delta, types::Opaque,
};
use core::ptr::NonNull;

use super::fence::Fence;

/// How the work behind a fence uses the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Usage {
    /// Kernel memory management (moves, clears); everyone waits for it.
    Kernel = bindings::dma_resv_usage_DMA_RESV_USAGE_KERNEL,
    /// The work writes the buffer.
    Write = bindings::dma_resv_usage_DMA_RESV_USAGE_WRITE,
    /// The work reads the buffer.
    Read = bindings::dma_resv_usage_DMA_RESV_USAGE_READ,
    /// Bookkeeping only; implicit synchronisation ignores it.
    Bookkeep = bindings::dma_resv_usage_DMA_RESV_USAGE_BOOKKEEP,
}

/// A reservation object.
///
/// # Invariants
///
/// The wrapped `dma_resv` is initialised and lives while a `&DmaResv` exists.
#[repr(transparent)]
pub struct DmaResv(Opaque<bindings::dma_resv>);

// SAFETY: `dma_resv` is protected by its ww-mutex and RCU.
unsafe impl Send for DmaResv {}
// SAFETY: See `Send`.
unsafe impl Sync for DmaResv {}

impl DmaResv {
    /// Borrows a C reservation object.
    ///
    /// # Safety
    ///
    /// `resv` must be an initialised `dma_resv` that lives for `'a`.
    pub unsafe fn from_raw<'a>(resv: *mut bindings::dma_resv) -> &'a Self {
        // SAFETY: Transparent wrapper; liveness is guaranteed by the caller.
        unsafe { &*resv.cast() }
    }

    fn as_raw(&self) -> *mut bindings::dma_resv {
        self.0.get()
    }

    /// Locks the object (without a ww acquire context: one object at a time).
    pub fn lock(&self) -> Result<ResvGuard<'_>> {
        // SAFETY: The object is live; a NULL context locks just this object.
        to_result(unsafe { bindings::dma_resv_lock(self.as_raw(), core::ptr::null_mut()) })?;
        Ok(ResvGuard {
            resv: self,
            reserved: 0,
        })
    }

    /// Whether every fence of `usage` (and of the usages before it) has signalled.
    pub fn test_signaled(&self, usage: Usage) -> bool {
        // SAFETY: The object is live; the function uses RCU.
        unsafe {
            bindings::dma_resv_test_signaled(self.as_raw(), usage as bindings::dma_resv_usage)
        }
    }

    /// Waits for the fences of `usage` for at most `timeout`; `ETIME` on timeout.
    pub fn wait(&self, usage: Usage, interruptible: bool, timeout: Delta) -> Result {
        // Non-negative by construction.
        let jiffies = super::timeout_jiffies(timeout) as ffi::c_ulong;
        // SAFETY: The object is live; the function takes references to the fences it waits on.
        let ret = unsafe {
            bindings::dma_resv_wait_timeout(
                self.as_raw(),
                usage as bindings::dma_resv_usage,
                interruptible,
                jiffies,
            )
        };
        match ret {
            0 => Err(ETIME),
            r if r < 0 => to_result(r as ffi::c_int),
            _ => Ok(()),
        }
    }

    /// Appends to `deps` the fences a job that reads the buffer (or writes it, with `write`)
    /// must wait for: a reader waits for the kernel's and the writers' fences, a writer also
    /// for the readers'. This is the implicit synchronisation of a job's buffers; the fences
    /// become the job's dependencies.
    ///
    /// Takes no lock; the fences are those attached at the time of the call.
    pub fn implicit_dependencies(&self, write: bool, deps: &mut KVec<ARef<Fence>>) -> Result {
        let usage = if write { Usage::Read } else { Usage::Write };
        let mut count: ffi::c_uint = 0;
        let mut array: *mut *mut bindings::dma_fence = core::ptr::null_mut();
        // SAFETY: The object is live; the function uses RCU and returns an array of `count`
        // fences with a reference each, allocated with `kmalloc`.
        to_result(unsafe {
            bindings::dma_resv_get_fences(
                self.as_raw(),
                usage as bindings::dma_resv_usage,
                &mut count,
                &mut array,
            )
        })?;
        let raw: &[*mut bindings::dma_fence] = if count == 0 {
            &[]
        } else {
            // SAFETY: `array` holds `count` fence pointers.
            unsafe { core::slice::from_raw_parts(array, count as usize) }
        };
        let room = deps.reserve(raw.len(), GFP_KERNEL);
        for &fence in raw {
            // SAFETY: Each entry is a live fence whose reference is handed over; it is dropped
            // here unless it joins `deps`.
            let fence = unsafe { Fence::from_owned_raw(NonNull::new_unchecked(fence)) };
            if room.is_ok() {
                // Room was reserved above.
                let _ = deps.push_within_capacity(fence);
            }
        }
        // SAFETY: The array was allocated by `dma_resv_get_fences` (or is NULL); its fence
        // references were taken over above.
        unsafe { bindings::kfree(array.cast()) };
        room.map_err(|_| ENOMEM)?;
        Ok(())
    }
}

/// A locked reservation object.
///
/// Fence slots reserved under the lock are counted, so that [`ResvGuard::add_fence`] can refuse
/// to add a fence without one instead of overflowing the fence list.
pub struct ResvGuard<'a> {
    resv: &'a DmaResv,
    reserved: u32,
}

impl ResvGuard<'_> {
    /// Reserves room for `count` more fences.
    pub fn reserve_fences(&mut self, count: u32) -> Result {
        let total = self.reserved.checked_add(count).ok_or(EINVAL)?;
        // SAFETY: The object is locked.
        to_result(unsafe { bindings::dma_resv_reserve_fences(self.resv.as_raw(), total) })?;
        self.reserved = total;
        Ok(())
    }

    /// Adds `fence` with `usage`, using a reserved slot (`ENOSPC` if none is left).
    pub fn add_fence(&mut self, fence: &Fence, usage: Usage) -> Result {
        self.reserved = self.reserved.checked_sub(1).ok_or(ENOSPC)?;
        // SAFETY: The object is locked and has a reserved slot; the list takes its own
        // reference to the fence.
        unsafe {
            bindings::dma_resv_add_fence(
                self.resv.as_raw(),
                fence.as_raw(),
                usage as bindings::dma_resv_usage,
            )
        };
        Ok(())
    }
}

impl Drop for ResvGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: The object was locked by `DmaResv::lock`.
        unsafe { bindings::dma_resv_unlock(self.resv.as_raw()) };
    }
}

/// `DRM_EXEC_INTERRUPTIBLE_WAIT` (`include/drm/drm_exec.h`, not a bindgen constant).
const DRM_EXEC_INTERRUPTIBLE_WAIT: u32 = 1 << 0;
/// `DRM_EXEC_IGNORE_DUPLICATES`: an object listed twice is locked once.
const DRM_EXEC_IGNORE_DUPLICATES: u32 = 1 << 1;

/// The reservation objects of several GEM objects, locked together (`drm_exec`).
///
/// # Invariants
///
/// `exec` was initialised by `drm_exec_init` and holds, locked and referenced, the
/// reservation objects of `objects`, each with `reserved[i]` fence slots left.
pub struct ExecLock {
    exec: KBox<Opaque<bindings::drm_exec>>,
    objects: KVec<*mut bindings::drm_gem_object>,
    reserved: KVec<u32>,
}

impl ExecLock {
    /// Locks the reservation objects of `objects`, interruptibly, and reserves `fences` slots
    /// in each. Contention with another locker backs off and retries (wound/wait), so two
    /// jobs that share buffers cannot deadlock whatever the order of their lists.
    pub fn lock<O: IntoGEMObject>(objects: &[&O], fences: u32) -> Result<Self> {
        let count = u32::try_from(objects.len()).map_err(|_| EINVAL)?;
        let mut raw = KVec::with_capacity(objects.len(), GFP_KERNEL)?;
        let mut reserved = KVec::with_capacity(objects.len(), GFP_KERNEL)?;
        for o in objects {
            raw.push(o.as_raw(), GFP_KERNEL)?;
            reserved.push(fences, GFP_KERNEL)?;
        }
        let exec = KBox::new(Opaque::<bindings::drm_exec>::uninit(), GFP_KERNEL)?;
        let e = exec.get();
        // SAFETY: `e` is valid memory for a `drm_exec`, which does not move (boxed).
        unsafe {
            bindings::drm_exec_init(
                e,
                DRM_EXEC_INTERRUPTIBLE_WAIT | DRM_EXEC_IGNORE_DUPLICATES,
                count,
            )
        };
        // The loop of `drm_exec_until_all_locked()`: `drm_exec_cleanup()` starts a round (and
        // after contention drops every lock and takes the contended one first); a round that
        // locked everything ends the loop.
        // SAFETY: `e` is initialised; the objects are live GEM objects, which `drm_exec`
        // references while it holds them.
        'round: while unsafe { bindings::drm_exec_cleanup(e) } {
            for &obj in raw.iter() {
                // SAFETY: `e` is initialised and `obj` is a live GEM object.
                let ret = unsafe { bindings::drm_exec_prepare_obj(e, obj, fences) };
                // SAFETY: `e` is initialised; `contended` is a plain field.
                if !unsafe { (*e).contended }.is_null() {
                    continue 'round;
                }
                if let Err(err) = to_result(ret) {
                    // SAFETY: `e` is initialised; this unlocks and releases what it holds.
                    unsafe { bindings::drm_exec_fini(e) };
                    return Err(err);
                }
            }
        }
        // INVARIANT: Every object is locked with `fences` slots reserved.
        Ok(Self {
            exec,
            objects: raw,
            reserved,
        })
    }

    /// Adds `fence` with `usage` to the reservation object of the `index`-th object, in one
    /// of its reserved slots (`ENOSPC` if none is left). Never allocates.
    pub fn add_fence(&mut self, index: usize, fence: &Fence, usage: Usage) -> Result {
        let obj = *self.objects.get(index).ok_or(EINVAL)?;
        // An object listed twice was locked once, with one set of slots: the first entry's.
        let first = self.objects.iter().position(|&o| o == obj).unwrap_or(index);
        let left = self.reserved.get_mut(first).ok_or(EINVAL)?;
        *left = left.checked_sub(1).ok_or(ENOSPC)?;
        // SAFETY: By the type invariant the object's reservation object is locked and has a
        // reserved slot; the list takes its own reference to the fence.
        unsafe {
            bindings::dma_resv_add_fence(
                (*obj).resv,
                fence.as_raw(),
                usage as bindings::dma_resv_usage,
            )
        };
        Ok(())
    }
}

impl Drop for ExecLock {
    fn drop(&mut self) {
        // SAFETY: By the type invariant `exec` is initialised; this unlocks every object and
        // drops the references it took.
        unsafe { bindings::drm_exec_fini(self.exec.get()) };
    }
}
