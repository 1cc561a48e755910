//! httptop's user space: the command line and the run it describes, the loader, the
//! collector, the model, the dashboard and the headless summary.

pub mod attribution;
pub mod cli;
pub mod clock;
pub mod collector;
pub mod export;
pub mod headless;
pub mod kernel;
pub mod logging;
pub mod model;
pub mod netns;
pub mod offline;
pub mod probes;
pub mod records;
pub mod run;
pub mod signals;
pub mod tui;

/// The kernel's counters, by which `model::KernelTotals` is indexed.
pub use probe_common::wire::Counter;
