namespace FastLb.Host.Admin;

/// <summary>The live dashboard page (<c>GET /</c>): one HTML document with its script, no external assets.</summary>
/// <remarks>
/// Polls <c>/status</c>, <c>/history</c> and <c>/events</c> once a second. Per service: the pool shares as one full-width bar, the
/// assignment <c>rollback</c> returns to, and per pool and backend requests/s, error rate, p50/p99 over the last 10 s,
/// a sparkline of requests and errors per second over the last 5 minutes (read from <c>/history</c>: all of it when
/// the page opens, then only the seconds since its last read), health, and a draining pool's live
/// count with a countdown to its deadline. A service that model listeners route to also gets a table per model and
/// pool: requests, tokens in and out, 429s, time to first token p50/p99 and streams, since start. When FastLb stops answering, the page says "disconnected" and keeps the
/// last view.
/// </remarks>
internal static class AdminDashboard
{
    public const string Html = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>FastLb</title>
        <style>
          body { font: 14px system-ui, sans-serif; margin: 0; color: #1d2330; background: #f4f5f7; }
          header { background: #1d2330; color: #fff; padding: .7em 1.5em; display: flex; gap: 1.5em; align-items: baseline; }
          header h1 { font-size: 1.2em; margin: 0; }
          header .meta { color: #b8c0d0; }
          #conn { margin-left: auto; padding: .15em .6em; border-radius: 1em; font-weight: 600; }
          #conn.live { background: #1f8a4c; } #conn.down { background: #c0392b; }
          main { display: grid; grid-template-columns: minmax(0, 1fr) 22em; gap: 1.2em; padding: 1.2em 1.5em; }
          section.service, aside { background: #fff; border-radius: 6px; padding: .8em 1em 1em; box-shadow: 0 1px 2px #0002; margin-bottom: 1.2em; }
          h2 { font-size: 1.1em; margin: 0 0 .5em; } h2 .muted { font-weight: normal; }
          .muted { color: #6b7385; }
          .sharebar { display: flex; height: 2em; border-radius: 4px; overflow: hidden; background: #e3e6ec; margin: .3em 0; }
          .sharebar div { display: flex; align-items: center; justify-content: center; color: #fff; font-weight: 600; white-space: nowrap; overflow: hidden; transition: width .4s ease; }
          table { border-collapse: collapse; width: 100%; margin-top: .6em; }
          td, th { padding: .25em .45em; border-bottom: 1px solid #e6e8ed; text-align: right; white-space: nowrap; }
          td:first-child, th:first-child { text-align: left; }
          tr.backend td { color: #4a5263; font-size: .92em; } tr.backend td:first-child { padding-left: 1.6em; }
          td.drain-cell, tr.backend td:last-child { white-space: normal; text-align: left; min-width: 9em; }
          .swatch { display: inline-block; width: .8em; height: .8em; border-radius: 2px; margin-right: .4em; vertical-align: -1px; }
          .bad { color: #c0392b; font-weight: 600; } .warn { color: #c77700; font-weight: 600; } .good { color: #1f8a4c; }
          tr td.h-healthy { color: #1f8a4c; } tr td.h-unhealthy, tr td.h-down { color: #c0392b; font-weight: 600; } tr td.h-ejected { color: #c77700; font-weight: 600; } tr td.h-unknown { color: #8a91a0; }
          .drain { color: #c77700; font-weight: 600; } .drained { color: #1f8a4c; }
          svg.spark { width: 72px; height: 20px; vertical-align: middle; }
          aside h2 { margin-bottom: .3em; }
          #events { list-style: none; padding: 0; margin: 0; font-size: .92em; }
          #events li { padding: .3em 0; border-bottom: 1px solid #e6e8ed; }
          #events .kind { font-weight: 600; margin-right: .3em; } #events .fail { color: #c0392b; }
        </style>
        </head>
        <body>
        <header><h1>FastLb</h1><span class="meta" id="meta">connecting…</span><span id="conn" class="live">connecting</span></header>
        <main><div id="services"></div><aside><h2>Recent events</h2><ul id="events"></ul></aside></main>
        <script>
        const colors = ['#2f6fd6', '#1f9d55', '#c77700', '#8e44ad', '#16a2b8', '#c0392b'];
        const history = {}; // "service/pool" and "service/pool/backend" -> {r: requests/s, e: errors/s}, one a second, at most 300
        let historyEnd = null; // the last second /history returned: the next read asks only for what follows
        const poolColor = {};
        const esc = s => String(s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
        const id = s => String(s).replace(/[^A-Za-z0-9_-]/g, '_');
        const num = (x, d) => x === undefined || x === null ? '–' : Number(x).toFixed(d);
        const pct = r => r === undefined || r === null ? '–' : (r * 100).toFixed(r > 0 && r < 0.01 ? 2 : 1) + '%';
        const secs = ms => ms >= 10000 ? Math.round(ms / 1000) + 's' : (ms / 1000).toFixed(1) + 's';
        function uptime(s) { s = Math.floor(s); const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60); return (h ? h + 'h ' : '') + (h || m ? m + 'm ' : '') + s % 60 + 's'; }
        function colorOf(service, pool, i) { return poolColor[service + '/' + pool] ??= colors[i % colors.length]; }
        function mergeHistory(h) {
          for (const [svc, s] of Object.entries(h.services || {})) {
            for (const [pool, p] of Object.entries(s.pools)) {
              append(svc + '/' + pool, p);
              for (const [addr, b] of Object.entries(p.backends)) append(svc + '/' + pool + '/' + addr, b);
            }
          }
          historyEnd = h.end_second;
        }
        function append(key, series) {
          const h = history[key] ??= {r: [], e: []};
          h.r.push(...series.requests); h.e.push(...series.errors);
          if (h.r.length > 300) { h.r.splice(0, h.r.length - 300); h.e.splice(0, h.e.length - 300); }
        }
        function line(values, max, color) {
          const w = 90, h = 20, step = w / 299, x0 = w - (values.length - 1) * step;
          const pts = values.map((v, i) => (x0 + i * step).toFixed(1) + ',' + (h - 1 - v / max * (h - 2)).toFixed(1)).join(' ');
          return '<polyline fill="none" stroke="' + color + '" stroke-width="1.5" points="' + pts + '"/>';
        }
        function spark(key) {
          const s = history[key];
          if (!s || s.r.length < 2) return '<svg class="spark"></svg>';
          const max = Math.max(1, ...s.r), errs = s.e.some(v => v > 0);
          const title = 'last ' + s.r.length + ' s: ' + s.r.reduce((a, b) => a + b, 0) + ' requests, ' + s.e.reduce((a, b) => a + b, 0) + ' errors';
          return '<svg class="spark" viewBox="0 0 90 20"><title>' + title + '</title>' + line(s.r, max, '#2f6fd6') + (errs ? line(s.e, max, '#c0392b') : '') + '</svg>';
        }
        function drainText(d) {
          if (!d) return '';
          if (d.drained_at) return '<span class="drained">' + (d.aborted > 0 ? d.aborted + ' cut at deadline' : 'drained in ' + secs(d.drained_after_ms ?? 0)) + '</span>';
          return '<span class="drain">draining: ' + d.live + ' live, deadline in ' + secs(Math.max(0, d.deadline_in_ms ?? 0)) + '</span>';
        }
        function errClass(rate) { return rate >= 0.05 ? 'bad' : rate >= 0.01 ? 'warn' : ''; }
        function statCells(st) {
          st = st || {};
          return '<td>' + num(st.requests_per_second, 1) + '</td><td class="' + errClass(st.error_rate || 0) + '">' + pct(st.error_rate) + '</td><td>' + num(st.p50_ms, 1) + '</td><td>' + num(st.p99_ms, 1) + '</td>';
        }
        function rolloutText(name, r) {
          if (!r) return '';
          const gate = r.waiting_gate !== null ? ' · waiting for promote before ' + r.waiting_gate + '%' : '';
          const last = r.verdicts.length ? r.verdicts[r.verdicts.length - 1] : null;
          const line = r.outcome ? esc(r.outcome) : last ? 'last step ' + last.share + '%: ' + esc(last.outcome) + ': ' + esc(last.reason) : '';
          return '<p class="muted" id="rollout-' + id(name) + '">rollout ' + esc(r.pool) + ' from ' + esc(r.baseline) + ': ' + esc(r.state)
            + ' step ' + r.step + ' of ' + r.steps_total + ' (' + r.share + '%)' + gate + (line ? '<br>' + line : '') + '</p>';
        }

        function renderService(name, svc) {
          const pools = Object.entries(svc.pools);
          let bar = '';
          pools.forEach(([pool, p], i) => {
            if (p.share > 0) bar += '<div data-pool="' + esc(pool) + '" style="width:' + p.share + '%;background:' + colorOf(name, pool, i) + '">' + esc(pool) + ' ' + p.share + '%</div>';
          });
          const prev = svc.previous ? Object.entries(svc.previous).map(([k, v]) => esc(k) + '=' + v).join(' ') : 'none';
          let html = '<section class="service" id="svc-' + id(name) + '"><h2>' + esc(name) + ' <span class="muted">' + esc(svc.balance) + ' · shares from ' + esc(svc.source) + ' · rollback → ' + prev + '</span></h2>';
          html += '<div class="sharebar" id="bar-' + id(name) + '">' + bar + '</div>';
          html += rolloutText(name, svc.rollout);
          html += '<table><tr><th>pool / backend</th><th>share</th><th>req/s</th><th>errors</th><th>p50 ms</th><th>p99 ms</th><th>last 5 min</th><th>live</th><th>health</th><th style="text-align:left">drain</th></tr>';
          pools.forEach(([pool, p], i) => {
            const key = name + '/' + pool;
            const health = p.total !== undefined ? '<span class="' + (p.healthy < p.total ? 'warn' : 'good') + '">' + p.healthy + '/' + p.total + ' healthy</span>' + (p.panic ? ' <span class="bad">PANIC</span>' : '') : '';
            const gateCell = p.gate ? (p.gate.ok ? ' <span class="good" title="swap/split to this pool would pass the release gate">gate ok</span>' : ' <span class="bad" title="' + esc(p.gate.reason || '') + '">gate refuses</span>') : '';
            html += '<tr class="pool" id="pool-' + id(name) + '-' + id(pool) + '"><td><span class="swatch" style="background:' + colorOf(name, pool, i) + '"></span><b>' + esc(pool) + '</b>' + (p.removed ? ' <span class="muted">(removed)</span>' : '') + '</td>'
              + '<td class="share">' + p.share + '%</td>' + statCells(p.stats) + '<td>' + spark(key) + '</td><td class="live">' + p.live + '</td><td>' + health + gateCell + '</td><td class="drain-cell" id="drain-' + id(name) + '-' + id(pool) + '">' + drainText(p.draining) + '</td></tr>';
            for (const b of p.backends) {
              const hs = b.state === 'down' ? 'down' : (b.health || 'unknown');
              const ej = b.ejected_until ? ' until ' + esc(b.ejected_until.substring(11, 19)) : '';
              html += '<tr class="backend"><td>' + esc(b.address) + ' <span class="muted">w' + b.weight + (b.effective_weight !== undefined && b.effective_weight !== b.weight ? ' (eff ' + num(b.effective_weight, 1) + ')' : '') + '</span></td>'
                + '<td class="muted">' + esc(b.state) + '</td>' + statCells(b.stats) + '<td>' + spark(key + '/' + b.address) + '</td><td>' + b.live + '</td><td class="h-' + esc(hs) + '">● ' + esc(hs) + ej + '</td><td>' + drainText(b.draining) + '</td></tr>';
            }
          });
          return html + '</table>' + modelTable(name, svc.models) + '</section>';
        }
        function modelTable(name, models) {
          if (!models || !models.length) return '';
          let html = '<table class="models" id="models-' + id(name) + '"><tr><th>model / pool</th><th title="last 60 s">req/s</th><th title="last 60 s">429 / 60 s</th><th title="last 60 s">tokens/s in</th><th title="last 60 s">tokens/s out</th><th title="last 60 s">TTFT p50 ms</th><th title="last 60 s">TTFT p99 ms</th>'
            + '<th title="since start">requests</th><th title="since start">tokens in</th><th title="since start">tokens out</th><th title="since start">429</th><th>streams</th><th>stream p50 s</th></tr>';
          for (const m of models) {
            html += '<tr class="model" id="model-' + id(name) + '-' + id(m.model) + '-' + id(m.pool) + '"><td><b>' + esc(m.model) + '</b> <span class="muted">' + (m.pool === '_none' ? 'refused by token limits' : esc(m.pool)) + '</span></td>';
            const r = m.recent || {};
            html += '<td class="recent-rps">' + num(r.requests_per_second, 2) + '</td><td class="recent-429 ' + (r.status_429 > 0 ? 'warn' : '') + '">' + (r.status_429 ?? '') + '</td>'
              + '<td class="recent-tokens-in">' + num(r.prompt_tokens_per_second, 1) + '</td><td class="recent-tokens-out">' + num(r.completion_tokens_per_second, 1) + '</td>'
              + '<td class="ttft-p50">' + num(r.first_byte_p50_ms, 1) + '</td><td class="ttft-p99">' + num(r.first_byte_p99_ms, 1) + '</td>'
              + '<td class="requests">' + m.requests + '</td><td class="tokens-in">' + m.prompt_tokens + '</td><td class="tokens-out">' + m.completion_tokens + '</td><td class="' + (m.status_429 > 0 ? 'warn' : '') + '">' + m.status_429 + '</td>'
              + '<td>' + m.streams + '</td><td>' + num(m.stream_p50_ms === null ? null : m.stream_p50_ms / 1000, 2) + '</td></tr>';
          }
          return html + '</table>';
        }
        function renderEvents(events) {
          document.getElementById('events').innerHTML = events.slice().reverse().slice(0, 30).map(e =>
            '<li' + (e.ok === false ? ' class="fail"' : '') + '><span class="muted">' + esc((e.time || '').substring(11, 19)) + '</span> <span class="kind">' + esc(e.kind) + '</span>' + esc(e.message) + '</li>').join('');
        }
        async function refresh() {
          try {
            const [status, hist, events] = await Promise.all([
              fetch('/status', {cache: 'no-store', signal: AbortSignal.timeout(3000)}).then(r => r.json()),
              fetch(historyEnd === null ? '/history' : '/history?since=' + historyEnd, {cache: 'no-store', signal: AbortSignal.timeout(3000)}).then(r => r.json()),
              fetch('/events?limit=30', {cache: 'no-store', signal: AbortSignal.timeout(3000)}).then(r => r.json())]);
            mergeHistory(hist);
            const p = status.process || {};
            document.getElementById('meta').textContent = 'version ' + (p.version || '?') + ' · pid ' + status.pid + ' · up ' + uptime(p.uptime_seconds || 0)
              + ' · generation ' + status.generation + ' · ' + status.live_connections + ' client connections';
            document.getElementById('services').innerHTML = Object.entries(status.services).map(([n, s]) => renderService(n, s)).join('');
            renderEvents(events.events || []);
            const conn = document.getElementById('conn'); conn.textContent = 'live'; conn.className = 'live';
          } catch (e) {
            const conn = document.getElementById('conn'); conn.textContent = 'disconnected'; conn.className = 'down';
          }
        }
        // One poll at a time, a second apart: a slow answer delays the next poll instead of piling them up.
        async function loop() { await refresh(); setTimeout(loop, 1000); }
        loop();
        </script>
        </body>
        </html>
        """;
}
