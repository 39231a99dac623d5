// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The tensor runtime (`gaudi::tensor`) and the digits classifier (`gaudi::mlp`) on the
//! device: every runtime operation against its CPU reference over shapes that include odd
//! sizes and sizes that are not multiples of the engines' tiles (16 TPC lanes, 256 MME rows);
//! short training runs on the device under test, on it and the other device (data-parallel
//! through PRIME-shared system memory) and by two clients at once, against the CPU
//! reference and against each other.
//!
//! The data set is scikit-learn's digits (`/project/data/digits.csv`, or `DIGITS_CSV`).

use std::path::PathBuf;

use accel_igt::{ok, open_device, other_device_path};
use gaudi::{
    mlp::{Config, CpuTrainer, Dataset, DeviceTrainer, EpochResult, Rng},
    tensor::{reference as cpu, Mat, Runtime, Tensor},
    Device,
};

/// The training runs of the tests: small and short.
const CFG: Config = Config {
    hidden: 32,
    batch: 64,
    lr: 0.3,
    epochs: 3,
    seed: 7,
};
/// Relative tolerance of a device loss against the CPU's, per epoch.
const LOSS_RTOL: f32 = 1e-3;
/// Test accuracy the short runs must reach.
const MIN_ACCURACY: f32 = 0.85;

fn data() -> igt::Result<(Dataset, Dataset)> {
    let path = std::env::var_os("DIGITS_CSV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/project/data/digits.csv"));
    let d = ok!(Dataset::load_digits(&path), "loading {}", path.display());
    Ok(d.split())
}

fn random(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| (rng.unit() * 2.0 - 1.0) as f32).collect()
}

/// Fails unless `got` is within `atol + rtol * |want|` of `want` everywhere.
fn close(what: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) -> igt::Result {
    let e = cpu::max_err(got, want, atol, rtol);
    igt::assert!(
        e <= 1.0,
        "{what}: off by {e:.2} tolerances (first values {:?} vs {:?})",
        &got[..got.len().min(4)],
        &want[..want.len().min(4)]
    );
    Ok(())
}

/// A tensor holding `values`.
fn load<'d>(
    rt: &mut Runtime<'d>,
    rows: usize,
    cols: usize,
    values: &[f32],
) -> igt::Result<Tensor<'d>> {
    let t = ok!(rt.tensor(rows as u32, cols as u32));
    ok!(rt.upload(&t.mat(), values));
    Ok(t)
}

fn get(rt: &mut Runtime<'_>, m: &Mat) -> igt::Result<Vec<f32>> {
    Ok(ok!(rt.download(m)))
}

fn loss_curve_matches(what: &str, dev: &[EpochResult], cpu: &[EpochResult]) -> igt::Result {
    for (e, (d, c)) in dev.iter().zip(cpu).enumerate() {
        let rel = (d.loss - c.loss).abs() / c.loss.abs().max(1e-3);
        igt::assert!(
            rel <= LOSS_RTOL,
            "{what}: epoch {e}: loss {} vs CPU {} (relative {rel:.2e})",
            d.loss,
            c.loss
        );
    }
    Ok(())
}

fn cpu_run(train: &Dataset, test: &Dataset) -> Vec<EpochResult> {
    let mut t = CpuTrainer::new(train.inputs, train.classes, CFG);
    (0..CFG.epochs).map(|e| t.epoch(train, test, e)).collect()
}

fn device_run(
    devices: &[&Device],
    train: &Dataset,
    test: &Dataset,
) -> igt::Result<(Vec<EpochResult>, Vec<f32>)> {
    let mut t = ok!(DeviceTrainer::new(devices, train, test, CFG));
    let mut out = Vec::new();
    for e in 0..CFG.epochs {
        out.push(ok!(t.epoch(train, test, e, &mut |_, _| {}), "epoch {e}"));
    }
    let params = ok!(t.params(0));
    for i in 1..devices.len() {
        igt::assert!(
            ok!(t.params(i)) == params,
            "device {i}'s parameters differ from device 0's"
        );
    }
    Ok((out, params))
}

fn learned(what: &str, r: &[EpochResult]) -> igt::Result {
    let (first, last) = (r[0], r[r.len() - 1]);
    igt::assert!(
        last.loss < first.loss,
        "{what}: loss did not decrease: {r:?}"
    );
    igt::assert!(
        last.accuracy >= MIN_ACCURACY,
        "{what}: test accuracy {} below {MIN_ACCURACY}",
        last.accuracy
    );
    Ok(())
}

fn main() {
    igt::main(|t| {
        t.subtest("transfers", || {
            let dev = ok!(open_device());
            let mut rt = ok!(Runtime::new(&dev));
            let mut rng = Rng::new(1);
            for n in [1usize, 3, 16, 17, 1000, 70_001] {
                let v = random(&mut rng, n);
                let a = load(&mut rt, 1, n, &v)?;
                let b = ok!(rt.tensor(1, n as u32));
                ok!(rt.copy(&a.mat(), &b.mat()));
                igt::assert!(get(&mut rt, &b.mat())? == v, "copy of {n} values");
                ok!(rt.fill(&b.mat(), -2.5));
                igt::assert!(
                    get(&mut rt, &b.mat())?.iter().all(|&x| x == -2.5),
                    "fill of {n}"
                );
            }
            Ok(())
        });

        t.subtest("gemm", || {
            let dev = ok!(open_device());
            let mut rt = ok!(Runtime::new(&dev));
            let mut rng = Rng::new(2);
            for (m, n, k) in [
                (1, 1, 1),
                (3, 5, 7),
                (17, 33, 9),
                (64, 10, 64),
                (300, 17, 257),
            ] {
                for (ta, tb, bias, relu) in [
                    (false, false, false, false),
                    (true, false, false, false),
                    (false, true, true, false),
                    (false, false, true, true),
                    (true, true, true, true),
                ] {
                    let av = random(&mut rng, m * k);
                    let bv = random(&mut rng, k * n);
                    let biasv = random(&mut rng, n);
                    let (ar, ac) = if ta { (k, m) } else { (m, k) };
                    let (br, bc) = if tb { (n, k) } else { (k, n) };
                    let a = load(&mut rt, ar, ac, &av)?;
                    let b = load(&mut rt, br, bc, &bv)?;
                    let bt = load(&mut rt, 1, n, &biasv)?;
                    let c = ok!(rt.tensor(m as u32, n as u32));
                    let bm = bt.mat();
                    ok!(rt.matmul(
                        &a.mat(),
                        ta,
                        &b.mat(),
                        tb,
                        &c.mat(),
                        bias.then_some(&bm),
                        relu
                    ));
                    let want =
                        cpu::gemm(m, n, k, &av, ta, &bv, tb, bias.then_some(&biasv[..]), relu);
                    close(
                        &format!("gemm {m}x{n}x{k} ta {ta} tb {tb} bias {bias} relu {relu}"),
                        &get(&mut rt, &c.mat())?,
                        &want,
                        1e-5 * k as f32,
                        1e-4,
                    )?;
                }
            }
            // Shapes that do not agree are refused before anything reaches the device.
            let a = ok!(rt.tensor(2, 3));
            let c = ok!(rt.tensor(2, 2));
            igt::assert!(
                rt.matmul(&a.mat(), false, &a.mat(), false, &c.mat(), None, false)
                    .is_err(),
                "a 2x3 by 2x3 product was accepted"
            );
            Ok(())
        });

        t.subtest("elementwise", || {
            let dev = ok!(open_device());
            let mut rt = ok!(Runtime::new(&dev));
            let mut rng = Rng::new(3);
            for n in [1usize, 7, 16, 17, 33, 1000, 4810] {
                let xv = random(&mut rng, n);
                let yv = random(&mut rng, n);
                let x = load(&mut rt, 1, n, &xv)?;
                let y = load(&mut rt, 1, n, &yv)?;
                let z = ok!(rt.tensor(1, n as u32));
                let (xm, ym, zm) = (x.mat(), y.mat(), z.mat());
                ok!(rt.add(&xm, &ym, &zm));
                let want: Vec<f32> = xv.iter().zip(&yv).map(|(a, b)| a + b).collect();
                igt::assert!(get(&mut rt, &zm)? == want, "add of {n}");
                ok!(rt.mul(&xm, &ym, &zm));
                let want: Vec<f32> = xv.iter().zip(&yv).map(|(a, b)| a * b).collect();
                igt::assert!(get(&mut rt, &zm)? == want, "mul of {n}");
                ok!(rt.relu(&xm, &zm));
                let want: Vec<f32> = xv.iter().map(|a| a.max(0.0)).collect();
                igt::assert!(get(&mut rt, &zm)? == want, "relu of {n}");
                ok!(rt.relu_grad(&ym, &xm, &zm));
                igt::assert!(
                    get(&mut rt, &zm)? == cpu::relu_grad(&yv, &xv),
                    "relu_grad of {n}"
                );
                ok!(rt.scale(0.75, &xm, &zm));
                let want: Vec<f32> = xv.iter().map(|a| 0.75 * a).collect();
                igt::assert!(get(&mut rt, &zm)? == want, "scale of {n}");
                ok!(rt.axpy(-0.3, &xm, &ym));
                close(
                    &format!("axpy of {n}"),
                    &get(&mut rt, &ym)?,
                    &cpu::axpy(-0.3, &xv, &yv),
                    1e-7,
                    1e-6,
                )?;
            }
            Ok(())
        });

        t.subtest("reductions", || {
            let dev = ok!(open_device());
            let mut rt = ok!(Runtime::new(&dev));
            let mut rng = Rng::new(4);
            for (rows, cols) in [(1, 1), (1, 17), (5, 16), (33, 10), (64, 33), (257, 70)] {
                let mv = random(&mut rng, rows * cols);
                let m = load(&mut rt, rows, cols, &mv)?;
                let out = ok!(rt.tensor(1, cols as u32));
                ok!(rt.col_sum(&m.mat(), &out.mat()));
                close(
                    &format!("col_sum {rows}x{cols}"),
                    &get(&mut rt, &out.mat())?,
                    &cpu::col_sum(&mv, rows, cols),
                    1e-6 * rows as f32,
                    1e-5,
                )?;
                let am = ok!(rt.tensor(rows as u32, 1));
                ok!(rt.argmax(&m.mat(), &am.mat()));
                let want: Vec<f32> = cpu::argmax(&mv, cols).iter().map(|&i| i as f32).collect();
                igt::assert!(get(&mut rt, &am.mat())? == want, "argmax {rows}x{cols}");
            }
            Ok(())
        });

        t.subtest("softmax-xent", || {
            let dev = ok!(open_device());
            let mut rt = ok!(Runtime::new(&dev));
            let mut rng = Rng::new(5);
            for (rows, cols) in [(1, 1), (3, 10), (7, 16), (33, 17), (2, 40)] {
                let zv: Vec<f32> = random(&mut rng, rows * cols)
                    .iter()
                    .map(|v| 8.0 * v)
                    .collect();
                let mut yv = vec![0.0; rows * cols];
                for r in 0..rows {
                    yv[r * cols + rng.below(cols)] = 1.0;
                }
                let z = load(&mut rt, rows, cols, &zv)?;
                let y = load(&mut rt, rows, cols, &yv)?;
                let p = ok!(rt.tensor(rows as u32, cols as u32));
                let loss = ok!(rt.tensor(rows as u32, 1));
                ok!(rt.softmax(&z.mat(), &p.mat()));
                let what = format!("{rows}x{cols}");
                close(
                    &format!("softmax {what}"),
                    &get(&mut rt, &p.mat())?,
                    &cpu::softmax(&zv, cols),
                    1e-6,
                    1e-5,
                )?;
                let scale = 1.0 / rows as f32;
                ok!(rt.softmax_xent(&z.mat(), &y.mat(), &p.mat(), &loss.mat(), scale));
                let (dz, l) = cpu::softmax_xent(&zv, &yv, cols, scale);
                close(
                    &format!("xent gradient {what}"),
                    &get(&mut rt, &p.mat())?,
                    &dz,
                    1e-6,
                    1e-5,
                )?;
                close(
                    &format!("xent loss {what}"),
                    &get(&mut rt, &loss.mat())?,
                    &l,
                    1e-6,
                    1e-5,
                )?;
            }
            Ok(())
        });

        t.subtest("train-one-device", || {
            let (train, test) = data()?;
            let dev = ok!(open_device());
            let cpu = cpu_run(&train, &test);
            let (r, _) = device_run(&[&dev], &train, &test)?;
            learned("device", &r)?;
            learned("cpu", &cpu)?;
            loss_curve_matches("one device", &r, &cpu)
        });

        t.subtest("train-two-devices", || {
            let (train, test) = data()?;
            let dev = ok!(open_device());
            let other = ok!(Device::open(other_device_path()?));
            let cpu = cpu_run(&train, &test);
            let (r, _) = device_run(&[&dev, &other], &train, &test)?;
            learned("two devices", &r)?;
            loss_curve_matches("two devices", &r, &cpu)
        });

        t.subtest("concurrent-clients", || {
            let (train, test) = data()?;
            let alone = {
                let dev = ok!(open_device());
                device_run(&[&dev], &train, &test)?
            };
            let run = || -> Result<(Vec<EpochResult>, Vec<f32>), String> {
                let dev = open_device().map_err(|e| e.to_string())?;
                device_run(&[&dev], &train, &test).map_err(|e| format!("{e:?}"))
            };
            let (a, b) = std::thread::scope(|s| {
                let a = s.spawn(run);
                let b = s.spawn(run);
                (a.join(), b.join())
            });
            for (name, r) in [("first", a), ("second", b)] {
                let r = r.map_err(|_| igt::fail!("{name} client panicked"))?;
                let (epochs, params) = r.map_err(|e| igt::fail!("{name} client: {e}"))?;
                let losses: Vec<f32> = epochs.iter().map(|e| e.loss).collect();
                let want: Vec<f32> = alone.0.iter().map(|e| e.loss).collect();
                igt::assert!(
                    losses == want,
                    "{name} client: losses {losses:?}, alone {want:?}"
                );
                igt::assert!(
                    params == alone.1,
                    "{name} client: parameters differ from alone"
                );
            }
            Ok(())
        });
    })
}
