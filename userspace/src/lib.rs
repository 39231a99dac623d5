// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Userspace library of the gaudi accel driver, in the style of libdrm.
//!
//! [`Device`] wraps an open `/dev/accel/accelN` file. The core DRM requests that work on accel
//! nodes are here next to the driver's own ioctls. Device enumeration walks `/dev/accel`
//! itself: libdrm's enumeration only knows `/dev/dri`.

use std::{
    ffi::c_void,
    fs::{self, File, OpenOptions},
    io,
    os::fd::{AsFd, AsRawFd, BorrowedFd},
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
};

pub use gaudi_uapi as uapi;
use uapi::{drm_gaudi_device_info, drm_gaudi_query};

/// Major number of accel nodes.
pub const ACCEL_MAJOR: u32 = 261;
/// Name the driver reports through `DRM_IOCTL_VERSION`.
pub const DRIVER_NAME: &str = "gaudi";

/// Issues `request` on `fd`, restarting on `EINTR` and `EAGAIN` like `drmIoctl()`.
///
/// # Safety
///
/// `arg` must point to memory that is valid for the kernel to read and write as `request`
/// describes.
pub unsafe fn ioctl_raw(fd: BorrowedFd<'_>, request: u32, arg: *mut c_void) -> io::Result<()> {
    loop {
        // SAFETY: The caller guarantees `arg` is valid for `request`.
        let ret = unsafe { libc::ioctl(fd.as_raw_fd(), request as libc::c_ulong, arg) };
        if ret == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) | Some(libc::EAGAIN) => continue,
            _ => return Err(err),
        }
    }
}

/// Issues `request` with `arg` as its argument structure.
///
/// The size encoded in `request` must not exceed `size_of::<T>()`.
pub fn ioctl<T>(fd: BorrowedFd<'_>, request: u32, arg: &mut T) -> io::Result<()> {
    let size = ((request >> 16) & 0x3fff) as usize;
    if size > std::mem::size_of::<T>() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: `arg` is valid for reads and writes of `size_of::<T>()` bytes, which covers the
    // size the kernel uses for `request`.
    unsafe { ioctl_raw(fd, request, (arg as *mut T).cast()) }
}

/// `struct drm_version` from `drm.h`.
#[repr(C)]
#[derive(Default)]
struct DrmVersion {
    major: i32,
    minor: i32,
    patchlevel: i32,
    name_len: usize,
    name: u64,
    date_len: usize,
    date: u64,
    desc_len: usize,
    desc: u64,
}

/// `DRM_IOCTL_VERSION`.
pub const DRM_IOCTL_VERSION: u32 =
    uapi::ioc(uapi::IOC_READ_WRITE, uapi::DRM_IOCTL_BASE, 0x00, std::mem::size_of::<DrmVersion>());

/// What `DRM_IOCTL_VERSION` reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub major: i32,
    pub minor: i32,
    pub patchlevel: i32,
    pub name: String,
    pub date: String,
    pub desc: String,
}

/// Returns the driver version of any DRM file, accel or not.
pub fn version(fd: BorrowedFd<'_>) -> io::Result<Version> {
    let mut v = DrmVersion::default();
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

/// An open gaudi accel node.
#[derive(Debug)]
pub struct Device {
    file: File,
    path: PathBuf,
}

impl Device {
    /// Opens the accel node at `path` and checks that the gaudi driver is behind it.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        let dev = Self { file, path };
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
        Ok(libc::minor(rdev))
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
            size: u32::try_from(buf.len()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?,
            pointer: buf.as_mut_ptr() as u64,
            ..Default::default()
        };
        ioctl(self.as_fd(), uapi::DRM_IOCTL_GAUDI_QUERY, &mut q)?;
        Ok(q.size)
    }

    /// Device identification and resources.
    pub fn device_info(&self) -> io::Result<drm_gaudi_device_info> {
        let mut info = drm_gaudi_device_info::default();
        // SAFETY: `drm_gaudi_device_info` is plain old data; any byte pattern is valid.
        let bytes = unsafe {
            std::slice::from_raw_parts_mut(
                (&mut info as *mut drm_gaudi_device_info).cast::<u8>(),
                std::mem::size_of::<drm_gaudi_device_info>(),
            )
        };
        let n = self.query(uapi::DRM_GAUDI_QUERY_DEVICE_INFO, bytes)?;
        if (n as usize) < std::mem::size_of::<drm_gaudi_device_info>() {
            return Err(io::Error::from_raw_os_error(libc::EPROTO));
        }
        Ok(info)
    }
}

impl AsFd for Device {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

/// Every `/dev/accel/accelN` node, in minor order.
pub fn accel_nodes() -> io::Result<Vec<PathBuf>> {
    let mut nodes: Vec<(u32, PathBuf)> = Vec::new();
    let dir = match fs::read_dir("/dev/accel") {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    for entry in dir {
        let entry = entry?;
        let name = entry.file_name();
        let Some(n) = name.to_str().and_then(|n| n.strip_prefix("accel")) else {
            continue;
        };
        if let Ok(minor) = n.parse() {
            nodes.push((minor, entry.path()));
        }
    }
    nodes.sort();
    Ok(nodes.into_iter().map(|(_, p)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_request_matches_drm_h() {
        // DRM_IOWR(0x00, struct drm_version) on 64-bit: 64-byte struct.
        assert_eq!(std::mem::size_of::<DrmVersion>(), 64);
        assert_eq!(DRM_IOCTL_VERSION, 0xc040_6400);
    }

    #[test]
    fn query_request_number() {
        // DRM_IOWR(DRM_COMMAND_BASE + 0, struct drm_gaudi_query): 24 bytes.
        assert_eq!(uapi::DRM_IOCTL_GAUDI_QUERY, 0xc018_6440);
    }

    #[test]
    fn ioctl_rejects_short_argument() {
        let f = File::open("/dev/null").unwrap();
        let mut small = 0u32;
        let err = ioctl(f.as_fd(), uapi::DRM_IOCTL_GAUDI_QUERY, &mut small).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }
}
