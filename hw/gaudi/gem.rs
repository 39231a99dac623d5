// SPDX-License-Identifier: GPL-2.0 OR MIT

//! GEM object type of the driver.
//!
//! The DRM core needs a GEM object type for every driver. The driver does not create buffer
//! objects through its uapi yet; this is the type PRIME and the core GEM ioctls see.

use kernel::{drm::gem, prelude::*};

use crate::driver::{GaudiDevice, GaudiDriver};

/// Driver-private data of a buffer object.
#[pin_data]
pub(crate) struct BoData {}

impl gem::DriverObject for BoData {
    type Driver = GaudiDriver;
    type Args = ();

    fn new(_dev: &GaudiDevice, _size: usize, _args: ()) -> impl PinInit<Self, Error> {
        try_pin_init!(BoData {})
    }
}

/// A buffer object of the driver.
pub(crate) type Bo = gem::Object<BoData>;
