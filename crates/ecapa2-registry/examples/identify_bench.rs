//! Identify over a large synthetic registry: bulk enrollment time, the first query (which
//! builds the search index), the query time of exact search over every speaker, and the query
//! time right after an enrollment (the index is updated in place, not rebuilt).
//!
//! ```sh
//! cargo run --release -p ecapa2-registry --example identify_bench -- 100000
//! ```
//! Speakers are random 192-d unit vectors; each query is a noisy copy of one speaker's vector
//! (cosine ≈ 0.9 to it), so the top-1 must be that speaker: the run also checks the answers.

use ecapa2_registry::{ModelIdentity, NewEnrollment, Registry};
use std::time::Instant;

const DIM: usize = 192;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        // xorshift64*: plenty for synthetic vectors.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }

    fn vector(&mut self) -> Vec<f32> {
        let v: Vec<f32> = (0..DIM).map(|_| self.next()).collect();
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / n).collect()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().nth(1).map_or(Ok(100_000), |a| a.parse())?;
    let queries = 200;
    let dir = std::env::temp_dir().join(format!("ecapa2-identify-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("registry.db");
    let id = ModelIdentity {
        model: "sha256:synthetic".into(),
        label: "embedding".into(),
        dim: DIM,
    };
    let mut reg = Registry::create(&db, &id)?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let vectors: Vec<Vec<f32>> = (0..n).map(|_| rng.vector()).collect();
    let names: Vec<String> = (0..n).map(|i| format!("spk{i:06}")).collect();

    let t = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(10_000) {
        let items: Vec<(&str, NewEnrollment<'_>)> = chunk
            .iter()
            .map(|&i| {
                (
                    names[i].as_str(),
                    NewEnrollment::new("synthetic", 3.0, &vectors[i]),
                )
            })
            .collect();
        reg.enroll_batch(&id, &items)?;
    }
    let enroll_s = t.elapsed().as_secs_f64();

    // Noisy copies of known speakers.
    let targets: Vec<usize> = (0..queries).map(|q| (q * 7919 + 13) % n).collect();
    let probes: Vec<Vec<f32>> = targets
        .iter()
        .map(|&i| {
            let noise = rng.vector();
            vectors[i]
                .iter()
                .zip(&noise)
                .map(|(v, e)| v + 0.45 * e)
                .collect()
        })
        .collect();

    let t = Instant::now();
    let first = reg.identify(&id, &probes[0], 10)?;
    let first_query_s = t.elapsed().as_secs_f64();
    let mut times = Vec::with_capacity(queries);
    let mut hits = usize::from(first[0].speaker == names[targets[0]]);
    for (probe, &target) in probes.iter().zip(&targets).skip(1) {
        let t = Instant::now();
        let top = reg.identify(&id, probe, 10)?;
        times.push(t.elapsed().as_secs_f64());
        hits += usize::from(top[0].speaker == names[target]);
    }
    times.sort_by(f64::total_cmp);
    let pct =
        |p: f64| times[((p * (times.len() - 1) as f64).round() as usize).min(times.len() - 1)];
    let t = Instant::now();
    for (probe, &target) in probes.iter().zip(&targets).take(50) {
        reg.verify(&id, &names[target], probe)?;
    }
    let verify_ms = 1000.0 * t.elapsed().as_secs_f64() / 50.0;
    // Enroll one new speaker, then query: the write updates the index in place.
    let mut after_write = Vec::with_capacity(50);
    for (k, probe) in probes.iter().take(50).enumerate() {
        let v = rng.vector();
        reg.enroll(
            &id,
            &format!("new{k:03}"),
            &[NewEnrollment::new("synthetic", 3.0, &v)],
        )?;
        let t = Instant::now();
        reg.identify(&id, probe, 10)?;
        after_write.push(t.elapsed().as_secs_f64());
    }
    after_write.sort_by(f64::total_cmp);
    let after_write_p50_ms = 1000.0 * after_write[after_write.len() / 2];
    let db_mb = std::fs::metadata(&db)?.len() as f64 / 1e6;
    println!(
        "{{\"speakers\": {n}, \"dim\": {DIM}, \"enroll_s\": {enroll_s:.2}, \"db_mb\": {db_mb:.1}, \
         \"first_query_ms\": {:.1}, \"query_p50_ms\": {:.2}, \"query_p99_ms\": {:.2}, \
         \"verify_ms\": {verify_ms:.3}, \"query_after_write_p50_ms\": {after_write_p50_ms:.2}, \
         \"top1_correct\": \"{hits}/{queries}\"}}",
        1000.0 * first_query_s,
        1000.0 * pct(0.5),
        1000.0 * pct(0.99)
    );
    drop(reg);
    std::fs::remove_dir_all(&dir)?;
    if hits != queries {
        return Err(format!("top-1 wrong for {} of {queries} queries", queries - hits).into());
    }
    Ok(())
}
