// SPDX-License-Identifier: GPL-2.0 OR MIT

//! End to end against real QEMU: `gaudi-emu` serves a stock `ivshmem-doorbell` device of a
//! `qemu-system-x86_64 -M pc -accel tcg -S` whose guest RAM is a shared file, and this test
//! plays the guest through QEMU's qtest protocol (port I/O and memory accesses; the vCPU never
//! runs): it programs
//! the PCI function, reads the register file in BAR2, runs the self-test through BAR0's
//! Doorbell and watches MSI-X vector 0 (pending bit while masked, then a real MSI write).
//!
//! Fails when `qemu-system-x86_64` is not installed (`make setup` installs it): a host
//! without QEMU does not pass these tests without running them. `GAUDI_EMU_QEMU` names
//! another binary.

use std::{
    io::{BufRead, BufReader, Write},
    os::unix::net::{UnixListener, UnixStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

const SHM_SIZE: u64 = 4 << 20;
const RAM_SIZE: u64 = 128 << 20;
/// PCI slot of the ivshmem function on bus 0.
const SLOT: u32 = 0x10;
const BAR0: u64 = 0xfeb0_0000;
const BAR1: u64 = 0xfeb0_1000;
const BAR2: u64 = 0xf000_0000;

struct Procs {
    emu: Child,
    qemu: Option<Child>,
    dir: PathBuf,
}

impl Drop for Procs {
    fn drop(&mut self) {
        for c in self.qemu.iter_mut().chain([&mut self.emu]) {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            for log in ["emu.log", "qemu.log"] {
                let text = std::fs::read_to_string(self.dir.join(log)).unwrap_or_default();
                eprintln!("--- {log} ---\n{text}---");
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn find_qemu() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("GAUDI_EMU_QEMU") {
        return Some(PathBuf::from(p));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("qemu-system-x86_64"))
        .find(|p| p.is_file())
}

/// A qtest connection: one command per line, one `OK [value]` line per answer.
struct Qtest {
    r: BufReader<UnixStream>,
    w: UnixStream,
}

impl Qtest {
    fn cmd(&mut self, cmd: &str) -> Option<u64> {
        writeln!(self.w, "{cmd}").unwrap();
        loop {
            let mut line = String::new();
            self.r.read_line(&mut line).unwrap();
            assert!(!line.is_empty(), "QEMU hung up on {cmd:?}");
            // Asynchronous notifications start with "IRQ"; we did not ask for any.
            if line.starts_with("IRQ") {
                continue;
            }
            let mut words = line.split_whitespace();
            assert_eq!(words.next(), Some("OK"), "{cmd:?} answered {line:?}");
            return words.next().map(|v| {
                u64::from_str_radix(v.trim_start_matches("0x"), 16)
                    .unwrap_or_else(|_| panic!("bad value in {line:?}"))
            });
        }
    }

    fn cfg_addr(reg: u32) -> u32 {
        0x8000_0000 | (SLOT << 11) | (reg & 0xfc)
    }

    fn cfg_read(&mut self, reg: u32) -> u32 {
        self.cmd(&format!("outl 0xcf8 {:#x}", Self::cfg_addr(reg)));
        self.cmd("inl 0xcfc").unwrap() as u32
    }

    fn cfg_write(&mut self, reg: u32, val: u32) {
        self.cmd(&format!("outl 0xcf8 {:#x}", Self::cfg_addr(reg)));
        self.cmd(&format!("outl 0xcfc {val:#x}"));
    }

    fn readl(&mut self, addr: u64) -> u32 {
        self.cmd(&format!("readl {addr:#x}")).unwrap() as u32
    }

    fn readq(&mut self, addr: u64) -> u64 {
        self.cmd(&format!("readq {addr:#x}")).unwrap()
    }

    fn writel(&mut self, addr: u64, val: u32) {
        self.cmd(&format!("writel {addr:#x} {val:#x}"));
    }

    fn writeq(&mut self, addr: u64, val: u64) {
        self.cmd(&format!("writeq {addr:#x} {val:#x}"));
    }

    /// Polls `readl(addr)` until `pred` holds; panics after 10 s.
    fn wait_readl(&mut self, addr: u64, what: &str, pred: impl Fn(u32) -> bool) -> u32 {
        let t = Instant::now();
        loop {
            let v = self.readl(addr);
            if pred(v) {
                return v;
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "timed out waiting for {what} ({v:#x})"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn spawn_emu(dir: &Path) -> Child {
    let mut emu = Command::new(env!("CARGO_BIN_EXE_gaudi-emu"))
        .arg("--guest-ram")
        .arg(dir.join("ram"))
        .arg("--device")
        .arg(dir.join("dev0.sock"))
        .args(["--shm-size", &SHM_SIZE.to_string(), "--vectors", "8"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("emu.log")).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(emu.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "gaudi-emu: ready\n");
    emu
}

fn spawn_qemu(qemu: &Path, dir: &Path) -> (Child, Qtest) {
    let qtest_path = dir.join("qtest.sock");
    let _ = std::fs::remove_file(&qtest_path);
    let listener = UnixListener::bind(&qtest_path).unwrap();
    let ram = dir.join("ram");
    let child = Command::new(qemu)
        // The CPU stays stopped (-S): no firmware or guest code runs, the test is the guest.
        // TCG, as in the project's VM: interrupts take QEMU's eventfd path, not irqfd.
        .args(["-M", "pc", "-accel", "tcg", "-S", "-nodefaults"])
        .args(["-display", "none"])
        .args(["-m", &format!("{}M", RAM_SIZE >> 20)])
        .arg("-qmp")
        .arg(format!(
            "unix:{},server=on,wait=off",
            dir.join("qmp.sock").display()
        ))
        .arg("-qtest")
        .arg(format!("unix:{}", qtest_path.display()))
        .arg("-object")
        .arg(format!(
            "memory-backend-file,id=ram,size={RAM_SIZE},mem-path={},share=on",
            ram.display()
        ))
        .args(["-machine", "memory-backend=ram"])
        .arg("-chardev")
        .arg(format!(
            "socket,id=dev0,path={}",
            dir.join("dev0.sock").display()
        ))
        .args([
            "-device",
            &format!("ivshmem-doorbell,chardev=dev0,vectors=8,addr={SLOT:#x}"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("qemu.log")).unwrap())
        .spawn()
        .unwrap();
    listener.set_nonblocking(true).unwrap();
    let t = Instant::now();
    let mut child = child;
    let sock = loop {
        if let Some(status) = child.try_wait().unwrap() {
            let log = std::fs::read_to_string(dir.join("qemu.log")).unwrap_or_default();
            panic!("QEMU exited ({status}): {log}");
        }
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(
                    t.elapsed() < Duration::from_secs(30),
                    "QEMU did not connect to qtest"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("qtest accept: {e}"),
        }
    };
    sock.set_nonblocking(false).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let w = sock.try_clone().unwrap();
    (
        child,
        Qtest {
            r: BufReader::new(sock),
            w,
        },
    )
}

/// Resets the machine through QMP (`system_reset`) and waits for the `RESET` event, which
/// QEMU sends once every device was reset.
fn system_reset(dir: &Path) {
    let sock = UnixStream::connect(dir.join("qmp.sock")).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut w = sock.try_clone().unwrap();
    let mut r = BufReader::new(sock);
    let mut wait_for = |what: &str| loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "QMP hung up waiting for {what}");
        assert!(!line.contains("\"error\""), "QMP: {line}");
        if line.contains(what) {
            return;
        }
    };
    wait_for("\"QMP\"");
    writeln!(w, r#"{{"execute": "qmp_capabilities"}}"#).unwrap();
    wait_for("\"return\"");
    writeln!(w, r#"{{"execute": "system_reset"}}"#).unwrap();
    wait_for("\"RESET\"");
}

/// Places BAR0 and BAR2 (firmware would) and enables memory decoding and bus mastering.
fn place_bars(q: &mut Qtest) {
    q.cfg_write(0x10, BAR0 as u32);
    q.cfg_write(0x14, BAR1 as u32);
    q.cfg_write(0x18, BAR2 as u32);
    q.cfg_write(0x1c, (BAR2 >> 32) as u32);
    q.cfg_write(0x04, 0x6);
}

/// Finds the MSI-X capability; returns its config-space offset.
fn msix_cap(q: &mut Qtest) -> u32 {
    assert_ne!(q.cfg_read(0x04) & (1 << 20), 0, "no capability list");
    let mut ptr = q.cfg_read(0x34) & 0xfc;
    while ptr != 0 {
        let hdr = q.cfg_read(ptr);
        if hdr & 0xff == 0x11 {
            return ptr;
        }
        ptr = (hdr >> 8) & 0xfc;
    }
    panic!("no MSI-X capability");
}

/// The guest's self-test through QEMU; returns SELFTEST_STATUS.
fn selftest(q: &mut Qtest, addr: u64, pattern: u64) -> u32 {
    q.writeq(BAR2 + 0x100, addr);
    q.writeq(BAR2 + 0x108, pattern);
    q.writel(BAR2 + 0x114, 0);
    q.writel(BAR2 + 0x110, 1);
    let peer = q.readl(BAR2 + 0x0c);
    // Doorbell: peer << 16 | vector 0.
    q.writel(BAR0 + 0x0c, peer << 16);
    q.wait_readl(BAR2 + 0x114, "SELFTEST_STATUS", |s| s >= 2)
}

/// Starts the emulator and QEMU in a fresh directory named after `tag`, with the BARs
/// placed (no firmware runs under qtest) and memory decoding and bus mastering enabled.
fn start(qemu: &Path, tag: &str) -> (Procs, Qtest) {
    let dir = std::env::temp_dir().join(format!("gaudi-emu-qemu-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::File::create(dir.join("ram"))
        .unwrap()
        .set_len(RAM_SIZE)
        .unwrap();
    let emu = spawn_emu(&dir);
    let mut procs = Procs {
        emu,
        qemu: None,
        dir: dir.clone(),
    };
    let (child, mut q) = spawn_qemu(qemu, &dir);
    procs.qemu = Some(child);
    place_bars(&mut q);
    (procs, q)
}

/// Enables MSI-X with every vector masked; returns the capability's offset and the bus
/// addresses of the table and the PBA.
fn enable_msix(q: &mut Qtest) -> (u32, u64, u64) {
    let cap = msix_cap(q);
    let ctrl = q.cfg_read(cap) >> 16;
    assert_eq!((ctrl & 0x7ff) + 1, 8, "MSI-X table size");
    let table = q.cfg_read(cap + 4);
    let pba = q.cfg_read(cap + 8);
    assert_eq!((table & 7, pba & 7), (1, 1), "MSI-X table and PBA in BAR1");
    let hdr = q.cfg_read(cap) & 0xffff;
    q.cfg_write(cap, ((ctrl | 0x8000) << 16) | hdr);
    (
        cap,
        BAR1 + u64::from(table & !7),
        BAR1 + u64::from(pba & !7),
    )
}

#[test]
fn qemu_ivshmem_doorbell_end_to_end() {
    let Some(qemu) = find_qemu() else {
        panic!("qemu-system-x86_64 not found (make setup installs it; GAUDI_EMU_QEMU names it)");
    };
    let (mut procs, mut q) = start(&qemu, "doorbell");
    let dir = procs.dir.clone();

    // The function is a stock ivshmem-doorbell.
    assert_eq!(q.cfg_read(0x00), 0x1110_1af4, "vendor/device");
    assert_eq!(q.cfg_read(0x08) >> 8, 0x05_00_00, "class");
    // BAR2's size is the emulator's shared region.
    q.cfg_write(0x18, 0xffff_ffff);
    let size_mask = q.cfg_read(0x18) & !0xf;
    q.cfg_write(0x18, BAR2 as u32);
    assert_eq!(u64::from(size_mask.wrapping_neg()), SHM_SIZE, "BAR2 size");
    let (cap, table, pba) = enable_msix(&mut q);

    // BAR0: the guest is peer 1; BAR2: the register file.
    assert_eq!(q.readl(BAR0 + 0x08), 1, "IVPosition");
    assert_eq!(q.readq(BAR2), u64::from_le_bytes(*b"GAUDIEMU"), "SIGNATURE");
    assert_eq!(q.readl(BAR2 + 0x08), 0x0002_0000, "VERSION");
    assert_eq!(q.readl(BAR2 + 0x0c), 0, "DOORBELL_PEER");
    assert_eq!(q.readl(BAR2 + 0x1c), 8, "NUM_VECTORS");
    assert_eq!(q.readl(BAR2 + 0x30), 1, "STATUS");
    assert_eq!(q.readq(BAR2 + 0x28), SHM_SIZE - (1 << 20), "DRAM_SIZE");

    // Self-test with vector 0 masked: DMA lands at the guest physical address, and the
    // interrupt shows up as pending.
    let buf = 0x0010_0000;
    assert_eq!(
        selftest(&mut q, buf, 0x1122_3344_5566_7788),
        2,
        "SELFTEST_STATUS DONE"
    );
    assert_eq!(
        q.readq(buf),
        !0x1122_3344_5566_7788,
        "DMA result seen by the guest"
    );
    q.wait_readl(pba, "pending bit of vector 0", |p| p & 1 != 0);
    assert_eq!(q.readl(BAR2 + 0x38), 1, "DOORBELL_COUNT");

    // Unmask vector 0 with a message that writes guest RAM: the pending interrupt is
    // delivered and its message lands there.
    let msi_addr = 0x0020_0000;
    q.writel(table, msi_addr as u32);
    q.writel(table + 4, 0);
    q.writel(table + 8, 0xcafe_0000);
    q.writel(table + 12, 0);
    q.wait_readl(msi_addr, "MSI-X message of vector 0", |v| v == 0xcafe_0000);
    assert_eq!(q.readl(pba) & 1, 0, "still pending after unmask");

    // Unmasked: the next self-test's interrupt arrives as a message at once.
    q.writel(msi_addr, 0);
    assert_eq!(selftest(&mut q, buf + 8, 42), 2);
    assert_eq!(q.readq(buf + 8), !42);
    q.wait_readl(msi_addr, "MSI-X message of vector 0", |v| v == 0xcafe_0000);

    // Outside guest RAM (below 4 GiB but above the RAM size): ERR_DMA, still interrupts.
    q.writel(msi_addr, 0);
    assert_eq!(selftest(&mut q, RAM_SIZE, 1), 3, "SELFTEST_STATUS ERR_DMA");
    q.wait_readl(msi_addr, "MSI-X message of vector 0", |v| v == 0xcafe_0000);
    assert_eq!(q.readl(BAR2 + 0x38), 3, "DOORBELL_COUNT");

    // A guest reset is not a device reset: QEMU stays connected, the register file keeps
    // its contents, and the device keeps working (the spec's "QEMU behaviour" section).
    system_reset(&dir);
    assert_eq!(
        q.cfg_read(0x04) & 0x6,
        0,
        "PCI command register survived the reset"
    );
    place_bars(&mut q);
    assert_eq!(q.readl(BAR0 + 0x08), 1, "IVPosition after reset");
    assert_eq!(
        q.readl(BAR2 + 0x38),
        3,
        "DOORBELL_COUNT after a guest reset"
    );
    assert_eq!(
        q.readq(BAR2 + 0x100),
        RAM_SIZE,
        "SELFTEST_ADDR after a guest reset"
    );
    assert_eq!(
        q.readl(BAR2 + 0x114),
        3,
        "SELFTEST_STATUS after a guest reset"
    );
    assert_eq!(selftest(&mut q, buf + 24, 9), 2);
    assert_eq!(q.readq(buf + 24), !9);
    assert_eq!(q.readl(BAR2 + 0x38), 4, "DOORBELL_COUNT");
    // That interrupt came while MSI-X was disabled (the reset disabled it): QEMU dropped it,
    // it does not turn up as pending once MSI-X is enabled again.
    std::thread::sleep(Duration::from_millis(200));
    let hdr = q.cfg_read(cap);
    assert_eq!(hdr >> 31, 0, "MSI-X still enabled after reset");
    q.cfg_write(cap, hdr | (0x8000 << 16));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        q.readl(pba) & 1,
        0,
        "interrupt raised while MSI-X was disabled was kept"
    );

    // QEMU goes away; the emulator keeps serving the next one with a fresh device.
    let mut child = procs.qemu.take().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    drop(q);
    let (child, mut q) = spawn_qemu(&qemu, &dir);
    procs.qemu = Some(child);
    place_bars(&mut q);
    assert_eq!(q.readq(BAR2), u64::from_le_bytes(*b"GAUDIEMU"));
    assert_eq!(q.readl(BAR2 + 0x38), 0, "DOORBELL_COUNT of a fresh device");
    assert_eq!(q.readq(BAR2 + 0x100), 0, "control blocks of a fresh device");
    assert_eq!(selftest(&mut q, buf + 16, 7), 2);
    assert_eq!(q.readq(buf + 16), !7);
    assert!(procs.emu.try_wait().unwrap().is_none(), "emulator died");
}

/// A hardware queue through QEMU: the guest tells the device where BAR2 is, builds
/// io-pgtable-arm style tables in its RAM, and runs a ring in ASID 0 that fills device
/// memory, copies it to guest RAM and writes a fence with an interrupt (MSI-X vector 2);
/// then a bad packet stops the queue with an error interrupt (vector 1).
#[test]
fn qemu_queue_end_to_end() {
    let Some(qemu) = find_qemu() else {
        panic!("qemu-system-x86_64 not found (make setup installs it; GAUDI_EMU_QEMU names it)");
    };
    let (_procs, mut q) = start(&qemu, "queue");
    let (_, table, _) = enable_msix(&mut q);
    // Vectors 1 and 2 write their messages to guest RAM.
    let msi = 0x0020_0000;
    for v in [1u64, 2] {
        let entry = table + 16 * v;
        q.writel(entry, (msi + 4 * v) as u32);
        q.writel(entry + 4, 0);
        q.writel(entry + 8, 0xbeef_0000 + v as u32);
        q.writel(entry + 12, 0);
    }
    // BAR2_BASE, then ASID 0: L0 0x30_0000 -> L1 0x30_1000 -> L2 0x30_2000, whose entry 0
    // maps VA 0x4000_0000 to RAM 0x40_0000 and entry 1 maps VA 0x4020_0000 to device memory
    // at BAR2 + 2 MiB (2 MiB blocks: table 0b11, block 0b01 with AF).
    q.writeq(BAR2 + 0x40, BAR2);
    let (l0, l1, l2) = (0x30_0000u64, 0x30_1000u64, 0x30_2000u64);
    q.writeq(l0, l1 | 3);
    q.writeq(l1 + 8, l2 | 3);
    q.writeq(l2, 0x40_0000 | (1 << 10) | 1);
    q.writeq(l2 + 8, (BAR2 + (2 << 20)) | (1 << 10) | 1);
    q.writeq(BAR2 + 0x400, l0);
    q.writel(BAR2 + 0x408, 1);
    // The ring at VA 0x4000_0000: fill 16 bytes of device memory, copy them to RAM at VA
    // 0x4000_2000, fence 42 at VA 0x4000_1000 with an interrupt.
    let (va, dev_va) = (0x4000_0000u64, 0x4020_0000u64);
    let lo = |x: u64| x as u32;
    let hi = |x: u64| (x >> 32) as u32;
    let ring: Vec<u32> = vec![
        0x0008_0104,
        0,
        0x1122_3344,
        0,
        lo(dev_va + 0x100),
        hi(dev_va + 0x100),
        16,
        0,
        0x0008_0004,
        0,
        lo(dev_va + 0x100),
        hi(dev_va + 0x100),
        lo(va + 0x2000),
        hi(va + 0x2000),
        16,
        0,
        0x0006_0101,
        0,
        lo(va + 0x1000),
        hi(va + 0x1000),
        42,
        0,
    ];
    for (i, w) in ring.iter().enumerate() {
        q.writel(0x40_0000 + 4 * i as u64, *w);
    }
    let qreg = |r: u64| BAR2 + 0x200 + r;
    q.writeq(qreg(0x00), va);
    q.writel(qreg(0x08), 4096);
    q.writel(qreg(0x10), 4 * ring.len() as u32);
    q.writel(qreg(0x0c), 1);
    let peer = q.readl(BAR2 + 0x0c);
    q.writel(BAR0 + 0x0c, (peer << 16) | 1);
    q.wait_readl(0x40_1000, "the fence", |v| v == 42);
    q.wait_readl(msi + 8, "MSI-X message of vector 2", |v| v == 0xbeef_0002);
    assert_eq!(q.readl(qreg(0x14)), 4 * ring.len() as u32, "Q_HEAD");
    q.wait_readl(qreg(0x18), "Q_STATUS IDLE", |s| s == 1);
    assert_eq!(
        q.readq(0x40_2008),
        0x1122_3344_1122_3344,
        "copied from device memory"
    );
    assert_eq!(
        q.readl(BAR2 + (2 << 20) + 0x100),
        0x1122_3344,
        "device memory"
    );
    assert!(q.readl(BAR2 + 0x54) >= 3, "PKT_COUNT");

    // An unknown opcode: the queue stops with ERR_BAD_OPCODE and raises vector 1.
    q.writel(0x40_0000 + 4 * ring.len() as u64, 0x0002_007f);
    q.writel(qreg(0x10), 4 * ring.len() as u32 + 8);
    q.writel(BAR0 + 0x0c, (peer << 16) | 1);
    q.wait_readl(msi + 4, "MSI-X message of vector 1", |v| v == 0xbeef_0001);
    assert_eq!(q.readl(qreg(0x18)), 4, "Q_STATUS ERROR");
    assert_eq!(q.readl(qreg(0x1c)), 1, "Q_ERR_CODE");
    assert_eq!(q.readq(qreg(0x28)), va + 4 * ring.len() as u64, "Q_ERR_PKT");
    assert_eq!(q.readl(BAR2 + 0x50), 1, "ERR_QUEUES");
}
