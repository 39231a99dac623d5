// SPDX-License-Identifier: GPL-2.0 OR MIT

//! A small tensor runtime on the device's engines.
//!
//! * A [`Tensor`] is an fp32 matrix (row-major, dense) in a buffer object bound into the
//!   client's device VM: in device memory by default, in system memory when it is to be
//!   shared with another device through PRIME ([`Placement`]). A [`Mat`] is a plain
//!   descriptor of a tensor or of part of one (rows of it, or a flat range of its values), which
//!   the operations take.
//! * A [`Runtime`] owns a context on one device, the TPC kernels of [`kernels`] (assembled at
//!   start by the library's own assembler), a ring of command-buffer objects and a
//!   system-memory staging area. Every operation appends packets to the pending command
//!   buffer: `DMA` for transfers and fills, `MME` for matrix products (with the engine's bias
//!   and ReLU), `TPC_LAUNCH` for everything else. [`Runtime::flush`] submits the pending
//!   packets as one job that waits for the previous job's syncobj and signals its own, and
//!   declares the objects it reads and writes (implicit synchronisation with other clients and
//!   devices through their reservation objects). Nothing waits for the device until
//!   [`Runtime::sync`], a download, or the reuse of a command-buffer slot whose job has not
//!   finished.
//! * Host transfers go through the staging area: an upload copies the values there and queues
//!   a DMA copy to the tensor; a download queues the copy back, syncs and reads the staging
//!   area.
//! * [`Stats`] counts jobs and packets and the time at least one job of the runtime was on the
//!   device (from the signal timestamps of the jobs' fences), for the busy share.
//!
//! [`reference`] has the CPU reference of every operation.

pub mod kernels;
pub mod reference;

use std::{
    collections::{HashMap, VecDeque},
    io,
    os::fd::{AsFd, BorrowedFd, OwnedFd},
    time::Duration,
};

use gaudi_hw::tpc::VLEN;

use crate::{
    buffer::Buffer,
    cmdbuf::{code_bytes, CommandBuffer, Gemm, Packet, TpcLaunch},
    drm::{DRM_CLOEXEC, DRM_RDWR},
    einval,
    exec::{Context, Priority, Submit},
    syncobj,
    uapi::{self, DRM_GAUDI_SUBMIT_BO_READ, DRM_GAUDI_SUBMIT_BO_WRITE},
    Bo, Device,
};
pub use kernels::Kernel;

/// Where a tensor lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Placement {
    /// Device memory (`DRM_GAUDI_BO_DEVICE`): the default.
    #[default]
    Device,
    /// System memory: for tensors shared with another device through PRIME.
    System,
}

impl Placement {
    fn flags(self) -> u32 {
        match self {
            Placement::Device => uapi::DRM_GAUDI_BO_DEVICE,
            Placement::System => 0,
        }
    }
}

/// A descriptor of an fp32 matrix in a client's device VM: the object that holds it (for the
/// job's object list), its address and its shape. Dense rows: row `i` starts `i * cols`
/// values after `va`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mat {
    /// Handle of the buffer object.
    pub handle: u32,
    /// Device address of the first value.
    pub va: u64,
    /// Rows.
    pub rows: u32,
    /// Columns.
    pub cols: u32,
}

impl Mat {
    /// Number of values.
    pub fn len(&self) -> usize {
        self.rows as usize * self.cols as usize
    }

    /// Whether the matrix has no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of the values.
    pub fn bytes(&self) -> u64 {
        self.len() as u64 * 4
    }

    /// Rows `first..first + rows`; `EINVAL` if they are not all there.
    pub fn row_range(&self, first: u32, rows: u32) -> io::Result<Mat> {
        if first.checked_add(rows).map_or(true, |end| end > self.rows) {
            return Err(einval());
        }
        Ok(Mat {
            va: self.va + u64::from(first) * u64::from(self.cols) * 4,
            rows,
            ..*self
        })
    }

    /// The `rows x cols` matrix stored from value `offset` on (a part of a flat parameter
    /// array, say); `EINVAL` if it does not fit.
    pub fn view(&self, offset: usize, rows: u32, cols: u32) -> io::Result<Mat> {
        let n = rows as usize * cols as usize;
        if offset.checked_add(n).map_or(true, |end| end > self.len()) {
            return Err(einval());
        }
        Ok(Mat {
            handle: self.handle,
            va: self.va + offset as u64 * 4,
            rows,
            cols,
        })
    }

    /// The same values as one row.
    pub fn flat(&self) -> Mat {
        Mat {
            rows: 1,
            cols: self.rows * self.cols,
            ..*self
        }
    }
}

/// An fp32 matrix in a buffer object of its own, bound into the device VM.
#[derive(Debug)]
pub struct Tensor<'d> {
    buf: Buffer<'d>,
    rows: u32,
    cols: u32,
}

impl<'d> Tensor<'d> {
    /// A `rows x cols` tensor on `dev` in `placement` (contents undefined until written).
    pub fn new(dev: &'d Device, rows: u32, cols: u32, placement: Placement) -> io::Result<Self> {
        let bytes = u64::from(rows) * u64::from(cols) * 4;
        if bytes == 0 {
            return Err(einval());
        }
        Ok(Self {
            buf: Buffer::new(dev, bytes, placement.flags())?,
            rows,
            cols,
        })
    }

    /// Imports a tensor another device exported ([`Tensor::export`]) as a `rows x cols`
    /// tensor of `dev`, bound read-only with `readonly`.
    pub fn import(
        dev: &'d Device,
        dma_buf: BorrowedFd<'_>,
        rows: u32,
        cols: u32,
        readonly: bool,
    ) -> io::Result<Self> {
        let handle = dev.prime_fd_to_handle(dma_buf)?;
        let size = dev.gem_info(handle)?.size;
        if u64::from(rows) * u64::from(cols) * 4 > size || rows == 0 || cols == 0 {
            let _ = dev.gem_close(handle);
            return Err(einval());
        }
        Ok(Self {
            buf: Buffer::adopt(dev, Bo { handle, size }, readonly)?,
            rows,
            cols,
        })
    }

    /// The tensor's object as a dma-buf, for [`Tensor::import`] on another device.
    pub fn export(&self) -> io::Result<OwnedFd> {
        self.buf
            .device()
            .prime_handle_to_fd(self.buf.handle(), DRM_CLOEXEC | DRM_RDWR)
    }

    /// The descriptor of the whole tensor.
    pub fn mat(&self) -> Mat {
        Mat {
            handle: self.buf.handle(),
            va: self.buf.va(),
            rows: self.rows,
            cols: self.cols,
        }
    }

    /// Rows.
    pub fn rows(&self) -> u32 {
        self.rows
    }

    /// Columns.
    pub fn cols(&self) -> u32 {
        self.cols
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.mat().len()
    }

    /// Whether the tensor has no values (never).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer behind the tensor.
    pub fn buffer(&self) -> &Buffer<'d> {
        &self.buf
    }
}

/// Counters of a [`Runtime`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Jobs submitted.
    pub jobs: u64,
    /// Packets queued.
    pub packets: u64,
    /// Nanoseconds during which at least one job of the runtime was submitted and not yet
    /// complete (from its submission, or the end of the job before it, to the signal of its
    /// fence), over the jobs retired so far.
    pub busy_ns: u64,
}

/// A command-buffer object of the ring, with the syncobj of its last job.
#[derive(Debug)]
struct Slot<'d> {
    buf: Buffer<'d>,
    syncobj: u32,
    /// `CLOCK_MONOTONIC` time of the submission of its job while that job may run.
    submitted: Option<i64>,
}

/// Command-buffer objects in the ring.
const SLOTS: usize = 8;
/// Bytes of a command-buffer object.
const SLOT_BYTES: usize = 64 * 1024;
/// Initial bytes of the staging area.
const STAGING_BYTES: usize = 1 << 20;
/// How long [`Runtime::sync`] waits for one job.
const JOB_TIMEOUT: Duration = Duration::from_secs(120);

/// A queue of tensor operations on one device; see the [module documentation](self).
#[derive(Debug)]
pub struct Runtime<'d> {
    dev: &'d Device,
    ctx: Context<'d>,
    code: Buffer<'d>,
    kernels: HashMap<Kernel, (u64, u32)>,
    cb: CommandBuffer,
    bos: Vec<(u32, u32)>,
    slots: Vec<Slot<'d>>,
    /// Slots with a job that may run, oldest first.
    inflight: VecDeque<usize>,
    next: usize,
    last: Option<u32>,
    staging: Buffer<'d>,
    staged: usize,
    last_end: i64,
    stats: Stats,
}

impl<'d> Runtime<'d> {
    /// A runtime on `dev`: a context, the kernels, the command-buffer ring and the staging
    /// area.
    pub fn new(dev: &'d Device) -> io::Result<Self> {
        let mut kernels = HashMap::new();
        let mut code = Vec::new();
        for k in Kernel::ALL {
            let words = k.assemble().map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", k.name()))
            })?;
            let offset = code.len() as u64 * 8;
            let size = u32::try_from(words.len() * 8).map_err(|_| einval())?;
            kernels.insert(k, (offset, size));
            code.extend(words);
        }
        let code = Buffer::with_data(dev, &code_bytes(&code), 0, true)?;
        for v in kernels.values_mut() {
            v.0 += code.va();
        }
        let mut slots = Vec::with_capacity(SLOTS);
        for _ in 0..SLOTS {
            let buf = Buffer::with_access(dev, SLOT_BYTES as u64, 0, true)?;
            let syncobj = syncobj::create(dev.as_fd(), 0)?;
            slots.push(Slot {
                buf,
                syncobj,
                submitted: None,
            });
        }
        Ok(Self {
            dev,
            ctx: Context::new(dev, Priority::Normal)?,
            code,
            kernels,
            cb: CommandBuffer::new(),
            bos: Vec::new(),
            slots,
            inflight: VecDeque::new(),
            next: 0,
            last: None,
            staging: Buffer::new(dev, STAGING_BYTES as u64, 0)?,
            staged: 0,
            last_end: 0,
            stats: Stats::default(),
        })
    }

    /// The device.
    pub fn device(&self) -> &'d Device {
        self.dev
    }

    /// A `rows x cols` tensor of this runtime's device in device memory.
    pub fn tensor(&self, rows: u32, cols: u32) -> io::Result<Tensor<'d>> {
        Tensor::new(self.dev, rows, cols, Placement::Device)
    }

    /// The counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The syncobj that the last submitted job signals (binary), if any: for other clients
    /// that want to wait for this runtime's work.
    pub fn last_syncobj(&self) -> Option<u32> {
        self.last
    }

    /// Declares that the pending job uses object `handle` (for writing with `write`): the
    /// operations do it for their operands.
    pub fn uses(&mut self, handle: u32, write: bool) {
        let flags = if write {
            DRM_GAUDI_SUBMIT_BO_READ | DRM_GAUDI_SUBMIT_BO_WRITE
        } else {
            DRM_GAUDI_SUBMIT_BO_READ
        };
        match self.bos.iter_mut().find(|(h, _)| *h == handle) {
            Some((_, f)) => *f |= flags,
            None => self.bos.push((handle, flags)),
        }
    }

    fn packet(&mut self, p: Packet) -> io::Result<()> {
        // The largest packet is 26 words.
        if self.cb.size_bytes() + 26 * 4 > SLOT_BYTES {
            self.flush()?;
        }
        self.cb.packet(&p)?;
        self.stats.packets += 1;
        Ok(())
    }

    /// Submits the pending packets as one job (nothing if there are none): it waits for the
    /// previous job's syncobj and signals its own slot's.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.cb.is_empty() {
            return Ok(());
        }
        let i = self.next;
        if self.slots[i].submitted.is_some() {
            // The ring is full: the oldest job is this slot's.
            self.retire_oldest()?;
        }
        let slot = &self.slots[i];
        slot.buf.write(0, &self.cb.to_bytes())?;
        let size = u32::try_from(self.cb.size_bytes()).map_err(|_| einval())?;
        let mut job = Submit::new(self.ctx.id(), slot.buf.va(), size)
            .read(slot.buf.handle())
            .read(self.code.handle());
        for &(h, f) in &self.bos {
            job = job.bo(h, f);
        }
        if let Some(prev) = self.last {
            job = job.wait(prev, 0);
        }
        job = job.signal(slot.syncobj, 0);
        let now = syncobj::monotonic_ns();
        self.ctx.submit(&job)?;
        self.slots[i].submitted = Some(now);
        self.inflight.push_back(i);
        self.last = Some(self.slots[i].syncobj);
        self.next = (i + 1) % SLOTS;
        self.cb.clear();
        self.bos.clear();
        self.stats.jobs += 1;
        Ok(())
    }

    /// Waits for the oldest job in flight, checks that it succeeded and accounts its time.
    fn retire_oldest(&mut self) -> io::Result<()> {
        let Some(i) = self.inflight.pop_front() else {
            return Ok(());
        };
        let Some(submitted) = self.slots[i].submitted.take() else {
            return Ok(());
        };
        let fd = self.dev.as_fd();
        let so = self.slots[i].syncobj;
        syncobj::wait(fd, &[so], syncobj::timeout_after(JOB_TIMEOUT), 0)?;
        let sync_file = syncobj::export_sync_file(fd, so, None)?;
        let status = syncobj::sync_file_status(sync_file.as_fd())?;
        if status < 0 {
            let state = self.ctx.query()?;
            return Err(io::Error::other(format!(
                "job failed ({}): device error {} at packet {:#x}, fault address {:#x}",
                io::Error::from_raw_os_error(-status),
                state.error,
                state.error_packet,
                state.fault_addr
            )));
        }
        if let Some(end) = syncobj::sync_file_timestamp(sync_file.as_fd())? {
            let end = end as i64;
            let start = submitted.max(self.last_end);
            if end > start {
                self.stats.busy_ns += (end - start) as u64;
            }
            self.last_end = self.last_end.max(end);
        }
        Ok(())
    }

    /// Submits what is pending and waits until every job of the runtime is complete; frees
    /// the staging area.
    pub fn sync(&mut self) -> io::Result<()> {
        self.flush()?;
        while !self.inflight.is_empty() {
            self.retire_oldest()?;
        }
        self.staged = 0;
        Ok(())
    }

    /// Room for `bytes` in the staging area: its offset (syncs or grows the area if full).
    fn stage(&mut self, bytes: usize) -> io::Result<usize> {
        let bytes = bytes.next_multiple_of(64);
        if self.staged + bytes > self.staging.size() as usize {
            self.sync()?;
            if bytes > self.staging.size() as usize {
                self.staging = Buffer::new(self.dev, bytes.next_power_of_two() as u64, 0)?;
            }
        }
        let offset = self.staged;
        self.staged += bytes;
        Ok(offset)
    }

    /// Queues the copy of `values` into `dst` (`EINVAL` unless the lengths match).
    pub fn upload(&mut self, dst: &Mat, values: &[f32]) -> io::Result<()> {
        if values.len() != dst.len() {
            return Err(einval());
        }
        let offset = self.stage(values.len() * 4)?;
        self.staging.write_f32(offset, values)?;
        let src = self.staging.va() + offset as u64;
        self.uses(self.staging.handle(), false);
        self.uses(dst.handle, true);
        self.packet(Packet::DmaCopy {
            src,
            dst: dst.va,
            size: dst.bytes(),
        })
    }

    /// Copies `src` to the host once everything queued before is done (syncs).
    pub fn download(&mut self, src: &Mat) -> io::Result<Vec<f32>> {
        let offset = self.stage(src.len() * 4)?;
        let dst = self.staging.va() + offset as u64;
        self.uses(self.staging.handle(), true);
        self.uses(src.handle, false);
        self.packet(Packet::DmaCopy {
            src: src.va,
            dst,
            size: src.bytes(),
        })?;
        self.sync()?;
        self.staging.read_f32(offset, src.len())
    }

    /// Queues a device copy of `src` to `dst` (same number of values).
    pub fn copy(&mut self, src: &Mat, dst: &Mat) -> io::Result<()> {
        if src.len() != dst.len() {
            return Err(einval());
        }
        self.uses(src.handle, false);
        self.uses(dst.handle, true);
        self.packet(Packet::DmaCopy {
            src: src.va,
            dst: dst.va,
            size: src.bytes(),
        })
    }

    /// Queues filling `dst` with `value`.
    pub fn fill(&mut self, dst: &Mat, value: f32) -> io::Result<()> {
        self.uses(dst.handle, true);
        self.packet(Packet::DmaFill {
            dst: dst.va,
            size: dst.bytes(),
            pattern: value.to_bits(),
        })
    }

    /// Queues `c = op(a) * op(b) (+ bias) (then ReLU)` on the matrix engine. `op(a)` is `a`
    /// or, with `ta`, its transpose; the same for `b`. Shapes must agree (`EINVAL`): `op(a)`
    /// `m x k`, `op(b)` `k x n`, `c` `m x n`, `bias` `n` values.
    #[allow(clippy::too_many_arguments)]
    pub fn matmul(
        &mut self,
        a: &Mat,
        ta: bool,
        b: &Mat,
        tb: bool,
        c: &Mat,
        bias: Option<&Mat>,
        relu: bool,
    ) -> io::Result<()> {
        let (m, k) = if ta {
            (a.cols, a.rows)
        } else {
            (a.rows, a.cols)
        };
        let (kb, n) = if tb {
            (b.cols, b.rows)
        } else {
            (b.rows, b.cols)
        };
        if k != kb || c.rows != m || c.cols != n || bias.is_some_and(|x| x.len() != n as usize) {
            return Err(einval());
        }
        let g = Gemm {
            a: a.va,
            b: b.va,
            c: c.va,
            bias: bias.map(|x| x.va),
            m,
            n,
            k,
            lda: a.cols,
            ldb: b.cols,
            ldc: c.cols,
            alpha: 1.0,
            beta: 0.0,
            trans_a: ta,
            trans_b: tb,
            bf16: false,
            relu,
        };
        self.uses(a.handle, false);
        self.uses(b.handle, false);
        if let Some(x) = bias {
            self.uses(x.handle, false);
        }
        self.uses(c.handle, true);
        self.packet(Packet::Mme(g))
    }

    fn launch(&mut self, k: Kernel, grid: usize, args: &[u64]) -> io::Result<()> {
        let (code, size) = self.kernels[&k];
        let grid = u32::try_from(grid.max(1)).map_err(|_| einval())?;
        let t = TpcLaunch::new(code, size, [grid, 1, 1], args)?;
        self.packet(Packet::TpcLaunch(t))
    }

    fn elementwise(&mut self, k: Kernel, x: &Mat, y: &Mat, z: u64, n: usize) -> io::Result<()> {
        self.launch(k, n.div_ceil(VLEN), &[x.va, y.va, z, n as u64])
    }

    /// Queues `z = x + y` (same number of values).
    pub fn add(&mut self, x: &Mat, y: &Mat, z: &Mat) -> io::Result<()> {
        self.binary(Kernel::Add, x, y, z)
    }

    /// Queues `z = x * y` elementwise.
    pub fn mul(&mut self, x: &Mat, y: &Mat, z: &Mat) -> io::Result<()> {
        self.binary(Kernel::Mul, x, y, z)
    }

    fn binary(&mut self, k: Kernel, x: &Mat, y: &Mat, z: &Mat) -> io::Result<()> {
        if x.len() != y.len() || x.len() != z.len() {
            return Err(einval());
        }
        self.uses(x.handle, false);
        self.uses(y.handle, false);
        self.uses(z.handle, true);
        self.elementwise(k, x, y, z.va, x.len())
    }

    /// Queues `y = y + alpha * x` (an SGD step with `alpha = -lr`).
    pub fn axpy(&mut self, alpha: f32, x: &Mat, y: &Mat) -> io::Result<()> {
        self.scalar_op(Kernel::Axpy, alpha, x, y)
    }

    /// Queues `y = alpha * x`.
    pub fn scale(&mut self, alpha: f32, x: &Mat, y: &Mat) -> io::Result<()> {
        self.scalar_op(Kernel::Scale, alpha, x, y)
    }

    fn scalar_op(&mut self, k: Kernel, alpha: f32, x: &Mat, y: &Mat) -> io::Result<()> {
        if x.len() != y.len() {
            return Err(einval());
        }
        self.uses(x.handle, false);
        self.uses(y.handle, true);
        let n = x.len();
        self.launch(
            k,
            n.div_ceil(VLEN),
            &[x.va, y.va, u64::from(alpha.to_bits()), n as u64],
        )
    }

    /// Queues `y = max(x, 0)`.
    pub fn relu(&mut self, x: &Mat, y: &Mat) -> io::Result<()> {
        if x.len() != y.len() {
            return Err(einval());
        }
        self.uses(x.handle, false);
        self.uses(y.handle, true);
        self.elementwise(Kernel::Relu, x, y, 0, x.len())
    }

    /// Queues `dx = x > 0 ? dy : 0` (`dx` may be `dy`).
    pub fn relu_grad(&mut self, dy: &Mat, x: &Mat, dx: &Mat) -> io::Result<()> {
        self.binary(Kernel::ReluGrad, dy, x, dx)
    }

    /// Queues `out = column sums of m` (`out` has `m.cols` values).
    pub fn col_sum(&mut self, m: &Mat, out: &Mat) -> io::Result<()> {
        if out.len() != m.cols as usize {
            return Err(einval());
        }
        self.uses(m.handle, false);
        self.uses(out.handle, true);
        self.launch(
            Kernel::ColSum,
            (m.cols as usize).div_ceil(VLEN),
            &[m.va, out.va, u64::from(m.rows), u64::from(m.cols)],
        )
    }

    /// Queues `p = softmax(z)` row by row.
    pub fn softmax(&mut self, z: &Mat, p: &Mat) -> io::Result<()> {
        if z.rows != p.rows || z.cols != p.cols {
            return Err(einval());
        }
        self.uses(z.handle, false);
        self.uses(p.handle, true);
        self.launch(
            Kernel::Softmax,
            z.rows as usize,
            &[z.va, p.va, u64::from(z.cols)],
        )
    }

    /// Queues the softmax cross-entropy of the rows of `z` against targets `y`: `dz = scale *
    /// (softmax(z) - y)` and `loss` (one value per row) `= -sum_j y_j log softmax(z)_j`.
    pub fn softmax_xent(
        &mut self,
        z: &Mat,
        y: &Mat,
        dz: &Mat,
        loss: &Mat,
        scale: f32,
    ) -> io::Result<()> {
        if (z.rows, z.cols) != (y.rows, y.cols)
            || (z.rows, z.cols) != (dz.rows, dz.cols)
            || loss.len() != z.rows as usize
        {
            return Err(einval());
        }
        self.uses(z.handle, false);
        self.uses(y.handle, false);
        self.uses(dz.handle, true);
        self.uses(loss.handle, true);
        self.launch(
            Kernel::SoftmaxXent,
            z.rows as usize,
            &[
                z.va,
                y.va,
                dz.va,
                loss.va,
                u64::from(z.cols),
                u64::from(scale.to_bits()),
            ],
        )
    }

    /// Queues `out[i] = index of the largest value of row i` (first on ties), as fp32.
    pub fn argmax(&mut self, z: &Mat, out: &Mat) -> io::Result<()> {
        if out.len() != z.rows as usize {
            return Err(einval());
        }
        self.uses(z.handle, false);
        self.uses(out.handle, true);
        self.launch(
            Kernel::Argmax,
            z.rows as usize,
            &[z.va, out.va, u64::from(z.cols)],
        )
    }
}

impl Drop for Runtime<'_> {
    fn drop(&mut self) {
        let _ = self.sync();
        for s in &self.slots {
            let _ = syncobj::destroy(self.dev.as_fd(), s.syncobj);
        }
    }
}
