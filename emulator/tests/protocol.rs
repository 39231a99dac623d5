// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Plays QEMU against a running `gaudi-emu`: handshake, doorbell, DMA and interrupt.

use std::{
    io::{BufRead, BufReader},
    os::fd::{AsRawFd, OwnedFd},
    os::unix::net::UnixStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use gaudi_emu::{ivshmem, mem::Mapping, regs};

struct Emu {
    child: Child,
    dir: PathBuf,
}

impl Drop for Emu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(devices: usize) -> Emu {
    let dir = std::env::temp_dir().join(format!("gaudi-emu-it-{}-{devices}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ram = dir.join("ram");
    std::fs::File::create(&ram).unwrap().set_len(1 << 20).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gaudi-emu"));
    cmd.arg("--guest-ram").arg(&ram).args(["--shm-size", "4M"]);
    for i in 0..devices {
        cmd.arg("--device").arg(dir.join(format!("dev{i}.sock")));
    }
    let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "gaudi-emu: ready");
    Emu { child, dir }
}

struct Qemu {
    _sock: UnixStream,
    shm: Mapping,
    doorbells: Vec<OwnedFd>,
    interrupts: Vec<OwnedFd>,
    own_id: i64,
}

fn connect(emu: &Emu, dev: usize) -> Qemu {
    let sock = UnixStream::connect(emu.dir.join(format!("dev{dev}.sock"))).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let (version, fd) = ivshmem::recv_msg(&sock).unwrap();
    assert_eq!((version, fd.is_none()), (0, true));
    let (own_id, fd) = ivshmem::recv_msg(&sock).unwrap();
    assert!(own_id >= 0 && fd.is_none());
    let (marker, shm_fd) = ivshmem::recv_msg(&sock).unwrap();
    assert_eq!(marker, -1);
    let shm = Mapping::new(&shm_fd.expect("shared memory fd"), 4 << 20).unwrap();
    let mut doorbells = Vec::new();
    let mut interrupts = Vec::new();
    for _ in 0..8 {
        let (peer, fd) = ivshmem::recv_msg(&sock).unwrap();
        let fd = fd.expect("eventfd");
        if peer == own_id {
            interrupts.push(fd);
        } else {
            // The device's eventfds come first, before the client's own.
            assert!(interrupts.is_empty());
            doorbells.push(fd);
        }
    }
    assert_eq!((doorbells.len(), interrupts.len()), (4, 4));
    Qemu { _sock: sock, shm, doorbells, interrupts, own_id }
}

fn wait_readable(fd: &OwnedFd, ms: i32) -> bool {
    let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: One valid pollfd.
    unsafe { libc::poll(&mut p, 1, ms) == 1 }
}

#[test]
fn handshake_selftest_interrupt() {
    let emu = start(2);
    for dev in 0..2 {
        let q = connect(&emu, dev);
        assert_eq!(q.shm.read64(regs::SIGNATURE), u64::from_le_bytes(*b"GAUDIEMU"));
        assert_eq!(q.shm.read32(regs::INSTANCE), dev as u32);
        assert_ne!(i64::from(q.shm.read32(regs::DOORBELL_PEER)), q.own_id);
        assert_eq!(q.shm.read32(regs::STATUS), regs::STATUS_READY);

        let addr = 0x2000 + 8 * dev as u64;
        q.shm.write64(regs::SELFTEST_ADDR, addr);
        q.shm.write64(regs::SELFTEST_PATTERN, 0xdead_beef_0000_0001);
        q.shm.write32(regs::SELFTEST_CTRL, regs::SELFTEST_CTRL_START);
        ivshmem::notify(&q.doorbells[0]).unwrap();
        assert!(wait_readable(&q.interrupts[0], 5000), "no interrupt");
        assert_eq!(ivshmem::drain(&q.interrupts[0]).unwrap(), 1);
        assert_eq!(q.shm.read32(regs::SELFTEST_STATUS), regs::SELFTEST_STATUS_DONE);
        let ram = std::fs::read(emu.dir.join("ram")).unwrap();
        let a = addr as usize;
        assert_eq!(u64::from_le_bytes(ram[a..a + 8].try_into().unwrap()), !0xdead_beef_0000_0001);
        // No other vector fired.
        for v in 1..4 {
            assert!(!wait_readable(&q.interrupts[v], 0));
        }
    }
}

#[test]
fn reconnect_resets_device() {
    let emu = start(1);
    {
        let q = connect(&emu, 0);
        q.shm.write64(regs::SELFTEST_PATTERN, 42);
        // A second client is refused while the first is attached.
        let second = UnixStream::connect(emu.dir.join("dev0.sock")).unwrap();
        second.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert!(ivshmem::recv_msg(&second).is_err());
    }
    // Give the emulator a moment to see the hang-up.
    std::thread::sleep(Duration::from_millis(500));
    let q = connect(&emu, 0);
    assert_eq!(q.shm.read64(regs::SELFTEST_PATTERN), 0);
    assert_eq!(q.shm.read64(regs::SIGNATURE), u64::from_le_bytes(*b"GAUDIEMU"));
}

#[test]
fn dma_outside_guest_ram_fails() {
    let emu = start(1);
    let q = connect(&emu, 0);
    q.shm.write64(regs::SELFTEST_ADDR, 1 << 20);
    q.shm.write32(regs::SELFTEST_CTRL, regs::SELFTEST_CTRL_START);
    ivshmem::notify(&q.doorbells[0]).unwrap();
    assert!(wait_readable(&q.interrupts[0], 5000));
    assert_eq!(q.shm.read32(regs::SELFTEST_STATUS), regs::SELFTEST_STATUS_ERR_DMA);
}
