//! The fuzz harness: the seed corpus of a target, how many generated inputs to
//! run (`SCALEPILOT_FUZZ_CASES`, seeded by `SCALEPILOT_FUZZ_SEED`), and each
//! input run under guard: on its own thread, a panic caught and reported with
//! the input, a time bound (a hang aborts the binary naming the input) and a
//! memory bound (a thread holding more than [`MEMORY_CAP`] aborts the binary
//! naming the input; the peak per target is reported).
//!
//! The memory bound needs a counting global allocator, the one `unsafe` of
//! this test binary: it forwards every call to `System` unchanged and only
//! keeps per-thread counts beside it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

/// Generated inputs per target when `SCALEPILOT_FUZZ_CASES` is not set: the
/// bounded run of `cargo test` and CI.
pub const DEFAULT_CASES: u32 = 3000;
/// The seed when `SCALEPILOT_FUZZ_SEED` is not set (`random` picks one).
pub const DEFAULT_SEED: u64 = 16;
/// The longest one input may run.
pub const TIME_LIMIT: Duration = Duration::from_secs(2);
/// The most memory one input's thread may hold at once.
pub const MEMORY_CAP: usize = 1 << 30;

/// What a target makes of one input: how far it got (counted per target, to
/// see that inputs reach past the parsers), or `Err`: a broken property (a
/// panic, an error without a location, a wrong count), never a rejected input.
pub type Outcome = Result<&'static str, String>;
/// A check within a target.
pub type Checked = Result<(), String>;

/// The seed files of `target`, in name order: `tests/fuzz/corpus/<target>/`.
pub fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

fn env_number(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(
        v.parse()
            .unwrap_or_else(|_| panic!("{name}={v:?}: expected a number")),
    )
}

/// Generated inputs to run per target.
pub fn cases() -> u32 {
    env_number("SCALEPILOT_FUZZ_CASES").map_or(DEFAULT_CASES, |n| n.min(u32::MAX.into()) as u32)
}

/// The seed of the generator: `SCALEPILOT_FUZZ_SEED` (a number, or `random`).
pub fn seed() -> u64 {
    match std::env::var("SCALEPILOT_FUZZ_SEED").as_deref() {
        Ok("random") => {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            t.as_nanos() as u64 ^ u64::from(std::process::id())
        }
        Ok(_) => env_number("SCALEPILOT_FUZZ_SEED").unwrap_or(DEFAULT_SEED),
        Err(_) => DEFAULT_SEED,
    }
}

/// The input as a reader can paste it back: text escaped, or bytes.
pub fn show(input: &[u8]) -> String {
    match std::str::from_utf8(input) {
        Ok(s) => format!("{s:?}"),
        Err(_) => format!(
            "bytes {input:?} (lossy: {:?})",
            String::from_utf8_lossy(input)
        ),
    }
}

/// Where a failing input is written, so it can become a seed.
fn save_failure(target: &str, kind: &str, input: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures");
    let _ = std::fs::create_dir_all(&dir);
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    let path = dir.join(format!("{target}-{kind}-{hash:016x}"));
    let _ = std::fs::write(&path, input);
    path
}

thread_local! {
    /// Bytes this thread allocated and has not freed (frees of memory other
    /// threads allocated count too, so it is an estimate, exact for a thread
    /// that frees what it allocates).
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
    /// Set on the threads that run inputs.
    static CAPPED: Cell<bool> = const { Cell::new(false) };
    static REPORTING: Cell<bool> = const { Cell::new(false) };
    /// The input this thread runs, for the report when it goes over the cap.
    static INPUT: RefCell<(&'static str, Vec<u8>)> = const { RefCell::new(("", Vec::new())) };
}

/// `System`, with per-thread counts of the bytes held.
pub struct Counting;

fn grew(bytes: usize) {
    let over = LIVE
        .try_with(|live| {
            let now = live.get().saturating_add(bytes);
            live.set(now);
            let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
            now > MEMORY_CAP && CAPPED.try_with(Cell::get).unwrap_or(false)
        })
        .unwrap_or(false);
    if over {
        over_cap();
    }
}

fn shrank(bytes: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(bytes)));
}

/// Reports the input that went over [`MEMORY_CAP`] and aborts (allocating
/// while reporting is allowed: the cap no longer applies to this thread).
#[cold]
fn over_cap() {
    if REPORTING.try_with(|r| r.replace(true)).unwrap_or(true) {
        return;
    }
    let _ = CAPPED.try_with(|c| c.set(false));
    let _ = INPUT.try_with(|i| {
        if let Ok(i) = i.try_borrow() {
            let path = save_failure(i.0, "memory", &i.1);
            let _ = writeln!(
                std::io::stderr(),
                "fuzz {}: one input made its thread hold more than {} MiB (saved to {}): {}",
                i.0,
                MEMORY_CAP >> 20,
                path.display(),
                show(&i.1)
            );
        }
    });
    std::process::abort();
}

// SAFETY: every call goes to `System` with the caller's arguments unchanged;
// the counts beside it touch only const-initialized thread locals that never
// allocate, and the report path (which may allocate) runs at most once per
// thread and ends the process.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrank(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            grew(new_size - layout.size());
        } else {
            shrank(layout.size() - new_size);
        }
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// What one guarded run measured.
pub struct Measured {
    pub elapsed: Duration,
    pub peak_bytes: usize,
}

/// Runs `f(input)` on its own thread: a panic is caught and returned as an
/// error with its message; past [`TIME_LIMIT`] the input is reported and the
/// binary aborts (a hung thread cannot be stopped, and a hang that allocates
/// would take the machine with it).
pub fn guarded(target: &'static str, input: &[u8], f: fn(&[u8]) -> Outcome) -> (Outcome, Measured) {
    let (tx, rx) = mpsc::channel();
    let owned = input.to_vec();
    let started = Instant::now();
    std::thread::Builder::new()
        .name(format!("fuzz-{target}"))
        .spawn(move || {
            INPUT.with(|i| *i.borrow_mut() = (target, owned));
            LIVE.with(|l| l.set(0));
            PEAK.with(|p| p.set(0));
            CAPPED.with(|c| c.set(true));
            let outcome = INPUT.with(|i| {
                let input = i.borrow().1.clone();
                catch_unwind(AssertUnwindSafe(|| f(&input)))
            });
            CAPPED.with(|c| c.set(false));
            let outcome = outcome.unwrap_or_else(|panic| {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "a panic without a message".into());
                Err(format!("panicked: {message}"))
            });
            let _ = tx.send((outcome, PEAK.with(Cell::get)));
        })
        .expect("spawn a fuzz thread");
    match rx.recv_timeout(TIME_LIMIT) {
        Ok((outcome, peak_bytes)) => (
            outcome,
            Measured {
                elapsed: started.elapsed(),
                peak_bytes,
            },
        ),
        Err(_) => {
            let path = save_failure(target, "hang", input);
            eprintln!(
                "fuzz {target}: one input ran for more than {:?} (saved to {}): {}",
                TIME_LIMIT,
                path.display(),
                show(input)
            );
            std::process::abort();
        }
    }
}

/// How far the inputs of a run got, and the slowest and the most
/// memory-hungry of them.
#[derive(Default)]
pub struct Extremes {
    pub inputs: u64,
    pub slowest: Duration,
    pub slowest_input: Vec<u8>,
    pub peak_bytes: usize,
    pub peak_input: Vec<u8>,
    pub stages: BTreeMap<&'static str, u64>,
}

impl Extremes {
    fn add(&mut self, input: &[u8], outcome: &Outcome, m: &Measured) {
        self.inputs += 1;
        if m.elapsed > self.slowest {
            self.slowest = m.elapsed;
            self.slowest_input = input.to_vec();
        }
        if m.peak_bytes > self.peak_bytes {
            self.peak_bytes = m.peak_bytes;
            self.peak_input = input.to_vec();
        }
        *self
            .stages
            .entry(*outcome.as_ref().unwrap_or(&"failed"))
            .or_default() += 1;
    }
}

/// Runs every seed of `target`, then [`cases`] inputs drawn from `strategy`,
/// each guarded; panics naming the (shrunk) input on the first failure.
pub fn fuzz<S>(target: &'static str, f: fn(&[u8]) -> Outcome, strategy: S)
where
    S: Strategy<Value = Vec<u8>>,
{
    let started = Instant::now();
    let mut seeds = Extremes::default();
    for (path, input) in corpus(target) {
        let (outcome, m) = guarded(target, &input, f);
        seeds.add(&input, &outcome, &m);
        if let Err(e) = outcome {
            panic!("fuzz {target}: seed {}: {e}", path.display());
        }
    }
    let seed = seed();
    let cases = cases();
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2000,
        max_global_rejects: cases.saturating_mul(4),
        ..Config::default()
    };
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..16].copy_from_slice(&(target.len() as u64).to_le_bytes());
    for (i, b) in target.bytes().enumerate().take(16) {
        bytes[16 + i] = b;
    }
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes));
    let generated = std::sync::Mutex::new(Extremes::default());
    let result = runner.run(&strategy, |input| {
        let (outcome, m) = guarded(target, &input, f);
        generated.lock().unwrap().add(&input, &outcome, &m);
        outcome.map(|_| ()).map_err(TestCaseError::fail)
    });
    let generated = generated.into_inner().unwrap();
    eprintln!(
        "fuzz {target}: {} seeds and {} generated inputs (seed {seed}) in {:.1?}; slowest {:.1?}, peak {:.1} MiB",
        seeds.inputs,
        generated.inputs,
        started.elapsed(),
        seeds.slowest.max(generated.slowest),
        seeds.peak_bytes.max(generated.peak_bytes) as f64 / f64::from(1 << 20),
    );
    eprintln!(
        "fuzz {target}: seeds by outcome: {:?}; generated inputs by outcome: {:?}",
        seeds.stages, generated.stages
    );
    // The slowest and the hungriest input, to look at (`target/tmp/fuzz-extremes/`).
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-extremes");
    let _ = std::fs::create_dir_all(&dir);
    for (run, e) in [("seeds", &seeds), ("generated", &generated)] {
        let _ = std::fs::write(
            dir.join(format!("{target}-{run}-slowest")),
            &e.slowest_input,
        );
        let _ = std::fs::write(dir.join(format!("{target}-{run}-peak")), &e.peak_input);
    }
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, input)) => {
            let path = save_failure(target, "fail", &input);
            panic!(
                "fuzz {target} (SCALEPILOT_FUZZ_SEED={seed}): {why}\ninput (shrunk, saved to {}): {}",
                path.display(),
                show(&input)
            );
        }
        Err(TestError::Abort(why)) => panic!("fuzz {target}: aborted: {why}"),
    }
}
