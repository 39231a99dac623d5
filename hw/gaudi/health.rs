// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Health of the device: its sensors and error counters, through hwmon and
//! `DRM_GAUDI_QUERY_HEALTH`.
//!
//! The device keeps its sensors and counters in the health block of its register file
//! (`Documentation/device-spec.rst`), and updates them from its load. The hwmon device
//! (`/sys/class/hwmon/hwmon<N>`, name `gaudi`) shows what hwmon has a type for: temperature,
//! voltage, current, power and energy. The health query adds the clock, the error counters
//! and the state of the queues. Both read the registers when asked, through the device's
//! `Devres` mapping: once the device is unbound they fail with `ENODEV`.

use kernel::{
    hwmon::{self, bit, ChannelInfo, SensorType},
    prelude::*,
    sync::Arc,
};

use crate::{
    engine::{Engine, Shared},
    hw::{health as h, queue as hwq},
    uapi,
    usage::Fault,
};

/// The sensors of a device, as its hwmon device reads them.
pub(crate) struct Sensors {
    shared: Arc<Shared>,
}

impl Sensors {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

#[vtable]
impl hwmon::Operations for Sensors {
    const CHANNELS: &'static [ChannelInfo] = &[
        ChannelInfo::new(
            SensorType::Temp,
            &[
                bit(hwmon::temp::INPUT) | bit(hwmon::temp::CRIT) | bit(hwmon::temp::LABEL),
                0,
            ],
        ),
        ChannelInfo::new(
            SensorType::In,
            &[bit(hwmon::voltage::INPUT) | bit(hwmon::voltage::LABEL), 0],
        ),
        ChannelInfo::new(
            SensorType::Curr,
            &[bit(hwmon::curr::INPUT) | bit(hwmon::curr::LABEL), 0],
        ),
        ChannelInfo::new(
            SensorType::Power,
            &[
                bit(hwmon::power::INPUT)
                    | bit(hwmon::power::AVERAGE)
                    | bit(hwmon::power::CAP)
                    | bit(hwmon::power::LABEL),
                0,
            ],
        ),
        ChannelInfo::new(
            SensorType::Energy,
            &[bit(hwmon::energy::INPUT) | bit(hwmon::energy::LABEL), 0],
        ),
    ];

    fn read(&self, sensor: SensorType, attr: u32, channel: i32) -> Result<i64> {
        if channel != 0 {
            return Err(EOPNOTSUPP);
        }
        let reg = match (sensor, attr) {
            (SensorType::Temp, hwmon::temp::INPUT) => h::TEMP,
            (SensorType::Temp, hwmon::temp::CRIT) => h::TEMP_CRIT,
            (SensorType::In, hwmon::voltage::INPUT) => h::VOLTAGE,
            (SensorType::Curr, hwmon::curr::INPUT) => h::CURRENT,
            (SensorType::Power, hwmon::power::INPUT) => h::POWER,
            (SensorType::Power, hwmon::power::AVERAGE) => h::POWER_AVG,
            (SensorType::Power, hwmon::power::CAP) => h::POWER_CAP,
            (SensorType::Energy, hwmon::energy::INPUT) => {
                return i64::try_from(self.shared.read64(h::ENERGY)?).map_err(|_| EOVERFLOW);
            }
            _ => return Err(EOPNOTSUPP),
        };
        Ok(i64::from(self.shared.read32(reg)?))
    }

    fn read_string(&self, sensor: SensorType, _attr: u32, _channel: i32) -> Result<&'static CStr> {
        Ok(match sensor {
            SensorType::Temp => c"die",
            SensorType::In | SensorType::Curr => c"core",
            SensorType::Power | SensorType::Energy => c"board",
            _ => return Err(EOPNOTSUPP),
        })
    }
}

/// The `DRM_GAUDI_QUERY_HEALTH` result of the device of `engine`.
pub(crate) fn query(engine: &Engine) -> Result<uapi::drm_gaudi_health> {
    let r = &engine.shared;
    let mut health = uapi::drm_gaudi_health {
        temp_mc: r.read32(h::TEMP)?,
        temp_crit_mc: r.read32(h::TEMP_CRIT)?,
        power_uw: r.read32(h::POWER)?,
        power_avg_uw: r.read32(h::POWER_AVG)?,
        power_cap_uw: r.read32(h::POWER_CAP)?,
        clock_mhz: r.read32(h::CLOCK)?,
        voltage_mv: r.read32(h::VOLTAGE)?,
        current_ma: r.read32(h::CURRENT)?,
        energy_uj: r.read64(h::ENERGY)?,
        busy_ns: r.read64(h::BUSY_NS)?,
        ecc_ce_count: r.read32(h::ECC_CE_COUNT)?,
        ecc_ue_count: r.read32(h::ECC_UE_COUNT)?,
        ecc_last_addr: r.read64(h::ECC_LAST_ADDR)?,
        reset_count: r.read32(h::RESET_COUNT)?,
        state: if engine.ras.is_wedged() {
            uapi::DRM_GAUDI_DEVICE_WEDGED
        } else {
            uapi::DRM_GAUDI_DEVICE_OK
        },
        engine_busy: r.read32(h::ENGINE_BUSY)?,
        ..Default::default()
    };
    let mut last_fault = None;
    let slots = health
        .queue_status
        .iter_mut()
        .zip(health.queue_busy_ns.iter_mut());
    for (q, (queue, (status, busy))) in engine.queues.iter().zip(slots).enumerate() {
        *status = r.read32(hwq::queue_reg(q as u32, hwq::Q_STATUS))?;
        *busy = queue.stats.busy_ns();
        let (completed, failed) = queue.stats.jobs();
        health.jobs_completed += completed;
        health.jobs_failed += failed;
        health.num_queues += 1;
        if let Some(fault) = queue.stats.fault() {
            if last_fault.is_none_or(|(_, last): (u32, Fault)| (fault.at - last.at).as_nanos() > 0)
            {
                last_fault = Some((q as u32, fault));
            }
        }
    }
    if let Some((q, fault)) = last_fault {
        health.last_fault_queue = q;
        health.last_fault_code = fault.code;
        health.last_fault_addr = fault.addr;
        health.last_fault_packet = fault.packet;
    }
    Ok(health)
}
