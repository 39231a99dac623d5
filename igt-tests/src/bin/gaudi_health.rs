// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Health and usage reporting (`Documentation/health.rst`): the fdinfo keys of a client, the
//! health query, the hwmon device, debugfs and the firmware's fwctl RPCs, each checked while
//! another client keeps the device busy, and checked to move when the device's work,
//! sensors and counters do.

use std::{
    collections::HashMap,
    fs,
    os::fd::{AsFd, AsRawFd},
    path::PathBuf,
    process::Command,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use accel_igt::{exec::run, exec::run_ok, ioctl_ptr_errno, ok, open_device, Kind};
use gaudi::{
    cmdbuf::CommandBuffer,
    uapi::{self, drm_gaudi_health},
    Buffer, Context, Device, Priority,
};

const P: u64 = uapi::DRM_GAUDI_VM_PAGE_SIZE;
const ENGINES: [&str; 4] = ["queue0", "queue1", "queue2", "queue3"];

/// The fdinfo of `dev`'s file, key by key.
fn fdinfo(dev: &Device) -> igt::Result<HashMap<String, String>> {
    let path = format!("/proc/self/fdinfo/{}", dev.as_fd().as_raw_fd());
    let text = ok!(fs::read_to_string(&path), "read {path}");
    Ok(text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect())
}

/// The value of fdinfo key `key`: a number with an optional unit (`ns`, `KiB`, `MiB`), in
/// the base unit.
fn number(info: &HashMap<String, String>, key: &str) -> igt::Result<u64> {
    let v = info
        .get(key)
        .ok_or_else(|| igt::fail!("fdinfo has no {key}: {info:?}"))?;
    let mut words = v.split_whitespace();
    let n: u64 = words
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| igt::fail!("{key}: {v} is not a number"))?;
    let scale = match words.next() {
        None | Some("ns") => 1,
        Some("KiB") => 1 << 10,
        Some("MiB") => 1 << 20,
        Some("GiB") => 1 << 30,
        Some(u) => return Err(igt::fail!("{key}: unknown unit {u}")),
    };
    Ok(n * scale)
}

/// Busy nanoseconds of each engine in `dev`'s fdinfo.
fn engines(dev: &Device) -> igt::Result<[u64; 4]> {
    let info = fdinfo(dev)?;
    let mut busy = [0; 4];
    for (b, name) in busy.iter_mut().zip(ENGINES) {
        *b = number(&info, &format!("drm-engine-{name}"))?;
    }
    Ok(busy)
}

/// Another client keeping the device busy with DMA copies in device memory until dropped.
struct Load {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<u64, String>>>,
}

impl Load {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || -> Result<u64, String> {
            let dev = open_device().map_err(|e| format!("open: {e}"))?;
            let ctx = Context::new(&dev, Priority::Normal).map_err(|e| format!("ctx: {e}"))?;
            let size = 4 << 20;
            let src = Buffer::new(&dev, size, Kind::Device.flags()).map_err(|e| e.to_string())?;
            let dst = Buffer::new(&dev, size, Kind::Device.flags()).map_err(|e| e.to_string())?;
            let mut cb = CommandBuffer::new();
            for _ in 0..16 {
                cb.dma_copy(src.va(), dst.va(), size)
                    .map_err(|e| e.to_string())?;
            }
            let mut jobs = 0;
            while !flag.load(Ordering::Relaxed) {
                run_ok(&ctx, &cb, &[(src.handle(), false), (dst.handle(), true)])
                    .map_err(|e| format!("{e:?}"))?;
                jobs += 1;
            }
            Ok(jobs)
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops the load; fails if one of its jobs did.
    fn finish(mut self) -> igt::Result<u64> {
        self.stop.store(true, Ordering::Relaxed);
        let t = self.thread.take().ok_or_else(|| igt::fail!("no load"))?;
        match t.join() {
            Ok(Ok(jobs)) => Ok(jobs),
            Ok(Err(e)) => Err(igt::fail!("the other client's work failed: {e}")),
            Err(_) => Err(igt::fail!("the other client's thread panicked")),
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A job of `dev` that fills `n` MiB of `b`.
fn fill_job(b: &Buffer<'_>, n: u64) -> igt::Result<CommandBuffer> {
    let mut cb = CommandBuffer::new();
    for i in 0..n {
        ok!(cb.dma_fill(b.va() + i * (1 << 20), 1 << 20, 0x5a5a_0000 | i as u32));
    }
    Ok(cb)
}

fn fdinfo_keys() -> igt::Result {
    let _load = Load::start();
    let dev = ok!(open_device());
    let info = fdinfo(&dev)?;
    igt::assert_eq!(info.get("drm-driver").map(String::as_str), Some("gaudi"));
    igt::assert!(info.contains_key("drm-client-id"), "{info:?}");
    let pdev = ok!(dev.pci_address());
    igt::assert_eq!(info.get("drm-pdev"), Some(&pdev));
    // A new client has used nothing.
    igt::assert_eq!(engines(&dev)?, [0; 4]);
    igt::assert_eq!(number(&info, "drm-total-memory")?, 0);
    igt::assert_eq!(number(&info, "drm-shared-memory")?, 0);
    // The core shows resident memory once an object reports its status.
    igt::assert!(!info.contains_key("drm-resident-memory"), "{info:?}");
    // Two clients have two ids.
    let other = ok!(open_device());
    igt::assert_ne!(
        fdinfo(&other)?.get("drm-client-id"),
        info.get("drm-client-id")
    );
    Ok(())
}

fn fdinfo_engine_busy() -> igt::Result {
    let load = Load::start();
    let dev = ok!(open_device());
    let idle = ok!(open_device());
    let ctx = ok!(Context::new(&dev, Priority::Normal));
    let b = ok!(Buffer::new(&dev, 8 << 20, Kind::Device.flags()));
    let cb = fill_job(&b, 8)?;
    let before = engines(&dev)?;
    igt::assert_eq!(before, [0; 4]);
    let t0 = Instant::now();
    for _ in 0..10 {
        run_ok(&ctx, &cb, &[(b.handle(), true)])?;
    }
    let elapsed = t0.elapsed().as_nanos() as u64;
    let after = engines(&dev)?;
    // One context runs on one hardware queue: that engine, and only it, was busy, and no
    // longer than the jobs took.
    let busy: Vec<usize> = (0..4).filter(|&q| after[q] > 0).collect();
    igt::assert_eq!(busy.len(), 1, "engines {after:?}");
    let q = busy[0];
    igt::assert!(after[q] <= elapsed, "busy {} ns in {elapsed} ns", after[q]);
    // The keys never go back.
    for _ in 0..5 {
        run_ok(&ctx, &cb, &[(b.handle(), true)])?;
    }
    let more = engines(&dev)?;
    for e in 0..4 {
        igt::assert!(more[e] >= after[e], "{more:?} after {after:?}");
    }
    // Neither the other client's work nor ours is charged to an idle client.
    igt::assert_eq!(engines(&idle)?, [0; 4]);
    igt::assert!(load.finish()? > 0);
    Ok(())
}

fn fdinfo_memory() -> igt::Result {
    let _load = Load::start();
    let dev = ok!(open_device());
    let other = ok!(open_device());
    let mem = |d: &Device| -> igt::Result<(u64, u64, u64)> {
        let i = fdinfo(d)?;
        // The core shows resident memory once one of the client's objects is resident.
        let resident = match i.contains_key("drm-resident-memory") {
            true => number(&i, "drm-resident-memory")?,
            false => 0,
        };
        Ok((
            number(&i, "drm-total-memory")?,
            resident,
            number(&i, "drm-shared-memory")?,
        ))
    };
    igt::assert_eq!(mem(&dev)?, (0, 0, 0));
    // A system object has no pages until it is used.
    let sys = ok!(dev.gem_create(1 << 20, 0));
    igt::assert_eq!(mem(&dev)?, (1 << 20, 0, 0));
    // Device memory is allocated with the object.
    let vram = ok!(dev.gem_create(2 << 20, uapi::DRM_GAUDI_BO_DEVICE));
    igt::assert_eq!(mem(&dev)?, (3 << 20, 2 << 20, 0));
    // A bound and mapped buffer has its pages.
    let used = ok!(Buffer::new(&dev, 4 * P, 0));
    ok!(used.write(0, &[1u8; 64]));
    igt::assert_eq!(mem(&dev)?, ((3 << 20) + 4 * P, (2 << 20) + 4 * P, 0));
    // An object with a dma-buf is shared, in the exporter and in the importer.
    let dmabuf = ok!(dev.prime_handle_to_fd(vram.handle, 0));
    let imported = ok!(other.prime_fd_to_handle(dmabuf.as_fd()));
    igt::assert_eq!(mem(&dev)?.2, 2 << 20);
    igt::assert_eq!(mem(&other)?, (2 << 20, 2 << 20, 2 << 20));
    ok!(other.gem_close(imported));
    drop(dmabuf);
    drop(used);
    ok!(dev.gem_close(sys.handle));
    ok!(dev.gem_close(vram.handle));
    igt::assert_eq!(mem(&dev)?, (0, 0, 0));
    igt::assert_eq!(mem(&other)?, (0, 0, 0));
    Ok(())
}

/// IGT's `gputop` runs next to a busy client of the node, opened through the `/dev/dri` alias
/// that the guest creates for IGT's own tests, and shows it if it can find it.
fn gputop() -> igt::Result {
    let bin = PathBuf::from("/usr/bin/gputop");
    let alias = PathBuf::from("/dev/dri/card0");
    let dev = ok!(Device::open(&alias), "open {}", alias.display());
    igt::assert_eq!(
        ok!(dev.device_info()).instance,
        ok!(open_device().and_then(|d| d.device_info())).instance
    );
    let ctx = ok!(Context::new(&dev, Priority::Normal));
    let b = ok!(Buffer::new(&dev, 4 << 20, Kind::Device.flags()));
    let cb = fill_job(&b, 4)?;
    run_ok(&ctx, &cb, &[(b.handle(), true)])?;
    let out = ok!(
        Command::new(&bin).args(["-n", "2", "-d", "0.2"]).output(),
        "run {}",
        bin.display()
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let pid = std::process::id().to_string();
    igt::assert!(
        out.status.success(),
        "gputop: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    if !text.lines().any(|l| l.split_whitespace().any(|w| w == pid)) {
        // IGT 2.x's gputop matches clients to the devices of /sys/class/drm (card, renderD);
        // accel devices are in /sys/class/accel.
        igt::skip!("gputop lists clients of /sys/class/drm devices only, not of accel nodes");
    }
    Ok(())
}

/// The health of the device under test.
fn health(dev: &Device) -> igt::Result<drm_gaudi_health> {
    Ok(ok!(dev.health()))
}

fn health_query() -> igt::Result {
    let _load = Load::start();
    let dev = ok!(open_device());
    let mut q = uapi::drm_gaudi_query {
        type_: uapi::DRM_GAUDI_QUERY_HEALTH,
        ..Default::default()
    };
    igt::assert_eq!(
        accel_igt::ioctl_errno(dev.as_fd(), uapi::DRM_IOCTL_GAUDI_QUERY, &mut q),
        0
    );
    igt::assert_eq!(q.size as usize, std::mem::size_of::<drm_gaudi_health>());
    let h = health(&dev)?;
    igt::assert!((20_000..h.temp_crit_mc).contains(&h.temp_mc), "{h:?}");
    igt::assert_eq!(h.temp_crit_mc, 95_000);
    igt::assert!(
        h.power_uw >= 25_000_000 && h.power_uw <= h.power_cap_uw,
        "{h:?}"
    );
    igt::assert!((400..=1800).contains(&h.clock_mhz), "{h:?}");
    igt::assert!(h.voltage_mv >= 700 && h.current_ma > 0, "{h:?}");
    igt::assert_eq!(h.state, uapi::DRM_GAUDI_DEVICE_OK);
    igt::assert_eq!(h.num_queues, 4);
    for s in &h.queue_status[..4] {
        igt::assert!(*s <= 4, "{h:?}");
    }
    igt::assert_eq!(h.queue_status[4..], [0; 4]);
    // A short result is cut, as for every query.
    let mut buf = [0u8; 8];
    igt::assert_eq!(ok!(dev.query(uapi::DRM_GAUDI_QUERY_HEALTH, &mut buf)), 8);
    igt::assert_eq!(
        u32::from_ne_bytes(buf[4..8].try_into().unwrap_or([0; 4])),
        95_000
    );
    Ok(())
}

/// Waits until the device's sensors saw a second of `load`, then returns the health.
fn loaded_health(dev: &Device) -> igt::Result<drm_gaudi_health> {
    thread::sleep(Duration::from_millis(1500));
    health(dev)
}

fn health_under_load() -> igt::Result {
    let dev = ok!(open_device());
    // Idle first: no other client on this device is working now.
    thread::sleep(Duration::from_millis(1200));
    let idle = health(&dev)?;
    let load = Load::start();
    let busy = loaded_health(&dev)?;
    let jobs = load.finish()?;
    let done = health(&dev)?;
    igt::assert!(jobs > 0);
    igt::assert!(busy.busy_ns > idle.busy_ns, "{idle:?} -> {busy:?}");
    igt::assert!(busy.energy_uj > idle.energy_uj, "{idle:?} -> {busy:?}");
    igt::assert!(
        busy.power_avg_uw > idle.power_avg_uw,
        "{idle:?} -> {busy:?}"
    );
    igt::assert!(busy.temp_mc > idle.temp_mc, "{idle:?} -> {busy:?}");
    igt::assert!(busy.clock_mhz > idle.clock_mhz, "{idle:?} -> {busy:?}");
    igt::assert!(
        done.jobs_completed >= idle.jobs_completed + jobs,
        "{done:?}"
    );
    let queue_busy: u64 = busy.queue_busy_ns.iter().sum();
    let idle_busy: u64 = idle.queue_busy_ns.iter().sum();
    igt::assert!(queue_busy > idle_busy, "{idle:?} -> {busy:?}");
    Ok(())
}

fn health_faults() -> igt::Result {
    let _load = Load::start();
    let dev = ok!(open_device());
    let before = health(&dev)?;
    let ctx = ok!(Context::new(&dev, Priority::Normal));
    let scratch = ok!(Buffer::new(&dev, P, 0));
    let unmapped = 1u64 << 44;
    let mut cb = CommandBuffer::new();
    ok!(cb.dma_copy(unmapped, scratch.va(), 64));
    let status = run(&ctx, &cb, &[(scratch.handle(), true)])?;
    igt::assert_eq!(status, -libc::EIO);
    let after = health(&dev)?;
    igt::assert!(after.jobs_failed > before.jobs_failed, "{after:?}");
    igt::assert_eq!(after.last_fault_code, uapi::DRM_GAUDI_ERR_MMU_FAULT);
    igt::assert_eq!(after.last_fault_addr, unmapped);
    igt::assert!(after.last_fault_queue < 4);
    // The device reset the queue past the failed job.
    igt::assert!(
        after.reset_count > before.reset_count,
        "{before:?} -> {after:?}"
    );
    Ok(())
}

/// The sysfs directory of the PCI function of the node under test.
fn pci_dir(dev: &Device) -> igt::Result<PathBuf> {
    Ok(PathBuf::from("/sys/bus/pci/devices").join(ok!(dev.pci_address())))
}

/// The only entry of directory `dir`.
fn only_entry(dir: &PathBuf) -> igt::Result<PathBuf> {
    let mut entries: Vec<PathBuf> = ok!(fs::read_dir(dir), "{}", dir.display())
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    igt::assert_eq!(entries.len(), 1, "{entries:?}");
    Ok(entries.remove(0))
}

fn read_attr(dir: &std::path::Path, name: &str) -> igt::Result<String> {
    let p = dir.join(name);
    Ok(ok!(fs::read_to_string(&p), "read {}", p.display())
        .trim()
        .to_owned())
}

fn read_num(dir: &std::path::Path, name: &str) -> igt::Result<i64> {
    let s = read_attr(dir, name)?;
    s.parse()
        .map_err(|_| igt::fail!("{name}: {s} is not a number"))
}

fn hwmon() -> igt::Result {
    let dev = ok!(open_device());
    let hw = only_entry(&pci_dir(&dev)?.join("hwmon"))?;
    igt::assert_eq!(read_attr(&hw, "name")?, "gaudi");
    igt::assert_eq!(read_attr(&hw, "temp1_label")?, "die");
    igt::assert_eq!(read_attr(&hw, "power1_label")?, "board");
    igt::assert_eq!(read_num(&hw, "temp1_crit")?, 95_000);
    igt::assert!(read_num(&hw, "in0_input")? >= 700);
    igt::assert!(read_num(&hw, "curr1_input")? > 0);
    igt::assert_eq!(read_num(&hw, "power1_cap")?, 350_000_000);
    thread::sleep(Duration::from_millis(1200));
    let (t0, p0, e0) = (
        read_num(&hw, "temp1_input")?,
        read_num(&hw, "power1_average")?,
        read_num(&hw, "energy1_input")?,
    );
    igt::assert!((20_000..95_000).contains(&t0), "temp {t0}");
    // The same sensors as the health query.
    let h = health(&dev)?;
    igt::assert!((i64::from(h.temp_mc) - t0).abs() < 5_000, "{h:?} vs {t0}");
    let load = Load::start();
    thread::sleep(Duration::from_millis(1500));
    let (t1, p1, e1) = (
        read_num(&hw, "temp1_input")?,
        read_num(&hw, "power1_average")?,
        read_num(&hw, "energy1_input")?,
    );
    load.finish()?;
    igt::assert!(t1 > t0, "temp {t0} -> {t1}");
    igt::assert!(p1 > p0, "power {p0} -> {p1}");
    igt::assert!(e1 > e0, "energy {e0} -> {e1}");
    // Read-only: the sensors are the device's.
    igt::assert!(fs::write(hw.join("power1_cap"), "100000000").is_err());
    Ok(())
}

fn debugfs() -> igt::Result {
    let load = Load::start();
    let dev = ok!(open_device());
    let dir = PathBuf::from("/sys/kernel/debug").join(format!("gaudi-{}", ok!(dev.pci_address())));
    let queues = read_attr(&dir, "queues")?;
    for q in 0..4 {
        igt::assert!(queues.contains(&format!("queue{q}: status ")), "{queues}");
    }
    igt::assert!(queues.contains("jobs_completed "), "{queues}");
    // The other client's VM and the kernel's have valid contexts.
    thread::sleep(Duration::from_millis(200));
    let vms = read_attr(&dir, "vms")?;
    igt::assert!(vms.contains("asid 0: kernel ttbr "), "{vms}");
    igt::assert!(vms.contains(": client ttbr "), "{vms}");
    let engine = read_attr(&dir, "engine")?;
    for key in [
        "engine_busy ",
        "busy_ns ",
        "temp_mc ",
        "clock_mhz ",
        "ecc_ce_count ",
    ] {
        igt::assert!(engine.contains(key), "{engine}");
    }
    load.finish()?;
    Ok(())
}

// fwctl uapi (include/uapi/fwctl/fwctl.h).
const FWCTL_INFO: usize = 0x9a00;
const FWCTL_RPC: usize = 0x9a01;
const FWCTL_DEVICE_TYPE_GAUDI: u32 = 5;
const SCOPE_CONFIGURATION: u32 = 0;
const SCOPE_DEBUG_READ_ONLY: u32 = 1;
const SCOPE_DEBUG_WRITE: u32 = 2;

#[repr(C)]
#[derive(Default)]
struct FwctlInfo {
    size: u32,
    flags: u32,
    out_device_type: u32,
    device_data_len: u32,
    out_device_data: u64,
}

#[repr(C)]
#[derive(Default)]
struct FwctlRpc {
    size: u32,
    scope: u32,
    in_len: u32,
    out_len: u32,
    inp: u64,
    out: u64,
}

/// The fwctl node of the device under test.
fn fwctl_open(dev: &Device) -> igt::Result<fs::File> {
    let name = only_entry(&pci_dir(dev)?.join("fwctl"))?;
    let name = name
        .file_name()
        .ok_or_else(|| igt::fail!("no fwctl device"))?
        .to_string_lossy()
        .into_owned();
    let path = format!("/dev/fwctl/{name}");
    Ok(ok!(
        fs::OpenOptions::new().read(true).write(true).open(&path),
        "open {path}"
    ))
}

/// Sends `req` (any length) with `scope`; returns the answer or the errno.
fn rpc(fw: &fs::File, scope: u32, req: &[u8]) -> Result<uapi::gaudi_fwctl_rpc_out, i32> {
    let mut out = uapi::gaudi_fwctl_rpc_out::default();
    let mut arg = FwctlRpc {
        size: std::mem::size_of::<FwctlRpc>() as u32,
        scope,
        in_len: req.len() as u32,
        out_len: std::mem::size_of_val(&out) as u32,
        inp: req.as_ptr() as u64,
        out: &raw mut out as u64,
    };
    match ioctl_ptr_errno(fw.as_fd(), FWCTL_RPC as u32, &raw mut arg as usize) {
        0 => Ok(out),
        e => Err(e),
    }
}

fn request(cmd: u32, key: u32, value: u32) -> Vec<u8> {
    [cmd, key, value, 0]
        .iter()
        .flat_map(|w| w.to_ne_bytes())
        .collect()
}

fn fwctl_info() -> igt::Result {
    let dev = ok!(open_device());
    let fw = fwctl_open(&dev)?;
    let mut data = uapi::fwctl_info_gaudi::default();
    let mut info = FwctlInfo {
        size: std::mem::size_of::<FwctlInfo>() as u32,
        device_data_len: std::mem::size_of_val(&data) as u32,
        out_device_data: &raw mut data as u64,
        ..Default::default()
    };
    igt::assert_eq!(
        ioctl_ptr_errno(fw.as_fd(), FWCTL_INFO as u32, &raw mut info as usize),
        0
    );
    igt::assert_eq!(info.out_device_type, FWCTL_DEVICE_TYPE_GAUDI);
    igt::assert_eq!(info.device_data_len as usize, std::mem::size_of_val(&data));
    igt::assert_eq!(data.instance, ok!(dev.device_info()).instance);
    igt::assert_eq!(data.num_config, 2);
    Ok(())
}

fn fwctl_diag() -> igt::Result {
    let _load = Load::start();
    let dev = ok!(open_device());
    let fw = fwctl_open(&dev)?;
    for scope in [SCOPE_CONFIGURATION, SCOPE_DEBUG_READ_ONLY] {
        let out = rpc(&fw, scope, &request(uapi::GAUDI_FWCTL_CMD_DIAG, 0, 0))
            .map_err(|e| igt::fail!("DIAG in scope {scope}: errno {e}"))?;
        igt::assert_eq!(out.status, uapi::GAUDI_FWCTL_STATUS_OK);
        igt::assert_eq!(out.len, 10);
        igt::assert_eq!(out.data[0], 0x0001_0000);
        igt::assert!((20_000..95_000).contains(&out.data[2]), "{out:?}");
        igt::assert!(out.data[3] >= 25_000_000, "{out:?}");
        igt::assert!(out.data[9] > 0, "no packets: {out:?}");
        let out = rpc(
            &fw,
            scope,
            &request(
                uapi::GAUDI_FWCTL_CMD_GET_CONFIG,
                uapi::GAUDI_FWCTL_CFG_CLOCK_MAX,
                0,
            ),
        )
        .map_err(|e| igt::fail!("GET_CONFIG: errno {e}"))?;
        igt::assert_eq!((out.status, out.len), (uapi::GAUDI_FWCTL_STATUS_OK, 1));
        igt::assert!((400..=1800).contains(&out.data[0]));
        let out = rpc(&fw, scope, &request(uapi::GAUDI_FWCTL_CMD_GET_CONFIG, 7, 0))
            .map_err(|e| igt::fail!("GET_CONFIG 7: errno {e}"))?;
        igt::assert_eq!(out.status, uapi::GAUDI_FWCTL_STATUS_BAD_KEY);
    }
    Ok(())
}

fn fwctl_scopes() -> igt::Result {
    let dev = ok!(open_device());
    let fw = fwctl_open(&dev)?;
    let set = request(
        uapi::GAUDI_FWCTL_CMD_SET_CONFIG,
        uapi::GAUDI_FWCTL_CFG_CLOCK_MAX,
        1000,
    );
    // Writes need the write scope.
    for scope in [SCOPE_CONFIGURATION, SCOPE_DEBUG_READ_ONLY] {
        igt::assert_eq!(rpc(&fw, scope, &set).err(), Some(libc::EPERM));
    }
    // Malformed requests.
    let bad = [
        request(9, 0, 0),
        request(uapi::GAUDI_FWCTL_CMD_DIAG, 1, 0),
        [request(uapi::GAUDI_FWCTL_CMD_DIAG, 0, 0), vec![0; 4]].concat(),
        request(uapi::GAUDI_FWCTL_CMD_DIAG, 0, 0)[..12].to_vec(),
        Vec::new(),
    ];
    for req in &bad {
        igt::assert_eq!(rpc(&fw, SCOPE_CONFIGURATION, req).err(), Some(libc::EINVAL));
    }
    let mut flags = request(uapi::GAUDI_FWCTL_CMD_DIAG, 0, 0);
    flags[12] = 1;
    igt::assert_eq!(
        rpc(&fw, SCOPE_CONFIGURATION, &flags).err(),
        Some(libc::EINVAL)
    );
    // An unknown scope is the fwctl core's to refuse.
    igt::assert_eq!(
        rpc(&fw, 9, &request(uapi::GAUDI_FWCTL_CMD_DIAG, 0, 0)).err(),
        Some(libc::EOPNOTSUPP)
    );
    // Nothing changed.
    let out = rpc(
        &fw,
        SCOPE_CONFIGURATION,
        &request(
            uapi::GAUDI_FWCTL_CMD_GET_CONFIG,
            uapi::GAUDI_FWCTL_CFG_CLOCK_MAX,
            0,
        ),
    )
    .map_err(|e| igt::fail!("GET_CONFIG: errno {e}"))?;
    igt::assert_eq!(out.data[0], 1800);
    Ok(())
}

fn fwctl_set_config() -> igt::Result {
    let dev = ok!(open_device());
    let fw = fwctl_open(&dev)?;
    // The fwctl core warns once, when it taints the kernel for the write scope.
    igt::ignore_dmesg_regex(
        // No backslashes: the kernel log escapes them.
        "fwctl fwctl[0-9]+: gaudi_health.[0-9]+.: has requested full access to the physical device",
    );
    let set = |key, value| {
        rpc(
            &fw,
            SCOPE_DEBUG_WRITE,
            &request(uapi::GAUDI_FWCTL_CMD_SET_CONFIG, key, value),
        )
        .map_err(|e| igt::fail!("SET_CONFIG {key} {value}: errno {e}"))
    };
    igt::assert_eq!(
        set(uapi::GAUDI_FWCTL_CFG_CLOCK_MAX, 100)?.status,
        uapi::GAUDI_FWCTL_STATUS_BAD_VALUE
    );
    igt::assert_eq!(
        set(uapi::GAUDI_FWCTL_CFG_CLOCK_MAX, 800)?.status,
        uapi::GAUDI_FWCTL_STATUS_OK
    );
    igt::assert_eq!(
        set(uapi::GAUDI_FWCTL_CFG_POWER_CAP, 100_000)?.status,
        uapi::GAUDI_FWCTL_STATUS_OK
    );
    // The device follows its configuration: under load the clock stays under the new
    // maximum and the power under the new cap, as hwmon and the health query show.
    let load = Load::start();
    thread::sleep(Duration::from_millis(300));
    let mut samples = Vec::new();
    for _ in 0..10 {
        thread::sleep(Duration::from_millis(150));
        samples.push(health(&dev)?);
    }
    let hw = only_entry(&pci_dir(&dev)?.join("hwmon"))?;
    let cap = read_num(&hw, "power1_cap")?;
    load.finish()?;
    let restored = (
        set(uapi::GAUDI_FWCTL_CFG_CLOCK_MAX, 1800)?.status,
        set(uapi::GAUDI_FWCTL_CFG_POWER_CAP, 350_000)?.status,
    );
    igt::assert_eq!(restored, (0, 0));
    for h in &samples {
        igt::assert!(h.clock_mhz <= 800, "{h:?}");
        igt::assert_eq!(h.power_cap_uw, 100_000_000);
        igt::assert!(h.power_uw <= 100_000_000, "{h:?}");
    }
    // The load did raise the clock.
    let top = samples.iter().map(|h| h.clock_mhz).max().unwrap_or(0);
    igt::assert!(top > 400, "{samples:?}");
    igt::assert_eq!(cap, 100_000_000);
    Ok(())
}

fn main() {
    igt::main(|t| {
        t.subtest("fdinfo-keys", fdinfo_keys);
        t.subtest("fdinfo-engine-busy", fdinfo_engine_busy);
        t.subtest("fdinfo-memory", fdinfo_memory);
        t.subtest("gputop", gputop);
        t.subtest("health-query", health_query);
        t.subtest("health-under-load", health_under_load);
        t.subtest("health-faults", health_faults);
        t.subtest("hwmon", hwmon);
        t.subtest("debugfs", debugfs);
        t.subtest("fwctl-info", fwctl_info);
        t.subtest("fwctl-diag", fwctl_diag);
        t.subtest("fwctl-scopes", fwctl_scopes);
        t.subtest("fwctl-set-config", fwctl_set_config);
    });
}
