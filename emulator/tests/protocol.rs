// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Plays QEMU against a running `gaudi-emu`: handshake, doorbell, DMA and interrupt, client
//! life cycle, shutdown.

use std::{
    io::{BufRead, BufReader, Write},
    os::fd::{AsFd, AsRawFd, OwnedFd},
    os::unix::net::UnixStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use gaudi_emu::{hw::regs, ivshmem, mem::Mapping};
use rustix::event::{PollFd, PollFlags, Timespec};

const SHM_SIZE: usize = 4 << 20;
const VECTORS: usize = 8;
const RAM_SIZE: u64 = 1 << 20;

struct Emu {
    child: Child,
    dir: PathBuf,
}

impl Drop for Emu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.join("emu.log")).unwrap_or_default();
            eprintln!("--- gaudi-emu log ---\n{log}---");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Emu {
    fn sock(&self, dev: usize) -> PathBuf {
        self.dir.join(format!("dev{dev}.sock"))
    }

    fn ram(&self) -> PathBuf {
        self.dir.join("ram")
    }
}

fn temp_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "gaudi-emu-it-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn emu_command(dir: &Path, devices: usize) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gaudi-emu"));
    cmd.arg("--guest-ram").arg(dir.join("ram"));
    cmd.args([
        "--shm-size",
        &SHM_SIZE.to_string(),
        "--vectors",
        &VECTORS.to_string(),
    ]);
    for i in 0..devices {
        cmd.arg("--device").arg(dir.join(format!("dev{i}.sock")));
    }
    cmd.stdout(Stdio::piped());
    cmd.stderr(std::fs::File::create(dir.join("emu.log")).unwrap());
    cmd
}

/// Starts the emulator with `devices` devices, with a guest RAM file unless `no_ram`.
fn start_with(devices: usize, no_ram: bool) -> Emu {
    let dir = temp_dir();
    if !no_ram {
        std::fs::File::create(dir.join("ram"))
            .unwrap()
            .set_len(RAM_SIZE)
            .unwrap();
    }
    let mut child = emu_command(&dir, devices).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "gaudi-emu: ready\n");
    for i in 0..devices {
        assert!(dir.join(format!("dev{i}.sock")).exists());
    }
    Emu { child, dir }
}

fn start(devices: usize) -> Emu {
    start_with(devices, false)
}

/// QEMU's side of one device.
struct Qemu {
    sock: UnixStream,
    shm: Mapping,
    shm_fd: OwnedFd,
    /// The device's eventfds: writing `doorbells[v]` is the guest ringing vector v.
    doorbells: Vec<OwnedFd>,
    /// Our own eventfds: the device writes `interrupts[v]` to raise MSI-X vector v.
    interrupts: Vec<OwnedFd>,
    own_id: i64,
    device_id: i64,
}

fn fd_target(fd: &OwnedFd) -> String {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn readable(fd: &impl AsFd, ms: i32) -> bool {
    let mut p = [PollFd::new(fd, PollFlags::IN)];
    let timeout = Timespec::try_from(Duration::from_millis(ms as u64)).unwrap();
    rustix::event::poll(&mut p, Some(&timeout)) == Ok(1)
}

/// Connects to device `dev` and checks the handshake message by message, as QEMU's
/// `ivshmem_recv_setup` and `process_msg` consume it.
fn connect_path(path: &Path) -> Qemu {
    let sock = UnixStream::connect(path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let recv = || ivshmem::recv_msg(&sock).expect("handshake message");

    // 1. Protocol version 0, no fd.
    let (version, fd) = recv();
    assert_eq!((version, fd.is_none()), (0, true), "version message");
    // 2. Our peer id, no fd.
    let (own_id, fd) = recv();
    assert!(fd.is_none(), "id message carries an fd");
    assert!((0..=0xffff).contains(&own_id));
    // 3. -1 with the shared memory.
    let (marker, shm_fd) = recv();
    assert_eq!(marker, -1, "shared memory message");
    let shm_fd = shm_fd.expect("shared memory fd");
    assert!(
        fd_target(&shm_fd).starts_with("/memfd:gaudi-emu"),
        "{}",
        fd_target(&shm_fd)
    );
    let size = rustix::fs::fstat(&shm_fd).unwrap().st_size as usize;
    assert_eq!(size, SHM_SIZE);
    let shm = Mapping::new(&shm_fd, size).unwrap();

    // 4. The device's peer id once per vector, with one eventfd each.
    let mut doorbells = Vec::new();
    let mut device_id = None;
    for v in 0..VECTORS {
        let (peer, fd) = recv();
        let fd = fd.unwrap_or_else(|| panic!("doorbell {v} without fd"));
        assert_ne!(
            peer, own_id,
            "own eventfds before the device's (vector {v})"
        );
        assert_eq!(
            *device_id.get_or_insert(peer),
            peer,
            "device peer id changed"
        );
        assert_eq!(fd_target(&fd), "anon_inode:[eventfd]");
        doorbells.push(fd);
    }
    // 5. Our own id once per vector, with one eventfd each.
    let mut interrupts = Vec::new();
    for v in 0..VECTORS {
        let (peer, fd) = recv();
        let fd = fd.unwrap_or_else(|| panic!("interrupt {v} without fd"));
        assert_eq!(peer, own_id, "interrupt setup message {v}");
        assert_eq!(fd_target(&fd), "anon_inode:[eventfd]");
        interrupts.push(fd);
    }
    // Nothing more.
    assert!(
        !readable(&sock, 300),
        "unexpected message after the handshake"
    );

    Qemu {
        sock,
        shm,
        shm_fd,
        doorbells,
        interrupts,
        own_id,
        device_id: device_id.unwrap(),
    }
}

fn connect(emu: &Emu, dev: usize) -> Qemu {
    connect_path(&emu.sock(dev))
}

impl Qemu {
    /// The guest's self-test: program the control block, ring vector 0, wait for MSI-X
    /// vector 0. Returns SELFTEST_STATUS.
    fn selftest(&self, addr: u64, pattern: u64) -> u32 {
        self.shm.write64(regs::SELFTEST_ADDR, addr);
        self.shm.write64(regs::SELFTEST_PATTERN, pattern);
        self.shm
            .write32(regs::SELFTEST_STATUS, regs::SELFTEST_STATUS_IDLE);
        self.shm
            .write32(regs::SELFTEST_CTRL, regs::SELFTEST_CTRL_START);
        ivshmem::notify(&self.doorbells[0]).unwrap();
        assert!(
            readable(&self.interrupts[0], 5000),
            "no interrupt on vector 0"
        );
        assert_eq!(
            ivshmem::drain(&self.interrupts[0]).unwrap(),
            1,
            "one interrupt"
        );
        assert_eq!(self.shm.read32(regs::SELFTEST_CTRL), 0, "CTRL not cleared");
        self.shm.read32(regs::SELFTEST_STATUS)
    }

    fn no_interrupts(&self) {
        for (v, fd) in self.interrupts.iter().enumerate() {
            assert!(!readable(fd, 0), "unexpected interrupt on vector {v}");
        }
    }
}

fn ram_u64(emu: &Emu, addr: u64) -> u64 {
    let ram = std::fs::read(emu.ram()).unwrap();
    let a = addr as usize;
    u64::from_le_bytes(ram[a..a + 8].try_into().unwrap())
}

#[test]
fn handshake_selftest_interrupt() {
    let emu = start(2);
    for dev in 0..2 {
        let q = connect(&emu, dev);
        // The ids the spec and the driver rely on.
        assert_eq!((q.device_id, q.own_id), (0, 1));
        let shm = &q.shm;
        assert_eq!(
            shm.read64(regs::SIGNATURE),
            u64::from_le_bytes(*b"GAUDIEMU")
        );
        assert_eq!(shm.read32(regs::VERSION), 0x0002_0000);
        assert_eq!(i64::from(shm.read32(regs::DOORBELL_PEER)), q.device_id);
        assert_eq!(shm.read32(regs::DEVICE_ID), 1);
        assert_eq!(shm.read32(regs::REVISION), 2);
        assert_eq!(shm.read32(regs::NUM_ASIDS), 64);
        assert_eq!(shm.read32(regs::NUM_QUEUES), 4);
        assert_eq!(shm.read32(regs::NUM_VECTORS), VECTORS as u32);
        assert_eq!(shm.read64(regs::DRAM_OFFSET), 1 << 20);
        assert_eq!(shm.read64(regs::DRAM_SIZE), (SHM_SIZE - (1 << 20)) as u64);
        assert_eq!(shm.read32(regs::STATUS), regs::STATUS_READY);
        assert_eq!(shm.read32(regs::INSTANCE), dev as u32);
        assert_eq!(shm.read32(regs::DOORBELL_COUNT), 0);

        let addr = 0x2000 + 8 * dev as u64;
        assert_eq!(
            q.selftest(addr, 0xdead_beef_0000_0001),
            regs::SELFTEST_STATUS_DONE
        );
        assert_eq!(ram_u64(&emu, addr), !0xdead_beef_0000_0001);
        assert_eq!(shm.read32(regs::DOORBELL_COUNT), 1);
        q.no_interrupts();
        // Again, with another pattern at the very end of guest RAM.
        assert_eq!(q.selftest(RAM_SIZE - 8, 0x5a5a), regs::SELFTEST_STATUS_DONE);
        assert_eq!(ram_u64(&emu, RAM_SIZE - 8), !0x5a5a);
        assert_eq!(shm.read32(regs::DOORBELL_COUNT), 2);
    }
}

#[test]
fn dma_outside_guest_ram_fails() {
    let emu = start(1);
    let q = connect(&emu, 0);
    for addr in [RAM_SIZE, RAM_SIZE - 4, u64::MAX - 3] {
        assert_eq!(
            q.selftest(addr, 1),
            regs::SELFTEST_STATUS_ERR_DMA,
            "address {addr:#x}"
        );
    }
    assert!(std::fs::read(emu.ram()).unwrap().iter().all(|b| *b == 0));
    assert_eq!(std::fs::metadata(emu.ram()).unwrap().len(), RAM_SIZE);
}

#[test]
fn guest_ram_created_after_start() {
    let emu = start_with(1, true);
    let q = connect(&emu, 0);
    assert_eq!(q.selftest(0x100, 1), regs::SELFTEST_STATUS_ERR_DMA);
    std::fs::File::create(emu.ram())
        .unwrap()
        .set_len(RAM_SIZE)
        .unwrap();
    assert_eq!(q.selftest(0x100, 1), regs::SELFTEST_STATUS_DONE);
    assert_eq!(ram_u64(&emu, 0x100), !1);
}

#[test]
fn queue_doorbells_do_not_interrupt() {
    let emu = start(1);
    let q = connect(&emu, 0);
    for v in 1..VECTORS {
        ivshmem::notify(&q.doorbells[v]).unwrap();
    }
    // A control doorbell without a request: counted, no interrupt.
    ivshmem::notify(&q.doorbells[0]).unwrap();
    let t = Instant::now();
    while q.shm.read32(regs::DOORBELL_COUNT) != 1 {
        assert!(t.elapsed() < Duration::from_secs(5), "doorbell not counted");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    q.no_interrupts();
    // Still serving.
    assert_eq!(q.selftest(0, 3), regs::SELFTEST_STATUS_DONE);
    assert_eq!(q.shm.read32(regs::DOORBELL_COUNT), 2);
    q.no_interrupts();
}

#[test]
fn reconnect_resets_device() {
    let emu = start(1);
    {
        let q = connect(&emu, 0);
        q.shm.write64(regs::SELFTEST_PATTERN, 42);
        q.shm.write_bytes((1 << 20) + 64, b"device memory").unwrap();
        assert_eq!(q.selftest(8, 1), regs::SELFTEST_STATUS_DONE);
        // A second client is refused (closed) while the first is attached.
        let second = UnixStream::connect(emu.sock(0)).unwrap();
        second
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        assert!(ivshmem::recv_msg(&second).is_err());
        // The first one still works.
        assert_eq!(q.selftest(16, 2), regs::SELFTEST_STATUS_DONE);
    }
    // The emulator sees the hang-up and takes the next client, with a fresh device.
    let t = Instant::now();
    let q = loop {
        let q = connect(&emu, 0);
        if q.shm.read32(regs::DOORBELL_COUNT) == 0 {
            break q;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "never got a fresh device"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(q.shm.read64(regs::SELFTEST_PATTERN), 0);
    assert_eq!(q.shm.read32(regs::SELFTEST_STATUS), 0);
    let mut mem = [0xffu8; 13];
    q.shm.read_bytes((1 << 20) + 64, &mut mem).unwrap();
    assert_eq!(
        mem, [0; 13],
        "device memory leaked from the previous client"
    );
    assert_eq!(
        q.shm.read64(regs::SIGNATURE),
        u64::from_le_bytes(*b"GAUDIEMU")
    );
    assert_eq!(q.selftest(24, 3), regs::SELFTEST_STATUS_DONE);
    assert_eq!(ram_u64(&emu, 24), !3);
}

#[test]
fn misbehaving_client_is_survived() {
    let emu = start(1);
    let mut q = connect(&emu, 0);
    // QEMU never sends anything; junk, with an fd attached, is ignored.
    q.sock.write_all(b"junk junk").unwrap();
    ivshmem::send_msg(&q.sock, 7, Some(q.doorbells[1].as_fd())).unwrap();
    // The shared memory cannot be resized under the emulator.
    assert!(rustix::fs::ftruncate(&q.shm_fd, 4096).is_err());
    assert!(rustix::fs::ftruncate(&q.shm_fd, (SHM_SIZE * 2) as u64).is_err());
    // Garbage in the register file, including RO registers.
    q.shm.write64(regs::SELFTEST_ADDR, u64::MAX);
    q.shm.write32(regs::SELFTEST_CTRL, 0xffff_ffff);
    ivshmem::notify(&q.doorbells[0]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    q.no_interrupts();
    assert_eq!(q.selftest(32, 4), regs::SELFTEST_STATUS_DONE);
    assert_eq!(ram_u64(&emu, 32), !4);
}

#[test]
fn sigterm_removes_sockets_and_exits_cleanly() {
    let mut emu = start(2);
    let q = connect(&emu, 0);
    let pid = rustix::process::Pid::from_child(&emu.child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let t = Instant::now();
    let status = loop {
        if let Some(s) = emu.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "still running after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    assert!(
        !emu.sock(0).exists() && !emu.sock(1).exists(),
        "sockets left behind"
    );
    // Our end sees the hang-up.
    assert!(readable(&q.sock, 1000));
}

#[test]
fn socket_paths_are_checked() {
    // A stale socket of a previous run is replaced.
    let dir = temp_dir();
    drop(std::os::unix::net::UnixListener::bind(dir.join("dev0.sock")).unwrap());
    assert!(dir.join("dev0.sock").exists());
    let mut child = emu_command(&dir, 1).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "gaudi-emu: ready\n");
    let emu = Emu { child, dir };
    connect(&emu, 0);

    // A live socket is not stolen, and a regular file is not removed.
    let dir = temp_dir();
    for (path, what) in [
        (emu.sock(0), "live socket"),
        (dir.join("dev0.sock"), "regular file"),
    ] {
        if what == "regular file" {
            std::fs::write(&path, b"precious").unwrap();
        }
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gaudi-emu"));
        cmd.arg("--guest-ram")
            .arg(dir.join("ram"))
            .arg("--device")
            .arg(&path);
        let out = cmd.stderr(Stdio::piped()).output().unwrap();
        assert!(!out.status.success(), "{what} was taken over");
        assert!(out.stdout.is_empty(), "ready printed despite the failure");
    }
    assert_eq!(std::fs::read(dir.join("dev0.sock")).unwrap(), b"precious");
    let _ = std::fs::remove_dir_all(&dir);
    // The first emulator still serves.
    connect(&emu, 0);
}
