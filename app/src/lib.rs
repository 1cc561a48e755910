//! httptop's user space: loader, collector, the pure model, and the views.

pub mod cli;
pub mod collector;
pub mod headless;
pub mod kernel;
pub mod logging;
pub mod model;
pub mod offline;
pub mod records;
pub mod tui;

/// The kernel's counters, by which `model::KernelTotals` is indexed.
pub use probe_common::wire::Counter;
