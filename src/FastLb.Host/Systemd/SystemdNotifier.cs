using System.Net.Sockets;
using System.Text;

namespace FastLb.Host.Systemd;

/// <summary>
/// sd_notify(3) without libsystemd: one datagram per state change to the Unix socket named by NOTIFY_SOCKET
/// (a leading '@' means the abstract namespace). A no-op when not started by systemd with Type=notify.
/// </summary>
/// <param name="socketPath">The notify socket; null or empty sends nothing.</param>
internal sealed class SystemdNotifier(string? socketPath)
{
    /// <summary>The notifier for the socket systemd named in NOTIFY_SOCKET, if any.</summary>
    public static SystemdNotifier FromEnvironment() => new(Environment.GetEnvironmentVariable("NOTIFY_SOCKET"));

    public void Ready() => Send($"READY=1\nMAINPID={Environment.ProcessId}\nSTATUS=serving");

    /// <summary>Announces a reload; systemd (Type=notify-reload and newer Type=notify) wants the monotonic time with it.</summary>
    public void Reloading() => Send($"RELOADING=1\nMONOTONIC_USEC={MonotonicMicroseconds()}\nSTATUS=reloading");

    public void Stopping() => Send("STOPPING=1\nSTATUS=draining");

    private void Send(string message)
    {
        var path = socketPath;
        if (string.IsNullOrEmpty(path)) return;
        if (path[0] == '@') path = "\0" + path[1..];
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            socket.SendTo(Encoding.UTF8.GetBytes(message), new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException)
        {
            // systemd went away or the socket is not ours: notification is best effort.
        }
    }

    private static long MonotonicMicroseconds() => (long)(System.Diagnostics.Stopwatch.GetTimestamp() / (System.Diagnostics.Stopwatch.Frequency / 1_000_000.0));
}
