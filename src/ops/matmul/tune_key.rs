//! What an automatic choice of version measures: the tuning key of a GEMM.

use super::{GemmDims, LaunchAdapter, MatmulVersion, spec, split, v4_wide, vec4_views};
use crate::ops::tune;

/// The tuning key of an automatic choice: sizes bucketed to powers of two, the
/// transposes, and every property the buckets do not determine that changes a
/// candidate's code path. Two GEMMs that share a key share the measured choice, so
/// they must meet the same code. (Keys gained the fields after `ta`/`tb`: entries of an
/// older on-disk cache no longer match and are measured again.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct MatmulTuneKey {
    /// Bucketed M, N, K and batch.
    sizes: [usize; 4],
    /// trans_a, trans_b (the TA and TB constants: the index arithmetic of every version).
    trans: [bool; 2],
    /// [VA, VB, VC] ([`vec4_views`]): V2 and V4 read A and B and write C as vec4s; each
    /// depends on a size mod 4, which the buckets do not determine.
    views: [bool; 3],
    /// The bias code (0 none, 1 per column, 2 per row): the BIAS constant of the GEMM, or
    /// of the reduce pass where K is split.
    bias: u32,
    /// V4's 8 columns per lane (WIDE). Determined by the N bucket where the lane count
    /// is a power of two; cheap to name.
    wide: bool,
    /// Per candidate, in the order given: whether it splits K ([`split`]: a scratch
    /// tensor, BIAS 0 in the GEMM, then the reduce pass). Depends on exact M, N (the
    /// version's tile count) and K (from 4096); the number of splits only partitions the
    /// work and is left out.
    split: Vec<bool>,
}

impl std::fmt::Display for MatmulTuneKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [m, n, k, batch] = self.sizes;
        let b = |v: bool| v as u8;
        let [va, vb, vc] = self.views.map(b);
        write!(
            f,
            "m={m},n={n},k={k},batch={batch},ta={},tb={},va={va},vb={vb},vc={vc},bias={},wide={},split=",
            b(self.trans[0]),
            b(self.trans[1]),
            self.bias,
            b(self.wide),
        )?;
        self.split.iter().try_for_each(|&s| write!(f, "{}", b(s)))
    }
}

/// The tuning key of `d` with bias code `bias` for `candidates` on an adapter whose
/// launch shapes follow `ad`.
pub(super) fn tune_key(
    ad: LaunchAdapter,
    candidates: &[MatmulVersion],
    d: &GemmDims,
    bias: u32,
) -> MatmulTuneKey {
    let b = tune::bucket;
    MatmulTuneKey {
        sizes: [b(d.m), b(d.n), b(d.k), b(d.batch)],
        trans: [d.trans_a, d.trans_b],
        views: vec4_views(d),
        bias,
        wide: v4_wide(ad, d.n),
        split: candidates
            .iter()
            .map(|&v| split(d, &spec(ad, v, d)).0 > 1)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::matmul::{candidates_for, constants, reads_views};
    use crate::ops::tune::KeyGrid;

    /// Adapters as (is_cpu, V4 available, launch lanes): lavapipe, llvmpipe on GL (no
    /// subgroups), and GPUs with 32 (NVIDIA), 64 (AMD) and 128 (Adreno) lanes.
    const ADAPTERS: [(bool, bool, u32); 5] = [
        (true, true, 8),
        (true, false, 8),
        (false, true, 32),
        (false, true, 64),
        (false, true, 128),
    ];

    fn adapter(is_cpu: bool, lanes: u32) -> LaunchAdapter {
        LaunchAdapter { lanes, cpu: is_cpu }
    }

    fn dims(m: usize, n: usize, k: usize, batch: usize, trans_a: bool, trans_b: bool) -> GemmDims {
        GemmDims {
            batch,
            m,
            n,
            k,
            trans_a,
            trans_b,
            batched_a: true,
            batched_b: batch > 1,
        }
    }

    /// Everything a launch of each candidate runs beyond the adapter: the kernel, its
    /// workgroup and tile, its constants, whether it splits K, the reduce pass's BIAS,
    /// and which vec4 views get stand-ins.
    fn paths(ad: LaunchAdapter, cands: &[MatmulVersion], d: &GemmDims, bias: u32) -> Vec<String> {
        cands
            .iter()
            .map(|&v| {
                let s = spec(ad, v, d);
                let (splits, _) = split(d, &s);
                format!(
                    "{} wg{} tile{}x{} {:?} split{} reduce-bias{} views{:?}",
                    s.kernel.name,
                    s.wg,
                    s.tile_m,
                    s.tile_n,
                    constants(ad, v, &s, d, bias, splits),
                    splits > 1,
                    if splits > 1 { bias } else { 0 },
                    reads_views(v).then(|| vec4_views(d)),
                )
            })
            .collect()
    }

    /// Over a grid of shapes around the bucket edges (31..33, 63..65, 1023/1024,
    /// 4095..4097, the loop caps of 32768 and 131072, odd sizes), every transpose and
    /// bias code, on five adapters: two GEMMs with the same key (and candidates) always
    /// run the same code in every candidate.
    #[test]
    fn shapes_that_share_a_key_share_code_paths() {
        let ms = [1, 3, 31, 32, 33, 63, 64, 65, 800, 1023, 1024];
        let ns = [1, 3, 4, 5, 31, 32, 33, 63, 64, 65, 512, 1023, 1024];
        let ks = [
            3, 4, 5, 31, 32, 33, 1023, 1024, 4095, 4096, 4097, 32768, 32769, 131073,
        ];
        let mut grid = KeyGrid::new();
        for (is_cpu, v4, lanes) in ADAPTERS {
            let ad = adapter(is_cpu, lanes);
            let cands = candidates_for(is_cpu, v4);
            for m in ms {
                for n in ns {
                    for k in ks {
                        for batch in [1, 2, 3, 64] {
                            for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
                                for bias in 0..3 {
                                    let d = dims(m, n, k, batch, ta, tb);
                                    let key = format!(
                                        "{is_cpu} {v4} {lanes} {cands:?} {}",
                                        tune_key(ad, &cands, &d, bias)
                                    );
                                    let now = paths(ad, &cands, &d, bias);
                                    let what =
                                        format!("m{m} n{n} k{k} batch{batch} ta{ta} tb{tb} bias{bias}");
                                    grid.add(key, now, what);
                                }
                            }
                        }
                    }
                }
            }
        }
        grid.assert_merged(grid.shapes() / 4);
    }

    /// The pairs the review found sharing a key while running other code.
    #[test]
    fn vec4_views_bias_and_split_k_get_their_own_keys() {
        let lavapipe = adapter(true, 8);
        let cands = candidates_for(true, true);
        let key = |d: &GemmDims, bias: u32| tune_key(lavapipe, &cands, d, bias);
        // K = 4095 and 4096 share the bucket 4096; only 4096 splits the few tiles of a
        // 64 x 64 output. (A stored transposed: neither view depends on K.)
        let (k4095, k4096) = (
            dims(64, 64, 4095, 1, true, false),
            dims(64, 64, 4096, 1, true, false),
        );
        assert_eq!(k4095.k.next_power_of_two(), k4096.k.next_power_of_two());
        assert_eq!(vec4_views(&k4095), vec4_views(&k4096));
        assert_ne!(key(&k4095, 0), key(&k4096, 0));
        // V2 on a CPU driver, N = 512, K = 4096: M = 800 leaves 7 x 8 < 64 tiles and
        // splits, M = 1024 makes 8 x 8 and does not.
        let (m800, m1024) = (
            dims(800, 512, 4096, 1, false, false),
            dims(1024, 512, 4096, 1, false, false),
        );
        let v2 = cands.iter().position(|&v| v == MatmulVersion::V2).unwrap();
        assert!(key(&m800, 0).split[v2] && !key(&m1024, 0).split[v2]);
        assert_ne!(key(&m800, 0), key(&m1024, 0));
        // Views: K = 63 and 64 (A's rows), N = 31 and 32 (B's and C's rows), and with B
        // stored transposed K decides B's view.
        assert_ne!(
            key(&dims(64, 64, 63, 1, false, false), 0),
            key(&dims(64, 64, 64, 1, false, false), 0)
        );
        assert_ne!(
            key(&dims(64, 31, 64, 1, false, false), 0),
            key(&dims(64, 32, 64, 1, false, false), 0)
        );
        assert_ne!(
            key(&dims(63, 64, 64, 1, true, false), 0),
            key(&dims(64, 64, 64, 1, true, false), 0)
        );
        assert_ne!(
            key(&dims(64, 63, 63, 1, true, true), 0),
            key(&dims(64, 63, 64, 1, true, true), 0)
        );
        // Bias: none, per column, per row.
        let d = dims(64, 64, 64, 1, false, false);
        assert_ne!(key(&d, 0), key(&d, 1));
        assert_ne!(key(&d, 1), key(&d, 2));
        // Nearby shapes with the same code still share one.
        assert_eq!(
            key(&dims(33, 60, 100, 1, false, false), 1),
            key(&dims(64, 64, 128, 1, false, false), 1)
        );
    }
}
