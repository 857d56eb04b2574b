"""`ecapa2 serve` against hostile clients: the real binary on 127.0.0.1, driven with stdlib
sockets and http.client only. Every socket has a timeout, every count is bounded, and short
timeouts come from the service's own flags, so the whole file runs in well under a minute.

Covered: headers sent a byte at a time and idle connections closed at the header timeout; a
stalled body answered 408 and closed; an oversize Content-Length with Expect: 100-continue
refused 413 without a 100; stalled big bodies and too many requests refused 503 at admission;
half-sent requests do not hold the process past the shutdown deadline and a second signal
exits at once; hyper's own errors and 404/405 as problem+json, counted in /metrics; media
types case-insensitive; out-of-range JSON samples refused; a bad multipart part refused before
any engine work; nonsense limits and empty API keys refused at startup; the API key from a file
guarding every endpoint but the probes."""

import http.client
import json
import math
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import FIXTURES

MODEL = FIXTURES / "tiny" / "model.pt"
SPEECH = FIXTURES / "audio" / "speech_16k.wav"
NOT_AUDIO = FIXTURES / "audio" / "not_audio.wav"
KEY = "hostile-test-key"
# Short timeouts so that the suite is quick: headers and bodies 1 s, shutdown 2 s.
FAST = ("--header-timeout", "1", "--body-timeout", "1", "--shutdown-timeout", "2")


class Server:
    """`ecapa2 serve` on an ephemeral port of 127.0.0.1."""

    def __init__(self, cli, *extra, env=None):
        self.proc = subprocess.Popen(
            [cli, "--threads", "1", "serve", "--model", str(MODEL), "--addr", "127.0.0.1:0",
             *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})
        line = self.proc.stdout.readline().strip()
        assert line.startswith("listening on http://"), line
        host, port = line[len("listening on http://"):].rsplit(":", 1)
        self.addr = (host, int(port))

    def connect(self, timeout=5.0):
        return socket.create_connection(self.addr, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=30.0):
        """(status, headers, body) of one request on a fresh connection."""
        conn = http.client.HTTPConnection(*self.addr, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def exited_within(self, seconds):
        try:
            self.proc.wait(timeout=seconds)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()


@pytest.fixture
def start(cli):
    servers = []

    def go(*extra, env=None):
        s = Server(cli, *extra, env=env)
        servers.append(s)
        return s

    yield go
    for s in servers:
        s.stop()


def read_until_closed(sock, seconds):
    """Everything the server sends until it closes the connection, and whether it closed
    within `seconds` (a reset counts as closed)."""
    sock.settimeout(0.2)
    out, end = b"", time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return out, True
        if not chunk:
            return out, True
        out += chunk
    return out, False


def problem_of(raw):
    """(status, content type, parsed body) of one raw HTTP/1.1 response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    headers = {k.lower(): v for k, v in headers.items()}
    return status, headers.get("content-type"), json.loads(body) if body else None


def assert_problem(status, headers, body, want):
    assert status == want, body
    assert headers["content-type"] == "application/problem+json", headers
    assert json.loads(body)["status"] == want


def samples_json(values, rate=16000):
    return json.dumps({"samples": values, "sample_rate": rate}).encode()


def tone(seconds=1.0, rate=16000):
    return [0.3 * math.sin(2 * math.pi * 220 * i / rate) for i in range(int(seconds * rate))]


def test_slow_and_idle_clients_are_closed_at_the_header_timeout(start):
    s = start(*FAST)
    # Headers a byte every 0.2 s: the header timeout is for the whole head, not per byte.
    drip = s.connect()
    drip.sendall(b"POST /v1/embed HTTP/1.1\r\nHost: x\r\n")
    drip.settimeout(0.2)
    began, closed = time.monotonic(), False
    while time.monotonic() - began < 6:
        try:
            drip.sendall(b"a")
            if drip.recv(1024) == b"":
                closed = True
                break
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            closed = True
            break
    assert closed and time.monotonic() - began < 4, "headers dribbled forever"
    drip.close()
    # A connection that sends nothing, and an idle keep-alive one after a request.
    idle = s.connect()
    _, closed = read_until_closed(idle, 4)
    assert closed, "an idle connection was kept open"
    idle.close()
    keep = s.connect()
    keep.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    raw, closed = read_until_closed(keep, 4)
    assert raw.startswith(b"HTTP/1.1 200"), raw
    assert closed, "an idle keep-alive connection was kept open"
    keep.close()


def test_a_stalled_body_gets_408_and_is_closed(start):
    s = start(*FAST)
    sock = s.connect()
    sock.sendall(b"POST /v1/embed HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\n"
                 b"Content-Length: 100000\r\n\r\n" + b"RIFF" + b"\0" * 60)
    raw, closed = read_until_closed(sock, 4)
    sock.close()
    assert closed, "a stalled body kept its connection"
    status, ctype, body = problem_of(raw)
    assert (status, ctype) == (408, "application/problem+json"), raw
    assert "body timeout" in body["detail"]


def test_oversize_content_length_with_expect_gets_413_and_no_100(start):
    s = start(*FAST, "--max-body", "1M")
    sock = s.connect()
    sock.sendall(b"POST /v1/embed HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\n"
                 b"Content-Length: 10000000000\r\nExpect: 100-continue\r\n\r\n")
    raw, _ = read_until_closed(sock, 3)
    sock.close()
    assert b"100 Continue" not in raw, raw
    status, ctype, body = problem_of(raw)
    assert (status, ctype) == (413, "application/problem+json"), raw
    assert "10000000000 bytes" in body["detail"]


def test_stalled_big_bodies_and_too_many_requests_are_refused_at_admission(start):
    s = start("--header-timeout", "5", "--body-timeout", "20", "--max-body", "1000000",
              "--max-inflight-bytes", "2000000", "--max-concurrent-requests", "4")
    head = (b"POST /v1/embed HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\n"
            b"Content-Length: 1000000\r\n\r\n")
    # Two stalled bodies of 999 000 bytes hold all but 2000 bytes of the budget ...
    stalled = []
    for _ in range(2):
        sock = s.connect()
        sock.sendall(head.replace(b"1000000", b"999000") + b"\0" * 1000)
        stalled.append(sock)
    time.sleep(0.3)
    # ... so eight more are refused at once, before their bodies are read.
    for _ in range(8):
        sock = s.connect()
        began = time.monotonic()
        sock.sendall(head)
        raw, _ = read_until_closed(sock, 2)
        sock.close()
        status, ctype, body = problem_of(raw)
        assert (status, ctype) == (503, "application/problem+json"), raw
        assert b"\r\nretry-after: 1\r\n" in raw.lower(), raw
        assert "bytes in flight" in body["detail"]
        assert time.monotonic() - began < 1.5
    # Chunked bodies count as they arrive: a 4 KiB chunk does not fit.
    sock = s.connect()
    sock.sendall(b"POST /v1/embed HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"1000\r\n" + b"\0" * 4096 + b"\r\n")
    raw, _ = read_until_closed(sock, 2)
    sock.close()
    assert problem_of(raw)[0] == 503, raw
    # Requests in flight: two more stalled small bodies (they fit) reach the bound of four.
    small = (b"POST /v1/embed HTTP/1.1\r\nHost: x\r\nContent-Type: audio/wav\r\n"
             b"Content-Length: 10\r\n\r\n")
    for _ in range(2):
        sock = s.connect()
        sock.sendall(small + b"\0")
        stalled.append(sock)
    time.sleep(0.3)
    status, headers, body = s.request("POST", "/v1/embed", body=b"\0" * 10,
                                      headers={"Content-Type": "audio/wav"}, timeout=5)
    assert_problem(status, headers, body, 503)
    assert "requests in flight" in json.loads(body)["detail"]
    # The probes are never refused.
    assert s.request("GET", "/healthz", timeout=5)[0] == 200
    for sock in stalled:
        sock.close()


def test_half_sent_requests_do_not_hold_the_process_past_the_shutdown_deadline(start):
    # Header and body timeouts far beyond the deadline: only the deadline can end them.
    s = start("--header-timeout", "30", "--body-timeout", "30", "--shutdown-timeout", "2")
    half = []
    for i in range(4):
        sock = s.connect()
        if i % 2:
            sock.sendall(b"POST /v1/embed HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
            sock.sendall(b"\0" * 100)
        else:
            sock.sendall(b"POST /v1/embed HTTP/1.1\r\nHost: x\r\nContent-Le")
        half.append(sock)
    time.sleep(0.3)
    began = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    assert s.exited_within(6), "half-sent requests kept the process alive"
    assert time.monotonic() - began < 6
    assert s.proc.returncode == 0
    assert "shutdown deadline" in s.proc.stderr.read()
    for sock in half:
        sock.close()


def test_a_second_signal_exits_at_once(start):
    s = start("--header-timeout", "30", "--body-timeout", "30", "--shutdown-timeout", "30")
    sock = s.connect()
    sock.sendall(b"POST /v1/embed HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n\0")
    time.sleep(0.3)
    s.proc.send_signal(signal.SIGTERM)
    assert not s.exited_within(1), "the first signal should wait for the request in flight"
    began = time.monotonic()
    s.proc.send_signal(signal.SIGINT)
    assert s.exited_within(3), "a second signal did not end the process"
    assert time.monotonic() - began < 3
    assert s.proc.returncode == 130
    sock.close()


def test_http_layer_errors_are_problem_json_and_counted(start):
    s = start(*FAST)
    cases = [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 500_000 + b"\r\n\r\n", 431),
    ]
    for request, want in cases:
        sock = s.connect()
        try:
            sock.sendall(request)
        except (ConnectionResetError, BrokenPipeError):
            pass  # the server may answer and close before reading all of it
        raw, _ = read_until_closed(sock, 3)
        sock.close()
        status, ctype, body = problem_of(raw)
        assert (status, ctype, body["status"]) == (want, "application/problem+json", want), raw
    status, headers, body = s.request("PUT", "/v1/embed", body=b"x")
    assert_problem(status, headers, body, 405)
    status, headers, body = s.request("GET", "/no/such/endpoint")
    assert_problem(status, headers, body, 404)
    metrics = s.request("GET", "/metrics")[2].decode()
    for want in (400, 404, 405, 414, 431):
        assert f'status="{want}"' in metrics, (want, metrics)


def test_media_types_are_case_insensitive_and_json_samples_are_validated(start):
    s = start(*FAST)
    status, _, body = s.request("POST", "/v1/embed", body=samples_json(tone()),
                                headers={"Content-Type": "Application/JSON; Charset=UTF-8"})
    assert status == 200, body
    assert len(json.loads(body)["embedding"]) == json.loads(body)["dim"]
    # The same amplitude check as files: 1e18 is no audio.
    loud = tone()
    loud[100] = 1e18
    status, headers, body = s.request("POST", "/v1/embed", body=samples_json(loud),
                                      headers={"Content-Type": "application/json"})
    assert_problem(status, headers, body, 422)


def multipart(files):
    boundary = "hostile-boundary-41c9"
    body = b""
    for i, path in enumerate(files):
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"f{i}\"; "
                 f"filename=\"{path.name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                 ).encode() + path.read_bytes() + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return f"Multipart/Form-Data; boundary={boundary}", body


def test_a_bad_multipart_part_is_refused_before_any_engine_work(start, tmp_path):
    s = start(*FAST, "--db", str(tmp_path / "reg.db"))
    ctype, body = multipart([SPEECH, SPEECH, SPEECH, NOT_AUDIO])
    status, headers, reply = s.request("POST", "/v1/speakers/carol/enrollments", body=body,
                                       headers={"Content-Type": ctype})
    assert_problem(status, headers, reply, 415)
    assert "not_audio.wav" in json.loads(reply)["detail"]
    metrics = s.request("GET", "/metrics")[2].decode()
    batches = [line for line in metrics.splitlines() if line.startswith("ecapa2_batch_size_count")]
    assert batches == ["ecapa2_batch_size_count 0"], batches
    # The good parts alone enroll.
    ctype, body = multipart([SPEECH, SPEECH])
    status, _, reply = s.request("POST", "/v1/speakers/carol/enrollments", body=body,
                                 headers={"Content-Type": ctype})
    assert status == 201, reply


@pytest.mark.parametrize("value", ["NaN", "inf", "0", "-1"])
def test_nonsense_limits_are_refused_at_startup(cli, value):
    proc = subprocess.run(
        [cli, "serve", "--model", str(MODEL), "--addr", "127.0.0.1:0",
         f"--max-audio-seconds={value}"],
        capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert proc.returncode != 0
    assert "max-audio-seconds" in proc.stderr, proc.stderr
    assert "listening" not in proc.stdout


def test_empty_api_keys_are_refused_at_startup(cli, tmp_path):
    empty = tmp_path / "empty.key"
    empty.write_text("\n")
    for extra, env in ((["--api-key", ""], {}), ([], {"ECAPA2_API_KEY": ""}),
                       (["--api-key-file", str(empty)], {})):
        proc = subprocess.run(
            [cli, "serve", "--model", str(MODEL), "--addr", "127.0.0.1:0", *extra],
            capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL,
            env={**os.environ, **env})
        assert proc.returncode != 0, (extra, env, proc.stdout)
        assert "empty" in proc.stderr, proc.stderr


def test_the_key_from_a_file_guards_every_endpoint_but_the_probes(start, tmp_path):
    keyfile = tmp_path / "api.key"
    keyfile.write_text(KEY + "\n")
    s = start(*FAST, "--db", str(tmp_path / "reg.db"), "--api-key-file", str(keyfile))
    with open(f"/proc/{s.proc.pid}/cmdline", "rb") as f:
        assert KEY.encode() not in f.read()
    wav = SPEECH.read_bytes()
    guarded = [("GET", "/v1/model", None), ("GET", "/v1/speakers", None),
               ("GET", "/v1/speakers/alice", None), ("POST", "/v1/embed", wav),
               ("POST", "/v1/verify?speaker=alice", wav), ("POST", "/v1/identify", wav),
               ("POST", "/v1/speakers/alice/enrollments", wav),
               ("DELETE", "/v1/speakers/alice", None)]
    for method, path, body in guarded:
        for auth in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
            status, headers, reply = s.request(method, path, body=body,
                                               headers={"Content-Type": "audio/wav", **auth})
            assert_problem(status, headers, reply, 401)
            assert headers.get("www-authenticate") == "Bearer"
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert s.request("GET", path)[0] == 200, path
    status, _, body = s.request("POST", "/v1/speakers/alice/enrollments", body=wav,
                                headers={"Content-Type": "audio/wav",
                                         "Authorization": f"bearer {KEY}"})
    assert status == 201, body
    status, _, body = s.request("GET", "/v1/speakers",
                                headers={"Authorization": f"Bearer {KEY}"})
    assert status == 200 and json.loads(body)["speakers"][0]["name"] == "alice", body
