using FastLb.Core.Config;
using FastLb.Core.Metrics;

namespace FastLb.Core.Diagnostics;

/// <summary>One access log destination (a file or stdout): per-loop line buffers and the thread that writes them out.</summary>
/// <remarks>
/// Off the hot path: a request's loop formats its line on the stack and copies it into that loop's own
/// <see cref="AccessLogBuffer"/> (no lock, no allocation); when the buffer is full the line is dropped and counted,
/// never waited for. Threads that are not event loops share buffer 0 under a lock. The writer thread drains every
/// buffer every <see cref="FlushInterval"/> (sooner when one is half full) and writes to the file, opened for append;
/// <see cref="Reopen"/> closes and reopens it before the next write, for logrotate's move-then-signal.
/// </remarks>
internal sealed class AccessLog : IDisposable
{
    /// <summary>Bytes buffered per event loop: a second of lines at ~20,000 lines/s per loop.</summary>
    public const int BufferBytes = 4 * 1024 * 1024;

    private static readonly TimeSpan FlushInterval = TimeSpan.FromMilliseconds(100);

    private readonly AccessLogBuffer?[] _buffers = new AccessLogBuffer?[CounterShard.Count];
    private readonly Lock _sharedLock = new(); // buffer 0: any number of non-loop threads
    private readonly ManualResetEventSlim _wake = new(false);
    private readonly int _bufferBytes;
    private Thread? _writer;
    private Stream? _output;
    private volatile bool _reopen;
    private volatile bool _stopping;
    private long _lostOnWrite;
    private long _lastErrorMs = long.MinValue;

    public AccessLog(string path, int bufferBytes = BufferBytes)
    {
        Path = path;
        _bufferBytes = bufferBytes;
    }

    /// <summary>The file written, or <see cref="AccessLogConfig.StdoutPath"/>.</summary>
    public string Path { get; }

    /// <summary>Lines accepted into a buffer since this log was created.</summary>
    public long Lines
    {
        get
        {
            long n = 0;
            foreach (var b in _buffers) n += b?.Lines ?? 0;
            return n;
        }
    }

    /// <summary>Lines lost: dropped because a buffer was full, or accepted but not written because the file could not be.</summary>
    public long Dropped
    {
        get
        {
            var n = Interlocked.Read(ref _lostOnWrite);
            foreach (var b in _buffers) n += b?.Dropped ?? 0;
            return n;
        }
    }

    /// <summary>Starts the writer thread (the owner calls it once, after creating the log).</summary>
    public void Start()
    {
        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "fastlb-access-log" };
        _writer.UnsafeStart();
    }

    /// <summary>Closes and reopens the file before the next write (after logrotate moved it).</summary>
    public void Reopen()
    {
        _reopen = true;
        _wake.Set();
    }

    /// <summary>Formats and buffers one line; on the caller's loop, without locking or allocating.</summary>
    public void Write(in AccessLogRecord record, AccessLogConfig options)
    {
        var index = CounterShard.Current;
        var buffer = _buffers[index] ?? CreateBuffer(index);
        if (index == 0)
        {
            lock (_sharedLock) WriteTo(buffer, record, options);
        }
        else
        {
            WriteTo(buffer, record, options);
        }
    }

    private void WriteTo(AccessLogBuffer buffer, in AccessLogRecord record, AccessLogConfig options)
    {
        if (!buffer.Sampled(options.Sample)) return;
        Span<byte> line = stackalloc byte[AccessLogFormatter.MaxLineBytes];
        if (!AccessLogFormatter.TryFormat(record, options.Format, line, out var length)) return;
        buffer.TryWrite(line[..length]);
        if (buffer.Pending > buffer.Capacity / 2 && !_wake.IsSet) _wake.Set();
    }

    private AccessLogBuffer CreateBuffer(int index)
    {
        var buffer = new AccessLogBuffer(_bufferBytes);
        // Loops create only their own buffer; buffer 0 may be raced for by several threads: keep the first.
        return Interlocked.CompareExchange(ref _buffers[index], buffer, null) ?? buffer;
    }

    /// <summary>The writer thread: drains every buffer to the file, flushes, then waits for the next round.</summary>
    private void WriteLoop()
    {
        while (true)
        {
            _wake.Wait(FlushInterval);
            _wake.Reset();
            var stopping = _stopping;
            if (_reopen)
            {
                _reopen = false;
                CloseOutput();
            }
            _output ??= OpenOutput();
            DrainAll();
            if (stopping) break;
        }
        CloseOutput();
    }

    private void DrainAll()
    {
        var output = _output;
        foreach (var buffer in _buffers)
        {
            if (buffer is null) continue;
            var lost = buffer.DrainTo(output, out var error);
            if (error is null) continue;
            Interlocked.Add(ref _lostOnWrite, lost);
            if (output is not null)
            {
                ReportError($"access log {Path}: write failed, {lost} line(s) lost: {error.Message}");
                CloseOutput();
                output = null;
            }
        }
        try
        {
            output?.Flush();
        }
        catch (Exception e)
        {
            ReportError($"access log {Path}: write failed: {e.Message}");
            CloseOutput();
        }
    }

    private Stream? OpenOutput()
    {
        try
        {
            if (Path == AccessLogConfig.StdoutPath) return Console.OpenStandardOutput();
            return new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 64 * 1024);
        }
        catch (Exception e)
        {
            ReportError($"access log {Path}: cannot open: {e.Message}");
            return null;
        }
    }

    private void CloseOutput()
    {
        var output = _output;
        _output = null;
        try
        {
            output?.Dispose();
        }
        catch (Exception)
        {
            // A failed final flush loses what it held; the next open starts clean.
        }
    }

    private void ReportError(string message)
    {
        var now = Environment.TickCount64;
        if (now - _lastErrorMs < 10_000) return;
        _lastErrorMs = now;
        Log.Error(message);
    }

    /// <summary>Writes out what is buffered, closes the file and ends the writer thread.</summary>
    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        _wake.Set();
        if (_writer is { } writer) writer.Join(TimeSpan.FromSeconds(5));
        else CloseOutput();
    }
}
