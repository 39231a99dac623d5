// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Userspace library of the gaudi accel driver, in the style of libdrm.
//!
//! [`Device`] wraps an open `/dev/accel/accelN` file. The core DRM requests that work on accel
//! nodes are here next to the driver's own ioctls: the core ones come from the `drm` crate
//! (drm-rs and its `drm-ffi` layer; [`Device`] implements `drm::Device` and
//! `drm::control::Device`), system calls from `rustix`, and only the driver's own ioctls
//! (`DRM_IOCTL_GAUDI_*`, from the uapi crate) are declared by hand, issued through
//! `rustix::ioctl` by [`ioctl`]. Device enumeration walks `/dev/accel` itself: libdrm's
//! enumeration only knows `/dev/dri`.
//!
//! Buffer objects are plain handles ([`Bo`]), as in libdrm: a handle belongs to the file it was
//! created or imported on and goes when it is closed with [`Device::gem_close`] or when the
//! file is closed. [`Mapping`] is an RAII CPU mapping of an object or of a dma-buf; it keeps the
//! object alive on its own. The [`drm`] module has the core requests for any DRM file (PRIME,
//! GEM close, dumb buffers of other drivers), [`mapping`] the mappings and dma-buf CPU access,
//! [`syncobj`] the DRM core's sync objects and their sync_file import and export.
//!
//! Execution: [`exec`] has the client's device VM (`VM_BIND`), contexts and job submission,
//! [`cmdbuf`] builds command buffers of the device's packets, [`tpc`] assembles and
//! disassembles kernels of the TPC vector cores, [`buffer`] ties an object, its CPU mapping and
//! its device address together, and [`va`] allocates device addresses. [`capi`] exports the
//! library to C (`include/gaudi/gaudi.h`).
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! let dev = gaudi::Device::open("/dev/accel/accel0")?;
//! let bo = dev.gem_create(4096, 0)?;
//! let map = dev.map_bo(&bo)?;
//! map.write(0, b"hello")?;
//! let dma_buf = dev.prime_handle_to_fd(bo.handle, gaudi::drm::DRM_CLOEXEC | gaudi::drm::DRM_RDWR)?;
//! // Importing on the same file gives back the same handle.
//! assert_eq!(dev.prime_fd_to_handle(std::os::fd::AsFd::as_fd(&dma_buf))?, bo.handle);
//! dev.gem_close(bo.handle)?;
//! // `map` and `dma_buf` still keep the object alive here.
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

use std::{
    ffi::c_void,
    fs::{self, File, OpenOptions},
    io,
    os::fd::{AsFd, BorrowedFd, OwnedFd},
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    sync::{Mutex, PoisonError},
};

pub mod buffer;
pub mod capi;
pub mod cmdbuf;
pub mod drm;
pub mod exec;
pub mod mapping;
pub mod mlp;
pub mod syncobj;
pub mod tensor;
pub mod tpc;
pub mod va;

pub use buffer::Buffer;
pub use drm::{version, Version, DRM_IOCTL_VERSION};
pub use exec::{Context, ContextState, Priority, Submit};
pub use gaudi_hw as hw;
pub use gaudi_uapi as uapi;
pub use mapping::Mapping;
use uapi::{
    drm_gaudi_device_info, drm_gaudi_gem_create, drm_gaudi_gem_info, drm_gaudi_gem_mmap_offset,
    drm_gaudi_memory_info, drm_gaudi_query,
};

/// Major number of accel nodes.
pub const ACCEL_MAJOR: u32 = 261;
/// Name the driver reports through `DRM_IOCTL_VERSION`.
pub const DRIVER_NAME: &str = "gaudi";

/// A request whose number is known at run time, with a pointer to its argument.
struct RawRequest {
    opcode: u32,
    arg: *mut c_void,
}

// SAFETY: `ioctl_raw`'s caller guarantees that `arg` is valid for `opcode`, which is all the
// kernel reads or writes; the request may write through `arg`, hence `IS_MUTATING`.
unsafe impl rustix::ioctl::Ioctl for RawRequest {
    type Output = ();
    const IS_MUTATING: bool = true;

    fn opcode(&self) -> rustix::ioctl::Opcode {
        self.opcode as rustix::ioctl::Opcode
    }

    fn as_ptr(&mut self) -> *mut c_void {
        self.arg
    }

    unsafe fn output_from_ptr(
        _: rustix::ioctl::IoctlOutput,
        _: *mut c_void,
    ) -> rustix::io::Result<()> {
        Ok(())
    }
}

/// Runs `request` again while it fails with `EINTR` or `EAGAIN`, like `drmIoctl()`.
pub(crate) fn restart<T>(mut request: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match request() {
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EAGAIN)) => continue,
            result => return result,
        }
    }
}

/// Issues `request` on `fd` with `rustix::ioctl`, restarting on `EINTR` and `EAGAIN` like
/// `drmIoctl()`.
///
/// # Safety
///
/// `arg` must point to memory that is valid for the kernel to read and write as `request`
/// describes.
pub unsafe fn ioctl_raw(fd: BorrowedFd<'_>, request: u32, arg: *mut c_void) -> io::Result<()> {
    restart(|| {
        let r = RawRequest {
            opcode: request,
            arg,
        };
        // SAFETY: The caller guarantees `arg` is valid for `request`.
        unsafe { rustix::ioctl::ioctl(fd, r) }.map_err(io::Error::from)
    })
}

/// Issues `request` with `arg` as its argument structure.
///
/// The size encoded in `request` must not exceed `size_of::<T>()`.
pub fn ioctl<T>(fd: BorrowedFd<'_>, request: u32, arg: &mut T) -> io::Result<()> {
    let size = ((request >> 16) & 0x3fff) as usize;
    if size > std::mem::size_of::<T>() {
        return Err(einval());
    }
    // SAFETY: `arg` is valid for reads and writes of `size_of::<T>()` bytes, which covers the
    // size the kernel uses for `request`.
    unsafe { ioctl_raw(fd, request, (arg as *mut T).cast()) }
}

/// A buffer object handle of a [`Device`] and the size of the object.
///
/// The handle is not closed on drop: close it with [`Device::gem_close`], or close the device
/// file. PRIME import of an object the file already holds returns the same handle, so several
/// values may name one handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bo {
    /// GEM handle, valid on the file that created or imported it.
    pub handle: u32,
    /// Size of the object in bytes (a multiple of the page size).
    pub size: u64,
}

impl Bo {
    /// Size of the object as a `usize`, for mappings and buffers.
    pub fn len(&self) -> usize {
        usize::try_from(self.size).unwrap_or(usize::MAX)
    }

    /// Whether the object is empty (objects never are).
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }
}

/// What `DRM_IOCTL_GAUDI_GEM_INFO` reports about an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoInfo {
    /// `DRM_GAUDI_BO_*` flags: WC or 0 for system memory, DEVICE, or IMPORTED (with PEER
    /// and INVALIDATED for peer-to-peer imports of another device's memory).
    pub flags: u32,
    /// Size in bytes.
    pub size: u64,
}

impl BoInfo {
    /// Whether the object is another device's memory imported peer-to-peer: the device
    /// reaches it directly, with no copy through system memory.
    pub fn is_peer(&self) -> bool {
        self.flags & uapi::DRM_GAUDI_BO_PEER != 0
    }
}

/// Plain-old-data query results: any byte pattern is a valid value.
///
/// # Safety
///
/// Implementors must be `repr(C)` structures of integers without padding.
unsafe trait QueryResult: Default {}
// SAFETY: Integers only, no padding (checked against the C header by the uapi crate).
unsafe impl QueryResult for drm_gaudi_device_info {}
// SAFETY: Four `u64`s.
unsafe impl QueryResult for drm_gaudi_memory_info {}
// SAFETY: Integers and arrays of integers, no padding (checked against the C header).
unsafe impl QueryResult for uapi::drm_gaudi_health {}

/// `EINVAL` as an [`io::Error`].
pub(crate) fn einval() -> io::Error {
    io::Error::from_raw_os_error(libc::EINVAL)
}

/// An open gaudi accel node: one client of the device, with its own device VM.
#[derive(Debug)]
pub struct Device {
    file: File,
    path: PathBuf,
    va: Mutex<va::VaAllocator>,
}

impl Device {
    /// Opens the accel node at `path` and checks that the gaudi driver is behind it.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        let dev = Self {
            file,
            path,
            va: Mutex::new(va::VaAllocator::default()),
        };
        if version(dev.as_fd())?.name != DRIVER_NAME {
            return Err(io::Error::from_raw_os_error(libc::ENODEV));
        }
        Ok(dev)
    }

    /// Opens every gaudi accel node, in minor order.
    pub fn enumerate() -> io::Result<Vec<Self>> {
        let mut devices = Vec::new();
        for path in accel_nodes()? {
            match Self::open(&path) {
                Ok(d) => devices.push(d),
                Err(e) if e.raw_os_error() == Some(libc::ENODEV) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(devices)
    }

    /// Path of the node.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Minor number of the node (the N of accelN).
    pub fn minor(&self) -> io::Result<u32> {
        let rdev = self.file.metadata()?.rdev();
        Ok(rustix::fs::minor(rdev))
    }

    /// PCI address of the device, from sysfs.
    pub fn pci_address(&self) -> io::Result<String> {
        let link = fs::read_link(format!("/sys/class/accel/accel{}/device", self.minor()?))?;
        link.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))
    }

    /// Driver version.
    pub fn version(&self) -> io::Result<Version> {
        version(self.as_fd())
    }

    /// Raw `DRM_IOCTL_GAUDI_QUERY`: copies the result into `buf`, returns its full size.
    pub fn query(&self, type_: u32, buf: &mut [u8]) -> io::Result<u32> {
        let mut q = drm_gaudi_query {
            type_,
            size: u32::try_from(buf.len()).map_err(|_| einval())?,
            pointer: buf.as_mut_ptr() as u64,
            ..Default::default()
        };
        ioctl(self.as_fd(), uapi::DRM_IOCTL_GAUDI_QUERY, &mut q)?;
        Ok(q.size)
    }

    /// Runs query `type_` into a `T`; fails with `EPROTO` if the kernel returns less.
    fn query_struct<T: QueryResult>(&self, type_: u32) -> io::Result<T> {
        let mut result = T::default();
        // SAFETY: `T` is plain old data (`QueryResult`): any byte pattern is valid, and the
        // slice covers exactly the value, which outlives it.
        let bytes = unsafe {
            std::slice::from_raw_parts_mut(
                (&mut result as *mut T).cast::<u8>(),
                std::mem::size_of::<T>(),
            )
        };
        let n = self.query(type_, bytes)?;
        if (n as usize) < std::mem::size_of::<T>() {
            return Err(io::Error::from_raw_os_error(libc::EPROTO));
        }
        Ok(result)
    }

    /// Device identification and resources.
    pub fn device_info(&self) -> io::Result<drm_gaudi_device_info> {
        self.query_struct(uapi::DRM_GAUDI_QUERY_DEVICE_INFO)
    }

    /// Memory accounting: device memory size and free bytes, and the number and total size of
    /// the device's live buffer objects (of every client, imports included).
    pub fn memory_info(&self) -> io::Result<drm_gaudi_memory_info> {
        self.query_struct(uapi::DRM_GAUDI_QUERY_MEMORY)
    }

    /// Health of the device: sensors, error counters, queue states and the last job fault
    /// (`DRM_GAUDI_QUERY_HEALTH`, see `Documentation/health.rst`).
    pub fn health(&self) -> io::Result<uapi::drm_gaudi_health> {
        self.query_struct(uapi::DRM_GAUDI_QUERY_HEALTH)
    }

    /// `DRM_IOCTL_GET_CAP`.
    pub fn get_cap(&self, cap: u64) -> io::Result<u64> {
        drm::get_cap(self.as_fd(), cap)
    }

    /// Creates a buffer object of at least `size` bytes with `flags` (`DRM_GAUDI_BO_WC`,
    /// `DRM_GAUDI_BO_DEVICE`); the size is rounded up to the page size.
    ///
    /// Errors: `EINVAL` for a zero size, one that overflows when rounded, or unknown flags;
    /// `ENOMEM` when system memory cannot back the object; `ENOSPC` when device memory has no
    /// free range large enough.
    pub fn gem_create(&self, size: u64, flags: u32) -> io::Result<Bo> {
        let mut c = drm_gaudi_gem_create {
            size,
            flags,
            handle: 0,
        };
        ioctl(self.as_fd(), uapi::DRM_IOCTL_GAUDI_GEM_CREATE, &mut c)?;
        Ok(Bo {
            handle: c.handle,
            size: c.size,
        })
    }

    /// Flags and size of the object behind `handle`; `ENOENT` if this file has no such handle.
    pub fn gem_info(&self, handle: u32) -> io::Result<BoInfo> {
        let mut i = drm_gaudi_gem_info {
            handle,
            ..Default::default()
        };
        ioctl(self.as_fd(), uapi::DRM_IOCTL_GAUDI_GEM_INFO, &mut i)?;
        Ok(BoInfo {
            flags: i.flags,
            size: i.size,
        })
    }

    /// The fake offset at which `mmap()` on this file maps the object behind `handle`.
    pub fn gem_mmap_offset(&self, handle: u32) -> io::Result<u64> {
        let mut m = drm_gaudi_gem_mmap_offset {
            handle,
            ..Default::default()
        };
        ioctl(self.as_fd(), uapi::DRM_IOCTL_GAUDI_GEM_MMAP_OFFSET, &mut m)?;
        Ok(m.offset)
    }

    /// Maps the first `len` bytes of the object behind `handle`, shared and read-write.
    pub fn map(&self, handle: u32, len: usize) -> io::Result<Mapping> {
        let offset = self.gem_mmap_offset(handle)?;
        Mapping::shared(self.as_fd(), offset, len)
    }

    /// Maps the whole of `bo`, shared and read-write.
    pub fn map_bo(&self, bo: &Bo) -> io::Result<Mapping> {
        self.map(bo.handle, bo.len())
    }

    /// Closes `handle` (`DRM_IOCTL_GEM_CLOSE`); `EINVAL` for a handle the file does not hold.
    pub fn gem_close(&self, handle: u32) -> io::Result<()> {
        drm::gem_close(self.as_fd(), handle)
    }

    /// Allocates `size` bytes (rounded up to pages) of this client's device VA window from the
    /// device's [`va::VaAllocator`]; `ENOSPC` if no free range fits, `EINVAL` for size 0.
    pub fn va_alloc(&self, size: u64) -> io::Result<u64> {
        if size == 0 {
            return Err(einval());
        }
        self.va_lock()
            .alloc(size, uapi::DRM_GAUDI_VM_PAGE_SIZE)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOSPC))
    }

    /// Returns a range that [`Device::va_alloc`] handed out.
    pub fn va_free(&self, va: u64, size: u64) {
        self.va_lock().free(va, size);
    }

    /// Keeps [`va`, `va + size`) out of [`Device::va_alloc`]'s way, for a client that also
    /// picks addresses itself; `EEXIST` unless the range was free.
    pub fn va_reserve(&self, va: u64, size: u64) -> io::Result<()> {
        if self.va_lock().reserve(va, size) {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(libc::EEXIST))
        }
    }

    fn va_lock(&self) -> std::sync::MutexGuard<'_, va::VaAllocator> {
        self.va.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Exports the object behind `handle` as a dma-buf (`DRM_IOCTL_PRIME_HANDLE_TO_FD`), with
    /// `flags` from [`drm::DRM_CLOEXEC`] and [`drm::DRM_RDWR`].
    pub fn prime_handle_to_fd(&self, handle: u32, flags: u32) -> io::Result<OwnedFd> {
        drm::prime_handle_to_fd(self.as_fd(), handle, flags)
    }

    /// Imports a dma-buf (`DRM_IOCTL_PRIME_FD_TO_HANDLE`) and returns its handle on this file:
    /// the existing handle if the file already holds the object.
    pub fn prime_fd_to_handle(&self, dma_buf: BorrowedFd<'_>) -> io::Result<u32> {
        drm::prime_fd_to_handle(self.as_fd(), dma_buf)
    }
}

impl AsFd for Device {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// drm-rs's core requests (version, capabilities, PRIME, GEM close, syncobjs) on the device.
impl ::drm::Device for Device {}
/// drm-rs's requests of `drm_mode.h`: of these, an accel node answers only the GEM, PRIME and
/// syncobj ones.
impl ::drm::control::Device for Device {}

/// Every `/dev/accel/accelN` node, in minor order.
pub fn accel_nodes() -> io::Result<Vec<PathBuf>> {
    Ok(numbered_entries(Path::new("/dev/accel"), "accel")?
        .into_iter()
        .map(|(_, p)| p)
        .collect())
}

/// The entries of `dir` named `prefix` followed by a number, sorted by that number; none if
/// `dir` does not exist.
pub(crate) fn numbered_entries(dir: &Path, prefix: &str) -> io::Result<Vec<(u32, PathBuf)>> {
    let mut entries = Vec::new();
    let dir = match fs::read_dir(dir) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(entries),
        Err(e) => return Err(e),
    };
    for entry in dir {
        let entry = entry?;
        let name = entry.file_name();
        let Some(n) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
            continue;
        };
        if let Ok(n) = n.parse() {
            entries.push((n, entry.path()));
        }
    }
    entries.sort();
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_numbers() {
        // DRM_IOWR(DRM_COMMAND_BASE + nr, struct): the sizes are 24, 16, 24 and 16 bytes.
        assert_eq!(uapi::DRM_IOCTL_GAUDI_QUERY, 0xc018_6440);
        assert_eq!(uapi::DRM_IOCTL_GAUDI_GEM_CREATE, 0xc010_6441);
        assert_eq!(uapi::DRM_IOCTL_GAUDI_GEM_INFO, 0xc018_6442);
        assert_eq!(uapi::DRM_IOCTL_GAUDI_GEM_MMAP_OFFSET, 0xc010_6443);
    }

    #[test]
    fn numbered_entries_sorted_by_number() {
        let dir = std::env::temp_dir().join(format!("gaudi-entries-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        for name in ["card10", "card2", "cardx", "renderD128", "card2-DP-1"] {
            fs::write(dir.join(name), "").unwrap();
        }
        let got: Vec<u32> = numbered_entries(&dir, "card")
            .unwrap()
            .iter()
            .map(|e| e.0)
            .collect();
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(got, [2, 10]);
        assert!(numbered_entries(&dir, "card").unwrap().is_empty());
    }

    #[test]
    fn bo_len() {
        let bo = Bo {
            handle: 1,
            size: 8192,
        };
        assert_eq!(bo.len(), 8192);
        assert!(!bo.is_empty());
    }

    #[test]
    fn ioctl_rejects_short_argument() {
        let f = File::open("/dev/null").unwrap();
        let mut small = 0u32;
        let err = ioctl(f.as_fd(), uapi::DRM_IOCTL_GAUDI_QUERY, &mut small).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }
}
