//! A hash ring for consistent hashing: each endpoint owns many points; a key goes to the
//! first point at or after its hash. When an endpoint leaves, only the keys it owned move.

/// The 64-bit hash the ring uses (FNV-1a over the bytes, then a SplitMix64 finaliser for
/// good mixing), for [`super::ClientBuilder::hash_key`] functions that hash their own key.
pub fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Points on the ring, each naming an index into the endpoint list it was built from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ring {
    points: Vec<(u64, usize)>,
}

impl Ring {
    /// Builds a ring with `replicas` points for each endpoint id (index = position in `ids`).
    pub(crate) fn build<'a>(ids: impl IntoIterator<Item = &'a str>, replicas: usize) -> Self {
        let mut points = Vec::new();
        for (index, id) in ids.into_iter().enumerate() {
            for replica in 0..replicas.max(1) {
                points.push((hash(format!("{id}#{replica}").as_bytes()), index));
            }
        }
        points.sort_unstable();
        Self { points }
    }

    /// The endpoint indices in ring order starting at `key`'s point, each once.
    pub(crate) fn walk(&self, key: u64) -> impl Iterator<Item = usize> + '_ {
        let start = self.points.partition_point(|(h, _)| *h < key);
        let mut seen = Vec::new();
        self.points[start..]
            .iter()
            .chain(&self.points[..start])
            .map(|(_, index)| *index)
            .filter(move |index| {
                let new = !seen.contains(index);
                if new {
                    seen.push(*index);
                }
                new
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(ring: &Ring, ids: &[&str], key: u64, skip: Option<&str>) -> String {
        ring.walk(key)
            .map(|i| ids[i])
            .find(|id| Some(*id) != skip)
            .unwrap()
            .to_owned()
    }

    /// Keys spread over endpoints, and skipping one endpoint moves only the keys it owned.
    #[test]
    fn removal_moves_only_the_owned_keys() {
        let ids = ["a", "b", "c"];
        let ring = Ring::build(ids, 160);
        let keys: Vec<u64> = (0..3000)
            .map(|k| hash(format!("key-{k}").as_bytes()))
            .collect();
        let before: Vec<String> = keys.iter().map(|k| owner(&ring, &ids, *k, None)).collect();
        for id in ids {
            let share = before.iter().filter(|o| o.as_str() == id).count();
            assert!((700..1300).contains(&share), "{id} owns {share} of 3000");
        }
        let after: Vec<String> = keys
            .iter()
            .map(|k| owner(&ring, &ids, *k, Some("c")))
            .collect();
        for (b, a) in before.iter().zip(&after) {
            if b != "c" {
                assert_eq!(a, b, "a key not on the removed endpoint moved");
            } else {
                assert_ne!(a, "c");
            }
        }
    }
}
