using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace FastLb.Core.Diagnostics;

/// <summary>One-line operational log to stderr: start, bind, publish, drain, reload. Never on the per-request path.</summary>
/// <remarks>
/// Cheap when off: the level is checked before a message is formatted (an interpolated message for a disabled level
/// formats none of its holes, see <see cref="LogMessage{TLevel}"/>). Never blocks its caller: a line goes into a
/// bounded queue that one background thread writes out, flushing when the queue runs empty; when the queue is full
/// the line is dropped and counted (<see cref="DroppedLines"/>), and the writer reports the count in its next line.
/// <see cref="Flush"/> before the process exits. Text (default) or one JSON object per line (<c>log_format: json</c>).
/// </remarks>
internal static class Log
{
    /// <summary>Lines the queue holds at most; beyond that a line is dropped rather than block the caller.</summary>
    public const int QueueCapacity = 8192;

    private static readonly Channel<LogEntry> Queue = Channel.CreateBounded<LogEntry>(
        new BoundedChannelOptions(QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private static readonly Lock StartLock = new();
    private static Thread? _writer;
    private static long _enqueued;
    private static long _written;
    private static long _dropped;
    private static long _droppedReported;
    private static volatile LogLevel _minLevel = LogLevel.Info;
    private static volatile LogFormat _format = LogFormat.Text;

    /// <summary>Minimum level written; tests raise it to keep output quiet.</summary>
    public static LogLevel MinLevel
    {
        get => _minLevel;
        set => _minLevel = value;
    }

    /// <summary>How lines are written (<c>log_format</c>); takes effect from the next line written.</summary>
    public static LogFormat Format
    {
        get => _format;
        set => _format = value;
    }

    /// <summary>Where lines go; defaults to stderr. Written by the log thread only.</summary>
    public static TextWriter Output { get; set; } = Console.Error;

    /// <summary>Lines dropped because the queue was full, since the process started.</summary>
    public static long DroppedLines => Interlocked.Read(ref _dropped);

    /// <summary>True when a message at <paramref name="level"/> would be written.</summary>
    public static bool IsEnabled(LogLevel level) => level >= _minLevel && level < LogLevel.None;

    public static void Debug(string message) => Write(LogLevel.Debug, message);
    public static void Info(string message) => Write(LogLevel.Info, message);
    public static void Warn(string message) => Write(LogLevel.Warn, message);
    public static void Error(string message) => Write(LogLevel.Error, message);

    public static void Debug(ref LogMessage<LogLevels.Debug> message)
    {
        if (message.Enabled) Enqueue(LogLevel.Debug, message.ToStringAndClear());
    }

    public static void Info(ref LogMessage<LogLevels.Info> message)
    {
        if (message.Enabled) Enqueue(LogLevel.Info, message.ToStringAndClear());
    }

    public static void Warn(ref LogMessage<LogLevels.Warn> message)
    {
        if (message.Enabled) Enqueue(LogLevel.Warn, message.ToStringAndClear());
    }

    public static void Error(ref LogMessage<LogLevels.Error> message)
    {
        if (message.Enabled) Enqueue(LogLevel.Error, message.ToStringAndClear());
    }

    /// <summary>Waits (up to <paramref name="timeout"/>) until every line queued before the call is written and flushed.</summary>
    /// <returns>False when the time ran out first.</returns>
    public static bool Flush(TimeSpan timeout)
    {
        var target = Interlocked.Read(ref _enqueued);
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (Interlocked.Read(ref _written) < target)
        {
            if (Environment.TickCount64 >= deadline) return false;
            Thread.Sleep(1);
        }
        return true;
    }

    private static void Write(LogLevel level, string message)
    {
        if (IsEnabled(level)) Enqueue(level, message);
    }

    private static void Enqueue(LogLevel level, string message)
    {
        if (Volatile.Read(ref _writer) is null) StartWriter();
        // Counted before the write, so a Flush that starts after this call waits for the line; uncounted if refused.
        Interlocked.Increment(ref _enqueued);
        if (Queue.Writer.TryWrite(new LogEntry(DateTime.UtcNow, level, message))) return;
        Interlocked.Decrement(ref _enqueued);
        Interlocked.Increment(ref _dropped);
    }

    private static void StartWriter()
    {
        lock (StartLock)
        {
            if (_writer is not null) return;
            var thread = new Thread(WriteLoop) { IsBackground = true, Name = "fastlb-log" };
            thread.UnsafeStart();
            Volatile.Write(ref _writer, thread);
        }
    }

    /// <summary>The log thread: writes lines as they come and flushes whenever the queue runs empty.</summary>
    private static void WriteLoop()
    {
        var reader = Queue.Reader;
        var json = new ArrayBufferWriter<byte>(256);
        var text = new StringBuilder(256);
        while (true)
        {
            if (!reader.TryPeek(out _)) reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult();
            var output = Output;
            var n = 0L;
            try
            {
                while (reader.TryRead(out var entry))
                {
                    n++;
                    output.WriteLine(FormatLine(entry, text, json));
                }
                var dropped = Interlocked.Read(ref _dropped);
                if (dropped != _droppedReported)
                {
                    var message = $"log: {dropped - _droppedReported} line(s) dropped because the log queue was full ({dropped} in all)";
                    _droppedReported = dropped;
                    output.WriteLine(FormatLine(new LogEntry(DateTime.UtcNow, LogLevel.Warn, message), text, json));
                }
                output.Flush();
            }
            catch (Exception)
            {
                // stderr closed or full: the lines are lost, the process goes on.
            }
            Interlocked.Add(ref _written, n);
        }
    }

    private static string FormatLine(in LogEntry entry, StringBuilder text, ArrayBufferWriter<byte> json)
    {
        if (_format == LogFormat.Json)
        {
            json.ResetWrittenCount();
            using (var w = new Utf8JsonWriter(json))
            {
                w.WriteStartObject();
                w.WriteString("time", entry.Time.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
                w.WriteString("level", LevelName(entry.Level));
                w.WriteString("msg", entry.Message);
                w.WriteEndObject();
            }
            return Encoding.UTF8.GetString(json.WrittenSpan);
        }
        text.Clear();
        text.Append(entry.Time.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture)).Append(' ');
        text.Append(LevelName(entry.Level).PadRight(5)).Append(' ').Append(entry.Message);
        return text.ToString();
    }

    private static string LevelName(LogLevel level) => level switch
    {
        LogLevel.Debug => "debug",
        LogLevel.Info => "info",
        LogLevel.Warn => "warn",
        _ => "error",
    };

    private readonly record struct LogEntry(DateTime Time, LogLevel Level, string Message);
}
