// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The tensor runtime's TPC kernels, in the device's assembly language.
//!
//! Every kernel is source text assembled at run time by [`crate::tpc::assemble`]; the
//! [`Kernel`] enum names them and documents their arguments. Matrices are row-major and
//! dense (a row is `cols` fp32 values). Conventions shared by the kernels:
//!
//! * an *elementwise* kernel runs over a flat array of `n` values, one grid point per 16
//!   values (`VLEN`); the last point sets `vl` to what is left, so any `n` works;
//! * a *row* kernel runs one grid point per row and walks the row in chunks of 16, the last
//!   chunk shorter (`setvl` of what is left), so any number of columns works;
//! * a *column* kernel ([`Kernel::ColSum`]) runs one grid point per 16 columns and walks down
//!   the rows.
//!
//! Floating-point scalars (`alpha`, `scale`) are passed as the bits of an fp32 value in the
//! low half of an argument.

use crate::tpc::{self, AsmError};

/// A kernel of the runtime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// `z = x + y` elementwise. Args: x, y, z, n.
    Add,
    /// `z = x * y` elementwise. Args: x, y, z, n.
    Mul,
    /// `y = y + alpha * x` elementwise (SGD update with `alpha = -lr`). Args: x, y, alpha, n.
    Axpy,
    /// `y = alpha * x` elementwise. Args: x, y, alpha, n.
    Scale,
    /// `y = max(x, 0)` elementwise. Args: x, y, (unused), n.
    Relu,
    /// `dx = x > 0 ? dy : 0` elementwise (ReLU backward; `dx` may be `dy`). Args: dy, x, dx,
    /// n.
    ReluGrad,
    /// `out[j] = sum over i of m[i][j]`, summed from row 0 down. Args: m, out, rows, cols.
    /// Grid: one point per 16 columns.
    ColSum,
    /// Softmax of every row: `p = exp(z - lse(z))`. Args: z, p, cols. Grid: one point per
    /// row.
    Softmax,
    /// Softmax cross-entropy of every row against targets `y` (one-hot or any distribution):
    /// `dz = scale * (softmax(z) - y)` and `loss[row] = sum_j y_j * (lse(z) - z_j)`.
    /// Args: z, y, dz, loss, cols, scale. Grid: one point per row.
    SoftmaxXent,
    /// Index of the largest value of every row (the first one on ties), as fp32.
    /// Args: z, out, cols. Grid: one point per row.
    Argmax,
}

impl Kernel {
    /// Every kernel, in the order the runtime loads them.
    pub const ALL: [Kernel; 10] = [
        Kernel::Add,
        Kernel::Mul,
        Kernel::Axpy,
        Kernel::Scale,
        Kernel::Relu,
        Kernel::ReluGrad,
        Kernel::ColSum,
        Kernel::Softmax,
        Kernel::SoftmaxXent,
        Kernel::Argmax,
    ];

    /// The kernel's name.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Add => "add",
            Kernel::Mul => "mul",
            Kernel::Axpy => "axpy",
            Kernel::Scale => "scale",
            Kernel::Relu => "relu",
            Kernel::ReluGrad => "relu_grad",
            Kernel::ColSum => "colsum",
            Kernel::Softmax => "softmax",
            Kernel::SoftmaxXent => "softmax_xent",
            Kernel::Argmax => "argmax",
        }
    }

    /// The kernel's assembly source.
    pub fn source(self) -> String {
        match self {
            Kernel::Add => elementwise("vadd v0, v0, v1\n    vst v0, [s12]"),
            Kernel::Mul => elementwise("vmul v0, v0, v1\n    vst v0, [s12]"),
            Kernel::Axpy => elementwise_scalar("vfma v1, v0, v2\n    vst v1, [s11]"),
            Kernel::Scale => elementwise_scalar("vmul v0, v0, v2\n    vst v0, [s11]"),
            Kernel::Relu => elementwise("vbcasti v2, 0\n    vmax v0, v0, v2\n    vst v0, [s11]"),
            Kernel::ReluGrad => elementwise(
                "vbcasti v2, 0\n    vcmpgt v3, v1, v2\n    vsel v3, v0, v2\n    vst v3, [s12]",
            ),
            Kernel::ColSum => COLSUM.to_string(),
            Kernel::Softmax => format!("{ROW_PROLOGUE}{ROW_LSE}{SOFTMAX_OUT}"),
            Kernel::SoftmaxXent => format!("{ROW_PROLOGUE}{ROW_LSE}{XENT_OUT}"),
            Kernel::Argmax => format!("{ROW_PROLOGUE}{ARGMAX}"),
        }
    }

    /// The kernel assembled.
    pub fn assemble(self) -> Result<Vec<u64>, AsmError> {
        tpc::assemble(&self.source())
    }
}

/// An elementwise kernel over `n` (arg 3) values of x (arg 0) and y (arg 1): loads `v0` from
/// x and `v1` from y, then runs `body` with `s10`, `s11`, `s12` pointing at the point's
/// values of args 0, 1 and 2.
fn elementwise(body: &str) -> String {
    elementwise_with("", body)
}

/// [`elementwise`] with `pre` run after the arguments are read.
fn elementwise_with(pre: &str, body: &str) -> String {
    format!(
        "    arg   s10, 0
    arg   s11, 1
    arg   s12, 2
    arg   s13, 3          # n
    {pre}
    gid   s1, 0
    shli  s2, s1, 4       # first element of this point
    sub   s4, s13, s2
    setvl s5, s4          # 16, or what is left
    shli  s6, s2, 2
    add   s10, s10, s6
    add   s11, s11, s6
    add   s12, s12, s6
    vld   v0, [s10]
    vld   v1, [s11]
    {body}
    halt
"
    )
}

/// As [`elementwise`], with the fp32 scalar of arg 2 in every lane of `v2` (arg 2 is not a
/// pointer).
fn elementwise_scalar(body: &str) -> String {
    elementwise_with("vbcast v2, s12", body)
}

/// Column sums, one grid point per 16 columns.
const COLSUM: &str = "    arg   s10, 0          # m
    arg   s11, 1          # out
    arg   s12, 2          # rows
    arg   s13, 3          # cols
    gid   s1, 0
    shli  s2, s1, 4       # first column of this point
    sub   s4, s13, s2
    setvl s5, s4
    shli  s6, s2, 2
    add   s10, s10, s6
    add   s11, s11, s6
    shli  s7, s13, 2      # bytes per row
    vbcasti v1, 0
    li    s3, 0
rows:
    vld   v0, [s10]
    vadd  v1, v1, v0
    add   s10, s10, s7
    addi  s3, s3, 1
    blt   s3, s12, rows
    vst   v1, [s11]
    halt
";

/// Row kernels: `s10` = row of arg 0, `s11` = row of arg 1, `s12` = row of arg 2, `s13` =
/// arg 3, `s14` = cols (arg 4 for the cross-entropy, arg 2 otherwise; the kernels take it
/// from where they document), `s15` = arg 5, `s1` = row.
const ROW_PROLOGUE: &str = "    arg   s10, 0
    arg   s11, 1
    arg   s12, 2
    arg   s13, 3
    arg   s14, 4
    arg   s15, 5
    li    s20, 0
    bne   s14, s20, have_cols  # cross-entropy: cols in arg 4
    arg   s14, 2               # the others: cols in arg 2
have_cols:
    gid   s1, 0
    mul   s2, s1, s14
    shli  s2, s2, 2            # byte offset of the row
    add   s10, s10, s2
    add   s11, s11, s2
    add   s12, s12, s2
";

/// `v1` = max of the row of `s10`, `v4` = its log-sum-exp.
const ROW_LSE: &str = "    vbcasti v1, -inf
    li    s3, 0
max_loop:
    sub   s4, s14, s3
    setvl s5, s4
    shli  s6, s3, 2
    add   s7, s10, s6
    vld   v0, [s7]
    vrmax v2, v0
    vmax  v1, v1, v2
    add   s3, s3, s5
    blt   s3, s14, max_loop
    vbcasti v3, 0
    li    s3, 0
sum_loop:
    sub   s4, s14, s3
    setvl s5, s4
    shli  s6, s3, 2
    add   s7, s10, s6
    vld   v0, [s7]
    vsub  v0, v0, v1
    vexp  v0, v0
    vrsum v2, v0
    vadd  v3, v3, v2
    add   s3, s3, s5
    blt   s3, s14, sum_loop
    vlog  v4, v3
    vadd  v4, v4, v1
";

/// Softmax: the row of arg 1 (`s11`) = `exp(z - lse)`.
const SOFTMAX_OUT: &str = "    li    s3, 0
out_loop:
    sub   s4, s14, s3
    setvl s5, s4
    shli  s6, s3, 2
    add   s7, s10, s6
    vld   v0, [s7]
    vsub  v0, v0, v4
    vexp  v0, v0
    add   s8, s11, s6
    vst   v0, [s8]
    add   s3, s3, s5
    blt   s3, s14, out_loop
    halt
";

/// Cross-entropy: `dz` (arg 2, `s12`) and the row's loss at arg 3 (`s13`) + 4 * row.
const XENT_OUT: &str = "    vbcast v5, s15        # scale
    vbcasti v6, 0         # loss
    li    s3, 0
out_loop:
    sub   s4, s14, s3
    setvl s5, s4
    shli  s6, s3, 2
    add   s7, s10, s6
    vld   v0, [s7]        # z
    add   s8, s11, s6
    vld   v7, [s8]        # y
    vsub  v8, v0, v4      # z - lse = log p
    vexp  v9, v8          # p
    vsub  v9, v9, v7
    vmul  v9, v9, v5
    add   s9, s12, s6
    vst   v9, [s9]
    vmul  v8, v8, v7
    vrsum v8, v8
    vsub  v6, v6, v8
    add   s3, s3, s5
    blt   s3, s14, out_loop
    li    s4, 1
    setvl s5, s4
    shli  s6, s1, 2
    add   s13, s13, s6
    vst   v6, [s13]
    halt
";

/// Argmax: the row's index to arg 1 + 4 * row.
const ARGMAX: &str = "    arg   s11, 1
    vbcasti v1, -inf      # best value
    vbcasti v2, 0         # its index
    vbcasti v7, inf
    li    s3, 0
loop:
    sub   s4, s14, s3
    setvl s5, s4
    shli  s6, s3, 2
    add   s7, s10, s6
    vld   v0, [s7]
    vrmax v3, v0          # chunk max
    vcmpeq v4, v0, v3
    viota v5
    vitof v6, s3
    vadd  v5, v5, v6      # column of each lane
    vsel  v4, v5, v7      # column where the max is, else inf
    vrmin v4, v4          # first such column
    vcmpgt v8, v3, v1
    vmov  v9, v8
    vsel  v8, v3, v1
    vsel  v9, v4, v2
    vmov  v1, v8
    vmov  v2, v9
    add   s3, s3, s5
    blt   s3, s14, loop
    li    s4, 1
    setvl s5, s4
    shli  s6, s1, 2
    add   s11, s11, s6
    vst   v2, [s11]
    halt
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_assembles() {
        for k in Kernel::ALL {
            let code = k.assemble().unwrap_or_else(|e| panic!("{}: {e}", k.name()));
            assert!(code.len() > 4, "{}", k.name());
            assert_eq!(tpc::assemble(&tpc::disassemble(&code)).unwrap(), code);
        }
    }
}
