"""What batching concurrent requests buys: the same N chat requests to ``drosophila serve``, sent
one after another (the baseline) and then all at once from N threads.

Both sides use one server over one random organism in this process and the same requests
(prompt, seed, T=1, ``max_tokens``); every choice samples from its own seeded stream, so both
sides decode exactly the same tokens (checked). Repeats are interleaved (sequential, concurrent,
...) and medians reported after a warm-up, so other work on the machine hits both alike. The
client is the standard library's ``http.client``, one connection per request.

    python benchmarks/serve_concurrency.py [--n 16] [--scale small] [--max-tokens 32]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub

import torch

from drosophila.organisms import build_tokenizer, n_params, new_organism
from drosophila.seeding import configure_torch, device_default
from drosophila.serve import start_server

WORDS = [f"w{i}" for i in range(1000)] + [".", ",", "?", "!", ":"]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=16, help="requests per side")
    p.add_argument("--scale", default="small", help="organism scale")
    p.add_argument("--max-tokens", type=int, default=32, help="max_tokens of every request")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats per side (median reported)")
    p.add_argument("--window-ms", type=float, default=5.0, help="the server's batching window")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: configure_torch)")
    return p.parse_args()


def requests_for(n: int, max_tokens: int) -> list[dict]:
    """N requests of 8-24 random words each, request i with seed i."""
    g = torch.Generator().manual_seed(0)
    out = []
    for i in range(n):
        k = int(torch.randint(8, 25, (1,), generator=g))
        words = [WORDS[j] for j in torch.randint(0, 1000, (k,), generator=g).tolist()]
        out.append({"model": "bench", "messages": [{"role": "user", "content": " ".join(words)}],
                    "max_tokens": max_tokens, "temperature": 1.0, "seed": i})
    return out


def post(url: str, body: dict) -> dict:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
    try:
        conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        reply = json.loads(resp.read())
    finally:
        conn.close()
    if resp.status != 200:
        raise RuntimeError(f"server answered {resp.status}: {reply}")
    return reply


def sequential(url: str, bodies: list[dict]) -> tuple[float, list[dict]]:
    t0 = time.perf_counter()
    replies = [post(url, b) for b in bodies]
    return time.perf_counter() - t0, replies


def concurrent(url: str, bodies: list[dict]) -> tuple[float, list[dict]]:
    with ThreadPoolExecutor(len(bodies)) as pool:
        t0 = time.perf_counter()
        replies = list(pool.map(lambda b: post(url, b), bodies))
        return time.perf_counter() - t0, replies


def texts(replies: list[dict]) -> list[str]:
    return [r["choices"][0]["message"]["content"] for r in replies]


def main() -> None:
    args = parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    threads = configure_torch(args.threads)
    device = device_default()
    tok = build_tokenizer(WORDS)
    org = new_organism(args.scale, tok, seed=0)
    bodies = requests_for(args.n, args.max_tokens)
    times: dict[str, list[float]] = {"sequential": [], "concurrent": []}
    with start_server(org, port=0, name="bench", batch_window_ms=args.window_ms) as server:
        url = server.url
        _, reference = sequential(url, bodies[:2])  # warm-up
        concurrent(url, bodies[:2])
        before = server.stats
        same = True
        for _ in range(args.repeats):
            for name, run in (("sequential", sequential), ("concurrent", concurrent)):
                seconds, replies = run(url, bodies)
                times[name].append(seconds)
                if name == "sequential":
                    reference = replies
                same &= texts(replies) == texts(reference)
        after = server.stats
    tokens = sum(r["usage"]["completion_tokens"] for r in reference)
    seq, conc = (statistics.median(times[k]) for k in ("sequential", "concurrent"))
    batches = after["batches"] - before["batches"]
    requests = after["requests"] - before["requests"]
    print(f"    device: {device}" + (f" ({torch.cuda.get_device_name()})" if device == "cuda" else
                                     f" ({platform.processor() or platform.machine()}, {os.cpu_count()} cpus)"))
    print(f"   threads: {threads} (load average {os.getloadavg()[0]:.1f} at the end)")
    print(f"     torch: {torch.__version__}")
    print(f"  organism: {args.scale}, {n_params(org.model):,} params, vocab {len(tok)}")
    print(f"  requests: {args.n} per side, prompts 8-24 words, max_tokens {args.max_tokens}, T=1, "
          f"{tokens} completion tokens per side; batching window {args.window_ms:g} ms")
    print(f"   repeats: {args.repeats} (median, interleaved, after a warm-up)")
    print()
    for label, seconds in (("sequential (baseline)", seq), (f"concurrent ({args.n} threads)", conc)):
        print(f"{label:<26} {seconds:7.3f} s  {tokens / seconds:8,.0f} tok/s")
    print(f"concurrent speedup = sequential / concurrent: {seq / conc:.2f}x  (baseline: sequential)")
    print(f"decode calls over all timed runs: {batches} for {requests} requests "
          f"(largest {after['largest']} requests in one call)")
    print(f"same replies on both sides: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
