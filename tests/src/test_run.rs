//! Frames through the loaded kernel programs with BPF_PROG_TEST_RUN: no socket is attached, so
//! nothing but these frames reaches the maps.

use aya::programs::{TestRun as _, TestRunOptions};
use httptop::kernel::Kernel;

/// Runs httptop's entry program on `frame` (an Ethernet frame), in whichever attach mode
/// `kernel` was loaded: panics unless the run happens and leaves the packet alone (the socket
/// filter never queues a packet to its socket; the classifier returns TC_ACT_UNSPEC, so the
/// next program decides).
#[track_caller]
pub fn test_run(kernel: &Kernel, frame: &[u8]) {
    let options = TestRunOptions {
        data_in: Some(frame),
        ..TestRunOptions::default()
    };
    let failed = |e| panic!("BPF_PROG_TEST_RUN ({} bytes): {e:?}", frame.len());
    if let Some(filter) = kernel.program() {
        let result = filter.test_run(options).unwrap_or_else(failed);
        assert_eq!(result.return_value, 0);
    } else {
        let classifier = kernel
            .classifier()
            .expect("the socket filter or the classifier");
        let result = classifier.test_run(options).unwrap_or_else(failed);
        assert_eq!(result.return_value as i32, -1);
    }
}
