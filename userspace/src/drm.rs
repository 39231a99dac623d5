// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Core DRM requests that work on any DRM file, accel or not.
//!
//! These are the requests of `drm.h` and `drm_mode.h` that the library needs, with the structures
//! defined here the way `drm.h` declares them: version, capabilities, GEM handle close, PRIME
//! export and import, and the dumb buffers of other drivers (vgem), which the benchmarks and
//! the PRIME tests use as a second device. [`open_primary`] finds another driver's primary node
//! from sysfs, without relying on the names under `/dev/dri`.

use std::{
    ffi::CString,
    fs::{self, File, OpenOptions},
    io,
    os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd},
    os::unix::ffi::OsStrExt,
    path::Path,
    sync::atomic::{AtomicU32, Ordering},
};

use crate::{ioctl, uapi};

/// Major number of DRM nodes (`/dev/dri/*`).
pub const DRM_MAJOR: u32 = 226;

/// `_IOC_WRITE`: the kernel reads the argument.
const IOC_WRITE: u32 = 1;

/// `DRM_IOW(nr, size)`.
const fn drm_iow(nr: u32, size: usize) -> u32 {
    uapi::ioc(IOC_WRITE, uapi::DRM_IOCTL_BASE, nr, size)
}

/// `DRM_IOWR(nr, size)`.
const fn drm_iowr(nr: u32, size: usize) -> u32 {
    uapi::ioc(uapi::IOC_READ_WRITE, uapi::DRM_IOCTL_BASE, nr, size)
}

/// `struct drm_version`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct drm_version {
    /// Major version of the driver.
    pub major: i32,
    /// Minor version of the driver.
    pub minor: i32,
    /// Patch level of the driver.
    pub patchlevel: i32,
    /// Length of the name buffer in, of the name out.
    pub name_len: usize,
    /// User pointer to the name buffer.
    pub name: u64,
    /// Length of the date buffer in, of the date out.
    pub date_len: usize,
    /// User pointer to the date buffer.
    pub date: u64,
    /// Length of the description buffer in, of the description out.
    pub desc_len: usize,
    /// User pointer to the description buffer.
    pub desc: u64,
}

/// `struct drm_get_cap`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct drm_get_cap {
    /// `DRM_CAP_*`.
    pub capability: u64,
    /// Out: the value of the capability.
    pub value: u64,
}

/// `struct drm_gem_close`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct drm_gem_close {
    /// Handle to close.
    pub handle: u32,
    /// Padding, zero.
    pub pad: u32,
}

/// `struct drm_prime_handle`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct drm_prime_handle {
    /// Handle: in for export, out for import.
    pub handle: u32,
    /// Export flags: [`DRM_CLOEXEC`], [`DRM_RDWR`].
    pub flags: u32,
    /// dma-buf file descriptor: out for export, in for import.
    pub fd: i32,
}

/// `struct drm_mode_create_dumb`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct drm_mode_create_dumb {
    /// Height in pixels.
    pub height: u32,
    /// Width in pixels.
    pub width: u32,
    /// Bits per pixel.
    pub bpp: u32,
    /// Must be zero.
    pub flags: u32,
    /// Out: handle of the buffer.
    pub handle: u32,
    /// Out: bytes per line.
    pub pitch: u32,
    /// Out: size of the buffer in bytes.
    pub size: u64,
}

/// `struct drm_mode_map_dumb`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct drm_mode_map_dumb {
    /// Handle of the buffer.
    pub handle: u32,
    /// Padding, zero.
    pub pad: u32,
    /// Out: fake offset to pass to `mmap()`.
    pub offset: u64,
}

/// `struct drm_mode_destroy_dumb`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct drm_mode_destroy_dumb {
    /// Handle of the buffer.
    pub handle: u32,
}

/// `DRM_IOCTL_VERSION`.
pub const DRM_IOCTL_VERSION: u32 = drm_iowr(0x00, std::mem::size_of::<drm_version>());
/// `DRM_IOCTL_GEM_CLOSE`.
pub const DRM_IOCTL_GEM_CLOSE: u32 = drm_iow(0x09, std::mem::size_of::<drm_gem_close>());
/// `DRM_IOCTL_GET_CAP`.
pub const DRM_IOCTL_GET_CAP: u32 = drm_iowr(0x0c, std::mem::size_of::<drm_get_cap>());
/// `DRM_IOCTL_PRIME_HANDLE_TO_FD`.
pub const DRM_IOCTL_PRIME_HANDLE_TO_FD: u32 =
    drm_iowr(0x2d, std::mem::size_of::<drm_prime_handle>());
/// `DRM_IOCTL_PRIME_FD_TO_HANDLE`.
pub const DRM_IOCTL_PRIME_FD_TO_HANDLE: u32 =
    drm_iowr(0x2e, std::mem::size_of::<drm_prime_handle>());
/// `DRM_IOCTL_MODE_CREATE_DUMB`.
pub const DRM_IOCTL_MODE_CREATE_DUMB: u32 =
    drm_iowr(0xb2, std::mem::size_of::<drm_mode_create_dumb>());
/// `DRM_IOCTL_MODE_MAP_DUMB`.
pub const DRM_IOCTL_MODE_MAP_DUMB: u32 = drm_iowr(0xb3, std::mem::size_of::<drm_mode_map_dumb>());
/// `DRM_IOCTL_MODE_DESTROY_DUMB`.
pub const DRM_IOCTL_MODE_DESTROY_DUMB: u32 =
    drm_iowr(0xb4, std::mem::size_of::<drm_mode_destroy_dumb>());

/// `DRM_CAP_DUMB_BUFFER`.
pub const DRM_CAP_DUMB_BUFFER: u64 = 0x1;
/// `DRM_CAP_PRIME`: a mask of [`DRM_PRIME_CAP_IMPORT`] and [`DRM_PRIME_CAP_EXPORT`].
pub const DRM_CAP_PRIME: u64 = 0x5;
/// `DRM_PRIME_CAP_IMPORT`.
pub const DRM_PRIME_CAP_IMPORT: u64 = 0x1;
/// `DRM_PRIME_CAP_EXPORT`.
pub const DRM_PRIME_CAP_EXPORT: u64 = 0x2;
/// `DRM_CAP_TIMESTAMP_MONOTONIC`.
pub const DRM_CAP_TIMESTAMP_MONOTONIC: u64 = 0x6;

/// `DRM_CLOEXEC`: the exported dma-buf file descriptor is close-on-exec.
pub const DRM_CLOEXEC: u32 = libc::O_CLOEXEC as u32;
/// `DRM_RDWR`: the exported dma-buf can be mapped for writing.
pub const DRM_RDWR: u32 = libc::O_RDWR as u32;

/// What `DRM_IOCTL_VERSION` reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// Major version of the driver.
    pub major: i32,
    /// Minor version of the driver.
    pub minor: i32,
    /// Patch level of the driver.
    pub patchlevel: i32,
    /// Driver name, such as `gaudi` or `vgem`.
    pub name: String,
    /// Driver date.
    pub date: String,
    /// Driver description.
    pub desc: String,
}

/// Returns the driver version of any DRM file, accel or not.
pub fn version(fd: BorrowedFd<'_>) -> io::Result<Version> {
    let mut v = drm_version::default();
    ioctl(fd, DRM_IOCTL_VERSION, &mut v)?;
    let mut name = vec![0u8; v.name_len];
    let mut date = vec![0u8; v.date_len];
    let mut desc = vec![0u8; v.desc_len];
    v.name = name.as_mut_ptr() as u64;
    v.date = date.as_mut_ptr() as u64;
    v.desc = desc.as_mut_ptr() as u64;
    ioctl(fd, DRM_IOCTL_VERSION, &mut v)?;
    let s = |b: Vec<u8>, len: usize| String::from_utf8_lossy(&b[..len.min(b.len())]).into_owned();
    Ok(Version {
        major: v.major,
        minor: v.minor,
        patchlevel: v.patchlevel,
        name: s(name, v.name_len),
        date: s(date, v.date_len),
        desc: s(desc, v.desc_len),
    })
}

/// `DRM_IOCTL_GET_CAP`: the value of capability `cap`.
pub fn get_cap(fd: BorrowedFd<'_>, cap: u64) -> io::Result<u64> {
    let mut c = drm_get_cap {
        capability: cap,
        value: 0,
    };
    ioctl(fd, DRM_IOCTL_GET_CAP, &mut c)?;
    Ok(c.value)
}

/// `DRM_IOCTL_GEM_CLOSE`: closes `handle` (the object lives on while anything else refers
/// to it). An unknown handle fails with `EINVAL`.
pub fn gem_close(fd: BorrowedFd<'_>, handle: u32) -> io::Result<()> {
    let mut c = drm_gem_close { handle, pad: 0 };
    ioctl(fd, DRM_IOCTL_GEM_CLOSE, &mut c)
}

/// `DRM_IOCTL_PRIME_HANDLE_TO_FD`: exports `handle` as a dma-buf with `flags`
/// ([`DRM_CLOEXEC`], [`DRM_RDWR`]).
pub fn prime_handle_to_fd(fd: BorrowedFd<'_>, handle: u32, flags: u32) -> io::Result<OwnedFd> {
    let mut p = drm_prime_handle {
        handle,
        flags,
        fd: -1,
    };
    ioctl(fd, DRM_IOCTL_PRIME_HANDLE_TO_FD, &mut p)?;
    if p.fd < 0 {
        return Err(io::Error::from_raw_os_error(libc::EPROTO));
    }
    // SAFETY: The kernel installed a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(p.fd) })
}

/// `DRM_IOCTL_PRIME_FD_TO_HANDLE`: imports the dma-buf `dma_buf`; returns the handle, which
/// is the one this file already has if it holds the object.
pub fn prime_fd_to_handle(fd: BorrowedFd<'_>, dma_buf: BorrowedFd<'_>) -> io::Result<u32> {
    prime_raw_fd_to_handle(fd, std::os::fd::AsRawFd::as_raw_fd(&dma_buf))
}

/// [`prime_fd_to_handle`] with a raw descriptor, which may be invalid on purpose.
pub fn prime_raw_fd_to_handle(fd: BorrowedFd<'_>, dma_buf: i32) -> io::Result<u32> {
    let mut p = drm_prime_handle {
        handle: 0,
        flags: 0,
        fd: dma_buf,
    };
    ioctl(fd, DRM_IOCTL_PRIME_FD_TO_HANDLE, &mut p)?;
    Ok(p.handle)
}

/// A dumb buffer of a driver that has them (vgem, display drivers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dumb {
    /// GEM handle.
    pub handle: u32,
    /// Bytes per line.
    pub pitch: u32,
    /// Size in bytes.
    pub size: u64,
}

/// `DRM_IOCTL_MODE_CREATE_DUMB`: a `width` x `height` buffer of `bpp` bits per pixel.
pub fn create_dumb(fd: BorrowedFd<'_>, width: u32, height: u32, bpp: u32) -> io::Result<Dumb> {
    let mut d = drm_mode_create_dumb {
        width,
        height,
        bpp,
        ..Default::default()
    };
    ioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &mut d)?;
    Ok(Dumb {
        handle: d.handle,
        pitch: d.pitch,
        size: d.size,
    })
}

/// Creates a dumb buffer of at least `size` bytes: one line of 4096-byte pitch per page.
pub fn create_dumb_bytes(fd: BorrowedFd<'_>, size: u64) -> io::Result<Dumb> {
    let lines = u32::try_from(size.div_ceil(4096).max(1))
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    create_dumb(fd, 1024, lines, 32)
}

/// `DRM_IOCTL_MODE_MAP_DUMB`: the fake offset to map dumb buffer `handle` with `mmap()`.
pub fn map_dumb(fd: BorrowedFd<'_>, handle: u32) -> io::Result<u64> {
    let mut m = drm_mode_map_dumb {
        handle,
        ..Default::default()
    };
    ioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, &mut m)?;
    Ok(m.offset)
}

/// `DRM_IOCTL_MODE_DESTROY_DUMB`: closes dumb buffer `handle`.
pub fn destroy_dumb(fd: BorrowedFd<'_>, handle: u32) -> io::Result<()> {
    let mut d = drm_mode_destroy_dumb { handle };
    ioctl(fd, DRM_IOCTL_MODE_DESTROY_DUMB, &mut d)
}

/// Opens the primary node (`cardN`) of the DRM driver called `driver`, if there is one.
///
/// The nodes are found in `/sys/class/drm`, not under `/dev/dri`, whose names need not lead to
/// the device sysfs describes (the test VM replaces `/dev/dri/card0` with an alias of an accel
/// node). For each primary node, a private character device node with its numbers is made in
/// the temporary directory, opened and removed at once; the first one whose
/// `DRM_IOCTL_VERSION` name is `driver` is returned. Needs `CAP_MKNOD`.
pub fn open_primary(driver: &str) -> io::Result<Option<File>> {
    let cards = crate::numbered_entries(Path::new("/sys/class/drm"), "card")?;
    for (_, path) in cards {
        let Ok(dev) = fs::read_to_string(path.join("dev")) else {
            continue;
        };
        let Some((major, minor)) = dev.trim().split_once(':') else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse::<u32>(), minor.parse::<u32>()) else {
            continue;
        };
        let file = open_char_device(major, minor)?;
        if version(file.as_fd())?.name == driver {
            return Ok(Some(file));
        }
    }
    Ok(None)
}

/// Opens the character device `major:minor` read-write through a node of its own in the
/// temporary directory, removed again before returning.
pub fn open_char_device(major: u32, minor: u32) -> io::Result<File> {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let path = std::env::temp_dir().join(format!(
        "gaudi-chr-{}-{}-{major}-{minor}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `c` is a valid NUL-terminated path.
    let ret = unsafe {
        libc::mknod(
            c.as_ptr(),
            libc::S_IFCHR | 0o600,
            libc::makedev(major, minor),
        )
    };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    let file = OpenOptions::new().read(true).write(true).open(&path);
    let _ = fs::remove_file(&path);
    file
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_numbers_match_drm_h() {
        assert_eq!(std::mem::size_of::<drm_version>(), 64);
        assert_eq!(DRM_IOCTL_VERSION, 0xc040_6400);
        assert_eq!(DRM_IOCTL_GEM_CLOSE, 0x4008_6409);
        assert_eq!(DRM_IOCTL_GET_CAP, 0xc010_640c);
        assert_eq!(DRM_IOCTL_PRIME_HANDLE_TO_FD, 0xc00c_642d);
        assert_eq!(DRM_IOCTL_PRIME_FD_TO_HANDLE, 0xc00c_642e);
        assert_eq!(DRM_IOCTL_MODE_CREATE_DUMB, 0xc020_64b2);
        assert_eq!(DRM_IOCTL_MODE_MAP_DUMB, 0xc010_64b3);
        assert_eq!(DRM_IOCTL_MODE_DESTROY_DUMB, 0xc004_64b4);
        assert_eq!(DRM_CLOEXEC, 0o2_000_000);
        assert_eq!(DRM_RDWR, 2);
    }

    #[test]
    fn dumb_sizes_that_overflow_are_refused() {
        // Only the argument computation; no DRM device on the host.
        let f = File::open("/dev/null").unwrap();
        let err = create_dumb_bytes(f.as_fd(), u64::MAX).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn prime_import_of_a_non_drm_file_fails() {
        let f = File::open("/dev/null").unwrap();
        assert!(prime_raw_fd_to_handle(f.as_fd(), -1).is_err());
    }
}
