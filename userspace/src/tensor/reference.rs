// SPDX-License-Identifier: GPL-2.0 OR MIT

//! CPU reference of every runtime operation, in plain Rust on `f32` slices (row-major, dense).
//!
//! Written from the operations' definitions, independently of the TPC kernels and the matrix
//! engine: the tests compare the device against these within a tolerance.

/// `c = op(a) * op(b) (+ bias) (then ReLU)`; `op(a)` is `m x k`, `op(b)` `k x n`. `a` is
/// stored `m x k` (or `k x m` with `ta`), `b` `k x n` (or `n x k` with `tb`). Accumulates in
/// f64.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    ta: bool,
    b: &[f32],
    tb: bool,
    bias: Option<&[f32]>,
    relu: bool,
) -> Vec<f32> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut s = 0.0f64;
            for p in 0..k {
                let x = if ta { a[p * m + i] } else { a[i * k + p] };
                let y = if tb { b[j * k + p] } else { b[p * n + j] };
                s += f64::from(x) * f64::from(y);
            }
            let mut v = s as f32;
            if let Some(bias) = bias {
                v += bias[j];
            }
            if relu && v < 0.0 {
                v = 0.0;
            }
            c[i * n + j] = v;
        }
    }
    c
}

/// Column sums of a `rows x cols` matrix.
pub fn col_sum(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; cols];
    for r in 0..rows {
        for (o, x) in out.iter_mut().zip(&m[r * cols..(r + 1) * cols]) {
            *o += x;
        }
    }
    out
}

/// Softmax of every row.
pub fn softmax(z: &[f32], cols: usize) -> Vec<f32> {
    let mut p = Vec::with_capacity(z.len());
    for row in z.chunks_exact(cols) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let e: Vec<f64> = row.iter().map(|&x| f64::from(x - max).exp()).collect();
        let sum: f64 = e.iter().sum();
        p.extend(e.iter().map(|x| (x / sum) as f32));
    }
    p
}

/// Softmax cross-entropy of every row of `z` against `y`: `(scale * (softmax(z) - y), loss
/// per row)`.
pub fn softmax_xent(z: &[f32], y: &[f32], cols: usize, scale: f32) -> (Vec<f32>, Vec<f32>) {
    let p = softmax(z, cols);
    let dz = p.iter().zip(y).map(|(p, y)| scale * (p - y)).collect();
    let loss = p
        .chunks_exact(cols)
        .zip(y.chunks_exact(cols))
        .map(|(p, y)| {
            p.iter()
                .zip(y)
                .map(|(&p, &y)| -f64::from(y) * f64::from(p.max(f32::MIN_POSITIVE)).ln())
                .sum::<f64>() as f32
        })
        .collect();
    (dz, loss)
}

/// Index of the largest value of every row (first on ties).
pub fn argmax(z: &[f32], cols: usize) -> Vec<usize> {
    z.chunks_exact(cols)
        .map(|row| {
            let mut best = 0;
            for (j, &x) in row.iter().enumerate() {
                if x > row[best] {
                    best = j;
                }
            }
            best
        })
        .collect()
}

/// `dy` where `x > 0`, else 0.
pub fn relu_grad(dy: &[f32], x: &[f32]) -> Vec<f32> {
    dy.iter()
        .zip(x)
        .map(|(&d, &x)| if x > 0.0 { d } else { 0.0 })
        .collect()
}

/// `y + alpha * x`.
pub fn axpy(alpha: f32, x: &[f32], y: &[f32]) -> Vec<f32> {
    x.iter().zip(y).map(|(x, y)| y + alpha * x).collect()
}

/// The largest `|got - want| / (atol + rtol * |want|)` over the values (NaN counts as
/// infinitely far): at most 1 when `got` is within tolerance.
pub fn max_err(got: &[f32], want: &[f32], atol: f32, rtol: f32) -> f32 {
    if got.len() != want.len() {
        return f32::INFINITY;
    }
    got.iter()
        .zip(want)
        .map(|(&g, &w)| {
            let e = (g - w).abs() / (atol + rtol * w.abs());
            if e.is_nan() {
                f32::INFINITY
            } else {
                e
            }
        })
        .fold(0.0, f32::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_cases() {
        // [1 2; 3 4] * [5; 6]
        assert_eq!(
            gemm(
                2,
                1,
                2,
                &[1., 2., 3., 4.],
                false,
                &[5., 6.],
                false,
                None,
                false
            ),
            [17., 39.]
        );
        // Transposed A: stored [1 3; 2 4].
        assert_eq!(
            gemm(
                2,
                1,
                2,
                &[1., 3., 2., 4.],
                true,
                &[5., 6.],
                true,
                Some(&[-40.]),
                true
            ),
            [0., 0.]
        );
        assert_eq!(col_sum(&[1., 2., 3., 4., 5., 6.], 3, 2), [9., 12.]);
        let p = softmax(&[0., 0., 0., 0.], 4);
        assert!(p.iter().all(|&x| (x - 0.25).abs() < 1e-7));
        let (dz, loss) = softmax_xent(&[0., 0.], &[1., 0.], 2, 0.5);
        assert_eq!(dz, [-0.25, 0.25]);
        assert!((loss[0] - std::f32::consts::LN_2).abs() < 1e-6);
        assert_eq!(argmax(&[1., 3., 3., 0., 5., 7., 7., 2.], 4), [1, 1]);
        assert_eq!(relu_grad(&[1., 2.], &[-1., 1.]), [0., 2.]);
        assert_eq!(axpy(-0.5, &[2., 4.], &[1., 1.]), [0., -1.]);
        assert!(max_err(&[1.0, 2.0], &[1.0, 2.001], 1e-6, 1e-3) <= 1.0);
        assert!(max_err(&[f32::NAN], &[1.0], 1e-6, 1e-3).is_infinite());
    }
}
