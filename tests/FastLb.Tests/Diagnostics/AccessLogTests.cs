using System.Diagnostics;
using System.Text;
using System.Text.Json;
using FastLb.Core.Config;
using FastLb.Core.Diagnostics;
using FastLb.Core.Metrics;
using Xunit;

namespace FastLb.Tests.Diagnostics;

/// <summary>Access log lines: the documented text and JSON forms, request bytes escaped, and a full buffer that drops and counts.</summary>
public sealed class AccessLogTests
{
    private static readonly DateTime Time = new(2026, 5, 1, 12, 30, 15, 123, DateTimeKind.Utc);

    private static string Format(AccessLogFormat format, string path = "/cart", bool http = true, int status = 200)
    {
        var record = new AccessLogRecord
        {
            Time = Time,
            Client = "10.1.2.3"u8,
            ClientPort = 51000,
            Listener = "web",
            Route = 2,
            Service = "shop",
            Pool = "green",
            Backend = "127.0.0.1:9001",
            Generation = 7,
            Http = http,
            Method = "GET"u8,
            Path = Encoding.Latin1.GetBytes(path),
            Status = status,
            BytesIn = 120,
            BytesOut = 5120,
            DurationMicros = 1234,
            UpstreamHeadMicros = http ? 987 : -1,
            Retries = 1,
            Cause = TerminationCause.Ok,
        };
        var buffer = new byte[AccessLogFormatter.MaxLineBytes];
        Assert.True(AccessLogFormatter.TryFormat(record, format, buffer, out var n));
        Assert.Equal((byte)'\n', buffer[n - 1]);
        return Encoding.UTF8.GetString(buffer, 0, n - 1);
    }

    [Fact]
    public void Text_Request_FieldsInTheDocumentedOrder()
    {
        Assert.Equal("2026-05-01T12:30:15.123Z 10.1.2.3:51000 web 2 shop green 127.0.0.1:9001 7 \"GET /cart\" 200 120 5120 1.234 0.987 1 ok",
            Format(AccessLogFormat.Text));
    }

    [Fact]
    public void Text_TcpConnection_DashesForHttpFields()
    {
        Assert.Equal("2026-05-01T12:30:15.123Z 10.1.2.3:51000 web 2 shop green 127.0.0.1:9001 7 \"-\" - 120 5120 1.234 - 1 ok",
            Format(AccessLogFormat.Text, http: false, status: 0));
    }

    [Fact]
    public void Json_Request_EveryFieldWithItsType()
    {
        var e = JsonDocument.Parse(Format(AccessLogFormat.Json)).RootElement;
        Assert.Equal("2026-05-01T12:30:15.123Z", e.GetProperty("time").GetString());
        Assert.Equal("10.1.2.3", e.GetProperty("client").GetString());
        Assert.Equal(51000, e.GetProperty("client_port").GetInt32());
        Assert.Equal("web", e.GetProperty("listener").GetString());
        Assert.Equal(2, e.GetProperty("route").GetInt32());
        Assert.Equal("shop", e.GetProperty("service").GetString());
        Assert.Equal("green", e.GetProperty("pool").GetString());
        Assert.Equal("127.0.0.1:9001", e.GetProperty("backend").GetString());
        Assert.Equal(7, e.GetProperty("generation").GetInt64());
        Assert.Equal("GET", e.GetProperty("method").GetString());
        Assert.Equal("/cart", e.GetProperty("path").GetString());
        Assert.Equal(200, e.GetProperty("status").GetInt32());
        Assert.Equal(120, e.GetProperty("bytes_in").GetInt64());
        Assert.Equal(5120, e.GetProperty("bytes_out").GetInt64());
        Assert.Equal(1.234, e.GetProperty("duration_ms").GetDouble());
        Assert.Equal(0.987, e.GetProperty("upstream_head_ms").GetDouble());
        Assert.Equal(1, e.GetProperty("retries").GetInt32());
        Assert.Equal("ok", e.GetProperty("termination").GetString());
    }

    [Fact]
    public void Json_TcpConnection_HttpFieldsNull()
    {
        var e = JsonDocument.Parse(Format(AccessLogFormat.Json, http: false, status: 0)).RootElement;
        foreach (var name in new[] { "method", "path", "status", "upstream_head_ms" })
        {
            Assert.Equal(JsonValueKind.Null, e.GetProperty(name).ValueKind);
        }
    }

    [Fact]
    public void ModelAlias_TextRouteColumnAndJsonAliasField()
    {
        var record = new AccessLogRecord
        {
            Time = Time,
            Client = "10.1.2.3"u8,
            ClientPort = 51000,
            Listener = "ai",
            Alias = Encoding.UTF8.GetBytes("gpt 4o\u00e9"),
            Service = "llm",
            Http = true,
            Method = "POST"u8,
            Path = "/v1/chat/completions"u8,
            Status = 200,
            Cause = TerminationCause.Ok,
            Model = Encoding.UTF8.GetBytes("gpt 4o\u00e9"),
            PromptTokens = 3,
            CompletionTokens = -1,
        };
        var buffer = new byte[AccessLogFormatter.MaxLineBytes];
        Assert.True(AccessLogFormatter.TryFormat(record, AccessLogFormat.Text, buffer, out var n));
        var text = Encoding.UTF8.GetString(buffer, 0, n - 1);
        Assert.StartsWith("2026-05-01T12:30:15.123Z 10.1.2.3:51000 ai models:gpt\\x204o\\xc3\\xa9 llm - - - \"POST ", text, StringComparison.Ordinal);
        Assert.EndsWith(" model=gpt\\x204o\\xc3\\xa9 tokens=3/-", text, StringComparison.Ordinal);
        Assert.True(AccessLogFormatter.TryFormat(record, AccessLogFormat.Json, buffer, out n));
        var e = JsonDocument.Parse(buffer.AsMemory(0, n)).RootElement;
        Assert.Equal(JsonValueKind.Null, e.GetProperty("route").ValueKind);
        Assert.Equal("gpt 4o\u00e9", e.GetProperty("alias").GetString());
        Assert.Equal("gpt 4o\u00e9", e.GetProperty("model").GetString());
    }

    [Fact]
    public void Fallback_FirstTargetHadNoPool_TrailWithDashAndNullPool()
    {
        var fallback = new FallbackConfig { On = FallbackReasons.ConnectFailure | FallbackReasons.Timeout, To = [new("backup", IsPool: false), new("v3", IsPool: true)], MaxAttempts = 3 };
        var trail = FallbackTrail.With(FallbackTrail.With(0, 0, FallbackReasons.ConnectFailure), 1, FallbackReasons.Timeout);
        var record = new AccessLogRecord
        {
            Time = Time,
            Listener = "ai",
            Service = "backup",
            Http = true,
            Status = 200,
            Cause = TerminationCause.Ok,
            Fallback = fallback,
            FallbackSteps = 2,
            FallbackTrail = trail,
            FallbackFromService = "llm",
        };
        var buffer = new byte[AccessLogFormatter.MaxLineBytes];
        Assert.True(AccessLogFormatter.TryFormat(record, AccessLogFormat.Text, buffer, out var n));
        Assert.EndsWith(" ok fallback=llm/-:connect_failure>backup:timeout>v3 attempts=3", Encoding.UTF8.GetString(buffer, 0, n - 1), StringComparison.Ordinal);
        Assert.True(AccessLogFormatter.TryFormat(record, AccessLogFormat.Json, buffer, out n));
        var f = JsonDocument.Parse(buffer.AsMemory(0, n)).RootElement.GetProperty("fallback");
        Assert.Equal(("llm", JsonValueKind.Null, 3), (f.GetProperty("service").GetString(), f.GetProperty("pool").ValueKind, f.GetProperty("attempts").GetInt32()));
        Assert.Equal(["connect_failure", "timeout"], f.GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("reason").GetString()));
    }

    [Fact]
    public void Path_QuotesBackslashesAndNonAscii_EscapedSoTheLineStaysParseable()
    {
        var path = "/a\"b\\c\u00e9d e";
        var json = JsonDocument.Parse(Format(AccessLogFormat.Json, path)).RootElement;
        Assert.Equal(path, json.GetProperty("path").GetString());
        Assert.Contains("\"GET /a\\x22b\\x5cc\\xe9d\\x20e\"", Format(AccessLogFormat.Text, path));
    }

    [Fact]
    public void Path_Huge_CutSoTheLineFits()
    {
        var path = "/" + new string('"', 5000);
        var json = JsonDocument.Parse(Format(AccessLogFormat.Json, path)).RootElement;
        Assert.EndsWith("...", json.GetProperty("path").GetString());
    }

    [Fact]
    public void Buffer_Full_DropsAndCountsWithoutWaiting()
    {
        var buffer = new AccessLogBuffer(1000);
        var line = new byte[100];
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < 1000; i++) buffer.TryWrite(line);
        watch.Stop();

        Assert.Equal(10, buffer.Lines);
        Assert.Equal(990, buffer.Dropped);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"1,000 writes to a full buffer took {watch.Elapsed}");
    }

    [Fact]
    public void Buffer_WrapsAround_LinesComeOutWholeAndInOrder()
    {
        var buffer = new AccessLogBuffer(64);
        var output = new MemoryStream();
        for (var i = 0; i < 20; i++)
        {
            Assert.True(buffer.TryWrite(Encoding.ASCII.GetBytes($"line {i:00}\n")));
            if (i % 3 == 2) Assert.Equal(0, buffer.DrainTo(output, out _));
        }
        buffer.DrainTo(output, out _);

        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"line {i:00}"), Encoding.ASCII.GetString(output.ToArray()).TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public void Buffer_NoOutput_LinesCountedLost()
    {
        var buffer = new AccessLogBuffer(1000);
        buffer.TryWrite("a\n"u8);
        buffer.TryWrite("b\n"u8);

        Assert.Equal(2, buffer.DrainTo(null, out var error));
        Assert.NotNull(error);
        Assert.Equal(0, buffer.Pending);
    }

    [Fact]
    public void Buffer_Sample_KeepsThatShareEvenly()
    {
        var buffer = new AccessLogBuffer(1000);
        var kept = Enumerable.Range(0, 100).Count(_ => buffer.Sampled(0.25));
        Assert.Equal(25, kept);
    }

    [Fact]
    public void AccessLog_WrittenFromAnyThread_EndsUpInTheFileOnDispose()
    {
        var path = Path.Combine(Path.GetTempPath(), $"fastlb-access-{Guid.NewGuid():N}.log");
        try
        {
            var options = new AccessLogConfig { Path = path, Format = AccessLogFormat.Json };
            var log = new AccessLog(path, bufferBytes: 64 * 1024);
            log.Start();
            Parallel.For(0, 100, _ =>
            {
                var record = new AccessLogRecord { Time = Time, Listener = "web", Http = true, Method = "GET"u8, Path = "/"u8, Status = 200, UpstreamHeadMicros = -1 };
                log.Write(record, options);
            });
            log.Dispose();

            var lines = File.ReadAllLines(path);
            Assert.Equal(100, lines.Length);
            Assert.All(lines, l => Assert.Equal(200, JsonDocument.Parse(l).RootElement.GetProperty("status").GetInt32()));
            Assert.Equal(100, log.Lines);
            Assert.Equal(0, log.Dropped);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
