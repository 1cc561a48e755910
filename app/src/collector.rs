//! The collector task: probe → model. It polls the ring buffer on a timer (the kernel never
//! wakes us per event: that halves a busy server's throughput), refreshes kernel totals, sweeps
//! stale connections and closes sparkline points. It is the only writer of what the kernel
//! reports; the dashboard writes nothing but its requests to reset or change the filter.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use tokio::{sync::watch, time::MissedTickBehavior};

use crate::{
    attribution::{Attributor, Owner, Side, Told},
    export::Exports,
    kernel::{monotonic_ns, owners::OwnerProbe},
    model::{Event, NetnsId, ProcessId, ProcessInfo, Processes, SharedModel, Tuple},
    netns::{NetnsIdentity, SharedNetns},
    probes::Probes,
};

#[derive(Clone, Debug)]
pub struct CollectorOptions {
    /// Ring-buffer poll period. Each poll costs a wakeup and a pass over the batch's
    /// destinations whatever it holds: 50 ms took a fifth less CPU per exchange than 10 ms at
    /// 15k exchanges a second, and a poll's worth of events at 130k a second (about 1 MiB)
    /// leaves the 8 MiB ring buffer room for the collector to be held up 300 ms.
    pub poll: Duration,
    /// Kernel totals refresh period.
    pub totals: Duration,
    /// Sparkline point period (the dashboard's refresh interval).
    pub interval: Duration,
    /// A connection silent this long is dropped and its outstanding requests expire.
    pub request_timeout: Duration,
}

impl Default for CollectorOptions {
    fn default() -> Self {
        CollectorOptions {
            poll: Duration::from_millis(50),
            totals: Duration::from_millis(200),
            interval: Duration::from_secs(1),
            request_timeout: Duration::from_secs(30),
        }
    }
}

fn ticker(period: Duration) -> tokio::time::Interval {
    let mut t = tokio::time::interval(period);
    t.set_missed_tick_behavior(MissedTickBehavior::Delay);
    t
}

/// Runs until `shutdown` turns true, then detaches the probe, drains what the kernel sent
/// before the detach and reads the totals last, so the model ends with every exchange the
/// kernel counted.
pub async fn run(
    mut probe: Probes,
    owners: Option<OwnerProbe>,
    model: SharedModel,
    exports: Exports,
    opts: CollectorOptions,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut naming = Naming::new(&model, owners);
    naming.add_namespaces(probe.take_added());
    let mut to = Destinations {
        model: &model,
        exports: &exports,
        naming: &mut naming,
    };
    let mut poll = ticker(opts.poll);
    let mut totals = ticker(opts.totals);
    let mut sweep = ticker(Duration::from_secs(1).min(opts.request_timeout));
    let mut interval = ticker(opts.interval);
    let mut batch: Vec<Event> = Vec::with_capacity(4096);
    loop {
        tokio::select! {
            _ = poll.tick() => drain(&mut probe, &mut to, &mut batch),
            _ = totals.tick() => refresh_totals(&probe, &to),
            // A scrape: everything up to now, so its counters and histogram agree.
            _ = exports.refresh_wanted() => {
                drain(&mut probe, &mut to, &mut batch);
                refresh_totals(&probe, &to);
                exports.refreshed();
            }
            _ = sweep.tick() => {
                if let Err(e) = probe.sweep(monotonic_ns(), opts.request_timeout) {
                    log::warn!("sweep: {e}");
                }
                if let Err(e) = probe.refresh() {
                    log::warn!("tapping new interfaces and namespaces: {e}");
                }
                to.naming.add_namespaces(probe.take_added());
            }
            // Fresh totals right before the point closes, so each interval's deltas (the
            // filter's cost, the counts) cover exactly that interval.
            _ = interval.tick() => {
                refresh_totals(&probe, &to);
                model.tick(monotonic_ns());
            }
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
        }
    }
    probe.detach();
    // Let program runs that started before the detach finish.
    tokio::time::sleep(Duration::from_millis(20)).await;
    drain(&mut probe, &mut to, &mut batch);
    if let Err(e) = probe.sweep(monotonic_ns(), opts.request_timeout) {
        log::warn!("sweep: {e}");
    }
    // Responses still being received count already: their exchanges go out, ends unseen, with
    // what the last sweep removed.
    if let Err(e) = probe.flush_unsent() {
        log::warn!("reading the exchanges still open: {e}");
    }
    drain(&mut probe, &mut to, &mut batch);
    refresh_totals(&probe, &to);
    if let Some(owners) = &naming.owners {
        log::info!("owners probe: {} records lost", owners.lost());
    }
    for (netns, attributor) in &naming.attributors {
        if let Some(attributor) = attributor {
            log::info!("process attribution in {netns}: {:?}", attributor.stats());
        }
    }
    Ok(())
}

/// Where what the kernel reports goes: the processes are named, then the model and the exports
/// that were asked for take it.
struct Destinations<'a> {
    model: &'a SharedModel,
    exports: &'a Exports,
    naming: &'a mut Naming,
}

fn drain(probe: &mut Probes, to: &mut Destinations<'_>, batch: &mut Vec<Event>) {
    probe.drain_events(|e| batch.push(e));
    to.naming.name(batch);
    to.exports.record_events(batch);
    to.model.record_batch(batch);
}

/// Names the local process on each side of each exchange ([`Attributor`]), as ids into the
/// model's table of processes; a run without the kernel's socket interface names none and says
/// why once. Each watched network namespace has its own attributor (its sockets are looked up
/// in it).
struct Naming {
    /// By namespace, httptop's own first; `None` where attribution could not start.
    attributors: Vec<(NetnsId, Option<Attributor>)>,
    /// The kernel's word on who holds each end of a connection, for every namespace; `None` where it
    /// could not attach (the search of `/proc` names those ends then).
    owners: Option<OwnerProbe>,
    /// Each watched namespace's inode (how the owners probe names it), with its id.
    inodes: Vec<(u32, NetnsId)>,
    /// Owners seen, with their ids (interning a known owner takes no lock).
    ids: HashMap<Owner, ProcessId, foldhash::fast::RandomState>,
    /// Connections named, until they end.
    named: HashMap<(NetnsId, Tuple), Named, foldhash::fast::RandomState>,
    tuples: Vec<Tuple>,
    /// How often each of `tuples` was asked before.
    asked: Vec<u8>,
    ended: Vec<Tuple>,
    /// The namespaces of the batch being named.
    spaces: Vec<NetnsId>,
    notice_given: bool,
    /// Whether this process may read other users' file descriptors.
    privileged: bool,
    model: SharedModel,
}

/// Owners remembered with their ids; past it the map starts again (the ids stay valid).
const OWNER_IDS_KEPT: usize = 65_536;
/// Connections remembered; past it the map starts again (and asks the attributor, which has
/// its own cache).
const NAMED_CONNECTIONS_KEPT: usize = 100_000;
/// A connection with a side not found asks again after these, one after the other, then every
/// second: soon at first (on a busy machine the first search may have run out of its budget
/// while a keep-alive connection lives on), and not every batch (a side that cannot be found
/// would cost a search each time).
const UNSETTLED_RETRIES: [Duration; 3] = [
    Duration::from_millis(50),
    Duration::from_millis(250),
    Duration::from_secs(1),
];

/// A connection's processes as named, and when to ask again if a side was not found.
#[derive(Clone, Copy)]
struct Named {
    processes: Processes,
    retry_at: Option<Instant>,
    /// Times it was asked.
    asked: u8,
}

impl Naming {
    fn new(model: &SharedModel, owners: Option<OwnerProbe>) -> Self {
        let attributor = match Attributor::new() {
            Ok(a) => Some(a),
            Err(e) => {
                let notice = format!("processes are not named: {e}");
                log::warn!("{notice}");
                model.set_process_notice(notice);
                None
            }
        };
        let inodes = match NetnsIdentity::current() {
            Ok(own) => vec![(own.inode() as u32, NetnsId::OWN)],
            Err(e) => {
                log::warn!("reading httptop's own network namespace: {e}");
                Vec::new()
            }
        };
        Naming {
            attributors: vec![(NetnsId::OWN, attributor)],
            owners,
            inodes,
            ids: HashMap::default(),
            named: HashMap::default(),
            tuples: Vec::new(),
            asked: Vec::new(),
            ended: Vec::new(),
            spaces: Vec::new(),
            notice_given: false,
            privileged: crate::kernel::can_read_other_processes(),
            model: model.clone(),
        }
    }

    /// Attributors for namespaces watched since the last call.
    fn add_namespaces(&mut self, added: Vec<(NetnsId, SharedNetns)>) {
        for (netns, space) in added {
            let attributor = match Attributor::in_netns(space.clone()) {
                Ok(a) => Some(a),
                Err(e) => {
                    log::warn!("processes in network namespace {space} are not named: {e}");
                    None
                }
            };
            self.attributors.push((netns, attributor));
            self.inodes.push((space.identity.inode() as u32, netns));
        }
    }

    /// Hands each end the kernel told of to its namespace's attributor. Drained after the
    /// batch's exchanges were: a connection is made, and its request read by the server, before
    /// the answer ends an exchange, so every exchange of the batch finds its ends told.
    fn learn_owners(&mut self) {
        let Some(owners) = &mut self.owners else {
            return;
        };
        let (inodes, attributors) = (&self.inodes, &mut self.attributors);
        owners.drain(|made| {
            let Some(&(_, netns)) = inodes.iter().find(|(inode, _)| *inode == made.netns) else {
                return;
            };
            let Some(attributor) = attributors
                .iter_mut()
                .find(|(n, _)| *n == netns)
                .and_then(|(_, a)| a.as_mut())
            else {
                return;
            };
            attributor.told(Told::from(made));
        });
    }

    fn name(&mut self, batch: &mut [Event]) {
        self.learn_owners();
        self.spaces.clear();
        for event in batch.iter() {
            let netns = match event {
                Event::Exchange(e) => e.netns,
                Event::ConnectionEnded(end) => end.netns,
            };
            if !self.spaces.contains(&netns) {
                self.spaces.push(netns);
            }
        }
        for i in 0..self.spaces.len() {
            let netns = self.spaces[i];
            self.name_in(netns, batch);
        }
    }

    /// Names the exchanges of `batch` seen in `netns`.
    fn name_in(&mut self, netns: NetnsId, batch: &mut [Event]) {
        self.tuples.clear();
        self.ended.clear();
        let now = Instant::now();
        // A connection named already takes its ids from here: one hash per exchange of a
        // keep-alive connection, and nothing asked of the attributor; one with a side not found
        // asks again once its retry time has come.
        self.asked.clear();
        for event in batch.iter_mut() {
            match event {
                Event::Exchange(e) if e.netns == netns => match self.named.get(&(netns, e.tuple)) {
                    Some(named) if named.retry_at.is_none_or(|at| now < at) => {
                        e.processes = named.processes;
                    }
                    named => {
                        self.tuples.push(e.tuple);
                        self.asked.push(named.map_or(0, |n| n.asked));
                    }
                },
                Event::ConnectionEnded(end) if end.netns == netns => {
                    self.named.remove(&(netns, end.tuple));
                    self.ended.push(end.tuple);
                }
                _ => {}
            }
        }
        // The exchanges still to name, in the order their tuples were gathered (the kernel's
        // exchanges come with nothing looked up).
        let unnamed = batch.iter_mut().filter_map(|event| match event {
            Event::Exchange(e) if e.netns == netns && e.processes == Processes::default() => {
                Some(e)
            }
            _ => None,
        });
        let attributor = self
            .attributors
            .iter_mut()
            .find(|(n, _)| *n == netns)
            .and_then(|(_, a)| a.as_mut());
        let Some(attributor) = attributor else {
            for e in unnamed {
                e.processes = Processes {
                    client: ProcessId::UNKNOWN,
                    server: ProcessId::UNKNOWN,
                };
            }
            return;
        };
        // Ends first: their descriptors are read again, and the kernel hands their numbers to
        // the new connections of this very batch.
        if !self.ended.is_empty() {
            attributor.closed(&self.ended);
        }
        if !self.tuples.is_empty() {
            let answers = attributor.attribute(&self.tuples);
            for ((e, answer), asked) in unnamed.zip(answers).zip(&self.asked) {
                e.processes = Processes {
                    client: id_of(&mut self.ids, &answer.client),
                    server: id_of(&mut self.ids, &answer.server),
                };
                // An unknown side may yet be found: asked again after a while.
                let settled = [e.processes.client, e.processes.server]
                    .iter()
                    .all(|&id| id != ProcessId::UNKNOWN);
                if self.named.len() >= NAMED_CONNECTIONS_KEPT {
                    self.named.clear();
                }
                let asked = asked.saturating_add(1);
                let wait =
                    UNSETTLED_RETRIES[usize::from(asked - 1).min(UNSETTLED_RETRIES.len() - 1)];
                self.named.insert(
                    (netns, e.tuple),
                    Named {
                        processes: e.processes,
                        retry_at: (!settled).then(|| now + wait),
                        asked,
                    },
                );
            }
        }
        // A denial despite the capability (a sandbox's own init, say) is not ours to explain.
        if !self.notice_given
            && !self.privileged
            && let Some(why) = attributor.degraded()
        {
            self.notice_given = true;
            log::warn!("{why}");
            self.model.set_process_notice(why.to_owned());
        }
    }
}

fn id_of(
    ids: &mut HashMap<Owner, ProcessId, foldhash::fast::RandomState>,
    side: &Side,
) -> ProcessId {
    let owner = match side {
        Side::Process(owner) | Side::Listener(owner) => owner,
        Side::NotLocal => return ProcessId::REMOTE,
        Side::Unknown => return ProcessId::UNKNOWN,
    };
    if let Some(&id) = ids.get(owner) {
        return id;
    }
    if ids.len() >= OWNER_IDS_KEPT {
        ids.clear();
    }
    let id = ProcessId::intern(ProcessInfo {
        pid: owner.pid,
        comm: owner.comm.clone(),
        unit: owner.unit.clone(),
    });
    ids.insert(owner.clone(), id);
    id
}

fn refresh_totals(probe: &Probes, to: &Destinations<'_>) {
    match probe.totals() {
        Ok(t) => {
            to.exports.set_kernel_totals(&t);
            to.model.set_kernel_totals(t);
        }
        Err(e) => log::warn!("reading kernel totals: {e}"),
    }
}
