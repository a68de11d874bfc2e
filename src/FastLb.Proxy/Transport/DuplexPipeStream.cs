using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace FastLb.Proxy.Transport;

/// <summary>
/// A <see cref="Stream"/> over a connection's reader and writer, for a layer that needs a stream (SslStream on a TLS
/// listener, and to a backend with upstream TLS). Neither pipe is completed when the stream is disposed: the
/// connection tears them down itself.
/// </summary>
/// <remarks>
/// The reader and writer ignore cancellation tokens; a canceled read or flush (<see cref="PipeReader.CancelPendingRead"/>,
/// used by timeouts) surfaces here as <see cref="OperationCanceledException"/>.
/// </remarks>
internal sealed class DuplexPipeStream(PipeReader input, PipeWriter output) : Stream
{
    // Set when the output is a socket's own writer: writes then go to the kernel straight from the caller's buffer.
    private readonly SocketWriter? _socketWriter = output as SocketWriter;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    // Pooled builders: SslStream reads and writes through here once or more per request, and a suspended plain async
    // ValueTask method allocates its state machine box each time.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (result.IsCanceled) throw new OperationCanceledException("the read was canceled");
            var data = result.Buffer;
            if (!data.IsEmpty)
            {
                var n = (int)Math.Min(data.Length, buffer.Length);
                var end = data.GetPosition(n);
                data.Slice(0, end).CopyTo(buffer.Span);
                input.AdvanceTo(end);
                return n;
            }
            input.AdvanceTo(data.End);
            if (result.IsCompleted) return 0;
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_socketWriter is not null)
        {
            // SslStream hands over whole encrypted records in its own buffer: sent from there, they skip a copy into
            // the writer's blocks and the flush's bookkeeping; only what the kernel did not take goes the usual way.
            var sent = _socketWriter.SendDirect(buffer.Span);
            if (sent < 0) throw new IOException("the connection is closed");
            if (sent == buffer.Length) return;
            buffer = buffer[sent..];
        }
        output.Write(buffer.Span);
        var result = await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (result.IsCanceled) throw new OperationCanceledException("the flush was canceled");
        if (result.IsCompleted) throw new IOException("the connection is closed");
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        var result = await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        if (result.IsCanceled) throw new OperationCanceledException("the flush was canceled");
    }

    public override void Flush() => throw new NotSupportedException("asynchronous only");
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("asynchronous only");
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("asynchronous only");
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
