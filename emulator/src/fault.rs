// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Fault injection: the failures a real device has, on request.
//!
//! A fault is requested either by the driver, through the `FI_*` registers and the control
//! doorbell (its debugfs file asks the device), or from the host, through the emulator's
//! control socket (`gaudi-emu --control SOCKET`, and `gaudi-emu inject` to send a request).
//! Both end in [`crate::device::Device::inject`]. Queue faults arm the queue's
//! [`QueueFaults`], which its thread consults as it runs; device faults (ECC errors, a lost
//! device) act on the spot.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};

use gaudi_hw::regs;

/// A fault to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The queue hangs at its `after`-th next packet; a queue reset recovers it.
    HangQueue { queue: u32, after: u32 },
    /// The queue's engine hangs at its `after`-th next packet; only an engine reset does.
    HangEngine { queue: u32, after: u32 },
    /// The queue's next completion fence writes a wrong value.
    CorruptCompletion { queue: u32 },
    /// The queue's next `count` completion interrupts are lost.
    DropIrq { queue: u32, count: u32 },
    /// The queue's completion vector and the error vector fire with nothing to report.
    SpuriousIrq { queue: u32 },
    /// A correctable ECC error at device-memory offset `addr`.
    EccCorrectable { addr: u32 },
    /// An uncorrectable ECC error at device-memory offset `addr`.
    EccUncorrectable { addr: u32 },
    /// The device stops answering for `ms` milliseconds, then comes back reset.
    DeviceLost { ms: u32 },
}

/// How long a lost device stays away when the request does not say.
pub const LOST_DEFAULT_MS: u32 = 2000;

impl Fault {
    /// The fault of a `FI_OP`/`FI_QUEUE`/`FI_ARG` request, if it names one (the queue is
    /// checked by the device, which knows how many it has).
    pub fn from_regs(op: u32, queue: u32, arg: u32) -> Option<Self> {
        Some(match op {
            regs::FI_HANG_QUEUE => Fault::HangQueue { queue, after: arg },
            regs::FI_HANG_ENGINE => Fault::HangEngine { queue, after: arg },
            regs::FI_CORRUPT_COMPLETION => Fault::CorruptCompletion { queue },
            regs::FI_DROP_IRQ => Fault::DropIrq {
                queue,
                count: arg.max(1),
            },
            regs::FI_SPURIOUS_IRQ => Fault::SpuriousIrq { queue },
            regs::FI_ECC_CORRECTABLE => Fault::EccCorrectable { addr: arg },
            regs::FI_ECC_UNCORRECTABLE => Fault::EccUncorrectable { addr: arg },
            regs::FI_DEVICE_LOST => Fault::DeviceLost {
                ms: if arg == 0 { LOST_DEFAULT_MS } else { arg },
            },
            _ => return None,
        })
    }

    /// Parses `NAME [QUEUE [ARG]]` as the control socket takes it: the names of
    /// [`regs::FAULTS`], numbers in decimal or `0x` hexadecimal.
    pub fn parse(words: &[&str]) -> Result<Self, String> {
        let (name, rest) = words.split_first().ok_or("no fault named")?;
        let op = regs::FAULTS
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, op)| op)
            .ok_or_else(|| format!("unknown fault `{name}`"))?;
        if rest.len() > 2 {
            return Err(format!("too many arguments for `{name}`"));
        }
        let num = |s: &str| -> Result<u32, String> {
            let v = match s.strip_prefix("0x") {
                Some(h) => u32::from_str_radix(h, 16),
                None => s.parse(),
            };
            v.map_err(|_| format!("bad number `{s}`"))
        };
        let queue = rest.first().map(|s| num(s)).transpose()?.unwrap_or(0);
        let arg = rest.get(1).map(|s| num(s)).transpose()?.unwrap_or(0);
        // Device faults take their argument in the first place.
        let (queue, arg) = match op {
            regs::FI_ECC_CORRECTABLE | regs::FI_ECC_UNCORRECTABLE | regs::FI_DEVICE_LOST => {
                if rest.len() > 1 {
                    return Err(format!("`{name}` takes one argument"));
                }
                (0, queue)
            }
            _ => (queue, arg),
        };
        Fault::from_regs(op, queue, arg).ok_or_else(|| format!("unknown fault `{name}`"))
    }

    /// The queue a queue fault concerns.
    pub fn queue(self) -> Option<u32> {
        match self {
            Fault::HangQueue { queue, .. }
            | Fault::HangEngine { queue, .. }
            | Fault::CorruptCompletion { queue }
            | Fault::DropIrq { queue, .. }
            | Fault::SpuriousIrq { queue } => Some(queue),
            _ => None,
        }
    }
}

/// Faults armed on one queue, consulted by its thread.
#[derive(Default)]
pub struct QueueFaults {
    /// Packets to run before hanging; negative: no hang armed.
    hang_in: AtomicI64,
    /// The armed hang is the engine's: a queue reset does not end it.
    hang_hard: AtomicBool,
    /// The next completion fence writes a wrong value.
    corrupt: AtomicBool,
    /// Completion interrupts still to lose.
    drop_irqs: AtomicU32,
}

impl QueueFaults {
    pub fn new() -> Self {
        Self {
            hang_in: AtomicI64::new(-1),
            ..Self::default()
        }
    }

    /// Arms `fault`, a queue fault of this queue.
    pub fn arm(&self, fault: Fault) {
        match fault {
            Fault::HangQueue { after, .. } | Fault::HangEngine { after, .. } => {
                self.hang_hard
                    .store(matches!(fault, Fault::HangEngine { .. }), Ordering::Relaxed);
                self.hang_in.store(i64::from(after), Ordering::Release);
            }
            Fault::CorruptCompletion { .. } => self.corrupt.store(true, Ordering::Release),
            Fault::DropIrq { count, .. } => {
                self.drop_irqs.fetch_add(count, Ordering::AcqRel);
            }
            _ => {}
        }
    }

    /// Disarms everything (device reset).
    pub fn clear(&self) {
        self.hang_in.store(-1, Ordering::Release);
        self.corrupt.store(false, Ordering::Release);
        self.drop_irqs.store(0, Ordering::Release);
    }

    /// Called before each packet: `Some(hard)` if the queue hangs at this one.
    pub fn hang_now(&self) -> Option<bool> {
        let mut n = self.hang_in.load(Ordering::Acquire);
        loop {
            if n < 0 {
                return None;
            }
            let next = if n == 0 { -1 } else { n - 1 };
            match self
                .hang_in
                .compare_exchange(n, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) if n == 0 => return Some(self.hang_hard.load(Ordering::Relaxed)),
                Ok(_) => return None,
                Err(cur) => n = cur,
            }
        }
    }

    /// Called by a completion fence: whether it writes a wrong value.
    pub fn corrupt_now(&self) -> bool {
        self.corrupt.swap(false, Ordering::AcqRel)
    }

    /// Called before a completion interrupt: whether it is lost.
    pub fn drop_irq_now(&self) -> bool {
        self.drop_irqs
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names_and_arguments() {
        assert_eq!(
            Fault::parse(&["hang-queue", "2", "3"]),
            Ok(Fault::HangQueue { queue: 2, after: 3 })
        );
        assert_eq!(
            Fault::parse(&["hang-engine", "1"]),
            Ok(Fault::HangEngine { queue: 1, after: 0 })
        );
        assert_eq!(
            Fault::parse(&["drop-irq", "0"]),
            Ok(Fault::DropIrq { queue: 0, count: 1 })
        );
        assert_eq!(
            Fault::parse(&["ecc-uncorrectable", "0x1000"]),
            Ok(Fault::EccUncorrectable { addr: 0x1000 })
        );
        assert_eq!(
            Fault::parse(&["device-lost"]),
            Ok(Fault::DeviceLost {
                ms: LOST_DEFAULT_MS
            })
        );
        for bad in [
            &["melt"][..],
            &[],
            &["hang-queue", "x"],
            &["hang-queue", "1", "2", "3"],
            &["device-lost", "1", "2"],
        ] {
            assert!(Fault::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert_eq!(Fault::from_regs(99, 0, 0), None);
    }

    #[test]
    fn hang_fires_once_at_its_packet() {
        let f = QueueFaults::new();
        assert_eq!(f.hang_now(), None);
        f.arm(Fault::HangEngine { queue: 0, after: 2 });
        assert_eq!(f.hang_now(), None);
        assert_eq!(f.hang_now(), None);
        assert_eq!(f.hang_now(), Some(true));
        assert_eq!(f.hang_now(), None);
        f.arm(Fault::HangQueue { queue: 0, after: 0 });
        assert_eq!(f.hang_now(), Some(false));
    }

    #[test]
    fn interrupts_and_fences_are_counted() {
        let f = QueueFaults::new();
        assert!(!f.drop_irq_now() && !f.corrupt_now());
        f.arm(Fault::DropIrq { queue: 0, count: 2 });
        f.arm(Fault::CorruptCompletion { queue: 0 });
        assert!(f.drop_irq_now() && f.drop_irq_now() && !f.drop_irq_now());
        assert!(f.corrupt_now() && !f.corrupt_now());
        f.arm(Fault::DropIrq { queue: 0, count: 5 });
        f.clear();
        assert!(!f.drop_irq_now());
    }
}
