// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Client address spaces: GPUVM for the mappings, io-pgtable for the device's page tables.
//!
//! Every client (open file) gets one VM on its first `VM_BIND` or `CTX_CREATE`: a GPUVM in
//! immediate mode that tracks what is mapped where (each mapping holds a reference to its
//! buffer object through its `vm_bo`), the page table the device walks, and an address-space
//! id of the device that points at the table. The ASID is given back when the VM goes, which
//! is after the last job that used it (jobs hold the VM).

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
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
};

use crate::{
    driver::{GaudiDevice, GaudiDriver},
    engine::Engine,
    gem::Bo,
    hw::regs,
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

/// The driver's part of a GPUVM: the page table that mirrors its mappings.
pub(crate) struct VmData {
    pt: PageTable,
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
            // map that overlaps fails in the unmap and remap steps), and the mapping's `vm_bo`
            // keeps the object, and with it its device memory, alive while it is mapped.
            return unsafe { self.pt.map(iova, mem.phys() + offset, len, access) };
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
                unsafe { self.pt.unmap(iova, done) };
                return Err(e);
            }
            skip = 0;
            done += chunk;
        }
        if done != len {
            // SAFETY: As above.
            unsafe { self.pt.unmap(iova, done) };
            return Err(EINVAL);
        }
        Ok(())
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
        self.map_bo(op.obj(), op.gem_offset(), op.addr(), op.length(), access)?;
        let va = ctx.gpuva()?;
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
        // SAFETY: The range is one mapping made by `map_bo`; the device no longer uses it
        // (unmaps wait for the client's jobs).
        unsafe { self.pt.unmap(op.va().addr(), op.va().length()) };
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
        let old = op.va_to_unmap();
        let start = op.prev().map_or(old.addr(), |p| p.addr() + p.length());
        let end = op.next().map_or(old.addr() + old.length(), |n| n.addr());
        // SAFETY: `start..end` is the part of one mapping that goes; io-pgtable splits a block
        // that straddles its ends. The device no longer uses it.
        unsafe { self.pt.unmap(start, end - start) };
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
    /// The device's id of this address space.
    pub(crate) asid: u32,
    engine: Arc<Engine>,
}

impl Vm {
    /// Creates the address space of a client of `dev` and gives it an ASID.
    pub(crate) fn new(
        ddev: &GaudiDevice,
        dev: &Device<Bound>,
        engine: &Arc<Engine>,
    ) -> Result<Arc<Self>> {
        let va_bits = engine.shared.read32(regs::VA_BITS)?;
        let pa_bits = engine.shared.read32(regs::PA_BITS)?;
        let pt = PageTable::new(dev, va_bits, pa_bits)?;
        // SAFETY: The ASID is freed, and the device stops walking the table, in `drop`
        // before the table goes.
        let ttbr = unsafe { pt.ttbr() };
        // GPUVM's reservation object: the VM has no object of its own to lend it.
        let resv_obj = Bo::new_system(ddev, 4096, false)?;
        resv_obj.uncount();
        let gpuvm = GpuVm::new::<Error, _>(
            c"gaudi-vm",
            ddev,
            &*resv_obj,
            uapi::DRM_GAUDI_VA_START..uapi::DRM_GAUDI_VA_END,
            0..0,
            VmData { pt },
        )?;
        let asid = engine.alloc_asid(ttbr)?;
        Arc::pin_init(
            pin_init!(Self {
                gpuvm <- new_mutex!(gpuvm, "gaudi_vm"),
                asid,
                engine: engine.clone(),
            }),
            GFP_KERNEL,
        )
        .inspect_err(|_| engine.free_asid(asid))
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

    /// Unmaps everything in `va..va + size`. The caller waited for the jobs that may use it.
    pub(crate) fn unmap(&self, va: u64, size: u64) -> Result {
        Self::check_range(va, size)?;
        let mut op = Op::new(None)?;
        let mut gpuvm = self.gpuvm.lock();
        let res = gpuvm.sm_unmap(va, size, &mut op);
        gpuvm.deferred_cleanup();
        res
    }
}

#[pinned_drop]
impl PinnedDrop for Vm {
    fn drop(self: Pin<&mut Self>) {
        // No job uses the VM any more: they hold references to it.
        self.engine.free_asid(self.asid);
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
    engine: &Arc<Engine>,
) -> Result<Arc<Vm>> {
    let mut vm = slot.lock();
    if let Some(vm) = vm.as_ref() {
        return Ok(vm.clone());
    }
    let new = Vm::new(ddev, dev, engine)?;
    *vm = Some(new.clone());
    Ok(new)
}
