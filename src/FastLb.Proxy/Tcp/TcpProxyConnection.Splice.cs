using System.Net.Sockets;
using FastLb.Core.Diagnostics;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Tcp;

/// <remarks>
/// splice(2) relay: per direction, source socket → kernel pipe → destination socket, so payload bytes never enter
/// the process. Readiness comes from .NET's own epoll: a zero-byte receive parks until the source is readable, and
/// when the destination's send buffer is full (EAGAIN) one block is copied out of the pipe and sent with SendAsync,
/// which waits for writability; the rest of the pipe follows by splice again. The pipe is rented from a shared
/// pool only while bytes are in flight. Same semantics as the pipelines relay: FIN → Shutdown(Send) on the other
/// side while the reverse direction runs on; RST or any failure → RST both sides; idle → FIN both ways.
/// </remarks>
internal sealed partial class TcpProxyConnection
{
    private long _lastUpstreamMs;
    private long _lastDownstreamMs;
    private volatile bool _splicing;

    private async Task SpliceRelayAsync(Socket backend)
    {
        var now = Environment.TickCount64;
        _lastUpstreamMs = now;
        _lastDownstreamMs = now;
        _splicing = true;
        var upstream = SpliceDirectionAsync(_client, backend, upstream: true);
        await SpliceDirectionAsync(backend, _client, upstream: false).ConfigureAwait(false);
        await upstream.ConfigureAwait(false);
    }

    private async Task SpliceDirectionAsync(Socket from, Socket to, bool upstream)
    {
        var pool = _options.SplicePipes;
        var fromHandle = from.SafeHandle;
        var toHandle = to.SafeHandle;
        var pipe = default(SplicePipe);
        var rented = false;
        var failed = false;
        try
        {
            while (true)
            {
                // Park until readable without holding a pipe, so an idle connection costs no kernel buffer.
                await from.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None).ConfigureAwait(false);
                if (!rented)
                {
                    var errno = pool.Rent(out pipe);
                    if (errno != 0) ThrowSpliceError(errno, "pipe2");
                    rented = true;
                }
                var n = SpliceOrThrow(fromHandle, pipe.WriteFd, pipe.Capacity, fromSocket: true);
                while (n > 0)
                {
                    if (upstream) Volatile.Write(ref _lastUpstreamMs, Environment.TickCount64);
                    else Volatile.Write(ref _lastDownstreamMs, Environment.TickCount64);

                    var inPipe = n;
                    while (inPipe > 0)
                    {
                        var sent = SpliceOrThrow(toHandle, pipe.ReadFd, (int)inPipe, fromSocket: false);
                        if (sent > 0)
                        {
                            inPipe -= sent;
                            continue;
                        }
                        // The destination's send buffer is full: copy one block out of the pipe and let SendAsync
                        // wait for writability (.NET's epoll), then splice the rest.
                        var block = _options.Pool.Rent();
                        try
                        {
                            var memory = block.Memory;
                            var copied = LinuxSplice.Read(pipe.ReadFd, memory.Span[..(int)Math.Min(inPipe, memory.Length)]);
                            if (copied <= 0) ThrowSpliceError(-copied, "read from pipe");
                            inPipe -= copied;
                            await to.SendAsync(memory[..copied], SocketFlags.None).ConfigureAwait(false);
                        }
                        finally
                        {
                            block.Dispose();
                        }
                    }
                    // A short read means the socket is probably drained: park on readiness instead of spending a
                    // splice call to learn EAGAIN. A full pipe means more is likely queued: go again at once.
                    n = n < pipe.Capacity ? -1 : SpliceOrThrow(fromHandle, pipe.WriteFd, pipe.Capacity, fromSocket: true);
                }
                // The pipe is empty here. Give it back before parking.
                pool.Return(pipe);
                rented = false;
                if (n == 0) break; // FIN from the source.
            }
            if (!IsAborted) SocketTeardown.ShutdownSend(to);
        }
        catch (Exception e)
        {
            failed = true;
            if (!IsAborted && !IsExpectedEnd(e)) Log.Debug($"listener '{_listener.Name}': splice relay failed: {e.Message}");
            // A broken direction must not look like a clean end on the other side: reset both.
            Abort();
        }
        finally
        {
            if (rented)
            {
                if (failed) pool.Discard(pipe); // it may still hold bytes
                else pool.Return(pipe);
            }
        }
    }

    /// <summary>One non-blocking splice: bytes moved (0 = end of stream), or -1 when it would block; throws on errors.</summary>
    private static long SpliceOrThrow(SafeSocketHandle socket, int pipeFd, int length, bool fromSocket)
    {
        var added = false;
        long n;
        try
        {
            // The reference keeps the fd number from being closed (and reused by another socket) mid-call.
            socket.DangerousAddRef(ref added);
            var fd = (int)socket.DangerousGetHandle();
            n = fromSocket ? LinuxSplice.Splice(fd, pipeFd, length) : LinuxSplice.Splice(pipeFd, fd, length);
        }
        finally
        {
            if (added) socket.DangerousRelease();
        }
        if (n >= 0) return n;
        if (n == -LinuxSplice.EAGAIN) return -1;
        ThrowSpliceError((int)-n, "splice");
        return -1;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowSpliceError(int errno, string call)
    {
        if (errno is LinuxSplice.ECONNRESET or LinuxSplice.EPIPE) throw new SocketException((int)SocketError.ConnectionReset);
        throw new ConnectionAbortedException($"{call} failed: errno {errno}");
    }

    private static bool IsExpectedEnd(Exception e) =>
        e is ObjectDisposedException ||
        e is SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.OperationAborted or SocketError.Interrupted or SocketError.Shutdown };

    private void SpliceIdleCheck(long nowMs, long idleMs, Socket backend)
    {
        var last = Math.Max(Volatile.Read(ref _lastUpstreamMs), Volatile.Read(ref _lastDownstreamMs));
        if (nowMs - last < idleMs) return;
        if (Interlocked.Exchange(ref _idleClosed, 1) != 0) return;
        // Idle: FIN both ways; the parked receives see end of stream and each direction ends cleanly.
        SocketTeardown.ShutdownBoth(_client);
        SocketTeardown.ShutdownBoth(backend);
    }
}
