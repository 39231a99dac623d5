// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The C interface of the library: `include/gaudi/gaudi.h`, exported by `libgaudi.so` and
//! `libgaudi.a`.
//!
//! Every function here is a thin shell around the Rust API: it checks its pointers, converts
//! the C structures and returns 0 or a negative errno. The structures are declared here as the
//! header declares them; a test compiles the header and compares every size, offset and
//! constant.

#![allow(non_camel_case_types)]

use std::{
    ffi::{c_char, c_int, c_uint, c_void, CStr, CString},
    io,
    os::fd::{AsFd, AsRawFd},
    ptr,
    time::Duration,
};

use crate::{
    buffer::Buffer,
    cmdbuf::{CommandBuffer, Gemm, Packet, TpcLaunch},
    drm::{DRM_CLOEXEC, DRM_RDWR},
    exec::Submit,
    syncobj, tpc, uapi, Bo, Device,
};

/// `struct gaudi_buffer`.
#[repr(C)]
#[derive(Debug)]
pub struct gaudi_buffer {
    /// GEM handle.
    pub handle: u32,
    /// Zero.
    pub pad: u32,
    /// Size in bytes.
    pub size: u64,
    /// Device address.
    pub va: u64,
    /// CPU address.
    pub cpu: *mut c_void,
}

/// `struct gaudi_ctx_state`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct gaudi_ctx_state {
    /// 1 if banned.
    pub banned: u32,
    /// `GAUDI_ERR_*`.
    pub error: u32,
    /// Sequence number of the failed job.
    pub error_seqno: u64,
    /// Faulting address.
    pub fault_addr: u64,
    /// Address of the failed packet.
    pub error_packet: u64,
    /// Access of the fault.
    pub fault_access: u32,
    /// Zero.
    pub pad: u32,
    /// Last completed sequence number.
    pub completed: u64,
}

/// `struct gaudi_bo_use`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct gaudi_bo_use {
    /// GEM handle.
    pub handle: u32,
    /// `GAUDI_BO_USE_*`.
    pub flags: u32,
}

/// `struct gaudi_sync`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct gaudi_sync {
    /// Syncobj handle.
    pub handle: u32,
    /// Zero.
    pub flags: u32,
    /// Timeline point or 0.
    pub point: u64,
}

/// `struct gaudi_submit`.
#[repr(C)]
#[derive(Debug)]
pub struct gaudi_submit {
    /// Context.
    pub ctx_id: u32,
    /// Bytes of the command buffer.
    pub cb_size: u32,
    /// Address of the command buffer.
    pub cb_addr: u64,
    /// Objects.
    pub bos: *const gaudi_bo_use,
    /// Entries at `bos`.
    pub bo_count: u32,
    /// Entries at `in_syncs`.
    pub in_sync_count: u32,
    /// Syncobjs to wait for.
    pub in_syncs: *const gaudi_sync,
    /// Entries at `out_syncs`.
    pub out_sync_count: u32,
    /// Zero.
    pub pad: u32,
    /// Syncobjs to signal.
    pub out_syncs: *const gaudi_sync,
}

/// `struct gaudi_gemm`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct gaudi_gemm {
    /// A.
    pub a: u64,
    /// B.
    pub b: u64,
    /// C.
    pub c: u64,
    /// Bias row, with `GAUDI_GEMM_BIAS`.
    pub bias: u64,
    /// Rows of C.
    pub m: u32,
    /// Columns of C.
    pub n: u32,
    /// Inner dimension.
    pub k: u32,
    /// Leading dimension of A.
    pub lda: u32,
    /// Leading dimension of B.
    pub ldb: u32,
    /// Leading dimension of C.
    pub ldc: u32,
    /// Factor of the product.
    pub alpha: f32,
    /// Factor of C.
    pub beta: f32,
    /// `GAUDI_GEMM_*`.
    pub flags: u32,
    /// Zero.
    pub pad: u32,
}

/// `struct gaudi_tpc_launch`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct gaudi_tpc_launch {
    /// Kernel address.
    pub code: u64,
    /// Kernel bytes.
    pub code_size: u32,
    /// Grid.
    pub grid: [u32; 3],
    /// Arguments.
    pub args: [u64; gaudi_hw::packet::TPC_ARGS],
}

/// `GAUDI_GEMM_*` flags the library knows.
const GEMM_FLAGS: u32 = 0x1f;

/// `struct gaudi_cb`: a command buffer and the message of its last failure.
#[derive(Debug, Default)]
pub struct gaudi_cb {
    cb: CommandBuffer,
    error: CString,
}

/// `struct gaudi_tpc_program`.
#[derive(Debug)]
pub struct gaudi_tpc_program {
    code: Vec<u64>,
}

/// The negative errno of an error (`EIO` if it carries none, `EINVAL` for invalid input).
fn neg(e: &io::Error) -> c_int {
    match (e.raw_os_error(), e.kind()) {
        (Some(n), _) => -n,
        (None, io::ErrorKind::InvalidInput) => -libc::EINVAL,
        (None, _) => -libc::EIO,
    }
}

/// 0 or the negative errno of `r`.
fn status(r: io::Result<()>) -> c_int {
    r.map_or_else(|e| neg(&e), |()| 0)
}

/// Runs `f` on the device behind `dev`; `-EINVAL` for a null pointer.
///
/// # Safety
///
/// `dev` is null or a device of [`gaudi_device_open`] not closed yet.
unsafe fn with_dev(dev: *const Device, f: impl FnOnce(&Device) -> io::Result<()>) -> c_int {
    // SAFETY: The caller passes null or a live device.
    match unsafe { dev.as_ref() } {
        Some(d) => status(f(d)),
        None => -libc::EINVAL,
    }
}

/// Runs `f` on the device behind `dev` and writes its result to `out`; `-EINVAL` for null
/// pointers.
///
/// # Safety
///
/// As [`with_dev`]; `out` is null or valid for a write of `T`.
unsafe fn with_dev_out<T>(
    dev: *const Device,
    out: *mut T,
    f: impl FnOnce(&Device) -> io::Result<T>,
) -> c_int {
    if out.is_null() {
        return -libc::EINVAL;
    }
    // SAFETY: As documented for the caller.
    unsafe { with_dev(dev, |d| f(d).map(|v| out.write(v))) }
}

/// Writes `v` to `out` if it is not null.
///
/// # Safety
///
/// `out` is null or valid for a write of `T`.
unsafe fn put<T>(out: *mut T, v: T) {
    if !out.is_null() {
        // SAFETY: Valid for writes, per the caller.
        unsafe { out.write(v) };
    }
}

/// `count` elements at `p` as a slice (empty for a zero count, `EFAULT` for a null pointer
/// with a non-zero count).
///
/// # Safety
///
/// `p` is valid for reads of `count` elements when `count` is not zero.
unsafe fn slice<'a, T>(p: *const T, count: usize) -> io::Result<&'a [T]> {
    if count == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(io::Error::from_raw_os_error(libc::EFAULT));
    }
    // SAFETY: Valid for `count` reads, per the caller.
    Ok(unsafe { std::slice::from_raw_parts(p, count) })
}

fn open_boxed(path: &str, out: *mut *mut Device) -> c_int {
    if out.is_null() {
        return -libc::EINVAL;
    }
    match Device::open(path) {
        Ok(d) => {
            // SAFETY: `out` is not null; the caller passes a valid pointer.
            unsafe { out.write(Box::into_raw(Box::new(d))) };
            0
        }
        Err(e) => neg(&e),
    }
}

/// `gaudi_device_open()`.
///
/// # Safety
///
/// `path` is a NUL-terminated string; `dev` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn gaudi_device_open(path: *const c_char, dev: *mut *mut Device) -> c_int {
    if path.is_null() {
        return -libc::EINVAL;
    }
    // SAFETY: The caller passes a NUL-terminated string.
    let Ok(path) = unsafe { CStr::from_ptr(path) }.to_str() else {
        return -libc::EINVAL;
    };
    open_boxed(path, dev)
}

/// `gaudi_device_open_index()`.
///
/// # Safety
///
/// `dev` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn gaudi_device_open_index(index: c_uint, dev: *mut *mut Device) -> c_int {
    open_boxed(&format!("/dev/accel/accel{index}"), dev)
}

/// `gaudi_device_close()`.
///
/// # Safety
///
/// `dev` is null or a device of [`gaudi_device_open`], not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn gaudi_device_close(dev: *mut Device) {
    if !dev.is_null() {
        // SAFETY: The pointer came from `Box::into_raw` and is given up by the caller.
        drop(unsafe { Box::from_raw(dev) });
    }
}

/// `gaudi_device_fd()`.
///
/// # Safety
///
/// `dev` is null or a live device.
#[no_mangle]
pub unsafe extern "C" fn gaudi_device_fd(dev: *const Device) -> c_int {
    // SAFETY: Null or live, per the caller.
    match unsafe { dev.as_ref() } {
        Some(d) => d.as_fd().as_raw_fd(),
        None => -libc::EINVAL,
    }
}

/// `gaudi_bo_create()`.
///
/// # Safety
///
/// `dev` is a live device; `handle` and `allocated` are null or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn gaudi_bo_create(
    dev: *mut Device,
    size: u64,
    flags: u32,
    handle: *mut u32,
    allocated: *mut u64,
) -> c_int {
    if handle.is_null() {
        return -libc::EINVAL;
    }
    // SAFETY: As documented for the caller.
    unsafe {
        with_dev(dev, |d| {
            let bo = d.gem_create(size, flags)?;
            put(handle, bo.handle);
            put(allocated, bo.size);
            Ok(())
        })
    }
}

/// `gaudi_bo_close()`.
///
/// # Safety
///
/// `dev` is a live device.
#[no_mangle]
pub unsafe extern "C" fn gaudi_bo_close(dev: *mut Device, handle: u32) -> c_int {
    // SAFETY: As documented for the caller.
    unsafe { with_dev(dev, |d| d.gem_close(handle)) }
}

/// `gaudi_bo_mmap()`.
///
/// # Safety
///
/// `dev` is a live device; `ptr` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn gaudi_bo_mmap(
    dev: *mut Device,
    handle: u32,
    size: u64,
    out: *mut *mut c_void,
) -> c_int {
    // SAFETY: As documented for the caller.
    unsafe {
        with_dev_out(dev, out, |d| {
            let len = usize::try_from(size).map_err(|_| crate::einval())?;
            let (p, _) = d.map(handle, len)?.into_raw();
            Ok(p.cast())
        })
    }
}

/// `gaudi_bo_munmap()`.
///
/// # Safety
///
/// `ptr` and `size` describe a mapping of [`gaudi_bo_mmap`], not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn gaudi_bo_munmap(ptr: *mut c_void, size: u64) -> c_int {
    let Ok(len) = usize::try_from(size) else {
        return -libc::EINVAL;
    };
    // SAFETY: The caller owns the mapping and gives it up.
    match unsafe { rustix::mm::munmap(ptr, len) } {
        Ok(()) => 0,
        Err(e) => neg(&e.into()),
    }
}

/// `gaudi_bo_export()`.
///
/// # Safety
///
/// `dev` is a live device; `fd` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn gaudi_bo_export(dev: *mut Device, handle: u32, fd: *mut c_int) -> c_int {
    // SAFETY: As documented for the caller.
    unsafe {
        with_dev_out(dev, fd, |d| {
            let f = d.prime_handle_to_fd(handle, DRM_CLOEXEC | DRM_RDWR)?;
            Ok(std::os::fd::IntoRawFd::into_raw_fd(f))
        })
    }
}

/// `gaudi_bo_import()`.
///
/// # Safety
///
/// `dev` is a live device; `handle` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn gaudi_bo_import(dev: *mut Device, fd: c_int, handle: *mut u32) -> c_int {
    // SAFETY: As documented for the caller.
    unsafe {
        with_dev_out(dev, handle, |d| {
            crate::drm::prime_raw_fd_to_handle(d.as_fd(), fd)
        })
    }
}

/// `gaudi_vm_bind()`.
///
/// # Safety
///
/// `dev` is a live device.
#[no_mangle]
pub unsafe extern "C" fn gaudi_vm_bind(
    dev: *mut Device,
    handle: u32,
    bo_offset: u64,
    va: u64,
    size: u64,
    flags: u32,
) -> c_int {
    // SAFETY: As documented for the caller.
    unsafe {
        with_dev(dev, |d| {
            let mut b = uapi::drm_gaudi_vm_bind {
                op: uapi::DRM_GAUDI_VM_BIND_OP_MAP,
                flags,
                handle,
                bo_offset,
                va,
                size,
                ..Default::default()
            };
            d.vm_bind_raw(&mut b)
        })
    }
}

/// `gaudi_vm_unbind()`.
///
/// # Safety
///
/// `dev` is a live device.
#[no_mangle]
pub unsafe extern "C" fn gaudi_vm_unbind(dev: *mut Device, va: u64, size: u64) -> c_int {
    // SAFETY: As documented for the caller.
    unsafe { with_dev(dev, |d| d.vm_bind_unmap(va, size)) }
}

/// `gaudi_va_alloc()`.
///
/// # Safety
///
/// `dev` is a live device; `va` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn gaudi_va_alloc(dev: *mut Device, size: u64, va: *mut u64) -> c_int {
    // SAFETY: As documented for the caller.
    unsafe { with_dev_out(dev, va, |d| d.va_alloc(size)) }
}

/// `gaudi_va_free()`.
///
/// # Safety
///
/// `dev` is a live device.
#[no_mangle]
pub unsafe extern "C" fn gaudi_va_free(dev: *mut Device, va: u64, size: u64) {
    // SAFETY: As documented for the caller.
    unsafe {
        with_dev(dev, |d| {
            d.va_free(va, size);
            Ok(())
        })
    };
}

fn readonly(vm_flags: u32) -> io::Result<bool> {
    match vm_flags {
        0 => Ok(false),
        uapi::DRM_GAUDI_VM_BIND_READONLY => Ok(true),
        _ => Err(crate::einval()),
    }
}

/// Hands a [`Buffer`] over to C.
fn raw_buffer(b: Buffer<'_>) -> gaudi_buffer {
    let (bo, va, cpu) = b.into_raw();
    gaudi_buffer {
        handle: bo.handle,
        pad: 0,
        size: bo.size,
        va,
        cpu: cpu.cast(),
    }
}

/// `gaudi_buffer_create()`.
///
/// # Safety
///
/// `dev` is a live device; `buf` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn gaudi_buffer_create(
    dev: *mut Device,
    size: u64,
    bo_flags: u32,
    vm_flags: u32,
    buf: *mut gaudi_buffer,
) -> c_int {
    // SAFETY: As documented for the caller.
    unsafe {
        with_dev_out(dev, buf, |d| {
            Buffer::with_access(d, size, bo_flags, readonly(vm_flags)?).map(raw_buffer)
        })
    }
}

/// `gaudi_buffer_create_from()`.
///
/// # Safety
///
/// `dev` is a live device; `data` is valid for `size` reads; `buf` for a write.
#[no_mangle]
pub unsafe extern "C" fn gaudi_buffer_create_from(
    dev: *mut Device,
    data: *const c_void,
    size: usize,
    bo_flags: u32,
    vm_flags: u32,
    buf: *mut gaudi_buffer,
) -> c_int {
    // SAFETY: As documented for the caller.
    unsafe {
        with_dev_out(dev, buf, |d| {
            let bytes = slice(data.cast::<u8>(), size)?;
            Buffer::with_data(d, bytes, bo_flags, readonly(vm_flags)?).map(raw_buffer)
        })
    }
}

/// `gaudi_buffer_destroy()`.
///
/// # Safety
///
/// `dev` is the live device of `buf`, a buffer of [`gaudi_buffer_create`] (or zeroed).
#[no_mangle]
pub unsafe extern "C" fn gaudi_buffer_destroy(dev: *mut Device, buf: *mut gaudi_buffer) {
    // SAFETY: Null or valid, per the caller.
    let (Some(d), Some(b)) = (unsafe { dev.as_ref() }, unsafe { buf.as_mut() }) else {
        return;
    };
    if b.cpu.is_null() {
        return;
    }
    let bo = Bo {
        handle: b.handle,
        size: b.size,
    };
    // SAFETY: The fields are those `export_buffer` wrote; the buffer is given up here.
    drop(unsafe { Buffer::from_raw(d, bo, b.va, b.cpu.cast()) });
    // SAFETY: `buf` is valid for writes.
    unsafe {
        buf.write(gaudi_buffer {
            handle: 0,
            pad: 0,
            size: 0,
            va: 0,
            cpu: ptr::null_mut(),
        })
    };
}

/// `gaudi_ctx_create()`.
///
/// # Safety
///
/// `dev` is a live device; `ctx_id` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn gaudi_ctx_create(
    dev: *mut Device,
    priority: u32,
    ctx_id: *mut u32,
) -> c_int {
    // SAFETY: As documented for the caller.
    unsafe { with_dev_out(dev, ctx_id, |d| d.ctx_create_raw(priority)) }
}

/// `gaudi_ctx_destroy()`.
///
/// # Safety
///
/// `dev` is a live device.
#[no_mangle]
pub unsafe extern "C" fn gaudi_ctx_destroy(dev: *mut Device, ctx_id: u32) -> c_int {
    // SAFETY: As documented for the caller.
    unsafe { with_dev(dev, |d| d.ctx_destroy(ctx_id)) }
}

/// `gaudi_ctx_query()`.
///
/// # Safety
///
/// `dev` is a live device; `state` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn gaudi_ctx_query(
    dev: *mut Device,
    ctx_id: u32,
    state: *mut gaudi_ctx_state,
) -> c_int {
    if state.is_null() {
        return -libc::EINVAL;
    }
    // SAFETY: As documented for the caller.
    unsafe {
        with_dev(dev, |d| {
            let s = d.ctx_query(ctx_id)?;
            put(
                state,
                gaudi_ctx_state {
                    banned: u32::from(s.banned),
                    error: s.error,
                    error_seqno: s.error_seqno,
                    fault_addr: s.fault_addr,
                    error_packet: s.error_packet,
                    fault_access: s.fault_access,
                    pad: 0,
                    completed: s.completed,
                },
            );
            Ok(())
        })
    }
}

/// `gaudi_submit()`.
///
/// # Safety
///
/// `dev` is a live device; `submit` points to a valid `struct gaudi_submit` whose arrays hold
/// their counts of entries; `seqno` is null or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn gaudi_submit(
    dev: *mut Device,
    submit: *const gaudi_submit,
    seqno: *mut u64,
) -> c_int {
    // SAFETY: Null or valid, per the caller.
    let Some(s) = (unsafe { submit.as_ref() }) else {
        return -libc::EINVAL;
    };
    // SAFETY: As documented for the caller.
    unsafe {
        with_dev(dev, |d| {
            if s.pad != 0 {
                return Err(crate::einval());
            }
            let mut job = Submit::new(s.ctx_id, s.cb_addr, s.cb_size);
            for b in slice(s.bos, s.bo_count as usize)? {
                job = job.bo(b.handle, b.flags);
            }
            for w in slice(s.in_syncs, s.in_sync_count as usize)? {
                job = job.in_sync(uapi::drm_gaudi_sync {
                    handle: w.handle,
                    flags: w.flags,
                    point: w.point,
                });
            }
            for o in slice(s.out_syncs, s.out_sync_count as usize)? {
                job = job.out_sync(uapi::drm_gaudi_sync {
                    handle: o.handle,
                    flags: o.flags,
                    point: o.point,
                });
            }
            put(seqno, d.submit(&job)?);
            Ok(())
        })
    }
}

/// `gaudi_syncobj_create()`.
///
/// # Safety
///
/// `dev` is a live device; `handle` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn gaudi_syncobj_create(
    dev: *mut Device,
    flags: u32,
    handle: *mut u32,
) -> c_int {
    // SAFETY: As documented for the caller.
    unsafe { with_dev_out(dev, handle, |d| syncobj::create(d.as_fd(), flags)) }
}

/// `gaudi_syncobj_destroy()`.
///
/// # Safety
///
/// `dev` is a live device.
#[no_mangle]
pub unsafe extern "C" fn gaudi_syncobj_destroy(dev: *mut Device, handle: u32) -> c_int {
    // SAFETY: As documented for the caller.
    unsafe { with_dev(dev, |d| syncobj::destroy(d.as_fd(), handle)) }
}

/// `gaudi_syncobj_wait()`.
///
/// # Safety
///
/// `dev` is a live device; `handles` holds `count` entries, `points` too unless it is null.
#[no_mangle]
pub unsafe extern "C" fn gaudi_syncobj_wait(
    dev: *mut Device,
    handles: *const u32,
    points: *const u64,
    count: u32,
    timeout_ns: i64,
    flags: u32,
) -> c_int {
    // SAFETY: As documented for the caller.
    unsafe {
        with_dev(dev, |d| {
            let h = slice(handles, count as usize)?;
            let deadline = match timeout_ns {
                0 => 0,
                t if t < 0 => i64::MAX,
                t => syncobj::timeout_after(Duration::from_nanos(t as u64)),
            };
            if points.is_null() {
                syncobj::wait(d.as_fd(), h, deadline, flags)?;
            } else {
                let p = slice(points, count as usize)?;
                syncobj::timeline_wait(d.as_fd(), h, p, deadline, flags)?;
            }
            Ok(())
        })
    }
}

/// `gaudi_syncobj_status()`.
///
/// # Safety
///
/// `dev` is a live device; `status` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn gaudi_syncobj_status(
    dev: *mut Device,
    handle: u32,
    status: *mut c_int,
) -> c_int {
    // SAFETY: As documented for the caller.
    unsafe {
        with_dev_out(dev, status, |d| {
            syncobj::fence_status(d.as_fd(), handle, None)
        })
    }
}

/// `gaudi_cb_create()`.
#[no_mangle]
pub extern "C" fn gaudi_cb_create() -> *mut gaudi_cb {
    Box::into_raw(Box::default())
}

/// `gaudi_cb_destroy()`.
///
/// # Safety
///
/// `cb` is null or a command buffer of [`gaudi_cb_create`], not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn gaudi_cb_destroy(cb: *mut gaudi_cb) {
    if !cb.is_null() {
        // SAFETY: From `Box::into_raw`, given up by the caller.
        drop(unsafe { Box::from_raw(cb) });
    }
}

/// `gaudi_cb_reset()`.
///
/// # Safety
///
/// `cb` is null or a live command buffer.
#[no_mangle]
pub unsafe extern "C" fn gaudi_cb_reset(cb: *mut gaudi_cb) {
    // SAFETY: Null or live, per the caller.
    if let Some(c) = unsafe { cb.as_mut() } {
        c.cb.clear();
        c.error = CString::default();
    }
}

/// Appends the packet `p` (if it was built) to `cb`, recording why not otherwise.
///
/// # Safety
///
/// `cb` is null or a live command buffer.
unsafe fn append(cb: *mut gaudi_cb, p: Result<Packet, crate::cmdbuf::PacketError>) -> c_int {
    // SAFETY: Null or live, per the caller.
    let Some(c) = (unsafe { cb.as_mut() }) else {
        return -libc::EINVAL;
    };
    match p.and_then(|p| c.cb.packet(&p).map(|_| ())) {
        Ok(()) => {
            c.error = CString::default();
            0
        }
        Err(e) => {
            c.error = CString::new(e.message().replace('\0', " ")).unwrap_or_default();
            -libc::EINVAL
        }
    }
}

/// `gaudi_cb_nop()`.
///
/// # Safety
///
/// `cb` is a live command buffer.
#[no_mangle]
pub unsafe extern "C" fn gaudi_cb_nop(cb: *mut gaudi_cb, len_words: u32) -> c_int {
    let len = u16::try_from(len_words).unwrap_or(0);
    // SAFETY: As documented for the caller.
    unsafe { append(cb, Ok(Packet::Nop { len })) }
}

/// `gaudi_cb_fence()`.
///
/// # Safety
///
/// `cb` is a live command buffer.
#[no_mangle]
pub unsafe extern "C" fn gaudi_cb_fence(
    cb: *mut gaudi_cb,
    addr: u64,
    value: u64,
    irq: c_int,
) -> c_int {
    let p = Packet::Fence {
        addr,
        value,
        irq: irq != 0,
    };
    // SAFETY: As documented for the caller.
    unsafe { append(cb, Ok(p)) }
}

/// `gaudi_cb_wait()`.
///
/// # Safety
///
/// `cb` is a live command buffer.
#[no_mangle]
pub unsafe extern "C" fn gaudi_cb_wait(cb: *mut gaudi_cb, addr: u64, target: u64) -> c_int {
    // SAFETY: As documented for the caller.
    unsafe { append(cb, Ok(Packet::Wait { addr, target })) }
}

/// `gaudi_cb_dma_copy()`.
///
/// # Safety
///
/// `cb` is a live command buffer.
#[no_mangle]
pub unsafe extern "C" fn gaudi_cb_dma_copy(
    cb: *mut gaudi_cb,
    src: u64,
    dst: u64,
    size: u64,
) -> c_int {
    // SAFETY: As documented for the caller.
    unsafe { append(cb, Ok(Packet::DmaCopy { src, dst, size })) }
}

/// `gaudi_cb_dma_fill()`.
///
/// # Safety
///
/// `cb` is a live command buffer.
#[no_mangle]
pub unsafe extern "C" fn gaudi_cb_dma_fill(
    cb: *mut gaudi_cb,
    dst: u64,
    size: u64,
    pattern: u32,
) -> c_int {
    // SAFETY: As documented for the caller.
    unsafe { append(cb, Ok(Packet::DmaFill { dst, size, pattern })) }
}

/// The [`Gemm`] of a `struct gaudi_gemm`.
fn gemm_of(g: &gaudi_gemm) -> Result<Gemm, crate::cmdbuf::PacketError> {
    if g.flags & !GEMM_FLAGS != 0 || g.pad != 0 {
        return Err(crate::cmdbuf::PacketError::new(format!(
            "unknown GEMM flags {:#x} or non-zero padding",
            g.flags & !GEMM_FLAGS
        )));
    }
    let has = |bit: u8| g.flags & u32::from(bit) != 0;
    use gaudi_hw::packet as p;
    if !has(p::MME_BIAS) && g.bias != 0 {
        return Err(crate::cmdbuf::PacketError::new(
            "a bias address without GAUDI_GEMM_BIAS",
        ));
    }
    Ok(Gemm {
        a: g.a,
        b: g.b,
        c: g.c,
        bias: has(p::MME_BIAS).then_some(g.bias),
        m: g.m,
        n: g.n,
        k: g.k,
        lda: g.lda,
        ldb: g.ldb,
        ldc: g.ldc,
        alpha: g.alpha,
        beta: g.beta,
        trans_a: has(p::MME_TRANS_A),
        trans_b: has(p::MME_TRANS_B),
        bf16: has(p::MME_BF16),
        relu: has(p::MME_RELU),
    })
}

/// `gaudi_cb_gemm()`.
///
/// # Safety
///
/// `cb` is a live command buffer; `gemm` points to a valid `struct gaudi_gemm`.
#[no_mangle]
pub unsafe extern "C" fn gaudi_cb_gemm(cb: *mut gaudi_cb, gemm: *const gaudi_gemm) -> c_int {
    // SAFETY: Null or valid, per the caller.
    let Some(g) = (unsafe { gemm.as_ref() }) else {
        return -libc::EINVAL;
    };
    // SAFETY: As documented for the caller.
    unsafe { append(cb, gemm_of(g).map(Packet::Mme)) }
}

/// `gaudi_cb_tpc_launch()`.
///
/// # Safety
///
/// `cb` is a live command buffer; `launch` points to a valid `struct gaudi_tpc_launch`.
#[no_mangle]
pub unsafe extern "C" fn gaudi_cb_tpc_launch(
    cb: *mut gaudi_cb,
    launch: *const gaudi_tpc_launch,
) -> c_int {
    // SAFETY: Null or valid, per the caller.
    let Some(l) = (unsafe { launch.as_ref() }) else {
        return -libc::EINVAL;
    };
    let t = TpcLaunch {
        code: l.code,
        code_size: l.code_size,
        grid: l.grid,
        args: l.args,
    };
    // SAFETY: As documented for the caller.
    unsafe { append(cb, Ok(Packet::TpcLaunch(t))) }
}

/// `gaudi_cb_words()`.
///
/// # Safety
///
/// `cb` is a live command buffer; `count` is null or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn gaudi_cb_words(cb: *const gaudi_cb, count: *mut usize) -> *const u32 {
    // SAFETY: Null or live, per the caller.
    let Some(c) = (unsafe { cb.as_ref() }) else {
        return ptr::null();
    };
    // SAFETY: Null or valid, per the caller.
    unsafe { put(count, c.cb.words().len()) };
    c.cb.words().as_ptr()
}

/// `gaudi_cb_size()`.
///
/// # Safety
///
/// `cb` is null or a live command buffer.
#[no_mangle]
pub unsafe extern "C" fn gaudi_cb_size(cb: *const gaudi_cb) -> usize {
    // SAFETY: Null or live, per the caller.
    unsafe { cb.as_ref() }.map_or(0, |c| c.cb.size_bytes())
}

/// `gaudi_cb_error()`.
///
/// # Safety
///
/// `cb` is null or a live command buffer.
#[no_mangle]
pub unsafe extern "C" fn gaudi_cb_error(cb: *const gaudi_cb) -> *const c_char {
    // SAFETY: Null or live, per the caller.
    match unsafe { cb.as_ref() } {
        Some(c) => c.error.as_ptr(),
        None => c"no command buffer".as_ptr(),
    }
}

/// Copies `msg` into the C buffer `buf` of `size` bytes, truncated and NUL-terminated.
///
/// # Safety
///
/// `buf` is null or valid for `size` writes.
unsafe fn copy_message(msg: &str, buf: *mut c_char, size: usize) {
    if buf.is_null() || size == 0 {
        return;
    }
    let n = msg.len().min(size - 1);
    // SAFETY: `n + 1 <= size` bytes fit at `buf`; `msg` is a distinct buffer.
    unsafe {
        ptr::copy_nonoverlapping(msg.as_ptr().cast::<c_char>(), buf, n);
        buf.add(n).write(0);
    }
}

/// `gaudi_tpc_assemble()`.
///
/// # Safety
///
/// `source` is a NUL-terminated string; `error` is null or valid for `error_size` writes.
#[no_mangle]
pub unsafe extern "C" fn gaudi_tpc_assemble(
    source: *const c_char,
    error: *mut c_char,
    error_size: usize,
) -> *mut gaudi_tpc_program {
    let result = if source.is_null() {
        Err("no source".to_string())
    } else {
        // SAFETY: The caller passes a NUL-terminated string.
        match unsafe { CStr::from_ptr(source) }.to_str() {
            Ok(s) => tpc::assemble(s).map_err(|e| e.to_string()),
            Err(_) => Err("the source is not UTF-8".to_string()),
        }
    };
    match result {
        Ok(code) => Box::into_raw(Box::new(gaudi_tpc_program { code })),
        Err(msg) => {
            // SAFETY: As documented for the caller.
            unsafe { copy_message(&msg, error, error_size) };
            ptr::null_mut()
        }
    }
}

/// `gaudi_tpc_code()`.
///
/// # Safety
///
/// `prog` is a live kernel; `count` is null or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn gaudi_tpc_code(
    prog: *const gaudi_tpc_program,
    count: *mut usize,
) -> *const u64 {
    // SAFETY: Null or live, per the caller.
    let Some(p) = (unsafe { prog.as_ref() }) else {
        return ptr::null();
    };
    // SAFETY: Null or valid, per the caller.
    unsafe { put(count, p.code.len()) };
    p.code.as_ptr()
}

/// `gaudi_tpc_destroy()`.
///
/// # Safety
///
/// `prog` is null or a kernel of [`gaudi_tpc_assemble`], not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn gaudi_tpc_destroy(prog: *mut gaudi_tpc_program) {
    if !prog.is_null() {
        // SAFETY: From `Box::into_raw`, given up by the caller.
        drop(unsafe { Box::from_raw(prog) });
    }
}

/// `gaudi_tpc_disassemble()`.
///
/// # Safety
///
/// `code` holds `count` words.
#[no_mangle]
pub unsafe extern "C" fn gaudi_tpc_disassemble(code: *const u64, count: usize) -> *mut c_char {
    // SAFETY: As documented for the caller.
    let Ok(words) = (unsafe { slice(code, count) }) else {
        return ptr::null_mut();
    };
    CString::new(tpc::disassemble(words)).map_or(ptr::null_mut(), CString::into_raw)
}

/// `gaudi_string_free()`.
///
/// # Safety
///
/// `s` is null or a string the library returned, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn gaudi_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: From `CString::into_raw`, given up by the caller.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// `struct gaudi_rt`: a tensor runtime ([`crate::tensor::Runtime`]) on a device that the
/// caller keeps open until [`gaudi_rt_destroy`].
#[derive(Debug)]
pub struct gaudi_rt {
    rt: crate::tensor::Runtime<'static>,
}

/// `struct gaudi_tensor`: a device tensor of a runtime's device.
#[derive(Debug)]
pub struct gaudi_tensor {
    t: crate::tensor::Tensor<'static>,
}

/// `gaudi_rt_create()`.
///
/// # Safety
///
/// `dev` is a live device that outlives the runtime and its tensors; `rt` is valid for a
/// write.
#[no_mangle]
pub unsafe extern "C" fn gaudi_rt_create(dev: *mut Device, rt: *mut *mut gaudi_rt) -> c_int {
    // SAFETY: The caller keeps the device alive for as long as the runtime and its tensors
    // (documented in gaudi.h), which is what the 'static borrow stands for.
    let Some(d) = (unsafe { dev.cast_const().as_ref::<'static>() }) else {
        return -libc::EINVAL;
    };
    if rt.is_null() {
        return -libc::EINVAL;
    }
    match crate::tensor::Runtime::new(d) {
        Ok(r) => {
            // SAFETY: `rt` is valid for a write, per the caller.
            unsafe { rt.write(Box::into_raw(Box::new(gaudi_rt { rt: r }))) };
            0
        }
        Err(e) => neg(&e),
    }
}

/// `gaudi_rt_destroy()`.
///
/// # Safety
///
/// `rt` is null or a runtime of [`gaudi_rt_create`], not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn gaudi_rt_destroy(rt: *mut gaudi_rt) {
    if !rt.is_null() {
        // SAFETY: Made by `Box::into_raw` in `gaudi_rt_create`, given back once.
        drop(unsafe { Box::from_raw(rt) });
    }
}

/// Runs `f` on the runtime behind `rt`; `-EINVAL` for a null pointer.
///
/// # Safety
///
/// `rt` is null or a live runtime.
unsafe fn with_rt(
    rt: *mut gaudi_rt,
    f: impl FnOnce(&mut crate::tensor::Runtime<'static>) -> io::Result<()>,
) -> c_int {
    // SAFETY: Null or live, per the caller.
    match unsafe { rt.as_mut() } {
        Some(r) => status(f(&mut r.rt)),
        None => -libc::EINVAL,
    }
}

/// The descriptor of the tensor behind `t`, `EINVAL` for a null pointer.
///
/// # Safety
///
/// `t` is null or a live tensor.
unsafe fn mat(t: *const gaudi_tensor) -> io::Result<crate::tensor::Mat> {
    // SAFETY: Null or live, per the caller.
    unsafe { t.as_ref() }
        .map(|t| t.t.mat())
        .ok_or_else(crate::einval)
}

/// `gaudi_tensor_create()`.
///
/// # Safety
///
/// `rt` is a live runtime; `t` is valid for a write.
#[no_mangle]
pub unsafe extern "C" fn gaudi_tensor_create(
    rt: *mut gaudi_rt,
    rows: u32,
    cols: u32,
    t: *mut *mut gaudi_tensor,
) -> c_int {
    if t.is_null() {
        return -libc::EINVAL;
    }
    // SAFETY: As documented for the caller.
    unsafe {
        with_rt(rt, |r| {
            let tensor = r.tensor(rows, cols)?;
            t.write(Box::into_raw(Box::new(gaudi_tensor { t: tensor })));
            Ok(())
        })
    }
}

/// `gaudi_tensor_destroy()`.
///
/// # Safety
///
/// `t` is null or a tensor of [`gaudi_tensor_create`], not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn gaudi_tensor_destroy(t: *mut gaudi_tensor) {
    if !t.is_null() {
        // SAFETY: Made by `Box::into_raw` in `gaudi_tensor_create`, given back once.
        drop(unsafe { Box::from_raw(t) });
    }
}

/// `gaudi_tensor_upload()`.
///
/// # Safety
///
/// `rt` and `t` are live; `values` is valid for `count` reads.
#[no_mangle]
pub unsafe extern "C" fn gaudi_tensor_upload(
    rt: *mut gaudi_rt,
    t: *const gaudi_tensor,
    values: *const f32,
    count: usize,
) -> c_int {
    // SAFETY: As documented for the caller.
    unsafe { with_rt(rt, |r| r.upload(&mat(t)?, slice(values, count)?)) }
}

/// `gaudi_tensor_download()`.
///
/// # Safety
///
/// `rt` and `t` are live; `values` is valid for `count` writes.
#[no_mangle]
pub unsafe extern "C" fn gaudi_tensor_download(
    rt: *mut gaudi_rt,
    t: *const gaudi_tensor,
    values: *mut f32,
    count: usize,
) -> c_int {
    // SAFETY: As documented for the caller.
    unsafe {
        with_rt(rt, |r| {
            let m = mat(t)?;
            if count != m.len() || values.is_null() {
                return Err(crate::einval());
            }
            let v = r.download(&m)?;
            std::ptr::copy_nonoverlapping(v.as_ptr(), values, count);
            Ok(())
        })
    }
}

/// `gaudi_rt_matmul()`.
///
/// # Safety
///
/// `rt` is live; `a`, `b`, `c` are live tensors, `bias` null or a live tensor.
#[no_mangle]
pub unsafe extern "C" fn gaudi_rt_matmul(
    rt: *mut gaudi_rt,
    a: *const gaudi_tensor,
    b: *const gaudi_tensor,
    c: *const gaudi_tensor,
    bias: *const gaudi_tensor,
    flags: u32,
) -> c_int {
    if flags & !GAUDI_RT_FLAGS != 0 {
        return -libc::EINVAL;
    }
    // SAFETY: As documented for the caller.
    unsafe {
        with_rt(rt, |r| {
            let bias = if bias.is_null() {
                None
            } else {
                Some(mat(bias)?)
            };
            r.matmul(
                &mat(a)?,
                flags & GAUDI_RT_TRANS_A != 0,
                &mat(b)?,
                flags & GAUDI_RT_TRANS_B != 0,
                &mat(c)?,
                bias.as_ref(),
                flags & GAUDI_RT_RELU != 0,
            )
        })
    }
}

/// `GAUDI_RT_TRANS_A`.
pub const GAUDI_RT_TRANS_A: u32 = 1 << 0;
/// `GAUDI_RT_TRANS_B`.
pub const GAUDI_RT_TRANS_B: u32 = 1 << 1;
/// `GAUDI_RT_RELU`.
pub const GAUDI_RT_RELU: u32 = 1 << 2;
const GAUDI_RT_FLAGS: u32 = GAUDI_RT_TRANS_A | GAUDI_RT_TRANS_B | GAUDI_RT_RELU;

/// `gaudi_rt_softmax()`.
///
/// # Safety
///
/// `rt`, `z` and `p` are live.
#[no_mangle]
pub unsafe extern "C" fn gaudi_rt_softmax(
    rt: *mut gaudi_rt,
    z: *const gaudi_tensor,
    p: *const gaudi_tensor,
) -> c_int {
    // SAFETY: As documented for the caller.
    unsafe { with_rt(rt, |r| r.softmax(&mat(z)?, &mat(p)?)) }
}

/// `gaudi_rt_argmax()`.
///
/// # Safety
///
/// `rt`, `z` and `out` are live.
#[no_mangle]
pub unsafe extern "C" fn gaudi_rt_argmax(
    rt: *mut gaudi_rt,
    z: *const gaudi_tensor,
    out: *const gaudi_tensor,
) -> c_int {
    // SAFETY: As documented for the caller.
    unsafe { with_rt(rt, |r| r.argmax(&mat(z)?, &mat(out)?)) }
}

/// `gaudi_rt_sync()`.
///
/// # Safety
///
/// `rt` is live.
#[no_mangle]
pub unsafe extern "C" fn gaudi_rt_sync(rt: *mut gaudi_rt) -> c_int {
    // SAFETY: As documented for the caller.
    unsafe { with_rt(rt, |r| r.sync()) }
}
