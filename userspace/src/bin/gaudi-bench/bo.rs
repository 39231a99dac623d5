// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Buffer objects and PRIME, against vgem's dumb buffers.
//!
//! Measures, in operations per second, (a) the life of a buffer object as a CPU client sees it:
//! create, map, touch one byte per page, unmap and close, for 4 KiB and 1 MiB objects, and
//! creation alone (create and close); and (b) PRIME: export a handle and import the dma-buf,
//! on the same file, on a second file of the same device, and (for gaudi) on the other gaudi
//! device. vgem's dumb buffers run the same sequences as the reference; the ratio is gaudi's
//! rate over vgem's, so above 1 is faster.

use std::{
    fs::File,
    io,
    os::fd::{AsFd, AsRawFd, BorrowedFd},
    time::{Duration, Instant},
};

use gaudi::{
    drm::{self, DRM_CLOEXEC, DRM_RDWR},
    uapi::{DRM_GAUDI_BO_DEVICE, DRM_GAUDI_BO_WC},
    Device, Mapping,
};

use crate::median;

const PAGE: usize = 4096;
const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;

/// A file that can create, map and close buffer objects: a gaudi node or vgem.
trait Allocator {
    /// The file.
    fn fd(&self) -> BorrowedFd<'_>;
    /// Creates an object of `size` bytes; returns its handle and size.
    fn create(&self, size: u64) -> io::Result<(u32, u64)>;
    /// The fake mmap offset of `handle`.
    fn offset(&self, handle: u32) -> io::Result<u64>;
}

/// A gaudi node creating objects with fixed flags.
struct Gaudi<'a> {
    dev: &'a Device,
    flags: u32,
}

impl Allocator for Gaudi<'_> {
    fn fd(&self) -> BorrowedFd<'_> {
        self.dev.as_fd()
    }

    fn create(&self, size: u64) -> io::Result<(u32, u64)> {
        let bo = self.dev.gem_create(size, self.flags)?;
        Ok((bo.handle, bo.size))
    }

    fn offset(&self, handle: u32) -> io::Result<u64> {
        self.dev.gem_mmap_offset(handle)
    }
}

/// vgem's primary node, with dumb buffers.
struct Vgem<'a>(&'a File);

impl Allocator for Vgem<'_> {
    fn fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }

    fn create(&self, size: u64) -> io::Result<(u32, u64)> {
        let d = drm::create_dumb_bytes(self.0.as_fd(), size)?;
        Ok((d.handle, d.size))
    }

    fn offset(&self, handle: u32) -> io::Result<u64> {
        drm::map_dumb(self.0.as_fd(), handle)
    }
}

/// Runs `op` `iters` times after a short warm-up; `op` returns the time of the part it
/// measures. Returns operations per second.
fn rate(iters: u32, op: &mut Op<'_>) -> io::Result<f64> {
    for _ in 0..iters.div_ceil(10) {
        op()?;
    }
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        total += op()?;
    }
    Ok(f64::from(iters) / total.as_secs_f64().max(1e-9))
}

/// A timed operation: returns the time of the part it measures.
type Op<'a> = dyn FnMut() -> io::Result<Duration> + 'a;

/// Measures `ours` and, if given, `theirs` in `rounds` alternating rounds of `iters`
/// operations; returns the median rates.
fn compare(
    rounds: u32,
    iters: u32,
    ours: &mut Op<'_>,
    mut theirs: Option<&mut Op<'_>>,
) -> io::Result<(f64, Option<f64>)> {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        if let Some(t) = theirs.as_mut() {
            b.push(rate(iters, &mut **t)?);
        }
        a.push(rate(iters, &mut *ours)?);
    }
    Ok((median(a), theirs.map(|_| median(b))))
}

/// One life of an object: create, map, touch every page, unmap, close.
fn lifecycle(a: &dyn Allocator, size: u64) -> io::Result<Duration> {
    let t = Instant::now();
    let (handle, size) = a.create(size)?;
    let offset = a.offset(handle)?;
    let len = usize::try_from(size).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let map = Mapping::shared(a.fd(), offset, len)?;
    for page in (0..len).step_by(PAGE) {
        map.write(page, &[1])?;
    }
    drop(map);
    drm::gem_close(a.fd(), handle)?;
    Ok(t.elapsed())
}

/// Creation alone: create and close, without mapping.
fn create_close(a: &dyn Allocator, size: u64) -> io::Result<Duration> {
    let t = Instant::now();
    let (handle, _) = a.create(size)?;
    drm::gem_close(a.fd(), handle)?;
    Ok(t.elapsed())
}

/// Bytes of the objects of the CPU-write rows.
const WRITE_SIZE: u64 = 64 * KIB;

/// CPU writes to an object: an object of [`WRITE_SIZE`] mapped and faulted in, then each
/// operation copies [`WRITE_SIZE`] bytes into the mapping. Without the object's creation and
/// page faults, this is what the CPU's stores to its memory cost (for device memory, stores
/// through the BAR, as when the kernel clears device memory).
fn cpu_writes<'a>(a: &'a dyn Allocator) -> io::Result<impl FnMut() -> io::Result<Duration> + 'a> {
    let (handle, size) = a.create(WRITE_SIZE)?;
    let len = usize::try_from(size).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let map = Mapping::shared(a.fd(), a.offset(handle)?, len);
    // The mapping keeps the object alive.
    drm::gem_close(a.fd(), handle)?;
    let map = map?;
    let data = vec![0x5au8; len];
    map.write(0, &data)?;
    Ok(move || {
        let t = Instant::now();
        map.write(0, &data)?;
        Ok(t.elapsed())
    })
}

/// Export `handle` from `from` and import it into `to`, then close what the import and the
/// export made: the imported handle if it is a new one (`to` is another file), and the dma-buf
/// fd. Only this is timed.
fn prime_round(from: &dyn Allocator, to: &dyn Allocator, handle: u32) -> io::Result<Duration> {
    let same_file = from.fd().as_raw_fd() == to.fd().as_raw_fd();
    let t = Instant::now();
    let fd = drm::prime_handle_to_fd(from.fd(), handle, DRM_CLOEXEC | DRM_RDWR)?;
    let imported = drm::prime_fd_to_handle(to.fd(), fd.as_fd())?;
    if !same_file {
        drm::gem_close(to.fd(), imported)?;
    }
    drop(fd);
    let elapsed = t.elapsed();
    if same_file && imported != handle {
        // The PRIME cache of the file must return the handle it already has.
        return Err(io::Error::from_raw_os_error(libc::EPROTO));
    }
    Ok(elapsed)
}

/// PRIME on a fresh object per operation: the object is created and closed outside the
/// timing, so that each export makes a new dma-buf.
fn prime<'a>(
    from: &'a dyn Allocator,
    to: &'a dyn Allocator,
) -> impl FnMut() -> io::Result<Duration> + 'a {
    move || {
        let (handle, _) = from.create(4 * KIB)?;
        let r = prime_round(from, to, handle);
        drm::gem_close(from.fd(), handle)?;
        r
    }
}

/// One line of the table: gaudi's rate, vgem's (if measured) and their ratio.
fn row(what: &str, ours: f64, vgem: Option<f64>) {
    let (v, r) = match vgem {
        Some(v) => (format!("{v:12.0}"), format!("{:7.2}x", ours / v)),
        None => (format!("{:>12}", "-"), format!("{:>8}", "-")),
    };
    println!("  {what:<40} {ours:12.0} {v} {r}");
}

fn header(title: &str) {
    println!("{title}");
    println!(
        "  {:<40} {:>12} {:>12} {:>8}",
        "", "gaudi ops/s", "vgem ops/s", "ratio"
    );
}

/// The object kinds of gaudi's rows.
const KINDS: [(u32, &str); 3] = [
    (0, "system"),
    (DRM_GAUDI_BO_WC, "system WC"),
    (DRM_GAUDI_BO_DEVICE, "device"),
];

/// Rows of `op` on objects of each size in `sizes` (with the iteration count for it) and each
/// kind in `kinds`, against vgem with the same size; device memory only while it has room.
fn size_rows(
    dev: &Device,
    vgem: Option<&File>,
    rounds: u32,
    sizes: &[(u64, &str, u32)],
    kinds: &[(u32, &str)],
    op: fn(&dyn Allocator, u64) -> io::Result<Duration>,
) -> io::Result<()> {
    let dram_free = dev.memory_info()?.dram_free;
    for &(size, name, iters) in sizes {
        for &(flags, kind) in kinds {
            if flags == DRM_GAUDI_BO_DEVICE && dram_free < size {
                continue;
            }
            let ours = Gaudi { dev, flags };
            let mut theirs = vgem.map(|f| move || op(&Vgem(f), size));
            let (o, v) = compare(
                rounds,
                iters,
                &mut || op(&ours, size),
                theirs.as_mut().map(|t| t as &mut Op<'_>),
            )?;
            row(&format!("{name} {kind}"), o, v);
        }
    }
    Ok(())
}

/// The buffer-object and PRIME tables: `n` operations per measurement, median of `rounds`.
pub(crate) fn run(dev: &Device, n: u32, rounds: u32) -> io::Result<()> {
    let dev2 = Device::open(dev.path())?;
    let other = Device::enumerate()?
        .into_iter()
        .find(|d| d.minor().ok() != dev.minor().ok());
    let vgem = drm::open_primary("vgem")?;
    let vgem2 = drm::open_primary("vgem")?;
    println!(
        "Buffer objects against {}, median of {rounds} rounds of {n} operations",
        if vgem.is_some() {
            "vgem dumb buffers"
        } else {
            "nothing (no vgem device)"
        },
    );
    println!();

    header("Buffer object: create + mmap + touch each page + munmap + close");
    let sizes = [(4 * KIB, "4 KiB", n), (MIB, "1 MiB", n.div_ceil(4))];
    size_rows(dev, vgem.as_ref(), rounds, &sizes, &KINDS, lifecycle)?;
    println!();

    // Creation alone, where device memory differs from system memory: it is allocated and
    // cleared at creation, system memory when it is first touched.
    header("Buffer object: create + close (no mapping)");
    size_rows(
        dev,
        vgem.as_ref(),
        rounds,
        &sizes,
        &[KINDS[0], KINDS[2]],
        create_close,
    )?;
    // The same with a 4 KiB device-memory object held: the buddy allocator then finds a free
    // 4 KiB block and neither splits a larger one at creation nor merges it back at close.
    if dev.memory_info()?.dram_free >= 8 * KIB {
        let held = dev.gem_create(4 * KIB, DRM_GAUDI_BO_DEVICE)?;
        size_rows(
            dev,
            vgem.as_ref(),
            rounds,
            &[(4 * KIB, "4 KiB", n)],
            &[(DRM_GAUDI_BO_DEVICE, "device, 4 KiB buddy held")],
            create_close,
        )?;
        dev.gem_close(held.handle)?;
    }
    println!();

    header("CPU writes: copy 64 KiB into a mapped object (faulted in before)");
    let vgem_writer = vgem.as_ref().map(Vgem);
    let mut theirs = vgem_writer.as_ref().map(|v| cpu_writes(v)).transpose()?;
    for (flags, kind) in KINDS {
        let ours = Gaudi { dev, flags };
        let (o, v) = compare(
            rounds,
            n,
            &mut cpu_writes(&ours)?,
            theirs.as_mut().map(|t| t as &mut Op<'_>),
        )?;
        row(kind, o, v);
    }
    println!();

    header("PRIME: export + import + close (4 KiB system-memory object)");
    let ours = Gaudi { dev, flags: 0 };
    let ours2 = Gaudi {
        dev: &dev2,
        flags: 0,
    };
    let vgems = vgem.as_ref().map(Vgem);
    let vgems2 = vgem2.as_ref().map(Vgem);
    let mut v_same = vgems.as_ref().map(|v| prime(v, v));
    let (o, v) = compare(
        rounds,
        n,
        &mut prime(&ours, &ours),
        v_same.as_mut().map(|t| t as &mut Op<'_>),
    )?;
    row("same file", o, v);
    let mut v_second = vgems
        .as_ref()
        .zip(vgems2.as_ref())
        .map(|(a, b)| prime(a, b));
    let (o, v) = compare(
        rounds,
        n,
        &mut prime(&ours, &ours2),
        v_second.as_mut().map(|t| t as &mut Op<'_>),
    )?;
    row("second file, same device", o, v);
    if let Some(o) = &other {
        let theirs = Gaudi { dev: o, flags: 0 };
        let (r, _) = compare(rounds, n, &mut prime(&ours, &theirs), None)?;
        row(&format!("to {} (real import)", o.path().display()), r, None);
    }
    if let Some(v) = &vgems {
        let (r, _) = compare(rounds, n, &mut prime(&ours, v), None)?;
        row("to vgem (real import)", r, None);
        let (r, _) = compare(rounds, n, &mut prime(v, &ours), None)?;
        row("from vgem (real import)", r, None);
    }
    println!();
    println!(
        "  same file: the import finds the handle in the file's PRIME cache, nothing is created."
    );
    println!(
        "  second file: the same drm_device, so the DRM core returns the original object under a"
    );
    println!("  new handle, without attaching. Real import: a dma-buf attachment, mapped for the");
    println!(
        "  importing device (vgem attaches without mapping). Each round exports a new object."
    );
    println!("  Ratio: gaudi ops/s over vgem ops/s (above 1: gaudi is faster).");
    Ok(())
}
