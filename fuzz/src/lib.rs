//! What the targets that go through `httptop --read`'s reader share: bytes written as a capture
//! file, read by `httptop::offline::read_capture`, and its summary as JSON.

use std::{cell::RefCell, io::Write as _, path::PathBuf, time::Duration};

use httptop::{
    model::{Model, ModelOptions},
    offline,
};

/// `--request-timeout`'s default.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads before the model is made afresh: a new model costs more than a whole small read (its
/// latency histograms are zeroed), and one kept for ever would slow down as connections pile up.
const READS_PER_MODEL: u32 = 4096;

thread_local! {
    static MODEL: RefCell<(Model, u32)> = RefCell::new((Model::new(ModelOptions::default()), 0));
}

/// Once per process. The reader's 8 MB buffer is then always fresh zero pages from mmap:
/// glibc's moving mmap threshold would otherwise take it from the heap after the first free
/// and zero it by hand on every read.
pub fn init() {
    // SAFETY: mallopt only sets an allocator parameter.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

/// `bytes` read as a capture file into a model (kept from earlier reads: see
/// `READS_PER_MODEL`), then `then(model, events)` with `events` the exchange events this read
/// recorded; `None` when the reader refuses the file.
pub fn read_capture<T>(bytes: &[u8], then: impl FnOnce(&Model, u64) -> T) -> Option<T> {
    let path = scratch_path();
    std::fs::File::create(&path)
        .and_then(|mut out| out.write_all(bytes))
        .expect("writing the scratch capture");
    MODEL.with_borrow_mut(|(model, reads)| {
        *reads += 1;
        if *reads == READS_PER_MODEL {
            *model = Model::new(ModelOptions::default());
            *reads = 0;
        }
        let events_before = model.next_seq();
        offline::read_capture(&path, &[], REQUEST_TIMEOUT, model, &Default::default()).ok()?;
        Some(then(model, model.next_seq() - events_before))
    })
}

/// One scratch file per process, in memory where the system has a tmpfs.
fn scratch_path() -> PathBuf {
    let dir = PathBuf::from("/dev/shm");
    let dir = if dir.is_dir() {
        dir
    } else {
        std::env::temp_dir()
    };
    dir.join(format!("httptop-fuzz-{}.pcap", std::process::id()))
}
