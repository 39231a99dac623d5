// SPDX-License-Identifier: GPL-2.0 OR MIT

//! CPU mappings of buffer objects and dma-bufs, and the dma-buf CPU-access brackets.
//!
//! A [`Mapping`] is an `mmap()` of a DRM file at a buffer object's fake offset, or of a dma-buf
//! file; it is unmapped when dropped. A mapping does not borrow the file it came from: the
//! kernel keeps the object alive while it is mapped, even after its handle and the file are
//! closed. The memory may change under the mapping (other processes, the device), so the
//! mapping hands out copies ([`Mapping::read`], [`Mapping::write`]) and raw pointers, never
//! Rust references to the mapped bytes.

use std::{io, os::fd::BorrowedFd, ptr::NonNull};

use rustix::mm::{MapFlags, ProtFlags};

use crate::einval;

/// A CPU mapping of (part of) a file; unmapped on drop.
#[derive(Debug)]
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    prot: i32,
}

// SAFETY: The mapping is plain memory owned by this value; access goes through raw copies, which
// are sound from any thread.
unsafe impl Send for Mapping {}
// SAFETY: As above: `&Mapping` only allows raw copies in and out of the mapping.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` bytes of `fd` at `offset` with protection `prot` (`PROT_*`) and `flags`
    /// (`MAP_*`). Errors are those of `mmap()`.
    pub fn new(
        fd: BorrowedFd<'_>,
        offset: u64,
        len: usize,
        prot: i32,
        flags: i32,
    ) -> io::Result<Self> {
        if i64::try_from(offset).is_err() {
            return Err(einval());
        }
        // SAFETY: A new mapping at an address the kernel picks replaces nothing in this process.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::from_bits_retain(prot as u32),
                MapFlags::from_bits_retain(flags as u32),
                fd,
                offset,
            )
        }?;
        Self::mapped(ptr, len, prot)
    }

    fn mapped(ptr: *mut std::ffi::c_void, len: usize, prot: i32) -> io::Result<Self> {
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or_else(einval)?;
        Ok(Self { ptr, len, prot })
    }

    /// Maps `len` bytes of `fd` at `offset` shared, for reading and writing: how buffer objects
    /// and dma-bufs are mapped.
    pub fn shared(fd: BorrowedFd<'_>, offset: u64, len: usize) -> io::Result<Self> {
        Self::new(
            fd,
            offset,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
        )
    }

    /// An anonymous private mapping of `len` bytes with protection `prot`, for tests that need
    /// memory with given access rights (or an address that is no longer mapped).
    pub fn anonymous(len: usize, prot: i32) -> io::Result<Self> {
        // SAFETY: As in `new`.
        let ptr = unsafe {
            rustix::mm::mmap_anonymous(
                std::ptr::null_mut(),
                len,
                ProtFlags::from_bits_retain(prot as u32),
                MapFlags::PRIVATE,
            )
        }?;
        Self::mapped(ptr, len, prot)
    }

    /// Length of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty (it never is: `mmap()` refuses empty mappings).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Address of the first mapped byte.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    fn check(&self, offset: usize, len: usize, prot: i32) -> io::Result<()> {
        if self.prot & prot != prot {
            return Err(io::Error::from_raw_os_error(libc::EACCES));
        }
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(einval()),
        }
    }

    /// Copies `buf.len()` bytes at `offset` of the mapping into `buf`.
    ///
    /// Fails with `EINVAL` past the end and with `EACCES` on a mapping without `PROT_READ`.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> io::Result<()> {
        self.check(offset, buf.len(), libc::PROT_READ)?;
        // SAFETY: The range is within the readable mapping; `buf` is a distinct local buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(self.as_ptr().add(offset), buf.as_mut_ptr(), buf.len())
        };
        Ok(())
    }

    /// Copies `data` to `offset` of the mapping.
    ///
    /// Fails with `EINVAL` past the end and with `EACCES` on a mapping without `PROT_WRITE`.
    pub fn write(&self, offset: usize, data: &[u8]) -> io::Result<()> {
        self.check(offset, data.len(), libc::PROT_WRITE)?;
        // SAFETY: The range is within the writable mapping; `data` is a distinct buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.as_ptr().add(offset), data.len())
        };
        Ok(())
    }

    /// Gives up ownership of the mapping: returns its address and length, which the caller
    /// must eventually `munmap()` (or hand back to [`Mapping::from_raw`]).
    pub fn into_raw(self) -> (*mut u8, usize) {
        let this = std::mem::ManuallyDrop::new(self);
        (this.ptr.as_ptr(), this.len)
    }

    /// Takes ownership of `len` bytes mapped at `ptr` with protection `prot`; `None` for a
    /// null `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` and `len` must describe a whole mapping with `prot` that nothing else unmaps or
    /// owns, such as one returned by [`Mapping::into_raw`].
    pub unsafe fn from_raw(ptr: *mut u8, len: usize, prot: i32) -> Option<Self> {
        Some(Self {
            ptr: NonNull::new(ptr)?,
            len,
            prot,
        })
    }

    /// Returns a copy of the whole mapping.
    pub fn to_vec(&self) -> io::Result<Vec<u8>> {
        let mut v = vec![0u8; self.len];
        self.read(0, &mut v)?;
        Ok(v)
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr` and `len` describe a mapping this value created and nothing else
        // refers to.
        let _ = unsafe { rustix::mm::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// `DMA_BUF_SYNC_READ`: the CPU reads.
pub const DMA_BUF_SYNC_READ: u64 = 1 << 0;
/// `DMA_BUF_SYNC_WRITE`: the CPU writes.
pub const DMA_BUF_SYNC_WRITE: u64 = 1 << 1;
/// `DMA_BUF_SYNC_RW`: the CPU reads and writes.
pub const DMA_BUF_SYNC_RW: u64 = DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE;
/// `DMA_BUF_SYNC_START`: CPU access begins.
pub const DMA_BUF_SYNC_START: u64 = 0;
/// `DMA_BUF_SYNC_END`: CPU access ends.
pub const DMA_BUF_SYNC_END: u64 = 1 << 2;

/// `struct dma_buf_sync`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct dma_buf_sync {
    /// `DMA_BUF_SYNC_*`.
    pub flags: u64,
}

/// `DMA_BUF_IOCTL_SYNC`: `_IOW('b', 0, struct dma_buf_sync)`.
pub const DMA_BUF_IOCTL_SYNC: u32 =
    crate::uapi::ioc(1, b'b' as u32, 0, std::mem::size_of::<dma_buf_sync>());

/// `DMA_BUF_IOCTL_SYNC` on the dma-buf `fd` with `flags` (`DMA_BUF_SYNC_START` or
/// `DMA_BUF_SYNC_END`, with the access bits).
pub fn dma_buf_sync(fd: BorrowedFd<'_>, flags: u64) -> io::Result<()> {
    let mut s = dma_buf_sync { flags };
    crate::ioctl(fd, DMA_BUF_IOCTL_SYNC, &mut s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{fs::File, os::fd::AsFd};

    #[test]
    fn sync_request_number() {
        assert_eq!(DMA_BUF_IOCTL_SYNC, 0x4008_6200);
    }

    #[test]
    fn read_write_round_trip_and_bounds() {
        let f = File::options()
            .read(true)
            .write(true)
            .open("/dev/zero")
            .unwrap();
        let m = Mapping::shared(f.as_fd(), 0, 8192).unwrap();
        assert_eq!(m.len(), 8192);
        m.write(4090, b"pattern").unwrap();
        let mut back = [0u8; 7];
        m.read(4090, &mut back).unwrap();
        assert_eq!(&back, b"pattern");
        let past = m.read(8190, &mut back).unwrap_err();
        assert_eq!(past.raw_os_error(), Some(libc::EINVAL));
        let wrap = m.write(usize::MAX, b"x").unwrap_err();
        assert_eq!(wrap.raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn read_only_mappings_refuse_writes() {
        let f = File::open("/dev/zero").unwrap();
        let m = Mapping::new(f.as_fd(), 0, 4096, libc::PROT_READ, libc::MAP_SHARED).unwrap();
        assert_eq!(m.to_vec().unwrap(), vec![0u8; 4096]);
        let err = m.write(0, b"x").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EACCES));
    }
}
