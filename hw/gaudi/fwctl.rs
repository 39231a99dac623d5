// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The device's management firmware through fwctl (`/dev/fwctl/fwctlN`).
//!
//! The firmware answers requests in the mailbox of the register file's health block
//! (`Documentation/device-spec.rst`). fwctl users send the RPCs of `uapi/gaudi_fwctl.h`:
//! diagnostics and reading a configuration value need no more than
//! `FWCTL_RPC_CONFIGURATION`; changing a configuration value needs `FWCTL_RPC_DEBUG_WRITE`,
//! which the fwctl core only grants after tainting the kernel. The driver checks the request
//! and the scope, then hands the request to the firmware, one at a time.

use kernel::{
    fwctl::{self, FwRpcResponse, RpcScope},
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
    time::{delay::fsleep, Delta},
    transmute::{AsBytes, FromBytes},
};

use crate::{
    engine::Shared,
    hw::{health as h, regs},
    uapi,
};

/// How long the firmware may take to answer, in milliseconds.
const MBOX_TIMEOUT_MS: u32 = 1000;

/// An RPC request as userspace sends it.
#[repr(transparent)]
struct RpcIn(uapi::gaudi_fwctl_rpc_in);

// SAFETY: `gaudi_fwctl_rpc_in` is made of four `u32`s: any bytes are a valid value.
unsafe impl FromBytes for RpcIn {}

/// The answer to an RPC.
#[repr(transparent)]
struct RpcOut(uapi::gaudi_fwctl_rpc_out);

// SAFETY: `gaudi_fwctl_rpc_out` is made of `u32`s, without padding: every byte is initialized.
unsafe impl AsBytes for RpcOut {}

/// Device data of `FWCTL_INFO`.
#[repr(transparent)]
struct Info(uapi::fwctl_info_gaudi);

// SAFETY: `fwctl_info_gaudi` is made of two `u32`s: every byte is initialized.
unsafe impl AsBytes for Info {}

/// The firmware's mailbox.
#[pin_data]
pub(crate) struct Mailbox {
    shared: Arc<Shared>,
    instance: u32,
    /// One request at a time.
    #[pin]
    lock: Mutex<()>,
}

impl Mailbox {
    pub(crate) fn new(shared: Arc<Shared>, instance: u32) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            shared,
            instance,
            lock <- new_mutex!((), "gaudi_fwctl_mailbox"),
        }? Error)
    }

    /// Sends command `cmd` with its arguments to the firmware; returns its status and answer.
    fn call(&self, cmd: u32, arg0: u32, arg1: u32) -> Result<RpcOut> {
        let r = &self.shared;
        let _guard = self.lock.lock();
        r.write32(h::MBOX_CMD, cmd)?;
        r.write32(h::MBOX_ARG0, arg0)?;
        r.write32(h::MBOX_ARG1, arg1)?;
        let seq = r.read32(h::MBOX_SEQ)?.wrapping_add(1);
        r.write32(h::MBOX_SEQ, seq)?;
        r.ring(regs::DOORBELL_CONTROL)?;
        let mut answered = false;
        for _ in 0..MBOX_TIMEOUT_MS {
            if r.read32(h::MBOX_ACK)? == seq {
                answered = true;
                break;
            }
            fsleep(Delta::from_millis(1));
        }
        if !answered {
            return Err(ETIMEDOUT);
        }
        let mut out = uapi::gaudi_fwctl_rpc_out {
            status: r.read32(h::MBOX_STATUS)?,
            ..Default::default()
        };
        let len = match cmd {
            _ if out.status != h::MBOX_STATUS_OK => 0,
            h::MBOX_CMD_DIAG => h::DIAG_WORDS,
            h::MBOX_CMD_GET_CONFIG => 1,
            _ => 0,
        };
        for (i, w) in out.data.iter_mut().take(len).enumerate() {
            *w = r.read32(h::MBOX_DATA + 4 * i)?;
        }
        out.len = len as u32;
        Ok(RpcOut(out))
    }
}

/// A user context of the fwctl device: nothing beyond what the device has.
pub(crate) struct FwctlUser;

impl fwctl::Operations for FwctlUser {
    type RegistrationData<'a> = Mailbox;

    const DEVICE_TYPE: fwctl::DeviceType = fwctl::DeviceType::Gaudi;

    fn open<'a>(
        _device: &fwctl::Device<Self>,
        _mbox: &Self::RegistrationData<'a>,
    ) -> impl PinInit<Self, Error> {
        Ok::<_, Error>(FwctlUser)
    }

    fn info<'a>(
        _this: Pin<&Self>,
        _device: &fwctl::Device<Self>,
        mbox: &Self::RegistrationData<'a>,
    ) -> Result<KVec<u8>> {
        let info = Info(uapi::fwctl_info_gaudi {
            instance: mbox.instance,
            num_config: h::NUM_CFG,
        });
        let mut v = KVec::new();
        v.extend_from_slice(info.as_bytes(), GFP_KERNEL)?;
        Ok(v)
    }

    fn fw_rpc<'a>(
        _this: Pin<&Self>,
        _device: &fwctl::Device<Self>,
        mbox: &Self::RegistrationData<'a>,
        scope: RpcScope,
        rpc_buf: &mut [u8],
        _max_output_len: usize,
    ) -> Result<FwRpcResponse> {
        // Exactly one request.
        let RpcIn(req) = RpcIn::from_bytes_copy(rpc_buf).ok_or(EINVAL)?;
        if req.flags != 0 {
            return Err(EINVAL);
        }
        let (cmd, needs) = match req.cmd {
            uapi::GAUDI_FWCTL_CMD_DIAG => (h::MBOX_CMD_DIAG, RpcScope::Configuration),
            uapi::GAUDI_FWCTL_CMD_GET_CONFIG => (h::MBOX_CMD_GET_CONFIG, RpcScope::Configuration),
            uapi::GAUDI_FWCTL_CMD_SET_CONFIG => (h::MBOX_CMD_SET_CONFIG, RpcScope::DebugWrite),
            _ => return Err(EINVAL),
        };
        if (scope as u32) < (needs as u32) {
            return Err(EPERM);
        }
        if cmd == h::MBOX_CMD_DIAG && (req.key != 0 || req.value != 0) {
            return Err(EINVAL);
        }
        if cmd == h::MBOX_CMD_GET_CONFIG && req.value != 0 {
            return Err(EINVAL);
        }
        let out = mbox.call(cmd, req.key, req.value)?;
        let mut v = KVVec::new();
        v.extend_from_slice(out.as_bytes(), GFP_KERNEL)?;
        Ok(FwRpcResponse::NewBuffer(v))
    }
}
