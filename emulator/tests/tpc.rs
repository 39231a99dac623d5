// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The TPC interpreter: every instruction family with hand-encoded kernels, grids, and the
//! errors (budget, invalid instructions, branches out of the kernel, faults, bad launches).

mod common;

use common::{pkt, *};
use gaudi_emu::hw::{
    packet, queue as hwq,
    tpc::{op, Insn, BUDGET, VLEN},
};

const CODE: u64 = DATA;
const IN: u64 = DATA + (1 << 20);
const OUT: u64 = DATA + (2 << 20);

/// A kernel being assembled.
#[derive(Default)]
struct Prog(Vec<u64>);

impl Prog {
    fn i(&mut self, op: u8, rd: u8, ra: u8, rb: u8, imm: i32) -> &mut Self {
        self.0.push(
            Insn {
                op,
                rd,
                ra,
                rb,
                imm,
            }
            .encode(),
        );
        self
    }

    /// `op sd, imm` (li, lui, arg, gid, gsize, vbcasti).
    fn ri(&mut self, op: u8, rd: u8, imm: i32) -> &mut Self {
        self.i(op, rd, 0, 0, imm)
    }

    /// `op d, a, b`.
    fn rrr(&mut self, op: u8, rd: u8, ra: u8, rb: u8) -> &mut Self {
        self.i(op, rd, ra, rb, 0)
    }

    fn halt(&mut self) -> &mut Self {
        self.i(op::HALT, 0, 0, 0, 0)
    }

    fn bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|w| w.to_le_bytes()).collect()
    }
}

fn rig() -> Rig {
    let mut rig = Rig::new();
    rig.enable(0, RING_SIZE);
    rig
}

fn launch_words(p: &Prog, grid: [u32; 3], args: [u64; 8]) -> Vec<u32> {
    pkt::tpc(KVA + CODE, p.0.len() as u32 * 8, grid, args)
}

/// Runs kernel `p` over `grid` with `args` to completion.
fn run(rig: &mut Rig, p: &Prog, grid: [u32; 3], args: [u64; 8]) {
    rig.write(CODE, &p.bytes());
    rig.run(0, &launch_words(p, grid, args));
}

/// Runs kernel `p`, which must fail; returns (code, addr, pkt, info) and resets the queue.
fn fail(rig: &mut Rig, p: &Prog, grid: [u32; 3], args: [u64; 8]) -> (u32, u64, u64, u32) {
    rig.write(CODE, &p.bytes());
    let err = rig.fail(0, &launch_words(p, grid, args));
    rig.reset(0, rig.tail(0));
    err
}

fn out_u64(rig: &Rig, i: u64) -> u64 {
    rig.read_u64(OUT + 8 * i)
}

fn args(a: &[u64]) -> [u64; 8] {
    let mut r = [0; 8];
    r[..a.len()].copy_from_slice(a);
    r
}

#[test]
fn scalar_arithmetic_memory_and_arguments() {
    let mut rig = rig();
    let mut p = Prog::default();
    p.ri(op::ARG, 1, 0)
        .ri(op::LI, 2, -5)
        .ri(op::LI, 3, 7)
        .ri(op::LUI, 4, 0x1234_5678)
        .ri(op::LI, 5, 0x9abc_def0_u32 as i32)
        .ri(op::LUI, 5, 0x1234_5678)
        .rrr(op::ADD, 6, 2, 3)
        .rrr(op::SUB, 7, 2, 3)
        .rrr(op::MUL, 8, 2, 3)
        .i(op::ADDI, 9, 3, 0, -10)
        .i(op::SHLI, 10, 3, 0, 62)
        .i(op::SHRI, 11, 2, 0, 60 + 64)
        .rrr(op::AND, 12, 5, 2)
        .rrr(op::OR, 13, 4, 3)
        .rrr(op::XOR, 14, 5, 2)
        .i(op::MULI, 15, 3, 0, -3)
        .rrr(op::MIN, 16, 2, 3)
        .rrr(op::MAX, 17, 2, 3)
        .rrr(op::DIVU, 18, 2, 3)
        .rrr(op::DIVU, 19, 3, 0)
        .rrr(op::REMU, 20, 2, 3)
        .rrr(op::REMU, 21, 3, 0)
        .ri(op::ARG, 22, 7)
        .ri(op::GSIZE, 23, 0)
        .ri(op::GID, 24, 0);
    for r in 2..=24u8 {
        p.i(op::ST, 0, 1, r, 8 * (i32::from(r) - 2));
    }
    // Word stores and loads, zero-extended; a negative offset.
    p.i(op::ADDI, 25, 1, 0, 512)
        .i(op::STW, 0, 25, 5, -8)
        .i(op::LDW, 26, 25, 0, -8)
        .i(op::LD, 27, 1, 0, 8 * 3)
        .i(op::ST, 0, 1, 26, 8 * 30)
        .i(op::ST, 0, 1, 27, 8 * 31)
        .halt();
    rig.write(OUT + 504, &[0xff; 8]);
    run(
        &mut rig,
        &p,
        [1, 1, 1],
        args(&[KVA + OUT, 0, 0, 0, 0, 0, 0, 0xfeed]),
    );
    let (a, b) = (-5i64 as u64, 7u64);
    let s5 = 0x1234_5678_9abc_def0u64;
    let want = [
        a,
        b,
        0x1234_5678_0000_0000,
        s5,
        a.wrapping_add(b),
        a.wrapping_sub(b),
        a.wrapping_mul(b),
        -3i64 as u64,
        7 << 62,
        a >> 60,
        s5 & a,
        0x1234_5678_0000_0007,
        s5 ^ a,
        -21i64 as u64,
        a,
        b,
        a / b,
        u64::MAX,
        a % b,
        b,
        0xfeed,
        1,
        0,
    ];
    for (i, w) in want.iter().enumerate() {
        assert_eq!(out_u64(&rig, i as u64), *w, "s{}", i + 2);
    }
    assert_eq!(out_u64(&rig, 30), 0x9abc_def0);
    assert_eq!(out_u64(&rig, 31), s5, "ld of s5's slot");
    assert_eq!(
        rig.read(OUT + 504, 8),
        [0xf0, 0xde, 0xbc, 0x9a, 0xff, 0xff, 0xff, 0xff]
    );
}

#[test]
fn branches_and_loops() {
    let mut rig = rig();
    let mut p = Prog::default();
    p.ri(op::ARG, 1, 0) // 0
        .ri(op::LI, 2, 0) // 1: sum
        .ri(op::LI, 3, 1) // 2: i
        .ri(op::LI, 4, 101) // 3
        .rrr(op::ADD, 2, 2, 3) // 4
        .i(op::ADDI, 3, 3, 0, 1) // 5
        .i(op::BLT, 0, 3, 4, -2) // 6: to 4
        .i(op::ST, 0, 1, 2, 0) // 7
        .ri(op::LI, 5, -1) // 8
        .ri(op::LI, 6, 1) // 9
        .i(op::BLTU, 0, 6, 5, 3) // 10: 1 < 2^64 - 1: to 13
        .ri(op::LI, 7, 111) // 11
        .halt() // 12
        .i(op::BLT, 0, 5, 6, 2) // 13: -1 < 1: to 15
        .halt() // 14
        .i(op::BGE, 0, 6, 5, 2) // 15: 1 >= -1: to 17
        .halt() // 16
        .i(op::BEQ, 0, 5, 5, 2) // 17: to 19
        .halt() // 18
        .i(op::BNE, 0, 5, 5, 100) // 19: not taken, so its target does not matter
        .i(op::BGE, 0, 5, 6, -100) // 20: -1 >= 1 is false: not taken
        .i(op::BLTU, 0, 5, 6, -100) // 21: not taken
        .ri(op::J, 0, 2) // 22: to 24
        .halt() // 23
        .ri(op::LI, 7, 222) // 24
        .i(op::ST, 0, 1, 7, 8) // 25
        .halt(); // 26
    run(&mut rig, &p, [1, 1, 1], args(&[KVA + OUT]));
    assert_eq!(out_u64(&rig, 0), 5050);
    assert_eq!(out_u64(&rig, 1), 222);
}

#[test]
fn grids_run_every_point_in_order() {
    let mut rig = rig();
    let mut p = Prog::default();
    let counter = OUT + 0x1_0000;
    p.ri(op::ARG, 1, 0)
        .ri(op::GID, 2, 0)
        .ri(op::GID, 3, 1)
        .ri(op::GID, 4, 2)
        .ri(op::GSIZE, 5, 0)
        .ri(op::GSIZE, 6, 1)
        .rrr(op::MUL, 7, 4, 6)
        .rrr(op::ADD, 7, 7, 3)
        .rrr(op::MUL, 7, 7, 5)
        .rrr(op::ADD, 7, 7, 2)
        .i(op::SHLI, 7, 7, 0, 3)
        .rrr(op::ADD, 8, 1, 7)
        .i(op::SHLI, 9, 3, 0, 16)
        .i(op::SHLI, 10, 4, 0, 32)
        .rrr(op::OR, 9, 9, 10)
        .rrr(op::OR, 9, 9, 2)
        .i(op::ST, 0, 8, 9, 0)
        // The order the points ran in: a counter in memory.
        .ri(op::ARG, 11, 1)
        .i(op::LD, 12, 11, 0, 0)
        .i(op::ST, 0, 8, 12, 4096)
        .i(op::ADDI, 12, 12, 0, 1)
        .i(op::ST, 0, 11, 12, 0)
        .halt();
    let grid = [3, 4, 5];
    run(&mut rig, &p, grid, args(&[KVA + OUT, KVA + counter]));
    let mut n = 0;
    for z in 0..5u64 {
        for y in 0..4u64 {
            for x in 0..3u64 {
                assert_eq!(out_u64(&rig, n), x | (y << 16) | (z << 32));
                assert_eq!(out_u64(&rig, 512 + n), n, "order of point {x},{y},{z}");
                n += 1;
            }
        }
    }
    assert_eq!(rig.read_u64(counter), 60);
}

fn f32s(rig: &Rig, pa: u64, n: usize) -> Vec<f32> {
    rig.read(pa, 4 * n)
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

/// Equal as results: the same bits, or both NaN.
fn same(a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

#[test]
fn vector_instructions() {
    let mut rig = rig();
    let mut input: Vec<f32> = (0..32).map(|i| (i as f32 - 10.0) * 0.75).collect();
    input[2] = f32::NAN;
    input[5] = -0.0;
    input[16 + 5] = 0.0;
    input[16 + 7] = input[7];
    let bytes: Vec<u8> = input.iter().flat_map(|v| v.to_le_bytes()).collect();
    rig.write(IN, &bytes);
    rig.write(OUT, &[0xee; 64 * 40]);

    let (v0, v1): ([f32; VLEN], [f32; VLEN]) = (
        input[..16].try_into().unwrap(),
        input[16..].try_into().unwrap(),
    );
    let mut p = Prog::default();
    p.ri(op::ARG, 1, 0).ri(op::ARG, 2, 1);
    p.i(op::VLD, 0, 1, 0, 0).i(op::VLD, 1, 1, 0, 64);
    // (instruction, expected lanes) in slot order.
    let mut want: Vec<[f32; VLEN]> = Vec::new();
    let zip = |f: fn(f32, f32) -> f32| std::array::from_fn(|l| f(v0[l], v1[l]));
    let vmax = |a: f32, b: f32| if b.is_nan() || a > b { a } else { b };
    let vmin = |a: f32, b: f32| if b.is_nan() || a < b { a } else { b };
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let binary: [(u8, [f32; VLEN]); 9] = [
        (op::VADD, zip(|a, b| a + b)),
        (op::VSUB, zip(|a, b| a - b)),
        (op::VMUL, zip(|a, b| a * b)),
        (op::VDIV, zip(|a, b| a / b)),
        (op::VMAX, std::array::from_fn(|l| vmax(v0[l], v1[l]))),
        (op::VMIN, std::array::from_fn(|l| vmin(v0[l], v1[l]))),
        (op::VCMPGT, std::array::from_fn(|l| flag(v0[l] > v1[l]))),
        (op::VCMPEQ, std::array::from_fn(|l| flag(v0[l] == v1[l]))),
        (op::VMOV, v0),
    ];
    for (o, w) in binary {
        let rb = if o == op::VMOV { 0 } else { 1 };
        p.rrr(o, 2, 0, rb);
        p.i(op::VST, 2, 2, 0, 64 * want.len() as i32);
        want.push(w);
    }
    // vfma: vd = vd + va * vb, fused.
    p.rrr(op::VMOV, 3, 1, 0).rrr(op::VFMA, 3, 0, 1);
    p.i(op::VST, 3, 2, 0, 64 * want.len() as i32);
    want.push(std::array::from_fn(|l| v0[l].mul_add(v1[l], v1[l])));
    // vsel: vd != 0 (NaN too; -0.0 is zero) ? va : vb.
    p.rrr(op::VMOV, 4, 0, 0).rrr(op::VSEL, 4, 1, 0);
    p.i(op::VST, 4, 2, 0, 64 * want.len() as i32);
    want.push(std::array::from_fn(|l| {
        if v0[l] != 0.0 {
            v1[l]
        } else {
            v0[l]
        }
    }));
    // exp and ln, through f64.
    p.rrr(op::VEXP, 5, 0, 0)
        .i(op::VST, 5, 2, 0, 64 * want.len() as i32);
    want.push(v0.map(|x| f64::from(x).exp() as f32));
    p.rrr(op::VLOG, 5, 1, 0)
        .i(op::VST, 5, 2, 0, 64 * want.len() as i32);
    want.push(v1.map(|x| f64::from(x).ln() as f32));
    // Reductions over vl = 16 (NaN: the sum is NaN, max and min skip it).
    let live: Vec<f32> = v0.to_vec();
    for (o, r) in [
        (
            op::VRSUM,
            live.iter().copied().reduce(|a, b| a + b).unwrap(),
        ),
        (op::VRMAX, live.iter().copied().reduce(vmax).unwrap()),
        (op::VRMIN, live.iter().copied().reduce(vmin).unwrap()),
    ] {
        p.rrr(o, 6, 0, 0)
            .i(op::VST, 6, 2, 0, 64 * want.len() as i32);
        want.push([r; VLEN]);
    }
    // Broadcasts and conversions.
    p.ri(op::LI, 3, 1.5f32.to_bits() as i32)
        .i(op::VBCAST, 7, 3, 0, 0);
    p.i(op::VST, 7, 2, 0, 64 * want.len() as i32);
    want.push([1.5; VLEN]);
    p.ri(op::VBCASTI, 7, (-2.25f32).to_bits() as i32);
    p.i(op::VST, 7, 2, 0, 64 * want.len() as i32);
    want.push([-2.25; VLEN]);
    p.ri(op::LI, 3, -7).i(op::VITOF, 7, 3, 0, 0);
    p.i(op::VST, 7, 2, 0, 64 * want.len() as i32);
    want.push([-7.0; VLEN]);
    p.ri(op::LI, 3, 1 << 30).ri(op::LUI, 3, 0x10);
    let big = (0x10i64 << 32) | (1 << 30);
    p.rrr(op::VITOF, 7, 3, 0)
        .i(op::VST, 7, 2, 0, 64 * want.len() as i32);
    want.push([big as f32; VLEN]);
    p.rrr(op::VIOTA, 7, 0, 0)
        .i(op::VST, 7, 2, 0, 64 * want.len() as i32);
    want.push(std::array::from_fn(|l| l as f32));
    // vl = 5: loads zero the other lanes, the strided load takes every other element,
    // reductions see 5 lanes.
    p.ri(op::LI, 3, 5).rrr(op::SETVL, 4, 3, 0);
    let ee = f32::from_bits(0xeeee_eeee);
    let store = |p: &mut Prog, v: u8, slot: usize| {
        p.i(op::VST, v, 2, 0, 64 * slot as i32);
    };
    p.i(op::VLD, 8, 1, 0, 64);
    store(&mut p, 8, want.len());
    want.push(std::array::from_fn(|l| if l < 5 { v1[l] } else { ee }));
    p.ri(op::LI, 3, 8).rrr(op::VLDS, 9, 1, 3);
    p.rrr(op::VMOV, 10, 9, 0);
    // Stores with vl = 5: lanes 5.. keep the previous contents (0xee bytes).
    store(&mut p, 9, want.len());
    want.push(std::array::from_fn(
        |l| if l < 5 { input[2 * l] } else { ee },
    ));
    p.rrr(op::VRSUM, 11, 8, 0);
    store(&mut p, 11, want.len());
    let sum5 = v1[..5].iter().copied().reduce(|a, b| a + b).unwrap();
    want.push(std::array::from_fn(|l| if l < 5 { sum5 } else { ee }));
    // vl = 0: reductions of nothing; memory is not touched (an unmapped address is fine).
    p.ri(op::LI, 3, 0).rrr(op::SETVL, 12, 3, 0);
    p.rrr(op::VRSUM, 13, 0, 0)
        .rrr(op::VRMAX, 14, 0, 0)
        .rrr(op::VRMIN, 15, 0, 0);
    p.ri(op::LI, 3, 0x7777_0000)
        .i(op::VLD, 0, 3, 0, 0)
        .i(op::VST, 0, 3, 0, 0);
    // vl above VLEN is VLEN.
    p.ri(op::LI, 3, 100).rrr(op::SETVL, 5, 3, 0);
    p.i(op::ST, 0, 2, 4, 8 * 400)
        .i(op::ST, 0, 2, 12, 8 * 401)
        .i(op::ST, 0, 2, 5, 8 * 402);
    for v in [13u8, 14, 15] {
        store(&mut p, v, want.len());
        want.push(match v {
            13 => [0.0; VLEN],
            14 => [f32::NEG_INFINITY; VLEN],
            _ => [f32::INFINITY; VLEN],
        });
    }
    // With vl = 16 again: the lanes the vl = 5 load did not load are zero.
    store(&mut p, 8, want.len());
    want.push(std::array::from_fn(|l| if l < 5 { v1[l] } else { 0.0 }));
    // vmovs: lane 3 and lane 15 as bits; setvl above VLEN clamps.
    p.i(op::VMOVS, 16, 10, 0, 3).i(op::ST, 0, 2, 16, 8 * 403);
    p.i(op::VMOVS, 16, 1, 0, 15).i(op::ST, 0, 2, 16, 8 * 404);
    p.ri(op::LI, 3, 0).rrr(op::SETVL, 0, 3, 0);
    p.i(op::VLD, 0, 0, 0, 0x7777_0000)
        .i(op::VST, 0, 0, 0, 0x7777_0000);
    p.halt();
    // The slots overlap the scalar results at 8 * 400 if there are too many.
    assert!(64 * want.len() <= 8 * 400);
    run(&mut rig, &p, [1, 1, 1], args(&[KVA + IN, KVA + OUT]));

    for (slot, w) in want.iter().enumerate() {
        let got = f32s(&rig, OUT + 64 * slot as u64, VLEN);
        for l in 0..VLEN {
            assert!(
                same(got[l], w[l]),
                "slot {slot} lane {l}: got {} want {}",
                got[l],
                w[l]
            );
        }
    }
    assert_eq!(out_u64(&rig, 400), 5, "setvl result");
    assert_eq!(out_u64(&rig, 401), 0, "setvl 0");
    assert_eq!(out_u64(&rig, 402), 16, "setvl clamps at VLEN");
    // v10 holds the strided load: lane 3 is input[6].
    assert_eq!(out_u64(&rig, 403), u64::from(input[6].to_bits()));
    assert_eq!(out_u64(&rig, 404), u64::from(v1[15].to_bits()));
}

#[test]
fn tpc_errors() {
    let mut rig = rig();
    let code = KVA + CODE;
    let info = hwq::err_info(0, 0, hwq::ENGINE_TPC);
    let pkt_va = |rig: &Rig| KVA + ring_pa(0) + u64::from(rig.tail(0));

    // The budget: an endless loop stops after BUDGET instructions.
    let mut p = Prog::default();
    p.ri(op::LI, 1, 0).i(op::ADDI, 1, 1, 0, 1).ri(op::J, 0, -1);
    let at = pkt_va(&rig);
    rig.write(CODE, &p.bytes());
    let err = rig.fail(0, &launch_words(&p, [1, 1, 1], [0; 8]));
    // One `li`, then addi (even instruction numbers) and j (odd ones) alternate: the one
    // over the budget is number BUDGET + 1.
    let pc = if (BUDGET + 1) % 2 == 0 { 1 } else { 2 };
    assert_eq!(err, (hwq::ERR_TPC, code + 8 * pc, at, info));
    rig.reset(0, rig.tail(0));

    let cases: Vec<(Prog, u64)> = vec![
        // Unknown opcode at pc 2 (after two valid instructions).
        (
            {
                let mut p = Prog::default();
                p.ri(op::LI, 1, 0).ri(op::LI, 2, 0).i(0x01, 0, 0, 0, 0);
                p
            },
            2,
        ),
        // A register out of range, a non-zero unused field, immediates out of range.
        (
            {
                let mut p = Prog::default();
                p.rrr(op::ADD, 32, 0, 0);
                p
            },
            0,
        ),
        (
            {
                let mut p = Prog::default();
                p.i(op::HALT, 0, 0, 0, 1);
                p
            },
            0,
        ),
        (
            {
                let mut p = Prog::default();
                p.ri(op::ARG, 1, 8);
                p
            },
            0,
        ),
        (
            {
                let mut p = Prog::default();
                p.ri(op::GID, 1, 3);
                p
            },
            0,
        ),
        (
            {
                let mut p = Prog::default();
                p.i(op::VMOVS, 1, 0, 0, VLEN as i32);
                p
            },
            0,
        ),
        (
            {
                let mut p = Prog::default();
                p.rrr(op::VADD, 16, 0, 0);
                p
            },
            0,
        ),
        // Branches out of the kernel, backwards and forwards.
        (
            {
                let mut p = Prog::default();
                p.ri(op::J, 0, -1);
                p
            },
            0,
        ),
        (
            {
                let mut p = Prog::default();
                p.ri(op::LI, 1, 0).i(op::BEQ, 0, 1, 1, 2).halt();
                p
            },
            1,
        ),
        // Falling off the end: the address after the last instruction.
        (
            {
                let mut p = Prog::default();
                p.ri(op::LI, 1, 0).ri(op::LI, 1, 0);
                p
            },
            2,
        ),
    ];
    for (p, pc) in cases {
        let at = pkt_va(&rig);
        let err = fail(&mut rig, &p, [1, 1, 1], [0; 8]);
        assert_eq!(err, (hwq::ERR_TPC, code + 8 * pc, at, info), "{:x?}", p.0);
    }
    // An invalid word that is never executed is fine.
    let mut p = Prog::default();
    p.halt().i(0xff, 0xff, 0xff, 0xff, -1);
    run(&mut rig, &p, [2, 1, 1], [0; 8]);

    // Faults of loads and stores, with the TPC's engine code.
    rig.map(0, 0x6000_0000, OUT, 4096, true);
    for (p, va, access) in [
        (
            {
                let mut p = Prog::default();
                p.ri(op::LI, 1, 0x5000_0000).i(op::LD, 2, 1, 0, 8).halt();
                p
            },
            0x5000_0008,
            hwq::ACCESS_READ,
        ),
        (
            {
                let mut p = Prog::default();
                p.ri(op::LI, 1, 0x6000_0000).i(op::STW, 0, 1, 1, 4).halt();
                p
            },
            0x6000_0004,
            hwq::ACCESS_WRITE,
        ),
        (
            {
                let mut p = Prog::default();
                p.ri(op::LI, 1, 0x5000_0000).i(op::VLD, 0, 1, 0, 0).halt();
                p
            },
            0x5000_0000,
            hwq::ACCESS_READ,
        ),
        (
            {
                let mut p = Prog::default();
                p.ri(op::LI, 1, 0x6000_0000).i(op::VST, 0, 1, 0, 0).halt();
                p
            },
            0x6000_0000,
            hwq::ACCESS_WRITE,
        ),
    ] {
        let err = fail(&mut rig, &p, [1, 1, 1], [0; 8]);
        let info = hwq::err_info(0, access, hwq::ENGINE_TPC);
        assert_eq!((err.0, err.1, err.3), (hwq::ERR_MMU_FAULT, va, info));
    }
}

#[test]
fn bad_launches() {
    let mut rig = rig();
    let mut p = Prog::default();
    p.halt();
    rig.write(CODE, &p.bytes());
    let good = pkt::tpc(KVA + CODE, 8, [1, 1, 1], [0; 8]);
    rig.run(0, &good);
    let with = |i: usize, v: u32| {
        let mut w = good.clone();
        w[i] = v;
        w
    };
    for bad in [
        with(1, 1),
        with(5, 1),
        with(9, 1),
        with(2, (CODE + 4) as u32),
        with(4, 0),
        with(4, 12),
        with(4, packet::TPC_CODE_MAX + 8),
        with(6, 0),
        with(8, 0),
        pkt::tpc(KVA + CODE, 8, [4096, 4096, 2], [0; 8]),
        pkt::tpc(KVA + CODE, 8, [u32::MAX, u32::MAX, u32::MAX], [0; 8]),
        pkt::tpc(u64::MAX - 7, 16, [1, 1, 1], [0; 8]),
    ] {
        let err = rig.fail(0, &bad);
        assert_eq!(err.0, hwq::ERR_BAD_PACKET, "{bad:x?}");
        rig.reset(0, rig.tail(0));
    }
    // The kernel itself unmapped.
    let err = rig.fail(0, &pkt::tpc(0x5000_0000, 64, [1, 1, 1], [0; 8]));
    let info = hwq::err_info(0, hwq::ACCESS_READ, hwq::ENGINE_TPC);
    assert_eq!(
        (err.0, err.1, err.3),
        (hwq::ERR_MMU_FAULT, 0x5000_0000, info)
    );
}

#[test]
fn reset_and_detach_abandon_a_long_launch() {
    let mut rig = rig();
    // 2^24 grid points of a counting loop: minutes of work.
    let mut p = Prog::default();
    p.ri(op::LI, 1, 0)
        .ri(op::LI, 2, 1000)
        .i(op::ADDI, 1, 1, 0, 1)
        .i(op::BLT, 0, 1, 2, -1)
        .halt();
    rig.write(CODE, &p.bytes());
    let launch = launch_words(&p, [4096, 4096, 1], [0; 8]);
    rig.submit(0, &launch);
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(rig.reg(0, hwq::Q_STATUS), hwq::Q_STATUS_BUSY);
    let t = std::time::Instant::now();
    let tail = rig.tail(0);
    rig.reset(0, tail);
    assert!(t.elapsed() < std::time::Duration::from_secs(2));
    rig.idle(0);
    assert_eq!(rig.reg(0, hwq::Q_HEAD), tail);
    // Again, and the client goes away in the middle.
    rig.submit(0, &launch);
    std::thread::sleep(std::time::Duration::from_millis(50));
    let t = std::time::Instant::now();
    rig.dev.detach();
    assert!(t.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(rig.reg(0, hwq::Q_STATUS), hwq::Q_STATUS_DISABLED);
}
