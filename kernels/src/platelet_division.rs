//! Platelets divided among the ranks of a decomposed run.
//!
//! Every rank holds every platelet, but each plasma step only one rank advances each platelet
//! (`B(h)` of [`crate::mts`]), and then every rank takes what the others changed
//! ([`crate::mts::PlateletCpu::share`]). Which rank advances which platelet:
//!
//! 1. **Clusters.** Platelets that can touch each other during the step form a cluster
//!    ([`crate::mts::PlateletCpu::touching`]): their membranes come close enough to kick the
//!    same plasma particle or to feel each other's non-bonded or adhesion forces, or an adhesion
//!    bond joins them. A cluster is advanced whole by one rank, so no force crosses ranks inside
//!    `B(h)`: with multiple time stepping that would mean a message at every interface and
//!    non-bonded sub-step. Each cluster then evolves as in a single-rank run, up to the
//!    summation order of the plasma gathered around it.
//! 2. **Owner.** The rank whose brick holds the cluster's centre (the mean of its platelets'
//!    centres): a platelet belongs to the rank of its centre, as in LAMMPS and Mirheo, and a
//!    cluster to the rank of its centre.
//!
//! Every rank computes the same division from the same replicated state, so it needs no
//! message.
//!
//! ```
//! use hemoscale_kernels::platelet_division::{clusters, owners};
//! // Platelets 0 and 1 touch, 2 and 3 are alone.
//! let cluster = clusters(4, [(1, 0)].into_iter());
//! assert_eq!(cluster, vec![0, 0, 2, 3]);
//! // Centres along x in a box 20 long cut into two bricks at x = 10.
//! let reach = [([2.0, 5.0, 5.0], 4.0), ([19.0, 5.0, 5.0], 4.0), ([11.0, 5.0, 5.0], 4.0), ([5.0, 5.0, 5.0], 4.0)];
//! let brick = |x: [f32; 3]| usize::from(x[0] >= 10.0);
//! // The pair 0-1 lies across the periodic boundary: its centre is x = 0.5, on rank 0.
//! assert_eq!(owners(&reach, &cluster, [20.0, 10.0, 10.0], brick), vec![0, 0, 1, 0]);
//! ```

/// The cluster of each of `count` platelets, named by its lowest platelet index: the connected
/// components of the pairs `linked`.
pub fn clusters(count: usize, linked: impl Iterator<Item = (usize, usize)>) -> Vec<usize> {
    fn root(parent: &mut [usize], mut p: usize) -> usize {
        while parent[p] != p {
            parent[p] = parent[parent[p]];
            p = parent[p];
        }
        p
    }
    let mut parent: Vec<usize> = (0..count).collect();
    for (a, b) in linked {
        let (ra, rb) = (root(&mut parent, a), root(&mut parent, b));
        // The lower index names the cluster.
        parent[ra.max(rb)] = ra.min(rb);
    }
    (0..count).map(|p| root(&mut parent, p)).collect()
}

/// The rank that advances each platelet: `owner` of its cluster's centre (the mean of the
/// member platelets' centres `reach[p].0`, taken relative to the cluster's first platelet under
/// the minimum image of the box `len`, wrapped into the box). `cluster` comes from [`clusters`].
pub fn owners(
    reach: &[([f32; 3], f32)],
    cluster: &[usize],
    len: [f32; 3],
    owner: impl Fn([f32; 3]) -> usize,
) -> Vec<usize> {
    let mut sum = vec![[0.0f64; 3]; reach.len()];
    let mut count = vec![0usize; reach.len()];
    for (p, &c) in cluster.iter().enumerate() {
        for k in 0..3 {
            let d = reach[p].0[k] - reach[c].0[k];
            sum[c][k] += f64::from(d - len[k] * (d / len[k]).round());
        }
        count[c] += 1;
    }
    let rank_of: Vec<usize> = (0..reach.len())
        .map(|c| {
            if count[c] == 0 {
                return 0;
            }
            owner(std::array::from_fn(|k| {
                let x = reach[c].0[k] + (sum[c][k] / count[c] as f64) as f32;
                x - len[k] * (x / len[k]).floor()
            }))
        })
        .collect();
    cluster.iter().map(|&c| rank_of[c]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain of links is one cluster even where its ends lie far apart, and the cluster goes
    /// to the rank of its mean centre, here across the periodic boundary.
    #[test]
    fn a_chain_is_one_cluster_owned_by_the_rank_of_its_centre() {
        let len = [30.0, 10.0, 10.0];
        let reach = [([1.0, 5.0, 5.0], 2.0), ([28.0, 5.0, 5.0], 2.0), ([25.0, 5.0, 5.0], 2.0), ([14.0, 5.0, 5.0], 2.0)];
        let c = clusters(4, [(2, 1), (0, 1)].into_iter());
        assert_eq!(c, vec![0, 0, 0, 3]);
        // Two bricks along x: [0, 15) and [15, 30). The chain's centre lies 3 below platelet 0
        // (offsets 0, -3, -6), at -2, which wraps to 28.
        let brick = |x: [f32; 3]| usize::from(x[0] >= 15.0);
        assert_eq!(owners(&reach, &c, len, brick), vec![1, 1, 1, 0]);
        assert_eq!(clusters(3, std::iter::empty()), vec![0, 1, 2]);
    }
}
