// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The TPC vector cores: an interpreter of the ISA of `gaudi_hw::tpc`.
//!
//! A launch reads the kernel once, then runs the grid points one after the other (x fastest,
//! then y, then z), each from instruction 0 with zeroed registers and `vl = VLEN`. Memory
//! accesses go through the launch's address space. See `Documentation/device-spec.rst` for
//! the corner cases (lanes, NaN, reductions, branch targets, errors).

use gaudi_hw::{
    packet, queue,
    tpc::{self, op, Insn, VLEN},
};

use crate::{
    engine::{check, quad, Fail, Poll, Stop},
    mmu::{Fault, Space},
};

/// Instructions between two polls for a reset request.
const POLL_INSNS: u64 = 1 << 16;

/// A vector register.
type Vreg = [f32; VLEN];

/// A decoded kernel and its launch parameters.
struct Kernel<'k> {
    /// Virtual address of instruction 0.
    code: u64,
    /// Every instruction, `None` where the word is not a valid instruction.
    insns: &'k [Option<Insn>],
    args: [u64; packet::TPC_ARGS],
    grid: [u64; 3],
}

/// Decodes a kernel: `None` for each word that is not a valid instruction.
pub fn decode(words: impl Iterator<Item = u64>) -> Vec<Option<Insn>> {
    words
        .map(|w| {
            let i = Insn::decode(w);
            i.validate().map(|_| i)
        })
        .collect()
}

fn tpc_error(addr: u64) -> Stop {
    Stop::Fail(Fail {
        code: queue::ERR_TPC,
        addr,
        access: 0,
        engine: queue::ENGINE_TPC,
    })
}

fn fault(f: Fault) -> Stop {
    Stop::Fail(Fail::fault(f, queue::ENGINE_TPC))
}

/// A TPC_LAUNCH packet: header, reserved, code (2), code size, reserved, grid x, y, z,
/// reserved, eight 64-bit arguments.
pub fn launch(space: &mut Space, w: &[u32], poll: Poll) -> Result<(), Stop> {
    let code = quad(w, 2);
    let size = w[4];
    let grid = [w[6], w[7], w[8]].map(u64::from);
    check(w[1] == 0 && w[5] == 0 && w[9] == 0)?;
    check(code % 8 == 0 && size % 8 == 0 && (8..=packet::TPC_CODE_MAX).contains(&size))?;
    check(code.checked_add(u64::from(size)).is_some())?;
    let points = grid.iter().try_fold(1u64, |acc, &g| acc.checked_mul(g));
    check(grid.iter().all(|&g| g >= 1) && points.is_some_and(|p| p <= packet::TPC_GRID_MAX))?;
    let args = std::array::from_fn(|i| quad(w, 10 + 2 * i));

    let mut bytes = vec![0u8; size as usize];
    space.read(code, &mut bytes).map_err(fault)?;
    let insns = decode(
        bytes
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default())),
    );
    let kernel = Kernel {
        code,
        insns: &insns,
        args,
        grid,
    };
    for z in 0..grid[2] {
        for y in 0..grid[1] {
            for x in 0..grid[0] {
                poll()?;
                run_point(space, &kernel, [x, y, z], poll)?;
            }
        }
    }
    Ok(())
}

/// The registers of a grid point.
struct Core {
    s: [u64; tpc::NUM_SREGS as usize],
    v: [Vreg; tpc::NUM_VREGS as usize],
    vl: usize,
}

fn load(space: &mut Space, addr: u64, out: &mut [u8]) -> Result<(), Stop> {
    space.read(addr, out).map_err(fault)
}

/// `f32::max` with a defined choice: NaN loses to a number, and on a tie (`-0.0` and `0.0`)
/// the second operand wins.
fn fmax(a: f32, b: f32) -> f32 {
    if b.is_nan() || a > b {
        a
    } else {
        b
    }
}

/// As [`fmax`], for the minimum.
fn fmin(a: f32, b: f32) -> f32 {
    if b.is_nan() || a < b {
        a
    } else {
        b
    }
}

fn lanes(f: impl FnMut(usize) -> f32) -> Vreg {
    std::array::from_fn(f)
}

/// Runs one grid point to its `halt`.
fn run_point(space: &mut Space, k: &Kernel, gid: [u64; 3], poll: Poll) -> Result<(), Stop> {
    let mut c = Core {
        s: [0; tpc::NUM_SREGS as usize],
        v: [[0.0; VLEN]; tpc::NUM_VREGS as usize],
        vl: VLEN,
    };
    let n = k.insns.len();
    let mut pc = 0usize;
    let mut executed = 0u64;
    loop {
        let here = k.code + 8 * pc as u64;
        if pc >= n || executed == tpc::BUDGET {
            return Err(tpc_error(here));
        }
        let Some(i) = k.insns[pc] else {
            return Err(tpc_error(here));
        };
        executed += 1;
        if executed % POLL_INSNS == 0 {
            poll()?;
        }
        let (rd, ra, rb) = (usize::from(i.rd), usize::from(i.ra), usize::from(i.rb));
        let imm = i64::from(i.imm) as u64;
        let (sa, sb) = (c.s[ra], c.s[rb]);
        let mut next = pc + 1;
        let branch = |taken: bool| -> Result<usize, Stop> {
            if !taken {
                return Ok(pc + 1);
            }
            let target = pc as i64 + i64::from(i.imm);
            if (0..n as i64).contains(&target) {
                Ok(target as usize)
            } else {
                Err(tpc_error(here))
            }
        };
        match i.op {
            op::HALT => return Ok(()),
            op::J => next = branch(true)?,
            op::BEQ => next = branch(sa == sb)?,
            op::BNE => next = branch(sa != sb)?,
            op::BLT => next = branch((sa as i64) < sb as i64)?,
            op::BGE => next = branch(sa as i64 >= sb as i64)?,
            op::BLTU => next = branch(sa < sb)?,
            op::LI => c.s[rd] = imm,
            op::LUI => c.s[rd] = (u64::from(i.imm as u32) << 32) | (c.s[rd] & 0xffff_ffff),
            op::ADD => c.s[rd] = sa.wrapping_add(sb),
            op::SUB => c.s[rd] = sa.wrapping_sub(sb),
            op::MUL => c.s[rd] = sa.wrapping_mul(sb),
            op::ADDI => c.s[rd] = sa.wrapping_add(imm),
            op::SHLI => c.s[rd] = sa << (i.imm & 63),
            op::SHRI => c.s[rd] = sa >> (i.imm & 63),
            op::AND => c.s[rd] = sa & sb,
            op::OR => c.s[rd] = sa | sb,
            op::XOR => c.s[rd] = sa ^ sb,
            op::MULI => c.s[rd] = sa.wrapping_mul(imm),
            op::MIN => c.s[rd] = (sa as i64).min(sb as i64) as u64,
            op::MAX => c.s[rd] = (sa as i64).max(sb as i64) as u64,
            op::DIVU => c.s[rd] = sa.checked_div(sb).unwrap_or(u64::MAX),
            op::REMU => c.s[rd] = sa.checked_rem(sb).unwrap_or(sa),
            op::ARG => c.s[rd] = k.args[i.imm as usize],
            op::GID => c.s[rd] = gid[i.imm as usize],
            op::GSIZE => c.s[rd] = k.grid[i.imm as usize],
            op::LD => {
                let mut b = [0u8; 8];
                load(space, sa.wrapping_add(imm), &mut b)?;
                c.s[rd] = u64::from_le_bytes(b);
            }
            op::LDW => {
                let mut b = [0u8; 4];
                load(space, sa.wrapping_add(imm), &mut b)?;
                c.s[rd] = u64::from(u32::from_le_bytes(b));
            }
            op::ST => space
                .write(sa.wrapping_add(imm), &sb.to_le_bytes())
                .map_err(fault)?,
            op::STW => space
                .write(sa.wrapping_add(imm), &(sb as u32).to_le_bytes())
                .map_err(fault)?,
            op::SETVL => {
                c.vl = sa.min(VLEN as u64) as usize;
                c.s[rd] = c.vl as u64;
            }
            op::VLD => {
                let mut b = [0u8; 4 * VLEN];
                let bytes = &mut b[..4 * c.vl];
                load(space, sa.wrapping_add(imm), bytes)?;
                c.v[rd] = lanes(|l| match b.get(4 * l..4 * l + 4) {
                    Some(x) if l < c.vl => f32::from_le_bytes([x[0], x[1], x[2], x[3]]),
                    _ => 0.0,
                });
            }
            op::VST => {
                let mut b = [0u8; 4 * VLEN];
                for (chunk, x) in b.chunks_exact_mut(4).zip(&c.v[rd]) {
                    chunk.copy_from_slice(&x.to_le_bytes());
                }
                space
                    .write(sa.wrapping_add(imm), &b[..4 * c.vl])
                    .map_err(fault)?;
            }
            op::VLDS => {
                let mut v = [0.0; VLEN];
                for (l, x) in v.iter_mut().enumerate().take(c.vl) {
                    let mut b = [0u8; 4];
                    load(space, sa.wrapping_add((l as u64).wrapping_mul(sb)), &mut b)?;
                    *x = f32::from_le_bytes(b);
                }
                c.v[rd] = v;
            }
            op::VBCAST => c.v[rd] = [f32::from_bits(sa as u32); VLEN],
            op::VBCASTI => c.v[rd] = [f32::from_bits(i.imm as u32); VLEN],
            op::VITOF => c.v[rd] = [sa as i64 as f32; VLEN],
            op::VIOTA => c.v[rd] = lanes(|l| l as f32),
            op::VMOVS => c.s[rd] = u64::from(c.v[ra][i.imm as usize % VLEN].to_bits()),
            _ => c.v[rd] = vector_op(&c, i).ok_or(tpc_error(here))?,
        }
        pc = next;
    }
}

/// The result of vector arithmetic or a reduction: every lane (reductions: of the lanes
/// below `vl`). `None` for an opcode that is none of these.
fn vector_op(c: &Core, i: Insn) -> Option<Vreg> {
    let (rd, ra, rb) = (usize::from(i.rd), usize::from(i.ra), usize::from(i.rb));
    let (va, vb, vd) = (c.v[ra], c.v[rb], c.v[rd]);
    let zip = |f: fn(f32, f32) -> f32| lanes(|l| f(va[l], vb[l]));
    let map = |f: fn(f32) -> f32| lanes(|l| f(va[l]));
    let reduce = |f: fn(f32, f32) -> f32, empty: f32| {
        let r = va[..c.vl].iter().copied().reduce(f).unwrap_or(empty);
        [r; VLEN]
    };
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    Some(match i.op {
        op::VADD => zip(|a, b| a + b),
        op::VSUB => zip(|a, b| a - b),
        op::VMUL => zip(|a, b| a * b),
        op::VDIV => zip(|a, b| a / b),
        op::VFMA => lanes(|l| va[l].mul_add(vb[l], vd[l])),
        op::VMAX => zip(fmax),
        op::VMIN => zip(fmin),
        op::VEXP => map(|a| f64::from(a).exp() as f32),
        op::VLOG => map(|a| f64::from(a).ln() as f32),
        op::VCMPGT => lanes(|l| flag(va[l] > vb[l])),
        op::VCMPEQ => lanes(|l| flag(va[l] == vb[l])),
        op::VSEL => lanes(|l| if vd[l] != 0.0 { va[l] } else { vb[l] }),
        op::VMOV => va,
        op::VRSUM => reduce(|a, b| a + b, 0.0),
        op::VRMAX => reduce(fmax, f32::NEG_INFINITY),
        op::VRMIN => reduce(fmin, f32::INFINITY),
        _ => return None,
    })
}
