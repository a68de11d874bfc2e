using System.Net.Sockets;
using System.Runtime.InteropServices;
using FastLb.Core.Diagnostics;
using FastLb.Proxy.Transport;

namespace FastLb.Proxy.Tcp;

/// <remarks>
/// splice(2) relay: per direction, source socket → kernel pipe → destination socket, so payload bytes never enter
/// the process. Readiness comes from the event loop: the source parks until readable, and when the destination's
/// send buffer is full (EAGAIN) the direction parks until it is writable, then splices the rest of the pipe. The
/// pipe is rented from a shared pool only while bytes are in flight. Same semantics as the pipelines relay:
/// FIN → shutdown(SHUT_WR) on the other side while the reverse direction runs on; RST or any failure → RST both
/// sides; idle → FIN both ways. On io_uring loops the relay keeps these syscalls: io_uring runs every IORING_OP_SPLICE
/// on an io-wq worker, which cost 1.3× the CPU per request (perf-results/2026-12-03-io-uring-ring-splice.md).
/// </remarks>
internal sealed partial class TcpProxyConnection
{
    /// <summary>The bytes of one pipe slot: a pipe of N bytes holds N / PipeSlotBytes buffers (skb fragments).</summary>
    private static readonly int PipeSlotBytes = Environment.SystemPageSize;

    private long _lastUpstreamMs;
    private long _lastDownstreamMs;
    private const int PipeRetryMs = 20;
    private volatile bool _splicing;
    private long _splicedUp;   // bytes client → backend (written by the up direction only)
    private long _splicedDown; // bytes backend → client

    private async Task SpliceRelayAsync(EpollSocket backend)
    {
        var now = Environment.TickCount64;
        _lastUpstreamMs = now;
        _lastDownstreamMs = now;
        _splicing = true;
        var upstream = SpliceDirectionAsync(_client, backend, upstream: true);
        await SpliceDirectionAsync(backend, _client, upstream: false).ConfigureAwait(false);
        await upstream.ConfigureAwait(false);
    }

    private async Task SpliceDirectionAsync(EpollSocket from, EpollSocket to, bool upstream)
    {
        var pool = _options.SplicePipes;
        var pipe = default(SplicePipe);
        var rented = false;
        var failed = false;
        try
        {
            while (true)
            {
                // Park until readable without holding a pipe, so an idle connection costs no kernel buffer.
                if (!await from.WaitReadableAsync().ConfigureAwait(false))
                {
                    throw new SocketException((int)SocketError.OperationAborted); // closed locally
                }
                if (!rented)
                {
                    var errno = pool.Rent(out pipe);
                    if (errno != 0)
                    {
                        if (!DescriptorsExhaustedException.IsExhaustion(errno)) ThrowSpliceError(errno, "pipe2");
                        // Out of descriptors: the bytes wait in the socket buffer while other relays return their
                        // pipes; try again shortly, on this loop, instead of cutting the connection.
                        Exhaustion.Pipe.Record($"listener '{_listener.Name}', errno {errno}");
                        await from.Loop.DelayAsync(PipeRetryMs).ConfigureAwait(false);
                        if (IsAborted) throw new SocketException((int)SocketError.OperationAborted);
                        continue;
                    }
                    rented = true;
                }
                from.ConsumeReadReadiness();
                var n = SpliceOrThrow(from.Handle, pipe.WriteFd, pipe.Capacity, fromSocket: true);
                while (n > 0)
                {
                    if (upstream)
                    {
                        Volatile.Write(ref _lastUpstreamMs, Environment.TickCount64);
                        Volatile.Write(ref _splicedUp, _splicedUp + n);
                    }
                    else
                    {
                        Volatile.Write(ref _lastDownstreamMs, Environment.TickCount64);
                        Volatile.Write(ref _splicedDown, _splicedDown + n);
                    }

                    var inPipe = n;
                    while (inPipe > 0)
                    {
                        var sent = SpliceOrThrow(to.Handle, pipe.ReadFd, (int)inPipe, fromSocket: false);
                        if (sent < 0)
                        {
                            // The destination's send buffer is full: forget any old writable edge, look once more,
                            // and park until the loop reports room.
                            to.ConsumeWriteReadiness();
                            sent = SpliceOrThrow(to.Handle, pipe.ReadFd, (int)inPipe, fromSocket: false);
                        }
                        if (sent > 0)
                        {
                            inPipe -= sent;
                            continue;
                        }
                        if (!await to.WaitWritableAsync().ConfigureAwait(false))
                        {
                            throw new SocketException((int)SocketError.OperationAborted);
                        }
                    }
                    // splice(2) from a socket stops at the first of: the queue is empty, the length asked for, or the
                    // pipe is out of slots (one per skb fragment, each holding at least one byte). Only the first is
                    // "drained", and only that one may park: a later arrival is a new edge, but bytes already queued
                    // raise none. A splice that moved fewer bytes than the pipe has slots cannot have run out of
                    // slots (nor of length), so it emptied the queue; any larger one goes again until EAGAIN or such
                    // a short read. Counting bytes against a fixed threshold instead is wrong for small pipes (a pipe
                    // the kernel cut to two pages past fs.pipe-user-pages-soft holds two MTU-sized packets) and left
                    // the rest of a burst parked until the peer sent again.
                    if (n < pipe.Capacity / PipeSlotBytes)
                    {
                        n = -1;
                    }
                    else
                    {
                        from.ConsumeReadReadiness();
                        n = SpliceOrThrow(from.Handle, pipe.WriteFd, pipe.Capacity, fromSocket: true);
                    }
                }
                // The pipe is empty here. Give it back before parking.
                pool.Return(pipe);
                rented = false;
                if (n == 0) break; // FIN from the source.
            }
            if (!IsAborted) to.ShutdownSend();
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
    private static long SpliceOrThrow(SafeHandle socket, int pipeFd, int length, bool fromSocket)
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
}
