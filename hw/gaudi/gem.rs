// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Buffer objects of the driver.
//!
//! The objects are the accel core's [`gem::Object`]; the driver adds the accounting that
//! `DRM_GAUDI_QUERY_MEMORY` reports.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use kernel::{drm::accel::gem, prelude::*, sync::aref::ARef};

use crate::driver::{GaudiDevice, GaudiDriver};

/// Counters of the live buffer objects of a device.
#[derive(Default)]
pub(crate) struct BoStats {
    count: AtomicU64,
    bytes: AtomicU64,
}

impl BoStats {
    /// Returns the number of live objects and their total size.
    pub(crate) fn get(&self) -> (u64, u64) {
        (
            self.count.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }
}

/// Driver-private data of a buffer object.
pub(crate) struct BoData {
    dev: ARef<GaudiDevice>,
    size: u64,
    /// The object is in the device's accounting (see [`BoData::uncount`]).
    counted: AtomicBool,
}

impl BoData {
    /// Takes an object the driver uses internally out of the accounting that
    /// `DRM_GAUDI_QUERY_MEMORY` reports to clients.
    pub(crate) fn uncount(&self) {
        if self.counted.swap(false, Ordering::Relaxed) {
            self.dev.bo_stats.count.fetch_sub(1, Ordering::Relaxed);
            self.dev
                .bo_stats
                .bytes
                .fetch_sub(self.size, Ordering::Relaxed);
        }
    }
}

impl gem::BoDriverData for BoData {
    type Driver = GaudiDriver;

    fn new(dev: &GaudiDevice, info: &gem::ObjectInfo) -> impl PinInit<Self, Error> {
        let size = info.size as u64;
        dev.bo_stats.count.fetch_add(1, Ordering::Relaxed);
        dev.bo_stats.bytes.fetch_add(size, Ordering::Relaxed);
        Ok::<_, Error>(BoData {
            dev: dev.into(),
            size,
            counted: AtomicBool::new(true),
        })
    }
}

impl Drop for BoData {
    fn drop(&mut self) {
        self.uncount();
    }
}

/// A buffer object of the driver.
pub(crate) type Bo = gem::Object<BoData>;
