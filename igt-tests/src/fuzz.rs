// SPDX-License-Identifier: GPL-2.0 OR MIT

//! A structured, resource-aware ioctl fuzzer for the accel node and the DRM core ioctls it
//! serves, in the spirit of syzkaller's descriptions.
//!
//! A [`Worker`] knows every driver ioctl (`QUERY`, `GEM_CREATE`, `GEM_INFO`,
//! `GEM_MMAP_OFFSET`, `VM_BIND`, `CTX_CREATE`, `CTX_DESTROY`, `SUBMIT`, `CTX_QUERY`) and every
//! DRM core ioctl an accel file reaches (version, capabilities, the legacy master and client
//! requests, GEM close/flink/open, PRIME, all syncobj requests, the dumb-buffer and mode
//! requests that must fail), plus what the resources lead to: `mmap()` of objects and
//! dma-bufs, `DMA_BUF_IOCTL_*`, sync_file merge and info, eventfds, vgem buffers and fences.
//! It keeps the resources it created (files of both nodes, objects, mappings, dma-bufs,
//! syncobjs and their fds, sync_files, contexts, VM ranges, command buffers) in a [`Pool`] and
//! feeds them back as arguments, mixed with hostile values: stale and foreign handles, other
//! files' handles, wrong fds, zero, huge and misaligned sizes, unknown flags, bad pointers.
//!
//! Pointers handed to the kernel are either inside the worker's scratch area, whose end
//! borders an inaccessible page, or addresses that cannot be accessed (NULL, the guard page,
//! a kernel address): whatever the kernel writes lands in the scratch area, never elsewhere
//! in the process. Waits are bounded (a few milliseconds), so that no call blocks for long.
//!
//! A seed makes the sequence of calls of every worker reproducible (not the interleaving of
//! the threads and processes that run them). [`Stats`] count calls per request and errno.

use std::{
    collections::BTreeMap,
    fs::File,
    os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd},
    sync::Arc,
};

use gaudi::{
    cmdbuf::CommandBuffer,
    drm::{
        drm_gem_close, drm_get_cap, drm_mode_create_dumb, drm_prime_handle, drm_version,
        DRM_CLOEXEC, DRM_IOCTL_GEM_CLOSE, DRM_IOCTL_GET_CAP, DRM_IOCTL_MODE_CREATE_DUMB,
        DRM_IOCTL_PRIME_FD_TO_HANDLE, DRM_IOCTL_PRIME_HANDLE_TO_FD, DRM_IOCTL_VERSION, DRM_RDWR,
    },
    syncobj::{
        drm_syncobj_array, drm_syncobj_create, drm_syncobj_destroy, drm_syncobj_handle,
        drm_syncobj_timeline_array, drm_syncobj_timeline_wait, drm_syncobj_transfer,
        drm_syncobj_wait, monotonic_ns, DRM_IOCTL_SYNCOBJ_CREATE, DRM_IOCTL_SYNCOBJ_DESTROY,
        DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE, DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD, DRM_IOCTL_SYNCOBJ_QUERY,
        DRM_IOCTL_SYNCOBJ_RESET, DRM_IOCTL_SYNCOBJ_SIGNAL, DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL,
        DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT, DRM_IOCTL_SYNCOBJ_TRANSFER, DRM_IOCTL_SYNCOBJ_WAIT,
    },
    uapi::{self, drm_iowr},
    Mapping,
};

use crate::{
    ioc, ioctl_errno,
    vgem::{VgemFenceAttach, VgemFenceSignal, VGEM_FENCE_ATTACH, VGEM_FENCE_SIGNAL},
};

/// A deterministic random source (splitmix64).
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    /// A source for `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x6a09_e667_f3bc_c909)
    }

    /// The next 64 random bits.
    pub fn bits(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.bits() % n.max(1)
    }

    /// An index into a collection of `n` (> 0) elements.
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// A 32-bit value that is often at an edge: 0, 1, all ones, the sign bit, a power of two.
    pub fn edgy32(&mut self) -> u32 {
        match self.below(6) {
            0 => 0,
            1 => 1,
            2 => u32::MAX,
            3 => 1 << 31,
            4 => 1 << self.below(32),
            _ => self.bits() as u32,
        }
    }

    /// A 64-bit value that is often at an edge.
    pub fn edgy64(&mut self) -> u64 {
        match self.below(7) {
            0 => 0,
            1 => 1,
            2 => u64::MAX,
            3 => 1 << 63,
            4 => 1 << self.below(64),
            5 => u64::MAX - self.below(4096),
            _ => self.bits(),
        }
    }
}

/// Calls per request name and errno (0 for success).
#[derive(Default, Clone)]
pub struct Stats {
    /// `request -> errno -> count`.
    pub calls: BTreeMap<String, BTreeMap<i32, u64>>,
}

impl Stats {
    /// Records one call of `name` that returned `errno` (0: success).
    pub fn record(&mut self, name: &str, errno: i32) {
        if let Some(m) = self.calls.get_mut(name) {
            *m.entry(errno).or_default() += 1;
        } else {
            self.calls
                .entry(name.to_string())
                .or_default()
                .insert(errno, 1);
        }
    }

    /// Adds the counts of `other`.
    pub fn merge(&mut self, other: &Stats) {
        for (name, m) in &other.calls {
            let mine = self.calls.entry(name.clone()).or_default();
            for (e, n) in m {
                *mine.entry(*e).or_default() += n;
            }
        }
    }

    /// All calls.
    pub fn total(&self) -> u64 {
        self.calls.values().flat_map(|m| m.values()).sum()
    }

    /// Calls per errno, over all requests.
    pub fn errnos(&self) -> BTreeMap<i32, u64> {
        let mut out = BTreeMap::new();
        for m in self.calls.values() {
            for (e, n) in m {
                *out.entry(*e).or_default() += n;
            }
        }
        out
    }

    /// One line per request and errno: `NAME ERRNO COUNT`.
    pub fn serialize(&self) -> String {
        let mut s = String::new();
        for (name, m) in &self.calls {
            for (e, n) in m {
                s.push_str(&format!("{name} {e} {n}\n"));
            }
        }
        s
    }

    /// Parses what [`Stats::serialize`] wrote.
    pub fn parse(text: &str) -> Stats {
        let mut st = Stats::default();
        for line in text.lines() {
            let mut it = line.split_whitespace();
            if let (Some(name), Some(e), Some(n)) = (it.next(), it.next(), it.next()) {
                if let (Ok(e), Ok(n)) = (e.parse::<i32>(), n.parse::<u64>()) {
                    *st.calls
                        .entry(name.to_string())
                        .or_default()
                        .entry(e)
                        .or_default() += n;
                }
            }
        }
        st
    }

    /// Request and errno pairs that no request of this interface documents: the fuzzer fails
    /// on them. A DRM request on a DRM file never fails with `ENOTTY`; nothing returns `EIO`
    /// or an errno outside the kernel's usual set.
    pub fn unexpected(&self) -> Vec<(String, i32, u64)> {
        const ALLOWED: &[i32] = &[
            0,
            libc::EPERM,
            libc::ENOENT,
            libc::EINTR,
            libc::EBADF,
            libc::EAGAIN,
            libc::ENOMEM,
            libc::EACCES,
            libc::EFAULT,
            libc::EBUSY,
            libc::EEXIST,
            libc::ENODEV,
            libc::EINVAL,
            libc::ENOSPC,
            libc::ERANGE,
            libc::E2BIG,
            libc::ENOSYS,
            libc::ETIME,
            libc::EOPNOTSUPP,
            libc::ECANCELED,
            libc::EOVERFLOW,
            libc::ENXIO,
            libc::ETIMEDOUT,
            libc::EMFILE,
            libc::ENOTTY,
        ];
        let mut out = Vec::new();
        for (name, m) in &self.calls {
            for (e, n) in m {
                let ok = ALLOWED.contains(e)
                    && !(*e == libc::ENOTTY
                        && (name.starts_with("drm.") || name.starts_with("gaudi.")));
                if !ok {
                    out.push((name.clone(), *e, *n));
                }
            }
        }
        out
    }
}

/// The name of an errno, for reports.
pub fn errno_name(e: i32) -> String {
    let names: &[(i32, &str)] = &[
        (0, "ok"),
        (libc::EPERM, "EPERM"),
        (libc::ENOENT, "ENOENT"),
        (libc::EINTR, "EINTR"),
        (libc::EIO, "EIO"),
        (libc::ENXIO, "ENXIO"),
        (libc::E2BIG, "E2BIG"),
        (libc::EBADF, "EBADF"),
        (libc::EAGAIN, "EAGAIN"),
        (libc::ENOMEM, "ENOMEM"),
        (libc::EACCES, "EACCES"),
        (libc::EFAULT, "EFAULT"),
        (libc::EBUSY, "EBUSY"),
        (libc::EEXIST, "EEXIST"),
        (libc::ENODEV, "ENODEV"),
        (libc::EINVAL, "EINVAL"),
        (libc::EMFILE, "EMFILE"),
        (libc::ENOTTY, "ENOTTY"),
        (libc::ENOSPC, "ENOSPC"),
        (libc::ERANGE, "ERANGE"),
        (libc::ENOSYS, "ENOSYS"),
        (libc::ETIME, "ETIME"),
        (libc::EOVERFLOW, "EOVERFLOW"),
        (libc::EOPNOTSUPP, "EOPNOTSUPP"),
        (libc::ETIMEDOUT, "ETIMEDOUT"),
        (libc::ECANCELED, "ECANCELED"),
    ];
    names
        .iter()
        .find(|(n, _)| *n == e)
        .map(|(_, s)| (*s).to_string())
        .unwrap_or_else(|| format!("errno {e}"))
}

/// A file of a DRM device shared by all workers of a process (and inherited by forks).
pub struct SharedFile {
    /// The open file.
    pub file: File,
    /// 0: the node under test, 1: the other gaudi node, 2: vgem.
    pub node: u8,
}

/// Bytes of a worker's scratch area.
const SCRATCH: usize = 256 * 1024;
/// Random VM_BIND ranges fall in `[VA_START, VA_START + VA_WINDOW)`.
const VA_WINDOW: u64 = 32 << 20;
/// Command buffers of worker `w` are bound at `CB_VA + w * CB_STRIDE`, outside the window.
const CB_VA: u64 = 1 << 36;
const CB_STRIDE: u64 = 1 << 20;
/// Bytes of a command-buffer object: page 0 holds the command buffers, page 1 their target.
const CB_BO: u64 = 2 * 4096;
/// Resources of one kind a worker keeps at most.
const CAP: usize = 48;

const DRM: u32 = uapi::DRM_IOCTL_BASE;
const RW: u32 = uapi::IOC_READ_WRITE;

// DRM core requests without a wrapper in the gaudi crate (include/uapi/drm/drm.h).
const GET_UNIQUE: u32 = ioc(RW, DRM, 0x01, 16);
const GET_MAGIC: u32 = ioc(2, DRM, 0x02, 4);
const GET_CLIENT: u32 = ioc(RW, DRM, 0x05, 40);
const GET_STATS: u32 = ioc(2, DRM, 0x06, 248);
const SET_CLIENT_CAP: u32 = ioc(1, DRM, 0x0d, 16);
const GEM_FLINK: u32 = ioc(RW, DRM, 0x0a, 8);
const GEM_OPEN: u32 = ioc(RW, DRM, 0x0b, 16);
const AUTH_MAGIC: u32 = ioc(1, DRM, 0x11, 4);
const SET_MASTER: u32 = ioc(0, DRM, 0x1e, 0);
const DROP_MASTER: u32 = ioc(0, DRM, 0x1f, 0);
const MODE_GETRESOURCES: u32 = ioc(RW, DRM, 0xa0, 64);
const SET_CLIENT_NAME: u32 = ioc(RW, DRM, 0xd1, 16);
const SYNCOBJ_EVENTFD: u32 = ioc(RW, DRM, 0xcf, 24);
// dma-buf (include/uapi/linux/dma-buf.h) and sync_file (include/uapi/linux/sync_file.h).
const DMA_BUF_SYNC: u32 = ioc(1, b'b' as u32, 0, 8);
const DMA_BUF_EXPORT_SYNC_FILE: u32 = ioc(RW, b'b' as u32, 2, 8);
const DMA_BUF_IMPORT_SYNC_FILE: u32 = ioc(1, b'b' as u32, 3, 8);
const SYNC_IOC_MERGE: u32 = ioc(RW, b'>' as u32, 3, 48);
const SYNC_IOC_FILE_INFO: u32 = ioc(RW, b'>' as u32, 4, 56);

/// `struct drm_syncobj_eventfd`.
#[repr(C)]
#[derive(Default)]
struct SyncobjEventfd {
    handle: u32,
    flags: u32,
    point: u64,
    fd: i32,
    pad: u32,
}

/// `struct sync_merge_data`.
#[repr(C)]
#[derive(Default)]
struct SyncMerge {
    name: [u8; 32],
    fd2: i32,
    fence: i32,
    flags: u32,
    pad: u32,
}

/// `struct sync_file_info`.
#[repr(C)]
#[derive(Default)]
struct SyncFileInfo {
    name: [u8; 32],
    status: i32,
    flags: u32,
    num_fences: u32,
    pad: u32,
    sync_fence_info: u64,
}

/// A buffer object: file slot, handle, size.
#[derive(Clone, Copy)]
struct Bo {
    file: usize,
    handle: u32,
    size: u64,
}

/// A command buffer bound in a file's VM.
#[derive(Clone, Copy)]
struct Cb {
    va: u64,
    /// Byte size of each of the prepared command buffers at `va`, `va + 1024`, ...
    sizes: [u32; 4],
}

/// What a worker created and may use, close or misuse.
#[derive(Default)]
struct Pool {
    /// Files of its own (opened and closed during the run), after the shared ones.
    own: Vec<Option<(Arc<File>, u8)>>,
    bos: Vec<Bo>,
    maps: Vec<Mapping>,
    dmabufs: Vec<OwnedFd>,
    syncobjs: Vec<(usize, u32)>,
    syncobj_fds: Vec<OwnedFd>,
    sync_files: Vec<OwnedFd>,
    eventfds: Vec<OwnedFd>,
    ctxs: Vec<(usize, u32)>,
    binds: Vec<(usize, u64, u64)>,
    vgem_bos: Vec<u32>,
    cbs: BTreeMap<usize, Cb>,
}

/// One fuzzing thread (or forked process): its random source, resources and statistics.
pub struct Worker {
    rng: Rng,
    id: u64,
    shared: Arc<Vec<SharedFile>>,
    pool: Pool,
    /// Scratch area followed by an inaccessible page.
    scratch: Mapping,
    /// Calls made and their results.
    pub stats: Stats,
}

/// Operations, each picked with the same probability.
const OPS: u64 = 40;

impl Worker {
    /// A worker numbered `id` with the random source of `seed`, on the `shared` files.
    pub fn new(seed: u64, id: u64, shared: Arc<Vec<SharedFile>>) -> std::io::Result<Self> {
        let page = crate::page_size();
        let scratch = Mapping::anonymous(SCRATCH + page, libc::PROT_READ | libc::PROT_WRITE)?;
        // SAFETY: The page after the scratch bytes belongs to `scratch`; it only becomes
        // inaccessible.
        let r =
            unsafe { libc::mprotect(scratch.as_ptr().add(SCRATCH).cast(), page, libc::PROT_NONE) };
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Self {
            rng: Rng::new(seed.wrapping_mul(0x100_0000_01b3).wrapping_add(id)),
            id,
            shared,
            pool: Pool::default(),
            scratch,
            stats: Stats::default(),
        })
    }

    // ---- argument generators ----

    /// The number of file slots: the shared files, then the worker's own.
    fn slots(&self) -> usize {
        self.shared.len() + self.pool.own.len()
    }

    /// The file in `slot` and its node, if it is (still) open.
    fn file(&self, slot: usize) -> Option<(BorrowedFd<'_>, u8)> {
        if slot < self.shared.len() {
            let s = &self.shared[slot];
            Some((s.file.as_fd(), s.node))
        } else {
            self.pool
                .own
                .get(slot - self.shared.len())
                .and_then(|o| o.as_ref())
                .map(|(f, n)| (f.as_fd(), *n))
        }
    }

    /// A gaudi file slot (node 0 or 1), mostly one of the node under test.
    fn gaudi_slot(&mut self) -> usize {
        loop {
            let slot = self.rng.index(self.slots());
            if let Some((_, node)) = self.file(slot) {
                if node == 0 || (node == 1 && self.rng.chance(1, 3)) {
                    return slot;
                }
            }
        }
    }

    /// The raw fd of a gaudi file.
    fn gfd(&mut self) -> (usize, i32) {
        let slot = self.gaudi_slot();
        let fd = self.file(slot).map(|(f, _)| f.as_raw_fd()).unwrap_or(-1);
        (slot, fd)
    }

    /// The vgem file, if there is one.
    fn vgem(&self) -> Option<BorrowedFd<'_>> {
        self.shared
            .iter()
            .find(|s| s.node == 2)
            .map(|s| s.file.as_fd())
    }

    /// A handle of an object of `slot`, a foreign or stale one, or a hostile number.
    fn bo_handle(&mut self, slot: usize) -> u32 {
        let mine: Vec<u32> = self
            .pool
            .bos
            .iter()
            .filter(|b| b.file == slot)
            .map(|b| b.handle)
            .collect();
        if !mine.is_empty() && self.rng.chance(3, 4) {
            return mine[self.rng.index(mine.len())];
        }
        if !self.pool.bos.is_empty() && self.rng.chance(1, 2) {
            return self.pool.bos[self.rng.index(self.pool.bos.len())].handle;
        }
        if self.rng.chance(1, 2) {
            1 + self.rng.below(64) as u32
        } else {
            self.rng.edgy32()
        }
    }

    /// One of `mine` (mostly), a small number below `small` or an edge value.
    fn pick(&mut self, mine: Vec<u32>, small: u64) -> u32 {
        if !mine.is_empty() && self.rng.chance(4, 5) {
            return mine[self.rng.index(mine.len())];
        }
        if self.rng.chance(1, 2) {
            self.rng.below(small) as u32
        } else {
            self.rng.edgy32()
        }
    }

    /// A syncobj handle of `slot`, or another.
    fn syncobj(&mut self, slot: usize) -> u32 {
        let mine = self
            .pool
            .syncobjs
            .iter()
            .filter(|s| s.0 == slot)
            .map(|s| s.1)
            .collect();
        self.pick(mine, 65)
    }

    /// A context id of `slot`, or another.
    fn ctx(&mut self, slot: usize) -> u32 {
        let mine = self
            .pool
            .ctxs
            .iter()
            .filter(|c| c.0 == slot)
            .map(|c| c.1)
            .collect();
        self.pick(mine, 8)
    }

    /// A file descriptor for an fd argument: one of the kind wanted (`pick`), another kind,
    /// or one that is not open.
    fn some_fd(&mut self, pick: impl Fn(&Pool) -> &Vec<OwnedFd>) -> i32 {
        let want = pick(&self.pool);
        if !want.is_empty() && self.rng.chance(3, 4) {
            return want[self.rng.index(want.len())].as_raw_fd();
        }
        match self.rng.below(7) {
            0 => -1,
            1 => 1 << 20,
            2 => self.shared[0].file.as_raw_fd(),
            3 if !self.pool.dmabufs.is_empty() => self.pool.dmabufs[0].as_raw_fd(),
            4 if !self.pool.sync_files.is_empty() => self.pool.sync_files[0].as_raw_fd(),
            5 if !self.pool.syncobj_fds.is_empty() => self.pool.syncobj_fds[0].as_raw_fd(),
            6 if !self.pool.eventfds.is_empty() => self.pool.eventfds[0].as_raw_fd(),
            _ => 0,
        }
    }

    /// A user pointer for `len` bytes the kernel may read or write: inside the scratch area
    /// (sometimes running into the guard page at its end), or an address it cannot access.
    fn ptr(&mut self, len: usize) -> u64 {
        let base = self.scratch.as_ptr() as u64;
        match self.rng.below(16) {
            0 => 0,
            1 => base + SCRATCH as u64,
            2 => 0xffff_ffff_8000_0000,
            3 if len > 0 => base + SCRATCH as u64 - self.rng.below(len as u64).max(1),
            _ if len <= SCRATCH => (base + self.rng.below((SCRATCH - len) as u64 + 1)) & !7,
            _ => base + SCRATCH as u64,
        }
    }

    /// Writes `words` to the start of the scratch area and returns their address.
    fn put<T: Copy>(&mut self, items: &[T]) -> u64 {
        let bytes = std::mem::size_of_val(items).min(SCRATCH);
        // SAFETY: `bytes` fit the scratch area, which `self.scratch` maps readable and
        // writable; `items` are plain `repr(C)` values or integers.
        unsafe {
            std::ptr::copy_nonoverlapping(
                items.as_ptr().cast::<u8>(),
                self.scratch.as_ptr(),
                bytes,
            );
        }
        self.scratch.as_ptr() as u64
    }

    /// A count of array entries: mostly small, sometimes zero or huge.
    fn count(&mut self, small: usize) -> u32 {
        match self.rng.below(12) {
            0 => 0,
            1 => self.rng.edgy32(),
            2 => 1 << 20,
            _ => 1 + self.rng.below(small as u64) as u32,
        }
    }

    /// An absolute timeout at most a few milliseconds ahead (or in the past, or 0).
    fn timeout(&mut self) -> i64 {
        match self.rng.below(4) {
            0 => 0,
            1 => -1,
            _ => monotonic_ns().saturating_add(self.rng.below(3_000_000) as i64),
        }
    }

    /// An ioctl on `fd` with `arg`, recorded under `name`.
    fn call<T>(&mut self, name: &'static str, fd: i32, request: u32, arg: &mut T) -> i32 {
        let e = if fd < 0 {
            libc::EBADF
        } else {
            // SAFETY: The caller passes an open descriptor or one that is not open (EBADF);
            // the borrow does not outlive the call.
            ioctl_errno(unsafe { BorrowedFd::borrow_raw(fd) }, request, arg)
        };
        self.stats.record(name, e);
        e
    }

    // ---- the operations ----

    /// Runs one random operation.
    pub fn step(&mut self) {
        match self.rng.below(OPS) {
            0 => self.version(),
            1 => self.get_cap(),
            2 => self.legacy(),
            3 => self.client_requests(),
            4 | 5 => self.gem_create(),
            6 => self.gem_close(),
            7 => self.gem_info(),
            8 | 9 => self.mmap_bo(),
            10 => self.munmap(),
            11 => self.query(),
            12 => self.flink_open(),
            13 | 14 => self.prime_export(),
            15 | 16 => self.prime_import(),
            17 => self.dmabuf_ops(),
            18 | 19 => self.syncobj_create_destroy(),
            20 => self.syncobj_fds(),
            21 => self.syncobj_sync_file(),
            22 | 23 => self.syncobj_wait(),
            24 => self.syncobj_arrays(),
            25 => self.syncobj_transfer(),
            26 => self.syncobj_eventfd(),
            27 => self.sync_file_ops(),
            28 | 29 => self.vm_bind(),
            30 => self.ctx_create_destroy(),
            31 => self.ctx_query(),
            32..=35 => self.submit(),
            36 => self.vgem_ops(),
            37 => self.open_close(),
            38 => self.not_for_accel(),
            _ => self.close_some(),
        }
    }

    fn version(&mut self) {
        let (_, fd) = self.gfd();
        let n = self.rng.below(4) * 40;
        let mut ptr = |n: u64| self.ptr(n as usize) as *mut std::ffi::c_char;
        let mut v = drm_version {
            name_len: n,
            name: ptr(n),
            date_len: n,
            date: ptr(n),
            desc_len: n,
            desc: ptr(n),
            ..Default::default()
        };
        if self.rng.chance(1, 8) {
            v.name_len = u64::MAX;
        }
        self.call("drm.VERSION", fd, DRM_IOCTL_VERSION, &mut v);
    }

    fn get_cap(&mut self) {
        let (_, fd) = self.gfd();
        let mut c = drm_get_cap {
            capability: if self.rng.chance(3, 4) {
                self.rng.below(0x20)
            } else {
                self.rng.edgy64()
            },
            value: 0,
        };
        self.call("drm.GET_CAP", fd, DRM_IOCTL_GET_CAP, &mut c);
        let mut cc = [self.rng.below(8), self.rng.below(3)];
        self.call("drm.SET_CLIENT_CAP", fd, SET_CLIENT_CAP, &mut cc);
    }

    /// The legacy requests that need a master, which accel files do not have.
    fn legacy(&mut self) {
        let (_, fd) = self.gfd();
        let len = self.rng.below(64);
        let mut u = [len, self.ptr(len as usize)];
        self.call("drm.GET_UNIQUE", fd, GET_UNIQUE, &mut u);
        let mut magic = self.rng.edgy32();
        match self.rng.below(4) {
            0 => self.call("drm.GET_MAGIC", fd, GET_MAGIC, &mut magic),
            1 => self.call("drm.AUTH_MAGIC", fd, AUTH_MAGIC, &mut magic),
            2 => self.call("drm.SET_MASTER", fd, SET_MASTER, &mut magic),
            _ => self.call("drm.DROP_MASTER", fd, DROP_MASTER, &mut magic),
        };
    }

    fn client_requests(&mut self) {
        let (_, fd) = self.gfd();
        match self.rng.below(3) {
            0 => {
                let mut c = [0u64; 5];
                c[0] = u64::from(self.rng.below(4) as u32);
                self.call("drm.GET_CLIENT", fd, GET_CLIENT, &mut c);
            }
            1 => {
                let mut s = [0u64; 31];
                self.call("drm.GET_STATS", fd, GET_STATS, &mut s);
            }
            _ => {
                let len = self.rng.below(80);
                let name: Vec<u8> = (0..len)
                    .map(|_| {
                        if self.rng.chance(7, 8) {
                            b'a' + self.rng.below(26) as u8
                        } else {
                            self.rng.bits() as u8
                        }
                    })
                    .collect();
                let p = if name.is_empty() {
                    self.ptr(0)
                } else {
                    self.put(&name)
                };
                let mut n = [len, p];
                self.call("drm.SET_CLIENT_NAME", fd, SET_CLIENT_NAME, &mut n);
            }
        }
    }

    fn gem_create(&mut self) {
        if self.pool.bos.len() >= CAP {
            self.gem_close();
        }
        let (slot, fd) = self.gfd();
        let size = match self.rng.below(10) {
            0 => self.rng.edgy64(),
            1 => 1 + self.rng.below(2 << 20),
            _ => 4096 * (1 + self.rng.below(16)),
        };
        let flags = match self.rng.below(8) {
            0 => uapi::DRM_GAUDI_BO_WC,
            1 => uapi::DRM_GAUDI_BO_DEVICE,
            2 => uapi::DRM_GAUDI_BO_WC | uapi::DRM_GAUDI_BO_DEVICE,
            3 => self.rng.edgy32(),
            _ => 0,
        };
        let mut c = uapi::drm_gaudi_gem_create {
            size,
            flags,
            handle: 0,
        };
        if self.call(
            "gaudi.GEM_CREATE",
            fd,
            uapi::DRM_IOCTL_GAUDI_GEM_CREATE,
            &mut c,
        ) == 0
        {
            self.pool.bos.push(Bo {
                file: slot,
                handle: c.handle,
                size: c.size,
            });
        }
    }

    fn gem_close(&mut self) {
        let (slot, fd, handle) = if !self.pool.bos.is_empty() && self.rng.chance(7, 8) {
            let b = self
                .pool
                .bos
                .swap_remove(self.rng.index(self.pool.bos.len()));
            let fd = self.file(b.file).map(|(f, _)| f.as_raw_fd()).unwrap_or(-1);
            (b.file, fd, b.handle)
        } else {
            let (slot, fd) = self.gfd();
            let h = self.bo_handle(slot);
            (slot, fd, h)
        };
        let _ = slot;
        let mut c = drm_gem_close { handle, pad: 0 };
        if self.rng.chance(1, 16) {
            c.pad = self.rng.edgy32();
        }
        self.call("drm.GEM_CLOSE", fd, DRM_IOCTL_GEM_CLOSE, &mut c);
    }

    fn gem_info(&mut self) {
        let (slot, fd) = self.gfd();
        let mut i = uapi::drm_gaudi_gem_info {
            handle: self.bo_handle(slot),
            ..Default::default()
        };
        if self.rng.chance(1, 8) {
            i.pad = self.rng.edgy64();
        }
        self.call("gaudi.GEM_INFO", fd, uapi::DRM_IOCTL_GAUDI_GEM_INFO, &mut i);
    }

    fn mmap_bo(&mut self) {
        if self.pool.maps.len() >= CAP {
            self.munmap();
        }
        let (slot, fd, handle, size) = if !self.pool.bos.is_empty() && self.rng.chance(7, 8) {
            let b = self.pool.bos[self.rng.index(self.pool.bos.len())];
            let fd = self.file(b.file).map(|(f, _)| f.as_raw_fd()).unwrap_or(-1);
            (b.file, fd, b.handle, b.size)
        } else {
            let (slot, fd) = self.gfd();
            let h = self.bo_handle(slot);
            (slot, fd, h, 4096)
        };
        let _ = slot;
        let mut o = uapi::drm_gaudi_gem_mmap_offset {
            handle,
            flags: if self.rng.chance(1, 10) {
                self.rng.edgy32()
            } else {
                0
            },
            offset: 0,
        };
        if self.call(
            "gaudi.GEM_MMAP_OFFSET",
            fd,
            uapi::DRM_IOCTL_GAUDI_GEM_MMAP_OFFSET,
            &mut o,
        ) != 0
        {
            return;
        }
        // Mostly the whole object or a part of it; sometimes beyond it or private.
        let pages = size.div_ceil(4096).max(1);
        let (off, len) = match self.rng.below(10) {
            0 => (0, (pages + 1) * 4096),
            1 => (pages * 4096, 4096),
            _ => {
                let first = self.rng.below(pages);
                (first * 4096, (1 + self.rng.below(pages - first)) * 4096)
            }
        };
        let flags = if self.rng.chance(1, 10) {
            libc::MAP_PRIVATE
        } else {
            libc::MAP_SHARED
        };
        // SAFETY: `fd` is open (or the call fails with EBADF).
        let file = unsafe { BorrowedFd::borrow_raw(fd) };
        match Mapping::new(
            file,
            o.offset + off,
            len as usize,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
        ) {
            Ok(m) => {
                self.stats.record("mmap", 0);
                if off + len <= pages * 4096 {
                    let v = [self.rng.bits() as u8];
                    let _ = m.write(0, &v);
                    self.pool.maps.push(m);
                }
            }
            Err(e) => self.stats.record("mmap", e.raw_os_error().unwrap_or(-1)),
        }
    }

    fn munmap(&mut self) {
        if !self.pool.maps.is_empty() {
            let m = self
                .pool
                .maps
                .swap_remove(self.rng.index(self.pool.maps.len()));
            let mut b = [0u8; 1];
            let _ = m.read(m.len() - 1, &mut b);
            drop(m);
            self.stats.record("munmap", 0);
        }
    }

    fn query(&mut self) {
        let (_, fd) = self.gfd();
        let size = match self.rng.below(6) {
            0 => 0,
            1 => self.rng.edgy32(),
            _ => self.rng.below(128) as u32,
        };
        let mut q = uapi::drm_gaudi_query {
            type_: if self.rng.chance(7, 8) {
                self.rng.below(3) as u32
            } else {
                self.rng.edgy32()
            },
            size,
            pointer: self.ptr((size as usize).min(SCRATCH + 1)),
            flags: if self.rng.chance(1, 10) {
                self.rng.edgy32()
            } else {
                0
            },
            pad: if self.rng.chance(1, 10) {
                self.rng.edgy32()
            } else {
                0
            },
        };
        if size as usize > SCRATCH {
            q.pointer = self.scratch.as_ptr() as u64 + SCRATCH as u64;
        }
        self.call("gaudi.QUERY", fd, uapi::DRM_IOCTL_GAUDI_QUERY, &mut q);
    }

    fn flink_open(&mut self) {
        let (slot, fd) = self.gfd();
        let mut f = [self.bo_handle(slot), 0u32];
        if self.call("drm.GEM_FLINK", fd, GEM_FLINK, &mut f) == 0 && self.rng.chance(1, 2) {
            let (slot2, fd2) = self.gfd();
            let mut o = [u64::from(f[1]), 0u64];
            if self.call("drm.GEM_OPEN", fd2, GEM_OPEN, &mut o) == 0 {
                self.pool.bos.push(Bo {
                    file: slot2,
                    handle: (o[0] >> 32) as u32,
                    size: o[1],
                });
            }
        } else {
            let mut o = [u64::from(self.rng.edgy32()), 0u64];
            self.call("drm.GEM_OPEN", fd, GEM_OPEN, &mut o);
        }
    }

    fn prime_export(&mut self) {
        if self.pool.dmabufs.len() >= CAP {
            self.pool.dmabufs.swap_remove(0);
        }
        let (slot, fd) = self.gfd();
        let flags = match self.rng.below(6) {
            0 => 0,
            1 => DRM_CLOEXEC,
            2 => self.rng.edgy32(),
            _ => DRM_CLOEXEC | DRM_RDWR,
        };
        let mut p = drm_prime_handle {
            handle: self.bo_handle(slot),
            flags,
            fd: -1,
        };
        if self.call(
            "drm.PRIME_HANDLE_TO_FD",
            fd,
            DRM_IOCTL_PRIME_HANDLE_TO_FD,
            &mut p,
        ) == 0
        {
            // SAFETY: The kernel gave us this new descriptor.
            self.pool
                .dmabufs
                .push(unsafe { OwnedFd::from_raw_fd(p.fd) });
        }
    }

    fn prime_import(&mut self) {
        let (slot, fd) = self.gfd();
        let dmabuf = self.some_fd(|p| &p.dmabufs);
        let mut p = drm_prime_handle {
            handle: 0,
            flags: 0,
            fd: dmabuf,
        };
        if self.call(
            "drm.PRIME_FD_TO_HANDLE",
            fd,
            DRM_IOCTL_PRIME_FD_TO_HANDLE,
            &mut p,
        ) == 0
            && self.pool.bos.len() < 2 * CAP
        {
            // The object may already have a handle here (the same handle again).
            let size = self
                .pool
                .bos
                .iter()
                .find(|b| b.file == slot && b.handle == p.handle);
            let size = size.map(|b| b.size).unwrap_or(4096);
            self.pool.bos.push(Bo {
                file: slot,
                handle: p.handle,
                size,
            });
        }
    }

    fn dmabuf_ops(&mut self) {
        if self.pool.dmabufs.is_empty() {
            return self.prime_export();
        }
        let i = self.rng.index(self.pool.dmabufs.len());
        let fd = self.pool.dmabufs[i].as_raw_fd();
        match self.rng.below(5) {
            0 => {
                // SAFETY: `fd` is open; a dma-buf of at least one page.
                let file = unsafe { BorrowedFd::borrow_raw(fd) };
                match Mapping::shared(file, 0, 4096) {
                    Ok(m) => {
                        self.stats.record("mmap", 0);
                        let _ = m.write(0, &[1]);
                        if self.pool.maps.len() < CAP {
                            self.pool.maps.push(m);
                        }
                    }
                    Err(e) => self.stats.record("mmap", e.raw_os_error().unwrap_or(-1)),
                }
            }
            1 => {
                let flags = match self.rng.below(5) {
                    0 => self.rng.edgy64(),
                    1 => 1,
                    2 => 2,
                    3 => 3,
                    _ => 4 | self.rng.below(4),
                };
                let mut s = flags;
                self.call("dma-buf.SYNC", fd, DMA_BUF_SYNC, &mut s);
            }
            2 => {
                let mut e = [1 + self.rng.below(3) as u32, u32::MAX];
                if self.rng.chance(1, 8) {
                    e[0] = self.rng.edgy32();
                }
                if self.call(
                    "dma-buf.EXPORT_SYNC_FILE",
                    fd,
                    DMA_BUF_EXPORT_SYNC_FILE,
                    &mut e,
                ) == 0
                {
                    // SAFETY: The kernel gave us this new descriptor.
                    let sf = unsafe { OwnedFd::from_raw_fd(e[1] as i32) };
                    self.keep_sync_file(sf);
                }
            }
            3 => {
                let sf = self.some_fd(|p| &p.sync_files);
                let mut e = [1 + self.rng.below(3) as u32, sf as u32];
                self.call(
                    "dma-buf.IMPORT_SYNC_FILE",
                    fd,
                    DMA_BUF_IMPORT_SYNC_FILE,
                    &mut e,
                );
            }
            _ => {
                drop(self.pool.dmabufs.swap_remove(i));
                self.stats.record("close", 0);
            }
        }
    }

    fn keep_sync_file(&mut self, sf: OwnedFd) {
        if self.pool.sync_files.len() >= CAP {
            self.pool.sync_files.swap_remove(0);
        }
        self.pool.sync_files.push(sf);
    }

    fn syncobj_create_destroy(&mut self) {
        let (slot, fd) = self.gfd();
        if self.pool.syncobjs.len() < CAP && self.rng.chance(2, 3) {
            let mut c = drm_syncobj_create {
                handle: 0,
                flags: match self.rng.below(8) {
                    0 => self.rng.edgy32(),
                    1..=3 => 1,
                    _ => 0,
                },
            };
            if self.call("drm.SYNCOBJ_CREATE", fd, DRM_IOCTL_SYNCOBJ_CREATE, &mut c) == 0 {
                self.pool.syncobjs.push((slot, c.handle));
            }
        } else {
            let (fd, handle) = if !self.pool.syncobjs.is_empty() && self.rng.chance(4, 5) {
                let (s, h) = self
                    .pool
                    .syncobjs
                    .swap_remove(self.rng.index(self.pool.syncobjs.len()));
                (self.file(s).map(|(f, _)| f.as_raw_fd()).unwrap_or(-1), h)
            } else {
                (fd, self.syncobj(slot))
            };
            let mut d = drm_syncobj_destroy { handle, pad: 0 };
            if self.rng.chance(1, 16) {
                d.pad = 1;
            }
            self.call("drm.SYNCOBJ_DESTROY", fd, DRM_IOCTL_SYNCOBJ_DESTROY, &mut d);
        }
    }

    /// Syncobj fds: export, import on any gaudi file.
    fn syncobj_fds(&mut self) {
        let (slot, fd) = self.gfd();
        if self.rng.chance(1, 2) || self.pool.syncobj_fds.is_empty() {
            let mut h = drm_syncobj_handle {
                handle: self.syncobj(slot),
                flags: if self.rng.chance(1, 8) {
                    self.rng.edgy32()
                } else {
                    0
                },
                fd: -1,
                ..Default::default()
            };
            if self.call(
                "drm.SYNCOBJ_HANDLE_TO_FD",
                fd,
                DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD,
                &mut h,
            ) == 0
            {
                // SAFETY: The kernel gave us this new descriptor (the flags may have asked
                // for a sync_file; either kind is an fd to keep).
                let f = unsafe { OwnedFd::from_raw_fd(h.fd) };
                if self.pool.syncobj_fds.len() >= CAP {
                    self.pool.syncobj_fds.swap_remove(0);
                }
                self.pool.syncobj_fds.push(f);
            }
        } else {
            let mut h = drm_syncobj_handle {
                fd: self.some_fd(|p| &p.syncobj_fds),
                flags: if self.rng.chance(1, 8) {
                    self.rng.edgy32()
                } else {
                    0
                },
                ..Default::default()
            };
            if self.call(
                "drm.SYNCOBJ_FD_TO_HANDLE",
                fd,
                DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE,
                &mut h,
            ) == 0
                && h.flags == 0
            {
                self.pool.syncobjs.push((slot, h.handle));
            }
        }
    }

    /// sync_files out of syncobjs (binary or a point) and into them (replacing or at a point).
    fn syncobj_sync_file(&mut self) {
        let (slot, fd) = self.gfd();
        let point = match self.rng.below(4) {
            0 => 0,
            1 => self.rng.edgy64(),
            _ => 1 + self.rng.below(16),
        };
        let timeline = if point != 0 { 2 } else { 0 };
        if self.rng.chance(1, 2) {
            let mut h = drm_syncobj_handle {
                handle: self.syncobj(slot),
                flags: 1 | timeline,
                fd: -1,
                point,
                ..Default::default()
            };
            if self.call(
                "drm.SYNCOBJ_HANDLE_TO_FD",
                fd,
                DRM_IOCTL_SYNCOBJ_HANDLE_TO_FD,
                &mut h,
            ) == 0
            {
                // SAFETY: The kernel gave us this new descriptor.
                let sf = unsafe { OwnedFd::from_raw_fd(h.fd) };
                self.keep_sync_file(sf);
            }
        } else {
            let mut h = drm_syncobj_handle {
                handle: self.syncobj(slot),
                flags: 1 | timeline,
                fd: self.some_fd(|p| &p.sync_files),
                point,
                ..Default::default()
            };
            self.call(
                "drm.SYNCOBJ_FD_TO_HANDLE",
                fd,
                DRM_IOCTL_SYNCOBJ_FD_TO_HANDLE,
                &mut h,
            );
        }
    }

    fn handles(&mut self, slot: usize, n: u32) -> u64 {
        let n = (n as usize).min(64);
        let hs: Vec<u32> = (0..n).map(|_| self.syncobj(slot)).collect();
        if hs.is_empty() || self.rng.chance(1, 16) {
            return self.ptr(4 * n);
        }
        self.put(&hs)
    }

    fn syncobj_wait(&mut self) {
        let (slot, fd) = self.gfd();
        let count = self.count(6);
        let flags = if self.rng.chance(1, 10) {
            self.rng.edgy32()
        } else {
            self.rng.below(16) as u32
        };
        let timeout = self.timeout();
        let handles = self.handles(slot, count);
        if self.rng.chance(1, 2) {
            let mut w = drm_syncobj_wait {
                handles,
                timeout_nsec: timeout,
                count_handles: count,
                flags,
                ..Default::default()
            };
            self.call("drm.SYNCOBJ_WAIT", fd, DRM_IOCTL_SYNCOBJ_WAIT, &mut w);
        } else {
            let pts: Vec<u64> = (0..count.min(64)).map(|_| self.rng.below(20)).collect();
            // The points follow the handles in the scratch area.
            let points = handles + 4 * 64;
            if handles == self.scratch.as_ptr() as u64 && !pts.is_empty() {
                // SAFETY: 256 + 8 * 64 bytes lie within the scratch area.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        pts.as_ptr().cast::<u8>(),
                        self.scratch.as_ptr().add(256),
                        8 * pts.len(),
                    );
                }
            }
            let mut w = drm_syncobj_timeline_wait {
                handles,
                points: if self.rng.chance(1, 10) {
                    self.ptr(8)
                } else {
                    points
                },
                timeout_nsec: timeout,
                count_handles: count,
                flags,
                ..Default::default()
            };
            self.call(
                "drm.SYNCOBJ_TIMELINE_WAIT",
                fd,
                DRM_IOCTL_SYNCOBJ_TIMELINE_WAIT,
                &mut w,
            );
        }
    }

    /// RESET, SIGNAL, QUERY and TIMELINE_SIGNAL.
    fn syncobj_arrays(&mut self) {
        let (slot, fd) = self.gfd();
        let count = self.count(6);
        let handles = self.handles(slot, count);
        match self.rng.below(4) {
            0 | 1 => {
                let mut a = drm_syncobj_array {
                    handles,
                    count_handles: count,
                    pad: if self.rng.chance(1, 16) { 1 } else { 0 },
                };
                if self.rng.chance(1, 2) {
                    self.call("drm.SYNCOBJ_RESET", fd, DRM_IOCTL_SYNCOBJ_RESET, &mut a);
                } else {
                    self.call("drm.SYNCOBJ_SIGNAL", fd, DRM_IOCTL_SYNCOBJ_SIGNAL, &mut a);
                }
            }
            _ => {
                // Points (in for signal, out for query) after the handles; a count too large
                // for the scratch area gets a pointer the kernel cannot write.
                let room = (SCRATCH - 256) / 8;
                let points = if (count as usize) <= room && self.rng.chance(9, 10) {
                    let pts: Vec<u64> =
                        (0..count.min(64)).map(|_| 1 + self.rng.below(32)).collect();
                    if !pts.is_empty() {
                        // SAFETY: at most 64 points from offset 256 lie within the scratch area.
                        unsafe {
                            std::ptr::copy_nonoverlapping(
                                pts.as_ptr().cast::<u8>(),
                                self.scratch.as_ptr().add(256),
                                8 * pts.len(),
                            );
                        }
                    }
                    self.scratch.as_ptr() as u64 + 256
                } else {
                    self.scratch.as_ptr() as u64 + SCRATCH as u64
                };
                let mut a = drm_syncobj_timeline_array {
                    handles,
                    points,
                    count_handles: count,
                    flags: if self.rng.chance(1, 8) {
                        self.rng.edgy32()
                    } else {
                        self.rng.below(2) as u32
                    },
                };
                if self.rng.chance(1, 2) {
                    self.call("drm.SYNCOBJ_QUERY", fd, DRM_IOCTL_SYNCOBJ_QUERY, &mut a);
                } else {
                    a.flags = if self.rng.chance(1, 8) { 1 } else { 0 };
                    self.call(
                        "drm.SYNCOBJ_TIMELINE_SIGNAL",
                        fd,
                        DRM_IOCTL_SYNCOBJ_TIMELINE_SIGNAL,
                        &mut a,
                    );
                }
            }
        }
    }

    fn syncobj_transfer(&mut self) {
        let (slot, fd) = self.gfd();
        let mut t = drm_syncobj_transfer {
            src_handle: self.syncobj(slot),
            dst_handle: self.syncobj(slot),
            src_point: if self.rng.chance(1, 2) {
                0
            } else {
                self.rng.below(20)
            },
            dst_point: if self.rng.chance(1, 3) {
                0
            } else {
                1 + self.rng.below(20)
            },
            flags: if self.rng.chance(1, 8) {
                self.rng.edgy32()
            } else {
                0
            },
            pad: 0,
        };
        if t.flags & 2 != 0 {
            // WAIT_FOR_SUBMIT may block until the point is submitted: not here.
            t.flags &= !2;
        }
        self.call(
            "drm.SYNCOBJ_TRANSFER",
            fd,
            DRM_IOCTL_SYNCOBJ_TRANSFER,
            &mut t,
        );
    }

    fn syncobj_eventfd(&mut self) {
        let (slot, fd) = self.gfd();
        if self.pool.eventfds.len() < 8 {
            // SAFETY: eventfd has no memory-safety requirements.
            let e = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
            if e >= 0 {
                // SAFETY: A new descriptor that nothing else owns.
                self.pool.eventfds.push(unsafe { OwnedFd::from_raw_fd(e) });
            }
        } else if self.rng.chance(1, 4) {
            self.pool.eventfds.swap_remove(0);
        }
        let mut e = SyncobjEventfd {
            handle: self.syncobj(slot),
            flags: if self.rng.chance(1, 4) {
                self.rng.edgy32() & 3
            } else {
                0
            },
            point: self.rng.below(20),
            fd: self.some_fd(|p| &p.eventfds),
            pad: if self.rng.chance(1, 16) { 1 } else { 0 },
        };
        self.call("drm.SYNCOBJ_EVENTFD", fd, SYNCOBJ_EVENTFD, &mut e);
    }

    fn sync_file_ops(&mut self) {
        if self.pool.sync_files.is_empty() {
            return self.syncobj_sync_file();
        }
        let a = self.pool.sync_files[self.rng.index(self.pool.sync_files.len())].as_raw_fd();
        match self.rng.below(3) {
            0 => {
                let mut m = SyncMerge {
                    fd2: self.some_fd(|p| &p.sync_files),
                    fence: -1,
                    flags: if self.rng.chance(1, 8) { 1 } else { 0 },
                    ..Default::default()
                };
                m.name[..4].copy_from_slice(b"fuzz");
                if self.call("sync_file.MERGE", a, SYNC_IOC_MERGE, &mut m) == 0 {
                    // SAFETY: The kernel gave us this new descriptor.
                    let sf = unsafe { OwnedFd::from_raw_fd(m.fence) };
                    self.keep_sync_file(sf);
                }
            }
            1 => {
                let n = self.rng.below(4) as u32;
                let mut i = SyncFileInfo {
                    num_fences: n,
                    sync_fence_info: if n == 0 { 0 } else { self.ptr(64 * n as usize) },
                    flags: if self.rng.chance(1, 8) { 1 } else { 0 },
                    ..Default::default()
                };
                self.call("sync_file.FILE_INFO", a, SYNC_IOC_FILE_INFO, &mut i);
            }
            _ => {
                let mut p = libc::pollfd {
                    fd: a,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: One valid pollfd; no wait.
                let r = unsafe { libc::poll(&mut p, 1, 0) };
                self.stats.record(
                    "poll",
                    if r < 0 {
                        std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
                    } else {
                        0
                    },
                );
            }
        }
    }

    fn vm_bind(&mut self) {
        let (slot, fd) = self.gfd();
        let page = uapi::DRM_GAUDI_VM_PAGE_SIZE;
        let unmap = self.rng.chance(1, 3);
        let (va, size) = if unmap && !self.pool.binds.is_empty() && self.rng.chance(2, 3) {
            let i = self.rng.index(self.pool.binds.len());
            let (_, va, size) = self.pool.binds.swap_remove(i);
            // Sometimes only a part of it, splitting the mapping.
            if size > page && self.rng.chance(1, 3) {
                (va + page, size - page)
            } else {
                (va, size)
            }
        } else {
            let va = uapi::DRM_GAUDI_VA_START + self.rng.below(VA_WINDOW / page) * page;
            (va, (1 + self.rng.below(8)) * page)
        };
        let (va, size) = match self.rng.below(16) {
            0 => (self.rng.edgy64(), size),
            1 => (va, self.rng.edgy64()),
            2 => (va + 1 + self.rng.below(page - 1), size),
            _ => (va, size),
        };
        let mut b = uapi::drm_gaudi_vm_bind {
            op: if unmap {
                uapi::DRM_GAUDI_VM_BIND_OP_UNMAP
            } else {
                uapi::DRM_GAUDI_VM_BIND_OP_MAP
            },
            va,
            size,
            ..Default::default()
        };
        if !unmap {
            b.handle = self.bo_handle(slot);
            let bo_pages = self
                .pool
                .bos
                .iter()
                .find(|x| x.file == slot && x.handle == b.handle)
                .map(|x| x.size / page)
                .unwrap_or(1);
            b.bo_offset = self.rng.below(bo_pages.max(1)) * page;
            if self.rng.chance(1, 4) {
                b.flags = uapi::DRM_GAUDI_VM_BIND_READONLY;
            }
        }
        match self.rng.below(20) {
            0 => b.op = self.rng.edgy32(),
            1 => b.flags = self.rng.edgy32(),
            2 => b.pad = self.rng.edgy32(),
            3 => b.bo_offset = self.rng.edgy64(),
            _ => {}
        }
        if self.call("gaudi.VM_BIND", fd, uapi::DRM_IOCTL_GAUDI_VM_BIND, &mut b) == 0
            && b.op == uapi::DRM_GAUDI_VM_BIND_OP_MAP
            && self.pool.binds.len() < 4 * CAP
        {
            self.pool.binds.push((slot, b.va, b.size));
        }
    }

    fn ctx_create_destroy(&mut self) {
        let (slot, fd) = self.gfd();
        if self.pool.ctxs.len() < 8 && self.rng.chance(2, 3) {
            let mut c = uapi::drm_gaudi_ctx_create {
                flags: if self.rng.chance(1, 10) {
                    self.rng.edgy32()
                } else {
                    0
                },
                priority: if self.rng.chance(1, 8) {
                    self.rng.edgy32()
                } else {
                    self.rng.below(3) as u32
                },
                pad: if self.rng.chance(1, 16) { 1 } else { 0 },
                ..Default::default()
            };
            if self.call(
                "gaudi.CTX_CREATE",
                fd,
                uapi::DRM_IOCTL_GAUDI_CTX_CREATE,
                &mut c,
            ) == 0
            {
                self.pool.ctxs.push((slot, c.ctx_id));
            }
        } else {
            let (fd, id) = if !self.pool.ctxs.is_empty() && self.rng.chance(4, 5) {
                let (s, id) = self
                    .pool
                    .ctxs
                    .swap_remove(self.rng.index(self.pool.ctxs.len()));
                (self.file(s).map(|(f, _)| f.as_raw_fd()).unwrap_or(-1), id)
            } else {
                (fd, self.ctx(slot))
            };
            let mut d = uapi::drm_gaudi_ctx_destroy {
                ctx_id: id,
                pad: if self.rng.chance(1, 16) { 1 } else { 0 },
            };
            self.call(
                "gaudi.CTX_DESTROY",
                fd,
                uapi::DRM_IOCTL_GAUDI_CTX_DESTROY,
                &mut d,
            );
        }
    }

    fn ctx_query(&mut self) {
        let (slot, fd) = self.gfd();
        let mut q = uapi::drm_gaudi_ctx_query {
            ctx_id: self.ctx(slot),
            flags: if self.rng.chance(1, 10) {
                self.rng.edgy32()
            } else {
                0
            },
            queue: if self.rng.chance(1, 16) { 1 } else { 0 },
            ..Default::default()
        };
        self.call(
            "gaudi.CTX_QUERY",
            fd,
            uapi::DRM_IOCTL_GAUDI_CTX_QUERY,
            &mut q,
        );
    }

    /// The command buffers of this worker in the file `slot`: created and bound on first use.
    fn cb(&mut self, slot: usize) -> Option<Cb> {
        if let Some(cb) = self.pool.cbs.get(&slot) {
            return Some(*cb);
        }
        let fd = self.file(slot)?.0.as_raw_fd();
        let va = CB_VA + self.id * CB_STRIDE;
        let mut c = uapi::drm_gaudi_gem_create {
            size: CB_BO,
            flags: 0,
            handle: 0,
        };
        if self.call(
            "gaudi.GEM_CREATE",
            fd,
            uapi::DRM_IOCTL_GAUDI_GEM_CREATE,
            &mut c,
        ) != 0
        {
            return None;
        }
        let target = va + 4096;
        let mut bufs: Vec<Vec<u32>> = Vec::new();
        let mut nop = CommandBuffer::new();
        nop.nop(2).ok()?;
        bufs.push(nop.words().to_vec());
        let mut fence = CommandBuffer::new();
        fence.fence(target, self.rng.bits(), true).ok()?;
        bufs.push(fence.words().to_vec());
        let mut fill = CommandBuffer::new();
        fill.dma_fill(target + 64, 256, self.rng.bits() as u32)
            .ok()?;
        fill.fence(target, 1, false).ok()?;
        bufs.push(fill.words().to_vec());
        // A header with an opcode the device does not know: the job faults, the context is
        // banned.
        let op = 0x07 + self.rng.below(0xf8) as u32;
        bufs.push(vec![
            (self.rng.bits() as u32 & !0xff) | op,
            self.rng.bits() as u32,
        ]);
        let mut sizes = [0u32; 4];
        let mut o = uapi::drm_gaudi_gem_mmap_offset {
            handle: c.handle,
            ..Default::default()
        };
        let ok = self.call(
            "gaudi.GEM_MMAP_OFFSET",
            fd,
            uapi::DRM_IOCTL_GAUDI_GEM_MMAP_OFFSET,
            &mut o,
        ) == 0;
        // SAFETY: `fd` is the open file of `slot`.
        let file = unsafe { BorrowedFd::borrow_raw(fd) };
        let map = if ok {
            Mapping::shared(file, o.offset, CB_BO as usize).ok()
        } else {
            None
        };
        let map = match map {
            Some(m) => m,
            None => {
                let mut cl = drm_gem_close {
                    handle: c.handle,
                    pad: 0,
                };
                self.call("drm.GEM_CLOSE", fd, DRM_IOCTL_GEM_CLOSE, &mut cl);
                return None;
            }
        };
        for (i, words) in bufs.iter().enumerate() {
            let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            let _ = map.write(i * 1024, &bytes);
            sizes[i] = bytes.len() as u32;
        }
        drop(map);
        let mut b = uapi::drm_gaudi_vm_bind {
            op: uapi::DRM_GAUDI_VM_BIND_OP_MAP,
            handle: c.handle,
            va,
            size: CB_BO,
            ..Default::default()
        };
        let bound = self.call("gaudi.VM_BIND", fd, uapi::DRM_IOCTL_GAUDI_VM_BIND, &mut b) == 0;
        // The VM mapping holds the object; the handle is fair game for the other operations.
        self.pool.bos.push(Bo {
            file: slot,
            handle: c.handle,
            size: CB_BO,
        });
        if !bound {
            return None;
        }
        let cb = Cb { va, sizes };
        self.pool.cbs.insert(slot, cb);
        Some(cb)
    }

    fn submit(&mut self) {
        let (slot, fd) = self.gfd();
        if !self.pool.ctxs.iter().any(|c| c.0 == slot) && self.pool.ctxs.len() < 8 {
            let mut c = uapi::drm_gaudi_ctx_create {
                priority: self.rng.below(3) as u32,
                ..Default::default()
            };
            if self.call(
                "gaudi.CTX_CREATE",
                fd,
                uapi::DRM_IOCTL_GAUDI_CTX_CREATE,
                &mut c,
            ) == 0
            {
                self.pool.ctxs.push((slot, c.ctx_id));
            }
        }
        let ctx_id = self.ctx(slot);
        let cb = self.cb(slot);
        let (cb_addr, cb_size) = match (cb, self.rng.below(16)) {
            (Some(cb), 0..=5) => (cb.va, cb.sizes[0]),
            (Some(cb), 6..=8) => (cb.va + 1024, cb.sizes[1]),
            (Some(cb), 9..=10) => (cb.va + 2048, cb.sizes[2]),
            (Some(cb), 11) => (cb.va + 3072, cb.sizes[3]),
            (_, 12) => (self.rng.edgy64(), 8),
            (_, 13) => (uapi::DRM_GAUDI_VA_START, self.rng.edgy32()),
            (Some(cb), 14) => (cb.va + 4, 8),
            _ => (
                uapi::DRM_GAUDI_VA_START + self.rng.below(VA_WINDOW / 8) * 8,
                16,
            ),
        };
        // Objects, in-syncs and out-syncs follow each other in the scratch area.
        let nbo = if self.rng.chance(1, 2) {
            0
        } else {
            self.count(3).min(5000)
        };
        let bos: Vec<uapi::drm_gaudi_submit_bo> = (0..nbo.min(8))
            .map(|_| uapi::drm_gaudi_submit_bo {
                handle: self.bo_handle(slot),
                flags: if self.rng.chance(1, 10) {
                    self.rng.edgy32()
                } else {
                    1 + self.rng.below(3) as u32
                },
            })
            .collect();
        let nin = if self.rng.chance(2, 3) {
            0
        } else {
            self.count(2).min(300)
        };
        let nout = if self.rng.chance(1, 3) {
            0
        } else {
            self.count(2).min(300)
        };
        let sync = |w: &mut Self| uapi::drm_gaudi_sync {
            handle: w.syncobj(slot),
            flags: if w.rng.chance(1, 16) { 1 } else { 0 },
            point: if w.rng.chance(2, 3) {
                0
            } else {
                1 + w.rng.below(32)
            },
        };
        let ins: Vec<uapi::drm_gaudi_sync> = (0..nin.min(4)).map(|_| sync(self)).collect();
        let outs: Vec<uapi::drm_gaudi_sync> = (0..nout.min(4)).map(|_| sync(self)).collect();
        let base = self.scratch.as_ptr() as u64;
        let bo_ptr = base;
        let in_ptr = base + 8 * 8;
        let out_ptr = in_ptr + 16 * 4;
        // SAFETY: At most 8 + 4 + 4 entries at the start of the scratch area (192 bytes).
        unsafe {
            let p = self.scratch.as_ptr();
            std::ptr::copy_nonoverlapping(bos.as_ptr().cast::<u8>(), p, 8 * bos.len());
            std::ptr::copy_nonoverlapping(ins.as_ptr().cast::<u8>(), p.add(64), 16 * ins.len());
            std::ptr::copy_nonoverlapping(outs.as_ptr().cast::<u8>(), p.add(128), 16 * outs.len());
        }
        let mut s = uapi::drm_gaudi_submit {
            ctx_id,
            flags: if self.rng.chance(1, 16) {
                self.rng.edgy32()
            } else {
                0
            },
            cb_addr,
            cb_size,
            bo_count: nbo,
            bos: if self.rng.chance(1, 16) {
                self.ptr(8)
            } else {
                bo_ptr
            },
            in_sync_count: nin,
            out_sync_count: nout,
            in_syncs: if self.rng.chance(1, 16) {
                self.ptr(16)
            } else {
                in_ptr
            },
            out_syncs: if self.rng.chance(1, 16) {
                self.ptr(16)
            } else {
                out_ptr
            },
            seqno: 0,
        };
        if nbo as usize > bos.len() || nin as usize > ins.len() || nout as usize > outs.len() {
            // Counts beyond what was written: the kernel reads on into the scratch area.
            s.bos = base + SCRATCH as u64 - 8 * u64::from(nbo.min(16));
        }
        self.call("gaudi.SUBMIT", fd, uapi::DRM_IOCTL_GAUDI_SUBMIT, &mut s);
    }

    fn vgem_ops(&mut self) {
        let Some(v) = self.vgem().map(|f| f.as_raw_fd()) else {
            return;
        };
        match self.rng.below(3) {
            0 if self.pool.vgem_bos.len() < 16 => {
                let mut d = drm_mode_create_dumb {
                    width: 1024,
                    height: 1 + self.rng.below(16) as u32,
                    bpp: 32,
                    ..Default::default()
                };
                if self.call("vgem.CREATE_DUMB", v, DRM_IOCTL_MODE_CREATE_DUMB, &mut d) == 0 {
                    self.pool.vgem_bos.push(d.handle);
                }
            }
            1 if !self.pool.vgem_bos.is_empty() => {
                let h = self.pool.vgem_bos[self.rng.index(self.pool.vgem_bos.len())];
                let mut p = drm_prime_handle {
                    handle: h,
                    flags: DRM_CLOEXEC | DRM_RDWR,
                    fd: -1,
                };
                if self.call(
                    "vgem.PRIME_HANDLE_TO_FD",
                    v,
                    DRM_IOCTL_PRIME_HANDLE_TO_FD,
                    &mut p,
                ) == 0
                {
                    if self.pool.dmabufs.len() >= CAP {
                        self.pool.dmabufs.swap_remove(0);
                    }
                    // SAFETY: The kernel gave us this new descriptor.
                    self.pool
                        .dmabufs
                        .push(unsafe { OwnedFd::from_raw_fd(p.fd) });
                }
            }
            _ if !self.pool.vgem_bos.is_empty() => {
                // A fence on a vgem buffer, signalled at once: importers see it come and go.
                let h = self.pool.vgem_bos[self.rng.index(self.pool.vgem_bos.len())];
                let mut a = VgemFenceAttach {
                    handle: h,
                    flags: self.rng.below(2) as u32,
                    ..Default::default()
                };
                if self.call("vgem.FENCE_ATTACH", v, VGEM_FENCE_ATTACH, &mut a) == 0 {
                    let mut s = VgemFenceSignal {
                        fence: a.out_fence,
                        flags: 0,
                    };
                    self.call("vgem.FENCE_SIGNAL", v, VGEM_FENCE_SIGNAL, &mut s);
                }
            }
            _ => {}
        }
    }

    /// Opens another file of a gaudi node (or a dup of a shared one), or closes one.
    fn open_close(&mut self) {
        let open = self.pool.own.iter().filter(|o| o.is_some()).count();
        if open < 3 && self.rng.chance(2, 3) {
            let node = if self.rng.chance(3, 4) { 0 } else { 1 };
            let path = if node == 0 {
                crate::device_path()
            } else {
                match crate::other_device_paths().into_iter().next() {
                    Some(p) => p,
                    None => return,
                }
            };
            match std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
            {
                Ok(f) => {
                    self.stats.record("open", 0);
                    self.pool.own.push(Some((Arc::new(f), node)));
                }
                Err(e) => self.stats.record("open", e.raw_os_error().unwrap_or(-1)),
            }
        } else if let Some(i) = (0..self.pool.own.len()).find(|i| self.pool.own[*i].is_some()) {
            // Closing a file releases everything in it, while other resources (mappings,
            // dma-bufs, sync_files) may still hold parts of it.
            let slot = self.shared.len() + i;
            self.pool.own[i] = None;
            self.pool.bos.retain(|b| b.file != slot);
            self.pool.syncobjs.retain(|s| s.0 != slot);
            self.pool.ctxs.retain(|c| c.0 != slot);
            self.pool.binds.retain(|b| b.0 != slot);
            self.pool.cbs.remove(&slot);
            self.stats.record("close", 0);
        }
    }

    /// Requests of display drivers, which an accel file refuses.
    fn not_for_accel(&mut self) {
        let (_, fd) = self.gfd();
        if self.rng.chance(1, 2) {
            let mut d = drm_mode_create_dumb {
                width: self.rng.edgy32(),
                height: self.rng.edgy32(),
                bpp: 32,
                ..Default::default()
            };
            self.call(
                "drm.MODE_CREATE_DUMB",
                fd,
                DRM_IOCTL_MODE_CREATE_DUMB,
                &mut d,
            );
        } else {
            let mut r = [0u64; 8];
            self.call("drm.MODE_GETRESOURCES", fd, MODE_GETRESOURCES, &mut r);
        }
        // A driver request number past the driver's last one, and one of another size.
        let mut buf = [0u64; 8];
        let nr = uapi::DRM_COMMAND_BASE + 9 + self.rng.below(0x50) as u32;
        self.call("drm.UNKNOWN", fd, ioc(RW, DRM, nr, 24), &mut buf);
        let nr = uapi::DRM_COMMAND_BASE + self.rng.below(9) as u32;
        let size = 8 * self.rng.below(9) as usize;
        self.call("gaudi.WRONG_SIZE", fd, ioc(RW, DRM, nr, size), &mut buf);
        let _ = drm_iowr::<u64>;
    }

    /// Drops a random resource of the kinds that hold kernel objects without a handle.
    fn close_some(&mut self) {
        match self.rng.below(4) {
            0 if !self.pool.sync_files.is_empty() => {
                self.pool.sync_files.swap_remove(0);
            }
            1 if !self.pool.syncobj_fds.is_empty() => {
                self.pool.syncobj_fds.swap_remove(0);
            }
            2 if !self.pool.dmabufs.is_empty() => {
                self.pool.dmabufs.swap_remove(0);
            }
            _ => return self.munmap(),
        }
        self.stats.record("close", 0);
    }

    /// Touches every mapping of the worker (after a fork: the child's copies of them).
    pub fn touch_maps(&mut self) {
        for m in &self.pool.maps {
            let mut b = [0u8; 1];
            let _ = m.read(0, &mut b);
            let _ = m.write(m.len() - 1, &b);
        }
    }

    /// Closes everything the worker holds: handles and contexts explicitly on the shared
    /// files (which stay open), the rest by dropping it.
    pub fn close_all(&mut self) {
        let ctxs = std::mem::take(&mut self.pool.ctxs);
        for (slot, id) in ctxs {
            if let Some((f, _)) = self.file(slot) {
                let fd = f.as_raw_fd();
                let mut d = uapi::drm_gaudi_ctx_destroy { ctx_id: id, pad: 0 };
                self.call(
                    "gaudi.CTX_DESTROY",
                    fd,
                    uapi::DRM_IOCTL_GAUDI_CTX_DESTROY,
                    &mut d,
                );
            }
        }
        let binds = std::mem::take(&mut self.pool.binds);
        for (slot, va, size) in binds {
            if let Some((f, _)) = self.file(slot) {
                let fd = f.as_raw_fd();
                let mut b = uapi::drm_gaudi_vm_bind {
                    op: uapi::DRM_GAUDI_VM_BIND_OP_UNMAP,
                    va,
                    size,
                    ..Default::default()
                };
                self.call("gaudi.VM_BIND", fd, uapi::DRM_IOCTL_GAUDI_VM_BIND, &mut b);
            }
        }
        let cbs = std::mem::take(&mut self.pool.cbs);
        for (slot, cb) in cbs {
            if let Some((f, _)) = self.file(slot) {
                let fd = f.as_raw_fd();
                let mut b = uapi::drm_gaudi_vm_bind {
                    op: uapi::DRM_GAUDI_VM_BIND_OP_UNMAP,
                    va: cb.va,
                    size: CB_BO,
                    ..Default::default()
                };
                self.call("gaudi.VM_BIND", fd, uapi::DRM_IOCTL_GAUDI_VM_BIND, &mut b);
            }
        }
        let bos = std::mem::take(&mut self.pool.bos);
        for b in bos {
            if let Some((f, _)) = self.file(b.file) {
                let fd = f.as_raw_fd();
                let mut c = drm_gem_close {
                    handle: b.handle,
                    pad: 0,
                };
                self.call("drm.GEM_CLOSE", fd, DRM_IOCTL_GEM_CLOSE, &mut c);
            }
        }
        let syncobjs = std::mem::take(&mut self.pool.syncobjs);
        for (slot, h) in syncobjs {
            if let Some((f, _)) = self.file(slot) {
                let fd = f.as_raw_fd();
                let mut d = drm_syncobj_destroy { handle: h, pad: 0 };
                self.call("drm.SYNCOBJ_DESTROY", fd, DRM_IOCTL_SYNCOBJ_DESTROY, &mut d);
            }
        }
        if let Some(v) = self.vgem().map(|f| f.as_raw_fd()) {
            for h in std::mem::take(&mut self.pool.vgem_bos) {
                let mut c = drm_gem_close { handle: h, pad: 0 };
                self.call("vgem.GEM_CLOSE", v, DRM_IOCTL_GEM_CLOSE, &mut c);
            }
        }
        self.pool = Pool::default();
    }
}

/// The shared files of a campaign: two of the node under test, one of the other node, vgem.
pub fn shared_files() -> std::io::Result<Vec<SharedFile>> {
    let open = |p: &std::path::Path| std::fs::OpenOptions::new().read(true).write(true).open(p);
    let mut v = Vec::new();
    for _ in 0..2 {
        v.push(SharedFile {
            file: open(&crate::device_path())?,
            node: 0,
        });
    }
    if let Some(p) = crate::other_device_paths().into_iter().next() {
        v.push(SharedFile {
            file: open(&p)?,
            node: 1,
        });
    }
    if let Ok(Some(f)) = gaudi::drm::open_primary("vgem") {
        v.push(SharedFile { file: f, node: 2 });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_reproduce() {
        let a: Vec<u64> = {
            let mut r = Rng::new(7);
            (0..16).map(|_| r.bits()).collect()
        };
        let mut r = Rng::new(7);
        assert_eq!(a, (0..16).map(|_| r.bits()).collect::<Vec<_>>());
        let mut r = Rng::new(8);
        assert_ne!(a, (0..16).map(|_| r.bits()).collect::<Vec<_>>());
    }

    #[test]
    fn stats_round_trip() {
        let mut s = Stats::default();
        s.record("drm.VERSION", 0);
        s.record("drm.VERSION", libc::EFAULT);
        s.record("gaudi.SUBMIT", libc::EINVAL);
        let t = Stats::parse(&s.serialize());
        assert_eq!(t.total(), 3);
        assert_eq!(t.errnos().get(&libc::EFAULT), Some(&1));
        assert!(t.unexpected().is_empty());
        s.record("gaudi.QUERY", libc::ENOTTY);
        s.record("dma-buf.SYNC", libc::ENOTTY);
        s.record("drm.VERSION", libc::EIO);
        assert_eq!(s.unexpected().len(), 2);
    }
}
