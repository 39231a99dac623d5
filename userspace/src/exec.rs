// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Execution: the client's device VM, contexts and job submission.
//!
//! * [`Device::vm_bind_map`] and [`Device::vm_bind_unmap`] place buffer objects in the
//!   client's device virtual address space (`DRM_IOCTL_GAUDI_VM_BIND`);
//! * a [`Context`] executes command buffers in that VM, in submission order, on one hardware
//!   queue (`DRM_IOCTL_GAUDI_CTX_CREATE`, `_DESTROY`, `_QUERY`);
//! * a [`Submit`] describes one job: the command buffer's address and size in the VM, the
//!   objects it uses (implicit synchronisation through their reservation objects) and the
//!   syncobjs it waits for and signals (`DRM_IOCTL_GAUDI_SUBMIT`).
//!
//! The command buffer itself is built with [`crate::cmdbuf::CommandBuffer`].

use std::{io, os::fd::AsFd};

use crate::{
    einval, ioctl,
    uapi::{
        self, drm_gaudi_ctx_create, drm_gaudi_ctx_destroy, drm_gaudi_ctx_query, drm_gaudi_submit,
        drm_gaudi_submit_bo, drm_gaudi_sync, drm_gaudi_vm_bind, DRM_GAUDI_SUBMIT_BO_READ,
        DRM_GAUDI_SUBMIT_BO_WRITE, DRM_GAUDI_VM_BIND_OP_MAP, DRM_GAUDI_VM_BIND_OP_UNMAP,
        DRM_GAUDI_VM_BIND_READONLY,
    },
    Device,
};

/// Scheduling priority of a context (`enum drm_gaudi_priority`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Priority {
    /// Background work.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Latency-sensitive work.
    High,
}

impl Priority {
    /// The uapi value.
    pub fn raw(self) -> u32 {
        match self {
            Priority::Low => uapi::DRM_GAUDI_PRIORITY_LOW,
            Priority::Normal => uapi::DRM_GAUDI_PRIORITY_NORMAL,
            Priority::High => uapi::DRM_GAUDI_PRIORITY_HIGH,
        }
    }
}

/// What `DRM_IOCTL_GAUDI_CTX_QUERY` reports about a context.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContextState {
    /// Whether a job failed and the context refuses new ones (`DRM_GAUDI_CTX_STATE_BANNED`).
    pub banned: bool,
    /// `DRM_GAUDI_ERR_*` of the job that failed, or 0.
    pub error: u32,
    /// Sequence number of that job, or 0.
    pub error_seqno: u64,
    /// Faulting device address of an MMU fault, or 0.
    pub fault_addr: u64,
    /// Device address of the packet that failed, or 0.
    pub error_packet: u64,
    /// Access of an MMU fault: 1 read, 2 write; else 0.
    pub fault_access: u32,
    /// Sequence number of the last job of the context that ended.
    pub completed: u64,
    /// The device is wedged: nothing runs until the driver is rebound.
    pub wedged: bool,
    /// The hardware queue the context runs on.
    pub queue: u32,
}

impl From<drm_gaudi_ctx_query> for ContextState {
    fn from(q: drm_gaudi_ctx_query) -> Self {
        Self {
            banned: q.state == uapi::DRM_GAUDI_CTX_STATE_BANNED,
            error: q.error,
            error_seqno: q.error_seqno,
            fault_addr: q.fault_addr,
            error_packet: q.error_packet,
            fault_access: q.fault_access,
            completed: q.completed,
            wedged: q.state == uapi::DRM_GAUDI_CTX_STATE_WEDGED,
            queue: q.queue,
        }
    }
}

/// One job for [`Device::submit`]: a command buffer in the client's VM, the objects it uses and
/// the syncobjs it waits for and signals.
///
/// ```
/// use gaudi::exec::Submit;
/// let s = Submit::new(1, 0x10_0000, 64).read(3).write(4).wait(7, 0).signal(8, 2);
/// assert_eq!(s.bos().len(), 2);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Submit {
    ctx_id: u32,
    cb_addr: u64,
    cb_size: u32,
    bos: Vec<drm_gaudi_submit_bo>,
    in_syncs: Vec<drm_gaudi_sync>,
    out_syncs: Vec<drm_gaudi_sync>,
}

impl Submit {
    /// A job of context `ctx_id` running the `cb_size` bytes at `cb_addr`.
    pub fn new(ctx_id: u32, cb_addr: u64, cb_size: u32) -> Self {
        Self {
            ctx_id,
            cb_addr,
            cb_size,
            ..Default::default()
        }
    }

    /// The job uses object `handle` with `DRM_GAUDI_SUBMIT_BO_*` `flags`.
    pub fn bo(mut self, handle: u32, flags: u32) -> Self {
        self.bos.push(drm_gaudi_submit_bo { handle, flags });
        self
    }

    /// The job reads object `handle`: it waits for the object's writers.
    pub fn read(self, handle: u32) -> Self {
        self.bo(handle, DRM_GAUDI_SUBMIT_BO_READ)
    }

    /// The job writes object `handle`: it waits for its readers and writers.
    pub fn write(self, handle: u32) -> Self {
        self.bo(handle, DRM_GAUDI_SUBMIT_BO_READ | DRM_GAUDI_SUBMIT_BO_WRITE)
    }

    /// The job waits for syncobj `handle` (binary with `point` 0, else that timeline point).
    pub fn wait(self, handle: u32, point: u64) -> Self {
        self.in_sync(drm_gaudi_sync {
            handle,
            flags: 0,
            point,
        })
    }

    /// The job's completion is installed in syncobj `handle` (replacing a binary syncobj's
    /// fence with `point` 0, adding timeline point `point` otherwise).
    pub fn signal(self, handle: u32, point: u64) -> Self {
        self.out_sync(drm_gaudi_sync {
            handle,
            flags: 0,
            point,
        })
    }

    /// Adds an in-sync entry as given.
    pub fn in_sync(mut self, s: drm_gaudi_sync) -> Self {
        self.in_syncs.push(s);
        self
    }

    /// Adds an out-sync entry as given.
    pub fn out_sync(mut self, s: drm_gaudi_sync) -> Self {
        self.out_syncs.push(s);
        self
    }

    /// The context.
    pub fn ctx_id(&self) -> u32 {
        self.ctx_id
    }

    /// The objects the job uses.
    pub fn bos(&self) -> &[drm_gaudi_submit_bo] {
        &self.bos
    }

    /// The syncobjs the job waits for.
    pub fn in_syncs(&self) -> &[drm_gaudi_sync] {
        &self.in_syncs
    }

    /// The syncobjs the job signals.
    pub fn out_syncs(&self) -> &[drm_gaudi_sync] {
        &self.out_syncs
    }

    /// The ioctl argument; its pointers borrow `self`'s arrays.
    pub fn to_raw(&self) -> io::Result<drm_gaudi_submit> {
        let count = |n: usize| u32::try_from(n).map_err(|_| einval());
        let ptr = |empty: bool, p: u64| if empty { 0 } else { p };
        Ok(drm_gaudi_submit {
            ctx_id: self.ctx_id,
            flags: 0,
            cb_addr: self.cb_addr,
            cb_size: self.cb_size,
            bo_count: count(self.bos.len())?,
            bos: ptr(self.bos.is_empty(), self.bos.as_ptr() as u64),
            in_sync_count: count(self.in_syncs.len())?,
            out_sync_count: count(self.out_syncs.len())?,
            in_syncs: ptr(self.in_syncs.is_empty(), self.in_syncs.as_ptr() as u64),
            out_syncs: ptr(self.out_syncs.is_empty(), self.out_syncs.as_ptr() as u64),
            seqno: 0,
        })
    }
}

impl Device {
    /// Maps `size` bytes of object `handle`, from `bo_offset`, at `va` in this client's VM
    /// (`DRM_GAUDI_VM_BIND_OP_MAP`); with `readonly` the device may only read them.
    ///
    /// Errors: `EEXIST` if part of the range is mapped; `EINVAL` for misaligned or empty
    /// ranges, ranges outside the VA window or the object; `ENOENT` for an unknown handle.
    pub fn vm_bind_map(
        &self,
        handle: u32,
        bo_offset: u64,
        va: u64,
        size: u64,
        readonly: bool,
    ) -> io::Result<()> {
        let mut b = drm_gaudi_vm_bind {
            op: DRM_GAUDI_VM_BIND_OP_MAP,
            flags: if readonly {
                DRM_GAUDI_VM_BIND_READONLY
            } else {
                0
            },
            handle,
            bo_offset,
            va,
            size,
            ..Default::default()
        };
        self.vm_bind_raw(&mut b)
    }

    /// Removes every mapping in [`va`, `va + size`) (`DRM_GAUDI_VM_BIND_OP_UNMAP`), splitting
    /// the ones that straddle its ends. Waits until the jobs this client submitted before are
    /// done. Unmapping a range without mappings succeeds.
    pub fn vm_bind_unmap(&self, va: u64, size: u64) -> io::Result<()> {
        let mut b = drm_gaudi_vm_bind {
            op: DRM_GAUDI_VM_BIND_OP_UNMAP,
            va,
            size,
            ..Default::default()
        };
        self.vm_bind_raw(&mut b)
    }

    /// `DRM_IOCTL_GAUDI_VM_BIND` with an argument as given.
    pub fn vm_bind_raw(&self, bind: &mut drm_gaudi_vm_bind) -> io::Result<()> {
        ioctl(self.as_fd(), uapi::DRM_IOCTL_GAUDI_VM_BIND, bind)
    }

    /// Creates a context (`DRM_IOCTL_GAUDI_CTX_CREATE`) and returns its id; see [`Context`] for
    /// one that is destroyed when dropped. `ENOSPC` when the device has no address-space id
    /// left for this client's VM.
    pub fn ctx_create(&self, priority: Priority) -> io::Result<u32> {
        self.ctx_create_raw(priority.raw())
    }

    /// [`Device::ctx_create`] with a raw `enum drm_gaudi_priority` value.
    pub fn ctx_create_raw(&self, priority: u32) -> io::Result<u32> {
        let mut c = drm_gaudi_ctx_create {
            priority,
            ..Default::default()
        };
        ioctl(self.as_fd(), uapi::DRM_IOCTL_GAUDI_CTX_CREATE, &mut c)?;
        Ok(c.ctx_id)
    }

    /// Destroys context `ctx_id` (`DRM_IOCTL_GAUDI_CTX_DESTROY`): its jobs that did not start
    /// are cancelled, running ones complete.
    pub fn ctx_destroy(&self, ctx_id: u32) -> io::Result<()> {
        let mut d = drm_gaudi_ctx_destroy { ctx_id, pad: 0 };
        ioctl(self.as_fd(), uapi::DRM_IOCTL_GAUDI_CTX_DESTROY, &mut d)
    }

    /// The state of context `ctx_id` (`DRM_IOCTL_GAUDI_CTX_QUERY`).
    pub fn ctx_query(&self, ctx_id: u32) -> io::Result<ContextState> {
        let mut q = drm_gaudi_ctx_query {
            ctx_id,
            ..Default::default()
        };
        ioctl(self.as_fd(), uapi::DRM_IOCTL_GAUDI_CTX_QUERY, &mut q)?;
        Ok(q.into())
    }

    /// Queues the job `s` (`DRM_IOCTL_GAUDI_SUBMIT`); returns its sequence number on its
    /// context.
    ///
    /// Errors: `EINVAL` for a misaligned, empty or too large command buffer, too many objects
    /// or syncobjs, unknown flags; `ENOENT` for an unknown context, object or syncobj;
    /// `ECANCELED` once the context is banned.
    pub fn submit(&self, s: &Submit) -> io::Result<u64> {
        let mut raw = s.to_raw()?;
        ioctl(self.as_fd(), uapi::DRM_IOCTL_GAUDI_SUBMIT, &mut raw)?;
        Ok(raw.seqno)
    }
}

/// A context of a [`Device`], destroyed when dropped.
#[derive(Debug)]
pub struct Context<'d> {
    dev: &'d Device,
    id: u32,
}

impl<'d> Context<'d> {
    /// Creates a context of `dev` with `priority`.
    pub fn new(dev: &'d Device, priority: Priority) -> io::Result<Self> {
        Ok(Self {
            dev,
            id: dev.ctx_create(priority)?,
        })
    }

    /// The context's id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The device.
    pub fn device(&self) -> &'d Device {
        self.dev
    }

    /// The context's state.
    pub fn query(&self) -> io::Result<ContextState> {
        self.dev.ctx_query(self.id)
    }

    /// A job of this context running the `cb_size` bytes at `cb_addr`.
    pub fn job(&self, cb_addr: u64, cb_size: u32) -> Submit {
        Submit::new(self.id, cb_addr, cb_size)
    }

    /// Destroys the context now, returning the error that dropping it would ignore.
    pub fn destroy(self) -> io::Result<()> {
        let dev = self.dev;
        dev.ctx_destroy(self.into_id())
    }

    /// Gives up the context without destroying it; returns its id (destroy it with
    /// [`Device::ctx_destroy`]).
    pub fn into_id(self) -> u32 {
        std::mem::ManuallyDrop::new(self).id
    }

    /// Queues `s` (whose context should be this one); returns its sequence number.
    pub fn submit(&self, s: &Submit) -> io::Result<u64> {
        self.dev.submit(s)
    }
}

impl Drop for Context<'_> {
    fn drop(&mut self) {
        let _ = self.dev.ctx_destroy(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_numbers() {
        // DRM_IOWR(DRM_COMMAND_BASE + nr, struct) with sizes 40, 16, 8, 64 and 56 bytes.
        assert_eq!(uapi::DRM_IOCTL_GAUDI_VM_BIND, 0xc028_6444);
        assert_eq!(uapi::DRM_IOCTL_GAUDI_CTX_CREATE, 0xc010_6445);
        assert_eq!(uapi::DRM_IOCTL_GAUDI_CTX_DESTROY, 0xc008_6446);
        assert_eq!(uapi::DRM_IOCTL_GAUDI_SUBMIT, 0xc040_6447);
        assert_eq!(uapi::DRM_IOCTL_GAUDI_CTX_QUERY, 0xc038_6448);
    }

    #[test]
    fn submit_arguments() {
        let s = Submit::new(3, 0x20_0000, 128)
            .read(1)
            .write(2)
            .bo(5, 0)
            .wait(9, 0)
            .signal(10, 4)
            .signal(11, 0);
        let raw = s.to_raw().unwrap();
        assert_eq!((raw.ctx_id, raw.cb_addr, raw.cb_size), (3, 0x20_0000, 128));
        assert_eq!(
            (raw.bo_count, raw.in_sync_count, raw.out_sync_count),
            (3, 1, 2)
        );
        assert_eq!(raw.bos, s.bos().as_ptr() as u64);
        assert_eq!(
            s.bos()[1].flags,
            DRM_GAUDI_SUBMIT_BO_READ | DRM_GAUDI_SUBMIT_BO_WRITE
        );
        assert_eq!(s.out_syncs()[0].point, 4);
        // Empty arrays are passed as null pointers.
        let empty = Submit::new(1, 0x10_0000, 8).to_raw().unwrap();
        assert_eq!((empty.bos, empty.in_syncs, empty.out_syncs), (0, 0, 0));
    }

    #[test]
    fn states() {
        let q = drm_gaudi_ctx_query {
            state: uapi::DRM_GAUDI_CTX_STATE_BANNED,
            error: uapi::DRM_GAUDI_ERR_MMU_FAULT,
            fault_access: 2,
            ..Default::default()
        };
        let s = ContextState::from(q);
        assert!(s.banned);
        assert_eq!((s.error, s.fault_access), (3, 2));
        assert!(!ContextState::from(drm_gaudi_ctx_query::default()).banned);
        assert_eq!(Priority::default().raw(), uapi::DRM_GAUDI_PRIORITY_NORMAL);
    }
}
