// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Lists the gaudi accel devices and what the driver reports about them.

use std::process::ExitCode;

use gaudi::Device;

fn main() -> ExitCode {
    let devices = match Device::enumerate() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("gaudi-info: cannot enumerate /dev/accel: {e}");
            return ExitCode::FAILURE;
        }
    };
    if devices.is_empty() {
        eprintln!("gaudi-info: no gaudi accel device");
        return ExitCode::FAILURE;
    }
    let mut ok = true;
    for dev in &devices {
        let (version, info) = match (dev.version(), dev.device_info()) {
            (Ok(v), Ok(i)) => (v, i),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("gaudi-info: {}: {e}", dev.path().display());
                ok = false;
                continue;
            }
        };
        let pci = dev.pci_address().unwrap_or_else(|_| "?".into());
        println!("{}:", dev.path().display());
        println!(
            "  driver      {} {}.{}.{} ({})",
            version.name, version.major, version.minor, version.patchlevel, version.desc
        );
        println!(
            "  pci         {pci} [{:04x}:{:04x}]",
            info.pci_vendor, info.pci_device
        );
        println!(
            "  device      id {:#06x} rev {} interface {}.{} instance {}",
            info.device_id,
            info.revision,
            info.hw_version >> 16,
            info.hw_version & 0xffff,
            info.instance
        );
        println!("  queues      {}", info.num_queues);
        println!("  dram        {} MiB", info.dram_size >> 20);
        println!(
            "  self-test   {}",
            if info.selftest_passed == 1 {
                "passed"
            } else {
                "FAILED"
            }
        );
        ok &= info.selftest_passed == 1;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
