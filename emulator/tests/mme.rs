// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The matrix engine against a naive f64 reference: shapes (odd, across tile boundaries),
//! transposes, leading dimensions above the minimum, bfloat16, bias, ReLU, alpha and beta;
//! and its errors.

mod common;

use common::{
    pkt::{self, Mme},
    *,
};
use gaudi_emu::hw::{packet, queue as hwq};

const A: u64 = DATA;
const B: u64 = DATA + (8 << 20);
const C: u64 = DATA + (16 << 20);
const BIAS: u64 = DATA + (24 << 20);

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in [-2, 2) with few mantissa bits, so that bfloat16 holds it.
    fn value(&mut self) -> f32 {
        (self.next() % 64) as f32 / 16.0 - 2.0
    }
}

#[derive(Clone, Copy, Debug)]
struct Case {
    m: u32,
    n: u32,
    k: u32,
    flags: u8,
    /// Padding of lda, ldb, ldc over the minimum.
    pad: u32,
    alpha: f32,
    beta: f32,
}

/// Writes `vals` as fp32 or bf16 at `pa`.
fn store(rig: &Rig, pa: u64, vals: &[f32], bf16: bool) {
    let bytes: Vec<u8> = if bf16 {
        vals.iter()
            .flat_map(|v| ((v.to_bits() >> 16) as u16).to_le_bytes())
            .collect()
    } else {
        vals.iter().flat_map(|v| v.to_le_bytes()).collect()
    };
    rig.write(pa, &bytes);
}

fn load(rig: &Rig, pa: u64, n: usize) -> Vec<f32> {
    rig.read(pa, 4 * n)
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

/// Runs one case and checks C, including that the padding of C is left alone.
fn check(rig: &mut Rig, rng: &mut Rng, c: Case) {
    let (m, n, k) = (c.m as usize, c.n as usize, c.k as usize);
    let ta = c.flags & packet::MME_TRANS_A != 0;
    let tb = c.flags & packet::MME_TRANS_B != 0;
    let bf16 = c.flags & packet::MME_BF16 != 0;
    let (ar, ac) = if ta { (k, m) } else { (m, k) };
    let (br, bc) = if tb { (n, k) } else { (k, n) };
    let (lda, ldb, ldc) = (ac + c.pad as usize, bc + c.pad as usize, n + c.pad as usize);
    let a: Vec<f32> = (0..ar * lda).map(|_| rng.value()).collect();
    let b: Vec<f32> = (0..br * ldb).map(|_| rng.value()).collect();
    let mut c0: Vec<f32> = (0..m * ldc).map(|_| rng.value()).collect();
    if c.beta == 0.0 {
        // Must not be read.
        c0.iter_mut().for_each(|x| *x = f32::NAN);
    }
    let bias: Vec<f32> = (0..n).map(|_| rng.value()).collect();
    store(rig, A, &a, bf16);
    store(rig, B, &b, bf16);
    store(rig, C, &c0, false);
    store(rig, BIAS, &bias, false);
    rig.run(
        0,
        &pkt::mme(&Mme {
            flags: c.flags,
            a: KVA + A,
            b: KVA + B,
            c: KVA + C,
            bias: KVA + BIAS,
            m: c.m,
            n: c.n,
            k: c.k,
            lda: lda as u32,
            ldb: ldb as u32,
            ldc: ldc as u32,
            alpha: c.alpha,
            beta: c.beta,
        }),
    );
    let got = load(rig, C, m * ldc);
    let opa = |i: usize, p: usize| f64::from(if ta { a[p * lda + i] } else { a[i * lda + p] });
    let opb = |p: usize, j: usize| f64::from(if tb { b[j * ldb + p] } else { b[p * ldb + j] });
    for i in 0..m {
        for j in 0..n {
            let (mut sum, mut mag) = (0.0f64, 0.0f64);
            for p in 0..k {
                sum += opa(i, p) * opb(p, j);
                mag += (opa(i, p) * opb(p, j)).abs();
            }
            let alpha = f64::from(c.alpha);
            let mut want = alpha * sum;
            mag *= alpha.abs();
            if c.beta != 0.0 {
                let old = f64::from(c.beta) * f64::from(c0[i * ldc + j]);
                want += old;
                mag += old.abs();
            }
            if c.flags & packet::MME_BIAS != 0 {
                want += f64::from(bias[j]);
                mag += f64::from(bias[j]).abs();
            }
            if c.flags & packet::MME_RELU != 0 && want < 0.0 {
                want = 0.0;
            }
            let x = f64::from(got[i * ldc + j]);
            assert!(
                (x - want).abs() <= 1e-5 * mag + 1e-6,
                "{c:?}: C[{i}][{j}] = {x}, want {want}"
            );
        }
        for j in n..ldc {
            assert!(
                got[i * ldc + j].to_bits() == c0[i * ldc + j].to_bits(),
                "{c:?}: padding C[{i}][{j}] written"
            );
        }
    }
}

#[test]
fn matches_the_reference() {
    let mut rig = Rig::new();
    rig.enable(0, RING_SIZE);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let shapes = [
        (1, 1, 1),
        (1, 7, 3),
        (5, 1, 9),
        (3, 5, 7),
        (16, 16, 16),
        (17, 33, 9),
        (64, 48, 80),
        (257, 3, 300),
        (2, 260, 257),
        (130, 270, 40),
    ];
    let mut n = 0u32;
    for (m, nn, k) in shapes {
        for flags in 0..32u8 {
            // Every flag combination on the small shapes, a spread on the larger ones.
            if m * nn * k > 4096 && flags % 7 != (m % 7) as u8 {
                continue;
            }
            n += 1;
            let case = Case {
                m,
                n: nn,
                k,
                flags,
                pad: [0, 1, 3][n as usize % 3],
                alpha: [1.0, -0.5, 2.0][n as usize % 3],
                beta: [0.0, 1.0, -1.5, 0.0][n as usize % 4],
            };
            check(&mut rig, &mut rng, case);
        }
    }
    assert!(n > 150, "{n} cases");
}

#[test]
fn operands_in_device_memory_and_in_a_user_space() {
    let mut rig = Rig::new();
    rig.enable(1, RING_SIZE);
    // A in device memory, B and C in RAM through ASID 2 (pages).
    let ones = vec![1.0f32; 8 * 8];
    rig.dev_write(
        0x1000,
        &ones
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<_>>(),
    );
    let b: Vec<f32> = (0..64).map(|i| i as f32).collect();
    store(&rig, B, &b, false);
    rig.map_pages(2, 0x10_0000, B, 0x1000, false);
    rig.map_pages(2, 0x20_0000, C, 0x1000, false);
    rig.map_pages(2, 0x30_0000, DRAM + 0x1000, 0x1000, true);
    rig.set_ctx(2, true);
    let words = pkt::mme(&Mme {
        flags: 0,
        a: 0x30_0000,
        b: 0x10_0000,
        c: 0x20_0000,
        bias: 0,
        m: 8,
        n: 8,
        k: 8,
        lda: 8,
        ldb: 8,
        ldc: 8,
        alpha: 1.0,
        beta: 0.0,
    });
    rig.map_pages(2, 0x40_0000, DATA + (30 << 20), 0x1000, true);
    rig.write(DATA + (30 << 20), &bytes(&words));
    rig.run(1, &pkt::indirect(2, 0x40_0000, words.len() as u32 * 4));
    let c = load(&rig, C, 64);
    for i in 0..8 {
        for j in 0..8 {
            let want: f32 = (0..8).map(|p| (p * 8 + j) as f32).sum();
            assert_eq!(c[i * 8 + j], want);
        }
    }
    // C read-only: a write fault of the MME in ASID 2.
    rig.map_pages(2, 0x50_0000, C, 0x1000, true);
    let mut ro = words.clone();
    ro[6] = 0x50_0000;
    rig.write(DATA + (30 << 20), &bytes(&ro));
    let err = rig.fail(1, &pkt::indirect(2, 0x40_0000, words.len() as u32 * 4));
    let info = hwq::err_info(2, hwq::ACCESS_WRITE, hwq::ENGINE_MME);
    assert_eq!(err, (hwq::ERR_MMU_FAULT, 0x50_0000, 0x40_0000, info));
}

#[test]
fn malformed_and_faulting_mme_packets() {
    let mut rig = Rig::new();
    rig.enable(0, RING_SIZE);
    let good = Mme {
        flags: 0,
        a: KVA + A,
        b: KVA + B,
        c: KVA + C,
        bias: 0,
        m: 4,
        n: 4,
        k: 4,
        lda: 4,
        ldb: 4,
        ldc: 4,
        alpha: 1.0,
        beta: 0.0,
    };
    rig.run(0, &pkt::mme(&good));
    let bad = [
        Mme { m: 0, ..good },
        Mme {
            n: packet::MME_DIM_MAX + 1,
            ..good
        },
        Mme { lda: 3, ..good },
        Mme { ldb: 3, ..good },
        Mme { ldc: 3, ..good },
        Mme {
            flags: packet::MME_TRANS_A,
            m: 5,
            lda: 4,
            ..good
        },
        Mme {
            flags: packet::MME_TRANS_B,
            k: 5,
            ldb: 4,
            lda: 5,
            ..good
        },
        Mme {
            a: KVA + A + 2,
            ..good
        },
        Mme {
            flags: packet::MME_BF16,
            a: KVA + A + 1,
            ..good
        },
        Mme {
            c: KVA + C + 2,
            ..good
        },
        Mme {
            flags: packet::MME_BIAS,
            bias: KVA + BIAS + 1,
            ..good
        },
        Mme {
            flags: 0x20,
            ..good
        },
        Mme {
            a: u64::MAX - 16,
            ..good
        },
    ];
    for p in bad {
        let err = rig.fail(0, &pkt::mme(&p));
        assert_eq!(err.0, hwq::ERR_BAD_PACKET, "{p:?}");
        rig.reset(0, rig.tail(0));
    }
    let mut reserved = pkt::mme(&good);
    reserved[19] = 1;
    assert_eq!(rig.fail(0, &reserved).0, hwq::ERR_BAD_PACKET);
    rig.reset(0, rig.tail(0));
    // bf16 operands need only 2-byte alignment.
    rig.run(
        0,
        &pkt::mme(&Mme {
            flags: packet::MME_BF16,
            a: KVA + A + 2,
            ..good
        }),
    );
    // Unmapped operands fault with the MME's engine code.
    for (p, va, access) in [
        (
            Mme {
                a: 0x1234_0000,
                ..good
            },
            0x1234_0000,
            hwq::ACCESS_READ,
        ),
        (
            Mme {
                b: 0x1234_0000,
                ..good
            },
            0x1234_0000,
            hwq::ACCESS_READ,
        ),
        (
            Mme {
                c: 0x1234_0000,
                beta: 1.0,
                ..good
            },
            0x1234_0000,
            hwq::ACCESS_READ,
        ),
        (
            Mme {
                c: 0x1234_0000,
                ..good
            },
            0x1234_0000,
            hwq::ACCESS_WRITE,
        ),
        (
            Mme {
                flags: packet::MME_BIAS,
                bias: 0x1234_0000,
                ..good
            },
            0x1234_0000,
            hwq::ACCESS_READ,
        ),
    ] {
        let err = rig.fail(0, &pkt::mme(&p));
        let info = hwq::err_info(0, access, hwq::ENGINE_MME);
        assert_eq!(
            (err.0, err.1, err.3),
            (hwq::ERR_MMU_FAULT, va, info),
            "{p:?}"
        );
        rig.reset(0, rig.tail(0));
    }
}
