using System.Buffers;
using System.Buffers.Binary;
using System.Text.Json;
using FastLb.Proxy.Transport;

namespace FastLb.Host.Upgrade;

/// <summary>
/// The hand-off channel between a running process and the one replacing it: one end of a Unix socket pair the new
/// process inherits (its number in <see cref="EnvironmentVariable"/>). Each message is a frame — 4-byte length,
/// 4-byte descriptor count (little-endian), then one JSON object — and its descriptors (SCM_RIGHTS) ride on the
/// frame's first byte. Nothing else can connect to it, so it needs no path and no permission check.
/// </summary>
internal sealed class UpgradeChannel : IDisposable
{
    /// <summary>Names the inherited descriptor in the new process's environment; its presence means "you are an upgrade".</summary>
    public const string EnvironmentVariable = "FASTLB_UPGRADE_FD";

    private const int HeaderBytes = 8;
    private const int MaxFrameBytes = 64 * 1024 * 1024;
    private int _fd;

    private UpgradeChannel(int fd)
    {
        _fd = fd;
    }

    /// <summary>Creates the pair: this process keeps the returned channel, the child inherits <c>childFd</c>.</summary>
    public static (UpgradeChannel Channel, int ChildFd) CreatePair()
    {
        var (mine, theirs) = FdPassing.CreatePair();
        return (new UpgradeChannel(mine), theirs);
    }

    /// <summary>The channel this process inherited from the process it replaces, or null when it was started normally.</summary>
    public static UpgradeChannel? FromEnvironment()
    {
        var text = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (string.IsNullOrEmpty(text)) return null;
        // Not passed on: a process this one starts later must not believe it is being handed sockets.
        Environment.SetEnvironmentVariable(EnvironmentVariable, null);
        if (!int.TryParse(text, out var fd) || fd < 3) throw new InvalidOperationException($"{EnvironmentVariable}={text} is not a descriptor number");
        FdPassing.CloseOnExec(fd);
        return new UpgradeChannel(fd);
    }

    /// <summary>Sends one JSON message with <paramref name="fds"/> (any number: more than one frame's worth goes first in "fds" frames).</summary>
    public void Send(Action<Utf8JsonWriter> body, IReadOnlyList<int>? fds = null)
    {
        var all = fds ?? [];
        var offset = 0;
        while (all.Count - offset > FdPassing.MaxFdsPerMessage)
        {
            SendFrame(w => w.WriteString("type", "fds"), all, offset, FdPassing.MaxFdsPerMessage);
            offset += FdPassing.MaxFdsPerMessage;
        }
        SendFrame(body, all, offset, all.Count - offset);
    }

    private void SendFrame(Action<Utf8JsonWriter> body, IReadOnlyList<int> fds, int offset, int count)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        buffer.Advance(HeaderBytes);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        var frame = buffer.WrittenMemory.ToArray();
        BinaryPrimitives.WriteInt32LittleEndian(frame, frame.Length - HeaderBytes);
        BinaryPrimitives.WriteInt32LittleEndian(frame.AsSpan(4), count);
        var chunk = new int[count];
        for (var i = 0; i < count; i++) chunk[i] = fds[offset + i];
        FdPassing.Send(Fd, frame, chunk);
    }

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for the next message; null when the other side closed the channel
    /// (it exited). The descriptors received are the caller's to close.
    /// </summary>
    /// <exception cref="TimeoutException">No message within <paramref name="timeout"/>.</exception>
    public UpgradeMessage? Receive(TimeSpan timeout)
    {
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        var fds = new List<int>();
        while (true)
        {
            var header = new byte[HeaderBytes];
            if (!ReadExactly(header, fds, deadline)) return CloseReceived(fds);
            var length = BinaryPrimitives.ReadInt32LittleEndian(header);
            if (length <= 0 || length > MaxFrameBytes) throw new IOException($"hand-off frame of {length} bytes");
            var payload = new byte[length];
            if (!ReadExactly(payload, fds, deadline)) return CloseReceived(fds);
            var document = JsonDocument.Parse(payload);
            if (document.RootElement.GetProperty("type").GetString() == "fds")
            {
                document.Dispose();
                continue;
            }
            return new UpgradeMessage(document, [.. fds]);
        }
    }

    private static UpgradeMessage? CloseReceived(List<int> fds)
    {
        foreach (var fd in fds) FdPassing.Close(fd);
        return null;
    }

    private bool ReadExactly(byte[] buffer, List<int> fds, long deadline)
    {
        var filled = 0;
        while (filled < buffer.Length)
        {
            var left = deadline - Environment.TickCount64;
            if (left <= 0 || !FdPassing.WaitReadable(Fd, (int)Math.Min(left, int.MaxValue)))
            {
                throw new TimeoutException("no message on the hand-off channel in time");
            }
            var n = FdPassing.Receive(Fd, buffer.AsSpan(filled), fds);
            if (n == 0) return false;
            filled += n;
        }
        return true;
    }

    private int Fd => _fd >= 0 ? _fd : throw new ObjectDisposedException(nameof(UpgradeChannel));

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0) FdPassing.Close(fd);
    }
}
