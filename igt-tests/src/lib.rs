// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Helpers shared by the conformance tests.
//!
//! The node under test comes from `ACCEL_DEVICE` (set by `guest/run-igt.sh` for each accel
//! node), defaulting to the first gaudi node.

use std::{
    fs::{File, OpenOptions},
    io,
    os::fd::{AsFd, BorrowedFd},
    path::PathBuf,
};

pub use gaudi::uapi;

/// Path of the accel node under test.
pub fn device_path() -> PathBuf {
    match std::env::var_os("ACCEL_DEVICE") {
        Some(p) => PathBuf::from(p),
        None => gaudi::accel_nodes()
            .ok()
            .and_then(|n| n.into_iter().next())
            .unwrap_or_else(|| PathBuf::from("/dev/accel/accel0")),
    }
}

/// Opens the node under test as a raw file.
pub fn open_raw() -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open(device_path())
}

/// Opens the node under test through the userspace library.
pub fn open_device() -> io::Result<gaudi::Device> {
    gaudi::Device::open(device_path())
}

/// Issues `request` with the bytes of `arg` as argument; returns 0 or the errno.
///
/// Unlike [`gaudi::ioctl`], this does not check the size encoded in `request` against `T`:
/// tests use it to send deliberately wrong requests. The buffer is always at least as large
/// as the size in `request`.
pub fn ioctl_errno<T>(fd: BorrowedFd<'_>, request: u32, arg: &mut T) -> i32 {
    let size = ((request >> 16) & 0x3fff) as usize;
    assert!(size <= std::mem::size_of::<T>(), "argument buffer too small for the request");
    // SAFETY: `arg` is valid for reads and writes of `size_of::<T>()` bytes, at least the size
    // encoded in `request`.
    match unsafe { gaudi::ioctl_raw(fd, request, (arg as *mut T).cast()) } {
        Ok(()) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

/// Like [`ioctl_errno`] with a raw pointer argument (which may be invalid on purpose).
pub fn ioctl_ptr_errno(fd: BorrowedFd<'_>, request: u32, arg: usize) -> i32 {
    // SAFETY: The kernel validates user pointers; an invalid `arg` yields EFAULT, it cannot
    // corrupt this process beyond what the request is documented to write.
    match unsafe { gaudi::ioctl_raw(fd, request, arg as *mut libc::c_void) } {
        Ok(()) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

/// `_IOC(dir, ty, nr, size)`.
pub const fn ioc(dir: u32, ty: u32, nr: u32, size: usize) -> u32 {
    uapi::ioc(dir, ty, nr, size)
}

/// Borrowed fd of any file.
pub fn fd(f: &impl AsFd) -> BorrowedFd<'_> {
    f.as_fd()
}

/// An anonymous mapping for pointer tests; unmapped on drop.
pub struct Mapping {
    ptr: *mut libc::c_void,
    len: usize,
}

impl Mapping {
    /// Maps `len` bytes with protection `prot`.
    pub fn new(len: usize, prot: i32) -> io::Result<Self> {
        // SAFETY: An anonymous private mapping at an address the kernel picks.
        let ptr = unsafe {
            libc::mmap(std::ptr::null_mut(), len, prot, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Self { ptr, len })
    }

    /// Address of the mapping.
    pub fn addr(&self) -> usize {
        self.ptr as usize
    }

    /// An address that was mapped and no longer is.
    pub fn unmapped_address(len: usize) -> io::Result<usize> {
        let m = Self::new(len, libc::PROT_READ | libc::PROT_WRITE)?;
        let addr = m.addr();
        drop(m);
        Ok(addr)
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `len` describe a mapping this object created.
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}
