//! Frames through the loaded kernel programs with BPF_PROG_TEST_RUN: no socket is attached, so
//! nothing but these frames reaches the maps.

use aya::programs::{TestRun as _, TestRunOptions};
use httptop::kernel::Kernel;

/// Runs httptop's entry program on `frame` (an Ethernet frame); panics unless the run happens
/// and returns 0 (the filter never queues a packet to its socket).
#[track_caller]
pub fn test_run(kernel: &Kernel, frame: &[u8]) {
    let program = kernel.program().expect("entry program");
    let result = program
        .test_run(TestRunOptions {
            data_in: Some(frame),
            ..TestRunOptions::default()
        })
        .unwrap_or_else(|e| panic!("BPF_PROG_TEST_RUN ({} bytes): {e:?}", frame.len()));
    assert_eq!(result.return_value, 0);
}
