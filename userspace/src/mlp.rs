// SPDX-License-Identifier: GPL-2.0 OR MIT

//! A multi-layer perceptron classifier trained on the devices through [`crate::tensor`], and
//! the same training on the CPU as the reference.
//!
//! The network is `inputs -> hidden (ReLU) -> classes`, trained with softmax cross-entropy and
//! plain minibatch SGD. Parameters live in one flat array (`W1`, `b1`, `W2`, `b2`, row-major,
//! [`Layout`]); gradients in one array of the same layout, so that an SGD step is one `axpy`
//! and the data-parallel exchange is one buffer.
//!
//! Data: [`Dataset::load_digits`] reads the handwritten digits of scikit-learn
//! (`digits.csv`: 1797 rows of 64 pixel values 0..16 and the label), scales the pixels to
//! `0..1` and [`Dataset::split`] holds out every fifth sample (index `% 5 == 4`: 359 test,
//! 1438 training samples). Training visits the samples in a seeded random order per epoch
//! ([`epoch_order`]); initial weights are seeded too ([`init_params`]), so a run is a
//! function of its [`Config`].
//!
//! [`DeviceTrainer`] trains on one device or data-parallel on several: each device holds a
//! copy of the parameters and computes the gradient of its part of every batch; with two
//! devices each copies its gradient into a system-memory buffer that the other device has
//! imported through PRIME, then adds the other's and applies the same SGD step. The devices
//! synchronise implicitly through those buffers' reservation objects (the reader's job waits
//! for the writer's, the next write waits for the reader). [`CpuTrainer`] is the reference.

use std::{io, path::Path, time::Instant};

use crate::{
    tensor::{reference, Placement, Runtime, Tensor},
    Device,
};

/// Pixels per digit image.
pub const DIGITS_INPUTS: usize = 64;
/// Digit classes.
pub const DIGITS_CLASSES: usize = 10;

/// A labelled data set: `n` samples of `inputs` values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dataset {
    /// Values per sample.
    pub inputs: usize,
    /// Number of classes.
    pub classes: usize,
    /// Samples, row-major (`n x inputs`).
    pub x: Vec<f32>,
    /// Label of each sample.
    pub labels: Vec<usize>,
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there is no sample.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Parses scikit-learn's `digits.csv`: lines of 64 pixel values and the label, comma
    /// separated. Pixels are scaled by 1/16.
    pub fn parse_digits(text: &str) -> io::Result<Self> {
        let bad = |line: usize, what: &str| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("digits.csv line {}: {what}", line + 1),
            )
        };
        let mut d = Dataset {
            inputs: DIGITS_INPUTS,
            classes: DIGITS_CLASSES,
            ..Default::default()
        };
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.trim().split(',').collect();
            if fields.len() != DIGITS_INPUTS + 1 {
                return Err(bad(i, "not 65 fields"));
            }
            for f in &fields[..DIGITS_INPUTS] {
                let v: f32 = f.trim().parse().map_err(|_| bad(i, "bad pixel"))?;
                if !(0.0..=16.0).contains(&v) {
                    return Err(bad(i, "pixel out of 0..16"));
                }
                d.x.push(v / 16.0);
            }
            let label: usize = fields[DIGITS_INPUTS]
                .trim()
                .parse()
                .map_err(|_| bad(i, "bad label"))?;
            if label >= DIGITS_CLASSES {
                return Err(bad(i, "label out of 0..9"));
            }
            d.labels.push(label);
        }
        if d.is_empty() {
            return Err(bad(0, "no samples"));
        }
        Ok(d)
    }

    /// Reads and parses `digits.csv` at `path`.
    pub fn load_digits(path: impl AsRef<Path>) -> io::Result<Self> {
        Self::parse_digits(&std::fs::read_to_string(path)?)
    }

    /// The fixed split: samples with index `% 5 == 4` are the test set, the others the
    /// training set. Returns `(train, test)`.
    pub fn split(&self) -> (Dataset, Dataset) {
        let mut train = Dataset {
            inputs: self.inputs,
            classes: self.classes,
            ..Default::default()
        };
        let mut test = train.clone();
        for i in 0..self.len() {
            let part = if i % 5 == 4 { &mut test } else { &mut train };
            part.x
                .extend_from_slice(&self.x[i * self.inputs..(i + 1) * self.inputs]);
            part.labels.push(self.labels[i]);
        }
        (train, test)
    }

    /// The samples in `order`, with one-hot targets: `(x, y)`.
    pub fn gather(&self, order: &[usize]) -> (Vec<f32>, Vec<f32>) {
        let mut x = Vec::with_capacity(order.len() * self.inputs);
        let mut y = vec![0.0; order.len() * self.classes];
        for (r, &i) in order.iter().enumerate() {
            x.extend_from_slice(&self.x[i * self.inputs..(i + 1) * self.inputs]);
            y[r * self.classes + self.labels[i]] = 1.0;
        }
        (x, y)
    }
}

/// A training run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Config {
    /// Hidden units.
    pub hidden: usize,
    /// Samples per minibatch (the last one of an epoch may be smaller).
    pub batch: usize,
    /// Learning rate.
    pub lr: f32,
    /// Epochs.
    pub epochs: usize,
    /// Seed of the initial weights and of the sample order.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            hidden: 64,
            batch: 32,
            lr: 0.3,
            epochs: 10,
            seed: 2026,
        }
    }
}

/// Where each parameter lives in the flat array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Inputs.
    pub inputs: usize,
    /// Hidden units.
    pub hidden: usize,
    /// Classes.
    pub classes: usize,
}

impl Layout {
    /// Offset of `W1` (`inputs x hidden`).
    pub fn w1(&self) -> usize {
        0
    }
    /// Offset of `b1` (`hidden`).
    pub fn b1(&self) -> usize {
        self.inputs * self.hidden
    }
    /// Offset of `W2` (`hidden x classes`).
    pub fn w2(&self) -> usize {
        self.b1() + self.hidden
    }
    /// Offset of `b2` (`classes`).
    pub fn b2(&self) -> usize {
        self.w2() + self.hidden * self.classes
    }
    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.b2() + self.classes
    }
    /// Whether there are none (never).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The generator of the seeded choices: splitmix64.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform value in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniform index below `n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize
    }
}

/// Initial parameters: weights uniform in `±sqrt(6 / (fan_in + fan_out))` (Glorot), biases
/// zero, from `seed`.
pub fn init_params(l: &Layout, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let mut p = vec![0.0; l.len()];
    let a1 = (6.0 / (l.inputs + l.hidden) as f64).sqrt();
    for v in &mut p[l.w1()..l.b1()] {
        *v = ((rng.unit() * 2.0 - 1.0) * a1) as f32;
    }
    let a2 = (6.0 / (l.hidden + l.classes) as f64).sqrt();
    for v in &mut p[l.w2()..l.b2()] {
        *v = ((rng.unit() * 2.0 - 1.0) * a2) as f32;
    }
    p
}

/// The order of the `n` training samples in `epoch`: a Fisher-Yates shuffle seeded by
/// `seed` and the epoch.
pub fn epoch_order(seed: u64, epoch: usize, n: usize) -> Vec<usize> {
    let mut rng = Rng::new(seed ^ (epoch as u64 + 1).wrapping_mul(0xa076_1d64_78bd_642f));
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.below(i + 1));
    }
    order
}

/// The batches of an epoch of `n` samples: `(first, len)`.
pub fn batches(n: usize, batch: usize) -> Vec<(usize, usize)> {
    (0..n)
        .step_by(batch.max(1))
        .map(|s| (s, batch.min(n - s)))
        .collect()
}

/// What one epoch gave.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EpochResult {
    /// Mean training loss over the epoch's samples (with the weights of each step).
    pub loss: f32,
    /// Test accuracy after the epoch, 0..1.
    pub accuracy: f32,
    /// Wall time of the epoch (training and test), in seconds.
    pub seconds: f64,
    /// Share of the epoch's wall time during which the devices had work (mean over the
    /// devices; 0 on the CPU).
    pub busy: f64,
}

/// Fraction of `labels` that `predicted` gets right.
pub fn accuracy(predicted: &[usize], labels: &[usize]) -> f32 {
    let right = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
    right as f32 / labels.len().max(1) as f32
}

/// A `classes x classes` confusion matrix: `m[true][predicted]`.
pub fn confusion(predicted: &[usize], labels: &[usize], classes: usize) -> Vec<Vec<usize>> {
    let mut m = vec![vec![0; classes]; classes];
    for (&p, &l) in predicted.iter().zip(labels) {
        if p < classes && l < classes {
            m[l][p] += 1;
        }
    }
    m
}

/// The reference: the same training on the CPU, in plain Rust.
#[derive(Clone, Debug)]
pub struct CpuTrainer {
    /// The layout.
    pub layout: Layout,
    /// The parameters.
    pub params: Vec<f32>,
    cfg: Config,
}

impl CpuTrainer {
    /// A network for `inputs` and `classes` with `cfg`'s initial parameters.
    pub fn new(inputs: usize, classes: usize, cfg: Config) -> Self {
        let layout = Layout {
            inputs,
            hidden: cfg.hidden,
            classes,
        };
        Self {
            params: init_params(&layout, cfg.seed),
            layout,
            cfg,
        }
    }

    /// Hidden activations and logits of the `n` samples of `x`.
    fn forward(&self, x: &[f32], n: usize) -> (Vec<f32>, Vec<f32>) {
        let l = self.layout;
        let p = &self.params;
        let (w1, b1, w2, b2) = (
            &p[l.w1()..l.b1()],
            &p[l.b1()..l.w2()],
            &p[l.w2()..l.b2()],
            &p[l.b2()..],
        );
        let mut h = vec![0.0f32; n * l.hidden];
        for i in 0..n {
            for j in 0..l.hidden {
                let mut s = b1[j];
                for k in 0..l.inputs {
                    s += x[i * l.inputs + k] * w1[k * l.hidden + j];
                }
                h[i * l.hidden + j] = s.max(0.0);
            }
        }
        let mut z = vec![0.0f32; n * l.classes];
        for i in 0..n {
            for j in 0..l.classes {
                let mut s = b2[j];
                for k in 0..l.hidden {
                    s += h[i * l.hidden + k] * w2[k * l.classes + j];
                }
                z[i * l.classes + j] = s;
            }
        }
        (h, z)
    }

    /// One SGD step on the `n` samples `x`, targets `y`; returns the summed loss.
    fn step(&mut self, x: &[f32], y: &[f32], n: usize) -> f64 {
        let l = self.layout;
        let (h, z) = self.forward(x, n);
        let mut loss = 0.0f64;
        let mut dz = vec![0.0f32; n * l.classes];
        for i in 0..n {
            let row = &z[i * l.classes..(i + 1) * l.classes];
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let sum: f32 = row.iter().map(|&v| (v - max).exp()).sum();
            for j in 0..l.classes {
                let p = (row[j] - max).exp() / sum;
                let t = y[i * l.classes + j];
                dz[i * l.classes + j] = (p - t) / n as f32;
                if t != 0.0 {
                    loss -= f64::from(t) * f64::from(p.max(f32::MIN_POSITIVE)).ln();
                }
            }
        }
        let p = &self.params;
        let w2 = &p[l.w2()..l.b2()];
        let mut g = vec![0.0f32; l.len()];
        let mut dh = vec![0.0f32; n * l.hidden];
        for i in 0..n {
            for k in 0..l.hidden {
                let hv = h[i * l.hidden + k];
                let mut s = 0.0;
                for j in 0..l.classes {
                    let d = dz[i * l.classes + j];
                    g[l.w2() + k * l.classes + j] += hv * d;
                    s += d * w2[k * l.classes + j];
                }
                dh[i * l.hidden + k] = if hv > 0.0 { s } else { 0.0 };
            }
            for j in 0..l.classes {
                g[l.b2() + j] += dz[i * l.classes + j];
            }
        }
        for i in 0..n {
            for k in 0..l.hidden {
                let d = dh[i * l.hidden + k];
                if d == 0.0 {
                    continue;
                }
                for q in 0..l.inputs {
                    g[l.w1() + q * l.hidden + k] += x[i * l.inputs + q] * d;
                }
                g[l.b1() + k] += d;
            }
        }
        for (p, g) in self.params.iter_mut().zip(&g) {
            *p -= self.cfg.lr * g;
        }
        loss
    }

    /// Trains one epoch of `train` and tests on `test`.
    pub fn epoch(&mut self, train: &Dataset, test: &Dataset, epoch: usize) -> EpochResult {
        let start = Instant::now();
        let order = epoch_order(self.cfg.seed, epoch, train.len());
        let (x, y) = train.gather(&order);
        let (ni, nc) = (train.inputs, train.classes);
        let mut loss = 0.0;
        for (s, len) in batches(train.len(), self.cfg.batch) {
            loss += self.step(&x[s * ni..(s + len) * ni], &y[s * nc..(s + len) * nc], len);
        }
        let predicted = self.predict(&test.x, test.len());
        EpochResult {
            loss: (loss / train.len() as f64) as f32,
            accuracy: accuracy(&predicted, &test.labels),
            seconds: start.elapsed().as_secs_f64(),
            busy: 0.0,
        }
    }

    /// The class of each of the `n` samples of `x`.
    pub fn predict(&self, x: &[f32], n: usize) -> Vec<usize> {
        let (_, z) = self.forward(x, n);
        reference::argmax(&z, self.layout.classes)
    }
}

/// The tensors of one device of a [`DeviceTrainer`].
struct Worker<'d> {
    rt: Runtime<'d>,
    params: Tensor<'d>,
    grads: Tensor<'d>,
    xs: Tensor<'d>,
    ys: Tensor<'d>,
    h: Tensor<'d>,
    z: Tensor<'d>,
    dz: Tensor<'d>,
    dh: Tensor<'d>,
    loss_rows: Tensor<'d>,
    loss_log: Tensor<'d>,
    test_x: Tensor<'d>,
    test_h: Tensor<'d>,
    test_z: Tensor<'d>,
    preds: Tensor<'d>,
    /// With several devices: this device's gradient for the others (system memory,
    /// exported), and the others' gradients as imported here.
    share_out: Option<Tensor<'d>>,
    share_in: Vec<Tensor<'d>>,
}

/// Training on one device, or data-parallel on several.
pub struct DeviceTrainer<'d> {
    layout: Layout,
    cfg: Config,
    workers: Vec<Worker<'d>>,
    steps: usize,
    ntrain: usize,
}

/// A `rows x cols` tensor, with `rows` and `cols` as `usize`.
fn tensor<'d>(rt: &Runtime<'d>, rows: usize, cols: usize) -> io::Result<Tensor<'d>> {
    let cast = |v: usize| u32::try_from(v.max(1)).map_err(|_| crate::einval());
    rt.tensor(cast(rows)?, cast(cols)?)
}

fn u32_of(v: usize) -> io::Result<u32> {
    u32::try_from(v).map_err(|_| crate::einval())
}

impl<'d> DeviceTrainer<'d> {
    /// A trainer on `devices` (one, or several for data-parallel training) for `train` and
    /// `test` with `cfg`; uploads the initial parameters and the test set.
    pub fn new(
        devices: &[&'d Device],
        train: &Dataset,
        test: &Dataset,
        cfg: Config,
    ) -> io::Result<Self> {
        if devices.is_empty() || cfg.batch < devices.len() {
            return Err(crate::einval());
        }
        let layout = Layout {
            inputs: train.inputs,
            hidden: cfg.hidden,
            classes: train.classes,
        };
        let init = init_params(&layout, cfg.seed);
        let part = cfg.batch.div_ceil(devices.len());
        let steps = batches(train.len(), cfg.batch).len();
        let mut workers = Vec::new();
        for dev in devices {
            let mut rt = Runtime::new(dev)?;
            let params = tensor(&rt, 1, layout.len())?;
            rt.upload(&params.mat(), &init)?;
            let test_x = tensor(&rt, test.len(), layout.inputs)?;
            rt.upload(&test_x.mat(), &test.x)?;
            let share_out = if devices.len() > 1 {
                Some(Tensor::new(
                    dev,
                    1,
                    u32_of(layout.len())?,
                    Placement::System,
                )?)
            } else {
                None
            };
            workers.push(Worker {
                grads: tensor(&rt, 1, layout.len())?,
                xs: tensor(&rt, train.len(), layout.inputs)?,
                ys: tensor(&rt, train.len(), layout.classes)?,
                h: tensor(&rt, part, layout.hidden)?,
                z: tensor(&rt, part, layout.classes)?,
                dz: tensor(&rt, part, layout.classes)?,
                dh: tensor(&rt, part, layout.hidden)?,
                loss_rows: tensor(&rt, part, 1)?,
                loss_log: tensor(&rt, steps, 1)?,
                test_h: tensor(&rt, test.len(), layout.hidden)?,
                test_z: tensor(&rt, test.len(), layout.classes)?,
                preds: tensor(&rt, test.len(), 1)?,
                test_x,
                params,
                share_out,
                share_in: Vec::new(),
                rt,
            });
        }
        // Every device imports every other device's exchange buffer.
        for i in 0..workers.len() {
            for j in 0..workers.len() {
                if i == j {
                    continue;
                }
                let fd = match &workers[j].share_out {
                    Some(t) => t.export()?,
                    None => continue,
                };
                let dev = devices[i];
                let t = Tensor::import(
                    dev,
                    std::os::fd::AsFd::as_fd(&fd),
                    1,
                    u32_of(layout.len())?,
                    true,
                )?;
                workers[i].share_in.push(t);
            }
        }
        for w in &mut workers {
            w.rt.sync()?;
        }
        Ok(Self {
            layout,
            cfg,
            workers,
            steps,
            ntrain: train.len(),
        })
    }

    /// Number of devices.
    pub fn devices(&self) -> usize {
        self.workers.len()
    }

    /// The jobs and packets submitted so far, summed over the devices.
    pub fn counters(&self) -> (u64, u64) {
        self.workers.iter().fold((0, 0), |(j, p), w| {
            let s = w.rt.stats();
            (j + s.jobs, p + s.packets)
        })
    }

    /// Queues the forward and backward pass of `rows` samples from `first` of the epoch's
    /// data on worker `w`; the gradient, scaled by `1 / batch`, goes to its `grads`.
    fn backward(
        &mut self,
        w: usize,
        step: usize,
        first: usize,
        rows: usize,
        batch: usize,
    ) -> io::Result<()> {
        let l = self.layout;
        let wk = &mut self.workers[w];
        let g = wk.grads.mat();
        if rows == 0 {
            wk.rt.fill(&g, 0.0)?;
            return wk.rt.fill(&wk.loss_log.mat().view(step, 1, 1)?, 0.0);
        }
        let p = wk.params.mat();
        let (inp, hid, cls) = (u32_of(l.inputs)?, u32_of(l.hidden)?, u32_of(l.classes)?);
        let r = u32_of(rows)?;
        let w1 = p.view(l.w1(), inp, hid)?;
        let b1 = p.view(l.b1(), 1, hid)?;
        let w2 = p.view(l.w2(), hid, cls)?;
        let b2 = p.view(l.b2(), 1, cls)?;
        let gw1 = g.view(l.w1(), inp, hid)?;
        let gb1 = g.view(l.b1(), 1, hid)?;
        let gw2 = g.view(l.w2(), hid, cls)?;
        let gb2 = g.view(l.b2(), 1, cls)?;
        let x = wk.xs.mat().row_range(u32_of(first)?, r)?;
        let y = wk.ys.mat().row_range(u32_of(first)?, r)?;
        let h = wk.h.mat().row_range(0, r)?;
        let z = wk.z.mat().row_range(0, r)?;
        let dz = wk.dz.mat().row_range(0, r)?;
        let dh = wk.dh.mat().row_range(0, r)?;
        let lr = wk.loss_rows.mat().row_range(0, r)?;
        let rt = &mut wk.rt;
        rt.matmul(&x, false, &w1, false, &h, Some(&b1), true)?;
        rt.matmul(&h, false, &w2, false, &z, Some(&b2), false)?;
        rt.softmax_xent(&z, &y, &dz, &lr, 1.0 / batch as f32)?;
        rt.col_sum(&lr, &wk.loss_log.mat().view(step, 1, 1)?)?;
        rt.matmul(&h, true, &dz, false, &gw2, None, false)?;
        rt.col_sum(&dz, &gb2)?;
        rt.matmul(&dz, false, &w2, true, &dh, None, false)?;
        rt.relu_grad(&dh, &h, &dh)?;
        rt.matmul(&x, true, &dh, false, &gw1, None, false)?;
        rt.col_sum(&dh, &gb1)
    }

    /// Trains one epoch and tests on `test` (the test set given to [`DeviceTrainer::new`]),
    /// calling `progress(step, steps)` as the steps are queued.
    pub fn epoch(
        &mut self,
        train: &Dataset,
        test: &Dataset,
        epoch: usize,
        progress: &mut dyn FnMut(usize, usize),
    ) -> io::Result<EpochResult> {
        if train.len() != self.ntrain {
            return Err(crate::einval());
        }
        let start = Instant::now();
        let busy0: Vec<u64> = self.workers.iter().map(|w| w.rt.stats().busy_ns).collect();
        let order = epoch_order(self.cfg.seed, epoch, train.len());
        let (x, y) = train.gather(&order);
        for w in &mut self.workers {
            w.rt.upload(&w.xs.mat(), &x)?;
            w.rt.upload(&w.ys.mat(), &y)?;
        }
        let n = self.workers.len();
        for (step, (first, len)) in batches(train.len(), self.cfg.batch).into_iter().enumerate() {
            let part = len.div_ceil(n);
            for w in 0..n {
                let s = (w * part).min(len);
                let e = ((w + 1) * part).min(len);
                self.backward(w, step, first + s, e - s, len)?;
                let wk = &mut self.workers[w];
                if let Some(out) = &wk.share_out {
                    wk.rt.copy(&wk.grads.mat(), &out.mat())?;
                    // The job that fills the exchange buffer ends here: the other devices'
                    // next jobs wait for it through the buffer's reservation object.
                    wk.rt.flush()?;
                }
            }
            for wk in &mut self.workers {
                let g = wk.grads.mat();
                for peer in &wk.share_in {
                    wk.rt.add(&g, &peer.mat(), &g)?;
                }
                wk.rt.axpy(-self.cfg.lr, &g, &wk.params.mat())?;
                wk.rt.flush()?;
            }
            progress(step + 1, self.steps);
        }
        let mut loss = 0.0f64;
        for w in &mut self.workers {
            let log = w.rt.download(&w.loss_log.mat())?;
            loss += log.iter().map(|&v| f64::from(v)).sum::<f64>();
        }
        let predicted = self.predict_test()?;
        let seconds = start.elapsed().as_secs_f64();
        let busy = self
            .workers
            .iter()
            .zip(busy0)
            .map(|(w, b0)| (w.rt.stats().busy_ns - b0) as f64 / 1e9 / seconds)
            .sum::<f64>()
            / n as f64;
        Ok(EpochResult {
            loss: (loss / self.ntrain as f64) as f32,
            accuracy: accuracy(&predicted, &test.labels),
            seconds,
            busy,
        })
    }

    /// The classes the first device predicts for the test set.
    pub fn predict_test(&mut self) -> io::Result<Vec<usize>> {
        let l = self.layout;
        let wk = &mut self.workers[0];
        let p = wk.params.mat();
        let (inp, hid, cls) = (u32_of(l.inputs)?, u32_of(l.hidden)?, u32_of(l.classes)?);
        let rt = &mut wk.rt;
        rt.matmul(
            &wk.test_x.mat(),
            false,
            &p.view(l.w1(), inp, hid)?,
            false,
            &wk.test_h.mat(),
            Some(&p.view(l.b1(), 1, hid)?),
            true,
        )?;
        rt.matmul(
            &wk.test_h.mat(),
            false,
            &p.view(l.w2(), hid, cls)?,
            false,
            &wk.test_z.mat(),
            Some(&p.view(l.b2(), 1, cls)?),
            false,
        )?;
        rt.argmax(&wk.test_z.mat(), &wk.preds.mat())?;
        let preds = rt.download(&wk.preds.mat())?;
        Ok(preds.iter().map(|&v| v as usize).collect())
    }

    /// The parameters of device `i`.
    pub fn params(&mut self, i: usize) -> io::Result<Vec<f32>> {
        let w = self.workers.get_mut(i).ok_or_else(crate::einval)?;
        w.rt.download(&w.params.mat())
    }

    /// Device `i`'s runtime: for the statistics.
    pub fn runtime(&self, i: usize) -> Option<&Runtime<'d>> {
        self.workers.get(i).map(|w| &w.rt)
    }

    /// The layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }
}

/// The parameters of a trained network as a text file: a header line `mlp INPUTS HIDDEN
/// CLASSES` then one value per line (the [`Layout`] order), for [`read_params`] and the C
/// example.
pub fn write_params(path: impl AsRef<Path>, l: &Layout, params: &[f32]) -> io::Result<()> {
    let mut s = format!("mlp {} {} {}\n", l.inputs, l.hidden, l.classes);
    for v in params {
        s.push_str(&format!("{v:e}\n"));
    }
    std::fs::write(path, s)
}

/// Reads what [`write_params`] wrote.
pub fn read_params(path: impl AsRef<Path>) -> io::Result<(Layout, Vec<f32>)> {
    let text = std::fs::read_to_string(path)?;
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "not an mlp parameter file");
    let mut lines = text.lines();
    let head: Vec<usize> = lines
        .next()
        .and_then(|h| h.strip_prefix("mlp "))
        .ok_or_else(bad)?
        .split_whitespace()
        .map(|v| v.parse().map_err(|_| bad()))
        .collect::<io::Result<_>>()?;
    let [inputs, hidden, classes] = head[..] else {
        return Err(bad());
    };
    let l = Layout {
        inputs,
        hidden,
        classes,
    };
    let params: Vec<f32> = lines
        .map(|v| v.trim().parse().map_err(|_| bad()))
        .collect::<io::Result<_>>()?;
    if params.len() != l.len() {
        return Err(bad());
    }
    Ok((l, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small synthetic problem: the class is the index of the largest input.
    fn synthetic(n: usize, inputs: usize, seed: u64) -> Dataset {
        let mut rng = Rng::new(seed);
        let mut d = Dataset {
            inputs,
            classes: inputs,
            ..Default::default()
        };
        for _ in 0..n {
            let row: Vec<f32> = (0..inputs).map(|_| rng.unit() as f32).collect();
            d.labels.push(reference::argmax(&row, inputs)[0]);
            d.x.extend(row);
        }
        d
    }

    #[test]
    fn parse_and_split() {
        let line = |label: usize| {
            let mut v = vec!["16"; 64].join(",");
            v.push_str(&format!(",{label}\n"));
            v
        };
        let text: String = (0..10).map(line).collect();
        let d = Dataset::parse_digits(&text).unwrap();
        assert_eq!(d.len(), 10);
        assert_eq!(d.x[0], 1.0);
        let (train, test) = d.split();
        assert_eq!((train.len(), test.len()), (8, 2));
        assert_eq!(test.labels, [4, 9]);
        assert!(Dataset::parse_digits("1,2,3\n").is_err());
        assert!(Dataset::parse_digits(&line(10)).is_err());
    }

    #[test]
    fn orders_are_permutations_and_seeded() {
        let a = epoch_order(1, 0, 100);
        let mut s = a.clone();
        s.sort_unstable();
        assert_eq!(s, (0..100).collect::<Vec<_>>());
        assert_eq!(a, epoch_order(1, 0, 100));
        assert_ne!(a, epoch_order(1, 1, 100));
        assert_eq!(batches(10, 4), [(0, 4), (4, 4), (8, 2)]);
    }

    #[test]
    fn cpu_training_learns() {
        let d = synthetic(600, 4, 7);
        let (train, test) = d.split();
        let cfg = Config {
            hidden: 16,
            batch: 16,
            lr: 0.5,
            epochs: 20,
            seed: 3,
        };
        let mut t = CpuTrainer::new(4, 4, cfg);
        let first = t.epoch(&train, &test, 0);
        let mut last = first;
        for e in 1..cfg.epochs {
            last = t.epoch(&train, &test, e);
        }
        assert!(last.loss < first.loss * 0.5, "{first:?} {last:?}");
        assert!(last.accuracy > 0.7, "{last:?}");
    }

    #[test]
    fn params_round_trip() {
        let l = Layout {
            inputs: 3,
            hidden: 2,
            classes: 2,
        };
        let p = init_params(&l, 5);
        let path = std::env::temp_dir().join(format!("mlp-params-{}", std::process::id()));
        write_params(&path, &l, &p).unwrap();
        let (l2, p2) = read_params(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!((l2, p2), (l, p));
    }
}
