// SPDX-License-Identifier: GPL-2.0 OR MIT

//! [`Buffer`]: a buffer object that is mapped for the CPU and bound in the device VM at an
//! address from the device's [`VaAllocator`](crate::va::VaAllocator), all undone on drop.
//!
//! This is the usual shape of memory a client shares with the device: data, results, command
//! buffers and TPC kernels.
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! use gaudi::{buffer::Buffer, cmdbuf::CommandBuffer, exec::{Context, Priority}};
//! let dev = gaudi::Device::open("/dev/accel/accel0")?;
//! let dst = Buffer::new(&dev, 4096, 0)?;
//! let mut cb = CommandBuffer::new();
//! cb.dma_fill(dst.va(), 4096, 0xdead_beef).unwrap();
//! let cb = cb.upload(&dev)?;
//! let ctx = Context::new(&dev, Priority::Normal)?;
//! let seqno = ctx.submit(&cb.job(&ctx).write(dst.handle()))?;
//! # let _ = seqno;
//! # Ok(())
//! # }
//! ```

use std::io;

use crate::{
    einval,
    exec::{Context, Submit},
    Bo, Device, Mapping,
};

/// A buffer object of a [`Device`] with a CPU mapping and a device VA range.
///
/// Dropping it unbinds the range (which waits for the jobs this client submitted before),
/// closes the handle and returns the range to the device's allocator.
#[derive(Debug)]
pub struct Buffer<'d> {
    dev: &'d Device,
    bo: Bo,
    va: u64,
    map: Mapping,
}

impl<'d> Buffer<'d> {
    /// Creates an object of `size` bytes with `DRM_GAUDI_BO_*` `flags`, maps it and binds it
    /// read-write.
    pub fn new(dev: &'d Device, size: u64, flags: u32) -> io::Result<Self> {
        Self::with_access(dev, size, flags, false)
    }

    /// As [`Buffer::new`]; with `readonly` the device may only read the buffer.
    pub fn with_access(dev: &'d Device, size: u64, flags: u32, readonly: bool) -> io::Result<Self> {
        let bo = dev.gem_create(size, flags)?;
        Self::adopt(dev, bo, readonly).inspect_err(|_| {
            let _ = dev.gem_close(bo.handle);
        })
    }

    /// Creates a buffer holding `data` (the rest of the last page zero), bound with
    /// `readonly` as given: how command buffers and kernels reach the device.
    pub fn with_data(dev: &'d Device, data: &[u8], flags: u32, readonly: bool) -> io::Result<Self> {
        let size = u64::try_from(data.len().max(1)).map_err(|_| einval())?;
        let b = Self::with_access(dev, size, flags, readonly)?;
        b.map.write(0, data)?;
        Ok(b)
    }

    /// Takes ownership of the handle of `bo` (created or imported on `dev`), maps the object
    /// and binds all of it. The handle is closed on drop, also if this fails.
    pub fn adopt(dev: &'d Device, bo: Bo, readonly: bool) -> io::Result<Self> {
        let close = |e: io::Error| {
            let _ = dev.gem_close(bo.handle);
            e
        };
        let map = dev.map_bo(&bo).map_err(close)?;
        let va = dev.va_alloc(bo.size).map_err(close)?;
        if let Err(e) = dev.vm_bind_map(bo.handle, 0, va, bo.size, readonly) {
            dev.va_free(va, bo.size);
            return Err(close(e));
        }
        Ok(Self { dev, bo, va, map })
    }

    /// The device.
    pub fn device(&self) -> &'d Device {
        self.dev
    }

    /// The object.
    pub fn bo(&self) -> Bo {
        self.bo
    }

    /// The object's handle.
    pub fn handle(&self) -> u32 {
        self.bo.handle
    }

    /// Size in bytes (a page multiple).
    pub fn size(&self) -> u64 {
        self.bo.size
    }

    /// Device virtual address of the first byte.
    pub fn va(&self) -> u64 {
        self.va
    }

    /// The CPU mapping.
    pub fn map(&self) -> &Mapping {
        &self.map
    }

    /// Copies `data` to `offset`.
    pub fn write(&self, offset: usize, data: &[u8]) -> io::Result<()> {
        self.map.write(offset, data)
    }

    /// Copies `buf.len()` bytes at `offset` into `buf`.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> io::Result<()> {
        self.map.read(offset, buf)
    }

    /// Writes `values` as little-endian fp32 from `offset`.
    pub fn write_f32(&self, offset: usize, values: &[f32]) -> io::Result<()> {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.write(offset, &bytes)
    }

    /// Reads `n` little-endian fp32 values from `offset`.
    pub fn read_f32(&self, offset: usize, n: usize) -> io::Result<Vec<f32>> {
        let mut bytes = vec![0u8; n.checked_mul(4).ok_or_else(einval)?];
        self.read(offset, &mut bytes)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// Reads the little-endian `u64` at `offset`.
    pub fn read_u64(&self, offset: usize) -> io::Result<u64> {
        let mut b = [0u8; 8];
        self.read(offset, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Writes `value` as a little-endian `u64` at `offset`.
    pub fn write_u64(&self, offset: usize, value: u64) -> io::Result<()> {
        self.write(offset, &value.to_le_bytes())
    }

    /// Gives up ownership of the handle, the VA range and the mapping (shared, read-write):
    /// returns the object, the address and the CPU pointer, for [`Buffer::from_raw`].
    pub fn into_raw(self) -> (Bo, u64, *mut u8) {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so the mapping is moved out exactly once.
        let map = unsafe { std::ptr::read(&this.map) };
        (this.bo, this.va, map.into_raw().0)
    }

    /// Takes back what [`Buffer::into_raw`] gave up.
    ///
    /// # Safety
    ///
    /// The arguments must come from one [`Buffer::into_raw`] of a buffer of `dev`, and be
    /// taken back once.
    pub unsafe fn from_raw(dev: &'d Device, bo: Bo, va: u64, cpu: *mut u8) -> io::Result<Self> {
        // SAFETY: The caller guarantees that `cpu` is the buffer's whole mapping, read-write.
        let map = unsafe { Mapping::from_raw(cpu, bo.len(), libc::PROT_READ | libc::PROT_WRITE) }
            .ok_or_else(einval)?;
        Ok(Self { dev, bo, va, map })
    }

    /// A job of `ctx` that runs this buffer as a command buffer of `len` bytes.
    pub fn job_of_len(&self, ctx: &Context<'_>, len: u32) -> Submit {
        ctx.job(self.va, len)
    }
}

impl Drop for Buffer<'_> {
    fn drop(&mut self) {
        let _ = self.dev.vm_bind_unmap(self.va, self.bo.size);
        let _ = self.dev.gem_close(self.bo.handle);
        self.dev.va_free(self.va, self.bo.size);
    }
}
