// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Contexts and command submission.
//!
//! A context is an entity of the accel core's job queue in front of one hardware queue; its
//! jobs run in the client's VM in submission order. `SUBMIT` gathers a job's dependencies
//! (in-syncobjs and the implicit fences of its buffers), pushes it, and publishes its
//! completion fence in the out-syncobjs and the buffers' reservation objects.

use kernel::{
    drm::accel::sched::{
        fence::FenceMemory,
        queue::{Entity, Priority},
        resv::{ExecLock, Usage},
        syncobj::{find_fence, SyncObjSignal},
    },
    drm::gem::{BaseObject, IntoGEMObject},
    new_mutex,
    prelude::*,
    sync::{aref::ARef, Arc, Mutex},
    uaccess::UserSlice,
};

use crate::{
    driver::{GaudiDevice, GaudiRegData},
    engine::{CtxState, HwJob, QueueBackend},
    file::File,
    gem::Bo,
    hw::packet,
    uapi,
    vm::{Vm, VmJob},
};

/// A job of the job queue: what the hardware needs, and what must live until it ends.
pub(crate) struct Job {
    pub(crate) hw: HwJob,
    /// The address space the job runs in: its ASID stays, and nothing is unmapped from it,
    /// while the job exists. Set once the job is prepared (see [`submit`]).
    _vm: Option<VmJob>,
    /// The buffers the job declared.
    _bos: KVec<ARef<Bo>>,
    /// The peer-to-peer imports among them, with their invalidation count when the job was
    /// submitted: the job fails if one changed before it runs.
    pub(crate) peers: KVec<(ARef<Bo>, u64)>,
}

impl Job {
    /// Whether the peer memory the job uses is still mapped as it was when it was submitted.
    pub(crate) fn peers_valid(&self) -> bool {
        self.peers
            .iter()
            .all(|(bo, seen)| bo.peer_import().is_some_and(|p| p.invalidations() == *seen))
    }
}

/// What a context's submits serialize on.
struct SubmitState {
    /// Sequence number of the context's next job.
    next_seqno: u64,
}

/// A context of a client.
#[pin_data]
pub(crate) struct Ctx {
    pub(crate) id: u32,
    entity: Entity<QueueBackend>,
    pub(crate) state: Arc<CtxState>,
    vm: Arc<Vm>,
    #[pin]
    submit: Mutex<SubmitState>,
}

impl Ctx {
    /// The job-queue priority of a uapi priority.
    pub(crate) fn priority(priority: u32) -> Result<Priority> {
        match priority {
            uapi::DRM_GAUDI_PRIORITY_LOW => Ok(Priority::Low),
            uapi::DRM_GAUDI_PRIORITY_NORMAL => Ok(Priority::Normal),
            uapi::DRM_GAUDI_PRIORITY_HIGH => Ok(Priority::High),
            _ => Err(EINVAL),
        }
    }

    /// Creates context `id` of a client whose VM is `vm`.
    pub(crate) fn new(
        reg: &GaudiRegData<'_>,
        id: u32,
        priority: Priority,
        vm: Arc<Vm>,
    ) -> Result<Arc<Self>> {
        reg.engine.ras.check()?;
        let (queue, jq) = reg.pick_queue()?;
        let entity = jq.new_entity(priority)?;
        let state = CtxState::new(queue)?;
        Arc::pin_init(
            pin_init!(Self {
                id,
                entity,
                state,
                vm,
                submit <- new_mutex!(
                    SubmitState { next_seqno: 1 },
                    "gaudi_ctx_submit"
                ),
            }),
            GFP_KERNEL,
        )
    }

    /// Fills in a `CTX_QUERY` result.
    pub(crate) fn query(&self, args: &mut uapi::drm_gaudi_ctx_query, wedged: bool) {
        let banned = self
            .state
            .banned
            .load(core::sync::atomic::Ordering::Acquire);
        let error = *self.state.error.lock();
        args.state = if wedged {
            uapi::DRM_GAUDI_CTX_STATE_WEDGED
        } else if banned {
            uapi::DRM_GAUDI_CTX_STATE_BANNED
        } else {
            uapi::DRM_GAUDI_CTX_STATE_OK
        };
        args.error = error.code;
        args.error_seqno = error.seqno;
        args.fault_addr = error.fault_addr;
        args.error_packet = error.packet;
        args.fault_access = error.access;
        args.queue = self.state.queue;
        args.completed = self
            .state
            .completed
            .load(core::sync::atomic::Ordering::Acquire);
    }
}

/// Reads `count` entries of `size` bytes from the user array at `ptr`.
fn read_array(ptr: u64, count: u32, size: usize) -> Result<KVec<u8>> {
    let mut buf = KVec::new();
    if count == 0 {
        return Ok(buf);
    }
    let len = (count as usize).checked_mul(size).ok_or(EINVAL)?;
    let ptr = UserPtr::from_addr(usize::try_from(ptr).map_err(|_| EFAULT)?);
    UserSlice::new(ptr, len).read_all(&mut buf, GFP_KERNEL)?;
    Ok(buf)
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut w = [0u8; 4];
    if let Some(s) = b.get(off..off + 4) {
        w.copy_from_slice(s);
    }
    u32::from_ne_bytes(w)
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from(u32_at(b, off)) | (u64::from(u32_at(b, off + 4)) << 32)
}

/// A buffer of a job and how the job uses it.
struct JobBo {
    bo: ARef<Bo>,
    write: bool,
}

/// `DRM_IOCTL_GAUDI_SUBMIT`.
pub(crate) fn submit(
    _dev: &GaudiDevice,
    reg: &GaudiRegData<'_>,
    args: &mut uapi::drm_gaudi_submit,
    file: &File,
) -> Result<u32> {
    if args.flags != 0
        || args.cb_size == 0
        || args.cb_size % 8 != 0
        || args.cb_size > packet::INDIRECT_SIZE_MAX
        || args.cb_addr % 8 != 0
        || args.cb_addr < uapi::DRM_GAUDI_VA_START
        || args
            .cb_addr
            .checked_add(u64::from(args.cb_size))
            .is_none_or(|end| end > uapi::DRM_GAUDI_VA_END)
        || args.bo_count > uapi::DRM_GAUDI_SUBMIT_MAX_BOS
        || args.in_sync_count > uapi::DRM_GAUDI_SUBMIT_MAX_SYNCS
        || args.out_sync_count > uapi::DRM_GAUDI_SUBMIT_MAX_SYNCS
    {
        return Err(EINVAL);
    }
    reg.engine.ras.check()?;
    reg.sync_timeout();
    let ctx = file.inner().ctx(args.ctx_id)?;
    if ctx.state.banned.load(core::sync::atomic::Ordering::Acquire) {
        return Err(ECANCELED);
    }

    let bo_size = core::mem::size_of::<uapi::drm_gaudi_submit_bo>();
    let sync_size = core::mem::size_of::<uapi::drm_gaudi_sync>();
    let raw_bos = read_array(args.bos, args.bo_count, bo_size)?;
    let raw_in = read_array(args.in_syncs, args.in_sync_count, sync_size)?;
    let raw_out = read_array(args.out_syncs, args.out_sync_count, sync_size)?;

    let rw = uapi::DRM_GAUDI_SUBMIT_BO_READ | uapi::DRM_GAUDI_SUBMIT_BO_WRITE;
    let mut bos = KVec::with_capacity(args.bo_count as usize, GFP_KERNEL)?;
    for e in raw_bos.chunks_exact(bo_size) {
        let (handle, flags) = (u32_at(e, 0), u32_at(e, 4));
        if flags == 0 || flags & !rw != 0 {
            return Err(EINVAL);
        }
        let bo = Bo::lookup_handle(file, handle)?;
        let write = flags & uapi::DRM_GAUDI_SUBMIT_BO_WRITE != 0;
        // An object listed twice (through two handles, say) is one buffer: its strongest use.
        match bos
            .iter_mut()
            .find(|b: &&mut JobBo| b.bo.as_raw() == bo.as_raw())
        {
            Some(b) => b.write |= write,
            None => bos.push(JobBo { bo, write }, GFP_KERNEL)?,
        }
    }
    let mut deps = KVec::new();
    for e in raw_in.chunks_exact(sync_size) {
        if u32_at(e, 4) != 0 {
            return Err(EINVAL);
        }
        deps.push(find_fence(file, u32_at(e, 0), u64_at(e, 8))?, GFP_KERNEL)?;
    }
    let mut signals = KVec::with_capacity(args.out_sync_count as usize, GFP_KERNEL)?;
    for e in raw_out.chunks_exact(sync_size) {
        if u32_at(e, 4) != 0 {
            return Err(EINVAL);
        }
        signals.push(
            SyncObjSignal::prepare(file, u32_at(e, 0), u64_at(e, 8))?,
            GFP_KERNEL,
        )?;
    }
    let mut refs = KVec::with_capacity(bos.len(), GFP_KERNEL)?;
    let mut objs = KVec::with_capacity(bos.len(), GFP_KERNEL)?;
    for b in bos.iter() {
        refs.push(b.bo.clone(), GFP_KERNEL)?;
        objs.push(&*b.bo, GFP_KERNEL)?;
    }
    let fence_mem = FenceMemory::new()?;
    // Counted before the buffers are locked: an unmap in progress finishes first.
    let vm_job = ctx.vm.start_job();

    // Implicit synchronisation: with every buffer's reservation object locked (and a fence
    // slot reserved in each), the fences they hold become dependencies, the job is pushed and
    // its fence joins them, as one step for every other user of the buffers.
    let mut locked = ExecLock::lock(&objs, 1)?;
    let mut peers = KVec::new();
    for b in bos.iter() {
        b.bo.resv().implicit_dependencies(b.write, &mut deps)?;
        if let Some(peer) = b.bo.peer_import() {
            // Mapped again if the exporter invalidated it; `ENODEV` once the exporter's
            // memory is revoked.
            // SAFETY: `locked` holds the reservation lock of every buffer of the job.
            unsafe { peer.validate_locked() }?;
            peers.push((b.bo.clone(), peer.invalidations()), GFP_KERNEL)?;
        }
    }

    let mut state = ctx.submit.lock();
    let seqno = state.next_seqno;
    let job = Job {
        hw: HwJob {
            asid: vm_job.vm().asid,
            cb_addr: args.cb_addr,
            cb_size: args.cb_size,
            fence: Some(fence_mem),
            ctx: ctx.state.clone(),
            seqno,
            hw_seq: 0,
            usage: file.inner().usage.clone(),
        },
        _vm: None,
        _bos: refs,
        peers,
    };
    // The VM's job count joins the job once it is prepared: dropping it takes the VM's job
    // lock, which comes before the buffers' and the context's locks (an unmap holds it while
    // it locks the buffers), so a job that cannot be prepared gives it back after them.
    let mut prepared = match ctx.entity.prepare(job, 1, deps) {
        Ok(p) => p,
        Err(e) => {
            drop(state);
            drop(locked);
            drop(vm_job);
            return Err(e);
        }
    };
    prepared.data_mut()._vm = Some(vm_job);
    let fences = prepared.push();
    state.next_seqno += 1;
    drop(state);

    for (i, b) in bos.iter().enumerate() {
        let usage = if b.write { Usage::Write } else { Usage::Read };
        // A slot was reserved for each object when it was locked.
        let _ = locked.add_fence(i, &fences.finished, usage);
    }
    drop(locked);
    for signal in signals {
        signal.install(&fences.finished);
    }
    args.seqno = seqno;
    Ok(0)
}
