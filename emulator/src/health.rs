// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Health of a device: the load and power model behind its sensors, its error counters and
//! its management firmware's mailbox (`Documentation/device-spec.rst`, "Health, error
//! counters and firmware mailbox").
//!
//! Queue threads report when they start and stop executing packets ([`Load`]); the server
//! thread updates the sensors from that about every 100 ms ([`Sensors::tick`]) and answers
//! the mailbox when the control doorbell rings ([`Sensors::mailbox`]).

use std::{
    collections::VecDeque,
    sync::atomic::{fence, AtomicU32, AtomicU64, Ordering},
    time::{Duration, Instant},
};

use gaudi_hw::{health as h, regs};

use crate::mem::Mapping;

/// How often the sensors are updated.
pub const UPDATE_INTERVAL: Duration = Duration::from_millis(100);
/// Updates that `POWER_AVG` averages over.
const AVG_UPDATES: usize = 10;
/// Idle board power, W.
const IDLE_W: f64 = 25.0;
/// Board power of a fully loaded device at the highest clock, above idle, W.
const LOAD_W: f64 = 200.0;
/// Temperature of an idle device's surroundings, °C.
const AMBIENT_C: f64 = 35.0;
/// Temperature rise per watt, °C/W.
const C_PER_W: f64 = 0.2;
/// Time constant of the temperature, s.
const THERMAL_TAU_S: f64 = 2.0;
/// Highest specified temperature, m°C.
const TEMP_CRIT_MC: u32 = 95_000;

/// Busy time of a device's queues, written by the queue threads.
pub struct Load {
    epoch: Instant,
    /// Busy nanoseconds of each queue's finished bursts.
    done_ns: Vec<AtomicU64>,
    /// Start of each queue's current burst (ns since `epoch`, plus one), 0 if idle.
    since: Vec<AtomicU64>,
    /// Queues executing packets, bit per queue.
    active: AtomicU32,
}

impl Load {
    pub fn new(queues: usize) -> Self {
        Self {
            epoch: Instant::now(),
            done_ns: (0..queues).map(|_| AtomicU64::new(0)).collect(),
            since: (0..queues).map(|_| AtomicU64::new(0)).collect(),
            active: AtomicU32::new(0),
        }
    }

    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Queue `q` starts executing packets.
    pub fn begin(&self, q: u32) {
        if let Some(s) = self.since.get(q as usize) {
            s.store(self.now_ns() + 1, Ordering::Relaxed);
            self.active.fetch_or(1 << q, Ordering::Relaxed);
        }
    }

    /// Queue `q` stopped executing packets: its ring is empty, in error or disabled.
    pub fn end(&self, q: u32) {
        let (Some(s), Some(d)) = (self.since.get(q as usize), self.done_ns.get(q as usize)) else {
            return;
        };
        let start = s.swap(0, Ordering::Relaxed);
        if start != 0 {
            d.fetch_add(self.now_ns().saturating_sub(start - 1), Ordering::Relaxed);
        }
        self.active.fetch_and(!(1 << q), Ordering::Relaxed);
    }

    /// Busy nanoseconds of all queues, the current bursts included.
    pub fn busy_ns(&self) -> u64 {
        let now = self.now_ns();
        let running: u64 = self
            .since
            .iter()
            .map(|s| match s.load(Ordering::Relaxed) {
                0 => 0,
                start => now.saturating_sub(start - 1),
            })
            .sum();
        running
            + self
                .done_ns
                .iter()
                .map(|d| d.load(Ordering::Relaxed))
                .sum::<u64>()
    }

    /// Queues executing packets.
    pub fn active(&self) -> u32 {
        self.active.load(Ordering::Relaxed)
    }
}

/// Firmware configuration values (`CFG_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Config {
    power_cap_mw: u32,
    clock_max_mhz: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            power_cap_mw: h::POWER_CAP_MAX_MW,
            clock_max_mhz: h::CLOCK_MAX_MHZ,
        }
    }
}

/// What the model derives from a load and a configuration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Operating {
    pub clock_mhz: u32,
    pub power_w: f64,
    pub voltage_mv: u32,
}

/// The operating point at load `u` (0..=1): the clock rises with the load up to the
/// configured maximum, and is lowered until the power fits under the cap.
fn operating_point(u: f64, cfg: Config) -> Operating {
    let u = u.clamp(0.0, 1.0);
    let max = f64::from(cfg.clock_max_mhz);
    let min = f64::from(h::CLOCK_MIN_MHZ);
    let top = f64::from(h::CLOCK_MAX_MHZ);
    let mut clock = min + (max - min) * u;
    let power = |clock: f64| IDLE_W + u * LOAD_W * clock / top;
    let cap_w = f64::from(cfg.power_cap_mw) / 1000.0;
    if power(clock) > cap_w && u > 0.0 {
        clock = ((cap_w - IDLE_W) * top / (u * LOAD_W)).clamp(min, max);
    }
    Operating {
        clock_mhz: clock.round() as u32,
        power_w: power(clock).min(cap_w.max(IDLE_W)),
        voltage_mv: (700.0 + 200.0 * clock / top).round() as u32,
    }
}

/// The sensor model and the firmware of one device.
pub struct Sensors {
    started: Instant,
    last: Instant,
    last_busy: u64,
    temp_c: f64,
    energy_uj: f64,
    powers: VecDeque<u32>,
    cfg: Config,
}

impl Default for Sensors {
    fn default() -> Self {
        Self::new()
    }
}

impl Sensors {
    pub fn new() -> Self {
        let now = Instant::now();
        Self {
            started: now,
            last: now,
            last_busy: 0,
            temp_c: AMBIENT_C + C_PER_W * IDLE_W,
            energy_uj: 0.0,
            powers: VecDeque::with_capacity(AVG_UPDATES),
            cfg: Config::default(),
        }
    }

    /// Back to the state of a reset device, whose busy time so far is `load`'s; publishes the
    /// idle values. The register file was just cleared.
    pub fn reset(&mut self, shm: &Mapping, load: &Load) {
        *self = Self::new();
        self.last_busy = load.busy_ns();
        shm.write32(h::TEMP_CRIT, TEMP_CRIT_MC);
        self.publish(shm, load, operating_point(0.0, self.cfg));
    }

    /// Updates the sensors if [`UPDATE_INTERVAL`] has passed since the last update.
    pub fn tick(&mut self, shm: &Mapping, load: &Load) {
        let now = Instant::now();
        let dt = now.duration_since(self.last);
        if dt < UPDATE_INTERVAL {
            return;
        }
        let busy = load.busy_ns();
        let delta = busy.saturating_sub(self.last_busy);
        self.last_busy = busy;
        self.last = now;
        let dt_s = dt.as_secs_f64();
        let u = (delta as f64 / 1e9 / dt_s).min(1.0);
        let op = operating_point(u, self.cfg);
        self.energy_uj += op.power_w * dt_s * 1e6;
        let target = AMBIENT_C + C_PER_W * op.power_w;
        self.temp_c += (target - self.temp_c) * (1.0 - (-dt_s / THERMAL_TAU_S).exp());
        self.publish(shm, load, op);
    }

    fn publish(&mut self, shm: &Mapping, load: &Load, op: Operating) {
        let power_uw = (op.power_w * 1e6).round() as u32;
        if self.powers.len() == AVG_UPDATES {
            self.powers.pop_front();
        }
        self.powers.push_back(power_uw);
        let avg = self.powers.iter().map(|&p| u64::from(p)).sum::<u64>() / self.powers.len() as u64;
        shm.write32(h::TEMP, (self.temp_c * 1000.0).round() as u32);
        shm.write32(h::POWER, power_uw);
        shm.write32(h::POWER_AVG, avg as u32);
        shm.write32(h::POWER_CAP, self.cfg.power_cap_mw * 1000);
        shm.write32(h::VOLTAGE, op.voltage_mv);
        shm.write32(
            h::CURRENT,
            (op.power_w * 1e6 / f64::from(op.voltage_mv)).round() as u32,
        );
        shm.write32(h::CLOCK, op.clock_mhz);
        shm.write64(h::ENERGY, self.energy_uj as u64);
        shm.write64(h::BUSY_NS, load.busy_ns());
        shm.write32(h::ENGINE_BUSY, load.active());
    }

    /// Answers a mailbox request, if the driver made one (`MBOX_SEQ != MBOX_ACK`).
    pub fn mailbox(&mut self, shm: &Mapping) {
        let seq = shm.read32(h::MBOX_SEQ);
        if seq == shm.read32(h::MBOX_ACK) {
            return;
        }
        let (cmd, a0, a1) = (
            shm.read32(h::MBOX_CMD),
            shm.read32(h::MBOX_ARG0),
            shm.read32(h::MBOX_ARG1),
        );
        let mut data = [0u32; h::MBOX_DATA_WORDS];
        let status = match cmd {
            h::MBOX_CMD_DIAG => {
                let diag = [
                    h::FW_VERSION,
                    self.started.elapsed().as_millis() as u32,
                    shm.read32(h::TEMP),
                    shm.read32(h::POWER),
                    shm.read32(h::CLOCK),
                    shm.read32(h::ECC_CE_COUNT),
                    shm.read32(h::ECC_UE_COUNT),
                    shm.read32(h::RESET_COUNT),
                    shm.read32(regs::DOORBELL_COUNT),
                    shm.read32(regs::PKT_COUNT),
                ];
                data[..h::DIAG_WORDS].copy_from_slice(&diag);
                h::MBOX_STATUS_OK
            }
            h::MBOX_CMD_GET_CONFIG => match a0 {
                h::CFG_POWER_CAP => {
                    data[0] = self.cfg.power_cap_mw;
                    h::MBOX_STATUS_OK
                }
                h::CFG_CLOCK_MAX => {
                    data[0] = self.cfg.clock_max_mhz;
                    h::MBOX_STATUS_OK
                }
                _ => h::MBOX_STATUS_BAD_KEY,
            },
            h::MBOX_CMD_SET_CONFIG => match a0 {
                h::CFG_POWER_CAP if (h::POWER_CAP_MIN_MW..=h::POWER_CAP_MAX_MW).contains(&a1) => {
                    self.cfg.power_cap_mw = a1;
                    h::MBOX_STATUS_OK
                }
                h::CFG_CLOCK_MAX if (h::CLOCK_MIN_MHZ..=h::CLOCK_MAX_MHZ).contains(&a1) => {
                    self.cfg.clock_max_mhz = a1;
                    h::MBOX_STATUS_OK
                }
                h::CFG_POWER_CAP | h::CFG_CLOCK_MAX => h::MBOX_STATUS_BAD_VALUE,
                _ => h::MBOX_STATUS_BAD_KEY,
            },
            _ => h::MBOX_STATUS_BAD_CMD,
        };
        for (i, w) in data.iter().enumerate() {
            shm.write32(h::MBOX_DATA + 4 * i, *w);
        }
        shm.write32(h::MBOX_STATUS, status);
        // The answer is visible before the acknowledgment.
        fence(Ordering::Release);
        shm.write32(h::MBOX_ACK, seq);
    }
}

/// Records a memory error at device address `addr`: bumps `ECC_UE_COUNT` if `uncorrectable`,
/// else `ECC_CE_COUNT`, and sets `ECC_LAST_ADDR`.
pub fn memory_error(shm: &Mapping, uncorrectable: bool, addr: u64) {
    shm.write64(h::ECC_LAST_ADDR, addr);
    fence(Ordering::Release);
    shm.add32(
        if uncorrectable {
            h::ECC_UE_COUNT
        } else {
            h::ECC_CE_COUNT
        },
        1,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_and_full_load() {
        let cfg = Config::default();
        let idle = operating_point(0.0, cfg);
        assert_eq!(idle.clock_mhz, h::CLOCK_MIN_MHZ);
        assert_eq!(idle.power_w, IDLE_W);
        let full = operating_point(1.0, cfg);
        assert_eq!(full.clock_mhz, h::CLOCK_MAX_MHZ);
        assert_eq!(full.power_w, IDLE_W + LOAD_W);
        assert!(full.voltage_mv > idle.voltage_mv);
    }

    #[test]
    fn power_cap_lowers_the_clock() {
        let cfg = Config {
            power_cap_mw: 100_000,
            ..Config::default()
        };
        let op = operating_point(1.0, cfg);
        assert!(op.power_w <= 100.0 + 1e-9);
        assert!(op.clock_mhz < h::CLOCK_MAX_MHZ);
        let clock_cfg = Config {
            clock_max_mhz: 800,
            ..Config::default()
        };
        assert_eq!(operating_point(1.0, clock_cfg).clock_mhz, 800);
    }

    #[test]
    fn load_counts_running_bursts() {
        let load = Load::new(2);
        load.begin(1);
        assert_eq!(load.active(), 2);
        std::thread::sleep(Duration::from_millis(5));
        assert!(load.busy_ns() >= 5_000_000);
        load.end(1);
        assert_eq!(load.active(), 0);
        let done = load.busy_ns();
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(load.busy_ns(), done);
    }

    fn request(shm: &Mapping, sensors: &mut Sensors, cmd: u32, a0: u32, a1: u32) -> u32 {
        shm.write32(h::MBOX_CMD, cmd);
        shm.write32(h::MBOX_ARG0, a0);
        shm.write32(h::MBOX_ARG1, a1);
        let seq = shm.read32(h::MBOX_SEQ) + 1;
        shm.write32(h::MBOX_SEQ, seq);
        sensors.mailbox(shm);
        assert_eq!(shm.read32(h::MBOX_ACK), seq);
        shm.read32(h::MBOX_STATUS)
    }

    #[test]
    fn mailbox_commands() {
        let shm = Mapping::anonymous(1 << 16).unwrap();
        let load = Load::new(4);
        let mut sensors = Sensors::new();
        sensors.reset(&shm, &load);
        assert_eq!(shm.read32(h::TEMP_CRIT), TEMP_CRIT_MC);
        assert_eq!(shm.read32(h::CLOCK), h::CLOCK_MIN_MHZ);
        // No request: nothing happens.
        sensors.mailbox(&shm);
        assert_eq!(shm.read32(h::MBOX_ACK), 0);
        assert_eq!(
            request(&shm, &mut sensors, h::MBOX_CMD_DIAG, 0, 0),
            h::MBOX_STATUS_OK
        );
        assert_eq!(shm.read32(h::MBOX_DATA), h::FW_VERSION);
        let get = |sensors: &mut Sensors, key| {
            let status = request(&shm, sensors, h::MBOX_CMD_GET_CONFIG, key, 0);
            (status, shm.read32(h::MBOX_DATA))
        };
        assert_eq!(get(&mut sensors, h::CFG_CLOCK_MAX), (0, h::CLOCK_MAX_MHZ));
        let set = |sensors: &mut Sensors, key, value| {
            request(&shm, sensors, h::MBOX_CMD_SET_CONFIG, key, value)
        };
        assert_eq!(
            set(&mut sensors, h::CFG_CLOCK_MAX, 100),
            h::MBOX_STATUS_BAD_VALUE
        );
        assert_eq!(set(&mut sensors, 9, 100), h::MBOX_STATUS_BAD_KEY);
        assert_eq!(
            set(&mut sensors, h::CFG_POWER_CAP, 60_000),
            h::MBOX_STATUS_OK
        );
        assert_eq!(get(&mut sensors, h::CFG_POWER_CAP), (0, 60_000));
        assert_eq!(get(&mut sensors, h::CFG_CLOCK_MAX), (0, h::CLOCK_MAX_MHZ));
        assert_eq!(
            request(&shm, &mut sensors, 77, 0, 0),
            h::MBOX_STATUS_BAD_CMD
        );
        // A full load under the cap: the power stays under it.
        load.begin(0);
        std::thread::sleep(UPDATE_INTERVAL);
        sensors.tick(&shm, &load);
        assert_eq!(shm.read32(h::POWER), 60_000_000);
        assert!(shm.read32(h::CLOCK) < h::CLOCK_MAX_MHZ);
        assert_eq!(shm.read32(h::POWER_CAP), 60_000_000);
        assert_eq!(shm.read32(h::ENGINE_BUSY), 1);
    }

    #[test]
    fn memory_errors_count() {
        let shm = Mapping::anonymous(1 << 16).unwrap();
        memory_error(&shm, false, 0x1000);
        memory_error(&shm, true, 0x2000);
        memory_error(&shm, false, 0x3000);
        assert_eq!(shm.read32(h::ECC_CE_COUNT), 2);
        assert_eq!(shm.read32(h::ECC_UE_COUNT), 1);
        assert_eq!(shm.read64(h::ECC_LAST_ADDR), 0x3000);
    }
}
