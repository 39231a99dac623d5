// SPDX-License-Identifier: GPL-2.0 OR MIT

//! A job queue in the style of the DRM GPU scheduler.
//!
//! A [`JobQueue`] feeds one hardware engine. The driver implements [`Backend`]: it runs a job on
//! the hardware and returns the hardware fence, stops the hardware's work on a job that timed
//! out, and stops the engine when the queue is torn down. Clients submit through [`Entity`]s
//! (one per context or userspace queue), each with a [`Priority`] and its own fence timelines.
//!
//! # Job life cycle
//!
//! 1. [`Entity::prepare`] is the fallible step: it allocates the memory of the job's fences,
//!    reserves a slot in the entity and checks the job's credits. Nothing is published;
//!    dropping the [`PreparedJob`] gives everything back and signals nothing.
//! 2. [`PreparedJob::push`] is infallible: under the queue's lock it gives the job's
//!    *scheduled* and *finished* fences their sequence numbers and appends the job to its
//!    entity's FIFO, as `drm_sched_job_arm()` and `drm_sched_entity_push_job()` do together.
//!    It returns the fences, which are published from here on and will signal.
//! 3. The queue runs the job when it is at the head of its entity, its dependencies (explicit
//!    fences, including the implicit ones the caller collected from `dma_resv`) have signalled,
//!    its entity is chosen (highest priority first, round robin within a priority) and enough
//!    hardware credits (ring capacity) are free. The scheduled fence signals once the job has
//!    been handed to the hardware.
//! 4. When the hardware fence signals, the finished fence signals with the same outcome and
//!    the credits return. The job's data is dropped afterwards, outside any fence signalling
//!    section, as `drm_sched`'s `free_job` step does: it may hold the last reference to a GEM
//!    object, whose release takes `dma_resv_lock`.
//!
//! # Ordering
//!
//! The fences of an entity signal in the order of their sequence numbers, which is the order
//! of the pushes, whatever happens to the jobs: a job whose hardware fence signals before the
//! one of an earlier job of its entity completes after it, and a job that is cancelled (its
//! entity dropped or banned) waits until the entity has no job on the hardware.
//!
//! # Credits
//!
//! The entity chosen to run next gets the credits it needs: if its head job needs more than
//! are free, the queue waits for running jobs to return credits rather than running smaller
//! jobs of other entities, which could starve a large job forever (`drm_sched` does the same).
//!
//! Nothing on the way from push to completion allocates: an entity waits for the dependencies
//! of its head job one after the other with a single callback node, allocated with the
//! entity, and the hardware fences of running jobs are watched with nodes from a pool of one
//! per credit, allocated with the queue. Queued jobs live in a ring per entity, allocated with
//! the entity for `entity_depth` jobs.
//!
//! Running a job happens in a fence signalling section: [`Backend::run`] must not allocate
//! with `GFP_KERNEL` nor take locks that are held while waiting for fences. The queue's own
//! lock is never held while a foreign fence's callbacks may run: under it, the queue only
//! reads fences' signalled flags.
//!
//! # Timeouts
//!
//! Only the job at the head of the hardware queue (the oldest job still on the hardware) is
//! timed, from when it became the head, as `drm_sched` does: time spent waiting behind other
//! jobs does not count. A job that exceeds the timeout is handed to [`Backend::timed_out`],
//! in a fence signalling section, which stops the hardware's work on it. Its finished fence
//! signals `ETIME`, its entity is marked guilty and banned: it accepts no new jobs and its
//! queued jobs are cancelled (`ECANCELED`) once its other jobs on the hardware are done.
//! Nothing is resubmitted, and other entities are not affected.
//!
//! # Teardown
//!
//! Dropping an [`Entity`] cancels its queued jobs once its jobs on the hardware are done.
//! Dropping the [`JobQueue`] marks it stopped, waits for the queue's work item (so no job is
//! being handed to the hardware), stops the engine with [`Backend::stop`], then signals every
//! job on the hardware (with its hardware fence's outcome if that signalled, `ECANCELED`
//! otherwise) and every queued job (`ECANCELED`). When the drop returns, no work item of the
//! queue is pending or running, so a module can go away after it (and an `rcu_barrier()` for
//! the fences). A push that races with the teardown waits until it has signalled the earlier
//! jobs, then cancels its job.
//!
//! The queue's work runs on an ordered `WQ_MEM_RECLAIM` workqueue of its own, as memory reclaim
//! may wait for the fences it signals. The workqueue goes away with the last of the queue's
//! handles ([`JobQueue`], [`Entity`], [`PreparedJob`]), so dropping that one may sleep.

use crate::{
    impl_has_delayed_work, impl_has_work,
    prelude::*,
    static_lock_class,
    sync::{aref::ARef, Arc, CondVar, SpinLock},
    time::{Delta, Instant, Monotonic},
    workqueue::{DelayedWork, LockdepMap, OwnedQueue, Work, WorkItem},
};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use super::fence::{
    Callback, CallbackRegistration, Fence, FenceCallback, FencePairMemory, PendingFence,
    SignallingSection, Timeline,
};

// Lockdep names of the queue's lock and work items. They are statics, not literals in the
// generic code: a literal would be duplicated in every crate that instantiates a queue, and
// lockdep wants a single name for the single class key of a generic function.
static INNER_NAME: &CStr = c"drm_accel_queue::inner";
static TORN_DOWN_NAME: &CStr = c"drm_accel_queue::torn_down";
static WORK_NAME: &CStr = c"drm_accel_queue::work";
static TIMEOUT_NAME: &CStr = c"drm_accel_queue::timeout";
static TIMER_NAME: &CStr = c"drm_accel_queue::timer";

/// The lockdep class of every job queue's workqueue, as `drm_sched` has one for its own.
static WQ_LOCKDEP_MAP: LockdepMap = LockdepMap::new(c"drm_accel_queue_wq");

/// The hardware side of a job queue, implemented by the driver.
pub trait Backend: Send + Sync + 'static {
    /// The driver's data of a job.
    type Job: Send + 'static;

    /// Hands `job` to the hardware and returns the fence that signals when it is done.
    ///
    /// Runs in a fence signalling section. An error fails the job: its finished fence signals
    /// with it (after the earlier jobs of its entity).
    fn run(&self, job: &mut Self::Job) -> Result<ARef<Fence>>;

    /// `job` exceeded the timeout: stop the hardware's work on it. Its hardware fence is
    /// ignored from now on. Runs in a fence signalling section.
    fn timed_out(&self, job: &mut Self::Job);

    /// The queue is being torn down: make the engine idle. Called once, when no job is being
    /// handed to the hardware any more and before the jobs on it are cancelled.
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
    /// Hardware credits (for example ring slots) the jobs on the hardware may use together.
    pub credits: u32,
    /// Jobs an entity may hold queued (prepared or pushed, not yet running).
    pub entity_depth: u32,
    /// How long the job at the head of the hardware queue may run before it is declared hung.
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

/// A job's reservation of a slot of its entity, given back when dropped.
struct Slot(Arc<EntityState>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.slots.fetch_sub(1, Ordering::Relaxed);
    }
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
    /// The job's slot in its entity, held until the job leaves the entity's FIFO.
    slot: Option<Slot>,
    deps: KVec<ARef<Fence>>,
    /// Dependencies before this index have signalled.
    next_dep: usize,
    scheduled: Option<PendingFence>,
    finished: Option<PendingFence>,
    /// The hardware fence, once the job runs.
    hw: Option<ARef<Fence>>,
    /// The error of [`Backend::run`], if it failed.
    error: Option<Error>,
    /// The node that watches the hardware fence, from the queue's pool while the job runs;
    /// registered on the fence (`hw_reg`) unless the fence had signalled already.
    hw_node: Option<Node<B>>,
    hw_reg: Option<CallbackRegistration<Kick<B>>>,
}

impl<B: Backend> Job<B> {
    /// Takes the hardware-fence node back, removing its callback if it has not run.
    fn take_hw_node(&mut self) -> Option<Node<B>> {
        self.hw_reg
            .take()
            .map(|r| r.remove())
            .or(self.hw_node.take())
    }

    /// Whether the hardware is done with the job, from flags only (see
    /// [`Fence::test_signaled_flag`]).
    fn hw_done(&self) -> bool {
        self.error.is_some() || self.hw.as_ref().is_some_and(|f| f.test_signaled_flag())
    }

    /// The sequence number of the job's finished fence, which identifies it in its entity.
    fn seqno(&self) -> u64 {
        self.finished.as_ref().map_or(0, |f| f.seqno())
    }

    /// Signals what has not signalled. The caller drops the job afterwards, outside any
    /// signalling section and any lock.
    fn signal(&mut self, error: Option<Error>) {
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

    fn front(&self) -> Option<&T> {
        if self.len == 0 {
            return None;
        }
        self.slots[self.head].as_ref()
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

    /// The elements, first to last.
    fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        let (head, len) = (self.head, self.len);
        let (wrapped, first) = self.slots.split_at_mut(head);
        Iterator::chain(first.iter_mut(), wrapped.iter_mut())
            .take(len)
            .filter_map(|s| s.as_mut())
    }
}

/// What an entity's head job needs before it can run.
enum Head<B: Backend> {
    /// Nothing: its dependencies have signalled.
    Ready,
    /// A dependency that a callback watches, or no job.
    Waiting,
    /// The worker must check this dependency, and watch it with this node, outside the lock.
    Check(ARef<Fence>, Node<B>),
}

/// An entity's queued jobs and the one callback node with which its head job waits for its
/// dependencies, one after the other.
struct EntityQueue<B: Backend> {
    state: Arc<EntityState>,
    jobs: Fifo<Job<B>>,
    /// The node, or its registration on the head job's first unsignalled dependency. Neither
    /// while the worker checks that dependency outside the lock.
    dep_node: Option<Node<B>>,
    dep_reg: Option<CallbackRegistration<Kick<B>>>,
    /// The [`Entity`] was dropped: cancel what is queued, then go.
    closed: bool,
    /// Jobs of the entity on the hardware.
    running: u32,
}

impl<B: Backend> EntityQueue<B> {
    /// Whether the entity's queued jobs are to be cancelled rather than run.
    fn dead(&self) -> bool {
        self.closed || self.state.banned.load(Ordering::Acquire)
    }

    /// Where the head job stands with its dependencies.
    fn head(&mut self) -> Head<B> {
        let Some(job) = self.jobs.front_mut() else {
            return Head::Waiting;
        };
        while let Some(dep) = job.deps.get(job.next_dep) {
            if dep.test_signaled_flag() {
                job.next_dep += 1;
                // A registration is always on the dependency at `next_dep`. Its callback has
                // run, so removing it takes the fence's lock but runs nothing.
                if let Some(reg) = self.dep_reg.take() {
                    self.dep_node = Some(reg.remove());
                }
                continue;
            }
            return match self.dep_node.take() {
                Some(node) => Head::Check(dep.clone(), node),
                // Registered on `dep`, or being checked by the worker.
                None => Head::Waiting,
            };
        }
        Head::Ready
    }
}

struct Inner<B: Backend> {
    entities: KVec<EntityQueue<B>>,
    /// The jobs on the hardware, in the order they were handed to it.
    in_flight: KVec<Job<B>>,
    credits_used: u32,
    /// Nodes for the hardware fences of running jobs: every running job holds a credit, so
    /// there are as many as credits.
    hw_nodes: KVec<Node<B>>,
    /// Round-robin position per priority: the id of the entity that ran last.
    last: [u64; NUM_PRIORITIES],
    /// Since when the first job of `in_flight` has been the head of the hardware queue.
    head_since: Option<Instant<Monotonic>>,
    /// A worker is processing the queue; `again` asks it for another pass.
    running: bool,
    again: bool,
    /// The queue is being torn down; `torn_down` once every job it held has signalled.
    stopped: bool,
    torn_down: bool,
}

impl<B: Backend> Inner<B> {
    fn entity(&mut self, id: u64) -> Option<&mut EntityQueue<B>> {
        self.entities.iter_mut().find(|e| e.state.id == id)
    }

    /// Takes the job at `index` off the hardware queue: its credits and its node return.
    fn leave_hardware(&mut self, index: usize) -> Option<Job<B>> {
        let mut job = self.in_flight.remove(index).ok()?;
        self.credits_used -= job.credits;
        if let Some(node) = job.take_hw_node() {
            // There is room for every node.
            let _ = self.hw_nodes.push_within_capacity(node);
        }
        if let Some(e) = self.entity(job.entity.id) {
            e.running -= 1;
        }
        if index == 0 {
            self.head_since = (!self.in_flight.is_empty()).then(Instant::now);
        }
        Some(job)
    }
}

#[pin_data]
struct QueueInner<B: Backend> {
    backend: B,
    config: Config,
    /// The job timeout in microseconds: [`Config::timeout`] until [`JobQueue::set_timeout`].
    timeout_us: AtomicU64,
    /// Set with `Inner::stopped`, for the checks that take no lock.
    closed: AtomicBool,
    /// Ordered and able to make progress under memory pressure, as the fences the work signals
    /// may be what memory reclaim waits for. Destroyed with the last reference to the queue,
    /// which is never a work item's (see [`JobQueue`]'s `drop`).
    wq: OwnedQueue,
    next_entity: AtomicU64,
    #[pin]
    inner: SpinLock<Inner<B>>,
    /// Signalled when `Inner::torn_down` is set.
    #[pin]
    torn_down: CondVar,
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
    /// The hardware is done with the job (or failed to take it).
    Complete(Job<B>),
    /// The job at the head of the hardware queue exceeded the timeout.
    TimedOut(Job<B>),
    /// A queued job of a dropped or banned entity that has nothing on the hardware any more.
    Cancel(Job<B>),
    /// A dropped entity with nothing left.
    Reap(EntityQueue<B>),
    /// Check a dependency of an entity's head job, and watch it with the node if it has not
    /// signalled.
    Check {
        entity: u64,
        seqno: u64,
        dep: ARef<Fence>,
        node: Node<B>,
    },
    Run(Job<B>),
    Idle,
}

impl<B: Backend> QueueInner<B> {
    fn kick(this: &Arc<Self>) {
        let _ = this.wq.enqueue::<_, 0>(this.clone());
    }

    /// Asks for a pass over the queue, under its lock: the worker looks again before it goes
    /// idle, or a new pass is queued.
    fn kick_locked(this: &Arc<Self>, inner: &mut Inner<B>) {
        if inner.running {
            inner.again = true;
        } else {
            Self::kick(this);
        }
    }

    /// Takes the next thing to do out of the queue, in this order: a completed job, the head
    /// job if it timed out, a job to cancel, a dropped entity to free, and the job to run next
    /// (highest priority first, round robin within a priority).
    fn next_step(&self, inner: &mut Inner<B>) -> Step<B> {
        // Jobs complete in the order of their entity: a job waits for the earlier jobs of its
        // entity on the hardware, whose fences have lower sequence numbers.
        let done = (0..inner.in_flight.len()).find(|&i| {
            let job = &inner.in_flight[i];
            job.hw_done()
                && !inner.in_flight[..i]
                    .iter()
                    .any(|j| j.entity.id == job.entity.id)
        });
        if let Some(job) = done.and_then(|i| inner.leave_hardware(i)) {
            return Step::Complete(job);
        }

        if let Some(since) = inner.head_since {
            if Instant::<Monotonic>::now() - since >= self.timeout() {
                if let Some(job) = inner.leave_hardware(0) {
                    // Banned under the lock: no other job of the entity starts from now on.
                    job.entity.banned.store(true, Ordering::Release);
                    return Step::TimedOut(job);
                }
            }
        }

        if let Some(i) = inner
            .entities
            .iter()
            .position(|e| e.dead() && e.running == 0 && (e.closed || e.jobs.len() > 0))
        {
            let e = &mut inner.entities[i];
            if let Some(job) = e.jobs.pop() {
                return Step::Cancel(job);
            }
            if let Ok(e) = inner.entities.remove(i) {
                return Step::Reap(e);
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
                if e.state.priority as usize != prio || e.dead() {
                    continue;
                }
                match e.head() {
                    Head::Ready => {}
                    Head::Waiting => continue,
                    Head::Check(dep, node) => {
                        return Step::Check {
                            entity: e.state.id,
                            seqno: e.jobs.front().map_or(0, |j| j.seqno()),
                            dep,
                            node,
                        }
                    }
                }
                // The chosen job gets the credits it needs: nothing else runs before it.
                if e.jobs.front_mut().is_none_or(|j| j.credits > free) {
                    return Step::Idle;
                }
                let id = e.state.id;
                let Some(mut job) = e.jobs.pop() else {
                    continue;
                };
                e.running += 1;
                job.slot = None;
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
            match self.next_step(&mut inner) {
                Step::Idle if inner.again => inner.again = false,
                Step::Idle => {
                    inner.running = false;
                    // Armed under the lock, before teardown can see the queue idle.
                    if let Some(since) = inner.head_since {
                        self.arm_timeout(since + self.timeout());
                    }
                    return;
                }
                Step::Complete(mut job) => {
                    drop(inner);
                    let error = job.error.or_else(|| {
                        job.hw
                            .as_ref()
                            .and_then(|f| f.status())
                            .and_then(|s| s.err())
                    });
                    job.signal(error);
                    // Outside the signalling section: may release GEM objects.
                    drop(job);
                    inner = self.inner.lock();
                }
                Step::TimedOut(mut job) => {
                    drop(inner);
                    {
                        let _section = SignallingSection::begin();
                        self.backend.timed_out(&mut job.data);
                        job.signal(Some(ETIME));
                    }
                    drop(job);
                    inner = self.inner.lock();
                }
                Step::Cancel(mut job) => {
                    drop(inner);
                    job.signal(Some(ECANCELED));
                    drop(job);
                    inner = self.inner.lock();
                }
                Step::Reap(e) => {
                    drop(inner);
                    drop(e);
                    inner = self.inner.lock();
                }
                Step::Check {
                    entity,
                    seqno,
                    dep,
                    node,
                } => {
                    drop(inner);
                    // Outside the lock: both may run the fence's callbacks.
                    let watched = if dep.is_signaled() {
                        Err(node)
                    } else {
                        dep.add_callback(node)
                    };
                    inner = self.inner.lock();
                    // Only the worker takes jobs out of an entity, so the entity and its head
                    // are still there; a closed entity drops the registration when it goes.
                    let stale = match inner
                        .entity(entity)
                        .filter(|e| e.jobs.front().is_some_and(|j| j.seqno() == seqno))
                    {
                        Some(e) => {
                            match watched {
                                Ok(reg) => e.dep_reg = Some(reg),
                                // Signalled: the next pass sees its flag.
                                Err(node) => e.dep_node = Some(node),
                            }
                            None
                        }
                        None => Some(watched),
                    };
                    if stale.is_some() {
                        drop(inner);
                        drop(stale);
                        inner = self.inner.lock();
                    }
                }
                Step::Run(job) => {
                    drop(inner);
                    let job = self.run(job);
                    inner = self.inner.lock();
                    if inner.in_flight.is_empty() {
                        inner.head_since = Some(Instant::now());
                    }
                    // `in_flight` has room for as many jobs as there are credits, and every
                    // job holds one.
                    if let Err(e) = inner.in_flight.push_within_capacity(job) {
                        let mut job = e.0;
                        inner.credits_used -= job.credits;
                        if let Some(node) = job.take_hw_node() {
                            let _ = inner.hw_nodes.push_within_capacity(node);
                        }
                        drop(inner);
                        job.signal(Some(ENOMEM));
                        drop(job);
                        inner = self.inner.lock();
                    }
                }
            }
        }
    }

    /// The job timeout.
    fn timeout(&self) -> Delta {
        Delta::from_micros(self.timeout_us.load(Ordering::Relaxed) as i64)
    }

    fn arm_timeout(self: &Arc<Self>, deadline: Instant<Monotonic>) {
        let left = deadline - Instant::now();
        let ms = u32::try_from(left.as_millis_ceil().max(0)).unwrap_or(u32::MAX);
        let _ = self
            .wq
            .enqueue_delayed::<_, 1>(self.clone(), crate::time::msecs_to_jiffies(ms));
    }

    /// Hands `job` to the hardware and starts watching its hardware fence, outside the lock.
    fn run(&self, mut job: Job<B>) -> Job<B> {
        let result = {
            let _section = SignallingSection::begin();
            let result = self.backend.run(&mut job.data);
            // Signalled once the hardware has the job, as drm_sched does, so that signalling
            // does not delay the start of the job.
            if let Some(s) = job.scheduled.take() {
                s.signal(None);
            }
            result
        };
        match result {
            Ok(hw) => {
                if let Some(node) = job.hw_node.take() {
                    match hw.add_callback(node) {
                        Ok(reg) => job.hw_reg = Some(reg),
                        // Signalled already: the next pass completes the job.
                        Err(node) => job.hw_node = Some(node),
                    }
                }
                job.hw = Some(hw);
            }
            // Completed, with the error, in its entity's order.
            Err(e) => job.error = Some(e),
        }
        job
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
        let wq = OwnedQueue::new_ordered(config.name, true, &WQ_LOCKDEP_MAP)?;
        let in_flight = KVec::with_capacity(credits, GFP_KERNEL)?;
        let hw_nodes = KVec::with_capacity(credits, GFP_KERNEL)?;
        let inner = Arc::pin_init(
            pin_init!(QueueInner {
                backend,
                timeout_us: AtomicU64::new(config.timeout.as_micros_ceil().max(1) as u64),
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
                        head_since: None,
                        running: false,
                        again: false,
                        stopped: false,
                        torn_down: false,
                    },
                    INNER_NAME,
                    static_lock_class!(),
                ),
                torn_down <- CondVar::new(TORN_DOWN_NAME, static_lock_class!()),
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

    /// The job timeout.
    pub fn timeout(&self) -> Delta {
        self.inner.timeout()
    }

    /// Changes the job timeout (at least 1 ms, at most an hour). It applies to the job at the
    /// head of the hardware queue too, from the next time the queue looks at it (at the latest
    /// when the timer armed with the old timeout fires).
    pub fn set_timeout(&self, timeout: Delta) -> Result {
        let us = timeout.as_micros_ceil();
        if !(1000..=3_600_000_000).contains(&us) {
            return Err(EINVAL);
        }
        self.inner.timeout_us.store(us as u64, Ordering::Relaxed);
        Ok(())
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
                closed: false,
                running: 0,
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
        let q = &*self.inner;
        q.closed.store(true, Ordering::Relaxed);
        q.inner.lock().stopped = true;
        // Wait for the worker, which returns as soon as it sees `stopped`: from here on no job
        // is being handed to the hardware, and a job it handed over is in `in_flight`.
        // Flushed, not cancelled: a pending work item owns a reference to the queue, which
        // only running it releases.
        q.timeout_work.flush();
        q.work.flush();
        q.backend.stop();
        let (mut in_flight, mut entities, nodes) = {
            let mut inner = q.inner.lock();
            inner.credits_used = 0;
            inner.head_since = None;
            (
                core::mem::take(&mut inner.in_flight),
                core::mem::take(&mut inner.entities),
                core::mem::take(&mut inner.hw_nodes),
            )
        };
        // In each entity's order: its jobs on the hardware in the order they ran, then its
        // queued jobs.
        for job in in_flight.iter_mut() {
            drop(job.take_hw_node());
            let error = match job.error {
                Some(e) => Some(e),
                None => match job.hw.as_ref().and_then(|f| f.status()) {
                    Some(status) => status.err(),
                    None => Some(ECANCELED),
                },
            };
            job.signal(error);
        }
        for e in entities.iter_mut() {
            drop(e.dep_reg.take());
            for job in e.jobs.iter_mut() {
                job.signal(Some(ECANCELED));
            }
        }
        q.inner.lock().torn_down = true;
        q.torn_down.notify_all();
        // Outside any lock and signalling section: jobs may release GEM objects.
        drop(in_flight);
        drop(entities);
        drop(nodes);
        // Nothing queues work any more: pushes and timeouts do it under the lock only while
        // the queue is not stopped, and the fence callbacks that kick it are removed. One of
        // them may have queued the work before it was removed: wait for that too, so that no
        // work item holds the last reference to the queue, whose drop would destroy the
        // workqueue from its own worker.
        q.work.flush();
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
        // No lock: the slot count is atomic; the push decides under the lock whether the job
        // is queued.
        let depth = self.queue.config.entity_depth;
        self.state
            .slots
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < depth).then_some(n + 1)
            })
            .map_err(|_| EBUSY)?;
        let slot = Slot(self.state.clone());
        let fences = FencePairMemory::new()?;
        Ok(PreparedJob {
            queue: self.queue.clone(),
            fences,
            job: Job {
                data,
                credits,
                entity: self.state.clone(),
                slot: Some(slot),
                deps,
                next_dep: 0,
                scheduled: None,
                finished: None,
                hw: None,
                error: None,
                hw_node: None,
                hw_reg: None,
            },
        })
    }
}

impl<B: Backend> Drop for Entity<B> {
    fn drop(&mut self) {
        let queue = &self.queue;
        let mut inner = queue.inner.lock();
        if let Some(e) = inner.entity(self.state.id) {
            // The worker cancels the queued jobs once the entity's jobs on the hardware are
            // done, then frees the entity's queue.
            e.closed = true;
            if !inner.stopped {
                QueueInner::kick_locked(queue, &mut inner);
            }
        }
    }
}

/// A job ready to be pushed; dropping it gives back what [`Entity::prepare`] took.
pub struct PreparedJob<B: Backend> {
    queue: Arc<QueueInner<B>>,
    fences: FencePairMemory,
    job: Job<B>,
}

/// The fences of a pushed job.
pub struct JobFences {
    /// Signals when the job has been handed to the hardware.
    pub scheduled: ARef<Fence>,
    /// Signals when the job is done, with its error if it failed.
    pub finished: ARef<Fence>,
}

impl<B: Backend> PreparedJob<B> {
    /// The driver's data of the job.
    pub fn data_mut(&mut self) -> &mut B::Job {
        &mut self.job.data
    }

    /// Queues the job and returns its fences. Infallible: if the entity or the queue went away
    /// meanwhile, the fences signal `ECANCELED` (after the earlier fences of the entity).
    ///
    /// Sleeps only if the queue is being torn down, until the teardown has signalled the
    /// entity's earlier jobs.
    pub fn push(self) -> JobFences {
        let Self {
            queue,
            fences,
            mut job,
        } = self;
        let mut inner = queue.inner.lock();
        // Under the lock, so that the sequence numbers follow the order of the entity's FIFO.
        let (scheduled, finished) = job
            .entity
            .scheduled
            .arm_fence_pair(&job.entity.finished, fences);
        let out = JobFences {
            scheduled: scheduled.fence(),
            finished: finished.fence(),
        };
        job.scheduled = Some(scheduled);
        job.finished = Some(finished);
        if inner.stopped {
            while !inner.torn_down {
                queue.torn_down.wait(&mut inner);
            }
        } else if let Some(e) = inner.entity(job.entity.id) {
            // A slot was reserved in `prepare`: this fits. A closed or banned entity's jobs are
            // cancelled by the worker, in order.
            match e.jobs.push(job) {
                Ok(()) => {
                    QueueInner::kick_locked(&queue, &mut inner);
                    return out;
                }
                Err(j) => job = j,
            }
        }
        // The queue is torn down, or the entity was dropped and freed: every earlier job of
        // the entity has signalled.
        drop(inner);
        job.slot = None;
        job.signal(Some(ECANCELED));
        drop(job);
        out
    }
}

#[kunit_tests(rust_drm_accel_queue)]
mod tests {
    use super::*;
    use crate::{
        bindings,
        drm::{self, accel::gem},
        faux,
        sync::new_spinlock,
        time::delay::fsleep,
        types::Opaque,
    };
    use core::sync::atomic::{AtomicU32, AtomicUsize};

    const SHORT: Delta = Delta::from_millis(50);
    const LONG: Delta = Delta::from_secs(5);
    const MINUTE: Delta = Delta::from_secs(60);

    /// A minimal DRM driver on a faux device, for jobs that hold real GEM objects.
    struct GemDriver;
    struct GemFile;
    struct GemData;

    impl drm::file::DriverFile for GemFile {
        type Driver = GemDriver;

        fn open(_dev: &drm::Device<GemDriver>) -> Result<Pin<KBox<Self>>> {
            Ok(KBox::new(Self, GFP_KERNEL)?.into())
        }
    }

    impl gem::BoDriverData for GemData {
        type Driver = GemDriver;

        fn new(
            _dev: &drm::Device<GemDriver>,
            _info: &gem::ObjectInfo,
        ) -> impl PinInit<Self, Error> {
            Ok::<_, Error>(Self)
        }
    }

    #[vtable]
    impl drm::Driver for GemDriver {
        type Data = ();
        type RegistrationData<'a> = ();
        type File = GemFile;
        type Object = gem::Object<GemData>;
        type ParentDevice<Ctx: crate::device::DeviceContext> = faux::Device<Ctx>;

        const INFO: drm::DriverInfo = drm::DriverInfo {
            major: 0,
            minor: 0,
            patchlevel: 0,
            name: c"accel-queue-kunit",
            desc: c"accel job queue KUnit",
        };
        const IOCTLS: &'static [drm::ioctl::DrmIoctlDescriptor] = &[];
    }

    /// A job of the mock engine: a tag, and optionally a buffer object the job keeps alive,
    /// as a driver's job keeps the buffers it uses.
    struct MockJob {
        tag: u32,
        _bo: Option<ARef<gem::Object<GemData>>>,
    }

    impl From<u32> for MockJob {
        fn from(tag: u32) -> Self {
            Self { tag, _bo: None }
        }
    }

    /// A mock engine: jobs are tags; hardware fences come from a preallocated pool, so that
    /// `run` does not allocate; the test completes jobs by tag, or the engine completes them
    /// at once in `auto` mode. `FAIL_TAG` fails in `run`; `SLOW_TAG` sleeps in `run`.
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
        /// `run` is handing a job to the hardware.
        in_run: AtomicBool,
    }

    /// Calls of `Backend::stop` (tests of a suite run one after the other).
    static STOPS: AtomicU32 = AtomicU32::new(0);
    /// `Backend::stop` was called while `Backend::run` was handing a job to the hardware.
    static STOPPED_DURING_RUN: AtomicBool = AtomicBool::new(false);

    const FAIL_TAG: u32 = 999;
    const SLOW_TAG: u32 = 998;
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
                    in_run: AtomicBool::new(false),
                }),
                GFP_KERNEL,
            )
        }
    }

    /// The backend is a pinned box: the queue owns it.
    struct MockBackend(Pin<KBox<Mock>>);

    impl Backend for MockBackend {
        type Job = MockJob;

        fn run(&self, job: &mut MockJob) -> Result<ARef<Fence>> {
            if job.tag == FAIL_TAG {
                return Err(EIO);
            }
            self.0.in_run.store(true, Ordering::SeqCst);
            if job.tag == SLOW_TAG {
                fsleep(Delta::from_millis(200));
            }
            let hw = self.0.pool.lock().pop().ok_or(ENOSPC)?;
            let fence = hw.fence();
            let _ = self.0.ran.lock().push_within_capacity(job.tag);
            if self.0.auto {
                hw.signal(None);
            } else {
                let _ = self.0.running.lock().push_within_capacity((job.tag, hw));
            }
            self.0.in_run.store(false, Ordering::SeqCst);
            Ok(fence)
        }

        fn timed_out(&self, job: &mut MockJob) {
            self.0.timeouts.fetch_add(1, Ordering::Relaxed);
            // The hardware gives up on the job: its fence is dropped unsignalled here and
            // signals ECANCELED, which the queue ignores.
            let mut running = self.0.running.lock();
            if let Some(i) = running.iter().position(|(t, _)| *t == job.tag) {
                let _ = running.remove(i);
            }
        }

        fn stop(&self) {
            if self.0.in_run.load(Ordering::SeqCst) {
                STOPPED_DURING_RUN.store(true, Ordering::SeqCst);
            }
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

        /// Completes the job that the hardware got first.
        fn complete_oldest(&self) -> Result {
            let hw = {
                let mut running = self.0.running.lock();
                if running.is_empty() {
                    return Err(ENOENT);
                }
                running.remove(0).map_err(|_| ENOENT)?.1
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
        let fences = e.prepare(tag.into(), credits, deps)?.push();
        Ok((fences.scheduled, fences.finished))
    }

    /// Records the sequence numbers of fences in the order they signal. Lock-free: the
    /// callbacks run under the fences' locks with interrupts disabled.
    struct Recorder {
        log: KVec<AtomicU64>,
        len: AtomicUsize,
    }

    impl Recorder {
        fn new(capacity: usize) -> Result<Arc<Self>> {
            let mut log = KVec::with_capacity(capacity, GFP_KERNEL)?;
            for _ in 0..capacity {
                log.push(AtomicU64::new(0), GFP_KERNEL)?;
            }
            Ok(Arc::new(
                Self {
                    log,
                    len: AtomicUsize::new(0),
                },
                GFP_KERNEL,
            )?)
        }

        fn len(&self) -> usize {
            self.len.load(Ordering::Acquire)
        }

        /// Whether the recorded sequence numbers increase strictly.
        fn in_order(&self) -> bool {
            let len = self.len().min(self.log.len());
            self.log[..len]
                .windows(2)
                .all(|w| w[0].load(Ordering::Relaxed) < w[1].load(Ordering::Relaxed))
        }
    }

    struct Record(Arc<Recorder>);

    impl FenceCallback for Record {
        fn signalled(&self, fence: &Fence) {
            let i = self.0.len.fetch_add(1, Ordering::AcqRel);
            if let Some(slot) = self.0.log.get(i) {
                slot.store(fence.seqno(), Ordering::Relaxed);
            }
        }
    }

    /// Watches `fence` with `recorder`; the registration must live until the fence signalled.
    fn record(recorder: &Arc<Recorder>, fence: &Fence) -> Result<CallbackRegistration<Record>> {
        fence
            .add_callback(Callback::new(Record(recorder.clone()))?)
            .map_err(|_| EINVAL)
    }

    /// Polls `cond` for up to `LONG`.
    /// [`wait_for`] for up to a minute.
    fn wait_long(cond: impl Fn() -> bool) -> bool {
        let start = Instant::<Monotonic>::now();
        while Instant::<Monotonic>::now() - start < MINUTE {
            if cond() {
                return true;
            }
            fsleep(Delta::from_millis(10));
        }
        cond()
    }

    fn wait_for(cond: impl Fn() -> bool) -> bool {
        for _ in 0..500 {
            if cond() {
                return true;
            }
            fsleep(Delta::from_millis(10));
        }
        cond()
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
    fn sequence_numbers_follow_the_pushes() -> Result {
        let q = queue(4, LONG, true)?;
        let e = q.new_entity(Priority::Normal)?;
        let (s0, f0) = submit(&e, 1, 1, KVec::new())?;
        // Prepared in one order, pushed in the other: the numbers follow the pushes, which
        // are the order in which the jobs run.
        let a = e.prepare(2.into(), 1, KVec::new())?;
        let b = e.prepare(3.into(), 1, KVec::new())?;
        // A dropped prepared job publishes nothing and takes no number.
        drop(e.prepare(4.into(), 1, KVec::new())?);
        let fb = b.push();
        let fa = a.push();
        fa.finished.wait(false, LONG)?;
        assert_eq!(fb.finished.seqno(), f0.seqno() + 1);
        assert_eq!(fa.finished.seqno(), f0.seqno() + 2);
        assert_eq!(fb.scheduled.seqno(), s0.seqno() + 1);
        assert_eq!(&q.backend().ran()?[..], &[1, 3, 2]);
        Ok(())
    }

    #[test]
    fn two_submitters_signal_in_order() -> Result {
        const JOBS: usize = 64;
        // The test is the hardware: callbacks are registered before the fences can signal.
        // Its pace depends on the machine (KUnit runs at boot, on a loaded TCG guest too): no
        // job may time out while the other submitter waits, and the waits are bounded by a
        // minute rather than by a number of steps.
        let q = queue(4, MINUTE, false)?;
        let e = Arc::new(q.new_entity(Priority::Normal)?, GFP_KERNEL)?;
        let recorder = Recorder::new(2 * JOBS)?;
        // Each submitter pushes onto the same entity and watches its own fences until all of
        // them signalled.
        let submitter = |e: Arc<Entity<MockBackend>>, recorder: Arc<Recorder>, base: u32| {
            let mut regs = KVec::with_capacity(JOBS, GFP_KERNEL)?;
            for i in 0..JOBS as u32 {
                // More jobs than the entity holds: wait for room as a client would.
                let job = loop {
                    match e.prepare((base + i).into(), 1, KVec::new()) {
                        Err(e) if e == EBUSY => fsleep(Delta::from_millis(1)),
                        r => break r?,
                    }
                };
                let fences = job.push();
                regs.push(record(&recorder, &fences.finished)?, GFP_KERNEL)?;
            }
            if !wait_long(|| recorder.len() == 2 * JOBS) {
                return Err(ETIME);
            }
            Ok::<_, Error>(())
        };
        let done = Arc::new(AtomicU32::new(0), GFP_KERNEL)?;
        for base in [100, 1000] {
            let (e, recorder, done) = (e.clone(), recorder.clone(), done.clone());
            crate::workqueue::system_unbound().try_spawn(GFP_KERNEL, move || {
                let bit = if submitter(e, recorder, base).is_ok() {
                    1
                } else {
                    16
                };
                done.fetch_add(bit, Ordering::AcqRel);
            })?;
        }
        // Complete the jobs in the order the hardware got them.
        let start = Instant::<Monotonic>::now();
        while recorder.len() < 2 * JOBS && Instant::<Monotonic>::now() - start < MINUTE {
            if q.backend().complete_oldest().is_err() {
                fsleep(Delta::from_millis(1));
            }
        }
        assert!(wait_long(|| done.load(Ordering::Acquire) >= 2));
        assert_eq!(done.load(Ordering::Acquire), 2);
        assert_eq!(recorder.len(), 2 * JOBS);
        assert!(recorder.in_order());
        Ok(())
    }

    #[test]
    fn cancellation_waits_for_the_running_job() -> Result {
        let q = queue(4, LONG, false)?;
        let e = q.new_entity(Priority::Normal)?;
        let tl = Timeline::new(c"kunit", c"external");
        let gate = tl.new_fence()?;
        let recorder = Recorder::new(4)?;
        let (s1, f1) = submit(&e, 1, 1, KVec::new())?;
        let mut deps = KVec::new();
        deps.push(gate.fence(), GFP_KERNEL)?;
        let (s2, f2) = submit(&e, 2, 1, deps)?;
        let _regs = [record(&recorder, &f1)?, record(&recorder, &f2)?];
        s1.wait(false, LONG)?;
        // Dropping the entity cancels job 2, but only after job 1, which is still running.
        drop(e);
        assert_eq!(f2.wait(false, SHORT), Err(ETIME));
        assert!(!s2.is_signaled());
        q.backend().complete(1)?;
        f2.wait(false, LONG)?;
        assert_eq!(f1.status(), Some(Ok(())));
        assert_eq!(s2.status(), Some(Err(ECANCELED)));
        assert_eq!(f2.status(), Some(Err(ECANCELED)));
        assert!(recorder.in_order());
        assert_eq!(recorder.len(), 2);
        gate.signal(None);
        assert_eq!(&q.backend().ran()?[..], &[1]);
        Ok(())
    }

    #[test]
    fn completion_follows_the_entity_order() -> Result {
        let q = queue(4, LONG, false)?;
        let e = q.new_entity(Priority::Normal)?;
        let (_s1, f1) = submit(&e, 1, 1, KVec::new())?;
        let (s2, f2) = submit(&e, 2, 1, KVec::new())?;
        s2.wait(false, LONG)?;
        // The hardware finishes job 2 first: its fence waits for job 1's.
        q.backend().complete(2)?;
        assert_eq!(f2.wait(false, SHORT), Err(ETIME));
        q.backend().complete(1)?;
        f2.wait(false, LONG)?;
        assert!(f1.is_signaled());
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
        assert_eq!(a.prepare(0.into(), 3, KVec::new()).err(), Some(EINVAL));
        assert_eq!(a.prepare(0.into(), 0, KVec::new()).err(), Some(EINVAL));
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
    fn large_jobs_are_not_starved_by_small_ones() -> Result {
        let q = queue(2, LONG, false)?;
        let small = q.new_entity(Priority::Low)?;
        let large = q.new_entity(Priority::High)?;
        let (s1, _f1) = submit(&small, 1, 1, KVec::new())?;
        s1.wait(false, LONG)?;
        // One credit is free: not enough for the large job, enough for the small ones, which
        // keep coming. They wait behind the large job, which is chosen first.
        let (sl, fl) = submit(&large, 2, 2, KVec::new())?;
        let (s3, _f3) = submit(&small, 3, 1, KVec::new())?;
        assert_eq!(s3.wait(false, SHORT), Err(ETIME));
        assert!(!sl.is_signaled());
        q.backend().complete(1)?;
        sl.wait(false, LONG)?;
        assert!(!s3.is_signaled());
        q.backend().complete(2)?;
        fl.wait(false, LONG)?;
        s3.wait(false, LONG)?;
        q.backend().complete(3)?;
        assert_eq!(&q.backend().ran()?[..], &[1, 2, 3]);
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
        assert_eq!(
            guilty.prepare(3.into(), 1, KVec::new()).err(),
            Some(ECANCELED)
        );
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
    fn only_the_head_of_the_hardware_queue_is_timed() -> Result {
        const TIMEOUT: Delta = Delta::from_millis(1000);
        let q = queue(4, TIMEOUT, false)?;
        let slow = q.new_entity(Priority::Normal)?;
        let next = q.new_entity(Priority::Normal)?;
        let (s1, f1) = submit(&slow, 1, 1, KVec::new())?;
        let (s2, f2) = submit(&next, 2, 1, KVec::new())?;
        s1.wait(false, LONG)?;
        s2.wait(false, LONG)?;
        // Job 1 takes most of the timeout; job 2, behind it, has run for as long when job 1
        // completes, but its time only starts then.
        fsleep(Delta::from_millis(600));
        q.backend().complete(1)?;
        f1.wait(false, LONG)?;
        fsleep(Delta::from_millis(500));
        assert!(!f2.is_signaled());
        assert!(!next.is_banned());
        q.backend().complete(2)?;
        f2.wait(false, LONG)?;
        assert_eq!(f1.status(), Some(Ok(())));
        assert_eq!(f2.status(), Some(Ok(())));
        assert_eq!(q.backend().0.timeouts.load(Ordering::Relaxed), 0);
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
            prepared.push(e.prepare(tag.into(), 1, KVec::new())?, GFP_KERNEL)?;
        }
        assert_eq!(e.prepare(18.into(), 1, KVec::new()).err(), Some(EBUSY));
        // A dropped prepared job frees its slot, a pushed one keeps it.
        drop(prepared.pop());
        prepared.push(e.prepare(18.into(), 1, KVec::new())?, GFP_KERNEL)?;
        let mut scheduled = KVec::new();
        for job in prepared {
            scheduled.push(job.push().scheduled, GFP_KERNEL)?;
        }
        assert_eq!(e.prepare(19.into(), 1, KVec::new()).err(), Some(EBUSY));
        // Jobs that leave the entity free their slots.
        q.backend().complete(1)?;
        f1.wait(false, LONG)?;
        for (s, tag) in scheduled.iter().zip(Iterator::chain(2..=16, [18])) {
            s.wait(false, LONG)?;
            q.backend().complete(tag)?;
        }
        drop(e.prepare(19.into(), 1, KVec::new())?);
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
        f3.wait(false, LONG)?;
        assert_eq!(f3.status(), Some(Err(ECANCELED)));
        assert!(!f1.is_signaled());
        let stops = STOPS.load(Ordering::Relaxed);
        drop(q);
        assert_eq!(STOPS.load(Ordering::Relaxed), stops + 1);
        assert_eq!(f1.status(), Some(Err(ECANCELED)));
        assert_eq!(s2.status(), Some(Err(ECANCELED)));
        assert_eq!(f2.status(), Some(Err(ECANCELED)));
        // The entity outlives the queue; it accepts nothing.
        assert_eq!(a.prepare(5.into(), 1, KVec::new()).err(), Some(ECANCELED));
        Ok(())
    }

    #[test]
    fn teardown_waits_for_the_hardware_handoff() -> Result {
        STOPPED_DURING_RUN.store(false, Ordering::SeqCst);
        let q = queue(1, LONG, false)?;
        let e = q.new_entity(Priority::Normal)?;
        let (_s, f) = submit(&e, SLOW_TAG, 1, KVec::new())?;
        assert!(wait_for(|| q.backend().0.in_run.load(Ordering::SeqCst)));
        // The job is being handed to the hardware: the engine is stopped after that, and the
        // job, which the hardware got, is cancelled.
        let prepared = e.prepare(2.into(), 1, KVec::new())?;
        drop(q);
        assert!(!STOPPED_DURING_RUN.load(Ordering::SeqCst));
        assert_eq!(f.status(), Some(Err(ECANCELED)));
        // A push after the teardown cancels at once.
        let late = prepared.push();
        assert_eq!(late.finished.status(), Some(Err(ECANCELED)));
        assert_eq!(late.scheduled.status(), Some(Err(ECANCELED)));
        Ok(())
    }

    #[test]
    fn jobs_are_freed_outside_signalling_sections() -> Result {
        // Each job holds the last reference to a GEM object, whose release takes its
        // `dma_resv` lock: dropping it in a signalling section is a lockdep splat, which fails
        // the run.
        let reg = faux::Registration::new(c"accel-queue-kunit", None)?;
        let drm = drm::UnregisteredDevice::<GemDriver>::new(reg.as_ref(), Ok::<_, Error>(()))?;
        let bo_job = |tag: u32| -> Result<MockJob> {
            let bo = gem::Object::<GemData>::new_system(&drm, crate::page::PAGE_SIZE, false)?;
            Ok(MockJob { tag, _bo: Some(bo) })
        };
        // Completed as it is handed to the hardware, and failed in `run`.
        let q = queue(2, LONG, true)?;
        let e = q.new_entity(Priority::Normal)?;
        let done = e.prepare(bo_job(1)?, 1, KVec::new())?.push();
        let failed = e.prepare(bo_job(FAIL_TAG)?, 1, KVec::new())?.push();
        failed.finished.wait(false, LONG)?;
        assert_eq!(done.finished.status(), Some(Ok(())));
        assert_eq!(failed.finished.status(), Some(Err(EIO)));
        // Timed out.
        let q = queue(2, SHORT, false)?;
        let e = q.new_entity(Priority::Normal)?;
        let hung = e.prepare(bo_job(3)?, 1, KVec::new())?.push();
        hung.finished.wait(false, LONG)?;
        assert_eq!(hung.finished.status(), Some(Err(ETIME)));
        // Cancelled by the teardown, on the hardware and queued.
        let q = queue(1, LONG, false)?;
        let e = q.new_entity(Priority::Normal)?;
        let running = e.prepare(bo_job(4)?, 1, KVec::new())?.push();
        let queued = e.prepare(bo_job(5)?, 1, KVec::new())?.push();
        running.scheduled.wait(false, LONG)?;
        drop(q);
        assert_eq!(running.finished.status(), Some(Err(ECANCELED)));
        assert_eq!(queued.finished.status(), Some(Err(ECANCELED)));
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
