//! The thread pool every parallel kernel runs on, sized to the CPUs this process was given.
//!
//! rayon's global pool takes the machine's core count and can be built only once, so a Ray
//! worker granted 1 CPU on a 64-core node would spread each batch over 64 threads. Kernels run
//! through [`install`] instead, on a pool that [`set_threads`] can rebuild at any time: a run
//! that asks for a new size gets a new pool, and batches still running finish on the old one
//! (each holds its own `Arc`). Until someone sets a size, the pool follows `RAYON_NUM_THREADS`
//! or the available parallelism, as rayon's global pool would.

use std::sync::{Arc, RwLock};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};

static POOL: RwLock<Option<Arc<ThreadPool>>> = RwLock::new(None);

fn build(threads: usize) -> Result<Arc<ThreadPool>, String> {
    ThreadPoolBuilder::new()
        .num_threads(threads) // 0 = rayon's default (RAYON_NUM_THREADS, else all cores)
        .thread_name(|i| format!("mdfql-kernel-{i}"))
        .build()
        .map(Arc::new)
        .map_err(|e| format!("cannot start a {threads}-thread kernel pool: {e}"))
}

/// The pool in effect, created with rayon's default size on first use.
fn pool() -> Arc<ThreadPool> {
    if let Some(p) = POOL.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        return Arc::clone(p);
    }
    let mut slot = POOL.write().unwrap_or_else(|e| e.into_inner());
    // The default pool is the one thing that may fail here only when the OS refuses threads;
    // rayon's own global pool panics in that case too.
    Arc::clone(slot.get_or_insert_with(|| build(0).expect("kernel thread pool")))
}

/// Use a pool of `threads` threads from now on (a no-op when the size is already that).
pub fn set_threads(threads: usize) -> Result<usize, String> {
    if threads == 0 {
        return Err("threads must be at least 1".into());
    }
    let mut slot = POOL.write().unwrap_or_else(|e| e.into_inner());
    if slot.as_ref().map(|p| p.current_num_threads()) != Some(threads) {
        *slot = Some(build(threads)?);
    }
    Ok(threads)
}

/// Threads of the pool in effect.
pub fn current_threads() -> usize {
    pool().current_num_threads()
}

/// Run `f` inside the kernel pool: rayon's parallel iterators in `f` use its threads.
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    pool().install(f)
}

/// Release the GIL and run `f` on the kernel pool: how every parallel kernel runs its batch. A
/// panic in it (on any pool thread) is a `KernelPanic` error (`arrow_io::detach_guarded`).
pub fn detach<R: Send>(py: Python<'_>, f: impl FnOnce() -> R + Send) -> PyResult<R> {
    crate::arrow_io::detach_guarded(py, || install(f))
}

/// How many distinct pool threads `tasks` parallel tasks of `spin_us` microseconds ran on:
/// what a kernel batch actually fans out to (tests check the pool size takes effect).
pub fn threads_used(tasks: usize, spin_us: u64) -> usize {
    use rayon::prelude::*;
    use std::collections::HashSet;
    use std::time::{Duration, Instant};

    let ids: Vec<Option<usize>> = install(|| {
        (0..tasks)
            .into_par_iter()
            .with_max_len(1) // one task per job: idle threads steal as they can
            .map(|_| {
                let until = Instant::now() + Duration::from_micros(spin_us);
                while Instant::now() < until {
                    std::hint::spin_loop();
                }
                rayon::current_thread_index()
            })
            .collect()
    });
    ids.into_iter().flatten().collect::<HashSet<_>>().len()
}

#[pyfunction(name = "set_threads")]
fn py_set_threads(py: Python<'_>, threads: usize) -> PyResult<usize> {
    py.detach(|| set_threads(threads)).map_err(PyValueError::new_err)
}

#[pyfunction(name = "current_threads")]
fn py_current_threads(py: Python<'_>) -> usize {
    py.detach(current_threads)
}

#[pyfunction(name = "threads_used")]
#[pyo3(signature = (tasks = 64, spin_us = 2000))]
fn py_threads_used(py: Python<'_>, tasks: usize, spin_us: u64) -> usize {
    py.detach(|| threads_used(tasks, spin_us))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(py_set_threads, m)?)?;
    m.add_function(wrap_pyfunction!(py_current_threads, m)?)?;
    m.add_function(wrap_pyfunction!(py_threads_used, m)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test: the pool is process-wide, so parallel tests would race on its size.
    #[test]
    fn resizes_and_kernels_use_only_the_pool() {
        assert!(set_threads(0).is_err());
        assert_eq!(set_threads(1), Ok(1));
        assert_eq!(current_threads(), 1);
        assert_eq!(threads_used(32, 500), 1);
        assert_eq!(set_threads(3), Ok(3));
        assert_eq!(current_threads(), 3);
        let used = threads_used(256, 2000);
        assert!((1..=3).contains(&used), "{used} threads used by a 3-thread pool");
        // a batch already running keeps its pool while another size is set
        let inner = install(|| {
            set_threads(2).unwrap();
            rayon::current_num_threads()
        });
        assert_eq!(inner, 3);
        assert_eq!(current_threads(), 2);
    }
}
