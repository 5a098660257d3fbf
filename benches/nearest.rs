//! The nearest-training-image search (memorisation check, data copying, the gallery's
//! side-by-side) against its naive form, side by side on real photos: same answers, time of
//! each. `cargo bench --bench nearest` (needs ../shared/data).

#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::Path;
use std::time::Instant;

use atelier::data::{Dataset, ImportOptions, import_folder};
use atelier::preset::SquareMode;
use atelier::quality::{PixelIndex, nearest_neighbours};
use rayon::prelude::*;

/// The search as it was: every pool image summed in full, in 64-bit arithmetic.
fn naive(queries: &[&[u8]], pool: &[&[u8]]) -> Vec<(usize, f32)> {
    let rms = |a: &[u8], b: &[u8]| {
        let sum: u64 = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| {
                let d = i64::from(x) - i64::from(y);
                (d * d) as u64
            })
            .sum();
        ((sum as f64 / a.len().max(1) as f64).sqrt() / 255.0) as f32
    };
    queries
        .par_iter()
        .map(|q| {
            pool.iter()
                .enumerate()
                .map(|(i, p)| (i, rms(q, p)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap_or((0, f32::INFINITY))
        })
        .collect()
}

fn load(folder: &str, resolution: usize, channels: usize) -> Dataset {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(folder);
    let options = ImportOptions {
        resolution,
        channels,
        square: SquareMode::Pad,
    };
    import_folder(&root, options, &|_| {}).unwrap().0
}

fn compare(what: &str, queries: &Dataset, pool: &Dataset, max_queries: usize) {
    let q: Vec<&[u8]> = (0..queries.len().min(max_queries))
        .map(|i| queries.image(i))
        .collect();
    let p: Vec<&[u8]> = (0..pool.len()).map(|i| pool.image(i)).collect();
    let t = Instant::now();
    let before = naive(&q, &p);
    let naive_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let after = nearest_neighbours(&q, &p);
    let new_secs = t.elapsed().as_secs_f64();
    assert_eq!(before, after, "{what}: the answers differ");
    println!(
        "{what}: {} queries x {} images: naive {naive_secs:.2} s, now {new_secs:.2} s ({:.1}x), same answers",
        q.len(),
        p.len(),
        naive_secs / new_secs
    );
    // The gallery's lookup: one shot at a time against an index kept between lookups.
    let one_at_a_time = &q[..q.len().min(50)];
    let t = Instant::now();
    let before: Vec<_> = one_at_a_time.iter().map(|x| naive(&[x], &p)[0]).collect();
    let naive_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let index = PixelIndex::new(&p);
    let build_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let after: Vec<_> = one_at_a_time
        .iter()
        .map(|x| index.nearest(&[x], &p)[0])
        .collect();
    let new_secs = t.elapsed().as_secs_f64();
    assert_eq!(before, after, "{what}: single lookups differ");
    let n = one_at_a_time.len() as f64;
    println!(
        "{what}: one shot at a time: naive {:.1} ms, now {:.1} ms per lookup ({:.1}x; the index takes {:.0} ms once)",
        1e3 * naive_secs / n,
        1e3 * new_secs / n,
        naive_secs / new_secs,
        1e3 * build_secs
    );
}

fn main() {
    println!("threads: {}", rayon::current_num_threads());
    let shirts = load("fmnist-tshirt-train", 28, 1);
    let (held, train) = (
        shirts.subset(&(0..300).collect::<Vec<_>>()),
        shirts.subset(&(300..shirts.len()).collect::<Vec<_>>()),
    );
    compare("T-shirts, 28 px grey", &held, &train, 300);
    let train = load("clothing-small/train", 64, 3);
    let validation = load("clothing-small/validation", 64, 3);
    compare("clothing-small, 64 px colour", &validation, &train, 341);
}
