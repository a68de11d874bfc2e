namespace FastLb.Core.Metrics;

/// <summary>Requests and errors per second over the last minutes, oldest first: a sparkline's data.</summary>
internal sealed record TrafficHistory(long[] Requests, long[] Errors);
