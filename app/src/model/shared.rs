//! The model as the collector and the front ends share it. The collector records exchanges,
//! kernel totals and ticks into it; the dashboard takes views of it and asks it to reset or to
//! change its filter; the headless run takes its summary at the end. The lock lives here and
//! nowhere else, and each operation holds it for one short step, so no front end can hold it
//! while drawing or printing.

use std::sync::{Arc, Mutex, MutexGuard};

use super::{Event, Filter, Group, KernelTotals, Model, RowDetail, RowKey, Source, Summary, View};

/// A cheap handle (clone it) on the one model of a run.
#[derive(Clone, Debug)]
pub struct SharedModel(Arc<Mutex<Model>>);

impl SharedModel {
    pub fn new(model: Model) -> Self {
        SharedModel(Arc::new(Mutex::new(model)))
    }

    fn lock(&self) -> MutexGuard<'_, Model> {
        // A panic while the lock was held leaves plain data behind: showing and summing the
        // last state beats failing too.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies the events of `batch` in order, leaving it empty (its allocation is reused).
    pub fn record_batch(&self, batch: &mut Vec<Event>) {
        if batch.is_empty() {
            return;
        }
        let mut model = self.lock();
        for event in batch.drain(..) {
            model.apply(event);
        }
    }

    /// Why processes are shown as `?` (see [`Model::set_process_notice`]).
    pub fn set_process_notice(&self, notice: String) {
        self.lock().set_process_notice(notice);
    }

    pub fn set_kernel_totals(&self, totals: KernelTotals) {
        self.lock().set_kernel_totals(totals);
    }

    /// Closes one refresh interval (see [`Model::tick`]).
    pub fn tick(&self, now_ns: u64) {
        self.lock().tick(now_ns);
    }

    /// What the dashboard shows now.
    pub fn view(&self) -> View {
        self.lock().view()
    }

    /// A frozen view seen through another filter (see [`Model::refilter`]).
    pub fn refilter(&self, frozen: &View, filter: Option<Filter>) -> View {
        self.lock().refilter(frozen, filter)
    }

    /// One row in detail (see [`Model::detail`]).
    pub fn detail(&self, key: &RowKey, view: &View, frozen: bool) -> Option<RowDetail> {
        self.lock().detail(key, view, frozen)
    }

    /// Sets the grouping of the views' rows (see [`Model::set_group`]).
    pub fn set_group(&self, group: Group) {
        self.lock().set_group(group);
    }

    /// Statistics start from zero (see [`Model::reset`]).
    pub fn reset(&self) {
        self.lock().reset();
    }

    /// Sets the filter of what views show (see [`Model::set_filter`]).
    pub fn set_filter(&self, filter: Option<Filter>) {
        self.lock().set_filter(filter);
    }

    /// The run starts now (see [`Model::start`]).
    pub fn start(&self, mono_ns: u64, wall: std::time::SystemTime) {
        self.lock().start(mono_ns, wall);
    }

    /// The figures cover up to `mono_ns` (see [`Model::set_end`]).
    pub fn set_end(&self, mono_ns: u64) {
        self.lock().set_end(mono_ns);
    }

    /// The headless summary (see [`Model::summary`]).
    pub fn summary(&self, group: Group, top: usize, source: Source) -> Summary {
        self.lock().summary(group, top, source)
    }
}
