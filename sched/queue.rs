// SPDX-License-Identifier: GPL-2.0 OR MIT

//! A job queue in the style of the DRM GPU scheduler.
//!
//! A [`JobQueue`] feeds one hardware engine. The driver implements [`Backend`]: it runs a job on
//! the hardware and returns the hardware fence, stops the hardware's work on a job that timed
//! out, and stops the engine when the queue is torn down. Clients submit through [`Entity`]s
//! (one per context or userspace queue), each with a [`Priority`].
//!
//! # Job life cycle
//!
//! 1. [`Entity::prepare`] is the fallible step: it allocates the job's fences and every
//!    callback node, reserves a slot in the entity and checks the job's credits. Nothing is
//!    published yet; dropping the [`PreparedJob`] cancels it.
//! 2. [`PreparedJob::push`] is infallible: the job joins its entity's FIFO. From here on its
//!    *scheduled* and *finished* fences are published and will signal.
//! 3. The queue runs the job when its dependencies (explicit fences, including the implicit
//!    ones the caller collected from `dma_resv`) have signalled, it is at the head of its
//!    entity, its entity is chosen (highest priority first, round robin within a priority)
//!    and enough hardware credits (ring capacity) are free. The scheduled fence signals once
//!    the job has been handed to the hardware.
//! 4. When the hardware fence signals, the finished fence signals with the same outcome and
//!    the credits return.
//!
//! Nothing on the way from push to completion allocates: an entity waits for the dependencies
//! of its head job one after the other with a single callback node, allocated with the
//! entity, and the hardware fences of running jobs are watched with nodes from a pool of one
//! per credit, allocated with the queue. Queued jobs live in a ring per entity, allocated with
//! the entity for `entity_depth` jobs.
//!
//! Running a job happens in a fence signalling section: [`Backend::run`] must not allocate
//! with `GFP_KERNEL` nor take locks that are held while waiting for fences.
//!
//! # Timeouts
//!
//! A job that runs longer than the queue's timeout is handed to [`Backend::timed_out`], which
//! stops the hardware's work on it. Its finished fence signals `ETIME`, its entity is marked
//! guilty and banned: the entity's queued jobs are cancelled (`ECANCELED`) and it accepts no
//! new jobs. Nothing is resubmitted, and other entities are not affected.
//!
//! # Teardown
//!
//! Dropping an [`Entity`] cancels its queued jobs; its jobs on the hardware complete normally.
//! Dropping the [`JobQueue`] stops the engine with [`Backend::stop`], then cancels every job in
//! flight and queued: all their fences signal, with `ECANCELED`. When the drop returns, no work
//! item of the queue is pending or running, so a module can go away after it (and an
//! `rcu_barrier()` for the fences).
//!
//! The queue's work runs on an ordered `WQ_MEM_RECLAIM` workqueue of its own, as memory reclaim
//! may wait for the fences it signals. The workqueue goes away with the last of the queue's
//! handles ([`JobQueue`], [`Entity`], [`PreparedJob`]), so dropping that one may sleep.

use crate::{
    bindings, impl_has_delayed_work, impl_has_work,
    prelude::*,
    static_lock_class,
    sync::{aref::ARef, Arc, SpinLock, SpinLockGuard},
    time::{Delta, Instant, Monotonic},
    workqueue::{DelayedWork, OwnedQueue, Work, WorkItem},
};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use super::fence::{Callback, CallbackRegistration, Fence, FenceCallback, PendingFence, Timeline};

// Lockdep names of the queue's lock and work items. They are statics, not literals in the
// generic code: a literal would be duplicated in every crate that instantiates a queue, and
// lockdep wants a single name for the single class key of a generic function.
static INNER_NAME: &CStr = c"drm_accel_queue::inner";
static WORK_NAME: &CStr = c"drm_accel_queue::work";
static TIMEOUT_NAME: &CStr = c"drm_accel_queue::timeout";
static TIMER_NAME: &CStr = c"drm_accel_queue::timer";

/// The hardware side of a job queue, implemented by the driver.
pub trait Backend: Send + Sync + 'static {
    /// The driver's data of a job.
    type Job: Send + 'static;

    /// Hands `job` to the hardware and returns the fence that signals when it is done.
    ///
    /// Runs in a fence signalling section. An error fails the job: its finished fence signals
    /// with it.
    fn run(&self, job: &mut Self::Job) -> Result<ARef<Fence>>;

    /// `job` exceeded the timeout: stop the hardware's work on it. Its hardware fence is
    /// ignored from now on.
    fn timed_out(&self, job: &mut Self::Job);

    /// The queue is being torn down: make the engine idle. Called once, before the jobs in
    /// flight are cancelled.
    fn stop(&self);
}

/// Scheduling priority of an entity; higher runs first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// Background work.
    Low = 0,
    /// The default.
    Normal = 1,
    /// Latency-sensitive work.
    High = 2,
    /// Work of the kernel itself (memory management, recovery).
    Kernel = 3,
}

const NUM_PRIORITIES: usize = 4;

/// Parameters of a [`JobQueue`].
#[derive(Clone, Copy)]
pub struct Config {
    /// Name of the queue, for its fence timelines and its workqueue.
    pub name: &'static CStr,
    /// Hardware credits (for example ring slots) the jobs in flight may use together.
    pub credits: u32,
    /// Jobs an entity may hold queued (prepared or pushed, not yet running).
    pub entity_depth: u32,
    /// How long a job may run before it is declared hung.
    pub timeout: Delta,
}

/// What an entity's fences and bans are tied to.
struct EntityState {
    id: u64,
    priority: Priority,
    scheduled: Timeline,
    finished: Timeline,
    banned: AtomicBool,
    /// Jobs of the entity that are prepared or queued: at most `entity_depth`, so that a
    /// prepared job always fits in the entity's FIFO.
    slots: AtomicU32,
}

/// Wakes the queue when a fence it waits for signals.
struct Kick<B: Backend>(Arc<QueueInner<B>>);

impl<B: Backend> FenceCallback for Kick<B> {
    fn signalled(&self, _fence: &Fence) {
        QueueInner::kick(&self.0);
    }
}

type Node<B> = Pin<KBox<Callback<Kick<B>>>>;

/// A job inside the queue.
struct Job<B: Backend> {
    data: B::Job,
    credits: u32,
    entity: Arc<EntityState>,
    deps: KVec<ARef<Fence>>,
    /// Dependencies before this index have signalled.
    next_dep: usize,
    scheduled: Option<PendingFence>,
    finished: Option<PendingFence>,
    hw: Option<ARef<Fence>>,
    /// The node that watches the hardware fence, from the queue's pool while the job runs;
    /// registered on the fence (`hw_reg`) unless the fence had signalled already.
    hw_node: Option<Node<B>>,
    hw_reg: Option<CallbackRegistration<Kick<B>>>,
    deadline: Option<Instant<Monotonic>>,
}

impl<B: Backend> Job<B> {
    /// Takes the hardware-fence node back, removing its callback if it has not run.
    fn take_hw_node(&mut self) -> Option<Node<B>> {
        self.hw_reg
            .take()
            .map(|r| r.remove())
            .or(self.hw_node.take())
    }

    /// Ends the job: signals what has not signalled.
    fn finish(mut self, error: Option<Error>) {
        self.hw_reg = None;
        if let Some(s) = self.scheduled.take() {
            s.signal(error);
        }
        if let Some(f) = self.finished.take() {
            f.signal(error);
        }
    }
}

/// A fixed-capacity FIFO, allocated once: queueing and dequeueing never allocate nor move
/// the other elements.
struct Fifo<T> {
    slots: KVVec<Option<T>>,
    head: usize,
    len: usize,
}

impl<T> Fifo<T> {
    fn new(capacity: usize) -> Result<Self> {
        let mut slots = KVVec::with_capacity(capacity, GFP_KERNEL)?;
        for _ in 0..capacity {
            slots.push(None, GFP_KERNEL)?;
        }
        Ok(Self {
            slots,
            head: 0,
            len: 0,
        })
    }

    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, value: T) -> core::result::Result<(), T> {
        let cap = self.slots.len();
        if self.len == cap {
            return Err(value);
        }
        self.slots[(self.head + self.len) % cap] = Some(value);
        self.len += 1;
        Ok(())
    }

    fn front_mut(&mut self) -> Option<&mut T> {
        if self.len == 0 {
            return None;
        }
        self.slots[self.head].as_mut()
    }

    fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let value = self.slots[self.head].take();
        self.head = (self.head + 1) % self.slots.len();
        self.len -= 1;
        value
    }
}

/// An entity's queued jobs and the one callback node with which its head job waits for its
/// dependencies, one after the other.
struct EntityQueue<B: Backend> {
    state: Arc<EntityState>,
    jobs: Fifo<Job<B>>,
    /// The node, or its registration on the head job's first unsignalled dependency.
    dep_node: Option<Node<B>>,
    dep_reg: Option<CallbackRegistration<Kick<B>>>,
}

impl<B: Backend> EntityQueue<B> {
    /// Whether the head job's dependencies have all signalled. If not, makes sure a callback
    /// will kick the queue when the first unsignalled one does.
    fn head_ready(&mut self) -> bool {
        let Some(job) = self.jobs.front_mut() else {
            return false;
        };
        while let Some(dep) = job.deps.get(job.next_dep) {
            if dep.is_signaled() {
                job.next_dep += 1;
                // A registration is always on the dependency at `next_dep`.
                if let Some(reg) = self.dep_reg.take() {
                    self.dep_node = Some(reg.remove());
                }
                continue;
            }
            if self.dep_reg.is_some() {
                return false;
            }
            let Some(node) = self.dep_node.take() else {
                // Unreachable: the node is either free or registered.
                return false;
            };
            match dep.add_callback(node) {
                Ok(reg) => {
                    self.dep_reg = Some(reg);
                    return false;
                }
                // Signalled in the meantime.
                Err(node) => self.dep_node = Some(node),
            }
        }
        true
    }

    /// Takes the queued jobs out, for cancelling.
    fn drain(&mut self) -> Fifo<Job<B>> {
        if let Some(reg) = self.dep_reg.take() {
            self.dep_node = Some(reg.remove());
        }
        self.state
            .slots
            .fetch_sub(self.jobs.len() as u32, Ordering::Relaxed);
        let empty = Fifo {
            slots: KVVec::new(),
            head: 0,
            len: 0,
        };
        core::mem::replace(&mut self.jobs, empty)
    }
}

impl<T> Iterator for Fifo<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.pop()
    }
}

struct Inner<B: Backend> {
    entities: KVec<EntityQueue<B>>,
    in_flight: KVec<Job<B>>,
    credits_used: u32,
    /// Nodes for the hardware fences of running jobs: every running job holds a credit, so
    /// there are as many as credits.
    hw_nodes: KVec<Node<B>>,
    /// Round-robin position per priority: the id of the entity that ran last.
    last: [u64; NUM_PRIORITIES],
    /// A worker is processing the queue; `again` asks it for another pass.
    running: bool,
    again: bool,
    stopped: bool,
}

impl<B: Backend> Inner<B> {
    /// A job leaves the hardware: its credits and its node return.
    fn release(&mut self, job: &mut Job<B>) {
        self.credits_used -= job.credits;
        if let Some(node) = job.take_hw_node() {
            // There is room for every node.
            let _ = self.hw_nodes.push_within_capacity(node);
        }
    }

    fn entity(&mut self, id: u64) -> Option<&mut EntityQueue<B>> {
        self.entities.iter_mut().find(|e| e.state.id == id)
    }
}

#[pin_data]
struct QueueInner<B: Backend> {
    backend: B,
    config: Config,
    /// Set with `Inner::stopped`, for the checks that take no lock.
    closed: AtomicBool,
    /// Ordered and able to make progress under memory pressure, as the fences the work signals
    /// may be what memory reclaim waits for. Destroyed with the last reference to the queue,
    /// which is never a work item's (see [`JobQueue`]'s `drop`).
    wq: OwnedQueue,
    next_entity: AtomicU64,
    #[pin]
    inner: SpinLock<Inner<B>>,
    #[pin]
    work: Work<QueueInner<B>, 0>,
    #[pin]
    timeout_work: DelayedWork<QueueInner<B>, 1>,
}

impl_has_work! {
    impl{B: Backend} HasWork<QueueInner<B>, 0> for QueueInner<B> { self.work }
}

impl_has_delayed_work! {
    impl{B: Backend} HasDelayedWork<QueueInner<B>, 1> for QueueInner<B> { self.timeout_work }
}

impl<B: Backend> WorkItem<0> for QueueInner<B> {
    type Pointer = Arc<QueueInner<B>>;

    fn run(this: Arc<QueueInner<B>>) {
        this.process();
    }
}

impl<B: Backend> WorkItem<1> for QueueInner<B> {
    type Pointer = Arc<QueueInner<B>>;

    fn run(this: Arc<QueueInner<B>>) {
        this.process();
    }
}

/// What a pass over the queue found to do, taken out under the lock and done outside it.
enum Step<B: Backend> {
    Complete(Job<B>),
    TimedOut(Job<B>),
    Run(Job<B>),
    Idle,
}

impl<B: Backend> QueueInner<B> {
    fn kick(this: &Arc<Self>) {
        let _ = this.wq.enqueue::<_, 0>(this.clone());
    }

    /// Takes the next thing to do out of the queue: a completed job, a timed-out job, or the
    /// job to run next (highest priority first, round robin within a priority).
    fn next_step(&self, inner: &mut Inner<B>, now: Option<Instant<Monotonic>>) -> Step<B> {
        let done = inner.in_flight.iter().position(|j| {
            j.hw.as_ref().is_some_and(|f| f.is_signaled())
                || j.deadline
                    .zip(now)
                    .is_some_and(|(d, now)| d.as_nanos() <= now.as_nanos())
        });
        if let Some(i) = done {
            if let Ok(mut job) = inner.in_flight.remove(i) {
                inner.release(&mut job);
                let signalled = job.hw.as_ref().is_some_and(|f| f.is_signaled());
                return if signalled {
                    Step::Complete(job)
                } else {
                    Step::TimedOut(job)
                };
            }
        }
        let free = self.config.credits - inner.credits_used;
        let n = inner.entities.len();
        for prio in (0..NUM_PRIORITIES).rev() {
            // Start after the entity of this priority that ran last.
            let start = inner
                .entities
                .iter()
                .position(|e| e.state.id == inner.last[prio])
                .map_or(0, |i| i + 1);
            for k in 0..n {
                let e = &mut inner.entities[(start + k) % n];
                if e.state.priority as usize != prio {
                    continue;
                }
                if e.jobs.front_mut().is_none_or(|j| j.credits > free) || !e.head_ready() {
                    continue;
                }
                let id = e.state.id;
                let Some(mut job) = e.jobs.pop() else {
                    continue;
                };
                e.state.slots.fetch_sub(1, Ordering::Relaxed);
                inner.last[prio] = id;
                inner.credits_used += job.credits;
                job.hw_node = inner.hw_nodes.pop();
                return Step::Run(job);
            }
        }
        Step::Idle
    }

    /// Processes the queue until nothing is left to do. Only one worker processes at a time.
    fn process(self: &Arc<Self>) {
        let mut inner = self.inner.lock();
        if inner.running {
            inner.again = true;
            return;
        }
        inner.running = true;
        loop {
            if inner.stopped {
                inner.running = false;
                return;
            }
            // Only jobs in flight have deadlines.
            let now = (!inner.in_flight.is_empty()).then(Instant::now);
            match self.next_step(&mut inner, now) {
                Step::Idle if inner.again => inner.again = false,
                Step::Idle => {
                    inner.running = false;
                    let deadline = inner
                        .in_flight
                        .iter()
                        .filter_map(|j| j.deadline)
                        .min_by_key(|d| d.as_nanos());
                    // Armed under the lock, before teardown can see the queue idle.
                    if let Some(d) = deadline {
                        self.arm_timeout(d);
                    }
                    return;
                }
                Step::Complete(mut job) => {
                    drop(inner);
                    let error = job.hw.take().and_then(|f| f.status()).and_then(|s| s.err());
                    job.finish(error);
                    inner = self.inner.lock();
                }
                Step::TimedOut(job) => {
                    drop(inner);
                    self.timed_out(job);
                    inner = self.inner.lock();
                }
                Step::Run(job) => {
                    drop(inner);
                    inner = self.run(job);
                }
            }
        }
    }

    fn arm_timeout(self: &Arc<Self>, deadline: Instant<Monotonic>) {
        let left = deadline - Instant::now();
        let ms = u32::try_from(left.as_millis_ceil().max(0)).unwrap_or(u32::MAX);
        let _ = self
            .wq
            .enqueue_delayed::<_, 1>(self.clone(), crate::time::msecs_to_jiffies(ms));
    }

    /// Runs `job` and returns with the queue locked again, for the next step.
    fn run(&self, mut job: Job<B>) -> SpinLockGuard<'_, Inner<B>> {
        let section = super::fence::SignallingSection::begin();
        let result = self.backend.run(&mut job.data);
        // Signalled once the hardware has the job, as drm_sched does, so that signalling
        // does not delay the start of the job.
        if let Some(s) = job.scheduled.take() {
            s.signal(None);
        }
        let mut inner = self.inner.lock();
        let error = match result {
            Ok(_) if inner.stopped => ECANCELED,
            Ok(hw) => {
                if let Some(node) = job.hw_node.take() {
                    match hw.add_callback(node) {
                        Ok(reg) => job.hw_reg = Some(reg),
                        Err(node) => job.hw_node = Some(node),
                    }
                }
                if job.hw_reg.is_none() && hw.is_signaled() {
                    // Done already, as on a fast engine: complete the job now rather than in
                    // another pass over the queue.
                    inner.release(&mut job);
                    drop(inner);
                    job.finish(hw.status().and_then(|s| s.err()));
                    drop(section);
                    return self.inner.lock();
                }
                job.hw = Some(hw);
                job.deadline = Some(Instant::now() + self.config.timeout);
                // `in_flight` has room for as many jobs as there are credits.
                match inner.in_flight.push_within_capacity(job) {
                    Ok(()) => return inner,
                    Err(e) => {
                        job = e.0;
                        ENOMEM
                    }
                }
            }
            Err(e) => e,
        };
        if !inner.stopped {
            inner.release(&mut job);
        }
        drop(inner);
        job.finish(Some(error));
        drop(section);
        self.inner.lock()
    }

    fn timed_out(self: &Arc<Self>, mut job: Job<B>) {
        self.backend.timed_out(&mut job.data);
        let entity = job.entity.clone();
        entity.banned.store(true, Ordering::Release);
        job.finish(Some(ETIME));
        // The guilty entity's queued jobs will not run.
        let cancelled = self.inner.lock().entity(entity.id).map(|e| e.drain());
        for j in cancelled.into_iter().flatten() {
            j.finish(Some(ECANCELED));
        }
    }
}

/// A job queue feeding one engine. Dropping it tears it down (see the module documentation).
pub struct JobQueue<B: Backend> {
    inner: Arc<QueueInner<B>>,
}

impl<B: Backend> JobQueue<B> {
    /// Creates a queue for `backend`.
    pub fn new(backend: B, config: Config) -> Result<Self> {
        if config.credits == 0 || config.entity_depth == 0 {
            return Err(EINVAL);
        }
        let credits = config.credits as usize;
        let wq = OwnedQueue::new_ordered(config.name, true)?;
        let in_flight = KVec::with_capacity(credits, GFP_KERNEL)?;
        let hw_nodes = KVec::with_capacity(credits, GFP_KERNEL)?;
        let inner = Arc::pin_init(
            pin_init!(QueueInner {
                backend,
                config,
                closed: AtomicBool::new(false),
                wq,
                next_entity: AtomicU64::new(1),
                inner <- SpinLock::new(
                    Inner {
                        entities: KVec::new(),
                        in_flight,
                        credits_used: 0,
                        hw_nodes,
                        last: [0; NUM_PRIORITIES],
                        running: false,
                        again: false,
                        stopped: false,
                    },
                    INNER_NAME,
                    static_lock_class!(),
                ),
                work <- Work::new(WORK_NAME, static_lock_class!()),
                timeout_work <- DelayedWork::new(
                    TIMEOUT_NAME,
                    static_lock_class!(),
                    TIMER_NAME,
                    static_lock_class!(),
                ),
            }),
            GFP_KERNEL,
        )?;
        // The nodes point back at the queue; teardown drops them.
        let mut nodes = KVec::with_capacity(credits, GFP_KERNEL)?;
        for _ in 0..credits {
            nodes.push(Callback::new(Kick(inner.clone()))?, GFP_KERNEL)?;
        }
        let queue = Self { inner };
        {
            let mut inner = queue.inner.inner.lock();
            for node in nodes {
                let _ = inner.hw_nodes.push_within_capacity(node);
            }
        }
        Ok(queue)
    }

    /// The driver's backend.
    pub fn backend(&self) -> &B {
        &self.inner.backend
    }

    /// Credits used by the jobs on the hardware.
    pub fn credits_in_use(&self) -> u32 {
        self.inner.inner.lock().credits_used
    }

    /// Creates an entity with `priority`.
    pub fn new_entity(&self, priority: Priority) -> Result<Entity<B>> {
        let id = self.inner.next_entity.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(
            EntityState {
                id,
                priority,
                scheduled: Timeline::new(c"drm-accel-sched", self.inner.config.name),
                finished: Timeline::new(c"drm-accel-sched", self.inner.config.name),
                banned: AtomicBool::new(false),
                slots: AtomicU32::new(0),
            },
            GFP_KERNEL,
        )?;
        let jobs = Fifo::new(self.inner.config.entity_depth as usize)?;
        let node = Callback::new(Kick(self.inner.clone()))?;
        let mut inner = self.inner.inner.lock();
        if inner.stopped {
            return Err(ECANCELED);
        }
        // Under the spinlock only an atomic allocation is possible.
        inner.entities.push(
            EntityQueue {
                state: state.clone(),
                jobs,
                dep_node: Some(node),
                dep_reg: None,
            },
            GFP_ATOMIC,
        )?;
        Ok(Entity {
            queue: self.inner.clone(),
            state,
        })
    }
}

impl<B: Backend> Drop for JobQueue<B> {
    fn drop(&mut self) {
        self.inner.closed.store(true, Ordering::Relaxed);
        self.inner.inner.lock().stopped = true;
        self.inner.backend.stop();
        let (in_flight, entities, nodes) = {
            let mut inner = self.inner.inner.lock();
            inner.credits_used = 0;
            (
                core::mem::take(&mut inner.in_flight),
                core::mem::take(&mut inner.entities),
                core::mem::take(&mut inner.hw_nodes),
            )
        };
        drop(nodes);
        for job in in_flight {
            job.finish(Some(ECANCELED));
        }
        for mut e in entities {
            for job in e.drain() {
                job.finish(Some(ECANCELED));
            }
        }
        // Nothing queues work any more: pushes and timeouts do it under the lock only while
        // the queue is not stopped, and the fence callbacks that kick it are removed. Wait for
        // the work items, which see `stopped` and return, so that none runs the backend's code
        // after the queue is gone and none holds the last reference to it: that would destroy
        // the workqueue from its own worker.
        let q: *const QueueInner<B> = &*self.inner;
        // SAFETY: The work items are initialised and live: we hold a reference to the queue.
        // The delayed work's `work_struct` is the first field of its `delayed_work`.
        unsafe {
            let dwork = Work::raw_get(DelayedWork::raw_as_work(&raw const (*q).timeout_work));
            // Flushed, not cancelled: a pending work item owns a reference to the queue, which
            // only running it releases.
            bindings::flush_delayed_work(dwork.cast());
            bindings::flush_work(Work::raw_get(&raw const (*q).work));
        }
    }
}

/// A source of jobs (a client context or userspace queue) with its own fence timelines.
pub struct Entity<B: Backend> {
    queue: Arc<QueueInner<B>>,
    state: Arc<EntityState>,
}

impl<B: Backend> Entity<B> {
    /// Whether the entity was banned after one of its jobs timed out.
    pub fn is_banned(&self) -> bool {
        self.state.banned.load(Ordering::Acquire)
    }

    /// The fence context of the entity's finished fences.
    pub fn finished_context(&self) -> u64 {
        self.state.finished.context()
    }

    /// Prepares a job that uses `credits` hardware credits and runs after `deps` signalled.
    ///
    /// Fails with `EINVAL` for credits the queue can never provide, `ECANCELED` if the entity
    /// is banned or the queue torn down, `EBUSY` if the entity holds `entity_depth` jobs, and
    /// `ENOMEM`.
    pub fn prepare(
        &self,
        data: B::Job,
        credits: u32,
        deps: KVec<ARef<Fence>>,
    ) -> Result<PreparedJob<B>> {
        if credits == 0 || credits > self.queue.config.credits {
            return Err(EINVAL);
        }
        if self.is_banned() || self.queue.closed.load(Ordering::Relaxed) {
            return Err(ECANCELED);
        }
        // No lock: the push checks again, under the lock, whether the job may be queued.
        let depth = self.queue.config.entity_depth;
        self.state
            .slots
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < depth).then_some(n + 1)
            })
            .map_err(|_| EBUSY)?;
        let (scheduled, finished) = match self.state.scheduled.new_fence_pair(&self.state.finished)
        {
            Ok(fences) => fences,
            Err(e) => {
                self.state.slots.fetch_sub(1, Ordering::Relaxed);
                return Err(e);
            }
        };
        Ok(PreparedJob {
            queue: self.queue.clone(),
            job: Some(Job {
                data,
                credits,
                entity: self.state.clone(),
                deps,
                next_dep: 0,
                scheduled: Some(scheduled),
                finished: Some(finished),
                hw: None,
                hw_node: None,
                hw_reg: None,
                deadline: None,
            }),
        })
    }
}

impl<B: Backend> Drop for Entity<B> {
    fn drop(&mut self) {
        let removed = {
            let mut inner = self.queue.inner.lock();
            inner
                .entities
                .iter()
                .position(|e| e.state.id == self.state.id)
                .and_then(|i| inner.entities.remove(i).ok())
        };
        if let Some(mut e) = removed {
            for job in e.drain() {
                job.finish(Some(ECANCELED));
            }
        }
    }
}

/// A job ready to be pushed; dropping it cancels it.
pub struct PreparedJob<B: Backend> {
    queue: Arc<QueueInner<B>>,
    job: Option<Job<B>>,
}

impl<B: Backend> PreparedJob<B> {
    /// The fence that signals when the job is handed to the hardware.
    pub fn scheduled_fence(&self) -> Option<ARef<Fence>> {
        self.job.as_ref()?.scheduled.as_ref().map(|f| f.fence())
    }

    /// The fence that signals when the job is done.
    pub fn finished_fence(&self) -> Option<ARef<Fence>> {
        self.job.as_ref()?.finished.as_ref().map(|f| f.fence())
    }

    /// The driver's data of the job, to complete it once the fences are known (for example
    /// with the sequence number of the finished fence).
    pub fn data_mut(&mut self) -> Option<&mut B::Job> {
        self.job.as_mut().map(|j| &mut j.data)
    }

    /// Queues the job. Infallible: if the entity or the queue went away meanwhile, the job's
    /// fences signal `ECANCELED`.
    pub fn push(mut self) {
        let Some(job) = self.job.take() else {
            return;
        };
        let leftover = {
            let mut inner = self.queue.inner.lock();
            let stopped = inner.stopped;
            let leftover = match inner.entity(job.entity.id) {
                // A slot was reserved in `prepare`: this fits.
                Some(e) if !stopped && !job.entity.banned.load(Ordering::Acquire) => {
                    e.jobs.push(job).err()
                }
                _ => Some(job),
            };
            if leftover.is_none() {
                if inner.running {
                    // The worker looks again before it goes idle.
                    inner.again = true;
                } else {
                    // Under the lock, so that teardown, which stops the queue under it, waits
                    // for the work this queues.
                    QueueInner::kick(&self.queue);
                }
            }
            leftover
        };
        if let Some(job) = leftover {
            job.entity.slots.fetch_sub(1, Ordering::Relaxed);
            job.finish(Some(ECANCELED));
        }
    }
}

impl<B: Backend> Drop for PreparedJob<B> {
    fn drop(&mut self) {
        let Some(job) = self.job.take() else {
            return;
        };
        job.entity.slots.fetch_sub(1, Ordering::Relaxed);
        job.finish(Some(ECANCELED));
    }
}

#[kunit_tests(rust_drm_accel_queue)]
mod tests {
    use super::*;
    use crate::{sync::new_spinlock, types::Opaque};
    use core::sync::atomic::AtomicU32;

    const SHORT: Delta = Delta::from_millis(50);
    const LONG: Delta = Delta::from_secs(5);

    /// A mock engine: jobs are tags; hardware fences come from a preallocated pool, so that
    /// `run` does not allocate; the test completes jobs by tag, or the engine completes them
    /// at once in `auto` mode. `FAIL_TAG` fails in `run`.
    #[pin_data]
    struct Mock {
        auto: bool,
        #[pin]
        pool: SpinLock<KVec<PendingFence>>,
        #[pin]
        running: SpinLock<KVec<(u32, PendingFence)>>,
        #[pin]
        ran: SpinLock<KVec<u32>>,
        timeouts: AtomicU32,
    }

    /// Calls of `Backend::stop` (tests of a suite run one after the other).
    static STOPS: AtomicU32 = AtomicU32::new(0);

    const FAIL_TAG: u32 = 999;
    /// Hardware fences of a mock engine, more than any test runs jobs.
    const POOL: usize = 256;

    impl Mock {
        fn new(fences: usize, auto: bool) -> Result<Pin<KBox<Self>>> {
            let tl = Timeline::new(c"kunit", c"mock-engine");
            let mut pool = KVec::with_capacity(fences, GFP_KERNEL)?;
            for _ in 0..fences {
                pool.push(tl.new_fence()?, GFP_KERNEL)?;
            }
            pool.reverse();
            KBox::pin_init(
                try_pin_init!(Self {
                    auto,
                    pool <- new_spinlock!(pool),
                    running <- new_spinlock!(KVec::with_capacity(fences, GFP_KERNEL)?),
                    ran <- new_spinlock!(KVec::with_capacity(fences, GFP_KERNEL)?),
                    timeouts: AtomicU32::new(0),
                }),
                GFP_KERNEL,
            )
        }
    }

    /// The backend is a pinned box: the queue owns it.
    struct MockBackend(Pin<KBox<Mock>>);

    impl Backend for MockBackend {
        type Job = u32;

        fn run(&self, job: &mut u32) -> Result<ARef<Fence>> {
            if *job == FAIL_TAG {
                return Err(EIO);
            }
            let hw = self.0.pool.lock().pop().ok_or(ENOSPC)?;
            let fence = hw.fence();
            let _ = self.0.ran.lock().push_within_capacity(*job);
            if self.0.auto {
                hw.signal(None);
            } else {
                let _ = self.0.running.lock().push_within_capacity((*job, hw));
            }
            Ok(fence)
        }

        fn timed_out(&self, job: &mut u32) {
            self.0.timeouts.fetch_add(1, Ordering::Relaxed);
            // The hardware gives up on the job: its fence is dropped unsignalled here and
            // signals ECANCELED, which the queue ignores.
            let mut running = self.0.running.lock();
            if let Some(i) = running.iter().position(|(t, _)| t == job) {
                let _ = running.remove(i);
            }
        }

        fn stop(&self) {
            STOPS.fetch_add(1, Ordering::Relaxed);
        }
    }

    impl MockBackend {
        fn complete(&self, tag: u32) -> Result {
            let hw = {
                let mut running = self.0.running.lock();
                let i = running.iter().position(|(t, _)| *t == tag).ok_or(ENOENT)?;
                running.remove(i).map_err(|_| ENOENT)?.1
            };
            hw.signal(None);
            Ok(())
        }

        fn ran(&self) -> Result<KVec<u32>> {
            // No allocation under the spinlock: the copy has room for every tag.
            let mut out = KVec::with_capacity(POOL, GFP_KERNEL)?;
            for t in self.0.ran.lock().iter() {
                out.push_within_capacity(*t)?;
            }
            Ok(out)
        }
    }

    fn queue(credits: u32, timeout: Delta, auto: bool) -> Result<JobQueue<MockBackend>> {
        JobQueue::new(
            MockBackend(Mock::new(POOL, auto)?),
            Config {
                name: c"kunit-queue",
                credits,
                entity_depth: 16,
                timeout,
            },
        )
    }

    /// Prepares and pushes a job; returns its scheduled and finished fences.
    fn submit(
        e: &Entity<MockBackend>,
        tag: u32,
        credits: u32,
        deps: KVec<ARef<Fence>>,
    ) -> Result<(ARef<Fence>, ARef<Fence>)> {
        let job = e.prepare(tag, credits, deps)?;
        let fences = (
            job.scheduled_fence().ok_or(EINVAL)?,
            job.finished_fence().ok_or(EINVAL)?,
        );
        job.push();
        Ok(fences)
    }

    #[test]
    fn basic() -> Result {
        let q = queue(4, LONG, false)?;
        let e = q.new_entity(Priority::Normal)?;
        let (s, f) = submit(&e, 1, 1, KVec::new())?;
        s.wait(false, LONG)?;
        assert_eq!(f.wait(false, SHORT), Err(ETIME));
        assert_eq!(q.credits_in_use(), 1);
        q.backend().complete(1)?;
        f.wait(false, LONG)?;
        assert_eq!(f.status(), Some(Ok(())));
        assert_eq!(f.context(), e.finished_context());
        Ok(())
    }

    #[test]
    fn dependencies() -> Result {
        let q = queue(4, LONG, false)?;
        let e = q.new_entity(Priority::Normal)?;
        let tl = Timeline::new(c"kunit", c"external");
        let ext = tl.new_fence()?;
        let mut deps = KVec::new();
        deps.push(ext.fence(), GFP_KERNEL)?;
        let (s, f) = submit(&e, 1, 1, deps)?;
        assert_eq!(s.wait(false, SHORT), Err(ETIME));
        ext.signal(None);
        s.wait(false, LONG)?;
        q.backend().complete(1)?;
        f.wait(false, LONG)?;
        Ok(())
    }

    #[test]
    fn dependencies_in_any_order() -> Result {
        let q = queue(4, LONG, true)?;
        let e = q.new_entity(Priority::Normal)?;
        let tl = Timeline::new(c"kunit", c"external");
        let gates = [tl.new_fence()?, tl.new_fence()?, tl.new_fence()?];
        let done = tl.new_fence()?;
        let mut deps = KVec::new();
        deps.push(done.fence(), GFP_KERNEL)?;
        for g in &gates {
            deps.push(g.fence(), GFP_KERNEL)?;
        }
        done.signal(None);
        let (s1, f1) = submit(&e, 1, 1, deps)?;
        // Behind job 1 in the entity's FIFO: waits for it although it has no dependency.
        let (s2, f2) = submit(&e, 2, 1, KVec::new())?;
        let [g0, g1, g2] = gates;
        g2.signal(None);
        g0.signal(None);
        assert_eq!(s1.wait(false, SHORT), Err(ETIME));
        assert!(!s2.is_signaled());
        g1.signal(None);
        f1.wait(false, LONG)?;
        f2.wait(false, LONG)?;
        assert_eq!(f1.status(), Some(Ok(())));
        assert_eq!(&q.backend().ran()?[..], &[1, 2]);
        Ok(())
    }

    #[test]
    fn implicit_dependencies_from_resv() -> Result {
        use super::super::resv::{DmaResv, Usage};
        let raw: KBox<Opaque<bindings::dma_resv>> = KBox::new(Opaque::uninit(), GFP_KERNEL)?;
        // SAFETY: `raw` is valid memory for a `dma_resv`.
        unsafe { bindings::dma_resv_init(raw.get()) };
        let result = (|| -> Result {
            // SAFETY: Initialised above; finalised below, after the last use.
            let resv = unsafe { DmaResv::from_raw(raw.get()) };
            let tl = Timeline::new(c"kunit", c"external");
            let (writer, reader) = (tl.new_fence()?, tl.new_fence()?);
            {
                let mut guard = resv.lock()?;
                guard.reserve_fences(2)?;
                guard.add_fence(&writer.fence(), Usage::Write)?;
                guard.add_fence(&reader.fence(), Usage::Read)?;
            }
            // A reader waits for the writer only, a writer for both.
            let mut read_deps = KVec::new();
            resv.implicit_dependencies(false, &mut read_deps)?;
            assert_eq!(read_deps.len(), 1);
            let mut write_deps = KVec::new();
            resv.implicit_dependencies(true, &mut write_deps)?;
            assert_eq!(write_deps.len(), 2);

            let q = queue(4, LONG, true)?;
            let e = q.new_entity(Priority::Normal)?;
            let f = q.new_entity(Priority::Normal)?;
            let (sr, fr) = submit(&e, 1, 1, read_deps)?;
            let (sw, fw) = submit(&f, 2, 1, write_deps)?;
            assert_eq!(sr.wait(false, SHORT), Err(ETIME));
            writer.signal(None);
            fr.wait(false, LONG)?;
            assert!(!sw.is_signaled());
            reader.signal(None);
            fw.wait(false, LONG)?;
            assert_eq!(&q.backend().ran()?[..], &[1, 2]);
            Ok(())
        })();
        // SAFETY: No reference to the object is left.
        unsafe { bindings::dma_resv_fini(raw.get()) };
        result
    }

    #[test]
    fn credits() -> Result {
        let q = queue(2, LONG, false)?;
        let a = q.new_entity(Priority::Normal)?;
        let b = q.new_entity(Priority::Normal)?;
        assert_eq!(a.prepare(0, 3, KVec::new()).err(), Some(EINVAL));
        assert_eq!(a.prepare(0, 0, KVec::new()).err(), Some(EINVAL));
        let (sa, fa) = submit(&a, 1, 2, KVec::new())?;
        let (sb, fb) = submit(&b, 2, 1, KVec::new())?;
        sa.wait(false, LONG)?;
        assert_eq!(sb.wait(false, SHORT), Err(ETIME));
        q.backend().complete(1)?;
        fa.wait(false, LONG)?;
        sb.wait(false, LONG)?;
        q.backend().complete(2)?;
        fb.wait(false, LONG)?;
        Ok(())
    }

    #[test]
    fn priority() -> Result {
        let q = queue(1, LONG, false)?;
        let low = q.new_entity(Priority::Low)?;
        let high = q.new_entity(Priority::High)?;
        let (s0, _f0) = submit(&low, 1, 1, KVec::new())?;
        s0.wait(false, LONG)?;
        let (sl, fl) = submit(&low, 2, 1, KVec::new())?;
        let (sh, fh) = submit(&high, 3, 1, KVec::new())?;
        q.backend().complete(1)?;
        sh.wait(false, LONG)?;
        assert!(!sl.is_signaled());
        q.backend().complete(3)?;
        fh.wait(false, LONG)?;
        sl.wait(false, LONG)?;
        q.backend().complete(2)?;
        fl.wait(false, LONG)?;
        assert_eq!(&q.backend().ran()?[..], &[1, 3, 2]);
        Ok(())
    }

    #[test]
    fn timeout_bans_the_guilty_entity() -> Result {
        let q = queue(4, SHORT, false)?;
        let guilty = q.new_entity(Priority::Normal)?;
        let other = q.new_entity(Priority::Normal)?;
        let tl = Timeline::new(c"kunit", c"external");
        let gate = tl.new_fence()?;
        let (s1, f1) = submit(&guilty, 1, 1, KVec::new())?;
        let mut deps = KVec::new();
        deps.push(gate.fence(), GFP_KERNEL)?;
        let (_s2, f2) = submit(&guilty, 2, 1, deps)?;
        s1.wait(false, LONG)?;
        f1.wait(false, LONG)?;
        assert_eq!(f1.status(), Some(Err(ETIME)));
        f2.wait(false, LONG)?;
        assert_eq!(f2.status(), Some(Err(ECANCELED)));
        assert!(guilty.is_banned());
        assert_eq!(guilty.prepare(3, 1, KVec::new()).err(), Some(ECANCELED));
        assert_eq!(q.backend().0.timeouts.load(Ordering::Relaxed), 1);
        gate.signal(None);
        // Other entities are not affected; job 2 never ran.
        let (s, f) = submit(&other, 4, 1, KVec::new())?;
        s.wait(false, LONG)?;
        q.backend().complete(4)?;
        f.wait(false, LONG)?;
        assert_eq!(f.status(), Some(Ok(())));
        assert_eq!(&q.backend().ran()?[..], &[1, 4]);
        Ok(())
    }

    #[test]
    fn entity_depth_bounds_prepared_and_queued_jobs() -> Result {
        // One credit: job 1 holds it, the others stay in the entity.
        let q = queue(1, LONG, false)?;
        let e = q.new_entity(Priority::Normal)?;
        let (s1, f1) = submit(&e, 1, 1, KVec::new())?;
        s1.wait(false, LONG)?;
        // Job 1 has left the entity for the hardware: 16 (the depth) more fit, prepared or
        // queued.
        let mut prepared = KVec::new();
        for tag in 2..=17 {
            prepared.push(e.prepare(tag, 1, KVec::new())?, GFP_KERNEL)?;
        }
        assert_eq!(e.prepare(18, 1, KVec::new()).err(), Some(EBUSY));
        // A dropped prepared job frees its slot, a pushed one keeps it.
        drop(prepared.pop());
        prepared.push(e.prepare(18, 1, KVec::new())?, GFP_KERNEL)?;
        let mut scheduled = KVec::new();
        for job in prepared {
            scheduled.push(job.scheduled_fence().ok_or(EINVAL)?, GFP_KERNEL)?;
            job.push();
        }
        assert_eq!(e.prepare(19, 1, KVec::new()).err(), Some(EBUSY));
        // Jobs that leave the entity free their slots.
        q.backend().complete(1)?;
        f1.wait(false, LONG)?;
        for (s, tag) in scheduled.iter().zip(Iterator::chain(2..=16, [18])) {
            s.wait(false, LONG)?;
            q.backend().complete(tag)?;
        }
        drop(e.prepare(19, 1, KVec::new())?);
        let ran = q.backend().ran()?;
        assert_eq!(ran.len(), 17);
        assert_eq!(ran.last(), Some(&18));
        Ok(())
    }

    #[test]
    fn run_errors_fail_the_job() -> Result {
        let q = queue(4, LONG, true)?;
        let e = q.new_entity(Priority::Normal)?;
        let (s, f) = submit(&e, FAIL_TAG, 1, KVec::new())?;
        f.wait(false, LONG)?;
        assert_eq!(s.status(), Some(Ok(())));
        assert_eq!(f.status(), Some(Err(EIO)));
        assert_eq!(q.credits_in_use(), 0);
        Ok(())
    }

    #[test]
    fn teardown_cancels_everything() -> Result {
        let q = queue(1, LONG, false)?;
        let a = q.new_entity(Priority::Normal)?;
        let b = q.new_entity(Priority::Normal)?;
        let (s1, f1) = submit(&a, 1, 1, KVec::new())?;
        let (s2, f2) = submit(&a, 2, 1, KVec::new())?;
        let (_s3, f3) = submit(&b, 3, 1, KVec::new())?;
        s1.wait(false, LONG)?;
        // Dropping an entity cancels its queued jobs only.
        drop(b);
        assert_eq!(f3.status(), Some(Err(ECANCELED)));
        assert!(!f1.is_signaled());
        // A prepared job that is dropped is cancelled too.
        let dropped = a.prepare(4, 1, KVec::new())?;
        let f4 = dropped.finished_fence().ok_or(EINVAL)?;
        drop(dropped);
        assert_eq!(f4.status(), Some(Err(ECANCELED)));
        let stops = STOPS.load(Ordering::Relaxed);
        drop(q);
        assert_eq!(STOPS.load(Ordering::Relaxed), stops + 1);
        assert_eq!(f1.status(), Some(Err(ECANCELED)));
        assert_eq!(s2.status(), Some(Err(ECANCELED)));
        assert_eq!(f2.status(), Some(Err(ECANCELED)));
        // The entity outlives the queue; it accepts nothing.
        assert_eq!(a.prepare(5, 1, KVec::new()).err(), Some(ECANCELED));
        Ok(())
    }

    #[test]
    fn many_clients() -> Result {
        const ENTITIES: usize = 16;
        const JOBS: u32 = 8;
        let q = queue(4, LONG, true)?;
        let mut entities = KVec::new();
        let mut finished = KVec::new();
        for i in 0..ENTITIES {
            let prio = if i % 2 == 0 {
                Priority::Normal
            } else {
                Priority::High
            };
            entities.push(q.new_entity(prio)?, GFP_KERNEL)?;
        }
        for j in 0..JOBS {
            for (i, e) in entities.iter().enumerate() {
                let tag = (i as u32) * 100 + j;
                finished.push(submit(e, tag, 1 + j % 2, KVec::new())?.1, GFP_KERNEL)?;
            }
        }
        for f in &finished {
            f.wait(false, LONG)?;
            assert_eq!(f.status(), Some(Ok(())));
        }
        // Every job ran once, and each entity's jobs in submission order.
        let ran = q.backend().ran()?;
        assert_eq!(ran.len(), ENTITIES * JOBS as usize);
        for i in 0..ENTITIES as u32 {
            let mut next = 0;
            for t in ran.iter().filter(|t| **t / 100 == i) {
                assert_eq!(*t % 100, next);
                next += 1;
            }
            assert_eq!(next, JOBS);
        }
        assert_eq!(q.credits_in_use(), 0);
        Ok(())
    }
}
