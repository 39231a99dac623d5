// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The device model: register file, doorbells and interrupts of one Gaudi-class device.

use std::{
    io,
    os::fd::{AsRawFd, OwnedFd},
    os::unix::net::UnixStream,
};

use crate::{
    ivshmem,
    mem::{GuestRam, Mapping},
    regs,
};

/// ivshmem peer id of the device (the emulator side).
pub const DEVICE_PEER: i64 = 0;
/// ivshmem peer id given to the QEMU client.
pub const CLIENT_PEER: i64 = 1;

/// The QEMU process attached to a device.
pub struct Client {
    pub sock: UnixStream,
    /// Eventfds the guest's doorbell writes to, one per vector.
    pub doorbells: Vec<OwnedFd>,
    /// Eventfds that inject the client's MSI-X vectors.
    pub interrupts: Vec<OwnedFd>,
}

/// One emulated device.
pub struct Device {
    pub instance: u32,
    pub vectors: usize,
    pub shm_fd: OwnedFd,
    pub shm: Mapping,
    pub client: Option<Client>,
}

impl Device {
    /// Creates device `instance` with a shared region of `shm_size` bytes.
    pub fn new(instance: u32, shm_size: usize, vectors: usize) -> io::Result<Self> {
        if shm_size <= regs::DRAM_OFFSET_VALUE as usize || vectors == 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let shm_fd = crate::mem::memfd(&format!("gaudi-emu{instance}"), shm_size)?;
        let shm = Mapping::new(&shm_fd, shm_size)?;
        Ok(Self { instance, vectors, shm_fd, shm, client: None })
    }

    /// Initialises the register file as the device does at reset.
    pub fn reset(&self) {
        for off in (0..regs::REGS_SIZE).step_by(4) {
            self.shm.write32(off, 0);
        }
        self.shm.write64(regs::SIGNATURE, regs::SIGNATURE_VALUE);
        self.shm.write32(regs::VERSION, regs::VERSION_VALUE);
        self.shm.write32(regs::DOORBELL_PEER, DEVICE_PEER as u32);
        self.shm.write32(regs::DEVICE_ID, regs::DEVICE_ID_VALUE);
        self.shm.write32(regs::REVISION, regs::REVISION_VALUE);
        self.shm.write32(regs::NUM_QUEUES, regs::NUM_QUEUES_VALUE);
        self.shm.write32(regs::NUM_VECTORS, self.vectors as u32);
        self.shm.write64(regs::DRAM_OFFSET, regs::DRAM_OFFSET_VALUE);
        self.shm.write64(regs::DRAM_SIZE, self.shm.len() as u64 - regs::DRAM_OFFSET_VALUE);
        self.shm.write32(regs::INSTANCE, self.instance);
        self.shm.write32(regs::STATUS, regs::STATUS_READY);
    }

    /// Attaches a new QEMU client: resets the device and sends the ivshmem handshake.
    pub fn attach(&mut self, sock: UnixStream) -> io::Result<()> {
        let mut doorbells = Vec::with_capacity(self.vectors);
        let mut interrupts = Vec::with_capacity(self.vectors);
        for _ in 0..self.vectors {
            doorbells.push(ivshmem::eventfd()?);
            interrupts.push(ivshmem::eventfd()?);
        }
        self.reset();
        ivshmem::send_msg(&sock, ivshmem::PROTOCOL_VERSION, None)?;
        ivshmem::send_msg(&sock, CLIENT_PEER, None)?;
        ivshmem::send_msg(&sock, -1, Some(self.shm_fd.as_raw_fd()))?;
        for fd in &doorbells {
            ivshmem::send_msg(&sock, DEVICE_PEER, Some(fd.as_raw_fd()))?;
        }
        for fd in &interrupts {
            ivshmem::send_msg(&sock, CLIENT_PEER, Some(fd.as_raw_fd()))?;
        }
        self.client = Some(Client { sock, doorbells, interrupts });
        Ok(())
    }

    /// Drops the client: its eventfds are closed, the socket stays with the listener.
    pub fn detach(&mut self) {
        self.client = None;
    }

    /// Raises interrupt `vector` of the client, if one is attached.
    pub fn raise(&self, vector: usize) -> io::Result<()> {
        match self.client.as_ref().and_then(|c| c.interrupts.get(vector)) {
            Some(fd) => ivshmem::notify(fd),
            None => Ok(()),
        }
    }

    /// Handles a ring of doorbell `vector`; returns the interrupts to raise.
    pub fn handle_doorbell(&mut self, vector: usize, ram: &mut GuestRam) -> Vec<usize> {
        let mut irqs = Vec::new();
        if vector == regs::VECTOR_CONTROL {
            self.shm.inc32(regs::DOORBELL_COUNT);
            if self.selftest(ram) {
                irqs.push(regs::VECTOR_CONTROL);
            }
        } else {
            eprintln!("gaudi-emu{}: doorbell {vector} has no queue yet", self.instance);
        }
        irqs
    }

    /// Runs a pending self-test request; returns whether one was handled.
    pub fn selftest(&mut self, ram: &mut GuestRam) -> bool {
        if self.shm.read32(regs::SELFTEST_CTRL) != regs::SELFTEST_CTRL_START {
            return false;
        }
        self.shm.write32(regs::SELFTEST_CTRL, 0);
        self.shm.write32(regs::SELFTEST_STATUS, regs::SELFTEST_STATUS_BUSY);
        let addr = self.shm.read64(regs::SELFTEST_ADDR);
        let value = !self.shm.read64(regs::SELFTEST_PATTERN);
        let status = match ram.write(addr, &value.to_le_bytes()) {
            Ok(()) => regs::SELFTEST_STATUS_DONE,
            Err(e) => {
                eprintln!("gaudi-emu{}: self-test DMA to {addr:#x} failed: {e}", self.instance);
                regs::SELFTEST_STATUS_ERR_DMA
            }
        };
        self.shm.write32(regs::SELFTEST_STATUS, status);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ram_file(len: usize) -> (tempfile::TempPath, GuestRam) {
        let path = tempfile::path(len);
        let ram = GuestRam::new(&path.0);
        (path, ram)
    }

    /// Minimal temporary files without extra dependencies.
    mod tempfile {
        pub struct TempPath(pub std::path::PathBuf);
        impl Drop for TempPath {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
        pub fn path(len: usize) -> TempPath {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let p = std::env::temp_dir().join(format!(
                "gaudi-emu-test-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let f = std::fs::File::create(&p).unwrap();
            f.set_len(len as u64).unwrap();
            TempPath(p)
        }
    }

    #[test]
    fn reset_publishes_identity() {
        let dev = Device::new(3, 4 << 20, 4).unwrap();
        dev.reset();
        assert_eq!(dev.shm.read64(regs::SIGNATURE), u64::from_le_bytes(*b"GAUDIEMU"));
        assert_eq!(dev.shm.read32(regs::VERSION), 0x0001_0000);
        assert_eq!(dev.shm.read32(regs::INSTANCE), 3);
        assert_eq!(dev.shm.read32(regs::NUM_VECTORS), 4);
        assert_eq!(dev.shm.read64(regs::DRAM_OFFSET), 1 << 20);
        assert_eq!(dev.shm.read64(regs::DRAM_SIZE), 3 << 20);
        assert_eq!(dev.shm.read32(regs::STATUS), regs::STATUS_READY);
    }

    #[test]
    fn selftest_writes_complement() {
        let mut dev = Device::new(0, 2 << 20, 1).unwrap();
        dev.reset();
        let (path, mut ram) = ram_file(1 << 16);
        dev.shm.write64(regs::SELFTEST_ADDR, 0x1008);
        dev.shm.write64(regs::SELFTEST_PATTERN, 0x0123_4567_89ab_cdef);
        dev.shm.write32(regs::SELFTEST_CTRL, regs::SELFTEST_CTRL_START);
        assert_eq!(dev.handle_doorbell(0, &mut ram), vec![0]);
        assert_eq!(dev.shm.read32(regs::SELFTEST_STATUS), regs::SELFTEST_STATUS_DONE);
        assert_eq!(dev.shm.read32(regs::SELFTEST_CTRL), 0);
        assert_eq!(dev.shm.read32(regs::DOORBELL_COUNT), 1);
        let bytes = std::fs::read(&path.0).unwrap();
        let got = u64::from_le_bytes(bytes[0x1008..0x1010].try_into().unwrap());
        assert_eq!(got, !0x0123_4567_89ab_cdef);
        assert!(bytes[..0x1008].iter().all(|b| *b == 0));
        // A second doorbell without a new request does nothing.
        assert!(dev.handle_doorbell(0, &mut ram).is_empty());
    }

    #[test]
    fn selftest_out_of_ram_fails() {
        let mut dev = Device::new(0, 2 << 20, 1).unwrap();
        dev.reset();
        let (_path, mut ram) = ram_file(1 << 16);
        for addr in [1 << 16, (1 << 16) - 4, u64::MAX - 3] {
            dev.shm.write64(regs::SELFTEST_ADDR, addr);
            dev.shm.write32(regs::SELFTEST_CTRL, regs::SELFTEST_CTRL_START);
            assert_eq!(dev.handle_doorbell(0, &mut ram), vec![0]);
            assert_eq!(dev.shm.read32(regs::SELFTEST_STATUS), regs::SELFTEST_STATUS_ERR_DMA);
        }
    }

    #[test]
    fn missing_guest_ram_fails_dma() {
        let mut dev = Device::new(0, 2 << 20, 1).unwrap();
        dev.reset();
        let mut ram = GuestRam::new(std::path::Path::new("/nonexistent/gaudi-emu-ram"));
        dev.shm.write32(regs::SELFTEST_CTRL, regs::SELFTEST_CTRL_START);
        dev.handle_doorbell(0, &mut ram);
        assert_eq!(dev.shm.read32(regs::SELFTEST_STATUS), regs::SELFTEST_STATUS_ERR_DMA);
    }
}
