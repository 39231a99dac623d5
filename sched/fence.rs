// SPDX-License-Identifier: GPL-2.0 OR MIT

//! DMA fences.
//!
//! C header: [`include/linux/dma-fence.h`](srctree/include/linux/dma-fence.h)
//!
//! A DMA fence is a one-shot event: it starts unsignalled and is signalled exactly once,
//! possibly with an error. The fences of a [`Timeline`] share a fence context and have
//! increasing sequence numbers; they must signal in that order.
//!
//! The API is split in two, as the rules of the DMA fence contract require:
//!
//! - [`PendingFence`] is the producer. There is exactly one per fence; only it can signal, and
//!   it is consumed by signalling. It is allocated before the fence is published, so that the
//!   signalling path never allocates. Dropping it without signalling signals the fence with
//!   `ECANCELED`: every fence that has been published signals eventually.
//! - [`Fence`] is the consumer: a reference-counted handle that can be waited on, queried and
//!   given callbacks, and handed to the rest of the kernel (`dma_resv`, sync files, syncobjs).
//!
//! # Memory
//!
//! The `dma_fence` is the first field of a `kmalloc` allocation whose other fields are plain
//! `'static` references, so the DMA fence core frees it with `kfree_rcu()` when the last
//! reference goes: readers under RCU (`dma_resv` iterators) never see freed memory. The
//! operations table and the name callbacks are part of the kernel image, not of a module.
//! After signalling, the DMA fence core no longer calls the name callbacks, so the names only
//! need to outlive the signalling; a module that creates fences must still signal them all and
//! call [`rcu_barrier()`](crate::sync::rcu::rcu_barrier) before it is unloaded.
//!
//! # Signalling sections
//!
//! Code that runs on the way to signalling a fence (job submission to the hardware, interrupt
//! handlers, timeout handlers) must not allocate with `GFP_KERNEL` nor take locks that are
//! held while waiting on fences. [`SignallingSection`] marks such code for lockdep with
//! `dma_fence_begin_signalling()`; [`PendingFence::signal`] opens one itself.

use crate::{
    bindings,
    error::to_result,
    ffi,
    prelude::*,
    sync::aref::{ARef, AlwaysRefCounted},
    time::Delta,
    types::Opaque,
};
use core::{
    marker::PhantomData,
    ptr::NonNull,
    sync::atomic::{AtomicU64, Ordering},
};

/// The memory of a fence of this module.
///
/// # Invariants
///
/// `base` is the first field, so that `dma_fence_free()` (`kfree_rcu()` of `base`) frees the
/// whole allocation; the other fields need no drop.
#[repr(C)]
struct RawFence {
    base: Opaque<bindings::dma_fence>,
    driver_name: &'static CStr,
    timeline_name: &'static CStr,
}

impl RawFence {
    /// # Safety
    ///
    /// `fence` must be the `base` of a live [`RawFence`].
    unsafe fn from_base<'a>(fence: *mut bindings::dma_fence) -> &'a Self {
        // SAFETY: `base` is the first field of the `repr(C)` struct.
        unsafe { &*fence.cast::<Self>() }
    }

    extern "C" fn driver_name(fence: *mut bindings::dma_fence) -> *const ffi::c_char {
        // SAFETY: The operations are only installed on fences of this type.
        unsafe { Self::from_base(fence) }.driver_name.as_char_ptr()
    }

    extern "C" fn timeline_name(fence: *mut bindings::dma_fence) -> *const ffi::c_char {
        // SAFETY: The operations are only installed on fences of this type.
        unsafe { Self::from_base(fence) }
            .timeline_name
            .as_char_ptr()
    }
}

/// Operations of the fences of this module. Signalling is always enabled (fences are signalled
/// explicitly by their producer), waits use the default implementation and the memory is freed
/// by the DMA fence core.
static FENCE_OPS: bindings::dma_fence_ops = {
    let mut ops: bindings::dma_fence_ops = pin_init::zeroed();
    ops.get_driver_name = Some(RawFence::driver_name);
    ops.get_timeline_name = Some(RawFence::timeline_name);
    ops
};

/// The memory of two fences allocated together by [`Timeline::new_fence_pair`].
///
/// # Invariants
///
/// `second` is the first field: the DMA fence core frees the allocation with `kfree_rcu()` of
/// its `base` when the second fence's last reference goes. The first fence holds one reference
/// to the second, dropped when its own last reference goes, so the memory of both lives until
/// both are released and an RCU grace period has passed.
#[repr(C)]
struct RawFencePair {
    second: RawFence,
    first: RawFence,
}

impl RawFencePair {
    /// Releases the first fence of a pair: drops its reference to the second, which frees the
    /// pair when it was the last.
    extern "C" fn release_first(fence: *mut bindings::dma_fence) {
        // SAFETY: These operations are only installed on the `first` fence of a pair, whose
        // `base` is the first field of `first`.
        let pair = unsafe { crate::container_of!(fence.cast::<RawFence>(), Self, first) };
        // SAFETY: The pair is live: the first fence holds a reference to the second, given up
        // here.
        unsafe { bindings::dma_fence_put((*pair).second.base.get()) };
    }
}

/// Operations of the first fence of a pair: those of [`FENCE_OPS`], and a release that drops
/// the reference to the second fence instead of freeing memory.
static FIRST_OF_PAIR_OPS: bindings::dma_fence_ops = {
    let mut ops: bindings::dma_fence_ops = pin_init::zeroed();
    ops.get_driver_name = Some(RawFence::driver_name);
    ops.get_timeline_name = Some(RawFence::timeline_name);
    ops.release = Some(RawFencePair::release_first);
    ops
};

/// A timeline: a DMA fence context and its sequence numbers.
pub struct Timeline {
    context: u64,
    next_seqno: AtomicU64,
    driver_name: &'static CStr,
    name: &'static CStr,
}

impl Timeline {
    /// Allocates a new fence context. `driver_name` and `name` are what `sync_file` and debugfs
    /// report for its unsignalled fences.
    pub fn new(driver_name: &'static CStr, name: &'static CStr) -> Self {
        Self {
            // SAFETY: Always safe to call.
            context: unsafe { bindings::dma_fence_context_alloc(1) },
            next_seqno: AtomicU64::new(1),
            driver_name,
            name,
        }
    }

    /// The fence context of the timeline.
    pub fn context(&self) -> u64 {
        self.context
    }

    /// Allocates the next fence of the timeline.
    ///
    /// The fence takes the next sequence number: fences must be signalled in the order they
    /// were created.
    pub fn new_fence(&self) -> Result<PendingFence> {
        Ok(self.arm_fence(FenceMemory::new()?))
    }

    /// Turns `mem` into the next fence of the timeline without allocating.
    ///
    /// Like [`Timeline::arm_fence_pair`], this is the step that takes the sequence number: a
    /// producer that must not allocate where it publishes fences (the `run` step of a job
    /// queue's backend, which is a fence signalling section) allocates the memory early and
    /// arms it under the lock that orders its fences.
    pub fn arm_fence(&self, mem: FenceMemory) -> PendingFence {
        let mut raw = mem.raw;
        raw.driver_name = self.driver_name;
        raw.timeline_name = self.name;
        let seqno = self.next_seqno.fetch_add(1, Ordering::Relaxed);
        let base = raw.base.get();
        // INVARIANT: From here on the allocation belongs to the fence's reference count; the
        // DMA fence core frees it with `kfree_rcu()` of `base`, its first field.
        let _ = KBox::into_raw(raw);
        // SAFETY: `base` is valid, uninitialised memory for a `dma_fence`. A NULL lock selects
        // the fence's inline lock. The operations are static.
        unsafe {
            bindings::dma_fence_init64(base, &FENCE_OPS, core::ptr::null_mut(), self.context, seqno)
        };
        // SAFETY: `dma_fence_init64` initialised the fence with a reference count of one,
        // which the producer takes over.
        let fence = unsafe { ARef::from_raw(NonNull::new_unchecked(base.cast::<Fence>())) };
        PendingFence { fence }
    }

    /// Allocates the next fence of `self` and the next fence of `second` together, in one
    /// allocation, for two fences where the first signals before the second, such as the
    /// scheduled and finished fences of a job.
    ///
    /// Both are ordinary fences: each may be signalled, shared and released independently of
    /// the other; the memory goes when both are released.
    pub fn new_fence_pair(&self, second: &Timeline) -> Result<(PendingFence, PendingFence)> {
        Ok(self.arm_fence_pair(second, FencePairMemory::new()?))
    }

    /// Turns `mem` into the next fence of `self` and the next fence of `second`, as
    /// [`Timeline::new_fence_pair`] does, without allocating.
    ///
    /// This is the step that takes the sequence numbers: a caller whose fences are created on
    /// several threads but must signal in order (the jobs of a queue) allocates the memory
    /// early and arms it under the lock that orders the fences.
    pub fn arm_fence_pair(
        &self,
        second: &Timeline,
        mem: FencePairMemory,
    ) -> (PendingFence, PendingFence) {
        let mut raw = mem.raw;
        raw.second.driver_name = second.driver_name;
        raw.second.timeline_name = second.name;
        raw.first.driver_name = self.driver_name;
        raw.first.timeline_name = self.name;
        let first_seqno = self.next_seqno.fetch_add(1, Ordering::Relaxed);
        let second_seqno = second.next_seqno.fetch_add(1, Ordering::Relaxed);
        let first = raw.first.base.get();
        let second_base = raw.second.base.get();
        // INVARIANT: From here on the allocation belongs to the second fence's reference count,
        // and the first fence holds a reference to the second (taken below).
        let _ = KBox::into_raw(raw);
        // SAFETY: Both are valid, uninitialised memory for a `dma_fence`; NULL locks select the
        // inline locks; the operations are static.
        unsafe {
            bindings::dma_fence_init64(
                second_base,
                &FENCE_OPS,
                core::ptr::null_mut(),
                second.context,
                second_seqno,
            );
            bindings::dma_fence_init64(
                first,
                &FIRST_OF_PAIR_OPS,
                core::ptr::null_mut(),
                self.context,
                first_seqno,
            );
            // The first fence's reference to the second, dropped by `release_first`.
            bindings::dma_fence_get(second_base);
        }
        // SAFETY: Each fence was initialised with a reference count of one, which its producer
        // takes over.
        let (first, second) = unsafe {
            (
                ARef::from_raw(NonNull::new_unchecked(first.cast::<Fence>())),
                ARef::from_raw(NonNull::new_unchecked(second_base.cast::<Fence>())),
            )
        };
        (
            PendingFence { fence: first },
            PendingFence { fence: second },
        )
    }
}

/// The memory of a fence that has no sequence number yet: see [`Timeline::arm_fence`].
/// Dropping it frees the memory; no fence was ever published.
pub struct FenceMemory {
    raw: KBox<RawFence>,
}

// SAFETY: The memory of a fence that was not armed is plain memory that nothing else refers to:
// it may move to, and be freed on, any thread.
unsafe impl Send for FenceMemory {}

// SAFETY: A shared `FenceMemory` gives access to nothing.
unsafe impl Sync for FenceMemory {}

impl FenceMemory {
    /// Allocates the memory of a fence.
    pub fn new() -> Result<Self> {
        // The names are set when the fence is armed.
        let raw = KBox::new(
            RawFence {
                base: Opaque::uninit(),
                driver_name: c"",
                timeline_name: c"",
            },
            GFP_KERNEL,
        )?;
        Ok(Self { raw })
    }
}

/// The memory of a pair of fences that have no sequence numbers yet: see
/// [`Timeline::arm_fence_pair`]. Dropping it frees the memory; no fence was ever published.
pub struct FencePairMemory {
    raw: KBox<RawFencePair>,
}

impl FencePairMemory {
    /// Allocates the memory of two fences.
    pub fn new() -> Result<Self> {
        // The names are set when the pair is armed.
        let unarmed = || RawFence {
            base: Opaque::uninit(),
            driver_name: c"",
            timeline_name: c"",
        };
        let raw = KBox::new(
            RawFencePair {
                second: unarmed(),
                first: unarmed(),
            },
            GFP_KERNEL,
        )?;
        Ok(Self { raw })
    }
}

/// A reference-counted DMA fence: the consumer side.
///
/// # Invariants
///
/// The wrapped `dma_fence` is initialised and its reference count is non-zero while a
/// `&Fence` exists.
#[repr(transparent)]
pub struct Fence(Opaque<bindings::dma_fence>);

// SAFETY: DMA fences are thread-safe: every state change happens under the fence lock or with
// atomic bit operations.
unsafe impl Send for Fence {}
// SAFETY: See `Send`.
unsafe impl Sync for Fence {}

// SAFETY: The reference count of a `dma_fence` is its `kref`, managed by `dma_fence_get()` and
// `dma_fence_put()`.
unsafe impl AlwaysRefCounted for Fence {
    fn inc_ref(&self) {
        // SAFETY: The fence is live (type invariant).
        unsafe { bindings::dma_fence_get(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller owns a reference.
        unsafe { bindings::dma_fence_put(obj.as_ref().as_raw()) };
    }
}

impl Fence {
    /// Returns the raw `dma_fence`.
    pub fn as_raw(&self) -> *mut bindings::dma_fence {
        self.0.get()
    }

    /// Borrows a C fence.
    ///
    /// # Safety
    ///
    /// `fence` must be a live, initialised `dma_fence` that stays referenced for `'a`.
    pub unsafe fn from_raw<'a>(fence: *mut bindings::dma_fence) -> &'a Self {
        // SAFETY: `Fence` is a transparent wrapper; liveness is guaranteed by the caller.
        unsafe { &*fence.cast::<Self>() }
    }

    /// Takes over a reference to a C fence.
    ///
    /// # Safety
    ///
    /// `fence` must be a live `dma_fence` whose reference the caller gives up.
    pub unsafe fn from_owned_raw(fence: NonNull<bindings::dma_fence>) -> ARef<Self> {
        // SAFETY: By the safety requirements.
        unsafe { ARef::from_raw(fence.cast()) }
    }

    /// Returns the kernel's signalled stub fence: a fence for work that is already done.
    pub fn signalled_stub() -> ARef<Self> {
        // SAFETY: `dma_fence_get_stub` returns a new reference to a live, signalled fence; it
        // never returns NULL.
        unsafe {
            ARef::from_raw(NonNull::new_unchecked(
                bindings::dma_fence_get_stub().cast(),
            ))
        }
    }

    /// The fence context.
    pub fn context(&self) -> u64 {
        // SAFETY: `context` never changes after initialisation.
        unsafe { (*self.as_raw()).context }
    }

    /// The sequence number within the context.
    pub fn seqno(&self) -> u64 {
        // SAFETY: `seqno` never changes after initialisation.
        unsafe { (*self.as_raw()).seqno }
    }

    /// Whether the fence has signalled.
    pub fn is_signaled(&self) -> bool {
        // SAFETY: The fence is live.
        unsafe { bindings::dma_fence_is_signaled(self.as_raw()) }
    }

    /// Whether the fence is known to have signalled, from its flag alone.
    ///
    /// Unlike [`Fence::is_signaled`], this never calls into the fence's provider (whose
    /// `signaled` callback may signal the fence and run its callbacks), so it may be used under
    /// locks that foreign callbacks must not run under. A fence with a callback registered
    /// signals by itself, so for such a fence the flag is enough.
    pub fn test_signaled_flag(&self) -> bool {
        // SAFETY: The fence is live; `flags` is only changed with atomic bit operations.
        let flags = unsafe {
            core::sync::atomic::AtomicUsize::from_ptr((&raw mut (*self.as_raw()).flags).cast())
        };
        let bit = 1 << bindings::dma_fence_flag_bits_DMA_FENCE_FLAG_SIGNALED_BIT;
        flags.load(Ordering::Acquire) & bit != 0
    }

    /// The outcome: `None` while unsignalled, then `Ok(())` or the error it signalled with.
    pub fn status(&self) -> Option<Result> {
        // SAFETY: The fence is live.
        match unsafe { bindings::dma_fence_get_status(self.as_raw()) } {
            0 => None,
            1 => Some(Ok(())),
            e => Some(Err(Error::from_errno(e))),
        }
    }

    /// Waits until the fence signals, for at most `timeout`.
    ///
    /// Returns `ETIME` on timeout and `ERESTARTSYS` if `interruptible` and a signal arrived.
    /// The outcome of the fence itself is in [`Fence::status`].
    pub fn wait(&self, interruptible: bool, timeout: Delta) -> Result {
        let jiffies = super::timeout_jiffies(timeout);
        // SAFETY: The fence is live.
        let ret =
            unsafe { bindings::dma_fence_wait_timeout(self.as_raw(), interruptible, jiffies) };
        match ret {
            0 => Err(ETIME),
            r if r < 0 => to_result(r as ffi::c_int),
            _ => Ok(()),
        }
    }

    /// Exports the fence as a sync file and returns its new file descriptor.
    pub fn export_sync_file(&self) -> Result<u32> {
        let fd =
            crate::fs::file::FileDescriptorReservation::get_unused_fd_flags(bindings::O_CLOEXEC)?;
        // SAFETY: The fence is live; the sync file takes its own reference.
        let sync_file = unsafe { bindings::sync_file_create(self.as_raw()) };
        if sync_file.is_null() {
            return Err(ENOMEM);
        }
        // SAFETY: `sync_file_create` returned a sync file whose `file` holds the only
        // reference, which we take over.
        let file = unsafe {
            ARef::from_raw(NonNull::from(crate::fs::File::from_raw_file(
                (*sync_file).file,
            )))
        };
        let raw = fd.reserved_fd();
        fd.fd_install(file);
        Ok(raw)
    }

    /// Returns the fence of the sync file `fd`: `EINVAL` if `fd` is not a sync file.
    pub fn from_sync_file(fd: i32) -> Result<ARef<Self>> {
        // SAFETY: Always safe to call; it takes a reference to the fence it returns.
        let fence = unsafe { bindings::sync_file_get_fence(fd) };
        // SAFETY: A non-NULL result is a fence reference we own.
        NonNull::new(fence)
            .map(|f| unsafe { Self::from_owned_raw(f) })
            .ok_or(EINVAL)
    }

    /// Registers `cb`, to be called once when the fence signals.
    ///
    /// Fails with `ENOENT`, handing `cb` back, if the fence has signalled already. The callback
    /// runs with the fence lock held and interrupts disabled: it must not sleep or allocate.
    pub fn add_callback<T: FenceCallback>(
        &self,
        cb: Pin<KBox<Callback<T>>>,
    ) -> core::result::Result<CallbackRegistration<T>, Pin<KBox<Callback<T>>>> {
        // SAFETY: We never move out of the box; the pointer is handed to C until the callback
        // ran or was removed.
        let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(cb) });
        // SAFETY: `raw` is a valid, pinned callback node; the fence is live.
        let ret = unsafe {
            bindings::dma_fence_add_callback(
                self.as_raw(),
                (*raw).cb.get(),
                Some(Callback::<T>::trampoline),
            )
        };
        if ret != 0 {
            // SAFETY: The node was not added; we own it again.
            return Err(unsafe { Pin::new_unchecked(KBox::from_raw(raw)) });
        }
        Ok(CallbackRegistration {
            fence: self.into(),
            node: raw,
            _p: PhantomData,
        })
    }
}

/// Something to do when a fence signals.
pub trait FenceCallback: Send + Sync + 'static {
    /// Called once, in atomic context, with the signalled fence.
    fn signalled(&self, fence: &Fence);
}

/// A preallocated callback node: the `dma_fence_cb` and the callback's data.
#[pin_data]
pub struct Callback<T: FenceCallback> {
    #[pin]
    cb: Opaque<bindings::dma_fence_cb>,
    /// Set by the trampoline once the callback has run.
    done: core::sync::atomic::AtomicBool,
    data: T,
}

// SAFETY: The `dma_fence_cb` is only touched by the DMA fence core, under the fence lock, and
// the data is `Send + Sync`.
unsafe impl<T: FenceCallback> Send for Callback<T> {}
// SAFETY: See `Send`.
unsafe impl<T: FenceCallback> Sync for Callback<T> {}

impl<T: FenceCallback> Callback<T> {
    /// Allocates a callback node for `data`, before any signalling section.
    pub fn new(data: T) -> Result<Pin<KBox<Self>>> {
        KBox::pin_init(
            pin_init!(Self {
                cb <- Opaque::uninit(),
                done: core::sync::atomic::AtomicBool::new(false),
                data,
            }),
            GFP_KERNEL,
        )
    }

    /// The callback's data.
    pub fn data(&self) -> &T {
        &self.data
    }

    extern "C" fn trampoline(fence: *mut bindings::dma_fence, cb: *mut bindings::dma_fence_cb) {
        // SAFETY: `cb` is the `cb` field of a `Callback<T>` registered by `add_callback`, which
        // stays allocated until the registration is dropped, after the callback ran or was
        // removed.
        let this = unsafe { &*crate::container_of!(Opaque::cast_from(cb), Self, cb) };
        // SAFETY: The DMA fence core holds a reference to the fence while it signals.
        this.data.signalled(unsafe { Fence::from_raw(fence) });
        this.done.store(true, Ordering::Release);
    }
}

/// A registered callback; dropping it removes the callback if it has not run.
///
/// # Invariants
///
/// `node` is a callback node from `KBox::into_raw`, added to `fence`.
pub struct CallbackRegistration<T: FenceCallback> {
    fence: ARef<Fence>,
    node: *mut Callback<T>,
    _p: PhantomData<T>,
}

// SAFETY: The node's data is `Send + Sync`; the fence is thread-safe.
unsafe impl<T: FenceCallback> Send for CallbackRegistration<T> {}
// SAFETY: See `Send`.
unsafe impl<T: FenceCallback> Sync for CallbackRegistration<T> {}

impl<T: FenceCallback> CallbackRegistration<T> {
    /// Whether the callback has run.
    pub fn has_run(&self) -> bool {
        // SAFETY: `node` is live (type invariant).
        unsafe { (*self.node).done.load(Ordering::Acquire) }
    }

    /// The callback's data.
    pub fn data(&self) -> &T {
        // SAFETY: `node` is live (type invariant).
        unsafe { &(*self.node).data }
    }

    /// Removes the callback if it has not run and hands the node back, ready to be added to
    /// another fence. Never allocates: the node can be reused in a signalling section.
    pub fn remove(self) -> Pin<KBox<Callback<T>>> {
        let this = core::mem::ManuallyDrop::new(self);
        let node = this.detach();
        // SAFETY: `this` is not used after this point and its destructor does not run; the
        // fence reference is released exactly once, here.
        drop(unsafe { core::ptr::read(&this.fence) });
        // SAFETY: The node is no longer referenced by the fence.
        let node = unsafe { KBox::from_raw(node) };
        node.done.store(false, Ordering::Relaxed);
        // SAFETY: The node was pinned when it was added and is not moved out of its box.
        unsafe { Pin::new_unchecked(node) }
    }

    /// Removes the callback from the fence, after which the fence no longer references the
    /// node. Removal takes the fence lock, so once it returns the callback is either removed
    /// or has finished running (the DMA fence core runs callbacks under that lock).
    fn detach(&self) -> *mut Callback<T> {
        // SAFETY: `node` is live and was added to `fence` (type invariant).
        unsafe { bindings::dma_fence_remove_callback(self.fence.as_raw(), (*self.node).cb.get()) };
        self.node
    }
}

impl<T: FenceCallback> Drop for CallbackRegistration<T> {
    fn drop(&mut self) {
        let node = self.detach();
        // SAFETY: The node is no longer referenced by the fence.
        drop(unsafe { KBox::from_raw(node) });
    }
}

/// The producer of a fence: the only owner that can signal it.
///
/// Dropping an unsignalled producer signals the fence with `ECANCELED`.
pub struct PendingFence {
    fence: ARef<Fence>,
}

impl PendingFence {
    /// The consumer side, to publish.
    pub fn fence(&self) -> ARef<Fence> {
        self.fence.clone()
    }

    /// The sequence number of the fence.
    pub fn seqno(&self) -> u64 {
        self.fence.seqno()
    }

    /// Signals the fence, successfully or with `error`.
    pub fn signal(self, error: Option<Error>) {
        self.signal_inner(error);
    }

    fn signal_inner(&self, error: Option<Error>) {
        let _section = SignallingSection::begin();
        if let Some(e) = error {
            // SAFETY: The fence has not signalled: only this producer signals, once (`signal`
            // consumes it, `drop` only signals an unsignalled fence).
            unsafe { bindings::dma_fence_set_error(self.fence.as_raw(), e.to_errno()) };
        }
        // SAFETY: The fence is live.
        unsafe { bindings::dma_fence_signal(self.fence.as_raw()) };
    }
}

impl Drop for PendingFence {
    fn drop(&mut self) {
        if !self.fence.is_signaled() {
            self.signal_inner(Some(ECANCELED));
        }
    }
}

/// A fence signalling critical section (`dma_fence_begin_signalling()`), ended on drop.
pub struct SignallingSection {
    cookie: bool,
    _not_send: PhantomData<*mut ()>,
}

impl SignallingSection {
    /// Opens a section.
    pub fn begin() -> Self {
        Self {
            // SAFETY: Always safe to call.
            cookie: unsafe { bindings::dma_fence_begin_signalling() },
            _not_send: PhantomData,
        }
    }
}

impl Drop for SignallingSection {
    fn drop(&mut self) {
        // SAFETY: The cookie comes from the matching `dma_fence_begin_signalling()`.
        unsafe { bindings::dma_fence_end_signalling(self.cookie) };
    }
}

#[kunit_tests(rust_drm_accel_fence)]
mod tests {
    use super::*;
    use core::sync::atomic::AtomicU32;

    fn timeline() -> Timeline {
        Timeline::new(c"kunit", c"kunit-timeline")
    }

    #[test]
    fn signal_once_in_order() -> Result {
        let tl = timeline();
        let a = tl.new_fence()?;
        let b = tl.new_fence()?;
        let (fa, fb) = (a.fence(), b.fence());
        assert_eq!(fa.context(), tl.context());
        assert_eq!(fb.seqno(), fa.seqno() + 1);
        assert!(!fa.is_signaled());
        assert!(fa.status().is_none());
        a.signal(None);
        assert!(fa.is_signaled());
        assert_eq!(fa.status(), Some(Ok(())));
        assert!(!fb.is_signaled());
        b.signal(Some(EIO));
        assert_eq!(fb.status(), Some(Err(EIO)));
        Ok(())
    }

    #[test]
    fn pairs_are_released_in_any_order() -> Result {
        let (tl1, tl2) = (timeline(), Timeline::new(c"kunit", c"kunit-second"));
        // The first fence's consumer outlives the second's, then the other way round; KASAN
        // and kmemleak check the shared memory.
        for first_goes_last in [true, false] {
            let (p1, p2) = tl1.new_fence_pair(&tl2)?;
            let (f1, f2) = (p1.fence(), p2.fence());
            assert_eq!(f1.context(), tl1.context());
            assert_eq!(f2.context(), tl2.context());
            assert_ne!(f1.as_raw(), f2.as_raw());
            p1.signal(None);
            assert!(f1.is_signaled() && !f2.is_signaled());
            p2.signal(Some(EIO));
            assert_eq!(f2.status(), Some(Err(EIO)));
            if first_goes_last {
                drop(f2);
                assert_eq!(f1.status(), Some(Ok(())));
                drop(f1);
            } else {
                drop(f1);
                assert_eq!(f2.status(), Some(Err(EIO)));
                drop(f2);
            }
        }
        // Dropped unsignalled producers cancel both.
        let (p1, p2) = tl1.new_fence_pair(&tl2)?;
        let (f1, f2) = (p1.fence(), p2.fence());
        drop(p2);
        drop(p1);
        assert_eq!(f1.status(), Some(Err(ECANCELED)));
        assert_eq!(f2.status(), Some(Err(ECANCELED)));
        Ok(())
    }

    #[test]
    fn pair_memory_takes_numbers_when_armed() -> Result {
        let (tl1, tl2) = (timeline(), Timeline::new(c"kunit", c"kunit-second"));
        let (m1, m2) = (FencePairMemory::new()?, FencePairMemory::new()?);
        // Memory that is never armed publishes nothing and takes no number.
        drop(FencePairMemory::new()?);
        let (b1, b2) = tl1.arm_fence_pair(&tl2, m2);
        let (a1, a2) = tl1.arm_fence_pair(&tl2, m1);
        assert_eq!(a1.seqno(), b1.seqno() + 1);
        assert_eq!(a2.seqno(), b2.seqno() + 1);
        assert_eq!(b2.fence().context(), tl2.context());
        let f = b2.fence();
        assert!(!f.test_signaled_flag());
        b1.signal(None);
        b2.signal(None);
        assert!(f.test_signaled_flag());
        a1.signal(None);
        a2.signal(Some(EIO));
        Ok(())
    }

    #[test]
    fn memory_takes_its_number_when_armed() -> Result {
        let tl = timeline();
        let (m1, m2) = (FenceMemory::new()?, FenceMemory::new()?);
        drop(FenceMemory::new()?);
        // Armed in the other order than allocated: numbers follow the arming.
        let b = tl.arm_fence(m2);
        let a = tl.arm_fence(m1);
        assert_eq!(a.seqno(), b.seqno() + 1);
        assert_eq!(a.fence().context(), tl.context());
        let c = tl.new_fence()?;
        assert_eq!(c.seqno(), a.seqno() + 1);
        let f = a.fence();
        b.signal(None);
        a.signal(Some(EIO));
        assert_eq!(f.status(), Some(Err(EIO)));
        c.signal(None);
        Ok(())
    }

    #[test]
    fn dropped_producer_cancels() -> Result {
        let tl = timeline();
        let p = tl.new_fence()?;
        let f = p.fence();
        drop(p);
        assert_eq!(f.status(), Some(Err(ECANCELED)));
        Ok(())
    }

    #[test]
    fn wait_times_out_then_succeeds() -> Result {
        let tl = timeline();
        let p = tl.new_fence()?;
        let f = p.fence();
        assert_eq!(f.wait(false, Delta::from_millis(10)), Err(ETIME));
        p.signal(None);
        f.wait(true, Delta::from_millis(10))?;
        Ok(())
    }

    struct Count(AtomicU32);

    impl FenceCallback for Count {
        fn signalled(&self, fence: &Fence) {
            assert!(fence.is_signaled());
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn callbacks_run_once() -> Result {
        let tl = timeline();
        let p = tl.new_fence()?;
        let f = p.fence();
        let reg = f
            .add_callback(Callback::new(Count(AtomicU32::new(0)))?)
            .map_err(|_| EINVAL)?;
        let removed = f
            .add_callback(Callback::new(Count(AtomicU32::new(0)))?)
            .map_err(|_| EINVAL)?;
        drop(removed);
        assert!(!reg.has_run());
        p.signal(None);
        assert!(reg.has_run());
        assert_eq!(reg.data().0.load(Ordering::Relaxed), 1);
        // A signalled fence takes no callbacks.
        let late = f.add_callback(Callback::new(Count(AtomicU32::new(0)))?);
        assert!(late.is_err());
        Ok(())
    }

    #[test]
    fn resv_tracks_fences() -> Result {
        use super::super::resv::{DmaResv, Usage};
        let raw: KBox<Opaque<bindings::dma_resv>> = KBox::new(Opaque::uninit(), GFP_KERNEL)?;
        // SAFETY: `raw` is valid memory for a `dma_resv`.
        unsafe { bindings::dma_resv_init(raw.get()) };
        {
            // SAFETY: Initialised above; finalised below, after the last use.
            let resv = unsafe { DmaResv::from_raw(raw.get()) };
            let tl = timeline();
            let (w, r) = (tl.new_fence()?, tl.new_fence()?);
            {
                let mut guard = resv.lock()?;
                assert_eq!(guard.add_fence(&w.fence(), Usage::Write), Err(ENOSPC));
                guard.reserve_fences(2)?;
                guard.add_fence(&w.fence(), Usage::Write)?;
                let other = timeline();
                let o = other.new_fence()?;
                guard.add_fence(&o.fence(), Usage::Read)?;
                assert_eq!(guard.add_fence(&r.fence(), Usage::Read), Err(ENOSPC));
                o.signal(None);
            }
            assert!(!resv.test_signaled(Usage::Write));
            assert!(!resv.test_signaled(Usage::Read));
            assert_eq!(
                resv.wait(Usage::Write, false, Delta::from_millis(5)),
                Err(ETIME)
            );
            w.signal(None);
            assert!(resv.test_signaled(Usage::Write));
            assert!(resv.test_signaled(Usage::Read));
            resv.wait(Usage::Bookkeep, true, Delta::from_millis(5))?;
            r.signal(None);
        }
        // SAFETY: No reference to the object is left.
        unsafe { bindings::dma_resv_fini(raw.get()) };
        Ok(())
    }

    #[test]
    fn fences_outlive_the_timeline() -> Result {
        let (p, f) = {
            let tl = timeline();
            let p = tl.new_fence()?;
            let f = p.fence();
            (p, f)
        };
        p.signal(None);
        assert!(f.is_signaled());
        Ok(())
    }
}
