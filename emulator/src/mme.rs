// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The matrix engine: `C = alpha * op(A) * op(B) + beta * C (+ bias) (then ReLU)`.
//!
//! The product is computed tile by tile: each tile of C is read (unless `beta` is 0), then
//! accumulated over tiles of A and B read through the MMU into host buffers and multiplied
//! with `matrixmultiply`, then biased, clamped and written back. Host memory stays bounded
//! whatever the dimensions, and a reset request is seen between two blocks of the product
//! (256 x 256 x 256 multiply-adds at most).

use gaudi_hw::{packet, queue};

use crate::{
    engine::{check, quad, Fail, Poll, Stop},
    mmu::{Fault, Space},
};

/// Rows and columns of a tile of C, and the depth of a tile of A and B.
const TILE_M: usize = 256;
const TILE_N: usize = 256;
const TILE_K: usize = 256;

/// A matrix operand in memory: `rows` stored rows of `cols` elements, `ld` elements apart.
#[derive(Clone, Copy, Debug)]
struct Operand {
    addr: u64,
    ld: u64,
    /// Bytes per element.
    esize: u64,
    /// Stored rows and columns (transposed operands are stored the other way round).
    rows: u64,
    cols: u64,
}

impl Operand {
    /// Whether the operand is well-formed: `ld` covers a row, the address is aligned for the
    /// element type, and the last element does not wrap around the address space.
    fn valid(self) -> bool {
        let extent = (self.rows - 1)
            .checked_mul(self.ld)
            .and_then(|x| x.checked_add(self.cols))
            .and_then(|x| x.checked_mul(self.esize));
        self.ld >= self.cols
            && self.addr % self.esize == 0
            && extent.is_some_and(|e| self.addr.checked_add(e).is_some())
    }

    /// Address of stored element (`r`, `c`).
    fn at(self, r: usize, c: usize) -> u64 {
        self.addr + (r as u64 * self.ld + c as u64) * self.esize
    }
}

fn fault(f: Fault) -> Stop {
    Stop::Fail(Fail::fault(f, queue::ENGINE_MME))
}

/// Reads stored rows `r0..r0 + nr`, columns `c0..c0 + nc` of `op` into `out` (row-major,
/// `nc` per row), converting bfloat16 to fp32.
fn read_block(
    space: &mut Space,
    op: Operand,
    (r0, nr): (usize, usize),
    (c0, nc): (usize, usize),
    raw: &mut Vec<u8>,
    out: &mut Vec<f32>,
) -> Result<(), Stop> {
    let row_bytes = nc * op.esize as usize;
    raw.resize(row_bytes, 0);
    out.clear();
    for r in r0..r0 + nr {
        space.read(op.at(r, c0), raw).map_err(fault)?;
        if op.esize == 2 {
            out.extend(
                raw.chunks_exact(2)
                    .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()),
            );
        } else {
            out.extend(
                raw.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            );
        }
    }
    Ok(())
}

/// An MME packet: header, reserved, a (2), b (2), c (2), bias (2), m, n, k, lda, ldb, ldc,
/// alpha, beta, reserved (2).
pub fn run(space: &mut Space, flags: u8, w: &[u32], poll: Poll) -> Result<(), Stop> {
    let (m, n, k) = (w[10], w[11], w[12]);
    let (lda, ldb, ldc) = (u64::from(w[13]), u64::from(w[14]), u64::from(w[15]));
    let (alpha, beta) = (f32::from_bits(w[16]), f32::from_bits(w[17]));
    let trans_a = flags & packet::MME_TRANS_A != 0;
    let trans_b = flags & packet::MME_TRANS_B != 0;
    let esize = if flags & packet::MME_BF16 != 0 { 2 } else { 4 };
    let dims = 1..=packet::MME_DIM_MAX;
    check(w[1] == 0 && w[18] == 0 && w[19] == 0)?;
    check(dims.contains(&m) && dims.contains(&n) && dims.contains(&k))?;
    let (m, n, k) = (u64::from(m), u64::from(n), u64::from(k));
    let stored = |t: bool, r: u64, c: u64| if t { (c, r) } else { (r, c) };
    let (ar, ac) = stored(trans_a, m, k);
    let (br, bc) = stored(trans_b, k, n);
    let a = Operand {
        addr: quad(w, 2),
        ld: lda,
        esize,
        rows: ar,
        cols: ac,
    };
    let b = Operand {
        addr: quad(w, 4),
        ld: ldb,
        esize,
        rows: br,
        cols: bc,
    };
    let c = Operand {
        addr: quad(w, 6),
        ld: ldc,
        esize: 4,
        rows: m,
        cols: n,
    };
    let bias = (flags & packet::MME_BIAS != 0).then_some(Operand {
        addr: quad(w, 8),
        ld: n,
        esize: 4,
        rows: 1,
        cols: n,
    });
    check(a.valid() && b.valid() && c.valid() && bias.map_or(true, Operand::valid))?;
    let (m, n, k) = (m as usize, n as usize, k as usize);

    let mut raw = Vec::new();
    let mut bias_row = Vec::new();
    if let Some(bias) = bias {
        read_block(space, bias, (0, 1), (0, n), &mut raw, &mut bias_row)?;
    }
    let (mut at, mut bt, mut ct) = (Vec::new(), Vec::new(), Vec::new());
    for i0 in (0..m).step_by(TILE_M) {
        let tm = TILE_M.min(m - i0);
        for j0 in (0..n).step_by(TILE_N) {
            let tn = TILE_N.min(n - j0);
            // A zero beta does not read C: whatever C holds (NaN too) does not matter.
            let mut tile_beta = beta;
            if beta == 0.0 {
                ct.clear();
                ct.resize(tm * tn, 0.0);
                tile_beta = 0.0;
            } else {
                read_block(space, c, (i0, tm), (j0, tn), &mut raw, &mut ct)?;
            }
            for p0 in (0..k).step_by(TILE_K) {
                poll()?;
                let tk = TILE_K.min(k - p0);
                // Tiles as stored, then strides that read them as op(A) (tm x tk) and op(B)
                // (tk x tn).
                let (rsa, csa) = if trans_a {
                    read_block(space, a, (p0, tk), (i0, tm), &mut raw, &mut at)?;
                    (1, tm)
                } else {
                    read_block(space, a, (i0, tm), (p0, tk), &mut raw, &mut at)?;
                    (tk, 1)
                };
                let (rsb, csb) = if trans_b {
                    read_block(space, b, (j0, tn), (p0, tk), &mut raw, &mut bt)?;
                    (1, tk)
                } else {
                    read_block(space, b, (p0, tk), (j0, tn), &mut raw, &mut bt)?;
                    (tn, 1)
                };
                debug_assert_eq!((at.len(), bt.len(), ct.len()), (tm * tk, tk * tn, tm * tn));
                // SAFETY: `at` holds tm x tk elements, `bt` tk x tn and `ct` tm x tn, laid out
                // with the given strides (all in range as `read_block` filled them); `ct`
                // does not alias the others.
                unsafe {
                    matrixmultiply::sgemm(
                        tm,
                        tk,
                        tn,
                        alpha,
                        at.as_ptr(),
                        rsa as isize,
                        csa as isize,
                        bt.as_ptr(),
                        rsb as isize,
                        csb as isize,
                        tile_beta,
                        ct.as_mut_ptr(),
                        tn as isize,
                        1,
                    );
                }
                tile_beta = 1.0;
            }
            for row in ct.chunks_exact_mut(tn) {
                if !bias_row.is_empty() {
                    for (x, b) in row.iter_mut().zip(&bias_row[j0..j0 + tn]) {
                        *x += b;
                    }
                }
                if flags & packet::MME_RELU != 0 {
                    for x in row.iter_mut() {
                        if *x < 0.0 {
                            *x = 0.0;
                        }
                    }
                }
            }
            raw.resize(tn * 4, 0);
            for (r, row) in ct.chunks_exact(tn).enumerate() {
                for (bytes, x) in raw.chunks_exact_mut(4).zip(row) {
                    bytes.copy_from_slice(&x.to_le_bytes());
                }
                space.write(c.at(i0 + r, j0), &raw).map_err(fault)?;
            }
        }
    }
    Ok(())
}
