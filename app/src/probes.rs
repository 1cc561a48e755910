//! The kernel side of every watched network namespace: httptop's own, each `--netns`, and with
//! `--netns all` every named namespace, including those that appear while it runs.
//!
//! Each namespace has its own loaded programs and maps ([`Kernel`]): tuples are only unique
//! within a namespace (two containers' `127.0.0.1:8080` are different servers), and a
//! namespace removed while httptop runs takes its maps with it. Its events carry its
//! [`NetnsId`]; the totals are the sums over the namespaces, those of namespaces already gone
//! included, so they never go down.

use std::time::Duration;

use crate::{
    kernel::{Kernel, KernelConfig, KernelError, Swept},
    model::{Event, KernelTotals, NetnsId},
    netns::{self, Netns, NetnsError, NetnsIdentity, SharedNetns},
};

/// `--netns`, checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetnsConfig {
    /// Names (of `/run/netns`) or paths, in the order given.
    pub namespaces: Vec<String>,
    /// `--netns all`: every named namespace, new ones as they appear.
    pub all: bool,
}

impl NetnsConfig {
    pub fn is_empty(&self) -> bool {
        self.namespaces.is_empty() && !self.all
    }
}

pub struct Probes {
    /// httptop's own namespace first.
    kernels: Vec<Kernel>,
    config: KernelConfig,
    /// Watching every named namespace: the names watched, with their identities.
    all: Option<Vec<(String, NetnsIdentity)>>,
    /// Every namespace watched, own first: one probe each, however it was named.
    watched: Vec<NetnsIdentity>,
    /// The totals of namespaces no longer watched.
    retired: KernelTotals,
    /// Namespaces attached since [`Probes::take_added`] was last called.
    added: Vec<(NetnsId, SharedNetns)>,
    /// The last events of namespaces let go of, for the next drain.
    leftover: Vec<Event>,
}

impl Probes {
    /// Attaches in httptop's own namespace and in each one `netns` names. Every name is
    /// opened before anything is attached, so a typo changes nothing.
    pub fn attach(config: &KernelConfig) -> Result<Probes, KernelError> {
        let netns = &config.netns;
        let named: Vec<Netns> = netns
            .namespaces
            .iter()
            .map(|spec| Netns::open(spec))
            .collect::<Result<_, _>>()?;
        if !netns.is_empty() && !netns::can_enter() {
            return Err(NetnsError::NoSysAdmin.into());
        }
        NetnsId::set_own_name(&netns::own_name());
        let own = Kernel::attach(config)?;
        let mut probes = Probes {
            kernels: vec![own],
            config: config.clone(),
            all: netns.all.then(Vec::new),
            watched: NetnsIdentity::current().into_iter().collect(),
            retired: KernelTotals::default(),
            added: Vec::new(),
            leftover: Vec::new(),
        };
        for space in named {
            probes.watch(space)?;
        }
        probes.discover();
        Ok(probes)
    }

    /// Attaches in `space` unless it is watched already (under another name, or httptop's
    /// own). Returns whether it was attached.
    fn watch(&mut self, space: Netns) -> Result<bool, KernelError> {
        if self.watched.contains(&space.identity) {
            log::info!("network namespace {space} is watched already");
            return Ok(false);
        }
        let Some(id) = NetnsId::add(&space.name) else {
            log::warn!(
                "not watching network namespace {space}: {} watched already",
                crate::model::MAX_NETNS
            );
            return Ok(false);
        };
        let identity = space.identity;
        let space = SharedNetns::new(space);
        let kernel = Kernel::attach_in(&self.config, space.clone(), id)?;
        log::info!("attached in network namespace {space}");
        self.kernels.push(kernel);
        self.watched.push(identity);
        self.added.push((id, space));
        Ok(true)
    }

    /// `--netns all`: attaches in named namespaces new since the last call and lets go of
    /// those whose name is gone (or names another namespace now). A namespace that cannot be
    /// attached (it went away meanwhile) is tried again at the next call.
    fn discover(&mut self) {
        let Some(known) = self.all.take() else {
            return;
        };
        let mut now = Vec::new();
        for name in netns::named() {
            let space = match Netns::open(&name) {
                Ok(space) => space,
                Err(e) => {
                    log::debug!("{e}");
                    continue;
                }
            };
            let identity = space.identity;
            if known.iter().any(|(n, id)| *n == name && *id == identity) {
                now.push((name, identity));
                continue;
            }
            // Watched already (httptop's own, or given by path) counts as known too.
            match self.watch(space) {
                Ok(_) => now.push((name, identity)),
                Err(e) => log::warn!("not watching network namespace {name} (yet): {e}"),
            }
        }
        for (name, identity) in &known {
            if !now.iter().any(|(n, id)| n == name && id == identity) {
                self.forget(*identity);
            }
        }
        self.all = Some(now);
    }

    /// Detaches the probe of a namespace that is gone; its counts stay in the totals.
    fn forget(&mut self, identity: NetnsIdentity) {
        let Some(i) = self.watched.iter().position(|id| *id == identity) else {
            return;
        };
        if i == 0 {
            return;
        }
        self.watched.remove(i);
        let mut kernel = self.kernels.remove(i);
        kernel.detach();
        match kernel.totals() {
            Ok(t) => self.retired.add(&KernelTotals { in_flight: 0, ..t }),
            Err(e) => log::warn!("reading the totals of a namespace gone: {e}"),
        }
        // Its last events are kept for the next drain.
        self.pending_from(kernel);
    }

    fn pending_from(&mut self, mut kernel: Kernel) {
        let mut events = Vec::new();
        kernel.drain_events(|e| events.push(e));
        if let Some(space) = kernel.netns() {
            log::info!(
                "network namespace {space} is gone: {} last events read",
                events.len()
            );
        }
        self.leftover.extend(events);
    }

    /// The namespaces attached since the last call, for whoever names their processes.
    pub fn take_added(&mut self) -> Vec<(NetnsId, SharedNetns)> {
        std::mem::take(&mut self.added)
    }

    /// Calls `f` for every event waiting in each namespace's ring buffer; returns how many.
    pub fn drain_events(&mut self, mut f: impl FnMut(Event)) -> usize {
        let mut n = self.leftover.len();
        for e in self.leftover.drain(..) {
            f(e);
        }
        for kernel in &mut self.kernels {
            n += kernel.drain_events(&mut f);
        }
        n
    }

    /// The sums of every namespace's totals.
    pub fn totals(&self) -> Result<KernelTotals, KernelError> {
        let mut sum = self.retired.clone();
        for kernel in &self.kernels {
            sum.add(&kernel.totals()?);
        }
        Ok(sum)
    }

    /// [`Kernel::sweep`] in each namespace, summed.
    pub fn sweep(&mut self, now_ns: u64, timeout: Duration) -> Result<Swept, KernelError> {
        let mut sum = Swept::default();
        for kernel in &mut self.kernels {
            let swept = kernel.sweep(now_ns, timeout)?;
            sum.expired += swept.expired;
            sum.evicted += swept.evicted;
            sum.connections += swept.connections;
        }
        Ok(sum)
    }

    /// [`Kernel::flush_unsent`] in each namespace.
    pub fn flush_unsent(&mut self) -> Result<(), KernelError> {
        for kernel in &mut self.kernels {
            kernel.flush_unsent()?;
        }
        Ok(())
    }

    /// New interfaces in each namespace, and with `--netns all` new namespaces; returns how
    /// many interfaces were tapped.
    pub fn refresh(&mut self) -> Result<usize, KernelError> {
        let mut added = 0;
        for kernel in &mut self.kernels {
            added += kernel.refresh_interfaces()?;
        }
        self.discover();
        Ok(added)
    }

    pub fn detach(&mut self) {
        self.all = None;
        for kernel in &mut self.kernels {
            kernel.detach();
        }
    }

    /// How many namespaces are watched now.
    pub fn namespaces(&self) -> usize {
        self.kernels.len()
    }
}
