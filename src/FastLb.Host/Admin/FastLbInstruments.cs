using System.Diagnostics.Metrics;
using FastLb.Core.Metrics;
using FastLb.Core.Routing;

namespace FastLb.Host.Admin;

/// <summary>
/// The same counters as /metrics, published through <see cref="System.Diagnostics.Metrics"/> (meter "FastLb") so
/// <c>dotnet-counters monitor -n fastlb --counters FastLb</c> and OpenTelemetry exporters can read them. Observable
/// instruments only: values are merged from the per-loop counters when a listener collects, never on the data path.
/// </summary>
internal sealed class FastLbInstruments : IDisposable
{
    public const string MeterName = "FastLb";

    private readonly Meter _meter = new(MeterName, ProcessFigures.Version);
    private readonly FastLbRuntime _runtime;

    public FastLbInstruments(FastLbRuntime runtime)
    {
        _runtime = runtime;
        _meter.CreateObservableCounter("fastlb.backend.requests", () => Backends(TrafficField.Requests), "{request}", "Requests (HTTP) or connections (TCP) that reached a backend.");
        _meter.CreateObservableCounter("fastlb.backend.errors", ObserveErrors, "{request}", "5xx responses, failed and timed-out connects per backend.");
        _meter.CreateObservableCounter("fastlb.backend.connect_failures", () => Backends(TrafficField.ConnectFailures), "{connect}", "Connects refused or unreachable.");
        _meter.CreateObservableCounter("fastlb.backend.timeouts", () => Backends(TrafficField.Timeouts), "{request}", "Exchanges that timed out after connecting.");
        _meter.CreateObservableCounter("fastlb.backend.resets", () => Backends(TrafficField.Resets), "{request}", "Exchanges the backend reset or cut.");
        _meter.CreateObservableCounter("fastlb.backend.bytes_sent", () => Backends(TrafficField.BytesOut), "By", "Bytes sent to clients from each backend.");
        _meter.CreateObservableUpDownCounter("fastlb.backend.live", ObserveLive, "{request}", "Connections (TCP) or requests (HTTP) in flight.");
        _meter.CreateObservableGauge("fastlb.pool.request_duration.p99", ObserveP99, "s", "99th percentile request duration per pool over the last 10 s.");
        _meter.CreateObservableUpDownCounter("fastlb.listener.connections", ObserveListeners, "{connection}", "Open client connections per listener.");
        _meter.CreateObservableGauge("fastlb.routing.generation", () => runtime.Router.Current.Generation, null, "Routing table generation in force.");
    }

    private IEnumerable<Measurement<long>> Backends(int field)
    {
        foreach (var b in _runtime.Controller.Registry.All) yield return new(b.Traffic.Total(field), Tags(b));
    }

    private IEnumerable<Measurement<long>> ObserveErrors()
    {
        foreach (var b in _runtime.Controller.Registry.All)
        {
            var t = b.Traffic;
            yield return new(t.Total(TrafficField.Status5xx) + t.Total(TrafficField.ConnectFailures) + t.Total(TrafficField.ConnectTimeouts), Tags(b));
        }
    }

    private IEnumerable<Measurement<long>> ObserveLive()
    {
        foreach (var b in _runtime.Controller.Registry.All) yield return new(b.Live, Tags(b));
    }

    private IEnumerable<Measurement<double>> ObserveP99()
    {
        var stats = _runtime.Controller.Stats;
        foreach (var (service, pool) in _runtime.Controller.Registry.All.Select(b => (b.Service, b.Pool)).Distinct())
        {
            yield return new(stats.Pool(service, pool).Duration(0.99), new KeyValuePair<string, object?>("service", service), new KeyValuePair<string, object?>("pool", pool));
        }
    }

    private IEnumerable<Measurement<int>> ObserveListeners()
    {
        foreach (var l in _runtime.Proxy.ListenerTraffic.All) yield return new(l.ActiveConnections, new KeyValuePair<string, object?>("listener", l.Name));
    }

    private static KeyValuePair<string, object?>[] Tags(BackendState b) =>
        [new("service", b.Service), new("pool", b.Pool), new("backend", b.Address)];

    public void Dispose() => _meter.Dispose();
}
