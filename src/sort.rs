//! One stable sort for the whole crate. `slice::sort_by` is generic over the element type and
//! the comparator, and each instantiation brings its own copy of driftsort (~4 KB of wasm);
//! here the sorting is done once, on indices behind a `dyn` comparator, and each element type
//! only adds a loop of swaps.

use std::cmp::Ordering;

/// Sorts `items` stably by `cmp`, like [`slice::sort_by`].
pub fn sort_by<T>(items: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    let swaps = plan(items.len(), &mut |a, b| cmp(&items[a], &items[b]));
    for (a, b) in swaps {
        items.swap(a, b);
    }
}

/// The swaps that put `0..len` in `cmp` order (stable): the sorted index order, then its cycles
/// walked so that position `i` receives the element that belongs there.
#[inline(never)]
fn plan(len: usize, cmp: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<(usize, usize)> {
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by(|&a, &b| cmp(a, b));
    let mut swaps = Vec::new();
    let mut done = vec![false; len];
    for start in 0..len {
        let mut i = start;
        while !done[i] {
            done[i] = true;
            let from = order[i];
            if from == start {
                break;
            }
            swaps.push((i, from));
            i = from;
        }
    }
    swaps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_stably_like_the_standard_sort() {
        let mut seed = 7u32;
        for len in 0..40 {
            let items: Vec<(u32, usize)> = (0..len)
                .map(|i| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    ((seed >> 16) % 5, i)
                })
                .collect();
            let mut ours = items.clone();
            sort_by(&mut ours, |a, b| a.0.cmp(&b.0));
            let mut std = items;
            std.sort_by_key(|a| a.0);
            assert_eq!(ours, std);
        }
        let mut words = vec!["b".to_owned(), "c".to_owned(), "a".to_owned()];
        sort_by(&mut words, |a, b| b.cmp(a));
        assert_eq!(words, ["c", "b", "a"]);
    }
}
