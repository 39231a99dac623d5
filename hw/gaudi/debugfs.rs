// SPDX-License-Identifier: GPL-2.0 OR MIT

//! debugfs view of a device: `/sys/kernel/debug/gaudi-<pci name>/`.
//!
//! - `queues`: per hardware queue, the device's state (`Q_STATUS`, head, tail, bytes not
//!   consumed) and the driver's counters (jobs completed and failed, busy time, last fault);
//! - `vms`: the valid MMU contexts (address spaces) and the root of their page tables;
//! - `engine`: the device's health block: engines busy, busy time, sensors, error counters;
//! - `ras`, `inject`, `job_timeout_ms`: error handling and fault injection (`recovery.rs`).
//!
//! The files read the registers when read; once the device is unbound they are gone.

use core::fmt;

use kernel::{
    debugfs::{Dir, File},
    device::{Bound, Device},
    prelude::*,
    str::CString,
    sync::Arc,
};

use crate::{
    engine::Engine,
    hw::{health as h, mmu, queue as hwq, regs},
    recovery::RecoveryFiles,
};

/// The debugfs directory of a device and its files.
pub(crate) struct Debugfs {
    _files: [Pin<KBox<File<Arc<Engine>>>>; 3],
    /// `ras`, `inject` and `job_timeout_ms` (`recovery.rs`).
    _recovery: RecoveryFiles,
    _root: Dir,
}

impl Debugfs {
    /// Creates the directory of the device `dev` whose execution state is `engine`.
    pub(crate) fn new(dev: &Device<Bound>, engine: &Arc<Engine>) -> Result<Self> {
        let name = CString::try_from_fmt(fmt!("gaudi-{}", dev.name()))?;
        let root = Dir::new(&name);
        // Each callback is its own function: debugfs calls it through its (zero-sized) type.
        let files = [
            KBox::pin_init(
                root.read_callback_file(c"queues", engine.clone(), &show_queues),
                GFP_KERNEL,
            )?,
            KBox::pin_init(
                root.read_callback_file(c"vms", engine.clone(), &show_vms),
                GFP_KERNEL,
            )?,
            KBox::pin_init(
                root.read_callback_file(c"engine", engine.clone(), &show_engine),
                GFP_KERNEL,
            )?,
        ];
        let recovery = RecoveryFiles::new(&root, engine)?;
        Ok(Self {
            _files: files,
            _recovery: recovery,
            _root: root,
        })
    }
}

/// Writes `what` if the device answered, else that it did not.
fn or_gone(f: &mut fmt::Formatter<'_>, what: Result<fmt::Result>) -> fmt::Result {
    match what {
        Ok(r) => r,
        Err(e) => writeln!(f, "device unavailable: {e:?}"),
    }
}

fn show_queues(engine: &Arc<Engine>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let r = &engine.shared;
    for (q, queue) in engine.queues.iter().enumerate() {
        let reg = |off| hwq::queue_reg(q as u32, off);
        let state = (|| -> Result<(u32, u32, u32)> {
            Ok((
                r.read32(reg(hwq::Q_STATUS))?,
                r.read32(reg(hwq::Q_HEAD))?,
                r.read32(reg(hwq::Q_TAIL))?,
            ))
        })();
        let (completed, failed) = queue.stats.jobs();
        write!(f, "queue{q}:")?;
        match state {
            Ok((status, head, tail)) => {
                let name = match status {
                    hwq::Q_STATUS_DISABLED => "disabled",
                    hwq::Q_STATUS_IDLE => "idle",
                    hwq::Q_STATUS_BUSY => "busy",
                    hwq::Q_STATUS_WAITING => "waiting",
                    hwq::Q_STATUS_ERROR => "error",
                    _ => "unknown",
                };
                write!(
                    f,
                    " status {name} head {head:#x} tail {tail:#x} pending {}",
                    tail.wrapping_sub(head)
                )?;
            }
            Err(e) => write!(f, " device unavailable: {e:?}")?,
        }
        write!(
            f,
            " jobs_completed {completed} jobs_failed {failed} busy_ns {}",
            queue.stats.busy_ns()
        )?;
        match queue.stats.fault() {
            Some(fault) => writeln!(
                f,
                " last_fault {} addr {:#x} packet {:#x}",
                fault.code, fault.addr, fault.packet
            )?,
            None => writeln!(f, " last_fault none")?,
        }
    }
    Ok(())
}

fn show_vms(engine: &Arc<Engine>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let r = &engine.shared;
    let shown = (|| -> Result<fmt::Result> {
        let count = r.read32(regs::NUM_ASIDS)?.min(regs::NUM_ASIDS_VALUE);
        for asid in 0..count {
            if r.read32(mmu::ctx_reg(asid, mmu::CTX_CTRL))? & mmu::CTX_CTRL_VALID == 0 {
                continue;
            }
            let ttbr = r.read64(mmu::ctx_reg(asid, mmu::CTX_TTBR))?;
            let owner = if asid == mmu::ASID_KERNEL {
                "kernel"
            } else {
                "client"
            };
            if let Err(e) = writeln!(f, "asid {asid}: {owner} ttbr {ttbr:#x}") {
                return Ok(Err(e));
            }
        }
        Ok(Ok(()))
    })();
    or_gone(f, shown)
}

fn show_engine(engine: &Arc<Engine>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let r = &engine.shared;
    let shown = (|| -> Result<fmt::Result> {
        let busy = r.read32(h::ENGINE_BUSY)?;
        let busy_ns = r.read64(h::BUSY_NS)?;
        let rows: [(&str, u32); 10] = [
            ("temp_mc", r.read32(h::TEMP)?),
            ("power_uw", r.read32(h::POWER)?),
            ("power_avg_uw", r.read32(h::POWER_AVG)?),
            ("power_cap_uw", r.read32(h::POWER_CAP)?),
            ("clock_mhz", r.read32(h::CLOCK)?),
            ("voltage_mv", r.read32(h::VOLTAGE)?),
            ("current_ma", r.read32(h::CURRENT)?),
            ("ecc_ce_count", r.read32(h::ECC_CE_COUNT)?),
            ("ecc_ue_count", r.read32(h::ECC_UE_COUNT)?),
            ("reset_count", r.read32(h::RESET_COUNT)?),
        ];
        let ecc_addr = r.read64(h::ECC_LAST_ADDR)?;
        Ok((|| {
            writeln!(f, "engine_busy {busy:#x}")?;
            writeln!(f, "busy_ns {busy_ns}")?;
            for (name, value) in rows {
                writeln!(f, "{name} {value}")?;
            }
            writeln!(f, "ecc_last_addr {ecc_addr:#x}")
        })())
    })();
    or_gone(f, shown)
}
