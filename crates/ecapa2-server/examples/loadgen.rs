//! A bounded, self-stopping load generator for `ecapa2 serve` (used by `bench/serve_load.py`):
//! `clients` threads each POST one audio file to `/v1/embed` in a loop until `seconds` have
//! passed, then it prints one JSON line: requests by status, transport failures, latency
//! percentiles, and audio seconds embedded per second.
//!
//! ```sh
//! cargo run --release -p ecapa2-server --example loadgen -- http://127.0.0.1:8080 audio.wav 32 60
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: loadgen URL AUDIO_FILE CLIENTS SECONDS");
        std::process::exit(2);
    }
    let url = format!("{}/v1/embed", args[1].trim_end_matches('/'));
    let body = std::fs::read(&args[2]).unwrap_or_else(|e| {
        eprintln!("{}: {e}", args[2]);
        std::process::exit(2)
    });
    let clients: usize = args[3].parse().unwrap_or(32);
    let seconds: f64 = args[4].parse().unwrap_or(60.0);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();

    // Each client: (status or 0 for a transport failure, latency s, audio s of a 200).
    let results: Vec<Vec<(u16, f64, f64)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                let (url, body) = (&url, &body);
                scope.spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .timeout_global(Some(Duration::from_secs(300)))
                        .build()
                        .into();
                    let mut out = Vec::new();
                    while Instant::now() < deadline {
                        let t = Instant::now();
                        let reply = agent
                            .post(url)
                            .header("Content-Type", "application/octet-stream")
                            .send(&body[..]);
                        let latency = t.elapsed().as_secs_f64();
                        match reply {
                            Ok(mut r) => {
                                let status = r.status().as_u16();
                                let text = r.body_mut().read_to_string().unwrap_or_default();
                                let audio = if status == 200 {
                                    serde_json::from_str::<serde_json::Value>(&text)
                                        .ok()
                                        .and_then(|v| v["duration_s"].as_f64())
                                        .unwrap_or(0.0)
                                } else {
                                    // Back off as told (503 Retry-After), briefly.
                                    std::thread::sleep(Duration::from_millis(50));
                                    0.0
                                };
                                out.push((status, latency, audio));
                            }
                            Err(_) => out.push((0, latency, 0.0)),
                        }
                    }
                    out
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let wall = started.elapsed().as_secs_f64();
    let all: Vec<(u16, f64, f64)> = results.into_iter().flatten().collect();
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for (status, _, _) in &all {
        let key = if *status == 0 {
            "transport_error".to_string()
        } else {
            status.to_string()
        };
        *by_status.entry(key).or_default() += 1;
    }
    let mut ok: Vec<f64> = all.iter().filter(|r| r.0 == 200).map(|r| r.1).collect();
    ok.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        if ok.is_empty() {
            f64::NAN
        } else {
            ok[((p * (ok.len() - 1) as f64).round() as usize).min(ok.len() - 1)]
        }
    };
    let audio: f64 = all.iter().map(|r| r.2).sum();
    let report = serde_json::json!({
        "clients": clients,
        "wall_s": wall,
        "requests": all.len(),
        "by_status": by_status,
        "ok": ok.len(),
        "p50_ms": 1000.0 * pct(0.5),
        "p99_ms": 1000.0 * pct(0.99),
        "max_ms": 1000.0 * ok.last().copied().unwrap_or(f64::NAN),
        "audio_s": audio,
        "audio_s_per_s": audio / wall,
        "requests_per_s": ok.len() as f64 / wall,
    });
    println!("{report}");
}
