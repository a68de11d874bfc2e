using System.Text.Json;

namespace FastLb.Core.Metrics;

/// <summary>The JSON form of a <see cref="TrafficSummary"/>, shared by status, <c>ctl stats</c> and the dashboard.</summary>
internal static class TrafficSummaryJson
{
    /// <summary>The short form in status: rate, error rate, p50 and p99.</summary>
    public static void WriteBrief(Utf8JsonWriter w, string name, TrafficSummary s)
    {
        w.WriteStartObject(name);
        w.WriteNumber("window_seconds", s.Seconds);
        w.WriteNumber("requests_per_second", Math.Round(s.RequestsPerSecond, 2));
        w.WriteNumber("error_rate", Math.Round(s.ErrorRate, 4));
        w.WriteNumber("p50_ms", Millis(s.Duration(0.5)));
        w.WriteNumber("p99_ms", Millis(s.Duration(0.99)));
        w.WriteEndObject();
    }

    /// <summary>Every figure of the window, as members of the open object.</summary>
    public static void WriteFull(Utf8JsonWriter w, TrafficSummary s)
    {
        w.WriteNumber("window_seconds", s.Seconds);
        w.WriteNumber("requests", s.Requests);
        w.WriteNumber("requests_per_second", Math.Round(s.RequestsPerSecond, 2));
        w.WriteNumber("errors", s.Errors);
        w.WriteNumber("error_rate", Math.Round(s.ErrorRate, 4));
        w.WriteStartObject("status");
        for (var c = 1; c <= 5; c++) w.WriteNumber($"{c}xx", s.Status(c));
        w.WriteEndObject();
        w.WriteNumber("connect_failures", s.ConnectFailures);
        w.WriteNumber("connect_timeouts", s.ConnectTimeouts);
        w.WriteNumber("timeouts", s.Timeouts);
        w.WriteNumber("resets", s.Resets);
        w.WriteNumber("broken_responses", s.BrokenResponses);
        w.WriteNumber("retries", s.Retries);
        w.WriteNumber("bytes_in", s.BytesIn);
        w.WriteNumber("bytes_out", s.BytesOut);
        w.WriteNumber("connections_opened", s.ConnectionsOpened);
        w.WriteNumber("p50_ms", Millis(s.Duration(0.5)));
        w.WriteNumber("p90_ms", Millis(s.Duration(0.9)));
        w.WriteNumber("p99_ms", Millis(s.Duration(0.99)));
        w.WriteNumber("head_p50_ms", Millis(s.Head(0.5)));
        w.WriteNumber("head_p99_ms", Millis(s.Head(0.99)));
    }

    private static double Millis(double seconds) => Math.Round(seconds * 1000, 3);
}
