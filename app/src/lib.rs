//! httptop's user space: loader, collector, the pure model, and the views.

pub mod cli;
pub mod collector;
pub mod headless;
pub mod logging;
pub mod model;
pub mod offline;
pub mod probe;
pub mod records;
pub mod run;
pub mod tui;
