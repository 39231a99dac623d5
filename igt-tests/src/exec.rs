// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Helpers of the execution tests: running command buffers and learning how their jobs ended,
//! syncobjs that go with the test, user fences the CPU releases, and CPU references of the
//! device's computations.
//!
//! How a job ended is the status of its finished fence, read through a binary syncobj
//! ([`gaudi::syncobj::fence_status`]): 1 for success, `-EIO` for a job that faulted or held a
//! bad packet, `-ECANCELED` for one that never ran.

use std::{os::fd::AsFd, time::Duration};

use gaudi::{
    cmdbuf::{bf16_to_f32, f32_to_bf16, CommandBuffer, Gemm},
    syncobj::{self, timeout_after},
    Buffer, Context, Device, Submit,
};

use crate::ok;

/// How long a job may take, even under TCG with KASAN.
pub const LONG: Duration = Duration::from_secs(30);
/// How long a job that must not complete yet is given to (wrongly) complete.
pub const SHORT: Duration = Duration::from_millis(300);
/// Fence status of a job that succeeded.
pub const DONE: i32 = 1;

/// A syncobj of a device, destroyed on drop.
pub struct Syncobj<'d> {
    dev: &'d Device,
    /// The handle.
    pub handle: u32,
}

impl<'d> Syncobj<'d> {
    /// A new syncobj without fence.
    pub fn new(dev: &'d Device) -> igt::Result<Self> {
        Ok(Self {
            dev,
            handle: ok!(syncobj::create(dev.as_fd(), 0)),
        })
    }

    /// Waits up to [`LONG`] for the fence, or for timeline `point` if not zero.
    pub fn wait(&self, point: u64) -> igt::Result {
        let deadline = timeout_after(LONG);
        let r = if point == 0 {
            syncobj::wait(self.dev.as_fd(), &[self.handle], deadline, 0)
        } else {
            syncobj::timeline_wait(self.dev.as_fd(), &[self.handle], &[point], deadline, 0)
        };
        ok!(r, "wait for syncobj {} point {point}", self.handle);
        Ok(())
    }

    /// Whether the fence (or timeline `point`) has signalled; waits [`SHORT`] for it.
    pub fn signalled_soon(&self, point: u64) -> igt::Result<bool> {
        let deadline = timeout_after(SHORT);
        let flags = syncobj::DRM_SYNCOBJ_WAIT_FLAGS_WAIT_FOR_SUBMIT;
        let r = if point == 0 {
            syncobj::wait(self.dev.as_fd(), &[self.handle], deadline, flags)
        } else {
            syncobj::timeline_wait(self.dev.as_fd(), &[self.handle], &[point], deadline, flags)
        };
        match r {
            Ok(_) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ETIME) => Ok(false),
            Err(e) => Err(igt::fail!("wait for syncobj {}: {e}", self.handle)),
        }
    }

    /// The status of the (binary) fence: [`DONE`], 0 pending, or a negative errno.
    pub fn status(&self) -> igt::Result<i32> {
        Ok(ok!(syncobj::fence_status(
            self.dev.as_fd(),
            self.handle,
            None
        )))
    }
}

impl Drop for Syncobj<'_> {
    fn drop(&mut self) {
        let _ = syncobj::destroy(self.dev.as_fd(), self.handle);
    }
}

/// Submits `job` signalling a fresh binary syncobj, waits for it and returns the job's
/// sequence number and fence status.
pub fn submit_and_wait(dev: &Device, job: Submit) -> igt::Result<(u64, i32)> {
    let s = Syncobj::new(dev)?;
    let seqno = ok!(dev.submit(&job.signal(s.handle, 0)), "SUBMIT");
    s.wait(0)?;
    Ok((seqno, s.status()?))
}

/// Uploads `cb` and runs it on `ctx` with the objects `bos` (handle, written), then waits;
/// returns the fence status.
pub fn run(ctx: &Context<'_>, cb: &CommandBuffer, bos: &[(u32, bool)]) -> igt::Result<i32> {
    let up = ok!(cb.upload(ctx.device()), "upload the command buffer");
    let mut job = up.job(ctx);
    for &(h, write) in bos {
        job = if write { job.write(h) } else { job.read(h) };
    }
    Ok(submit_and_wait(ctx.device(), job)?.1)
}

/// [`run`], failing unless the job succeeded (with the context's state in the message).
pub fn run_ok(ctx: &Context<'_>, cb: &CommandBuffer, bos: &[(u32, bool)]) -> igt::Result {
    let status = run(ctx, cb, bos)?;
    if status != DONE {
        let state = ctx.query().ok();
        return Err(igt::fail!("job ended with {status}, context {state:?}"));
    }
    Ok(())
}

/// A user fence: a u64 in system memory that the device WAITs on and the CPU writes.
pub struct UserFence<'d> {
    /// Its buffer.
    pub buf: Buffer<'d>,
}

impl<'d> UserFence<'d> {
    /// A fence at 0.
    pub fn new(dev: &'d Device) -> igt::Result<Self> {
        Ok(Self {
            buf: ok!(Buffer::new(dev, 4096, 0)),
        })
    }

    /// Appends a WAIT until the fence reaches `value`.
    pub fn wait(&self, cb: &mut CommandBuffer, value: u64) -> igt::Result {
        ok!(cb.wait(self.buf.va(), value));
        Ok(())
    }

    /// Sets the fence to `value` from the CPU.
    pub fn release(&self, value: u64) -> igt::Result {
        ok!(self.buf.write_u64(0, value));
        Ok(())
    }
}

/// `len` bytes of `value` repeated (little-endian), what a DMA fill with `value` writes.
pub fn filled(value: u32, len: usize) -> Vec<u8> {
    value
        .to_le_bytes()
        .iter()
        .copied()
        .cycle()
        .take(len)
        .collect()
}

/// Values that bfloat16 holds exactly and whose products and sums of up to thousands of
/// terms fp32 holds exactly: multiples of 1/4 in [-2, 2].
pub fn exact_values(seed: u32, n: usize) -> Vec<f32> {
    crate::pattern(seed, n)
        .into_iter()
        .map(|b| f32::from(b % 17) / 4.0 - 2.0)
        .collect()
}

/// Little-endian bytes of fp32 values.
pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Little-endian bytes of the bfloat16 values of `v`.
pub fn bf16_bytes(v: &[f32]) -> Vec<u8> {
    v.iter()
        .flat_map(|&x| f32_to_bf16(x).to_le_bytes())
        .collect()
}

/// `v` rounded to bfloat16 and back.
pub fn bf16_round(v: &[f32]) -> Vec<f32> {
    v.iter().map(|&x| bf16_to_f32(f32_to_bf16(x))).collect()
}

/// The result of `g` on the CPU, in f64: `a` and `b` as stored (already rounded to bfloat16
/// for a bf16 multiplication), `c` the previous contents of C's span (`g.ldc` per row),
/// `bias` the row when `g.bias` is set. Elements of C outside the `m x n` matrix keep their
/// value.
pub fn gemm_reference(g: &Gemm, a: &[f32], b: &[f32], c: &[f32], bias: &[f32]) -> Vec<f32> {
    let (m, n, k) = (g.m as usize, g.n as usize, g.k as usize);
    let (lda, ldb, ldc) = (g.lda as usize, g.ldb as usize, g.ldc as usize);
    let at = |i: usize, p: usize| {
        if g.trans_a {
            a[p * lda + i]
        } else {
            a[i * lda + p]
        }
    };
    let bt = |p: usize, j: usize| {
        if g.trans_b {
            b[j * ldb + p]
        } else {
            b[p * ldb + j]
        }
    };
    let mut out = c.to_vec();
    for i in 0..m {
        for j in 0..n {
            let dot: f64 = (0..k)
                .map(|p| f64::from(at(i, p)) * f64::from(bt(p, j)))
                .sum();
            let mut v = f64::from(g.alpha) * dot + f64::from(g.beta) * f64::from(c[i * ldc + j]);
            if g.bias.is_some() {
                v += f64::from(bias[j]);
            }
            if g.relu && v < 0.0 {
                v = 0.0;
            }
            out[i * ldc + j] = v as f32;
        }
    }
    out
}

/// Index of the first element of `got` farther than a relative `tol` (and an absolute
/// `tol`) from `want`.
pub fn first_far(got: &[f32], want: &[f32], tol: f32) -> Option<usize> {
    if got.len() != want.len() {
        return Some(got.len().min(want.len()));
    }
    got.iter().zip(want).position(|(&g, &w)| {
        let close = (g - w).abs() <= tol * w.abs().max(1.0);
        !(close || (g.is_nan() && w.is_nan()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemm_reference_of_small_cases() {
        // [1 2; 3 4] * [5 6; 7 8] = [19 22; 43 50].
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [5.0, 6.0, 7.0, 8.0];
        let g = Gemm::new(2, 2, 2, 0, 0, 0);
        assert_eq!(
            gemm_reference(&g, &a, &b, &[0.0; 4], &[]),
            [19.0, 22.0, 43.0, 50.0]
        );
        // Transposes: A^T = [1 3; 2 4], B^T = [5 7; 6 8]; A^T * B^T = [23 31; 34 46].
        let t = Gemm {
            trans_a: true,
            trans_b: true,
            ..g
        };
        assert_eq!(
            gemm_reference(&t, &a, &b, &[0.0; 4], &[]),
            [23.0, 31.0, 34.0, 46.0]
        );
        // alpha, beta, bias, ReLU and a wider C whose padding stays.
        let e = Gemm {
            alpha: 0.5,
            beta: 2.0,
            bias: Some(0),
            relu: true,
            ldc: 3,
            ..g
        };
        let c = [1.0, 1.0, 9.0, -100.0, 1.0, 9.0];
        assert_eq!(
            gemm_reference(&e, &a, &b, &c, &[-20.0, 0.0]),
            [0.0, 13.0, 9.0, 0.0, 27.0, 9.0]
        );
    }

    #[test]
    fn exact_values_are_bf16() {
        let v = exact_values(3, 1000);
        assert_eq!(bf16_round(&v), v);
        assert!(v.iter().all(|x| (-2.0..=2.0).contains(x)));
        assert_eq!(bf16_bytes(&v).len(), 2000);
        assert_eq!(f32_bytes(&v).len(), 4000);
    }

    #[test]
    fn closeness() {
        assert_eq!(first_far(&[1.0, 2.0], &[1.0, 2.0001], 1e-3), None);
        assert_eq!(first_far(&[1.0, 2.1], &[1.0, 2.0], 1e-3), Some(1));
        assert_eq!(first_far(&[1.0], &[1.0, 2.0], 1e-3), Some(1));
        assert_eq!(first_far(&[f32::NAN], &[f32::NAN], 0.0), None);
    }
}
