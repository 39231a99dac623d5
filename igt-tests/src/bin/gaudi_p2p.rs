// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Peer-to-peer dma-bufs of device memory (Documentation/memory.rst, "Peer-to-peer").
//!
//! The device under test imports device memory of its *pair*, the other gaudi device behind
//! the same PCI bridge (scripts/vm.sh), as a peer-to-peer dynamic importer; its DMA engine and
//! a TPC kernel read and write it, the data is checked on both sides, and the emulator's
//! peer-transaction counters (`P2P_TX_COUNT`, `P2P_RX_COUNT` in BAR2, read through sysfs)
//! show that the accesses went from device to device, not through system memory. The *far*
//! device, behind a bridge of its own, cannot be reached peer-to-peer: imports fail with
//! `EXDEV`, and the documented fallback, a copy through system memory, works. Static importers
//! (vgem) are refused with `EOPNOTSUPP`. Unbinding the exporter while the memory is mapped and
//! a job that uses it is queued revokes the memory: the job fails with `ENODEV`, nothing
//! hangs, the importer keeps working, and the exporter binds again.

use std::{
    fs::OpenOptions,
    os::fd::{AsFd, AsRawFd, OwnedFd},
    path::{Path, PathBuf},
    time::Duration,
};

use accel_igt::{
    device_path, errno,
    exec::{run, run_ok, Syncobj, UserFence, DONE, LONG},
    ok, open_device, open_vgem, other_device_paths, pattern, Kind,
};
use gaudi::{
    cmdbuf::{code_bytes, CommandBuffer, TpcLaunch},
    drm::{DRM_CLOEXEC, DRM_RDWR},
    hw::regs,
    tpc,
    uapi::{
        DRM_GAUDI_BO_DEVICE, DRM_GAUDI_BO_IMPORTED, DRM_GAUDI_BO_INVALIDATED, DRM_GAUDI_BO_PEER,
    },
    Buffer, Context, Device, Priority,
};

/// Size of the shared device-memory object.
const SIZE: u64 = 64 << 10;
/// Half of it: what is read, and where the importer writes.
const HALF: u64 = SIZE / 2;

/// The PCI function of an accel node, as a sysfs path.
fn pci_dir(node: &Path) -> igt::Result<PathBuf> {
    let name = node
        .file_name()
        .ok_or_else(|| igt::fail!("no node name in {}", node.display()))?;
    let link = Path::new("/sys/class/accel").join(name).join("device");
    Ok(ok!(std::fs::canonicalize(&link), "{}", link.display()))
}

/// The other gaudi nodes whose PCI function is (`same`) or is not behind the bridge of the
/// device under test.
fn others(same: bool) -> igt::Result<Vec<PathBuf>> {
    let mine = pci_dir(&device_path())?;
    let mut v = Vec::new();
    for p in other_device_paths() {
        if (pci_dir(&p)?.parent() == mine.parent()) == same {
            v.push(p);
        }
    }
    Ok(v)
}

/// The device behind the same bridge: peer-to-peer DMA with it is allowed.
fn pair() -> igt::Result<PathBuf> {
    others(true)?
        .into_iter()
        .next()
        .ok_or_else(|| igt::fail!("no gaudi device behind the same bridge (scripts/vm.sh)"))
}

/// A device behind another bridge: peer-to-peer DMA with it is refused.
fn far() -> igt::Result<PathBuf> {
    others(false)?
        .into_iter()
        .next()
        .ok_or_else(|| igt::fail!("no gaudi device behind another bridge (scripts/vm.sh)"))
}

/// The emulator's peer-transaction counters of a node: (`P2P_TX_COUNT`, `P2P_RX_COUNT`), read
/// from the register file at the start of BAR2 (`resource2` in sysfs).
fn counters(node: &Path) -> igt::Result<(u32, u32)> {
    let path = pci_dir(node)?.join("resource2");
    let f = ok!(
        OpenOptions::new().read(true).open(&path),
        "{}",
        path.display()
    );
    let len = regs::REGS_SIZE;
    // SAFETY: A new shared, read-only mapping of the BAR's first page; nothing else is
    // affected.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            f.as_raw_fd(),
            0,
        )
    };
    igt::assert!(
        p != libc::MAP_FAILED,
        "mmap {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
    // SAFETY: Both registers lie in the mapped page, 4-byte aligned; the device writes them,
    // hence volatile reads.
    let v = unsafe {
        (
            p.cast::<u8>()
                .add(regs::P2P_TX_COUNT)
                .cast::<u32>()
                .read_volatile(),
            p.cast::<u8>()
                .add(regs::P2P_RX_COUNT)
                .cast::<u32>()
                .read_volatile(),
        )
    };
    // SAFETY: Unmaps the mapping made above.
    unsafe { libc::munmap(p, len) };
    Ok(v)
}

/// A device-memory object of `dev` holding `data`, and its dma-buf.
fn exported<'d>(dev: &'d Device, data: &[u8]) -> igt::Result<(Buffer<'d>, OwnedFd)> {
    let b = ok!(Buffer::new(dev, data.len() as u64, DRM_GAUDI_BO_DEVICE));
    ok!(b.write(0, data));
    let fd = ok!(dev.prime_handle_to_fd(b.handle(), DRM_CLOEXEC | DRM_RDWR));
    Ok((b, fd))
}

/// Imports `fd` into `dev` as a peer-to-peer object, checks what `GEM_INFO` says about it,
/// and binds it in the VM.
fn import_peer<'d>(dev: &'d Device, fd: &OwnedFd) -> igt::Result<Buffer<'d>> {
    let h = ok!(dev.prime_fd_to_handle(fd.as_fd()), "peer-to-peer import");
    let info = ok!(dev.gem_info(h));
    igt::assert_eq!(
        info.flags,
        DRM_GAUDI_BO_IMPORTED | DRM_GAUDI_BO_PEER,
        "GEM_INFO flags of the import"
    );
    igt::assert!(info.is_peer());
    igt::assert_eq!(info.size, SIZE);
    let bo = gaudi::Bo {
        handle: h,
        size: info.size,
    };
    Ok(ok!(Buffer::adopt(dev, bo, false), "bind the import"))
}

fn local<'d>(dev: &'d Device, data: &[u8]) -> igt::Result<Buffer<'d>> {
    let b = ok!(Buffer::new(dev, data.len() as u64, Kind::Device.flags()));
    ok!(b.write(0, data));
    Ok(b)
}

fn read(b: &Buffer<'_>, off: u64, len: u64) -> igt::Result<Vec<u8>> {
    let mut v = vec![0u8; len as usize];
    ok!(b.read(off as usize, &mut v));
    Ok(v)
}

/// The counters of the importer (sent) and the exporter (received) moved by the same,
/// non-zero amount: the accesses went from one device to the other.
fn expect_peer_traffic(
    importer: &Path,
    exporter: &Path,
    before: ((u32, u32), (u32, u32)),
    at_least: u32,
) -> igt::Result {
    let (i, e) = (counters(importer)?, counters(exporter)?);
    let sent = i.0.wrapping_sub(before.0 .0);
    let received = e.1.wrapping_sub(before.1 .1);
    igt::assert!(
        sent >= at_least,
        "peer transactions of the importer: {sent}, want at least {at_least}"
    );
    igt::assert_eq!(received, sent, "peer transactions the exporter saw");
    Ok(())
}

/// The importer's DMA engine reads the exporter's memory into its own and writes its own into
/// the exporter's, in one job.
fn dma_read_write() -> igt::Result {
    let (me, peer) = (device_path(), pair()?);
    let dev = ok!(open_device());
    let exp = ok!(Device::open(&peer));
    let a = pattern(1, SIZE as usize);
    let (eb, fd) = exported(&exp, &a)?;
    let imp = import_peer(&dev, &fd)?;
    let b = pattern(2, HALF as usize);
    let src = local(&dev, &b)?;
    let dst = local(&dev, &vec![0; HALF as usize])?;
    let ctx = ok!(Context::new(&dev, Priority::Normal));
    let mut cb = CommandBuffer::new();
    ok!(cb.dma_copy(imp.va(), dst.va(), HALF));
    ok!(cb.dma_copy(src.va(), imp.va() + HALF, HALF));
    let before = (counters(&me)?, counters(&peer)?);
    run_ok(
        &ctx,
        &cb,
        &[
            (imp.handle(), true),
            (src.handle(), false),
            (dst.handle(), true),
        ],
    )?;
    // One transaction per page at least, each way.
    expect_peer_traffic(&me, &peer, before, (2 * HALF / 4096) as u32)?;
    igt::assert!(
        read(&dst, 0, HALF)? == a[..HALF as usize],
        "read from the peer"
    );
    // Both sides see what the importer wrote: the exporter in its own object, the importer
    // through the import's CPU mapping (the exporter's BAR).
    igt::assert!(
        read(&eb, HALF, HALF)? == b,
        "the exporter's object after the peer's write"
    );
    igt::assert!(read(&eb, 0, HALF)? == a[..HALF as usize], "untouched half");
    igt::assert!(read(&imp, HALF, HALF)? == b, "the import after the write");
    Ok(())
}

/// `c = a + b` on fp32 elements, 16 per grid point.
const VECTOR_ADD: &str = "
    arg   s1, 0          # a
    arg   s2, 1          # b
    arg   s3, 2          # c
    arg   s4, 3          # n
    gid   s5, 0
    shli  s6, s5, 4      # first element: 16 per grid point
    sub   s7, s4, s6     # elements left
    setvl s7, s7         # the tail is shorter
    shli  s6, s6, 2      # bytes
    add   s1, s1, s6
    add   s2, s2, s6
    add   s3, s3, s6
    vld   v0, [s1]
    vld   v1, [s2]
    vadd  v2, v0, v1
    vst   v2, [s3]
    halt
";

/// A TPC kernel on the importer reads one operand from the exporter's memory and writes its
/// result there.
fn tpc_read_write() -> igt::Result {
    let (me, peer) = (device_path(), pair()?);
    let dev = ok!(open_device());
    let exp = ok!(Device::open(&peer));
    let n = 1000usize;
    let x: Vec<f32> = (0..n).map(|i| (i % 17) as f32 / 4.0).collect();
    let y: Vec<f32> = (0..n).map(|i| (i % 5) as f32 - 2.0).collect();
    let bytes = |v: &[f32]| -> Vec<u8> { v.iter().flat_map(|f| f.to_le_bytes()).collect() };
    let mut a = bytes(&x);
    a.resize(SIZE as usize, 0);
    let (eb, fd) = exported(&exp, &a)?;
    let imp = import_peer(&dev, &fd)?;
    let yb = local(&dev, &bytes(&y))?;
    let code = tpc::assemble(VECTOR_ADD).map_err(|e| igt::fail!("kernel: {e}"))?;
    let kernel = ok!(Buffer::with_data(&dev, &code_bytes(&code), 0, true));
    let launch = ok!(TpcLaunch::new(
        kernel.va(),
        (code.len() * 8) as u32,
        [n.div_ceil(16) as u32, 1, 1],
        &[imp.va(), yb.va(), imp.va() + HALF, n as u64]
    ));
    let mut cb = CommandBuffer::new();
    ok!(cb.tpc_launch(&launch));
    let ctx = ok!(Context::new(&dev, Priority::Normal));
    let before = (counters(&me)?, counters(&peer)?);
    run_ok(
        &ctx,
        &cb,
        &[
            (imp.handle(), true),
            (yb.handle(), false),
            (kernel.handle(), false),
        ],
    )?;
    expect_peer_traffic(&me, &peer, before, 2)?;
    let want = bytes(&x.iter().zip(&y).map(|(p, q)| p + q).collect::<Vec<_>>());
    igt::assert!(
        read(&eb, HALF, want.len() as u64)? == want,
        "the kernel's result in the exporter's memory"
    );
    Ok(())
}

/// Device memory of a device that the topology does not let reach the device under test:
/// both ways, the import fails with `EXDEV`. The fallback of the documentation: the exporter
/// copies into a system-memory object, which any device imports, and the other device copies
/// from there.
fn refused_topology() -> igt::Result {
    let (me, far_path) = (device_path(), far()?);
    let dev = ok!(open_device());
    let far = ok!(Device::open(&far_path));
    let a = pattern(3, SIZE as usize);
    let (_eb, fd) = exported(&dev, &a)?;
    igt::assert_eq!(
        errno(far.prime_fd_to_handle(fd.as_fd())),
        libc::EXDEV,
        "import of device memory across bridges"
    );
    let (_fb, ffd) = exported(&far, &a)?;
    igt::assert_eq!(
        errno(dev.prime_fd_to_handle(ffd.as_fd())),
        libc::EXDEV,
        "import of the far device's memory"
    );
    // The fallback, through system memory.
    let before = (counters(&me)?, counters(&far_path)?);
    let src = local(&dev, &a)?;
    let bounce = ok!(Buffer::new(&dev, SIZE, Kind::System.flags()));
    let ctx = ok!(Context::new(&dev, Priority::Normal));
    let mut cb = CommandBuffer::new();
    ok!(cb.dma_copy(src.va(), bounce.va(), SIZE));
    run_ok(&ctx, &cb, &[(src.handle(), false), (bounce.handle(), true)])?;
    let bfd = ok!(dev.prime_handle_to_fd(bounce.handle(), DRM_CLOEXEC | DRM_RDWR));
    let h = ok!(
        far.prime_fd_to_handle(bfd.as_fd()),
        "import of system memory"
    );
    igt::assert_eq!(ok!(far.gem_info(h)).flags, DRM_GAUDI_BO_IMPORTED);
    let imp = ok!(Buffer::adopt(
        &far,
        gaudi::Bo {
            handle: h,
            size: SIZE
        },
        true
    ));
    let dst = local(&far, &vec![0; SIZE as usize])?;
    let fctx = ok!(Context::new(&far, Priority::Normal));
    let mut cb = CommandBuffer::new();
    ok!(cb.dma_copy(imp.va(), dst.va(), SIZE));
    run_ok(&fctx, &cb, &[(imp.handle(), false), (dst.handle(), true)])?;
    igt::assert!(read(&dst, 0, SIZE)? == a, "data after the bounce");
    // No peer transaction between the two.
    igt::assert_eq!(
        counters(&me)?.0,
        before.0 .0,
        "peer transactions of the device"
    );
    igt::assert_eq!(counters(&far_path)?.0, before.1 .0, "of the far device");
    Ok(())
}

/// vgem attaches statically (no `invalidate_mappings`, no peer-to-peer): refused with
/// `EOPNOTSUPP`, and the exporter's object keeps working.
fn static_importer_refused() -> igt::Result {
    let vgem = open_vgem()?;
    let dev = ok!(open_device());
    let a = pattern(4, SIZE as usize);
    let (eb, fd) = exported(&dev, &a)?;
    igt::assert_eq!(
        errno(gaudi::drm::prime_fd_to_handle(vgem.as_fd(), fd.as_fd())),
        libc::EOPNOTSUPP,
        "vgem import of device memory"
    );
    igt::assert!(read(&eb, 0, SIZE)? == a, "the object after the refusal");
    Ok(())
}

/// sysfs directory of the gaudi PCI driver.
const PCI_DRIVER: &str = "/sys/bus/pci/drivers/gaudi";

/// Unbinds the exporter while the importer has its memory mapped and a job that uses it
/// queued behind a job that waits for the CPU: the unbind waits for the queued job, which
/// fails with `ENODEV` instead of reaching the memory; the import is invalidated for good,
/// the importer keeps working, and the exporter binds again under the same node.
fn revoke_on_unbind() -> igt::Result {
    let peer = pair()?;
    let (pci, minor) = {
        let exp = ok!(Device::open(&peer));
        (ok!(exp.pci_address()), ok!(exp.minor()))
    };
    let dev = ok!(open_device());
    let revoked = revoke(&dev, &peer, &pci);
    // Whatever happened, the exporter binds again (everything of the old binding is gone,
    // so it gets its node number back), so that the tests after this one find it.
    if !Path::new(PCI_DRIVER).join(&pci).exists() {
        ok!(
            std::fs::write(format!("{PCI_DRIVER}/bind"), &pci),
            "bind {pci}"
        );
    }
    revoked?;
    let deadline = std::time::Instant::now() + LONG;
    let exp = loop {
        match Device::open(&peer) {
            Ok(d) => break d,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(igt::fail!("{} after the bind: {e}", peer.display())),
        }
    };
    igt::assert_eq!(ok!(exp.minor()), minor, "node number after the bind");
    // And peer-to-peer works with the new binding.
    let a = pattern(6, SIZE as usize);
    let (eb, fd) = exported(&exp, &a)?;
    let imp = import_peer(&dev, &fd)?;
    igt::assert!(read(&imp, 0, SIZE)? == a, "the new exporter's memory");
    drop((imp, eb));
    Ok(())
}

/// The part of [`revoke_on_unbind`] with the exporter unbound; everything that refers to the
/// old binding is gone when it returns.
fn revoke(dev: &Device, peer: &Path, pci: &str) -> igt::Result {
    let exp = ok!(Device::open(peer));
    let a = pattern(5, SIZE as usize);
    let (eb, fd) = exported(&exp, &a)?;
    let imp = import_peer(dev, &fd)?;
    let dst = local(dev, &vec![0; HALF as usize])?;
    // The first job holds its queue until the CPU releases it; the second, on another
    // context, uses the import and waits for the first, so it is queued and not yet on the
    // hardware when the exporter goes.
    let ctx = ok!(Context::new(dev, Priority::Normal));
    let ctx2 = ok!(Context::new(dev, Priority::Normal));
    let gate = UserFence::new(dev)?;
    let mut cb = CommandBuffer::new();
    gate.wait(&mut cb, 1)?;
    let up1 = ok!(cb.upload(dev));
    let first = Syncobj::new(dev)?;
    ok!(ctx.submit(
        &up1.job(&ctx)
            .read(gate.buf.handle())
            .signal(first.handle, 0)
    ));
    let mut cb = CommandBuffer::new();
    ok!(cb.dma_copy(imp.va(), dst.va(), HALF));
    let up2 = ok!(cb.upload(dev));
    let done = Syncobj::new(dev)?;
    ok!(ctx2.submit(
        &up2.job(&ctx2)
            .wait(first.handle, 0)
            .read(imp.handle())
            .write(dst.handle())
            .signal(done.handle, 0)
    ));
    // The exporter's own objects go first: the unbind only has to deal with the importer.
    drop((eb, fd));
    drop(exp);
    let unbind = {
        let pci = pci.to_string();
        std::thread::spawn(move || std::fs::write(format!("{PCI_DRIVER}/unbind"), pci))
    };
    // The exporter revokes the memory: the import is invalidated, then the unbind waits for
    // the job that declared it (its fence is in the exporter's reservation object).
    let deadline = std::time::Instant::now() + LONG;
    let mut invalidated = false;
    while !invalidated && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        // No early return here: the gate must be released, or the unbind waits forever.
        invalidated = dev
            .gem_info(imp.handle())
            .is_ok_and(|i| i.flags & DRM_GAUDI_BO_INVALIDATED != 0);
    }
    std::thread::sleep(Duration::from_millis(200));
    let waited = !unbind.is_finished();
    gate.release(1)?;
    igt::assert!(invalidated, "the unbind did not invalidate the import");
    let r = unbind
        .join()
        .map_err(|_| igt::fail!("the unbind thread panicked"))?;
    ok!(r, "unbind {pci}");
    igt::assert!(
        waited,
        "the unbind did not wait for the queued job that uses the memory"
    );
    done.wait(0)?;
    igt::assert_eq!(
        done.status()?,
        -libc::ENODEV,
        "the queued job on revoked memory"
    );
    igt::assert!(
        read(&dst, 0, HALF)?.iter().all(|&b| b == 0),
        "the failed job wrote nothing"
    );
    let flags = ok!(dev.gem_info(imp.handle())).flags;
    igt::assert_eq!(
        flags,
        DRM_GAUDI_BO_IMPORTED | DRM_GAUDI_BO_PEER | DRM_GAUDI_BO_INVALIDATED,
        "GEM_INFO of the revoked import"
    );
    // New jobs that use it fail at submission; jobs that do not are unaffected.
    let ctx3 = ok!(Context::new(dev, Priority::Normal));
    let mut cb = CommandBuffer::new();
    ok!(cb.dma_copy(imp.va(), dst.va(), 4096));
    let up3 = ok!(cb.upload(dev));
    igt::assert_eq!(
        errno(ctx3.submit(&up3.job(&ctx3).read(imp.handle()).write(dst.handle()))),
        libc::ENODEV,
        "SUBMIT with the revoked import"
    );
    let mut cb = CommandBuffer::new();
    ok!(cb.dma_fill(dst.va(), HALF, 0x5a5a_5a5a));
    igt::assert_eq!(
        run(&ctx3, &cb, &[(dst.handle(), true)])?,
        DONE,
        "a job on the importer's own memory"
    );
    igt::assert!(
        read(&dst, 0, HALF)?.iter().all(|&b| b == 0x5a),
        "the importer's own memory"
    );
    Ok(())
}

fn main() {
    igt::main(|t| {
        t.subtest("dma-read-write", dma_read_write);
        t.subtest("tpc-read-write", tpc_read_write);
        t.subtest("refused-topology", refused_topology);
        t.subtest("static-importer-refused", static_importer_refused);
        t.subtest("revoke-on-unbind", revoke_on_unbind);
    })
}
