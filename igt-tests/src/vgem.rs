// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Foreign fences: vgem's fences on its buffers, and the fences of a dma-buf as a sync_file.
//!
//! vgem attaches a fence to a buffer on request (`DRM_IOCTL_VGEM_FENCE_ATTACH`) and signals it
//! on request (`DRM_IOCTL_VGEM_FENCE_SIGNAL`), or by itself after 10 s. The fence sits in the
//! reservation object of the buffer's dma-buf, where importers find it (implicit sync), and
//! `DMA_BUF_IOCTL_EXPORT_SYNC_FILE` hands it out as a sync_file (explicit sync).

use std::{
    fs::File,
    io,
    os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd},
};

use gaudi::{
    drm::{self, DRM_CLOEXEC, DRM_RDWR},
    uapi,
};

/// `struct drm_vgem_fence_attach` (`include/uapi/drm/vgem_drm.h`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct VgemFenceAttach {
    /// The buffer.
    pub handle: u32,
    /// [`VGEM_FENCE_WRITE`] or 0.
    pub flags: u32,
    /// Out: the fence's id, for [`VGEM_FENCE_SIGNAL`].
    pub out_fence: u32,
    /// Zero.
    pub pad: u32,
}

/// `struct drm_vgem_fence_signal`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct VgemFenceSignal {
    /// The fence's id.
    pub fence: u32,
    /// Zero.
    pub flags: u32,
}

/// `VGEM_FENCE_WRITE`: attach the fence as a writer.
pub const VGEM_FENCE_WRITE: u32 = 0x1;
/// `DRM_IOCTL_VGEM_FENCE_ATTACH`: `DRM_IOWR(DRM_COMMAND_BASE + 0x1, ...)`.
pub const VGEM_FENCE_ATTACH: u32 = uapi::drm_iowr::<VgemFenceAttach>(uapi::DRM_COMMAND_BASE + 0x1);
/// `DRM_IOCTL_VGEM_FENCE_SIGNAL`: `DRM_IOW(DRM_COMMAND_BASE + 0x2, ...)`.
pub const VGEM_FENCE_SIGNAL: u32 = crate::ioc(
    1,
    uapi::DRM_IOCTL_BASE,
    uapi::DRM_COMMAND_BASE + 0x2,
    std::mem::size_of::<VgemFenceSignal>(),
);

/// `struct dma_buf_export_sync_file` (`include/uapi/linux/dma-buf.h`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct DmaBufExportSyncFile {
    /// `DMA_BUF_SYNC_*`.
    pub flags: u32,
    /// Out: the sync_file.
    pub fd: i32,
}

/// `DMA_BUF_IOCTL_EXPORT_SYNC_FILE`: `_IOWR('b', 2, struct dma_buf_export_sync_file)`.
pub const DMA_BUF_IOCTL_EXPORT_SYNC_FILE: u32 = crate::ioc(
    uapi::IOC_READ_WRITE,
    b'b' as u32,
    2,
    std::mem::size_of::<DmaBufExportSyncFile>(),
);
/// `DMA_BUF_SYNC_READ` for `EXPORT_SYNC_FILE`: the sync_file waits for the writers.
pub const DMA_BUF_SYNC_READ: u32 = 1;

/// A sync_file of the fences of the dma-buf `fd` (`DMA_BUF_IOCTL_EXPORT_SYNC_FILE`).
pub fn dma_buf_export_sync_file(fd: BorrowedFd<'_>, flags: u32) -> io::Result<OwnedFd> {
    let mut e = DmaBufExportSyncFile { flags, fd: -1 };
    gaudi::ioctl(fd, DMA_BUF_IOCTL_EXPORT_SYNC_FILE, &mut e)?;
    if e.fd < 0 {
        return Err(io::Error::from_raw_os_error(libc::EPROTO));
    }
    // SAFETY: The kernel installed a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(e.fd) })
}

/// Whether the sync_file `fd` is signalled now (`poll()` with `POLLIN` and no timeout).
pub fn sync_file_signaled(fd: BorrowedFd<'_>) -> igt::Result<bool> {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `p` is one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    igt::assert!(n >= 0, "poll: {}", io::Error::last_os_error());
    Ok(p.revents & libc::POLLIN != 0)
}

/// A vgem buffer with an unsignalled write fence attached, and its dma-buf.
pub struct FencedBuffer {
    /// The vgem file.
    pub vgem: File,
    /// The dumb buffer.
    pub dumb: drm::Dumb,
    /// Its dma-buf.
    pub dma_buf: OwnedFd,
    /// The fence's id.
    pub fence: u32,
}

impl FencedBuffer {
    /// Creates a vgem buffer of at least `size` bytes, exports it and attaches a write
    /// fence. vgem signals the fence by itself 10 s later: what depends on it must be done
    /// well before.
    pub fn new(vgem: File, size: u64) -> igt::Result<Self> {
        let dumb = crate::ok!(drm::create_dumb_bytes(vgem.as_fd(), size));
        let dma_buf = crate::ok!(drm::prime_handle_to_fd(
            vgem.as_fd(),
            dumb.handle,
            DRM_CLOEXEC | DRM_RDWR
        ));
        let mut attach = VgemFenceAttach {
            handle: dumb.handle,
            flags: VGEM_FENCE_WRITE,
            ..Default::default()
        };
        crate::ok!(gaudi::ioctl(vgem.as_fd(), VGEM_FENCE_ATTACH, &mut attach));
        Ok(Self {
            vgem,
            dumb,
            dma_buf,
            fence: attach.out_fence,
        })
    }

    /// Signals the fence; fails if vgem had signalled it already (it took too long).
    pub fn signal(&self) -> igt::Result {
        let mut sig = VgemFenceSignal {
            fence: self.fence,
            flags: 0,
        };
        let e = crate::ioctl_errno(self.vgem.as_fd(), VGEM_FENCE_SIGNAL, &mut sig);
        igt::assert!(e != libc::ETIMEDOUT, "vgem's fence expired by itself");
        igt::assert_eq!(e, 0, "DRM_IOCTL_VGEM_FENCE_SIGNAL");
        Ok(())
    }

    /// The fence as a sync_file.
    pub fn sync_file(&self) -> igt::Result<OwnedFd> {
        Ok(crate::ok!(dma_buf_export_sync_file(
            self.dma_buf.as_fd(),
            DMA_BUF_SYNC_READ
        )))
    }
}

impl Drop for FencedBuffer {
    fn drop(&mut self) {
        let mut sig = VgemFenceSignal {
            fence: self.fence,
            flags: 0,
        };
        let _ = crate::ioctl_errno(self.vgem.as_fd(), VGEM_FENCE_SIGNAL, &mut sig);
        let _ = drm::gem_close(self.vgem.as_fd(), self.dumb.handle);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreign_request_numbers() {
        // vgem_drm.h and dma-buf.h.
        assert_eq!(std::mem::size_of::<VgemFenceAttach>(), 16);
        assert_eq!(std::mem::size_of::<VgemFenceSignal>(), 8);
        assert_eq!(VGEM_FENCE_ATTACH, 0xc010_6441);
        assert_eq!(VGEM_FENCE_SIGNAL, 0x4008_6442);
        assert_eq!(std::mem::size_of::<DmaBufExportSyncFile>(), 8);
        assert_eq!(DMA_BUF_IOCTL_EXPORT_SYNC_FILE, 0xc008_6202);
    }

    #[test]
    fn poll_readiness() {
        let mut p = [0i32; 2];
        // SAFETY: `p` is a valid array of two ints for pipe to fill.
        assert_eq!(unsafe { libc::pipe(p.as_mut_ptr()) }, 0);
        // SAFETY: pipe returned two new descriptors that nothing else owns.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
        assert!(!sync_file_signaled(r.as_fd()).unwrap());
        let mut w = File::from(w);
        std::io::Write::write_all(&mut w, b"x").unwrap();
        assert!(sync_file_signaled(r.as_fd()).unwrap());
    }
}
