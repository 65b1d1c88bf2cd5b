"""A small OpenAI-compatible chat server on 127.0.0.1, for tests and benchmarks: scripted replies, a fixed latency
and injected faults (429 with Retry-After, 500, hangs past the client's timeout, malformed JSON, truncated bodies).

    python -m medreason.llm.loopback --port 8765 --latency 0.1 --fault-rate 0.2

Faults are drawn per request from a seeded generator, so a run is repeatable. The server keeps a ledger: how often
each distinct request (model + messages) was received, and how often it was answered to a client still connected.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

FAULTS = ("429", "500", "hang", "malformed", "truncated")  # the default mix; "400" can be asked for too


def echo_reply(messages: list[dict[str, str]]) -> str:
    """The default script: a deterministic answer derived from the last message."""
    return "echo: " + messages[-1]["content"][:200]


@dataclass
class LoopbackServer:
    latency_s: float = 0.0
    fault_rate: float = 0.0  # share of requests that get a fault, spread evenly over `faults`
    faults: tuple[str, ...] = FAULTS
    hang_s: float = 30.0
    retry_after_s: float = 0.05
    seed: int = 0
    script: Callable[[list[dict[str, str]]], str] = echo_reply
    port: int = 0
    received: Counter = field(default_factory=Counter)
    answered: Counter = field(default_factory=Counter)
    faults_sent: Counter = field(default_factory=Counter)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # ---- request handling ------------------------------------------------------------------------------------
    async def _chat(self, request):
        from aiohttp import web

        body = await request.json()
        key = request_key(body.get("model", ""), body["messages"])
        self.received[key] += 1
        fault = self._rng.choice(self.faults) if self.faults and self._rng.random() < self.fault_rate else None
        if fault:
            self.faults_sent[fault] += 1
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if fault == "429":
            return web.json_response({"error": {"message": "rate limited", "type": "rate_limit"}}, status=429,
                                     headers={"Retry-After": str(self.retry_after_s)})
        if fault == "400":
            return web.json_response({"error": {"message": "bad request", "type": "invalid_request"}}, status=400)
        if fault == "500":
            return web.json_response({"error": {"message": "boom", "type": "server_error"}}, status=500)
        if fault == "hang":
            await asyncio.sleep(self.hang_s)
        text = self.script(body["messages"])
        payload = json.dumps({
            "id": "chatcmpl-" + key[:12], "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", ""),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": sum(len(m["content"].split()) for m in body["messages"]),
                      "completion_tokens": len(text.split()),
                      "total_tokens": 0},
        }).encode()
        if fault == "malformed":
            return web.Response(body=payload[: len(payload) // 2], content_type="application/json")
        if request.transport is None or request.transport.is_closing():
            return web.Response(status=499)  # the client went away (killed, timed out): not an answer
        if fault == "truncated":
            resp = web.StreamResponse(headers={"Content-Type": "application/json",
                                               "Content-Length": str(len(payload))})
            await resp.prepare(request)
            await resp.write(payload[: len(payload) // 2])
            request.transport.close()
            return resp
        self.answered[key] += 1
        return web.Response(body=payload, content_type="application/json")

    async def _models(self, request):
        from aiohttp import web

        return web.json_response({"object": "list", "data": [{"id": "loopback", "object": "model"}]})

    # ---- lifecycle: a background thread with its own event loop ------------------------------------------------
    def start(self) -> "LoopbackServer":
        from aiohttp import web

        self._rng = random.Random(self.seed)
        ready = threading.Event()

        async def serve():
            app = web.Application(client_max_size=64 * 1024 * 1024)
            app.router.add_post("/v1/chat/completions", self._chat)
            app.router.add_get("/v1/models", self._models)
            self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", self.port)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]
            ready.set()

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        asyncio.run_coroutine_threadsafe(serve(), self._loop)
        if not ready.wait(10):
            raise RuntimeError("loopback server did not start")
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> "LoopbackServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def request_key(model: str, messages: list[dict[str, str]]) -> str:
    return hashlib.sha256(json.dumps([model, messages], sort_keys=True).encode()).hexdigest()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--latency", type=float, default=0.0)
    p.add_argument("--fault-rate", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ledger", help="on exit (SIGTERM/SIGINT), write the received/answered counts here as JSON")
    a = p.parse_args()
    server = LoopbackServer(latency_s=a.latency, fault_rate=a.fault_rate, seed=a.seed, port=a.port).start()
    print(f"serving on {server.base_url}", flush=True)
    import signal

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop()
    if a.ledger:
        with open(a.ledger, "w") as f:
            json.dump({"received": dict(server.received), "answered": dict(server.answered)}, f)


if __name__ == "__main__":
    main()
