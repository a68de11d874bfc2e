using System.Diagnostics;
using System.Text;
using System.Text.Json;
using FastLb.Core.Diagnostics;
using Xunit;

namespace FastLb.Tests.Diagnostics;

/// <summary>
/// The log: a disabled level formats nothing, lines go out through a bounded queue that never blocks the caller (drops
/// are counted and reported), text or JSON per line. The log is process-wide, so these tests run alone.
/// </summary>
[Collection(LogCollection.Name)]
public sealed class LogTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly LogLevel _level = Log.MinLevel;

    public LogTests()
    {
        Assert.True(Log.Flush(Timeout)); // nothing of an earlier test is still on its way out
    }

    public void Dispose()
    {
        Assert.True(Log.Flush(Timeout));
        Log.Output = Console.Error;
        Log.Format = LogFormat.Text;
        Log.MinLevel = _level;
    }

    [Fact]
    public void DisabledLevel_FormatsNothing()
    {
        Log.MinLevel = LogLevel.Warn;
        var probe = new FormatProbe();

        Log.Info($"connection state {probe}");
        Log.Debug($"connection state {probe}");
        Assert.Equal(0, probe.Formatted);

        Log.Output = new StringWriter();
        Log.Warn($"connection state {probe}");
        Assert.Equal(1, probe.Formatted);
    }

    [Fact]
    public void Text_OneLinePerMessage_WithTimeAndLevel()
    {
        Log.MinLevel = LogLevel.Info;
        var output = new StringWriter();
        Log.Output = output;

        Log.Info($"reload ok generation={7}");
        Assert.True(Log.Flush(Timeout));

        var line = Assert.Single(output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info  reload ok generation=7$", line);
    }

    [Fact]
    public void Json_OneObjectPerLine()
    {
        Log.MinLevel = LogLevel.Info;
        Log.Format = LogFormat.Json;
        var output = new StringWriter();
        Log.Output = output;

        Log.Warn($"listener 'web': cannot bind \"0.0.0.0:{80}\"\n(address in use)");
        Log.Info("second");
        Assert.True(Log.Flush(Timeout));

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        using var first = JsonDocument.Parse(lines[0]);
        Assert.Equal("warn", first.RootElement.GetProperty("level").GetString());
        Assert.Equal("listener 'web': cannot bind \"0.0.0.0:80\"\n(address in use)", first.RootElement.GetProperty("msg").GetString());
        Assert.True(DateTimeOffset.TryParse(first.RootElement.GetProperty("time").GetString(), out _));
        using var second = JsonDocument.Parse(lines[1]);
        Assert.Equal("second", second.RootElement.GetProperty("msg").GetString());
    }

    [Fact]
    public void StuckOutput_CallersNeverBlock_DropsAreCountedAndReported()
    {
        Log.MinLevel = LogLevel.Info;
        var output = new StuckWriter();
        Log.Output = output;
        var droppedBefore = Log.DroppedLines;

        var elapsed = Stopwatch.StartNew();
        try
        {
            for (var i = 0; i < Log.QueueCapacity + 500; i++) Log.Info($"line {i}");
            elapsed.Stop();
        }
        finally
        {
            output.Release();
        }

        Assert.True(elapsed.Elapsed < TimeSpan.FromSeconds(5), $"logging took {elapsed.Elapsed} with a stuck output");
        Assert.True(Log.DroppedLines - droppedBefore >= 499, $"{Log.DroppedLines - droppedBefore} dropped");
        Assert.True(Log.Flush(Timeout));
        Assert.Contains("line(s) dropped because the log queue was full", output.Text);
    }

    /// <summary>Counts how often it was formatted.</summary>
    private sealed class FormatProbe
    {
        public int Formatted;

        public override string ToString()
        {
            Formatted++;
            return "probe";
        }
    }

    /// <summary>An output that blocks every write until released, like a stderr pipe nobody reads.</summary>
    private sealed class StuckWriter : TextWriter
    {
        private readonly ManualResetEventSlim _released = new();
        private readonly StringBuilder _text = new();

        public override Encoding Encoding => Encoding.UTF8;

        public string Text
        {
            get
            {
                lock (_text) return _text.ToString();
            }
        }

        public void Release() => _released.Set();

        public override void Write(char value)
        {
            _released.Wait();
            lock (_text) _text.Append(value);
        }

        public override void Write(string? value)
        {
            _released.Wait();
            lock (_text) _text.Append(value);
        }

        public override void WriteLine(string? value)
        {
            _released.Wait();
            lock (_text) _text.Append(value).Append('\n');
        }
    }
}

/// <summary>Tests that change the process-wide log: they run after the parallel tests, one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LogCollection
{
    public const string Name = "process-wide log";
}
