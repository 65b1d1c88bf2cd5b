"""Benchmark: LLMClient.chat_many (openai backend) against the project's loopback server at a fixed latency.

    python bench/llm_client.py                    # full size; about 30 s
    python bench/llm_client.py --quick            # smaller counts; about 10 s
    python bench/llm_client.py --server thread    # the throughput server in a thread of this process
    python bench/llm_client.py --profile /tmp/llm.prof   # also one cProfile'd chat_many, summary to stderr

Everything runs on 127.0.0.1 against ``medreason.llm.loopback`` with a latency of 100 ms and no faults; every
request count is bounded by the flags below. Messages are distinct (``"<phase> question <i>"``), so nothing is
answered by the cache unless a phase says so. It measures, in this order:

* warm-up: one chat_many of ``concurrency`` requests (imports, the SDK's lazy modules), not timed as a result;
* ``rps``: ``LLMClient.chat_many`` at ``--concurrency`` (64) on ``--requests`` (1,280) with a fresh cache, best of
  ``--repeats`` (2) runs, each with new messages and a new cache; ``ideal_rps = concurrency / latency`` (640).
  ``client_cpu_ms_per_request`` is this process's CPU time over the run per request (with ``--server process``
  that is the client alone) and ``server_cpu_ms_per_request`` the server process's;
* ``cache_replay_rps``: the same requests again through the same client and cache (all must come back cached,
  none may reach the server);
* ``rps_other_setup``: one fresh run with the server in the other setup (thread vs process), to show the cost of
  sharing a GIL with the server;
* references on the same server, same concurrency, same requests shape, without LLMClient:
  ``reference_openai_sdk_rps`` (bare ``openai.AsyncOpenAI`` + a semaphore) and ``reference_aiohttp_rps``
  (bare ``aiohttp``: what the server and the loopback network allow);
* ``baseline_rps``: the HuatuoGPT-o1 authors' pattern -- ``ThreadPoolExecutor(max_workers=10)``, one blocking
  ``requests.post`` per item (no session, as their scripts do) -- on ``--baseline-requests`` (300);
* kill and resume: this file re-run as a child (``--child``, like the RUNNER of tests/test_llm.py) on
  ``--resume-requests`` (400) at the same concurrency; SIGKILL once a third is answered plus a seeded offset in
  (0.1, 0.9) x latency, unrelated to any answer; then restarted to completion. The server for this phase is always
  the in-thread one (the client is another process anyway, and the server's live ledger is needed at the kill).
  ``duplicate_requests_after_resume`` = sum over keys of (times answered - 1); ``cached_requests_asked_again`` =
  requests in the cache at the kill that the server received again after the restart (must be 0);
  ``in_flight_at_kill`` = received but not answered at the kill; ``answered_not_cached_at_kill`` = answered by the
  server but not yet committed to the cache when the client died (each becomes a duplicate); ``results_match`` =
  the resumed run's final outputs are the expected echo answers (``all_outputs_match``: every phase's are).

``--server process`` (the default) runs ``python -m medreason.llm.loopback --port P --latency 0.1 --ledger F`` as
a separate process, as a real endpoint would be: an in-thread server competes with the client for this process's
GIL and its CPU time would be billed to the client. At the end the server's ledger is checked: every request of
the timed phases was received exactly once (so the replay asked nothing).

Progress goes to stderr; the last stdout line is one JSON object, with the targets: ``rps`` >= 60% of
``ideal_rps`` and >= 5x ``baseline_rps``; zero duplicates and zero cached requests asked again after the resume.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

LATENCY_S = 0.1
MODEL = "loop"
PROMPT_VERSION = "bench@1"
TARGET_SHARE_OF_IDEAL = 0.6
TARGET_SPEEDUP = 5.0
BASELINE_WORKERS = 10  # the authors' thread pool


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def conv(tag: str, i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"{tag} question {i}"}]


def expected(tag: str, i: int) -> str:
    return f"echo: {tag} question {i}"


def make_cfg(base_url: str, concurrency: int):
    from medreason.config import LLMConfig

    return LLMConfig(backend="openai", model=MODEL, base_url=base_url, concurrency=concurrency, timeout_s=30.0)


# ---- servers ------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class ProcessServer:
    """``python -m medreason.llm.loopback`` in its own process; the ledger is read once it has stopped."""

    def __init__(self, latency_s: float, ledger: Path):
        self.port, self.ledger = free_port(), ledger
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "medreason.llm.loopback", "--port", str(self.port), "--latency", str(latency_s),
             "--ledger", str(ledger)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{self.base_url}/models", timeout=1).read()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.proc.kill()
                    raise RuntimeError("the loopback server process did not start")
                time.sleep(0.05)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def cpu_s(self) -> float | None:
        return proc_cpu_s(self.proc.pid)

    def stop(self) -> dict:
        """SIGTERM (the server writes its ledger on it) and return {"received": {...}, "answered": {...}}."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            return json.loads(self.ledger.read_text())
        except (OSError, ValueError):
            return {"received": {}, "answered": {}}


class ThreadServer:
    """The loopback server in a thread of this process (shares the GIL with the client)."""

    def __init__(self, latency_s: float):
        from medreason.llm.loopback import LoopbackServer

        self.srv = LoopbackServer(latency_s=latency_s).start()

    @property
    def base_url(self) -> str:
        return self.srv.base_url

    def cpu_s(self) -> None:
        return None  # counted in this process's CPU time

    def stop(self) -> dict:
        self.srv.stop()
        return {"received": dict(self.srv.received), "answered": dict(self.srv.answered)}


def start_server(kind: str, latency_s: float, tmp: Path):
    return ProcessServer(latency_s, tmp / f"ledger-{time.monotonic_ns()}.json") if kind == "process" \
        else ThreadServer(latency_s)


# ---- LLMClient phases ---------------------------------------------------------------------------------------

def run_chat_many(base_url: str, cache: Path, tag: str, n: int, concurrency: int, server=None,
                  profile: str | None = None, client=None):
    """One timed chat_many; returns (stats dict, client). ``client`` given = replay through its cache."""
    from medreason.llm.client import LLMClient

    if client is None:
        client = LLMClient(make_cfg(base_url, concurrency), cache)
    convs = [conv(tag, i) for i in range(n)]
    server_cpu0 = server.cpu_s() if server else None
    cpu0, t0 = time.process_time(), time.perf_counter()
    if profile:
        import cProfile

        prof = cProfile.Profile()
        out = prof.runcall(client.chat_many, convs, PROMPT_VERSION, desc=tag)
        prof.dump_stats(profile)
    else:
        out = client.chat_many(convs, PROMPT_VERSION, desc=tag)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    server_cpu1 = server.cpu_s() if server else None
    ok = all(c.ok and c.text == expected(tag, i) for i, c in enumerate(out))
    stats = {"seconds": seconds, "rps": n / seconds, "ok": ok, "cached": sum(c.cached for c in out),
             "client_cpu_ms_per_request": 1000 * cpu / n,
             "server_cpu_ms_per_request": None if server_cpu0 is None or server_cpu1 is None
             else 1000 * (server_cpu1 - server_cpu0) / n}
    return stats, client


def reference_openai_sdk(base_url: str, tag: str, n: int, concurrency: int) -> float:
    """Bare openai.AsyncOpenAI with a semaphore: what the SDK alone allows (no cache, no LLMClient)."""
    import openai

    from medreason.config import LLMConfig

    d = LLMConfig()
    sampling = {"temperature": d.temperature, "top_p": d.top_p, "max_tokens": d.max_tokens, "seed": d.seed}

    async def main() -> float:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="EMPTY", timeout=30.0, max_retries=0)
        sem = asyncio.Semaphore(concurrency)

        async def one(i):
            async with sem:
                r = await client.chat.completions.create(model=MODEL, messages=conv(tag, i), **sampling)
                return r.choices[0].message.content

        t0 = time.perf_counter()
        out = await asyncio.gather(*(one(i) for i in range(n)))
        seconds = time.perf_counter() - t0
        await client.close()
        assert out == [expected(tag, i) for i in range(n)]
        return n / seconds

    return asyncio.run(main())


def reference_aiohttp(base_url: str, tag: str, n: int, concurrency: int) -> float:
    """Bare aiohttp with a semaphore: what the server and the loopback network allow."""
    import aiohttp

    from medreason.config import LLMConfig

    d = LLMConfig()
    sampling = {"temperature": d.temperature, "top_p": d.top_p, "max_tokens": d.max_tokens, "seed": d.seed}

    async def main() -> float:
        sem = asyncio.Semaphore(concurrency)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
            async def one(i):
                async with sem:
                    async with session.post(f"{base_url}/chat/completions", headers={"Authorization": "Bearer EMPTY"},
                                            json={"model": MODEL, "messages": conv(tag, i), **sampling}) as r:
                        r.raise_for_status()
                        return (await r.json())["choices"][0]["message"]["content"]

            t0 = time.perf_counter()
            out = await asyncio.gather(*(one(i) for i in range(n)))
            seconds = time.perf_counter() - t0
        assert out == [expected(tag, i) for i in range(n)]
        return n / seconds

    return asyncio.run(main())


def baseline_threadpool(base_url: str, tag: str, n: int) -> tuple[float, bool]:
    """The authors' pattern: a pool of 10 threads, each item one blocking requests.post (a new connection each)."""
    import requests

    from medreason.config import LLMConfig

    d = LLMConfig()
    sampling = {"temperature": d.temperature, "top_p": d.top_p, "max_tokens": d.max_tokens, "seed": d.seed}
    url = f"{base_url}/chat/completions"

    def one(i: int) -> str:
        r = requests.post(url, headers={"Authorization": "Bearer EMPTY", "Content-Type": "application/json"},
                          json={"model": MODEL, "messages": conv(tag, i), **sampling}, timeout=30)
        r.raise_for_status()
        return r.json()["choices"][0]["message"]["content"]

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=BASELINE_WORKERS) as pool:
        out = list(pool.map(one, range(n)))
    seconds = time.perf_counter() - t0
    return n / seconds, out == [expected(tag, i) for i in range(n)]


def profile_summary(path: str) -> None:
    """Top 25 by own time, and own time grouped by package / medreason function, to stderr."""
    import collections
    import pstats

    print("\n==== chat_many, top 25 by tottime ====", file=sys.stderr)
    pstats.Stats(path, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    groups: collections.Counter[str] = collections.Counter()
    for (fn, _, name), (_, _, tt, _, _) in pstats.Stats(path).stats.items():
        if "site-packages/" in fn:
            key = fn.split("site-packages/")[1].split("/")[0]
        elif "medreason" in fn:
            key = "medreason." + Path(fn).stem + ":" + name
        elif fn == "~":
            key = "builtin " + name
        else:
            key = "stdlib " + Path(fn).name
        groups[key] += tt
    total = sum(groups.values())
    print("==== own time by package (medreason by function) ====", file=sys.stderr)
    for key, tt in groups.most_common(30):
        print(f"{tt:8.3f}s {100 * tt / total:5.1f}%  {key}", file=sys.stderr)
    med = sum(tt for k, tt in groups.items() if k.startswith("medreason."))
    print(f"{med:8.3f}s {100 * med / total:5.1f}%  own time of medreason functions  (total {total:.3f}s)",
          file=sys.stderr)
    print("==== cumulative time of the per-request steps ====", file=sys.stderr)
    steps = {("cache.py", "cache_key"): "medreason cache_key", ("cache.py", "get"): "medreason ResponseCache.get",
             ("cache.py", "put"): "medreason ResponseCache.put", ("client.py", "acquire"): "medreason RateLimiter",
             ("std.py", "update"): "tqdm update", ("std.py", "set_postfix"): "tqdm set_postfix",
             ("backends.py", "complete"): "medreason OpenAIBackend.complete (the SDK call)",
             ("_transform.py", "async_maybe_transform"): "  openai: request params transform",
             ("_base_client.py", "_build_request"): "  openai: _build_request",
             ("_base_client.py", "_process_response"): "  openai: _process_response (parse)",
             ("connection_pool.py", "_assign_requests_to_connections"): "  httpcore2: pool assignment scans",
             ("connection_pool.py", "handle_async_request"): "  httpcore2: handle_async_request"}
    for (fn, _, name), (_, _, _, ct, _) in sorted(pstats.Stats(path).stats.items(), key=lambda kv: -kv[1][3]):
        label = steps.get((Path(fn).name, name))
        if label and ("medreason" in fn or not label.startswith("medreason")):
            print(f"{ct:8.3f}s {100 * ct / total:5.1f}%  {label}", file=sys.stderr)


# ---- kill and resume ----------------------------------------------------------------------------------------

def child(base_url: str, cache: str, out: str, n: int, concurrency: int) -> None:
    """The resumable run (like tests/test_llm.py's RUNNER): chat_many, then the texts as JSON."""
    from medreason.llm.client import LLMClient

    client = LLMClient(make_cfg(base_url, concurrency), cache)
    res = client.chat_many([conv("resume", i) for i in range(n)], PROMPT_VERSION, desc="resume")
    client.close()
    Path(out).write_text(json.dumps([c.text for c in res]))


def kill_and_resume(tmp: Path, m: int, concurrency: int, latency_s: float, seed: int) -> dict:
    from medreason.llm.cache import cache_key
    from medreason.llm.client import LLMClient
    from medreason.llm.loopback import LoopbackServer, request_key

    cache, out = tmp / "resume.sqlite", tmp / "resume.json"
    offset = random.Random(seed).uniform(0.1 * latency_s, 0.9 * latency_s)
    with LoopbackServer(latency_s=latency_s) as srv:
        args = [sys.executable, str(Path(__file__).resolve()), "--child", srv.base_url, str(cache), str(out), str(m),
                str(concurrency)]
        proc = subprocess.Popen(args, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while sum(srv.answered.values()) < m // 3:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("the child ended or stalled before a third was answered")
            time.sleep(0.005)
        answered_trigger = sum(srv.answered.values())
        time.sleep(offset)  # a moment unrelated to any answer
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        time.sleep(latency_s + 0.3)  # let the server's handlers for the dead connections finish (cancelled: 499)
        received_at_kill, answered_at_kill = dict(srv.received), dict(srv.answered)
        keys = {i: request_key(MODEL, conv("resume", i)) for i in range(m)}
        reader = LLMClient(make_cfg(srv.base_url, concurrency), cache)  # its own key recipe, so it stays in sync
        cached = {i for i in range(m)
                  if reader.cache.get(cache_key(reader.backend.model_id, conv("resume", i), reader.sampling,
                                                PROMPT_VERSION)) is not None}
        reader.close()
        out_existed = out.exists()
        log(f"resume: killed after {answered_trigger} answers + {offset * 1000:.0f} ms: {len(cached)} cached, "
            f"{sum(answered_at_kill.values())} answered, {sum(received_at_kill.values())} received; restarting")
        t0 = time.perf_counter()
        rerun = subprocess.run(args, stderr=subprocess.DEVNULL, timeout=300)
        rerun_seconds = time.perf_counter() - t0
        received, answered = dict(srv.received), dict(srv.answered)
    texts = json.loads(out.read_text()) if out.exists() else None
    answered_not_cached = sum(1 for i in range(m) if answered_at_kill.get(keys[i], 0) > 0 and i not in cached)
    return {
        "resume_requests": m,
        "kill_after_answers": answered_trigger,
        "kill_offset_s": round(offset, 4),
        "cached_at_kill": len(cached),
        "answered_at_kill": sum(answered_at_kill.values()),
        "in_flight_at_kill": sum(received_at_kill.values()) - sum(answered_at_kill.values()),
        "answered_not_cached_at_kill": answered_not_cached,
        "duplicate_requests_after_resume": sum(max(0, answered.get(k, 0) - 1) for k in keys.values()),
        "cached_requests_asked_again": sum(received.get(keys[i], 0) - received_at_kill.get(keys[i], 0)
                                           for i in cached),
        "received_after_restart": sum(received.values()) - sum(received_at_kill.values()),
        "unanswered_keys": sum(1 for k in keys.values() if answered.get(k, 0) == 0),
        "restart_seconds": round(rerun_seconds, 3),
        "results_match": (rerun.returncode == 0 and not out_existed
                          and texts == [expected("resume", i) for i in range(m)]),
    }


# ---- main ---------------------------------------------------------------------------------------------------

def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        base_url, cache, out, n, concurrency = sys.argv[2:7]
        child(base_url, cache, out, int(n), int(concurrency))
        return

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller counts (320 / 100 / 160 requests, 1 repeat)")
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--requests", type=int, default=None, help="N for the throughput runs (default 1280)")
    p.add_argument("--baseline-requests", type=int, default=None, help="default 300")
    p.add_argument("--resume-requests", type=int, default=None, help="default 400")
    p.add_argument("--repeats", type=int, default=None, help="fresh-cache runs, the best is reported (default 2)")
    p.add_argument("--server", choices=("process", "thread"), default="process",
                   help="where the loopback server of the throughput phases runs (default: its own process)")
    p.add_argument("--seed", type=int, default=0, help="seeds the kill offset")
    p.add_argument("--profile", metavar="FILE", help="one more fresh chat_many under cProfile; stats to FILE, "
                                                    "summary to stderr")
    a = p.parse_args()
    n = a.requests or (320 if a.quick else 1280)
    nb = a.baseline_requests or (100 if a.quick else 300)
    m = a.resume_requests or (160 if a.quick else 400)
    repeats = a.repeats or (1 if a.quick else 2)
    c = a.concurrency
    if min(n, nb, m, repeats, c) < 1 or m < 3:
        p.error("counts must be positive (and --resume-requests at least 3)")
    other = "thread" if a.server == "process" else "process"

    t = time.perf_counter()
    import aiohttp  # noqa: F401
    import openai  # noqa: F401
    import requests  # noqa: F401

    import medreason.llm.client  # noqa: F401
    log(f"imports {time.perf_counter() - t:.2f}s; concurrency {c}, latency {LATENCY_S}s, {n} requests x {repeats}, "
        f"baseline {nb}, resume {m}; server: {a.server}")

    with tempfile.TemporaryDirectory(prefix="bench-llm-") as tmp:
        tmp = Path(tmp)
        server = start_server(a.server, LATENCY_S, tmp)
        ledger_expect: dict[str, int] = {}  # tag -> count of requests it must have sent the server (once each)
        try:
            t = time.perf_counter()
            warm, _ = run_chat_many(server.base_url, tmp / "warmup.sqlite", "warmup", c, c)
            ledger_expect["warmup"] = c
            log(f"warm-up: {c} requests in {time.perf_counter() - t:.2f}s")

            fresh, replay = [], []
            for r in range(repeats):
                tag = f"fresh{r}"
                st, client = run_chat_many(server.base_url, tmp / f"{tag}.sqlite", tag, n, c, server=server)
                ledger_expect[tag] = n
                fresh.append(st)
                log(f"fresh {r + 1}/{repeats}: {st['rps']:.0f} req/s ({st['seconds']:.2f}s, client CPU "
                    f"{st['client_cpu_ms_per_request']:.2f} ms/req, ok={st['ok']})")
                rs, _ = run_chat_many(server.base_url, tmp / f"{tag}.sqlite", tag, n, c, client=client)
                client.close()
                replay.append(rs)
                log(f"replay {r + 1}/{repeats}: {rs['rps']:.0f} req/s ({rs['seconds']:.3f}s, "
                    f"{rs['cached']}/{n} cached, ok={rs['ok']})")

            if a.profile:
                run_chat_many(server.base_url, tmp / "profile.sqlite", "profile", n, c, profile=a.profile)
                ledger_expect["profile"] = n
                profile_summary(a.profile)

            ref_sdk = reference_openai_sdk(server.base_url, "refsdk", n, c)
            ledger_expect["refsdk"] = n
            log(f"reference, bare openai.AsyncOpenAI: {ref_sdk:.0f} req/s")
            ref_aio = reference_aiohttp(server.base_url, "refaiohttp", n, c)
            ledger_expect["refaiohttp"] = n
            log(f"reference, bare aiohttp: {ref_aio:.0f} req/s")

            baseline_rps, baseline_ok = baseline_threadpool(server.base_url, "baseline", nb)
            ledger_expect["baseline"] = nb
            log(f"baseline ThreadPoolExecutor({BASELINE_WORKERS}) + requests.post: {baseline_rps:.0f} req/s "
                f"(ok={baseline_ok})")
        finally:
            ledger = server.stop()

        from medreason.llm.loopback import request_key

        received = ledger["received"]
        ledger_ok = all(received.get(request_key(MODEL, conv(tag, i)), 0) == 1
                        for tag, count in ledger_expect.items() for i in range(count)) \
            and sum(received.values()) == sum(ledger_expect.values())
        log(f"server ledger: {sum(received.values())} received, every timed request exactly once: {ledger_ok}")

        other_server = start_server(other, LATENCY_S, tmp)
        try:
            other_st, oc = run_chat_many(other_server.base_url, tmp / "other.sqlite", "other", n, c,
                                         server=other_server)
            oc.close()
        finally:
            other_server.stop()
        log(f"other setup (server: {other}): {other_st['rps']:.0f} req/s (client CPU "
            f"{other_st['client_cpu_ms_per_request']:.2f} ms/req)")

        resume = kill_and_resume(tmp, m, c, LATENCY_S, a.seed)
        log(f"resume: {resume}")

    best = max(fresh, key=lambda s: s["rps"])
    best_replay = max(replay, key=lambda s: s["rps"])
    ideal = c / LATENCY_S
    rps = best["rps"]
    r1 = lambda x: None if x is None else round(x, 1)  # noqa: E731
    r3 = lambda x: None if x is None else round(x, 3)  # noqa: E731
    result = {
        "concurrency": c,
        "latency_s": LATENCY_S,
        "requests": n,
        "server": a.server,
        "rps": r1(rps),
        "ideal_rps": r1(ideal),
        "rps_share_of_ideal": r3(rps / ideal),
        "baseline_rps": r1(baseline_rps),
        "baseline_requests": nb,
        "baseline_ideal_rps": r1(BASELINE_WORKERS / LATENCY_S),
        "speedup_vs_baseline": round(rps / baseline_rps, 2),
        "cache_replay_rps": r1(best_replay["rps"]),
        "duplicate_requests_after_resume": resume["duplicate_requests_after_resume"],
        "cached_requests_asked_again": resume["cached_requests_asked_again"],
        "in_flight_at_kill": resume["in_flight_at_kill"],
        "results_match": resume["results_match"],
        "all_outputs_match": (resume["results_match"] and all(s["ok"] for s in fresh + replay + [warm, other_st])
                              and baseline_ok),
        "target_rps_share_of_ideal": TARGET_SHARE_OF_IDEAL,
        "target_speedup_vs_baseline": TARGET_SPEEDUP,
        "target_duplicate_requests": 0,
        "meets_targets": {
            "rps_share_of_ideal": rps >= TARGET_SHARE_OF_IDEAL * ideal,
            "speedup_vs_baseline": rps >= TARGET_SPEEDUP * baseline_rps,
            "zero_duplicates": resume["duplicate_requests_after_resume"] == 0,
            "zero_cached_asked_again": resume["cached_requests_asked_again"] == 0,
        },
        "rps_method": f"best of {repeats} fresh-cache chat_many runs, server: {a.server}",
        "rps_runs": [r1(s["rps"]) for s in fresh],
        "cache_replay_runs": [r1(s["rps"]) for s in replay],
        "replay_all_cached": all(s["cached"] == n for s in replay),
        "client_cpu_ms_per_request": r3(best["client_cpu_ms_per_request"]),
        "server_cpu_ms_per_request": r3(best["server_cpu_ms_per_request"]),
        "rps_other_setup": r1(other_st["rps"]),
        "other_setup": other,
        "other_setup_client_cpu_ms_per_request": r3(other_st["client_cpu_ms_per_request"]),
        "reference_openai_sdk_rps": r1(ref_sdk),
        "reference_aiohttp_rps": r1(ref_aio),
        "server_ledger_ok": ledger_ok,
        "warmup_seconds": r3(warm["seconds"]),
        "resume": resume,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
