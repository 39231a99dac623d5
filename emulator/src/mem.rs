// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Shared memory: the device's region (register file and device memory) and guest RAM.
//!
//! Both are mapped `MAP_SHARED` and written concurrently by the guest, so every access is a
//! volatile or atomic access through a raw pointer; nothing hands out Rust references to the
//! memory.

use std::{
    fs::OpenOptions,
    io,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    path::{Path, PathBuf},
    ptr::NonNull,
    sync::atomic::{AtomicU32, Ordering},
};

/// A shared mapping of a file descriptor.
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: The mapping is plain shared memory; all accesses go through volatile/atomic
// operations, so it may be used from any thread.
unsafe impl Send for Mapping {}

impl Mapping {
    /// Maps `len` bytes of `fd` read-write and shared.
    pub fn new(fd: &impl AsRawFd, len: usize) -> io::Result<Self> {
        if len == 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        // SAFETY: Mapping a file descriptor we own at an address the kernel chooses.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(ptr.cast()).ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
        Ok(Self { ptr, len })
    }

    /// Length of the mapping.
    pub fn len(&self) -> usize {
        self.len
    }

    fn check(&self, off: usize, size: usize) -> io::Result<*mut u8> {
        match off.checked_add(size) {
            Some(end) if end <= self.len => {
                // SAFETY: `off + size <= len`, so the result stays inside the mapping.
                Ok(unsafe { self.ptr.as_ptr().add(off) })
            }
            _ => Err(io::Error::from_raw_os_error(libc::EFAULT)),
        }
    }

    /// Reads a little-endian `u32` at `off`.
    pub fn read32(&self, off: usize) -> u32 {
        match self.check(off, 4) {
            // SAFETY: In bounds; register offsets are 4-byte aligned.
            Ok(p) => u32::from_le(unsafe { std::ptr::read_volatile(p.cast::<u32>()) }),
            Err(_) => 0,
        }
    }

    /// Writes a little-endian `u32` at `off`.
    pub fn write32(&self, off: usize, value: u32) {
        if let Ok(p) = self.check(off, 4) {
            // SAFETY: In bounds and 4-byte aligned.
            unsafe { std::ptr::write_volatile(p.cast::<u32>(), value.to_le()) }
        }
    }

    /// Reads a little-endian `u64` at `off` as two 32-bit halves, low first, the way the
    /// driver writes it.
    pub fn read64(&self, off: usize) -> u64 {
        u64::from(self.read32(off)) | (u64::from(self.read32(off + 4)) << 32)
    }

    /// Writes a little-endian `u64` at `off` as two 32-bit halves.
    pub fn write64(&self, off: usize, value: u64) {
        self.write32(off, value as u32);
        self.write32(off + 4, (value >> 32) as u32);
    }

    /// Atomically increments the `u32` at `off`.
    pub fn inc32(&self, off: usize) {
        if let Ok(p) = self.check(off, 4) {
            // SAFETY: In bounds and 4-byte aligned; the memory is only ever accessed with
            // volatile or atomic operations.
            let a = unsafe { AtomicU32::from_ptr(p.cast::<u32>()) };
            a.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Copies `data` to `off` (a device DMA write).
    pub fn write_bytes(&self, off: usize, data: &[u8]) -> io::Result<()> {
        let p = self.check(off, data.len())?;
        for (i, b) in data.iter().enumerate() {
            // SAFETY: `off + data.len()` is in bounds.
            unsafe { std::ptr::write_volatile(p.add(i), *b) }
        }
        Ok(())
    }

    /// Copies `out.len()` bytes from `off` (a device DMA read).
    pub fn read_bytes(&self, off: usize, out: &mut [u8]) -> io::Result<()> {
        let p = self.check(off, out.len())?;
        for (i, b) in out.iter_mut().enumerate() {
            // SAFETY: `off + out.len()` is in bounds.
            *b = unsafe { std::ptr::read_volatile(p.add(i)) };
        }
        Ok(())
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `len` describe a mapping created by `new`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// Creates an anonymous shared-memory file of `len` bytes.
pub fn memfd(name: &str, len: usize) -> io::Result<OwnedFd> {
    let cname = std::ffi::CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `cname` is a valid C string.
    let fd = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor that we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: `fd` is valid.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// Guest RAM as QEMU's shared memory backend file, mapped on first use.
///
/// Guest physical addresses equal file offsets (guest RAM must lie below the PCI hole).
pub struct GuestRam {
    path: PathBuf,
    map: Option<Mapping>,
}

impl GuestRam {
    /// Guest RAM backed by the file at `path`, which may not exist yet.
    pub fn new(path: &Path) -> Self {
        Self { path: path.to_path_buf(), map: None }
    }

    fn mapping(&mut self) -> io::Result<&Mapping> {
        let len = std::fs::metadata(&self.path)?.len() as usize;
        if self.map.as_ref().map(Mapping::len) != Some(len) {
            let file = OpenOptions::new().read(true).write(true).open(&self.path)?;
            self.map = Some(Mapping::new(&file, len)?);
        }
        self.map.as_ref().ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))
    }

    /// DMA write of `data` to guest physical address `addr`.
    pub fn write(&mut self, addr: u64, data: &[u8]) -> io::Result<()> {
        let off = usize::try_from(addr).map_err(|_| io::Error::from_raw_os_error(libc::EFAULT))?;
        self.mapping()?.write_bytes(off, data)
    }

    /// DMA read from guest physical address `addr`.
    pub fn read(&mut self, addr: u64, out: &mut [u8]) -> io::Result<()> {
        let off = usize::try_from(addr).map_err(|_| io::Error::from_raw_os_error(libc::EFAULT))?;
        self.mapping()?.read_bytes(off, out)
    }
}
