// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Client address spaces: GPUVM for the mappings, io-pgtable for the device's page tables.
//!
//! Every client (open file) gets one VM on its first `VM_BIND` or `CTX_CREATE`: a GPUVM in
//! immediate mode that tracks what is mapped where (each mapping holds a reference to its
//! buffer object through its `vm_bo`), the page table the device walks, and an address-space
//! id of the device that points at the table. The ASID is given back when the VM goes, which
//! is after the last job that used it (jobs hold the VM).
//!
//! The VM counts the jobs that run in it; an unmap waits until there is none and keeps new
//! ones from being submitted until it is done, so the device never reaches memory that was
//! unmapped under a running job, whichever context submitted it.

use kernel::{
    device::{Bound, Device},
    drm::{
        accel::{
            gem::Kind,
            vm::{Access, PageTable},
        },
        gpuvm::{
            DriverGpuVm, GpuVaAlloc, GpuVm, OpMap, OpMapRequest, OpMapped, OpRemap, OpRemapped,
            OpUnmap, OpUnmapped, UniqueRefGpuVm,
        },
    },
    new_condvar, new_mutex,
    prelude::*,
    rbtree::RBTree,
    sync::{Arc, CondVar, Mutex},
};

use crate::{
    driver::{GaudiDevice, GaudiDriver},
    engine::Asids,
    gem::Bo,
    uapi,
};

/// What a GPUVM operation does, passed to its steps.
pub(crate) struct Op {
    /// `Some` for a map with these rights, `None` for an unmap.
    map: Option<Access>,
    /// GPUVA nodes for the steps: a map needs one, a split two.
    gpuvas: [Option<GpuVaAlloc<VmData>>; 3],
}

impl Op {
    fn new(map: Option<Access>) -> Result<Self> {
        Ok(Self {
            map,
            gpuvas: [
                Some(GpuVaAlloc::new(GFP_KERNEL)?),
                Some(GpuVaAlloc::new(GFP_KERNEL)?),
                Some(GpuVaAlloc::new(GFP_KERNEL)?),
            ],
        })
    }

    fn gpuva(&mut self) -> Result<GpuVaAlloc<VmData>> {
        self.gpuvas.iter_mut().find_map(Option::take).ok_or(ENOMEM)
    }

    fn give_back(&mut self, va: GpuVaAlloc<VmData>) {
        if let Some(slot) = self.gpuvas.iter_mut().find(|s| s.is_none()) {
            *slot = Some(va);
        }
    }
}

/// The driver's part of a GPUVM: the page table that mirrors its mappings, and the rights of
/// each mapping by start address.
pub(crate) struct VmData {
    pt: PageTable,
    access: RBTree<u64, Access>,
}

impl VmData {
    /// Maps `len` bytes of `bo` from `offset` at `iova`.
    fn map_bo(&mut self, bo: &Bo, offset: u64, iova: u64, len: u64, access: Access) -> Result {
        let end = offset.checked_add(len).ok_or(EINVAL)?;
        if end > bo.size() as u64 {
            return Err(EINVAL);
        }
        if bo.kind() == Kind::Device {
            let mem = bo.device_memory().ok_or(EINVAL)?;
            // SAFETY: GPUVM removed every mapping that overlaps the range before this step (a
            // map that overlaps fails in the unmap and remap steps, a split removes the whole
            // old mapping first), and the mapping's `vm_bo` keeps the object, and with it its
            // device memory, alive while it is mapped.
            return unsafe { self.pt.map(iova, mem.phys() + offset, len, access) };
        }
        if let Some(peer) = bo.peer_import() {
            // Another device's memory, imported peer-to-peer: mapped at its bus address,
            // which the import keeps (a move fails with `ESTALE`). Jobs check that the
            // mapping is still valid before they run (see `submit`).
            let addr = {
                let _guard = bo.resv().lock()?;
                // SAFETY: The reservation lock of the dma-buf (the object's) is held.
                unsafe { peer.validate_locked() }?
            };
            // SAFETY: As for device memory; the `vm_bo` keeps the object, and with it the
            // attachment, alive while it is mapped.
            return unsafe { self.pt.map(iova, addr + offset, len, access) };
        }
        let sgt = bo.sg_table()?;
        let mut skip = offset;
        let mut done = 0u64;
        for entry in sgt.iter() {
            if done == len {
                break;
            }
            let seg_len = entry.dma_len();
            if skip >= seg_len {
                skip -= seg_len;
                continue;
            }
            let chunk = (seg_len - skip).min(len - done);
            // SAFETY: As above; the object's pages stay pinned and DMA-mapped until it is
            // freed, which its `vm_bo` prevents while it is mapped.
            let res = unsafe {
                self.pt
                    .map(iova + done, entry.dma_address() + skip, chunk, access)
            };
            if let Err(e) = res {
                // SAFETY: `iova..iova + done` was mapped by the iterations before.
                let _ = unsafe { self.pt.unmap(iova, done) };
                return Err(e);
            }
            skip = 0;
            done += chunk;
        }
        if done != len {
            // SAFETY: As above.
            let _ = unsafe { self.pt.unmap(iova, done) };
            return Err(EINVAL);
        }
        Ok(())
    }

    /// Removes the mapping made by `map_bo` at `iova..iova + len` from the page table.
    fn unmap_range(&mut self, iova: u64, len: u64) -> Result {
        // SAFETY: The range is exactly one mapping made by `map_bo`; the device no longer uses
        // it (unmaps wait until no job runs in the VM).
        unsafe { self.pt.unmap(iova, len) }.inspect_err(|_| {
            pr_err!("gaudi: page table out of step with GPUVM at {iova:#x}+{len:#x}\n")
        })
    }
}

impl DriverGpuVm for VmData {
    type Driver = GaudiDriver;
    type Object = Bo;
    type VmBoData = ();
    type VaData = ();
    type SmContext<'ctx> = Op;

    fn sm_step_map<'op>(
        &mut self,
        op: OpMap<'op, Self>,
        ctx: &mut Op,
    ) -> Result<OpMapped<'op, Self>, Error> {
        let access = ctx.map.ok_or(EINVAL)?;
        let va = ctx.gpuva()?;
        self.access
            .try_create_and_insert(op.addr(), access, GFP_KERNEL)?;
        if let Err(e) = self.map_bo(op.obj(), op.gem_offset(), op.addr(), op.length(), access) {
            self.access.remove(&op.addr());
            return Err(e);
        }
        Ok(op.insert(va, pin_init::init_zeroed()))
    }

    fn sm_step_unmap<'op>(
        &mut self,
        op: OpUnmap<'op, Self>,
        ctx: &mut Op,
    ) -> Result<OpUnmapped<'op, Self>, Error> {
        // A map never replaces what is mapped: overlapping is an error.
        if ctx.map.is_some() {
            return Err(EEXIST);
        }
        self.unmap_range(op.va().addr(), op.va().length())?;
        self.access.remove(&op.va().addr());
        let (unmapped, _removed) = op.remove();
        Ok(unmapped)
    }

    fn sm_step_remap<'op>(
        &mut self,
        op: OpRemap<'op, Self>,
        ctx: &mut Op,
    ) -> Result<OpRemapped<'op, Self>, Error> {
        if ctx.map.is_some() {
            return Err(EEXIST);
        }
        // io-pgtable does not split a 2 MiB block that an unmap cuts: the whole old mapping
        // goes, and what stays of it is mapped again.
        let old = op.va_to_unmap();
        let (old_addr, old_len, old_offset) = (old.addr(), old.length(), old.gem_offset());
        let access = self.access.get(&old_addr).copied().ok_or(EINVAL)?;
        let keep = [
            op.prev().map(|p| (p.addr(), p.length(), p.gem_offset())),
            op.next().map(|n| (n.addr(), n.length(), n.gem_offset())),
        ];
        let mut nodes = KVec::with_capacity(2, GFP_KERNEL)?;
        for k in keep.iter().flatten() {
            nodes.push(k.0, GFP_KERNEL)?;
            if k.0 != old_addr {
                self.access.try_create_and_insert(k.0, access, GFP_KERNEL)?;
            }
        }
        self.unmap_range(old_addr, old_len)?;
        if !keep.iter().flatten().any(|k| k.0 == old_addr) {
            self.access.remove(&old_addr);
        }
        for &(addr, len, offset) in keep.iter().flatten() {
            if let Err(e) = self.map_bo(op.obj(), offset, addr, len, access) {
                pr_err!(
                    "gaudi: could not map again {addr:#x}+{len:#x} of a split mapping \
                     ({old_addr:#x}+{old_len:#x} at {old_offset:#x})\n"
                );
                return Err(e);
            }
        }
        let prev = ctx.gpuva()?;
        let next = ctx.gpuva()?;
        let (remapped, ret) = op.remap(
            [prev, next],
            pin_init::init_zeroed(),
            pin_init::init_zeroed(),
        );
        if let Some(va) = ret.unused_va {
            ctx.give_back(va);
        }
        Ok(remapped)
    }
}

/// A client's device address space.
#[pin_data(PinnedDrop)]
pub(crate) struct Vm {
    #[pin]
    gpuvm: Mutex<UniqueRefGpuVm<VmData>>,
    /// Jobs that may run in the VM: submitted and not yet freed.
    #[pin]
    jobs: Mutex<u64>,
    /// Signalled when `jobs` drops to zero.
    #[pin]
    idle: CondVar,
    /// The device's id of this address space.
    pub(crate) asid: u32,
    asids: Arc<Asids>,
}

/// A job's claim on its VM: the VM counts it until the job is freed.
pub(crate) struct VmJob(Arc<Vm>);

impl VmJob {
    /// The VM of the job.
    pub(crate) fn vm(&self) -> &Vm {
        &self.0
    }
}

impl Drop for VmJob {
    fn drop(&mut self) {
        let mut jobs = self.0.jobs.lock();
        *jobs -= 1;
        if *jobs == 0 {
            self.0.idle.notify_all();
        }
    }
}

impl Vm {
    /// Creates the address space of a client of `dev` and gives it an ASID.
    pub(crate) fn new(
        ddev: &GaudiDevice,
        dev: &Device<Bound>,
        asids: &Arc<Asids>,
    ) -> Result<Arc<Self>> {
        let pt = PageTable::new(dev, asids.va_bits, asids.pa_bits)?;
        // SAFETY: The ASID is freed, and the device stops walking the table, in `drop`
        // before the table goes.
        let ttbr = unsafe { pt.ttbr() };
        // GPUVM's reservation object: the VM has no object of its own to lend it. It is the
        // driver's, so it stays out of the clients' accounting.
        let resv_obj = Bo::new_system(ddev, 4096, false)?;
        resv_obj.uncount();
        let gpuvm = GpuVm::new::<Error, _>(
            c"gaudi-vm",
            ddev,
            &*resv_obj,
            uapi::DRM_GAUDI_VA_START..uapi::DRM_GAUDI_VA_END,
            0..0,
            VmData {
                pt,
                access: RBTree::new(),
            },
        )?;
        let asid = asids.alloc(ttbr)?;
        Arc::pin_init(
            pin_init!(Self {
                gpuvm <- new_mutex!(gpuvm, "gaudi_vm"),
                jobs <- new_mutex!(0, "gaudi_vm_jobs"),
                idle <- new_condvar!("gaudi_vm_idle"),
                asid,
                asids: asids.clone(),
            }),
            GFP_KERNEL,
        )
        .inspect_err(|_| asids.free(asid))
    }

    /// Counts a job that is about to be submitted in the VM (it waits for a running unmap).
    pub(crate) fn start_job(self: &Arc<Self>) -> VmJob {
        *self.jobs.lock() += 1;
        VmJob(self.clone())
    }

    /// Checks that `va..va + size` is a non-empty, page-aligned range of the VM.
    fn check_range(va: u64, size: u64) -> Result<u64> {
        let page = uapi::DRM_GAUDI_VM_PAGE_SIZE;
        let end = va.checked_add(size).ok_or(EINVAL)?;
        if size == 0
            || va % page != 0
            || size % page != 0
            || va < uapi::DRM_GAUDI_VA_START
            || end > uapi::DRM_GAUDI_VA_END
        {
            return Err(EINVAL);
        }
        Ok(end)
    }

    /// Maps `size` bytes of `bo` from `offset` at `va`.
    pub(crate) fn map(&self, bo: &Bo, offset: u64, va: u64, size: u64, access: Access) -> Result {
        Self::check_range(va, size)?;
        let end = offset.checked_add(size).ok_or(EINVAL)?;
        if offset % uapi::DRM_GAUDI_VM_PAGE_SIZE != 0 || end > bo.size() as u64 {
            return Err(EINVAL);
        }
        let mut op = Op::new(Some(access))?;
        let mut gpuvm = self.gpuvm.lock();
        let vm_bo = gpuvm.obtain(bo, ())?;
        let res = gpuvm.sm_map(OpMapRequest {
            addr: va,
            range: size,
            gem_offset: offset,
            vm_bo: &vm_bo,
            context: &mut op,
        });
        drop(vm_bo);
        gpuvm.deferred_cleanup();
        res
    }

    /// Checks an unmap request without touching the VM.
    pub(crate) fn check_unmap(va: u64, size: u64) -> Result {
        Self::check_range(va, size).map(|_| ())
    }

    /// Unmaps everything in `va..va + size`, once no job runs in the VM; submits wait for it.
    /// `ERESTARTSYS` if a signal interrupts the wait.
    pub(crate) fn unmap(&self, va: u64, size: u64) -> Result {
        Self::check_range(va, size)?;
        let mut op = Op::new(None)?;
        let mut jobs = self.jobs.lock();
        while *jobs != 0 {
            if self.idle.wait_interruptible(&mut jobs) {
                return Err(ERESTARTSYS);
            }
        }
        let mut gpuvm = self.gpuvm.lock();
        let res = gpuvm.sm_unmap(va, size, &mut op);
        gpuvm.deferred_cleanup();
        drop(gpuvm);
        drop(jobs);
        res
    }
}

#[pinned_drop]
impl PinnedDrop for Vm {
    fn drop(self: Pin<&mut Self>) {
        // No job uses the VM any more: they hold references to it.
        self.asids.free(self.asid);
        // GPUVM must be empty when it goes. Unmapping the whole VM splits nothing, so the
        // steps need no GPUVA nodes.
        let mut op = Op {
            map: None,
            gpuvas: [None, None, None],
        };
        let mut gpuvm = self.gpuvm.lock();
        let len = uapi::DRM_GAUDI_VA_END - uapi::DRM_GAUDI_VA_START;
        if gpuvm
            .sm_unmap(uapi::DRM_GAUDI_VA_START, len, &mut op)
            .is_err()
        {
            pr_err!("gaudi: could not tear down a VM\n");
        }
        gpuvm.deferred_cleanup();
    }
}

/// The VM of a client, created on first use.
pub(crate) type LazyVm = Mutex<Option<Arc<Vm>>>;

/// Returns the client's VM, creating it if needed.
pub(crate) fn get_or_create(
    slot: &LazyVm,
    ddev: &GaudiDevice,
    dev: &Device<Bound>,
    asids: &Arc<Asids>,
) -> Result<Arc<Vm>> {
    let mut vm = slot.lock();
    if let Some(vm) = vm.as_ref() {
        return Ok(vm.clone());
    }
    let new = Vm::new(ddev, dev, asids)?;
    *vm = Some(new.clone());
    Ok(new)
}
