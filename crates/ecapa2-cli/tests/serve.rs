//! `ecapa2 serve` end to end: the real binary on 127.0.0.1 (an ephemeral port) with the
//! committed fixture models, driven over HTTP.

mod common;

use common::{root, Server};
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const TINY: &str = "tests/fixtures/tiny/model.pt";
const SMALL: &str = "tests/fixtures/small/model.pt";
const SPEECH: &str = "tests/fixtures/audio/speech_16k.wav";
const SPEECH2: &str = "tests/fixtures/audio/speech2_16k.wav";
const KEY: &str = "s3cret-key";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

struct Reply {
    status: u16,
    content_type: String,
    retry_after: Option<String>,
    www_authenticate: Option<String>,
    body: String,
}

impl Reply {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// A problem+json error with `status`, whose detail contains `needle`.
    fn assert_problem(&self, status: u16, needle: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(
            self.content_type, "application/problem+json",
            "{}",
            self.body
        );
        let p = self.json();
        assert_eq!(p["status"], status);
        let detail = p["detail"].as_str().unwrap();
        assert!(detail.contains(needle), "{detail:?} lacks {needle:?}");
    }
}

fn send(
    method: &str,
    url: &str,
    content_type: Option<&str>,
    auth: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let agent = agent();
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    if let Some(ct) = content_type {
        req = req.header("Content-Type", ct);
    }
    if let Some(key) = auth {
        req = req.header("Authorization", format!("Bearer {key}"));
    }
    let mut resp = agent.run(req.body(body).unwrap()).expect("request");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (content_type, retry_after, www_authenticate) = (
        header("content-type").unwrap_or_default(),
        header("retry-after"),
        header("www-authenticate"),
    );
    Reply {
        status: resp.status().as_u16(),
        content_type,
        retry_after,
        www_authenticate,
        body: resp.body_mut().read_to_string().unwrap_or_default(),
    }
}

fn get(url: &str) -> Reply {
    send("GET", url, None, None, Vec::new())
}

fn post_file(url: &str, file: &str) -> Reply {
    post_file_auth(url, file, None)
}

fn post_file_auth(url: &str, file: &str, key: Option<&str>) -> Reply {
    send(
        "POST",
        url,
        Some("application/octet-stream"),
        key,
        std::fs::read(root().join(file)).unwrap(),
    )
}

fn post_json(url: &str, value: &serde_json::Value) -> Reply {
    send(
        "POST",
        url,
        Some("application/json"),
        None,
        serde_json::to_vec(value).unwrap(),
    )
}

/// A multipart/form-data body of files.
fn multipart(files: &[(&str, &str)]) -> (String, Vec<u8>) {
    let boundary = "ecapa2-test-boundary-7d1f";
    let mut body = Vec::new();
    for (field, file) in files {
        let name = Path::new(file).file_name().unwrap().to_str().unwrap();
        write!(
            body,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .unwrap();
        body.extend(std::fs::read(root().join(file)).unwrap());
        body.extend(b"\r\n");
    }
    write!(body, "--{boundary}--\r\n").unwrap();
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The CLI's embedding of a file (the reference the service must equal).
fn cli_embed(model: &str, file: &str) -> Vec<f64> {
    let out = Command::new(env!("CARGO_BIN_EXE_ecapa2"))
        .current_dir(root())
        .args(["--threads", "1", "embed", "--model", model, file])
        .output()
        .unwrap();
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    floats(&line["vector"])
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn assert_close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= tol, "{x} vs {y}");
    }
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let d: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    d / (a.iter().map(|x| x * x).sum::<f64>().sqrt() * b.iter().map(|x| x * x).sum::<f64>().sqrt())
}

#[test]
fn embeddings_scores_and_errors() {
    let s = Server::start(TINY, &["--max-body", "4M", "--max-audio-seconds", "20"]);
    let u = &s.url;
    assert_eq!(get(&format!("{u}/healthz")).status, 200);
    assert_eq!(get(&format!("{u}/readyz")).json()["status"], "ready");
    let model = get(&format!("{u}/v1/model")).json();
    assert!(model["model"].as_str().unwrap().starts_with("sha256:"));
    assert!(model["licence"].as_str().unwrap().contains("CC-BY-NC-4.0"));
    let labels: Vec<(String, u64)> = model["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["label"].as_str().unwrap().to_string(),
                l["dim"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(labels[4], ("embedding".to_string(), 32));
    let openapi = get(&format!("{u}/openapi.json")).json();
    for path in [
        "/v1/embed",
        "/v1/score",
        "/v1/speakers",
        "/v1/verify",
        "/v1/identify",
        "/metrics",
    ] {
        assert!(
            openapi["paths"][path].is_object(),
            "{path} not in the OpenAPI document"
        );
    }

    // Same embeddings as the CLI, for every format the CLI reads (decoded the same way).
    for file in [
        SPEECH,
        "tests/fixtures/audio/speech_16k.flac",
        "tests/fixtures/audio/speech_16k.mp3",
        "tests/fixtures/audio/speech_16k.ogg",
        "tests/fixtures/audio/stereo_44k.wav",
    ] {
        let r = post_file(&format!("{u}/v1/embed"), file);
        assert_eq!(r.status, 200, "{file}: {}", r.body);
        let j = r.json();
        assert_eq!(
            (j["label"].as_str(), j["dim"].as_u64()),
            (Some("embedding"), Some(32))
        );
        assert_close(&floats(&j["embedding"]), &cli_embed(TINY, file), 1e-6);
        assert!(j["duration_s"].as_f64().unwrap() > 0.5);
    }
    // JSON samples: the decoded WAV as numbers gives the same embedding.
    let loaded = ecapa2_audio::load(
        root().join(SPEECH),
        &ecapa2_audio::LoadOptions::for_model(16_000, 1),
    )
    .unwrap();
    let samples = &loaded.signals[0];
    let r = post_json(
        &format!("{u}/v1/embed"),
        &serde_json::json!({"samples": samples, "sample_rate": 16000}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_close(
        &floats(&r.json()["embedding"]),
        &cli_embed(TINY, SPEECH),
        1e-6,
    );
    // Several labels, concatenated in network order.
    let r = post_file(&format!("{u}/v1/embed?label=pool%7Cgfe_1"), SPEECH);
    assert_eq!(r.json()["dim"], 128 + 192, "{}", r.body);

    // Score: cosine of the two CLI embeddings.
    let (ct, body) = multipart(&[("a", SPEECH), ("b", SPEECH2)]);
    let r = send("POST", &format!("{u}/v1/score"), Some(&ct), None, body);
    assert_eq!(r.status, 200, "{}", r.body);
    let want = cosine(&cli_embed(TINY, SPEECH), &cli_embed(TINY, SPEECH2));
    assert!((r.json()["score"].as_f64().unwrap() - want).abs() < 1e-5);

    // Every error is problem+json with its own status.
    post_file(&format!("{u}/v1/embed?label=nope"), SPEECH).assert_problem(400, "valid labels are");
    post_file(
        &format!("{u}/v1/embed"),
        "tests/fixtures/audio/not_audio.wav",
    )
    .assert_problem(415, "unsupported");
    post_file(
        &format!("{u}/v1/embed"),
        "tests/fixtures/audio/truncated_header.wav",
    )
    .assert_problem(422, "");
    post_file(&format!("{u}/v1/embed"), "tests/fixtures/audio/empty.wav")
        .assert_problem(422, "empty");
    post_file(
        &format!("{u}/v1/embed"),
        "tests/fixtures/audio/short_10ms.wav",
    )
    .assert_problem(422, "too short");
    post_file(&format!("{u}/v1/embed"), "tests/fixtures/audio/nan_f32.wav")
        .assert_problem(422, "non-finite");
    send("POST", &format!("{u}/v1/embed"), None, None, Vec::new())
        .assert_problem(422, "empty body");
    send(
        "POST",
        &format!("{u}/v1/embed"),
        Some("application/json"),
        None,
        b"{\"samples\": [1,".to_vec(),
    )
    .assert_problem(400, "JSON");
    post_json(
        &format!("{u}/v1/embed"),
        &serde_json::json!({"samples": [0.1, 0.2], "sample_rate": 0}),
    )
    .assert_problem(422, "sample_rate");
    post_json(
        &format!("{u}/v1/embed"),
        &serde_json::json!({"samples": vec![0.0f32; 100], "sample_rate": 16000}),
    )
    .assert_problem(422, "too short");
    // The server answers 413 before reading the body, so write it raw and ignore the pipe.
    let addr = u.trim_start_matches("http://");
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    write!(tcp, "POST /v1/embed HTTP/1.1\r\nHost: {addr}\r\nContent-Type: audio/wav\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", 8 << 20).unwrap();
    let _ = tcp.write_all(&vec![0u8; 8 << 20]);
    let mut raw = String::new();
    let _ = tcp.read_to_string(&mut raw);
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(
        raw.contains("application/problem+json") && raw.contains("size limit"),
        "{raw}"
    );
    post_json(
        &format!("{u}/v1/embed"),
        &serde_json::json!({"samples": vec![0.5f32; 16000 * 21], "sample_rate": 16000}),
    )
    .assert_problem(413, "limit of 20 s");
    let (ct, body) = multipart(&[("a", SPEECH)]);
    send("POST", &format!("{u}/v1/score"), Some(&ct), None, body).assert_problem(400, "`b`");
    post_file(&format!("{u}/v1/score"), SPEECH).assert_problem(400, "multipart");
    get(&format!("{u}/v1/nothing")).assert_problem(404, "no such endpoint");
    // Without --db the registry endpoints say how to get one.
    get(&format!("{u}/v1/speakers")).assert_problem(404, "--db");

    // Metrics saw all of it.
    let metrics = get(&format!("{u}/metrics")).body;
    for needle in [
        "ecapa2_http_requests_total{route=\"/v1/embed\",status=\"200\"}",
        "ecapa2_http_requests_total{route=\"/v1/embed\",status=\"415\"}",
        "ecapa2_http_requests_total{route=\"/v1/embed\",status=\"413\"}",
        "ecapa2_http_request_duration_seconds_bucket",
        "ecapa2_queue_depth",
        "ecapa2_batch_size_count",
        "ecapa2_audio_seconds_total",
    ] {
        assert!(metrics.contains(needle), "{needle} missing from\n{metrics}");
    }
}

/// Compressed files are stopped while decoding at the duration limit (413), as are WAVs by
/// their header, before their samples are read.
#[test]
fn audio_over_the_duration_limit_is_413_for_every_format() {
    let s = Server::start(TINY, &["--max-audio-seconds", "1"]);
    for file in [
        SPEECH,
        "tests/fixtures/audio/speech_16k.flac",
        "tests/fixtures/audio/speech_16k.mp3",
        "tests/fixtures/audio/speech_16k.ogg",
    ] {
        post_file(&format!("{}/v1/embed", s.url), file).assert_problem(413, "limit of 1 s");
    }
}

#[test]
fn registry_endpoints_with_auth() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("reg.db");
    let s = Server::start(TINY, &["--db", db.to_str().unwrap(), "--api-key", KEY]);
    let u = &s.url;
    let wav = |f: &str| std::fs::read(root().join(f)).unwrap();
    let enroll = |name: &str, file: &str, key: Option<&str>| {
        send(
            "POST",
            &format!("{u}/v1/speakers/{name}/enrollments?source={file}"),
            Some("audio/wav"),
            key,
            wav(file),
        )
    };
    // Every registry endpoint needs the key, reads included; the probes do not.
    let get_key = |url: &str| send("GET", url, None, Some(KEY), Vec::new());
    get(&format!("{u}/v1/speakers")).assert_problem(401, "Bearer");
    post_file(&format!("{u}/v1/verify?speaker=alice"), SPEECH2).assert_problem(401, "Bearer");
    post_file(&format!("{u}/v1/identify"), SPEECH2).assert_problem(401, "Bearer");
    assert_eq!(get(&format!("{u}/healthz")).status, 200);
    let r = enroll("alice", SPEECH, None);
    r.assert_problem(401, "Bearer");
    assert_eq!(r.www_authenticate.as_deref(), Some("Bearer"));
    enroll("alice", SPEECH, Some("wrong")).assert_problem(401, "Bearer");
    let r = enroll("alice", SPEECH, Some(KEY));
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["enrollments"], 1);
    // Several files in one multipart request, all or nothing.
    let (ct, body) = multipart(&[("f", SPEECH2), ("g", SPEECH2)]);
    let r = send(
        "POST",
        &format!("{u}/v1/speakers/bob/enrollments"),
        Some(&ct),
        Some(KEY),
        body,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // The same recording twice is one enrollment: the second says it was not new.
    let ids = r.json()["enrollment_ids"].clone();
    assert_eq!(ids.as_array().unwrap().len(), 2);
    assert_eq!(ids[0], ids[1]);
    assert_eq!(r.json()["new"], serde_json::json!([true, false]));
    // A retried request stores nothing and says so (200, not 201).
    let r = enroll("alice", SPEECH, Some(KEY));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["new"], serde_json::json!([false]));
    assert_eq!(r.json()["enrollments"], 1);
    let (ct, body) = multipart(&[("f", SPEECH2), ("g", "tests/fixtures/audio/not_audio.wav")]);
    send(
        "POST",
        &format!("{u}/v1/speakers/carol/enrollments"),
        Some(&ct),
        Some(KEY),
        body,
    )
    .assert_problem(415, "not_audio.wav");

    let list = get_key(&format!("{u}/v1/speakers")).json();
    let names: Vec<&str> = list["speakers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    assert!(list["threshold"].is_null());
    let bob = get_key(&format!("{u}/v1/speakers/bob")).json();
    assert_eq!(bob["enrollments"].as_array().unwrap().len(), 1);
    get_key(&format!("{u}/v1/speakers/carol")).assert_problem(404, "carol");

    // Verify: the score is the cosine of the CLI embeddings; identify ranks bob first.
    let r = post_file_auth(&format!("{u}/v1/verify?speaker=alice"), SPEECH2, Some(KEY));
    assert_eq!(r.status, 200, "{}", r.body);
    let want = cosine(&cli_embed(TINY, SPEECH), &cli_embed(TINY, SPEECH2));
    let v = r.json();
    assert!((v["score"].as_f64().unwrap() - want).abs() < 1e-5, "{v}");
    assert!(v["accepted"].is_null());
    post_file_auth(&format!("{u}/v1/verify?speaker=nobody"), SPEECH, Some(KEY))
        .assert_problem(404, "nobody");
    post_file_auth(&format!("{u}/v1/verify"), SPEECH, Some(KEY)).assert_problem(400, "speaker");
    let r = post_file_auth(&format!("{u}/v1/identify?top=1"), SPEECH2, Some(KEY));
    let c = &r.json()["candidates"];
    assert_eq!(c.as_array().unwrap().len(), 1, "{}", r.body);
    assert_eq!(c[0]["speaker"], "bob");
    assert!((c[0]["score"].as_f64().unwrap() - 1.0).abs() < 1e-5);
    post_file_auth(&format!("{u}/v1/identify?top=0"), SPEECH, Some(KEY)).assert_problem(400, "top");
    post_file_auth(&format!("{u}/v1/identify?top=x"), SPEECH, Some(KEY)).assert_problem(400, "top");

    // Removal: an enrollment of another speaker is not found; then the speaker goes.
    assert_eq!(enroll("bob", SPEECH, Some(KEY)).status, 201);
    let bob_first = bob["enrollments"][0]["id"].as_i64().unwrap();
    send(
        "DELETE",
        &format!("{u}/v1/speakers/alice/enrollments/{bob_first}"),
        None,
        Some(KEY),
        vec![],
    )
    .assert_problem(404, "no enrollment");
    send(
        "DELETE",
        &format!("{u}/v1/speakers/bob"),
        None,
        None,
        vec![],
    )
    .assert_problem(401, "Bearer");
    let r = send(
        "DELETE",
        &format!("{u}/v1/speakers/bob/enrollments/{bob_first}"),
        None,
        Some(KEY),
        vec![],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(
        "DELETE",
        &format!("{u}/v1/speakers/bob"),
        None,
        Some(KEY),
        vec![],
    );
    assert_eq!(r.json()["removed_enrollments"], 1, "{}", r.body);
    send(
        "DELETE",
        &format!("{u}/v1/speakers/bob"),
        None,
        Some(KEY),
        vec![],
    )
    .assert_problem(404, "bob");

    // Graceful shutdown flushes the database: the file alone holds alice.
    s.sigterm();
    let mut s = s;
    let status = s.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let wal = dir.path().join("reg.db-wal");
    assert!(!wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0);
    let reg = ecapa2_registry::Registry::open(&db).unwrap();
    assert_eq!(reg.speakers().unwrap().len(), 1);
}

/// 20 s of a deterministic tone+noise signal, as JSON (slow enough on the small model to keep
/// the engine busy).
fn long_json(seconds: usize) -> serde_json::Value {
    let samples: Vec<f32> = (0..16_000 * seconds)
        .map(|i| {
            let t = i as f32 / 16_000.0;
            0.3 * (2.0 * std::f32::consts::PI * 220.0 * t).sin()
                + 0.01 * (((i * 7919) % 101) as f32 / 50.0 - 1.0)
        })
        .collect();
    serde_json::json!({"samples": samples, "sample_rate": 16000})
}

#[test]
fn overload_is_503_with_retry_after_and_shutdown_finishes_in_flight_work() {
    let s = Server::start(SMALL, &["--queue-len", "2", "--request-timeout", "30"]);
    let body = serde_json::to_vec(&long_json(20)).unwrap();
    // 12 clients at once against a queue of 2: some are refused at once, none time out or fail.
    let replies: Vec<Reply> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..12)
            .map(|_| {
                let (url, body) = (format!("{}/v1/embed", s.url), body.clone());
                scope.spawn(move || send("POST", &url, Some("application/json"), None, body))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = replies.iter().filter(|r| r.status == 200).count();
    let refused: Vec<&Reply> = replies.iter().filter(|r| r.status == 503).collect();
    assert_eq!(
        ok + refused.len(),
        12,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(
        !refused.is_empty() && ok >= 2,
        "ok {ok}, refused {}",
        refused.len()
    );
    for r in refused {
        r.assert_problem(503, "queue is full");
        assert_eq!(r.retry_after.as_deref(), Some("1"));
    }
    let metrics = get(&format!("{}/metrics", s.url)).body;
    assert!(
        metrics.contains("ecapa2_requests_rejected_total"),
        "{metrics}"
    );

    // SIGTERM while two requests are in flight: both complete, then the process exits 0.
    let in_flight: Vec<Reply> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (url, body) = (format!("{}/v1/embed", s.url), body.clone());
                scope.spawn(move || send("POST", &url, Some("application/json"), None, body))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(400));
        s.sigterm();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in &in_flight {
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let mut s = s;
    let status = s.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut err = String::new();
    s.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("shutdown complete"), "{err}");
}

#[test]
fn a_client_that_leaves_cancels_its_queued_job() {
    // A long timeout: only the disconnect can cancel the job.
    let s = Server::start(SMALL, &["--request-timeout", "120"]);
    let long = serde_json::to_vec(&long_json(30)).unwrap();
    let url = format!("{}/v1/embed", s.url);
    std::thread::scope(|scope| {
        // Occupy the engine, then queue a request from a client that hangs up.
        let busy = scope.spawn(|| send("POST", &url, Some("application/json"), None, long.clone()));
        // Wait for the engine to take it (a fixed sleep raced with a loaded machine: both jobs
        // then formed one batch and nothing was left to cancel).
        wait_for_metric(&s.url, "ecapa2_queue_wait_seconds_count", 1.0);
        let addr = s.url.trim_start_matches("http://");
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        write!(
            tcp,
            "POST /v1/embed HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            long.len()
        )
        .unwrap();
        tcp.write_all(&long).unwrap();
        wait_for_metric(&s.url, "ecapa2_queue_depth", 1.0);
        drop(tcp);
        assert_eq!(busy.join().unwrap().status, 200);
    });
    let mut cancelled = 0.0;
    for _ in 0..100 {
        let metrics = get(&format!("{}/metrics", s.url)).body;
        cancelled = counter(&metrics, "ecapa2_jobs_cancelled_total");
        if cancelled >= 1.0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(cancelled, 1.0, "the abandoned job was not dropped");
    // It never reached the engine: one batch ran (the busy request's).
    let metrics = get(&format!("{}/metrics", s.url)).body;
    assert_eq!(
        counter(&metrics, "ecapa2_batch_size_count"),
        1.0,
        "{metrics}"
    );
}

#[test]
fn the_request_timeout_counts_queueing_only_and_timed_out_jobs_leave_the_queue() {
    // A queue of one and a 0.5 s timeout; each request computes for far longer than that.
    let s = Server::start(SMALL, &["--request-timeout", "0.5", "--queue-len", "1"]);
    let long = serde_json::to_vec(&long_json(30)).unwrap();
    let url = format!("{}/v1/embed", s.url);
    let post = || send("POST", &url, Some("application/json"), None, long.clone());
    std::thread::scope(|scope| {
        // A: taken by the engine at once, answered however long it computes.
        let a = scope.spawn(post);
        std::thread::sleep(Duration::from_millis(200));
        // B: waits in the queue behind A past the timeout.
        let b = post();
        b.assert_problem(503, "timeout");
        assert!(b.retry_after.is_some());
        // B left the queue when it timed out, though A still computes: C is queued (and
        // times out in turn), not refused as if the queue were still full.
        let c = post();
        assert!(
            c.status == 200 || c.body.contains("timeout"),
            "{} {}",
            c.status,
            c.body
        );
        let a = a.join().unwrap();
        assert_eq!(a.status, 200, "{}", a.body);
    });
    let metrics = get(&format!("{}/metrics", s.url)).body;
    assert_eq!(
        counter(&metrics, "ecapa2_requests_rejected_total"),
        0.0,
        "{metrics}"
    );
}

/// Polls `/metrics` until `name` reaches `at_least` (10 s at most, then fails the test).
fn wait_for_metric(url: &str, name: &str, at_least: f64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let value = counter(&get(&format!("{url}/metrics")).body, name);
        if value >= at_least {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name} stayed at {value}, below {at_least}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The value of an unlabelled counter or histogram count in Prometheus text.
fn counter(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn diarize_endpoint_equals_the_cli_and_shares_embed_limits() {
    let sample = "tests/fixtures/diarization/sample.wav";
    let s = Server::start(TINY, &[]);
    let r = post_file(&format!("{}/v1/diarize?num_speakers=2", s.url), sample);
    assert_eq!(r.status, 200, "{}", r.body);
    let got = r.json();
    // The same pipeline as `ecapa2 diarize` (batched windows, same VAD): the same turns.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let status = Command::new(env!("CARGO_BIN_EXE_ecapa2"))
        .current_dir(root())
        .args([
            "--quiet",
            "--threads",
            "1",
            "diarize",
            "--model",
            TINY,
            "--num-speakers",
            "2",
            sample,
            "-o",
        ])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(got["segments"], want["files"][0]["segments"]);
    assert_eq!(got["speakers"].as_array().unwrap().len(), 2);
    assert!((got["duration_s"].as_f64().unwrap() - 30.0).abs() < 0.01);
    // Errors as /v1/embed's, plus the diarization's own.
    post_file(
        &format!("{}/v1/diarize", s.url),
        "tests/fixtures/audio/not_audio.wav",
    )
    .assert_problem(415, "");
    post_file(
        &format!("{}/v1/diarize?min_speakers=3&max_speakers=2", s.url),
        sample,
    )
    .assert_problem(400, "larger than max_speakers");
    post_file(&format!("{}/v1/diarize?num_speakers=500", s.url), sample)
        .assert_problem(422, "500 speakers asked for");
    post_file(&format!("{}/v1/diarize?clustering=kmeans", s.url), sample)
        .assert_problem(400, "nmesc or ahc");
    let limited = Server::start(TINY, &["--max-audio-seconds", "1"]);
    post_file(&format!("{}/v1/diarize", limited.url), sample).assert_problem(413, "limit of 1 s");
}
