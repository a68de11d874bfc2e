using System.Globalization;
using System.Text.Json;
using FastLb.Core.Health;
using FastLb.Core.Routing;

namespace FastLb.Core.Traffic;

internal sealed partial class TrafficController
{
    /// <summary>
    /// Writes the runtime state a new process needs to carry on where this one stops (a process upgrade): every
    /// service's assignment with its source and rollback history, backend overrides, drains with their original
    /// times, each backend's health and ejection state, running rollouts, and the table generation. One JSON object; <see cref="ImportState"/> reads it.
    /// </summary>
    public void ExportState(Utf8JsonWriter w)
    {
        lock (_writeLock)
        {
            w.WriteStartObject();
            w.WriteNumber("generation", _generation);
            w.WriteStartObject("services");
            foreach (var (name, t) in _traffic)
            {
                w.WriteStartObject(name);
                WriteRawShares(w, "file_shares", t.FileShares);
                WriteRawShares(w, "current", t.Current);
                w.WriteString("source", t.Source == AssignmentSource.File ? "file" : "runtime");
                w.WriteStartArray("history");
                foreach (var h in t.History) WriteRawShares(w, null, h);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteStartArray("overrides");
            foreach (var (key, o) in _overrides)
            {
                w.WriteStartObject();
                WriteKey(w, key.Service, key.Pool, key.Address);
                w.WriteNumber("file_weight", o.FileWeight);
                if (o.Weight is { } weight) w.WriteNumber("weight", weight);
                else w.WriteNull("weight");
                w.WriteBoolean("drained", o.Drained);
                WriteTime(w, "drained_since", o.DrainedSince);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("drains");
            foreach (var entry in _drains.Values)
            {
                w.WriteStartObject();
                WriteKey(w, entry.Service, entry.Pool, entry.Address);
                WriteTime(w, "since", entry.Since);
                WriteTime(w, "deadline", entry.Deadline);
                WriteTime(w, "drained_at", entry.DrainedAt);
                w.WriteNumber("aborted", entry.Aborted);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("health");
            foreach (var (key, h) in Registry.ExportHealth())
            {
                w.WriteStartObject();
                WriteKey(w, key.Service, key.Pool, key.Address);
                w.WriteString("status", h.Status.ToString().ToLowerInvariant());
                w.WriteNumber("since_ticks", h.SinceTicks);
                w.WriteNumber("passes_in_row", h.PassesInRow);
                w.WriteNumber("failures_in_row", h.FailuresInRow);
                w.WriteNumber("ejected_until_ticks", h.EjectedUntilTicks);
                w.WriteNumber("times_ejected", h.TimesEjected);
                w.WriteNumber("returned_ticks", h.ReturnedTicks);
                w.WriteNumber("ejections", h.Ejections);
                w.WriteNumber("ramp_start_ticks", h.RampStartTicks);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            ExportRollouts(w);
            w.WriteEndObject();
        }
    }

    /// <summary>
    /// Takes over the state <see cref="ExportState"/> wrote in another process, on top of the config just loaded, and
    /// publishes it. The reload rule applies: where this file changed a service's traffic settings (or a backend's
    /// weight) since the other process loaded its file, the file wins; state for services, pools or backends the
    /// file no longer names is dropped. Returns what was taken over, for the log.
    /// </summary>
    public ChangeResult ImportState(JsonElement state, string from)
    {
        lock (_writeLock)
        {
            var config = _config ?? throw new InvalidOperationException("load a config before importing state");
            var taken = new List<string>();
            var carried = new HashSet<string>(StringComparer.Ordinal);
            if (state.TryGetProperty("services", out var services))
            {
                foreach (var s in services.EnumerateObject())
                {
                    if (!_traffic.TryGetValue(s.Name, out var t) || config.FindService(s.Name) is not { } serviceConfig) continue;
                    var fileShares = ReadShares(s.Value.GetProperty("file_shares"));
                    if (!Shares.SameAs(fileShares, t.FileShares))
                    {
                        taken.Add($"{s.Name}: the file changed its traffic settings; the file wins");
                        continue;
                    }
                    var pools = serviceConfig.Pools.Select(p => p.Name).ToList();
                    var current = ReadShares(s.Value.GetProperty("current"));
                    if (current.Count != pools.Count || !pools.All(current.ContainsKey)) continue;
                    t.Current = current;
                    t.Source = s.Value.GetProperty("source").GetString() == "runtime" ? AssignmentSource.Runtime : AssignmentSource.File;
                    t.RestoreHistory(s.Value.GetProperty("history").EnumerateArray().Select(ReadShares));
                    t.PruneHistory(pools);
                    carried.Add(s.Name);
                    if (t.Source == AssignmentSource.Runtime) taken.Add($"{s.Name}: {Shares.Describe(current)} (runtime)");
                }
            }
            var fileWeights = FileWeights(config);
            if (state.TryGetProperty("overrides", out var overrides))
            {
                foreach (var o in overrides.EnumerateArray())
                {
                    var key = ReadKey(o);
                    var fileWeight = o.GetProperty("file_weight").GetInt32();
                    if (key.Address is null || !fileWeights.TryGetValue(new BackendKey(key.Service, key.Pool, key.Address), out var weight) || weight != fileWeight) continue;
                    var restored = new BackendOverride(fileWeight)
                    {
                        Weight = o.GetProperty("weight").ValueKind == JsonValueKind.Number ? o.GetProperty("weight").GetInt32() : null,
                        Drained = o.GetProperty("drained").GetBoolean(),
                        DrainedSince = ReadTime(o, "drained_since"),
                    };
                    if (restored.IsEmpty) continue;
                    _overrides[new BackendKey(key.Service, key.Pool, key.Address)] = restored;
                    taken.Add($"{key.Service}/{key.Pool}/{key.Address}: {(restored.Drained ? "drained" : $"weight {restored.Weight}")} (runtime)");
                }
            }
            ImportRollouts(state, carried, taken);
            if (state.TryGetProperty("generation", out var generation)) _generation = Math.Max(_generation, generation.GetInt64());
            var next = RoutingTableBuilder.Build(config, _generation + 1, _traffic, _overrides, Registry);
            if (state.TryGetProperty("drains", out var drains))
            {
                foreach (var d in drains.EnumerateArray())
                {
                    var key = ReadKey(d);
                    var pool = next.FindService(key.Service)?.FindPool(key.Pool);
                    if (pool is null) continue; // gone from the file: its connections are the old process's to finish
                    BackendState[] backends;
                    if (key.Address is null) backends = States(pool.Backends);
                    else if (FindBackend(pool, key.Address) is { } backend) backends = [backend.State];
                    else continue;
                    var entry = new DrainEntry(key.Service, key.Pool, key.Address, backends, ReadTime(d, "since")!.Value, ReadTime(d, "deadline")!.Value)
                    {
                        DrainedAt = ReadTime(d, "drained_at"),
                    };
                    entry.RestoreAborted(d.GetProperty("aborted").GetInt32());
                    _drains[key] = entry;
                    if (entry.DrainedAt is null) taken.Add($"drain {entry.Describe()} deadline {entry.Deadline.UtcDateTime:HH:mm:ss.fff}Z");
                }
            }
            if (state.TryGetProperty("health", out var health))
            {
                var records = new List<KeyValuePair<BackendKey, BackendHealthRecord>>();
                foreach (var h in health.EnumerateArray())
                {
                    var key = ReadKey(h);
                    // Only backends this file still names: health of a removed one means nothing here.
                    if (key.Address is null || !fileWeights.ContainsKey(new BackendKey(key.Service, key.Pool, key.Address))) continue;
                    records.Add(new(new BackendKey(key.Service, key.Pool, key.Address), new BackendHealthRecord(
                        Enum.TryParse<HealthStatus>(h.GetProperty("status").GetString(), ignoreCase: true, out var status) ? status : HealthStatus.Unknown,
                        h.GetProperty("since_ticks").GetInt64(),
                        h.GetProperty("passes_in_row").GetInt32(),
                        h.GetProperty("failures_in_row").GetInt32(),
                        h.GetProperty("ejected_until_ticks").GetInt64(),
                        h.GetProperty("times_ejected").GetInt32(),
                        h.GetProperty("returned_ticks").GetInt64(),
                        h.GetProperty("ejections").GetInt64(),
                        h.GetProperty("ramp_start_ticks").GetInt64())));
                }
                Registry.ImportHealth(records);
                if (records.Exists(r => r.Value.Status == HealthStatus.Unhealthy || r.Value.EjectedUntilTicks != 0))
                {
                    taken.Add("health: " + string.Join(", ", records.Where(r => r.Value.Status == HealthStatus.Unhealthy || r.Value.EjectedUntilTicks != 0)
                        .Select(r => $"{r.Key.Service}/{r.Key.Pool}/{r.Key.Address} {(r.Value.EjectedUntilTicks != 0 ? "ejected" : "unhealthy")}")));
                }
            }
            var summary = taken.Count == 0 ? $"state from {from}: nothing changed at runtime" : $"state from {from}: " + string.Join("; ", taken);
            // The drains were set as a whole above: comparing against the table the file alone produced would start
            // drains the other process never had.
            return Publish(summary, trackDrains: false);
        }
    }

    private static void WriteRawShares(Utf8JsonWriter w, string? name, IReadOnlyDictionary<string, int> shares)
    {
        if (name is null) w.WriteStartObject();
        else w.WriteStartObject(name);
        foreach (var (pool, share) in shares) w.WriteNumber(pool, share);
        w.WriteEndObject();
    }

    private static Dictionary<string, int> ReadShares(JsonElement e)
    {
        var shares = new Dictionary<string, int>();
        foreach (var p in e.EnumerateObject()) shares[p.Name] = p.Value.GetInt32();
        return shares;
    }

    private static void WriteKey(Utf8JsonWriter w, string service, string pool, string? address)
    {
        w.WriteString("service", service);
        w.WriteString("pool", pool);
        if (address is null) w.WriteNull("address");
        else w.WriteString("address", address);
    }

    private static DrainKey ReadKey(JsonElement e) => new(
        e.GetProperty("service").GetString()!,
        e.GetProperty("pool").GetString()!,
        e.TryGetProperty("address", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString() : null);

    private static void WriteTime(Utf8JsonWriter w, string name, DateTimeOffset? time)
    {
        if (time is { } t) w.WriteString(name, t.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture));
        else w.WriteNull(name);
    }

    private static DateTimeOffset? ReadTime(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
            ? DateTimeOffset.Parse(v.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind)
            : null;
}
