// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Core DRM requests that work on any DRM file, accel or not.
//!
//! The requests of `drm.h` and `drm_mode.h` that the library needs come from the `drm` crate
//! (drm-rs): its [`::drm::Device`] and [`::drm::control::Device`] traits work on any file that
//! is a DRM node, accel nodes included, and [`crate::Device`] implements both. Where drm-rs's
//! types cannot carry an argument (a zero handle, the size of a dumb buffer), the request goes
//! through `drm-ffi`, its lower layer; where neither has the request's form (an import from a
//! descriptor that may be invalid on purpose), the `drm-sys` structure is issued with
//! [`crate::ioctl`]. drm-sys's structures are re-exported here, with the request numbers, for
//! tests that issue the requests themselves.
//!
//! Version, capabilities, GEM handle close, PRIME export and import, and the dumb buffers of
//! other drivers (vgem), which the benchmarks and the PRIME tests use as a second device.
//! [`open_primary`] finds another driver's primary node from sysfs, without relying on the
//! names under `/dev/dri`.

use std::{
    fs::{self, File, OpenOptions},
    io,
    os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd},
    path::Path,
    sync::atomic::{AtomicU32, Ordering},
};

use ::drm::{control::Device as _, Device as _};
use rustix::ioctl::opcode;

use crate::{ioctl, restart};

pub use drm_ffi::{
    drm_gem_close, drm_get_cap, drm_mode_create_dumb, drm_mode_destroy_dumb, drm_mode_map_dumb,
    drm_prime_handle, drm_version, DRM_CLOEXEC, DRM_RDWR,
};

/// Major number of DRM nodes (`/dev/dri/*`).
pub const DRM_MAJOR: u32 = 226;

/// `DRM_IOW(nr, T)`.
const fn drm_iow<T>(nr: u8) -> u32 {
    opcode::write::<T>(drm_ffi::DRM_IOCTL_BASE, nr) as u32
}

/// `DRM_IOWR(nr, T)`.
pub(crate) const fn drm_iowr<T>(nr: u8) -> u32 {
    opcode::read_write::<T>(drm_ffi::DRM_IOCTL_BASE, nr) as u32
}

/// `DRM_IOCTL_VERSION`.
pub const DRM_IOCTL_VERSION: u32 = drm_iowr::<drm_version>(0x00);
/// `DRM_IOCTL_GEM_CLOSE`.
pub const DRM_IOCTL_GEM_CLOSE: u32 = drm_iow::<drm_gem_close>(0x09);
/// `DRM_IOCTL_GET_CAP`.
pub const DRM_IOCTL_GET_CAP: u32 = drm_iowr::<drm_get_cap>(0x0c);
/// `DRM_IOCTL_PRIME_HANDLE_TO_FD`.
pub const DRM_IOCTL_PRIME_HANDLE_TO_FD: u32 = drm_iowr::<drm_prime_handle>(0x2d);
/// `DRM_IOCTL_PRIME_FD_TO_HANDLE`.
pub const DRM_IOCTL_PRIME_FD_TO_HANDLE: u32 = drm_iowr::<drm_prime_handle>(0x2e);
/// `DRM_IOCTL_MODE_CREATE_DUMB`.
pub const DRM_IOCTL_MODE_CREATE_DUMB: u32 = drm_iowr::<drm_mode_create_dumb>(0xb2);
/// `DRM_IOCTL_MODE_MAP_DUMB`.
pub const DRM_IOCTL_MODE_MAP_DUMB: u32 = drm_iowr::<drm_mode_map_dumb>(0xb3);
/// `DRM_IOCTL_MODE_DESTROY_DUMB`.
pub const DRM_IOCTL_MODE_DESTROY_DUMB: u32 = drm_iowr::<drm_mode_destroy_dumb>(0xb4);

/// `DRM_CAP_DUMB_BUFFER`.
pub const DRM_CAP_DUMB_BUFFER: u64 = drm_ffi::DRM_CAP_DUMB_BUFFER as u64;
/// `DRM_CAP_PRIME`: a mask of [`DRM_PRIME_CAP_IMPORT`] and [`DRM_PRIME_CAP_EXPORT`].
pub const DRM_CAP_PRIME: u64 = drm_ffi::DRM_CAP_PRIME as u64;
/// `DRM_PRIME_CAP_IMPORT`.
pub const DRM_PRIME_CAP_IMPORT: u64 = drm_ffi::DRM_PRIME_CAP_IMPORT as u64;
/// `DRM_PRIME_CAP_EXPORT`.
pub const DRM_PRIME_CAP_EXPORT: u64 = drm_ffi::DRM_PRIME_CAP_EXPORT as u64;
/// `DRM_CAP_TIMESTAMP_MONOTONIC`.
pub const DRM_CAP_TIMESTAMP_MONOTONIC: u64 = drm_ffi::DRM_CAP_TIMESTAMP_MONOTONIC as u64;

/// A borrowed DRM file as a drm-rs device.
pub(crate) struct Card<'a>(pub(crate) BorrowedFd<'a>);

impl AsFd for Card<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0
    }
}

impl ::drm::Device for Card<'_> {}
impl ::drm::control::Device for Card<'_> {}

/// Takes ownership of a descriptor the kernel returned.
pub(crate) fn owned(fd: i32) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(libc::EPROTO));
    }
    // SAFETY: The kernel installed a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

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
    let d = restart(|| Card(fd).get_driver())?;
    let s = |s: &std::ffi::OsStr| s.to_string_lossy().into_owned();
    Ok(Version {
        major: d.version.0,
        minor: d.version.1,
        patchlevel: d.version.2,
        name: s(d.name()),
        date: s(d.date()),
        desc: s(d.description()),
    })
}

/// `DRM_IOCTL_GET_CAP`: the value of capability `cap`, which need not be one drm-rs names.
pub fn get_cap(fd: BorrowedFd<'_>, cap: u64) -> io::Result<u64> {
    restart(|| drm_ffi::get_capability(fd, cap)).map(|c| c.value)
}

/// `DRM_IOCTL_GEM_CLOSE`: closes `handle` (the object lives on while anything else refers
/// to it). An unknown handle fails with `EINVAL`.
pub fn gem_close(fd: BorrowedFd<'_>, handle: u32) -> io::Result<()> {
    match ::drm::control::from_u32(handle) {
        Some(h) => restart(|| Card(fd).close_buffer(h)),
        // Handle 0, which drm-rs's handles cannot name: the kernel refuses it.
        None => restart(|| drm_ffi::gem::close(fd, handle)).map(drop),
    }
}

/// `DRM_IOCTL_PRIME_HANDLE_TO_FD`: exports `handle` as a dma-buf with `flags`
/// ([`DRM_CLOEXEC`], [`DRM_RDWR`]).
pub fn prime_handle_to_fd(fd: BorrowedFd<'_>, handle: u32, flags: u32) -> io::Result<OwnedFd> {
    match ::drm::control::from_u32(handle) {
        Some(h) => restart(|| Card(fd).buffer_to_prime_fd(h, flags)),
        None => owned(restart(|| drm_ffi::gem::handle_to_fd(fd, handle, flags))?.fd),
    }
}

/// `DRM_IOCTL_PRIME_FD_TO_HANDLE`: imports the dma-buf `dma_buf`; returns the handle, which
/// is the one this file already has if it holds the object.
pub fn prime_fd_to_handle(fd: BorrowedFd<'_>, dma_buf: BorrowedFd<'_>) -> io::Result<u32> {
    restart(|| Card(fd).prime_fd_to_buffer(dma_buf)).map(u32::from)
}

/// [`prime_fd_to_handle`] with a raw descriptor, which may be invalid on purpose (a C caller's,
/// or a test's): a [`BorrowedFd`] cannot hold such a value, so the request is issued here.
pub fn prime_raw_fd_to_handle(fd: BorrowedFd<'_>, dma_buf: i32) -> io::Result<u32> {
    let mut p = drm_prime_handle {
        fd: dma_buf,
        ..Default::default()
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
///
/// Through drm-ffi: drm-rs's `DumbBuffer` does not tell the size the kernel allocated.
pub fn create_dumb(fd: BorrowedFd<'_>, width: u32, height: u32, bpp: u32) -> io::Result<Dumb> {
    let d = restart(|| drm_ffi::mode::dumbbuffer::create(fd, width, height, bpp, 0))?;
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
    restart(|| drm_ffi::mode::dumbbuffer::map(fd, handle, 0, 0)).map(|m| m.offset)
}

/// `DRM_IOCTL_MODE_DESTROY_DUMB`: closes dumb buffer `handle`.
pub fn destroy_dumb(fd: BorrowedFd<'_>, handle: u32) -> io::Result<()> {
    restart(|| drm_ffi::mode::dumbbuffer::destroy(fd, handle)).map(drop)
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
    use rustix::fs::{self as rfs, FileType, Mode, CWD};
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let path = std::env::temp_dir().join(format!(
        "gaudi-chr-{}-{}-{major}-{minor}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    rfs::mknodat(
        CWD,
        &path,
        FileType::CharacterDevice,
        Mode::RUSR | Mode::WUSR,
        rfs::makedev(major, minor),
    )?;
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
        assert_eq!(DRM_CAP_PRIME, 5);
    }

    #[test]
    fn dumb_sizes_that_overflow_are_refused() {
        // Only the argument computation; no DRM device on the host.
        let f = File::open("/dev/null").unwrap();
        let err = create_dumb_bytes(f.as_fd(), u64::MAX).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn requests_on_a_non_drm_file_fail_with_the_kernel_errno() {
        let f = File::open("/dev/null").unwrap();
        assert!(prime_raw_fd_to_handle(f.as_fd(), -1).is_err());
        let enotty = Some(libc::ENOTTY);
        assert_eq!(version(f.as_fd()).unwrap_err().raw_os_error(), enotty);
        assert_eq!(
            get_cap(f.as_fd(), DRM_CAP_PRIME)
                .unwrap_err()
                .raw_os_error(),
            enotty
        );
        assert_eq!(gem_close(f.as_fd(), 1).unwrap_err().raw_os_error(), enotty);
        assert_eq!(gem_close(f.as_fd(), 0).unwrap_err().raw_os_error(), enotty);
        let e = prime_handle_to_fd(f.as_fd(), 0, DRM_CLOEXEC).unwrap_err();
        assert_eq!(e.raw_os_error(), enotty);
        let e = prime_fd_to_handle(f.as_fd(), f.as_fd()).unwrap_err();
        assert_eq!(e.raw_os_error(), enotty);
    }
}
