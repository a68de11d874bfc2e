namespace FastLb.Host.Admin;

/// <summary>The live dashboard page: plain HTML and a script that polls /status once a second.</summary>
internal static class AdminDashboard
{
    public const string Html = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>FastLb</title>
        <style>
          body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
          h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
          table { border-collapse: collapse; margin: .3em 0 1em; }
          td, th { padding: .2em .8em; border-bottom: 1px solid #ddd; text-align: left; }
          .bar { display: inline-block; height: .8em; background: #3b7; vertical-align: middle; }
          .draining { color: #b60; } .down { color: #c22; } .muted { color: #888; }
          .h-healthy { color: #2a7; } .h-unhealthy { color: #c22; } .h-ejected { color: #d70; } .h-unknown { color: #888; }
          .gate-ok { color: #2a7; } .gate-refused { color: #c22; }
        </style>
        </head>
        <body>
        <h1>FastLb <span id="gen" class="muted"></span></h1>
        <div id="root">loading…</div>
        <script>
        const esc = s => String(s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
        async function refresh() {
          try {
            const s = await (await fetch('/status', {cache: 'no-store'})).json();
            document.getElementById('gen').textContent = 'generation ' + s.generation + ' · ' + s.live_connections + ' client connections';
            let html = '';
            for (const [name, svc] of Object.entries(s.services)) {
              html += '<h2>' + esc(name) + ' <span class="muted">' + esc(svc.balance) + ' · ' + esc(svc.source) + '</span></h2><table>';
              html += '<tr><th>pool</th><th>share</th><th>live</th><th>health</th><th>release gate</th><th>drain</th><th>backends</th></tr>';
              for (const [pool, p] of Object.entries(svc.pools)) {
                const d = p.draining ? (p.draining.drained_at ? 'drained at ' + p.draining.drained_at : 'draining until ' + p.draining.deadline) : '';
                const backends = p.backends.map(b => '<span class="h-' + esc(b.health || 'healthy') + '" title="' + esc(b.last_check ? 'last check: ' + b.last_check.result + ' in ' + b.last_check.latency_ms + ' ms' : 'not checked') + '">● ' + esc(b.address) + ' w' + b.weight
                  + (b.effective_weight !== undefined && b.effective_weight !== b.weight ? ' (eff ' + b.effective_weight + ')' : '') + ' live ' + b.live + ' ' + esc(b.state) + ' · ' + esc(b.health || '') + '</span>').join('<br>');
                const health = p.healthy !== undefined ? p.healthy + '/' + p.total + ' healthy' + (p.panic ? ' <b class="down">PANIC</b>' : '') : '';
                const gate = p.gate ? (p.gate.ok ? '<span class="gate-ok">swap allowed</span>' : '<span class="gate-refused" title="' + esc(p.gate.reason) + '">swap refused</span>') : '';
                html += '<tr><td>' + esc(pool) + '</td><td><span class="bar" style="width:' + p.share + 'px"></span> ' + p.share + '%</td><td>' + p.live + '</td><td>' + health + '</td><td>' + gate + '</td><td class="draining">' + esc(d) + '</td><td>' + backends + '</td></tr>';
              }
              html += '</table>';
            }
            document.getElementById('root').innerHTML = html;
          } catch (e) {
            document.getElementById('root').textContent = 'cannot reach /status: ' + e;
          }
        }
        refresh();
        setInterval(refresh, 1000);
        </script>
        </body>
        </html>
        """;
}
