// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Conformance of the accel core: node type, core ioctls on a file without a master, and
//! hostile requests that must fail cleanly.

use std::os::{fd::AsFd, unix::fs::FileTypeExt, unix::fs::MetadataExt};

use accel_igt::{device_path, in_child, ioc, ioctl_errno, open_raw, uapi};

const DRM: u32 = uapi::DRM_IOCTL_BASE;
const RW: u32 = uapi::IOC_READ_WRITE;
const R: u32 = 2;

/// `struct drm_unique`.
#[repr(C)]
#[derive(Default)]
struct DrmUnique {
    unique_len: usize,
    unique: u64,
}

/// `struct drm_get_cap`.
#[repr(C)]
#[derive(Default)]
struct DrmGetCap {
    capability: u64,
    value: u64,
}

/// `struct drm_mode_create_dumb`.
#[repr(C)]
#[derive(Default)]
struct DrmModeCreateDumb {
    height: u32,
    width: u32,
    bpp: u32,
    flags: u32,
    handle: u32,
    pitch: u32,
    size: u64,
}

const GET_UNIQUE: u32 = ioc(RW, DRM, 0x01, std::mem::size_of::<DrmUnique>());
const GET_MAGIC: u32 = ioc(R, DRM, 0x02, 4);
const AUTH_MAGIC: u32 = ioc(1, DRM, 0x11, 4);
const SET_MASTER: u32 = ioc(0, DRM, 0x1e, 0);
const DROP_MASTER: u32 = ioc(0, DRM, 0x1f, 0);
const GET_CAP: u32 = ioc(RW, DRM, 0x0c, std::mem::size_of::<DrmGetCap>());
const MODE_CREATE_DUMB: u32 = ioc(RW, DRM, 0xb2, std::mem::size_of::<DrmModeCreateDumb>());

const DRM_CAP_DUMB_BUFFER: u64 = 0x1;
const DRM_CAP_PRIME: u64 = 0x5;
const DRM_CAP_TIMESTAMP_MONOTONIC: u64 = 0x6;

/// The unprivileged user the access subtests become.
const NOBODY: libc::uid_t = 65534;

/// A private device node of the node under test at `path`, owned by `uid` with `mode`.
fn private_node(path: &str, uid: libc::uid_t, mode: libc::mode_t) -> Result<(), String> {
    let md = std::fs::metadata(device_path()).map_err(|e| format!("stat: {e}"))?;
    let _ = std::fs::remove_file(path);
    let c = std::ffi::CString::new(path).map_err(|e| e.to_string())?;
    // SAFETY: A valid NUL-terminated path; mknod and chown have no memory-safety requirements.
    unsafe {
        if libc::mknod(c.as_ptr(), libc::S_IFCHR | mode, md.rdev()) != 0
            || libc::chown(c.as_ptr(), uid, uid) != 0
            || libc::chmod(c.as_ptr(), mode) != 0
        {
            return Err(format!("mknod {path}: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// Drops to [`NOBODY`] for good (the calling process: a child of [`in_child`]).
fn become_nobody() -> Result<(), String> {
    // SAFETY: setgroups with an empty list, setgid and setuid have no memory-safety
    // requirements.
    let r = unsafe {
        libc::setgroups(0, std::ptr::null()) | libc::setgid(NOBODY) | libc::setuid(NOBODY)
    };
    if r != 0 {
        return Err(format!(
            "dropping to uid {NOBODY}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Checks `errno` against `want` in a child, as a message.
fn want(what: &str, errno: i32, want: i32) -> Result<(), String> {
    if errno == want {
        Ok(())
    } else {
        Err(format!("{what}: errno {errno}, want {want}"))
    }
}

fn main() {
    igt::main(|t| {
        t.subtest("node-is-accel", || {
            let path = device_path();
            let md =
                std::fs::metadata(&path).map_err(|e| igt::fail!("stat {}: {e}", path.display()))?;
            igt::assert!(md.file_type().is_char_device());
            igt::assert_eq!(libc::major(md.rdev()), gaudi::ACCEL_MAJOR);
            let minor = libc::minor(md.rdev());
            let sys = format!("/sys/class/accel/accel{minor}/device");
            let pci = std::fs::read_link(&sys).map_err(|e| igt::fail!("{sys}: {e}"))?;
            let pci = pci
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            // An accel device has neither a primary nor a render node.
            let drm_dir = format!("/sys/bus/pci/devices/{pci}/drm");
            igt::assert!(!std::path::Path::new(&drm_dir).exists(), "{drm_dir} exists");
            Ok(())
        });

        t.subtest("version", || {
            let f = open_raw().map_err(|e| igt::fail!("open: {e}"))?;
            let v = gaudi::version(f.as_fd()).map_err(|e| igt::fail!("DRM_IOCTL_VERSION: {e}"))?;
            igt::assert_eq!(v.name.as_str(), gaudi::DRIVER_NAME);
            igt::assert!(!v.date.is_empty());
            igt::assert!(!v.desc.is_empty());
            Ok(())
        });

        t.subtest("get-cap", || {
            let f = open_raw().map_err(|e| igt::fail!("open: {e}"))?;
            let mut cap = DrmGetCap {
                capability: DRM_CAP_PRIME,
                value: 0,
            };
            igt::assert_eq!(ioctl_errno(f.as_fd(), GET_CAP, &mut cap), 0);
            igt::assert_eq!(cap.value, 3, "PRIME import and export");
            let mut cap = DrmGetCap {
                capability: DRM_CAP_TIMESTAMP_MONOTONIC,
                value: 0,
            };
            igt::assert_eq!(ioctl_errno(f.as_fd(), GET_CAP, &mut cap), 0);
            igt::assert_eq!(cap.value, 1);
            // Display capabilities do not exist on accel nodes.
            let mut cap = DrmGetCap {
                capability: DRM_CAP_DUMB_BUFFER,
                value: 0,
            };
            igt::assert_eq!(ioctl_errno(f.as_fd(), GET_CAP, &mut cap), libc::EOPNOTSUPP);
            let mut cap = DrmGetCap {
                capability: u64::MAX,
                value: 0,
            };
            igt::assert_eq!(ioctl_errno(f.as_fd(), GET_CAP, &mut cap), libc::EOPNOTSUPP);
            Ok(())
        });

        t.subtest("no-dumb-buffers", || {
            let f = open_raw().map_err(|e| igt::fail!("open: {e}"))?;
            let mut d = DrmModeCreateDumb {
                height: 64,
                width: 64,
                bpp: 32,
                ..Default::default()
            };
            igt::assert_eq!(
                ioctl_errno(f.as_fd(), MODE_CREATE_DUMB, &mut d),
                libc::ENOSYS
            );
            igt::assert_eq!(d.handle, 0);
            Ok(())
        });

        t.subtest("get-unique", || {
            // Accel files have no master; drm_getunique() dereferenced it before the DRM core
            // fix in kernel/patches/0002-*.patch.
            let f = open_raw().map_err(|e| igt::fail!("open: {e}"))?;
            let mut buf = [0u8; 64];
            let mut u = DrmUnique {
                unique_len: buf.len(),
                unique: buf.as_mut_ptr() as u64,
            };
            igt::assert_eq!(ioctl_errno(f.as_fd(), GET_UNIQUE, &mut u), libc::EOPNOTSUPP);
            let mut u = DrmUnique::default();
            igt::assert_eq!(ioctl_errno(f.as_fd(), GET_UNIQUE, &mut u), libc::EOPNOTSUPP);
            // The 32-bit layout of the request (struct drm_unique with 32-bit pointers) as well.
            let mut u32_req = [0u32; 2];
            let req = ioc(RW, DRM, 0x01, 8);
            igt::assert_eq!(ioctl_errno(f.as_fd(), req, &mut u32_req), libc::EOPNOTSUPP);
            Ok(())
        });

        t.subtest("get-magic", || {
            let f = open_raw().map_err(|e| igt::fail!("open: {e}"))?;
            let mut magic = 0u32;
            igt::assert_eq!(
                ioctl_errno(f.as_fd(), GET_MAGIC, &mut magic),
                libc::EOPNOTSUPP
            );
            Ok(())
        });

        t.subtest("auth-magic", || {
            let f = open_raw().map_err(|e| igt::fail!("open: {e}"))?;
            let mut magic = 1u32;
            igt::assert_eq!(ioctl_errno(f.as_fd(), AUTH_MAGIC, &mut magic), libc::EACCES);
            Ok(())
        });

        t.subtest("set-master", || {
            // Root passes the permission check and finds no master to take.
            let f = open_raw().map_err(|e| igt::fail!("open: {e}"))?;
            let mut none = 0u8;
            igt::assert_eq!(ioctl_errno(f.as_fd(), SET_MASTER, &mut none), libc::EINVAL);
            igt::assert_eq!(ioctl_errno(f.as_fd(), DROP_MASTER, &mut none), libc::EINVAL);
            Ok(())
        });

        t.subtest("unknown-ioctls", || {
            let f = open_raw().map_err(|e| igt::fail!("open: {e}"))?;
            let mut buf = [0u8; 256];
            // Driver range past the last driver ioctl.
            for nr in (uapi::DRM_COMMAND_BASE + uapi::DRM_GAUDI_CTX_QUERY + 1)..0xa0 {
                let req = ioc(RW, DRM, nr, 24);
                igt::assert_eq!(
                    ioctl_errno(f.as_fd(), req, &mut buf),
                    libc::EINVAL,
                    "nr {nr:#x}"
                );
            }
            // Past the core table.
            let req = ioc(RW, DRM, 0xff, 16);
            igt::assert_eq!(ioctl_errno(f.as_fd(), req, &mut buf), libc::EINVAL);
            // Not a DRM request at all, including the numbers of filtered requests.
            for nr in [0x00, 0x01, 0x02, 0x40] {
                let req = ioc(RW, u32::from(b'x'), nr, 16);
                igt::assert_eq!(
                    ioctl_errno(f.as_fd(), req, &mut buf),
                    libc::ENOTTY,
                    "nr {nr:#x}"
                );
            }
            Ok(())
        });

        t.subtest("many-clients", || {
            let mut files = Vec::new();
            for _ in 0..256 {
                files.push(open_raw().map_err(|e| igt::fail!("open: {e}"))?);
            }
            for f in &files {
                igt::assert!(gaudi::version(f.as_fd()).is_ok());
            }
            Ok(())
        });
        t.subtest("unprivileged-client", || {
            // A user without CAP_SYS_ADMIN who may open the node (a node of its own) uses
            // it fully, and is refused what needs privileges or a master.
            let path = "/tmp/accel-unprivileged";
            private_node(path, NOBODY, 0o600).map_err(|e| igt::fail!("{e}"))?;
            let r = in_child(|| {
                become_nobody()?;
                let f = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(path)
                    .map_err(|e| format!("open as uid {NOBODY}: {e}"))?;
                let dev = gaudi::Device::open(path).map_err(|e| format!("open: {e}"))?;
                let v = dev.version().map_err(|e| format!("version: {e}"))?;
                want("driver name", i32::from(v.name != gaudi::DRIVER_NAME), 0)?;
                let bo = dev
                    .gem_create(8192, 0)
                    .map_err(|e| format!("GEM_CREATE: {e}"))?;
                let m = dev.map_bo(&bo).map_err(|e| format!("mmap: {e}"))?;
                m.write(0, b"nobody").map_err(|e| format!("write: {e}"))?;
                let ctx = dev
                    .ctx_create(gaudi::Priority::Normal)
                    .map_err(|e| format!("CTX_CREATE: {e}"))?;
                dev.ctx_destroy(ctx)
                    .map_err(|e| format!("CTX_DESTROY: {e}"))?;
                let s =
                    gaudi::syncobj::create(dev.as_fd(), 1).map_err(|e| format!("syncobj: {e}"))?;
                gaudi::syncobj::destroy(dev.as_fd(), s).map_err(|e| format!("syncobj: {e}"))?;
                let mut none = 0u8;
                want(
                    "SET_MASTER",
                    ioctl_errno(f.as_fd(), SET_MASTER, &mut none),
                    libc::EACCES,
                )?;
                want(
                    "DROP_MASTER",
                    ioctl_errno(f.as_fd(), DROP_MASTER, &mut none),
                    libc::EACCES,
                )?;
                let mut u = DrmUnique::default();
                want(
                    "GET_UNIQUE",
                    ioctl_errno(f.as_fd(), GET_UNIQUE, &mut u),
                    libc::EOPNOTSUPP,
                )?;
                // GEM_FLINK needs an authenticated client: root, on an accel node.
                let mut flink = [bo.handle, 0u32];
                let req = ioc(RW, DRM, 0x0a, 8);
                want(
                    "GEM_FLINK",
                    ioctl_errno(dev.as_fd(), req, &mut flink),
                    libc::EACCES,
                )?;
                Ok(())
            });
            let _ = std::fs::remove_file(path);
            r.map_err(|e| igt::fail!("{e}"))
        });

        t.subtest("no-access", || {
            // A user who may not open the node is refused at open(): the node itself
            // (root's, 0600) and a private node of root's.
            let path = "/tmp/accel-root-only";
            private_node(path, 0, 0o600).map_err(|e| igt::fail!("{e}"))?;
            let node = device_path();
            let r = in_child(|| {
                become_nobody()?;
                for p in [std::path::Path::new(path), node.as_path()] {
                    match std::fs::OpenOptions::new().read(true).write(true).open(p) {
                        Ok(_) => return Err(format!("uid {NOBODY} opened {}", p.display())),
                        Err(e) => want(
                            &format!("open {}", p.display()),
                            e.raw_os_error().unwrap_or(0),
                            libc::EACCES,
                        )?,
                    }
                }
                Ok(())
            });
            let _ = std::fs::remove_file(path);
            r.map_err(|e| igt::fail!("{e}"))
        });
    })
}
