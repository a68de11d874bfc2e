#!/usr/bin/env python3
"""Turns the load harness's results.tsv into perf-results markdown (stdout). Standard library only.

Input lines: METRIC TARGET THREADS ROUND VALUE (threads 0 = direct, no proxy), or: meta KEY VALUE.
"""
import statistics
import sys
from collections import defaultdict

L7 = ["haproxy", "nginx", "yarp", "fastlb"]
L4 = ["haproxy-tcp", "nginx-stream", "fastlb-tcp"]
LABEL = {
    "direct": "direct (no proxy)",
    "haproxy": "HAProxy http",
    "nginx": "NGINX http",
    "yarp": "YARP",
    "fastlb": "FastLb http",
    "haproxy-tcp": "HAProxy tcp",
    "nginx-stream": "NGINX stream",
    "fastlb-tcp": "FastLb tcp",
}


def load(path):
    meta, data, rounds = {}, defaultdict(list), defaultdict(dict)
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if parts[0] == "meta":
                meta[parts[1]] = parts[2] if len(parts) > 2 else ""
            elif len(parts) == 5:
                metric, target, threads, round_, value = parts
                data[(metric, target, int(threads))].append(float(value))
                rounds[(metric, target, int(threads))][int(round_)] = float(value)
    return meta, data, rounds


def reference(target):
    """The HAProxy row a target is compared with at the same thread count."""
    if target == "direct":
        return None
    return "haproxy-tcp" if target in L4 else "haproxy"


def fmt(v, digits):
    return "—" if v is None else f"{v:,.{digits}f}"


def ratio(a, b):
    return "—" if a is None or not b else f"{a / b:.2f}×"


class Report:
    def __init__(self, meta, data, rounds):
        self.meta, self.data, self.rounds = meta, data, rounds
        self.threads = [int(t) for t in meta.get("threads", "1").split()]
        self.out = []
        self.derive_busy()

    def derive_busy(self):
        """Cores the proxy kept busy in each run: req/s × CPU per request. Pinned to one core, 1.00 means the proxy
        was the bottleneck; below that, the other core (wrk and the backends) set the rate, and a req/s ratio then
        measures how the proxy's way of answering loads that core, not the proxy's own capacity."""
        for load_kind in ("ka", "close"):
            for (metric, target, threads), by_round in list(self.rounds.items()):
                if metric != f"{load_kind}_rps":
                    continue
                cpu = self.rounds.get((f"{load_kind}_cpu_us", target, threads), {})
                for r, rps in by_round.items():
                    if r in cpu:
                        busy = rps * cpu[r] / 1e6
                        self.rounds[(f"{load_kind}_busy", target, threads)][r] = busy
                        self.data[(f"{load_kind}_busy", target, threads)].append(busy)

    def median(self, metric, target, threads):
        values = self.data.get((metric, target, 0 if target == "direct" else threads))
        return statistics.median(values) if values else None

    def round_ratio(self, metric, target, ref, threads):
        """Median over rounds of target/ref within each round (the two ran back to back in that round)."""
        a = self.rounds.get((metric, target, threads), {})
        b = self.rounds.get((metric, ref, threads), {})
        ratios = [a[r] / b[r] for r in a if r in b and b[r]]
        return statistics.median(ratios) if ratios else None

    def w(self, line=""):
        self.out.append(line)

    def table(self, title, metric, targets, unit, digits=0, scale=1.0, direct_ratio=True, errors=None, better=""):
        rows = []
        for target in targets:
            for n in [0] if target == "direct" else self.threads:
                values = self.data.get((metric, target, n))
                if values:
                    rows.append((target, n, [v * scale for v in values]))
        if not rows:
            return
        self.w(f"### {title}")
        self.w()
        if better:
            self.w(f"{better}.")
            self.w()
        head = f"| target | threads | median ({unit}) | min–max | × direct | × HAProxy | runs |"
        rule = "|---|---:|---:|---:|---:|---:|---:|"
        if errors:
            head += " errors |"
            rule += "---:|"
        self.w(head)
        self.w(rule)
        for target, n, values in rows:
            med = statistics.median(values)
            direct = self.median(metric, "direct", n) if direct_ratio and target != "direct" else None
            ref_name = reference(target)
            ref = self.median(metric, ref_name, n) if ref_name and ref_name != target else None
            ref = ref * scale if ref is not None else None
            direct = direct * scale if direct is not None else None
            line = (
                f"| {LABEL.get(target, target)} | {n or '—'} | {fmt(med, digits)} | "
                f"{fmt(min(values), digits)}–{fmt(max(values), digits)} | "
                f"{ratio(med, direct) if direct_ratio and target != 'direct' else '—'} | "
                f"{ratio(med, ref) if ref_name and ref_name != target else '—'} | {len(values)} |"
            )
            if errors:
                line += f" {int(sum(self.data.get((errors, target, n), [])))} |"
            self.w(line)
        self.w()

    def targets_at_a_glance(self):
        self.w("## Targets at a glance")
        self.w()
        self.w("FastLb against HAProxy at the same thread count. Request-rate, CPU and p99 ratios are the median of "
               "per-round ratios (each round runs the peers back to back, so a ratio compares runs seconds apart); "
               f"pinning: {self.meta.get('pin', 'off')}.")
        self.w()
        self.w("| target | required | " + " | ".join(f"{n} thread(s)" for n in self.threads) + " |")
        self.w("|---|---|" + "---|" * len(self.threads))

        def row(name, required, fn):
            cells = []
            for n in self.threads:
                try:
                    cells.append(fn(n))
                except (TypeError, ZeroDivisionError):
                    cells.append("—")
            self.w(f"| {name} | {required} | " + " | ".join(cells) + " |")

        m, rr = self.median, self.round_ratio
        pinned = self.meta.get("pin", "off").startswith("on")
        row("L7 keep-alive req/s vs HAProxy", "≥ 1.35× pinned" if pinned else "≥ 1.2× unpinned",
            lambda n: f"{rr('ka_rps', 'fastlb', 'haproxy', n):.2f}×")
        row("L7 CPU per request vs HAProxy", "≤ 0.75×", lambda n: f"{rr('ka_cpu_us', 'fastlb', 'haproxy', n):.2f}×")
        row("L7 p99 vs HAProxy", "≤ 1×", lambda n: f"{rr('ka_p99_us', 'fastlb', 'haproxy', n):.2f}×")
        row("L7 syscalls per request (FastLb / HAProxy)", "≤ 1.0",
            lambda n: f"{m('syscalls_per_req', 'fastlb', n):.2f} / {m('syscalls_per_req', 'haproxy', n):.2f}")
        row("L4 keep-alive req/s vs HAProxy tcp", "≥ 1.25× pinned", lambda n: f"{rr('ka_rps', 'fastlb-tcp', 'haproxy-tcp', n):.2f}×")
        row("New connections/s vs HAProxy", "≥ 1.2×", lambda n: f"{rr('close_rps', 'fastlb', 'haproxy', n):.2f}×")
        row("L7 keep-alive req/s vs YARP", "≥ 3×", lambda n: f"{rr('ka_rps', 'fastlb', 'yarp', n):.2f}×")
        row("L4 bulk vs direct", "≥ 0.9×", lambda n: f"{m('bulk_gbps', 'fastlb-tcp', n) / m('bulk_gbps', 'direct', n):.2f}×")
        row("idle RSS", "≤ 16 MiB", lambda n: f"{m('rss_idle_kib', 'fastlb', n) / 1024:.1f} MiB")
        row("L7 allocation per request (steady state)", "0 B", lambda n: f"{m('ka_alloc_bytes_per_req', 'fastlb', n):.2f} B")
        self.w()

    def render(self):
        meta = self.meta
        if meta.get("note"):
            self.w(f"> {meta['note']}")
            self.w()
        self.w(f"# Load run {meta.get('date', '')}: FastLb vs HAProxy, NGINX, YARP")
        self.w()
        self.w(
            "**The machine is shared with other engineers and noisy**: every process (wrk, two NGINX backends, "
            "the proxy, iperf3) runs on the same cores. Quote medians and ratios from one run, not absolute "
            "numbers across runs."
        )
        self.w()
        self.w("```")
        self.w(meta.get("command", ""))
        self.w("```")
        self.w()
        self.targets_at_a_glance()
        self.w("## Results")
        self.w()
        self.w("Each row: the median over the measured rounds, min–max, and the median's ratio to direct (no proxy) "
               "and to HAProxy (http or tcp, as the row) at the same thread count.")
        self.w()
        allt = ["direct"] + L7 + L4
        self.table("Keep-alive requests/s", "ka_rps", allt, "req/s", better="Higher is better", errors="ka_errors")
        self.table("Keep-alive latency p50", "ka_p50_us", allt, "ms", 3, 1e-3, better="Lower is better")
        self.table("Keep-alive latency p99", "ka_p99_us", allt, "ms", 3, 1e-3, better="Lower is better")
        self.table(
            "Proxy CPU time per request, keep-alive", "ka_cpu_us", L7 + L4, "µs", 2, direct_ratio=False,
            better="utime+stime of the proxy's processes over the run / requests; lower is better",
        )
        self.table(
            "Proxy CPU busy, keep-alive", "ka_busy", L7 + L4, "cores", 2, direct_ratio=False,
            better="req/s × CPU time per request, per run: the share of a core the proxy used. Pinned to one core, "
                   "below 1.00 the proxy had time to spare and the other core (wrk and the backends) set the rate",
        )
        self.table(
            "Load CPU busy, keep-alive (pinned runs)", "ka_load_busy", ["direct"] + L7 + L4, "share", 2,
            direct_ratio=False,
            better="The other CPU's busy share from /proc/stat over each run (wrk and the backends pinned there): "
                   "near 1.00, that CPU set the rate",
        )
        self.table(
            "Proxy user CPU per request, keep-alive", "ka_user_us", L7 + L4, "µs", 2, direct_ratio=False,
            better="utime from /proc/PID/stat; lower is better",
        )
        self.table(
            "Proxy kernel CPU per request, keep-alive", "ka_sys_us", L7 + L4, "µs", 2, direct_ratio=False,
            better="stime from /proc/PID/stat; lower is better",
        )
        self.table(
            "Proxy run time per request, keep-alive (schedstat)", "ka_run_us", L7 + L4, "µs", 2, direct_ratio=False,
            better="Nanosecond run time summed over the proxy's threads from /proc/PID/task/*/schedstat; lower is better",
        )
        self.table(
            "Proxy context switches per request, keep-alive", "ka_cs", L7 + L4, "switches", 3, direct_ratio=False,
            better="voluntary + involuntary, summed over the proxy's threads from /proc/PID/task/*/status; lower is better",
        )
        self.table(
            "Proxy syscalls per request, keep-alive (strace -c -f)", "syscalls_per_req", L7 + L4, "syscalls", 2,
            direct_ratio=False,
            better="From a separate short wrk run with strace attached to every thread of the proxy, never during a "
                   "timed run; tracing slows each syscall, so event-loop batching is somewhat better than untraced; "
                   "lower is better",
        )
        self.table(
            "New connections/s (`Connection: close`)", "close_rps", allt, "conn/s",
            better="Higher is better", errors="close_errors",
        )
        self.table(
            "Proxy CPU time per request, `Connection: close`", "close_cpu_us", L7 + L4, "µs", 2,
            direct_ratio=False, better="Lower is better",
        )
        self.table(
            "Proxy CPU busy, `Connection: close`", "close_busy", L7 + L4, "cores", 2, direct_ratio=False,
            better="New connections/s × CPU time per connection, as for keep-alive",
        )
        self.table(
            "Load CPU busy, `Connection: close` (pinned runs)", "close_load_busy", ["direct"] + L7 + L4, "share", 2,
            direct_ratio=False, better="As for keep-alive",
        )
        self.table("RSS idle", "rss_idle_kib", L7, "MiB", 1, 1 / 1024, direct_ratio=False,
                   better="VmRSS summed over the proxy's processes before any load; lower is better")
        self.table("RSS under keep-alive load", "rss_load_kib", L7 + L4, "MiB", 1, 1 / 1024, direct_ratio=False,
                   better="Sampled halfway through each keep-alive run; lower is better")
        self.table("FastLb managed allocation per request, keep-alive", "ka_alloc_bytes_per_req", ["fastlb", "fastlb-tcp"], "B", 2,
                   direct_ratio=False,
                   better="GC.GetTotalAllocatedBytes from `fastlb ctl status` before and after each run / requests")
        self.table("FastLb gen0 collections per keep-alive run", "ka_gen0_gcs", ["fastlb", "fastlb-tcp"], "GCs", 0,
                   direct_ratio=False, better="From `fastlb ctl status` before and after each run")
        self.table("L4 bulk throughput (iperf3, one stream)", "bulk_gbps", ["direct"] + L4, "Gbit/s", 2,
                   better="Higher is better")
        self.w("## Setup")
        self.w()
        self.w(f"- Machine: {meta.get('cpu', '?')}, {meta.get('cores', '?')} cores, kernel {meta.get('kernel', '?')}")
        self.w(f"- FastLb: {meta.get('fastlb_publish', '?')}, commit {meta.get('fastlb_commit', '?')}")
        for key in ["wrk", "h2load", "haproxy", "nginx", "iperf3"]:
            self.w(f"- {key}: {meta.get(key, '?')}")
        self.w(f"- dotnet SDK: {meta.get('dotnet', '?')}; YARP peer: Yarp.ReverseProxy 2.3.0 (bench/load/peers/yarp)")
        self.w(f"- Thread counts: {meta.get('threads', '?')}; {meta.get('rounds', '?')} interleaved rounds after a warm-up; "
               f"{meta.get('connections', '?')} connections, wrk -t1 --latency")
        self.w(f"- Durations: {meta.get('durations', '?')}; {meta.get('elapsed', '?')}")
        if meta.get("loadavg"):
            self.w(f"- Machine load: {meta['loadavg']}")
        self.w(
            "- Everything on 127.0.0.1. Backends: two NGINX, worker_processes 1, access_log off, `GET /` → 13-byte "
            "`hello, world\\n`. Every proxy round-robins over both with upstream keep-alive and no access logs: "
            "HAProxy `mode http` + `http-reuse always` (nbthread N) and `mode tcp`; NGINX `upstream keepalive 64`, "
            "`proxy_http_version 1.1`, `proxy_set_header Connection \"\"` (worker_processes N) and `stream`; "
            "YARP with `DOTNET_PROCESSOR_COUNT=N`, logging at Warning; FastLb `workers: N` "
            "with an http and a tcp listener. L4 bulk goes to an iperf3 server through a third (tcp) listener of each "
            "L4 proxy."
        )
        self.w(
            "- Same work per request: every L7 proxy writes `X-Forwarded-For` (wrk sends none: one hop; FastLb replaces an "
            "untrusted client's and appends only for `trusted_proxies`) and sets `X-Forwarded-Proto` and "
            "`X-Forwarded-Host` (HAProxy `option forwardfor` + `http-request set-header`, NGINX `proxy_set_header` "
            "with `$proxy_add_x_forwarded_for`, `$scheme`, `$http_host`, YARP's default forwarders, FastLb's own). "
            f"Checked before measuring through a backend location that echoes them: {self.meta.get('forwarded', '?')}."
        )
        self.w(f"- Pinning: {self.meta.get('pin', 'off')}.")
        self.w("- CPU per request: utime+stime from /proc/PID/stat of the proxy's processes (NGINX: master + workers), "
               "before and after each run, divided by the requests wrk completed. RSS: VmRSS summed the same way.")
        self.w("- Configs, logs and raw wrk/iperf3 output: `bench/load/.work/` (git-ignored).")
        return "\n".join(self.out) + "\n"


def main():
    meta, data, rounds = load(sys.argv[1])
    sys.stdout.write(Report(meta, data, rounds).render())


if __name__ == "__main__":
    main()
