//! All-reduce cost of model-sized buffers through MPI (the surrogates' `MpiComm`, deterministic
//! rank-order reduction). Run under MPICH:
//!
//! ```sh
//! MPICC=mpicc.mpich cargo build --release --features mpi --example mpi_allreduce
//! mpirun.mpich -n 4 target/release/examples/mpi_allreduce
//! ```
//!
//! Rank 0 prints one JSON line per size: the median over 5 repeats of the mean time per
//! all-reduce of 200 back-to-back reductions, after a warm-up.

use std::time::Instant;

use hemoscale::surrogates::comm::mpi_comm::MpiComm;
use hemoscale::surrogates::comm::Communicator;

fn main() {
    let universe = mpi::initialize().expect("MPI initialises once");
    let mut comm = MpiComm::new(mpi::topology::Communicator::duplicate(&universe.world()));
    // The default surrogate (4,929), the GRU variant of the benchmarks (5,921), and a larger net.
    for n in [4_929usize, 5_921, 65_536] {
        let mut buf = vec![comm.rank() as f64; n];
        for _ in 0..20 {
            comm.all_reduce_mean(&mut buf).expect("all-reduce");
        }
        let mut times = Vec::new();
        for _ in 0..5 {
            comm.barrier().expect("barrier");
            let t0 = Instant::now();
            for _ in 0..200 {
                comm.all_reduce_mean(&mut buf).expect("all-reduce");
            }
            times.push(t0.elapsed().as_secs_f64() / 200.0);
        }
        times.sort_by(f64::total_cmp);
        if comm.rank() == 0 {
            println!(
                "{{\"ranks\":{},\"values\":{n},\"seconds_per_all_reduce\":{:.3e},\"bytes_sent_per_rank\":{}}}",
                comm.size(),
                times[2],
                8 * n * (comm.size() - 1)
            );
        }
    }
}
