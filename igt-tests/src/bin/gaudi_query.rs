// SPDX-License-Identifier: GPL-2.0 OR MIT

//! `DRM_IOCTL_GAUDI_QUERY`: results, the size protocol, and hostile arguments.

use std::os::fd::AsFd;

use accel_igt::{ioc, ioctl_errno, ioctl_ptr_errno, open_device, unmapped_address, Mapping};
use gaudi::uapi::{self, drm_gaudi_device_info, drm_gaudi_memory_info, drm_gaudi_query};

const INFO_SIZE: usize = std::mem::size_of::<drm_gaudi_device_info>();
const QUERY: u32 = uapi::DRM_IOCTL_GAUDI_QUERY;

fn query(buf: &mut [u8], size: u32) -> drm_gaudi_query {
    drm_gaudi_query {
        type_: uapi::DRM_GAUDI_QUERY_DEVICE_INFO,
        size,
        pointer: buf.as_mut_ptr() as u64,
        ..Default::default()
    }
}

fn main() {
    igt::main(|t| {
        let dev = open_device().ok();
        let dev = || {
            dev.as_ref()
                .ok_or_else(|| igt::fail!("cannot open {}", accel_igt::device_path().display()))
        };

        t.subtest("device-info", || {
            let dev = dev()?;
            let info = dev.device_info().map_err(|e| igt::fail!("query: {e}"))?;
            igt::assert_eq!(info.device_id, 1);
            // Interface 2.0: hardware queues, MMU, engines (Documentation/device-spec.rst).
            igt::assert_eq!(info.hw_version >> 16, 2);
            igt::assert_eq!(info.num_queues, 4);
            igt::assert!(info.dram_size >= 1 << 20);
            igt::assert_eq!(info.pci_vendor, 0x1af4);
            igt::assert_eq!(info.pci_device, 0x1110);
            igt::assert_eq!(info.selftest_passed, 1);
            igt::assert_eq!(info.pad, 0);
            // The bus/devfn must name the PCI function sysfs shows for this node.
            let addr = dev.pci_address().map_err(|e| igt::fail!("sysfs: {e}"))?;
            let want = format!(
                "{:02x}:{:02x}.{}",
                info.pci_bdf >> 8,
                (info.pci_bdf >> 3) & 0x1f,
                info.pci_bdf & 7
            );
            igt::assert!(addr.ends_with(&want), "{addr} vs {want}");
            Ok(())
        });

        t.subtest("size-only", || {
            let dev = dev()?;
            let mut q = drm_gaudi_query {
                type_: uapi::DRM_GAUDI_QUERY_DEVICE_INFO,
                ..Default::default()
            };
            igt::assert_eq!(ioctl_errno(dev.as_fd(), QUERY, &mut q), 0);
            igt::assert_eq!(q.size as usize, INFO_SIZE);
            Ok(())
        });

        t.subtest("memory-info", || {
            let dev = dev()?;
            let mut q = drm_gaudi_query {
                type_: uapi::DRM_GAUDI_QUERY_MEMORY,
                ..Default::default()
            };
            igt::assert_eq!(ioctl_errno(dev.as_fd(), QUERY, &mut q), 0);
            igt::assert_eq!(
                q.size as usize,
                std::mem::size_of::<drm_gaudi_memory_info>()
            );
            let info = dev
                .device_info()
                .map_err(|e| igt::fail!("device info: {e}"))?;
            let mem = dev
                .memory_info()
                .map_err(|e| igt::fail!("memory info: {e}"))?;
            let page = accel_igt::page_size() as u64;
            igt::assert!(
                mem.dram_size > 0 && mem.dram_size <= info.dram_size,
                "{mem:?} vs {info:?}"
            );
            igt::assert_eq!(mem.dram_size % page, 0);
            igt::assert!(mem.dram_free <= mem.dram_size);
            igt::assert_eq!(mem.dram_free % page, 0);
            igt::assert_eq!(mem.bo_bytes % page, 0);
            igt::assert!(mem.bo_bytes >= mem.bo_count * page, "{mem:?}");
            // Device objects are objects too.
            igt::assert!(mem.bo_bytes >= mem.dram_size - mem.dram_free, "{mem:?}");
            // A short buffer gets the start of the result.
            let mut buf = [0xaau8; 16];
            let mut q = drm_gaudi_query {
                type_: uapi::DRM_GAUDI_QUERY_MEMORY,
                size: 8,
                pointer: buf.as_mut_ptr() as u64,
                ..Default::default()
            };
            igt::assert_eq!(ioctl_errno(dev.as_fd(), QUERY, &mut q), 0);
            igt::assert_eq!(q.size, 8);
            igt::assert_eq!(
                u64::from_le_bytes(buf[..8].try_into().unwrap_or_default()),
                mem.dram_size
            );
            igt::assert!(
                buf[8..].iter().all(|b| *b == 0xaa),
                "wrote past the given size"
            );
            Ok(())
        });

        t.subtest("short-buffer", || {
            let dev = dev()?;
            let mut full = [0u8; INFO_SIZE];
            let mut q = query(&mut full, INFO_SIZE as u32);
            igt::assert_eq!(ioctl_errno(dev.as_fd(), QUERY, &mut q), 0);
            let mut buf = [0xaau8; INFO_SIZE];
            let mut q = query(&mut buf, 8);
            igt::assert_eq!(ioctl_errno(dev.as_fd(), QUERY, &mut q), 0);
            igt::assert_eq!(q.size, 8);
            igt::assert!(buf[..8] == full[..8]);
            igt::assert!(
                buf[8..].iter().all(|b| *b == 0xaa),
                "wrote past the given size"
            );
            Ok(())
        });

        t.subtest("long-buffer", || {
            let dev = dev()?;
            let mut buf = [0xaau8; 2 * INFO_SIZE];
            let len = buf.len() as u32;
            let mut q = query(&mut buf, len);
            igt::assert_eq!(ioctl_errno(dev.as_fd(), QUERY, &mut q), 0);
            igt::assert_eq!(q.size as usize, INFO_SIZE);
            igt::assert!(
                buf[INFO_SIZE..].iter().all(|b| *b == 0xaa),
                "wrote past the result"
            );
            Ok(())
        });

        t.subtest("unknown-type", || {
            let dev = dev()?;
            let mut buf = [0u8; INFO_SIZE];
            for ty in [uapi::DRM_GAUDI_QUERY_HEALTH + 1, 0x100, u32::MAX] {
                let mut q = query(&mut buf, INFO_SIZE as u32);
                q.type_ = ty;
                igt::assert_eq!(
                    ioctl_errno(dev.as_fd(), QUERY, &mut q),
                    libc::EINVAL,
                    "type {ty:#x}"
                );
            }
            Ok(())
        });

        t.subtest("nonzero-flags", || {
            let dev = dev()?;
            let mut buf = [0u8; INFO_SIZE];
            for bit in 0..32 {
                let mut q = query(&mut buf, INFO_SIZE as u32);
                q.flags = 1 << bit;
                igt::assert_eq!(
                    ioctl_errno(dev.as_fd(), QUERY, &mut q),
                    libc::EINVAL,
                    "flag bit {bit}"
                );
            }
            Ok(())
        });

        t.subtest("nonzero-pad", || {
            let dev = dev()?;
            let mut buf = [0u8; INFO_SIZE];
            for pad in [1, 0x8000_0000, u32::MAX] {
                let mut q = query(&mut buf, INFO_SIZE as u32);
                q.pad = pad;
                igt::assert_eq!(ioctl_errno(dev.as_fd(), QUERY, &mut q), libc::EINVAL);
            }
            Ok(())
        });

        t.subtest("bad-result-pointers", || {
            let dev = dev()?;
            let unmapped = unmapped_address(4096).map_err(|e| igt::fail!("mmap: {e}"))?;
            let readonly =
                Mapping::anonymous(4096, libc::PROT_READ).map_err(|e| igt::fail!("mmap: {e}"))?;
            for (what, ptr) in [
                ("NULL", 0u64),
                ("unmapped", unmapped as u64),
                ("read-only", readonly.as_ptr() as u64),
                ("kernel", 0xffff_8000_0000_0000),
                ("non-canonical", 0x8000_0000_0000_0000),
                ("end of address space", u64::MAX - 8),
            ] {
                let mut q = drm_gaudi_query {
                    type_: uapi::DRM_GAUDI_QUERY_DEVICE_INFO,
                    size: INFO_SIZE as u32,
                    pointer: ptr,
                    ..Default::default()
                };
                igt::assert_eq!(
                    ioctl_errno(dev.as_fd(), QUERY, &mut q),
                    libc::EFAULT,
                    "{what} pointer"
                );
            }
            Ok(())
        });

        t.subtest("bad-argument-pointers", || {
            let dev = dev()?;
            let unmapped = unmapped_address(4096).map_err(|e| igt::fail!("mmap: {e}"))?;
            let readonly =
                Mapping::anonymous(4096, libc::PROT_READ).map_err(|e| igt::fail!("mmap: {e}"))?;
            igt::assert_eq!(ioctl_ptr_errno(dev.as_fd(), QUERY, 0), libc::EFAULT);
            igt::assert_eq!(ioctl_ptr_errno(dev.as_fd(), QUERY, unmapped), libc::EFAULT);
            // Readable but not writable: the kernel reads the query, then fails to write it back.
            igt::assert_eq!(
                ioctl_ptr_errno(dev.as_fd(), QUERY, readonly.as_ptr() as usize),
                libc::EFAULT
            );
            Ok(())
        });

        t.subtest("argument-sizes", || {
            let dev = dev()?;
            // An older, shorter struct: the missing fields read as zero.
            let mut buf = [0u8; INFO_SIZE];
            let mut q = query(&mut buf, INFO_SIZE as u32);
            let req = ioc(
                uapi::IOC_READ_WRITE,
                uapi::DRM_IOCTL_BASE,
                uapi::DRM_COMMAND_BASE,
                16,
            );
            igt::assert_eq!(ioctl_errno(dev.as_fd(), req, &mut q), 0);
            igt::assert_eq!(q.size as usize, INFO_SIZE);
            // A longer struct: the tail is ignored and preserved.
            #[repr(C)]
            struct Longer {
                q: drm_gaudi_query,
                tail: [u64; 4],
            }
            let mut l = Longer {
                q: query(&mut buf, INFO_SIZE as u32),
                tail: [u64::MAX; 4],
            };
            let req = ioc(
                uapi::IOC_READ_WRITE,
                uapi::DRM_IOCTL_BASE,
                uapi::DRM_COMMAND_BASE,
                std::mem::size_of::<Longer>(),
            );
            igt::assert_eq!(ioctl_errno(dev.as_fd(), req, &mut l), 0);
            igt::assert_eq!(l.tail, [u64::MAX; 4]);
            // Without the write direction the kernel sees an all-zero query: a size query.
            let mut q = query(&mut buf, INFO_SIZE as u32);
            let req = ioc(2, uapi::DRM_IOCTL_BASE, uapi::DRM_COMMAND_BASE, 24);
            igt::assert_eq!(ioctl_errno(dev.as_fd(), req, &mut q), 0);
            igt::assert_eq!(q.size as usize, INFO_SIZE);
            Ok(())
        });

        t.subtest("concurrent", || {
            let path = accel_igt::device_path();
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let path = path.clone();
                    std::thread::spawn(move || -> Result<(), String> {
                        let dev = gaudi::Device::open(&path).map_err(|e| e.to_string())?;
                        let first = dev.device_info().map_err(|e| e.to_string())?;
                        for _ in 0..500 {
                            if dev.device_info().map_err(|e| e.to_string())? != first {
                                return Err("result changed".into());
                            }
                        }
                        Ok(())
                    })
                })
                .collect();
            for th in threads {
                let r = th.join().map_err(|_| igt::fail!("thread panicked"))?;
                r.map_err(|e| igt::fail!("{e}"))?;
            }
            Ok(())
        });
    })
}
