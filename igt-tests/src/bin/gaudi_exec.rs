// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Execution: contexts, `DRM_IOCTL_GAUDI_SUBMIT` and the device's engines.
//!
//! Every user packet runs and is checked against the CPU: NOP, FENCE, WAIT, DMA copies and
//! fills across system and device memory (odd sizes and offsets included), GEMMs on the MME
//! against a CPU reference over many shapes (transposes, padded leading dimensions, bfloat16,
//! bias and ReLU), and TPC kernels written in assembly (vector add, saxpy with tails, softmax
//! rows, a reduction, 3D grids, strided loads, selects). Jobs depend on each other through
//! binary and timeline syncobjs, through the objects they share between clients and between
//! the two devices (implicit sync), and on vgem's fences. A job that faults or holds a bad
//! packet fails with `EIO` and bans its context while other clients' jobs complete; hostile
//! SUBMIT and context arguments fail with the documented errnos.
//!
//! Packets of one command buffer that depend on each other are separated by a FENCE and a
//! WAIT on the written value ([`barrier`]): the device orders packets only where a FENCE
//! says so.

use std::os::fd::AsFd;

use accel_igt::{
    errno,
    exec::{
        bf16_bytes, bf16_round, exact_values, f32_bytes, filled, first_far, gemm_reference, run,
        run_ok, Syncobj, UserFence, DONE,
    },
    expect, ioctl_errno, ok, open_device, open_vgem, other_device_path, pattern, unmapped_address,
    vgem::FencedBuffer,
    Kind,
};
use gaudi::{
    cmdbuf::{code_bytes, CommandBuffer, Gemm, TpcLaunch},
    drm::{DRM_CLOEXEC, DRM_RDWR},
    hw::{packet as pkt, queue::ACCESS_READ},
    syncobj, tpc,
    uapi::{
        self, drm_gaudi_ctx_create, drm_gaudi_ctx_destroy, drm_gaudi_ctx_query, drm_gaudi_submit,
        drm_gaudi_submit_bo, drm_gaudi_sync, DRM_GAUDI_ERR_BAD_OPCODE, DRM_GAUDI_ERR_BAD_PACKET,
        DRM_GAUDI_ERR_MMU_FAULT, DRM_GAUDI_ERR_NESTED_INDIRECT, DRM_GAUDI_ERR_TPC,
    },
    Buffer, Context, Device, Priority,
};

const P: u64 = uapi::DRM_GAUDI_VM_PAGE_SIZE;

/// Appends a FENCE of `value` to the first u64 of `scratch` and a WAIT for it: the packets
/// after it start once everything before it is done.
fn barrier(cb: &mut CommandBuffer, scratch: &Buffer<'_>, value: u64) -> igt::Result {
    ok!(cb.fence(scratch.va(), value, false));
    ok!(cb.wait(scratch.va(), value));
    Ok(())
}

/// A buffer of `kind` and `size` bytes filled with `seed`'s pattern.
fn buffer<'d>(
    dev: &'d Device,
    kind: Kind,
    size: u64,
    seed: u32,
) -> igt::Result<(Buffer<'d>, Vec<u8>)> {
    let b = ok!(Buffer::new(dev, size, kind.flags()), "{kind:?} buffer");
    let data = pattern(seed, b.size() as usize);
    ok!(b.write(0, &data));
    Ok((b, data))
}

/// A buffer of `kind` holding `bytes` (the rest zero).
fn buffer_with<'d>(dev: &'d Device, kind: Kind, bytes: &[u8]) -> igt::Result<Buffer<'d>> {
    let b = ok!(Buffer::new(dev, bytes.len().max(1) as u64, kind.flags()));
    ok!(b.write(0, bytes));
    Ok(b)
}

fn context(dev: &Device) -> igt::Result<Context<'_>> {
    Ok(ok!(Context::new(dev, Priority::Normal)))
}

/// Copies between every pair of kinds, several odd sizes and offsets in one job.
fn dma_copy(src_kind: Kind, dst_kind: Kind) -> igt::Result {
    let dev = ok!(open_device());
    let ctx = context(&dev)?;
    let (src, src_data) = buffer(&dev, src_kind, 16 * P, 1)?;
    let (dst, mut want) = buffer(&dev, dst_kind, 16 * P, 2)?;
    let mut cb = CommandBuffer::new();
    let mut at = 0u64;
    for (i, size) in [1u64, 3, 4, 7, 8, 255, 4095, 4096, 4097, 3 * P + 5, 2 * P]
        .into_iter()
        .enumerate()
    {
        let (s, d) = (at + i as u64 % 5, at + 3 + i as u64);
        ok!(cb.dma_copy(src.va() + s, dst.va() + d, size));
        want[d as usize..(d + size) as usize]
            .copy_from_slice(&src_data[s as usize..(s + size) as usize]);
        at += size + 16;
    }
    run_ok(&ctx, &cb, &[(src.handle(), false), (dst.handle(), true)])?;
    expect(dst.map(), &want, "destination")?;
    expect(src.map(), &src_data, "source")
}

/// Runs one GEMM `g` (shapes, flags; addresses filled in here) with A, B, C and bias in
/// `kind` memory and compares C with the CPU's result.
fn gemm_case(dev: &Device, kind: Kind, g: Gemm, seed: u32) -> igt::Result {
    let ctx = context(dev)?;
    let a_len = (g.a_span() / g.elem_size()) as usize;
    let b_len = (g.b_span() / g.elem_size()) as usize;
    let c_len = (g.c_span() / 4) as usize;
    let (mut a, mut b) = (exact_values(seed, a_len), exact_values(seed + 1, b_len));
    let c0 = exact_values(seed + 2, c_len);
    let bias = exact_values(seed + 3, g.n as usize);
    let bytes = |v: &[f32]| if g.bf16 { bf16_bytes(v) } else { f32_bytes(v) };
    if g.bf16 {
        a = bf16_round(&a);
        b = bf16_round(&b);
    }
    let ab = buffer_with(dev, kind, &bytes(&a))?;
    let bb = buffer_with(dev, kind, &bytes(&b))?;
    let cb_ = buffer_with(dev, kind, &f32_bytes(&c0))?;
    let biasb = buffer_with(dev, kind, &f32_bytes(&bias))?;
    let g = Gemm {
        a: ab.va(),
        b: bb.va(),
        c: cb_.va(),
        bias: g.bias.map(|_| biasb.va()),
        ..g
    };
    let mut cb = CommandBuffer::new();
    ok!(cb.gemm(&g));
    run_ok(
        &ctx,
        &cb,
        &[
            (ab.handle(), false),
            (bb.handle(), false),
            (biasb.handle(), false),
            (cb_.handle(), true),
        ],
    )?;
    let want = gemm_reference(&g, &a, &b, &c0, &bias);
    let got = ok!(cb_.read_f32(0, c_len));
    if let Some(i) = first_far(&got, &want, 1e-5) {
        return Err(igt::fail!(
            "{g:?}: C[{}][{}] is {}, expected {}",
            i / g.ldc as usize,
            i % g.ldc as usize,
            got[i],
            want[i]
        ));
    }
    Ok(())
}

/// A GEMM of the given shape and transposes with dense leading dimensions.
fn shape(m: u32, n: u32, k: u32, trans_a: bool, trans_b: bool) -> Gemm {
    let g = Gemm {
        trans_a,
        trans_b,
        ..Gemm::new(m, n, k, 0, 0, 0)
    };
    Gemm {
        lda: g.a_dims().1,
        ldb: g.b_dims().1,
        ..g
    }
}

const SHAPES: [(u32, u32, u32); 10] = [
    (1, 1, 1),
    (2, 3, 4),
    (3, 5, 7),
    (16, 16, 16),
    (17, 13, 11),
    (31, 33, 1),
    (1, 64, 129),
    (64, 1, 64),
    (100, 7, 50),
    (128, 96, 80),
];

/// Runs the kernel `source` over `grid` with `args` on `ctx`, the kernel in a read-only
/// buffer; `bos` are the objects it uses (handle, written).
fn run_kernel(
    ctx: &Context<'_>,
    source: &str,
    grid: [u32; 3],
    args: &[u64],
    bos: &[(u32, bool)],
) -> igt::Result<i32> {
    let code = tpc::assemble(source).map_err(|e| igt::fail!("kernel: {e}"))?;
    let kernel = ok!(Buffer::with_data(ctx.device(), &code_bytes(&code), 0, true));
    let launch = ok!(TpcLaunch::new(
        kernel.va(),
        (code.len() * 8) as u32,
        grid,
        args
    ));
    let mut cb = CommandBuffer::new();
    ok!(cb.tpc_launch(&launch));
    let mut all = bos.to_vec();
    all.push((kernel.handle(), false));
    run(ctx, &cb, &all)
}

/// `c = a + b` on `n` fp32 elements, 16 per grid point, the last point shorter.
const VECTOR_ADD: &str = "
    arg   s1, 0          # a
    arg   s2, 1          # b
    arg   s3, 2          # c
    arg   s4, 3          # n
    gid   s5, 0
    shli  s6, s5, 4      # first element: 16 per grid point
    sub   s7, s4, s6     # elements left
    setvl s7, s7         # the tail is shorter
    shli  s6, s6, 2      # bytes
    add   s1, s1, s6
    add   s2, s2, s6
    add   s3, s3, s6
    vld   v0, [s1]
    vld   v1, [s2]
    vadd  v2, v0, v1
    vst   v2, [s3]
    halt
";

/// `y += alpha * x` on `n` elements, `chunk` per grid point, 16 lanes at a time with a tail.
const SAXPY: &str = "
    arg    s1, 0         # x
    arg    s2, 1         # y
    arg    s3, 2         # n
    arg    s4, 3         # alpha, fp32 bits
    arg    s5, 4         # elements per grid point
    vbcast v3, s4
    gid    s6, 0
    mul    s7, s6, s5    # first element
    add    s8, s7, s5
    min    s8, s8, s3    # end of this point's chunk
loop:
    bge    s7, s8, done
    sub    s9, s8, s7
    setvl  s10, s9       # s10 = lanes this time
    shli   s11, s7, 2
    add    s12, s1, s11
    add    s13, s2, s11
    vld    v0, [s12]
    vld    v1, [s13]
    vfma   v1, v3, v0    # y + alpha * x
    vst    v1, [s13]
    add    s7, s7, s10
    j      loop
done:
    halt
";

/// Softmax of each row of a `rows x cols` matrix, one row per grid point.
const SOFTMAX: &str = "
    arg     s1, 0        # in
    arg     s2, 1        # out
    arg     s3, 2        # cols
    gid     s4, 0        # row
    mul     s5, s4, s3
    shli    s5, s5, 2
    add     s1, s1, s5
    add     s2, s2, s5
    vbcasti v4, -inf     # the row's maximum, in every lane
    li      s6, 0
max_loop:
    bge     s6, s3, max_done
    sub     s7, s3, s6
    setvl   s8, s7
    shli    s9, s6, 2
    add     s10, s1, s9
    vld     v0, [s10]
    vrmax   v1, v0       ; over the vl lanes only
    vmax    v4, v4, v1
    add     s6, s6, s8
    j       max_loop
max_done:
    vbcasti v5, 0.0      # sum of the exponentials
    li      s6, 0
exp_loop:
    bge     s6, s3, exp_done
    sub     s7, s3, s6
    setvl   s8, s7
    shli    s9, s6, 2
    add     s10, s1, s9
    add     s11, s2, s9
    vld     v0, [s10]
    vsub    v0, v0, v4
    vexp    v0, v0
    vst     v0, [s11]
    vrsum   v1, v0
    vadd    v5, v5, v1
    add     s6, s6, s8
    j       exp_loop
exp_done:
    li      s6, 0
div_loop:
    bge     s6, s3, div_done
    sub     s7, s3, s6
    setvl   s8, s7
    shli    s9, s6, 2
    add     s11, s2, s9
    vld     v0, [s11]
    vdiv    v0, v0, v5
    vst     v0, [s11]
    add     s6, s6, s8
    j       div_loop
div_done:
    halt
";

/// Partial sums of `chunk` elements per grid point, written as fp32 to `partials[gid]`.
const REDUCE: &str = "
    arg     s1, 0        # x
    arg     s2, 1        # partials
    arg     s3, 2        # n
    arg     s4, 3        # chunk
    gid     s5, 0
    mul     s6, s5, s4
    add     s7, s6, s4
    min     s7, s7, s3
    vbcasti v2, 0
loop:
    bge     s6, s7, done
    sub     s8, s7, s6
    setvl   s9, s8
    shli    s10, s6, 2
    add     s10, s1, s10
    vld     v0, [s10]
    vrsum   v1, v0
    vadd    v2, v2, v1
    add     s6, s6, s9
    j       loop
done:
    vmovs   s11, v2, 0
    shli    s12, s5, 2
    add     s12, s2, s12
    stw     s11, [s12]
    halt
";

/// Each point of a 3D grid writes its linear index (as a u32) to `out[index]`.
const GRID_3D: &str = "
    arg   s1, 0
    gid   s2, 0
    gid   s3, 1
    gid   s4, 2
    gsize s5, 0
    gsize s6, 1
    mul   s7, s4, s6     # z * ny
    add   s7, s7, s3     # + y
    mul   s7, s7, s5     # * nx
    add   s7, s7, s2     # + x
    shli  s8, s7, 2
    add   s8, s1, s8
    stw   s7, [s8]
    ld    s9, [s1 + 0]   # a scalar load of the output, for the load path
    halt
";

/// Transposes a 16 x 16 fp32 matrix: point `j` gathers column `j` with a strided load.
const TRANSPOSE: &str = "
    arg   s1, 0          # in
    arg   s2, 1          # out
    gid   s3, 0          # column
    shli  s4, s3, 2
    add   s5, s1, s4
    li    s6, 64         # a row of 16 lanes
    vlds  v0, [s5], s6
    shli  s7, s3, 6
    add   s8, s2, s7
    vst   v0, [s8]
    halt
";

/// `out[i] = x[i] > 0 ? ln(x[i]) : i` for 16 lanes, and `out[16 + i] = min(x[i], 0.5)`,
/// `out[32 + i] = x[i] == 1 ? 1 : 0`.
const SELECT: &str = "
    arg     s1, 0
    arg     s2, 1
    vld     v0, [s1]
    viota   v1
    vbcasti v2, 0
    vcmpgt  v3, v0, v2
    vlog    v4, v0
    vsel    v3, v4, v1
    vst     v3, [s2]
    vbcasti v5, 0.5
    vmin    v6, v0, v5
    vst     v6, [s2 + 64]
    li      s3, 1
    vitof   v7, s3
    vcmpeq  v8, v0, v7
    vmov    v9, v8
    vst     v9, [s2 + 128]
    halt
";

/// Checks `got` against `want` within `tol`.
fn expect_close(got: &[f32], want: &[f32], tol: f32, what: &str) -> igt::Result {
    if let Some(i) = first_far(got, want, tol) {
        return Err(igt::fail!(
            "{what}: element {i} is {:?}, expected {:?}",
            got.get(i),
            want.get(i)
        ));
    }
    Ok(())
}

fn tpc_vector_add() -> igt::Result {
    let dev = ok!(open_device());
    let ctx = context(&dev)?;
    for n in [1usize, 15, 16, 17, 1000] {
        let (x, y) = (exact_values(10, n), exact_values(11, n));
        let a = buffer_with(&dev, Kind::System, &f32_bytes(&x))?;
        let b = buffer_with(&dev, Kind::Device, &f32_bytes(&y))?;
        let c = buffer_with(&dev, Kind::Wc, &f32_bytes(&vec![7.0; n + 1]))?;
        let status = run_kernel(
            &ctx,
            VECTOR_ADD,
            [n.div_ceil(16) as u32, 1, 1],
            &[a.va(), b.va(), c.va(), n as u64],
            &[(a.handle(), false), (b.handle(), false), (c.handle(), true)],
        )?;
        igt::assert_eq!(status, DONE, "vector add of {n}");
        let mut want: Vec<f32> = x.iter().zip(&y).map(|(p, q)| p + q).collect();
        want.push(7.0);
        expect_close(&ok!(c.read_f32(0, n + 1)), &want, 0.0, &format!("c of {n}"))?;
    }
    Ok(())
}

fn tpc_saxpy() -> igt::Result {
    let dev = ok!(open_device());
    let ctx = context(&dev)?;
    let alpha = -1.25f32;
    for (n, chunk) in [(1usize, 64u64), (100, 64), (1000, 37), (4096, 256)] {
        let (x, y) = (exact_values(20, n), exact_values(21, n));
        let xb = buffer_with(&dev, Kind::System, &f32_bytes(&x))?;
        let yb = buffer_with(&dev, Kind::Device, &f32_bytes(&y))?;
        let status = run_kernel(
            &ctx,
            SAXPY,
            [n.div_ceil(chunk as usize) as u32, 1, 1],
            &[
                xb.va(),
                yb.va(),
                n as u64,
                u64::from(alpha.to_bits()),
                chunk,
            ],
            &[(xb.handle(), false), (yb.handle(), true)],
        )?;
        igt::assert_eq!(status, DONE, "saxpy of {n}");
        let want: Vec<f32> = x.iter().zip(&y).map(|(p, q)| q + alpha * p).collect();
        expect_close(&ok!(yb.read_f32(0, n)), &want, 1e-6, &format!("y of {n}"))?;
    }
    Ok(())
}

fn tpc_softmax() -> igt::Result {
    let dev = ok!(open_device());
    let ctx = context(&dev)?;
    for (rows, cols) in [(1usize, 1usize), (3, 16), (5, 17), (8, 100)] {
        let x = exact_values(30 + cols as u32, rows * cols);
        let inb = buffer_with(&dev, Kind::System, &f32_bytes(&x))?;
        let out = buffer_with(&dev, Kind::System, &f32_bytes(&vec![0.0; rows * cols]))?;
        let status = run_kernel(
            &ctx,
            SOFTMAX,
            [rows as u32, 1, 1],
            &[inb.va(), out.va(), cols as u64],
            &[(inb.handle(), false), (out.handle(), true)],
        )?;
        igt::assert_eq!(status, DONE, "softmax {rows}x{cols}");
        let mut want = Vec::new();
        for row in x.chunks(cols) {
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let e: Vec<f64> = row.iter().map(|v| f64::from(v - max).exp()).collect();
            let sum: f64 = e.iter().sum();
            want.extend(e.iter().map(|v| (v / sum) as f32));
        }
        let got = ok!(out.read_f32(0, rows * cols));
        expect_close(&got, &want, 1e-5, &format!("softmax {rows}x{cols}"))?;
    }
    Ok(())
}

fn tpc_reduce() -> igt::Result {
    let dev = ok!(open_device());
    let ctx = context(&dev)?;
    for (n, chunk) in [(1usize, 16u64), (1000, 100), (65536, 4096), (12345, 1000)] {
        // Integers: every partial and total sum is exact.
        let x: Vec<f32> = exact_values(40, n).iter().map(|v| v * 4.0).collect();
        let points = n.div_ceil(chunk as usize);
        let xb = buffer_with(&dev, Kind::Device, &f32_bytes(&x))?;
        let parts = buffer_with(&dev, Kind::System, &f32_bytes(&vec![f32::NAN; points]))?;
        let status = run_kernel(
            &ctx,
            REDUCE,
            [points as u32, 1, 1],
            &[xb.va(), parts.va(), n as u64, chunk],
            &[(xb.handle(), false), (parts.handle(), true)],
        )?;
        igt::assert_eq!(status, DONE, "reduction of {n}");
        let want: Vec<f32> = x.chunks(chunk as usize).map(|c| c.iter().sum()).collect();
        let got = ok!(parts.read_f32(0, points));
        expect_close(&got, &want, 0.0, &format!("partial sums of {n}"))?;
        let total: f32 = got.iter().sum();
        igt::assert_eq!(total, x.iter().sum::<f32>(), "sum of {n}");
    }
    Ok(())
}

fn tpc_grid_and_lanes() -> igt::Result {
    let dev = ok!(open_device());
    let ctx = context(&dev)?;
    // 3D grid.
    let grid = [5u32, 3, 2];
    let points = (grid[0] * grid[1] * grid[2]) as usize;
    let out = buffer_with(&dev, Kind::System, &vec![0xff; points * 4])?;
    let status = run_kernel(&ctx, GRID_3D, grid, &[out.va()], &[(out.handle(), true)])?;
    igt::assert_eq!(status, DONE, "3D grid");
    let want: Vec<u8> = (0..points as u32).flat_map(u32::to_le_bytes).collect();
    let mut got = vec![0; points * 4];
    ok!(out.read(0, &mut got));
    igt::assert!(got == want, "3D grid indices");
    // Strided loads: a transpose.
    let m = exact_values(50, 256);
    let inb = buffer_with(&dev, Kind::Device, &f32_bytes(&m))?;
    let tb = buffer_with(&dev, Kind::System, &f32_bytes(&[0.0; 256]))?;
    let status = run_kernel(
        &ctx,
        TRANSPOSE,
        [16, 1, 1],
        &[inb.va(), tb.va()],
        &[(inb.handle(), false), (tb.handle(), true)],
    )?;
    igt::assert_eq!(status, DONE, "transpose");
    let want: Vec<f32> = (0..256).map(|i| m[(i % 16) * 16 + i / 16]).collect();
    expect_close(&ok!(tb.read_f32(0, 256)), &want, 0.0, "transpose")?;
    // Compares, selects, logarithms, conversions.
    let mut x: Vec<f32> = (0..16)
        .map(|i| [2.5, -1.0, 1.0, 0.0][i % 4] * (i + 1) as f32 / 4.0)
        .collect();
    x[5] = 1.0;
    let xb = buffer_with(&dev, Kind::System, &f32_bytes(&x))?;
    let ob = buffer_with(&dev, Kind::System, &f32_bytes(&[0.0; 48]))?;
    let status = run_kernel(
        &ctx,
        SELECT,
        [1, 1, 1],
        &[xb.va(), ob.va()],
        &[(xb.handle(), false), (ob.handle(), true)],
    )?;
    igt::assert_eq!(status, DONE, "select");
    let mut want: Vec<f32> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| if v > 0.0 { v.ln() } else { i as f32 })
        .collect();
    want.extend(x.iter().map(|&v| v.min(0.5)));
    want.extend(x.iter().map(|&v| if v == 1.0 { 1.0 } else { 0.0 }));
    expect_close(&ok!(ob.read_f32(0, 48)), &want, 1e-6, "select")
}

/// Builds the job of a client that fills `dst` after a WAIT on `fence` reaching 1.
fn gated_fill(
    fence: &UserFence<'_>,
    dst_va: u64,
    size: u64,
    value: u32,
) -> igt::Result<CommandBuffer> {
    let mut cb = CommandBuffer::new();
    fence.wait(&mut cb, 1)?;
    ok!(cb.dma_fill(dst_va, size, value));
    Ok(cb)
}

/// A job of `dev` on `ctx` that copies `size` bytes from `src` (read, through object
/// `src_handle` for implicit sync) to a new buffer, waiting for `wait` syncobjs; returns the
/// destination, the job's syncobj and its command buffer (which must live until it ran).
fn copy_job<'d>(
    ctx: &Context<'d>,
    src_va: u64,
    src_handle: Option<u32>,
    size: u64,
    wait: Option<(u32, u64)>,
) -> igt::Result<(Buffer<'d>, Syncobj<'d>, gaudi::cmdbuf::UploadedCb<'d>)> {
    let dev = ctx.device();
    let dst = ok!(Buffer::new(dev, size, 0));
    let mut cb = CommandBuffer::new();
    ok!(cb.dma_copy(src_va, dst.va(), size));
    let up = ok!(cb.upload(dev));
    let done = Syncobj::new(dev)?;
    let mut job = up.job(ctx).write(dst.handle()).signal(done.handle, 0);
    if let Some(h) = src_handle {
        job = job.read(h);
    }
    if let Some((h, point)) = wait {
        job = job.wait(h, point);
    }
    ok!(dev.submit(&job), "submit the copy");
    Ok((dst, done, up))
}

fn chain_binary() -> igt::Result {
    let dev = ok!(open_device());
    let (a, b) = (context(&dev)?, context(&dev)?);
    let fence = UserFence::new(&dev)?;
    let x = ok!(Buffer::new(&dev, 2 * P, 0));
    let up = ok!(gated_fill(&fence, x.va(), 2 * P, 0xc0ff_ee01)?.upload(&dev));
    let s1 = Syncobj::new(&dev)?;
    ok!(dev.submit(&up.job(&a).write(x.handle()).signal(s1.handle, 0)));
    // On another context, ordered only by the syncobj (no object named for implicit sync).
    let (y, s2, _cb2) = copy_job(&b, x.va(), None, 2 * P, Some((s1.handle, 0)))?;
    let (z, s3, _cb3) = copy_job(&a, y.va(), None, 2 * P, Some((s2.handle, 0)))?;
    igt::assert!(!s3.signalled_soon(0)?, "the chain ran before its first job");
    igt::assert!(!s2.signalled_soon(0)?, "the copy ran before the fill");
    fence.release(1)?;
    s3.wait(0)?;
    for (s, what) in [(&s1, "fill"), (&s2, "first copy"), (&s3, "second copy")] {
        igt::assert_eq!(s.status()?, DONE, "{what}");
    }
    let want = filled(0xc0ff_ee01, 2 * P as usize);
    expect(y.map(), &want, "first copy")?;
    expect(z.map(), &want, "second copy")
}

fn chain_timeline() -> igt::Result {
    let dev = ok!(open_device());
    let ctxs = [context(&dev)?, context(&dev)?];
    let fence = UserFence::new(&dev)?;
    let t = Syncobj::new(&dev)?;
    let first = ok!(Buffer::new(&dev, P, 0));
    let up = ok!(gated_fill(&fence, first.va(), P, 0x7133_0001)?.upload(&dev));
    ok!(dev.submit(&up.job(&ctxs[0]).write(first.handle()).signal(t.handle, 1)));
    let mut keep = Vec::new();
    let mut src = first.va();
    const N: u64 = 6;
    for point in 1..N {
        let ctx = &ctxs[point as usize % 2];
        let dst = ok!(Buffer::new(&dev, P, 0));
        let mut cb = CommandBuffer::new();
        ok!(cb.dma_copy(src, dst.va(), P));
        let up = ok!(cb.upload(&dev));
        let job = up
            .job(ctx)
            .write(dst.handle())
            .wait(t.handle, point)
            .signal(t.handle, point + 1);
        ok!(dev.submit(&job), "point {point}");
        src = dst.va();
        keep.push((dst, up));
    }
    igt::assert!(!t.signalled_soon(1)?, "point 1 before the fence");
    let q = ok!(syncobj::query(dev.as_fd(), &[t.handle], 0));
    igt::assert_eq!(q[0], 0, "signalled point");
    fence.release(1)?;
    t.wait(N)?;
    let q = ok!(syncobj::query(dev.as_fd(), &[t.handle], 0));
    igt::assert_eq!(q[0], N, "signalled point after the chain");
    let (last, _) = keep.last().ok_or_else(|| igt::fail!("no job"))?;
    expect(
        last.map(),
        &filled(0x7133_0001, P as usize),
        "end of the chain",
    )
}

/// A writer on `writer` and a reader on `reader` share an object through PRIME; only the
/// object orders them (implicit sync).
fn implicit_sync(writer: &Device, reader: &Device, kind: Kind) -> igt::Result {
    let fence = UserFence::new(writer)?;
    let shared = ok!(Buffer::new(writer, 4 * P, kind.flags()));
    let fd = ok!(writer.prime_handle_to_fd(shared.handle(), DRM_CLOEXEC | DRM_RDWR));
    let h = ok!(reader.prime_fd_to_handle(fd.as_fd()), "import");
    let bo = gaudi::Bo {
        handle: h,
        size: shared.size(),
    };
    let imported = ok!(Buffer::adopt(reader, bo, true));
    let wctx = context(writer)?;
    let up = ok!(gated_fill(&fence, shared.va(), 4 * P, 0x1a1a_5151)?.upload(writer));
    let wdone = Syncobj::new(writer)?;
    ok!(writer.submit(&up.job(&wctx).write(shared.handle()).signal(wdone.handle, 0)));
    let rctx = context(reader)?;
    let (copy, rdone, _cb) = copy_job(&rctx, imported.va(), Some(h), 4 * P, None)?;
    igt::assert!(
        !rdone.signalled_soon(0)?,
        "the reader ran before the writer"
    );
    fence.release(1)?;
    rdone.wait(0)?;
    igt::assert_eq!(rdone.status()?, DONE, "reader");
    wdone.wait(0)?;
    igt::assert_eq!(wdone.status()?, DONE, "writer");
    expect(
        copy.map(),
        &filled(0x1a1a_5151, 4 * P as usize),
        "what the reader read",
    )
}

/// A vgem fence orders a job: as an in-syncobj (explicit) or through the imported buffer
/// (implicit). vgem signals its fence by itself after 10 s: everything here takes much less.
fn vgem_fence(implicit: bool) -> igt::Result {
    let vgem = open_vgem()?;
    let dev = ok!(open_device());
    let ctx = context(&dev)?;
    let fenced = FencedBuffer::new(vgem, 2 * P)?;
    let (src, data) = buffer(&dev, Kind::System, 2 * P, 60)?;
    let s = Syncobj::new(&dev)?;
    // Kept until vgem's fence signalled: unbinding it would wait for the job.
    let imported;
    let (dst, done, _cb) = if implicit {
        let h = ok!(
            dev.prime_fd_to_handle(fenced.dma_buf.as_fd()),
            "import vgem's buffer"
        );
        let size = ok!(dev.gem_info(h)).size;
        imported = ok!(Buffer::adopt(&dev, gaudi::Bo { handle: h, size }, true));
        copy_job(&ctx, imported.va(), Some(h), 2 * P, None)?
    } else {
        let sf = fenced.sync_file()?;
        ok!(syncobj::import_sync_file(
            dev.as_fd(),
            s.handle,
            sf.as_fd(),
            None
        ));
        copy_job(
            &ctx,
            src.va(),
            Some(src.handle()),
            2 * P,
            Some((s.handle, 0)),
        )?
    };
    igt::assert!(!done.signalled_soon(0)?, "the job ran before vgem's fence");
    fenced.signal()?;
    done.wait(0)?;
    igt::assert_eq!(done.status()?, DONE, "job");
    if !implicit {
        expect(dst.map(), &data, "copy")?;
    }
    Ok(())
}

/// Bad command buffers: each fails its job with `EIO` and `error`, names the failing packet,
/// and bans the context, while another client's job on the device completes.
fn fault_case(name: &str) -> igt::Result {
    let dev = ok!(open_device());
    let other = ok!(open_device());
    let ctx = context(&dev)?;
    let ok_ctx = context(&other)?;
    let fence = UserFence::new(&dev)?;
    let scratch = ok!(Buffer::new(&dev, P, 0));
    let mut cb = CommandBuffer::new();
    fence.wait(&mut cb, 1)?;
    ok!(cb.fence(scratch.va(), 1, false));
    let bad_at = cb.size_bytes() as u64;
    let unmapped = 1u64 << 44;
    let (error, addr) = match name {
        "mmu-fault" => {
            ok!(cb.dma_copy(unmapped, scratch.va(), 64));
            (DRM_GAUDI_ERR_MMU_FAULT, Some(unmapped))
        }
        "bad-opcode" => {
            cb.raw(&[pkt::header(0x7e, 0, 2), 0]);
            (DRM_GAUDI_ERR_BAD_OPCODE, None)
        }
        "reserved-word" => {
            cb.raw(&[pkt::header(pkt::OP_FENCE, 0, pkt::FENCE_LEN), 1]);
            cb.raw(&[scratch.va() as u32, (scratch.va() >> 32) as u32, 2, 0]);
            (DRM_GAUDI_ERR_BAD_PACKET, None)
        }
        "bad-length" => {
            cb.raw(&[pkt::header(pkt::OP_DMA, 0, 6), 0, 0, 0, 0, 0]);
            (DRM_GAUDI_ERR_BAD_PACKET, None)
        }
        "nested-indirect" => {
            let va = scratch.va();
            cb.raw(&[pkt::header(pkt::OP_INDIRECT, 0, pkt::INDIRECT_LEN), 1]);
            cb.raw(&[va as u32, (va >> 32) as u32, 8, 0]);
            (DRM_GAUDI_ERR_NESTED_INDIRECT, None)
        }
        "tpc-invalid" | "tpc-branch-out" => {
            let src = if name == "tpc-invalid" {
                ".word 0xff\nhalt"
            } else {
                "j 100\nhalt"
            };
            let code = tpc::assemble(src).map_err(|e| igt::fail!("{e}"))?;
            ok!(scratch.write(2048, &code_bytes(&code)));
            let l = ok!(TpcLaunch::new(scratch.va() + 2048, 16, [1, 1, 1], &[]));
            ok!(cb.tpc_launch(&l));
            (DRM_GAUDI_ERR_TPC, None)
        }
        _ => return Err(igt::fail!("unknown case {name}")),
    };
    // Never reached: the job stops at the bad packet.
    ok!(cb.fence(scratch.va() + 8, 2, false));
    let up = ok!(cb.upload(&dev));
    let done = Syncobj::new(&dev)?;
    let seqno = ok!(dev.submit(&up.job(&ctx).write(scratch.handle()).signal(done.handle, 0)));
    // Another client's job, queued while the bad one waits.
    let (target, _) = buffer(&other, Kind::Device, 2 * P, 61)?;
    let mut good = CommandBuffer::new();
    ok!(good.dma_fill(target.va(), 2 * P, 0x900d_900d));
    let gup = ok!(good.upload(&other));
    let gdone = Syncobj::new(&other)?;
    ok!(other.submit(
        &gup.job(&ok_ctx)
            .write(target.handle())
            .signal(gdone.handle, 0)
    ));
    fence.release(1)?;
    done.wait(0)?;
    gdone.wait(0)?;
    igt::assert_eq!(done.status()?, -libc::EIO, "fence status of the bad job");
    igt::assert_eq!(gdone.status()?, DONE, "the other client's job");
    expect(
        target.map(),
        &filled(0x900d_900d, 2 * P as usize),
        "other client's data",
    )?;
    let s = ok!(ctx.query());
    igt::assert!(s.banned, "{s:?}");
    igt::assert_eq!(s.error, error, "{s:?}");
    igt::assert_eq!(s.error_seqno, seqno, "{s:?}");
    igt::assert_eq!(s.error_packet, up.va() + bad_at, "{s:?}");
    if let Some(addr) = addr {
        igt::assert_eq!((s.fault_addr, s.fault_access), (addr, ACCESS_READ), "{s:?}");
    }
    igt::assert_eq!(ok!(scratch.read_u64(0)), 1, "the packet before the bad one");
    igt::assert_eq!(
        ok!(scratch.read_u64(8)),
        0,
        "a packet after the bad one ran"
    );
    igt::assert!(!ok!(ok_ctx.query()).banned, "the other client's context");
    Ok(())
}

const FAULTS: [&str; 7] = [
    "mmu-fault",
    "bad-opcode",
    "reserved-word",
    "bad-length",
    "nested-indirect",
    "tpc-invalid",
    "tpc-branch-out",
];

fn banned_context() -> igt::Result {
    let dev = ok!(open_device());
    let ctx = context(&dev)?;
    let fence = UserFence::new(&dev)?;
    let (x, xdata) = buffer(&dev, Kind::System, P, 70)?;
    // A faulting job and, behind it on the same context, a fill.
    let mut bad = CommandBuffer::new();
    fence.wait(&mut bad, 1)?;
    ok!(bad.dma_fill(1 << 44, 64, 0));
    let bad_up = ok!(bad.upload(&dev));
    let s_bad = Syncobj::new(&dev)?;
    let seqno = ok!(dev.submit(&bad_up.job(&ctx).signal(s_bad.handle, 0)));
    igt::assert_eq!(seqno, 1, "first seqno of a context");
    let mut fill = CommandBuffer::new();
    ok!(fill.dma_fill(x.va(), P, 0xdead_0001));
    let fill_up = ok!(fill.upload(&dev));
    let s_fill = Syncobj::new(&dev)?;
    let seqno2 = ok!(dev.submit(&fill_up.job(&ctx).write(x.handle()).signal(s_fill.handle, 0)));
    igt::assert_eq!(seqno2, 2, "second seqno");
    fence.release(1)?;
    s_fill.wait(0)?;
    igt::assert_eq!(s_bad.status()?, -libc::EIO, "the faulting job");
    // The job behind it was either still queued, and is cancelled, or already handed to the
    // hardware queue, where it runs once the queue resumes after the fault.
    match s_fill.status()? {
        DONE => expect(x.map(), &filled(0xdead_0001, P as usize), "data of the job")?,
        s if s == -libc::ECANCELED => expect(x.map(), &xdata, "data of the cancelled job")?,
        s => return Err(igt::fail!("the job behind the faulting one ended with {s}")),
    }
    let s = ok!(ctx.query());
    igt::assert!(s.banned, "{s:?}");
    igt::assert_eq!(
        (s.error, s.error_seqno),
        (DRM_GAUDI_ERR_MMU_FAULT, 1),
        "{s:?}"
    );
    igt::assert_eq!(s.error_packet, bad_up.va() + 24, "{s:?}");
    // Later submits are refused.
    igt::assert_eq!(errno(dev.submit(&fill_up.job(&ctx))), libc::ECANCELED);
    igt::assert_eq!(
        errno(dev.submit(&fill_up.job(&ctx))),
        libc::ECANCELED,
        "again"
    );
    // The client's other and new contexts work.
    let fresh = context(&dev)?;
    ok!(x.write(0, &xdata));
    run_ok(&fresh, &fill, &[(x.handle(), true)])?;
    expect(
        x.map(),
        &filled(0xdead_0001, P as usize),
        "a new context's job",
    )?;
    ok!(ctx.destroy(), "destroy the banned context");
    Ok(())
}

fn ctx_ioctls() -> igt::Result {
    let dev = ok!(open_device());
    let fd = dev.as_fd();
    let mut ids = Vec::new();
    for p in [Priority::Low, Priority::Normal, Priority::High] {
        let ctx = ok!(Context::new(&dev, p), "{p:?}");
        igt::assert_ne!(ctx.id(), 0);
        let s = ok!(ctx.query());
        igt::assert!(s.queue < 4, "queue of a context: {s:?}");
        igt::assert_eq!(
            s,
            gaudi::ContextState {
                queue: s.queue,
                ..Default::default()
            },
            "fresh {p:?} context"
        );
        let mut cb = CommandBuffer::new();
        ok!(cb.nop(2));
        run_ok(&ctx, &cb, &[])?;
        igt::assert_eq!(ok!(ctx.query()).completed, 1, "{p:?}");
        ids.push(ctx.into_id());
    }
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    igt::assert_eq!(sorted.len(), 3, "context ids are not distinct: {ids:?}");
    for (what, c) in [
        (
            "priority 3",
            drm_gaudi_ctx_create {
                priority: 3,
                ..Default::default()
            },
        ),
        (
            "priority MAX",
            drm_gaudi_ctx_create {
                priority: u32::MAX,
                ..Default::default()
            },
        ),
        (
            "flags",
            drm_gaudi_ctx_create {
                flags: 1,
                priority: 1,
                ..Default::default()
            },
        ),
        (
            "padding",
            drm_gaudi_ctx_create {
                pad: 1,
                priority: 1,
                ..Default::default()
            },
        ),
    ] {
        let mut c = c;
        let e = ioctl_errno(fd, uapi::DRM_IOCTL_GAUDI_CTX_CREATE, &mut c);
        igt::assert_eq!(e, libc::EINVAL, "create with {what}");
    }
    for &id in &ids {
        ok!(dev.ctx_destroy(id));
    }
    let other = ok!(open_device());
    let theirs = ok!(Context::new(&other, Priority::Normal));
    for id in [0, ids[0], u32::MAX] {
        igt::assert_eq!(errno(dev.ctx_destroy(id)), libc::ENOENT, "destroy {id}");
        igt::assert_eq!(errno(dev.ctx_query(id)), libc::ENOENT, "query {id}");
    }
    if !ids.contains(&theirs.id()) {
        igt::assert_eq!(
            errno(dev.ctx_query(theirs.id())),
            libc::ENOENT,
            "their context"
        );
        igt::assert_eq!(
            errno(dev.ctx_destroy(theirs.id())),
            libc::ENOENT,
            "their context"
        );
    }
    let mine = context(&dev)?;
    let mut d = drm_gaudi_ctx_destroy {
        ctx_id: mine.id(),
        pad: 1,
    };
    igt::assert_eq!(
        ioctl_errno(fd, uapi::DRM_IOCTL_GAUDI_CTX_DESTROY, &mut d),
        libc::EINVAL
    );
    for q in [
        drm_gaudi_ctx_query {
            ctx_id: mine.id(),
            flags: 1,
            ..Default::default()
        },
        drm_gaudi_ctx_query {
            ctx_id: mine.id(),
            queue: 1,
            ..Default::default()
        },
    ] {
        let mut q = q;
        let e = ioctl_errno(fd, uapi::DRM_IOCTL_GAUDI_CTX_QUERY, &mut q);
        igt::assert_eq!(e, libc::EINVAL, "query {q:?}");
    }
    // The context survived the bad requests.
    ok!(mine.query());
    Ok(())
}

fn submit_hostile() -> igt::Result {
    let dev = ok!(open_device());
    let fd = dev.as_fd();
    let ctx = context(&dev)?;
    let mut cb = CommandBuffer::new();
    ok!(cb.nop(2));
    let up = ok!(cb.upload(&dev));
    let bo = up.buffer().handle();
    let sync = Syncobj::new(&dev)?;
    let bos = [drm_gaudi_submit_bo {
        handle: bo,
        flags: uapi::DRM_GAUDI_SUBMIT_BO_READ,
    }];
    let good = drm_gaudi_submit {
        ctx_id: ctx.id(),
        cb_addr: up.va(),
        cb_size: 8,
        bo_count: 1,
        bos: bos.as_ptr() as u64,
        ..Default::default()
    };
    let submit = |s: drm_gaudi_submit| {
        let mut s = s;
        let e = ioctl_errno(fd, uapi::DRM_IOCTL_GAUDI_SUBMIT, &mut s);
        (e, s.seqno)
    };
    igt::assert_eq!(submit(good).0, 0, "the good submit");
    let in_sync = |handle, flags, point| drm_gaudi_sync {
        handle,
        flags,
        point,
    };
    // `empty` exists before `closed_sync` is closed, so it cannot take over its handle.
    let closed_sync = ok!(syncobj::create(fd, 0));
    let empty = Syncobj::new(&dev)?;
    ok!(syncobj::destroy(fd, closed_sync));
    let bad_bo = |handle, flags| [drm_gaudi_submit_bo { handle, flags }];
    let unknown_bo = bad_bo(bo + 1000, uapi::DRM_GAUDI_SUBMIT_BO_READ);
    let flagged_bo = bad_bo(bo, 1 << 2);
    let bad_in = [in_sync(sync.handle, 1, 0)];
    let closed_in = [in_sync(closed_sync, 0, 0)];
    let empty_in = [in_sync(empty.handle, 0, 0)];
    let future_in = [in_sync(sync.handle, 0, 5)];
    let unmapped = ok!(unmapped_address(4096)) as u64;
    let cases: Vec<(&str, drm_gaudi_submit, i32)> = vec![
        (
            "cb_addr misaligned",
            drm_gaudi_submit {
                cb_addr: up.va() + 4,
                ..good
            },
            libc::EINVAL,
        ),
        (
            "cb_size 0",
            drm_gaudi_submit { cb_size: 0, ..good },
            libc::EINVAL,
        ),
        (
            "cb_size not a multiple of 8",
            drm_gaudi_submit {
                cb_size: 12,
                ..good
            },
            libc::EINVAL,
        ),
        (
            "cb_size over 4 MiB",
            drm_gaudi_submit {
                cb_size: (4 << 20) + 8,
                ..good
            },
            libc::EINVAL,
        ),
        ("flags", drm_gaudi_submit { flags: 1, ..good }, libc::EINVAL),
        (
            "flags MSB",
            drm_gaudi_submit {
                flags: 1 << 31,
                ..good
            },
            libc::EINVAL,
        ),
        (
            "too many objects",
            drm_gaudi_submit {
                bo_count: uapi::DRM_GAUDI_SUBMIT_MAX_BOS + 1,
                ..good
            },
            libc::EINVAL,
        ),
        (
            "too many in-syncs",
            drm_gaudi_submit {
                in_sync_count: uapi::DRM_GAUDI_SUBMIT_MAX_SYNCS + 1,
                in_syncs: unmapped,
                ..good
            },
            libc::EINVAL,
        ),
        (
            "too many out-syncs",
            drm_gaudi_submit {
                out_sync_count: uapi::DRM_GAUDI_SUBMIT_MAX_SYNCS + 1,
                out_syncs: unmapped,
                ..good
            },
            libc::EINVAL,
        ),
        (
            "unknown context",
            drm_gaudi_submit {
                ctx_id: ctx.id() + 1000,
                ..good
            },
            libc::ENOENT,
        ),
        (
            "context 0",
            drm_gaudi_submit { ctx_id: 0, ..good },
            libc::ENOENT,
        ),
        (
            "unknown object",
            drm_gaudi_submit {
                bos: unknown_bo.as_ptr() as u64,
                ..good
            },
            libc::ENOENT,
        ),
        (
            "object flags",
            drm_gaudi_submit {
                bos: flagged_bo.as_ptr() as u64,
                ..good
            },
            libc::EINVAL,
        ),
        (
            "in-sync flags",
            drm_gaudi_submit {
                in_sync_count: 1,
                in_syncs: bad_in.as_ptr() as u64,
                ..good
            },
            libc::EINVAL,
        ),
        (
            "out-sync flags",
            drm_gaudi_submit {
                out_sync_count: 1,
                out_syncs: bad_in.as_ptr() as u64,
                ..good
            },
            libc::EINVAL,
        ),
        (
            "closed in-syncobj",
            drm_gaudi_submit {
                in_sync_count: 1,
                in_syncs: closed_in.as_ptr() as u64,
                ..good
            },
            libc::ENOENT,
        ),
        (
            "closed out-syncobj",
            drm_gaudi_submit {
                out_sync_count: 1,
                out_syncs: closed_in.as_ptr() as u64,
                ..good
            },
            libc::ENOENT,
        ),
        (
            "in-syncobj without fence",
            drm_gaudi_submit {
                in_sync_count: 1,
                in_syncs: empty_in.as_ptr() as u64,
                ..good
            },
            libc::EINVAL,
        ),
        (
            "timeline point not submitted",
            drm_gaudi_submit {
                in_sync_count: 1,
                in_syncs: future_in.as_ptr() as u64,
                ..good
            },
            libc::EINVAL,
        ),
        (
            "bos unmapped",
            drm_gaudi_submit {
                bos: unmapped,
                ..good
            },
            libc::EFAULT,
        ),
        (
            "bos null",
            drm_gaudi_submit { bos: 0, ..good },
            libc::EFAULT,
        ),
        (
            "in_syncs unmapped",
            drm_gaudi_submit {
                in_sync_count: 2,
                in_syncs: unmapped,
                ..good
            },
            libc::EFAULT,
        ),
        (
            "out_syncs unmapped",
            drm_gaudi_submit {
                out_sync_count: 2,
                out_syncs: unmapped,
                ..good
            },
            libc::EFAULT,
        ),
    ];
    // The syncobj needs a fence for the timeline case to be about the point.
    ok!(syncobj::timeline_signal(fd, &[sync.handle], &[1]));
    for (what, s, want) in cases {
        let (e, seqno) = submit(s);
        igt::assert_eq!(e, want, "{what}");
        igt::assert_eq!(seqno, 0, "{what}: seqno written on failure");
    }
    // A command buffer outside every mapping: refused at submit or failed at run time.
    let nowhere = drm_gaudi_submit {
        cb_addr: 1 << 44,
        bo_count: 0,
        bos: 0,
        ..good
    };
    let (e, _) = submit(nowhere);
    if e == 0 {
        let s = ok!(ctx.query());
        igt::assert!(s.error == 0 || s.error == DRM_GAUDI_ERR_MMU_FAULT, "{s:?}");
    } else {
        igt::assert_eq!(e, libc::EINVAL, "unmapped command buffer");
    }
    Ok(())
}

fn seqnos_and_many_jobs() -> igt::Result {
    let dev = ok!(open_device());
    let ctx = context(&dev)?;
    let other = context(&dev)?;
    const N: u64 = 100;
    let slots = ok!(Buffer::new(&dev, N * 8, 0));
    let mut keep = Vec::new();
    let last = Syncobj::new(&dev)?;
    for i in 0..N {
        let mut cb = CommandBuffer::new();
        ok!(cb.nop(2 + 2 * (i % 4) as u16));
        ok!(cb.fence(slots.va() + 8 * i, i + 1, i % 2 == 0));
        let up = ok!(cb.upload(&dev));
        let mut job = up.job(&ctx).write(slots.handle());
        if i == N - 1 {
            job = job.signal(last.handle, 0);
        }
        let seqno = ok!(dev.submit(&job));
        igt::assert_eq!(seqno, i + 1, "seqno of job {i}");
        keep.push(up);
    }
    let mut cb = CommandBuffer::new();
    ok!(cb.nop(2));
    let up = ok!(cb.upload(&dev));
    igt::assert_eq!(
        ok!(dev.submit(&up.job(&other))),
        1,
        "another context counts on its own"
    );
    last.wait(0)?;
    igt::assert_eq!(last.status()?, DONE);
    for i in 0..N {
        igt::assert_eq!(ok!(slots.read_u64(8 * i as usize)), i + 1, "slot {i}");
    }
    let s = ok!(ctx.query());
    igt::assert_eq!(s.completed, N, "{s:?}");
    Ok(())
}

fn nop_fence_wait() -> igt::Result {
    let dev = ok!(open_device());
    let ctx = context(&dev)?;
    let mem = ok!(Buffer::new(&dev, P, Kind::Device.flags()));
    let mut cb = CommandBuffer::new();
    for len in [2, 4, 6, 64, 1000] {
        ok!(cb.nop(len));
    }
    ok!(cb.fence(mem.va(), 0x1234_5678_9abc_def0, false));
    ok!(cb.fence(mem.va() + 8, 1, true));
    // Satisfied at once (the value is greater), after the FENCE that wrote it.
    ok!(cb.wait(mem.va(), 0x1000));
    ok!(cb.wait(mem.va() + 8, 1));
    ok!(cb.fence(mem.va() + 8, 2, false));
    ok!(cb.fence(mem.va() + 16, u64::MAX, true));
    run_ok(&ctx, &cb, &[(mem.handle(), true)])?;
    for (off, want) in [(0, 0x1234_5678_9abc_def0), (8, 2), (16, u64::MAX)] {
        igt::assert_eq!(ok!(mem.read_u64(off)), want, "u64 at {off}");
    }
    // A WAIT released from the CPU.
    let fence = UserFence::new(&dev)?;
    let mut cb = CommandBuffer::new();
    fence.wait(&mut cb, 5)?;
    ok!(cb.fence(mem.va() + 24, 7, false));
    let up = ok!(cb.upload(&dev));
    let done = Syncobj::new(&dev)?;
    ok!(dev.submit(&up.job(&ctx).write(mem.handle()).signal(done.handle, 0)));
    fence.release(4)?;
    igt::assert!(!done.signalled_soon(0)?, "WAIT passed below its target");
    fence.release(9)?;
    done.wait(0)?;
    igt::assert_eq!(done.status()?, DONE);
    igt::assert_eq!(ok!(mem.read_u64(24)), 7);
    Ok(())
}

fn dma_fill() -> igt::Result {
    let dev = ok!(open_device());
    let ctx = context(&dev)?;
    for kind in Kind::ALL {
        let (b, mut want) = buffer(&dev, kind, 32 * P, 80)?;
        let mut cb = CommandBuffer::new();
        let mut at = 4u64;
        // Odd sizes at odd offsets too: the pattern starts over at each destination.
        for (i, size) in [1u64, 3, 7, 4, 8, 12, 4092, 4096, 4100, 65536]
            .into_iter()
            .enumerate()
        {
            let value = 0xf111_0000 | i as u32;
            ok!(cb.dma_fill(b.va() + at, size, value));
            want[at as usize..(at + size) as usize].copy_from_slice(&filled(value, size as usize));
            at += size + 13;
        }
        run_ok(&ctx, &cb, &[(b.handle(), true)])?;
        expect(b.map(), &want, kind.name())?;
    }
    Ok(())
}

fn dma_large_and_chained() -> igt::Result {
    let dev = ok!(open_device());
    let ctx = context(&dev)?;
    let size = 4 << 20;
    let (src, data) = buffer(&dev, Kind::System, size, 90)?;
    let dmem = ok!(Buffer::new(&dev, size, Kind::Device.flags()));
    let back = ok!(Buffer::new(&dev, size, Kind::Wc.flags()));
    let scratch = ok!(Buffer::new(&dev, P, 0));
    let mut cb = CommandBuffer::new();
    ok!(cb.dma_copy(src.va(), dmem.va(), size));
    barrier(&mut cb, &scratch, 1)?;
    ok!(cb.dma_copy(dmem.va(), back.va(), size));
    run_ok(
        &ctx,
        &cb,
        &[
            (src.handle(), false),
            (dmem.handle(), true),
            (back.handle(), true),
        ],
    )?;
    expect(back.map(), &data, "system -> device -> system")
}

fn gemm_chained() -> igt::Result {
    // D = (A * B) * B2 in one command buffer: the second GEMM reads the first one's C.
    let dev = ok!(open_device());
    let ctx = context(&dev)?;
    let (m, k, n, n2) = (9u32, 5u32, 7u32, 3u32);
    let a = exact_values(100, (m * k) as usize);
    let b = exact_values(101, (k * n) as usize);
    let b2 = exact_values(102, (n * n2) as usize);
    let ab = buffer_with(&dev, Kind::System, &f32_bytes(&a))?;
    let bb = buffer_with(&dev, Kind::Device, &f32_bytes(&b))?;
    let b2b = buffer_with(&dev, Kind::System, &f32_bytes(&b2))?;
    let cbuf = buffer_with(&dev, Kind::Device, &f32_bytes(&vec![0.0; (m * n) as usize]))?;
    let dbuf = buffer_with(
        &dev,
        Kind::System,
        &f32_bytes(&vec![0.0; (m * n2) as usize]),
    )?;
    let scratch = ok!(Buffer::new(&dev, P, 0));
    let g1 = Gemm::new(m, n, k, ab.va(), bb.va(), cbuf.va());
    let g2 = Gemm::new(m, n2, n, cbuf.va(), b2b.va(), dbuf.va());
    let mut cb = CommandBuffer::new();
    ok!(cb.gemm(&g1));
    barrier(&mut cb, &scratch, 1)?;
    ok!(cb.gemm(&g2));
    run_ok(&ctx, &cb, &[(cbuf.handle(), true), (dbuf.handle(), true)])?;
    let c = gemm_reference(&g1, &a, &b, &vec![0.0; (m * n) as usize], &[]);
    let d = gemm_reference(&g2, &c, &b2, &vec![0.0; (m * n2) as usize], &[]);
    expect_close(&ok!(dbuf.read_f32(0, (m * n2) as usize)), &d, 1e-5, "D")
}

fn main() {
    igt::main(|t| {
        t.subtest("nop-fence-wait", nop_fence_wait);

        t.subtest_with_dynamic("dma-copy", |d| {
            for src in Kind::ALL {
                for dst in Kind::ALL {
                    d.dynamic(&format!("{}-to-{}", src.name(), dst.name()), move || {
                        dma_copy(src, dst)
                    });
                }
            }
            Ok(())
        });

        t.subtest("dma-fill", dma_fill);

        t.subtest("dma-large-chained", dma_large_and_chained);

        t.subtest_with_dynamic("gemm-fp32", |d| {
            for (m, n, k) in SHAPES {
                for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                    let name = format!(
                        "{m}x{n}x{k}{}{}",
                        if ta { "-ta" } else { "" },
                        if tb { "-tb" } else { "" }
                    );
                    d.dynamic(&name, move || {
                        let dev = ok!(open_device());
                        gemm_case(&dev, Kind::System, shape(m, n, k, ta, tb), m * 7 + n)
                    });
                }
            }
            Ok(())
        });

        t.subtest_with_dynamic("gemm-leading-dims", |d| {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                d.dynamic(
                    &format!("ta{}-tb{}", u8::from(ta), u8::from(tb)),
                    move || {
                        let dev = ok!(open_device());
                        let g = shape(13, 9, 21, ta, tb);
                        let g = Gemm {
                            lda: g.lda + 3,
                            ldb: g.ldb + 5,
                            ldc: g.ldc + 2,
                            alpha: 1.5,
                            beta: 0.5,
                            ..g
                        };
                        gemm_case(&dev, Kind::Wc, g, 5)
                    },
                );
            }
            Ok(())
        });

        t.subtest_with_dynamic("gemm-bf16", |d| {
            for (m, n, k) in [(1, 1, 1), (8, 8, 8), (17, 13, 11), (64, 48, 96)] {
                for (ta, tb) in [(false, false), (true, true)] {
                    d.dynamic(
                        &format!("{m}x{n}x{k}{}", if ta { "-t" } else { "" }),
                        move || {
                            let dev = ok!(open_device());
                            let g = Gemm {
                                bf16: true,
                                ..shape(m, n, k, ta, tb)
                            };
                            gemm_case(&dev, Kind::System, g, 3 + m)
                        },
                    );
                }
            }
            Ok(())
        });

        t.subtest("gemm-bias-relu", || {
            let dev = ok!(open_device());
            for (i, kind) in Kind::ALL.into_iter().enumerate() {
                for relu in [false, true] {
                    let g = Gemm {
                        bias: Some(0),
                        relu,
                        alpha: -0.75,
                        beta: 0.25,
                        ..shape(19, 23, 29, i == 1, i == 2)
                    };
                    gemm_case(&dev, kind, g, 40 + i as u32)?;
                }
            }
            Ok(())
        });

        t.subtest("gemm-device-memory", || {
            let dev = ok!(open_device());
            gemm_case(&dev, Kind::Device, shape(33, 65, 17, false, true), 9)?;
            gemm_case(
                &dev,
                Kind::Device,
                Gemm {
                    bf16: true,
                    ..shape(20, 20, 20, true, false)
                },
                10,
            )
        });

        t.subtest("gemm-chained", gemm_chained);

        t.subtest("tpc-vector-add", tpc_vector_add);
        t.subtest("tpc-saxpy", tpc_saxpy);
        t.subtest("tpc-softmax", tpc_softmax);
        t.subtest("tpc-reduction", tpc_reduce);
        t.subtest("tpc-grid-lanes", tpc_grid_and_lanes);

        t.subtest("chain-binary-syncobj", chain_binary);
        t.subtest("chain-timeline-syncobj", chain_timeline);

        t.subtest("implicit-sync-clients", || {
            let writer = ok!(open_device());
            let reader = ok!(open_device());
            for kind in Kind::ALL {
                implicit_sync(&writer, &reader, kind)?;
            }
            Ok(())
        });

        t.subtest("implicit-sync-devices", || {
            let other_path = other_device_path()?;
            let dev = ok!(open_device());
            let other = ok!(Device::open(&other_path));
            implicit_sync(&dev, &other, Kind::System)?;
            implicit_sync(&other, &dev, Kind::Wc)
        });

        t.subtest("vgem-fence-syncobj", || vgem_fence(false));
        t.subtest("vgem-fence-implicit", || vgem_fence(true));

        t.subtest_with_dynamic("fault-isolation", |d| {
            for name in FAULTS {
                d.dynamic(name, move || fault_case(name));
            }
            Ok(())
        });

        t.subtest("banned-context", banned_context);
        t.subtest("ctx-ioctls", ctx_ioctls);
        t.subtest("submit-hostile", submit_hostile);
        t.subtest("seqnos-many-jobs", seqnos_and_many_jobs);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_assemble() {
        for (name, src) in [
            ("vector add", VECTOR_ADD),
            ("saxpy", SAXPY),
            ("softmax", SOFTMAX),
            ("reduce", REDUCE),
            ("grid", GRID_3D),
            ("transpose", TRANSPOSE),
            ("select", SELECT),
        ] {
            let code = tpc::assemble(src).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                tpc::assemble(&tpc::disassemble(&code)).unwrap(),
                code,
                "{name}"
            );
        }
    }

    #[test]
    fn shapes_are_valid() {
        for (m, n, k) in SHAPES {
            for (ta, tb) in [(false, false), (true, true)] {
                shape(m, n, k, ta, tb).check().unwrap();
            }
        }
    }
}
