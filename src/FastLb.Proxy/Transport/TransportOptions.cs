using System.Buffers;
using System.IO.Pipelines;
using FastLb.Core.Config;

namespace FastLb.Proxy.Transport;

/// <summary>Buffer and pipe settings shared by every connection of one server: one memory pool, bounded pipes.</summary>
internal sealed class TransportOptions : IDisposable
{
    /// <summary>A writer pauses once this many bytes wait unread in a pipe (backpressure onto the socket).</summary>
    public const long PauseWriterThreshold = 64 * 1024;

    /// <summary>A paused writer resumes once the reader has brought the backlog below this.</summary>
    public const long ResumeWriterThreshold = 32 * 1024;

    private readonly PinnedBlockMemoryPool _pool;
    private volatile TcpRelayMode _tcpRelay = new DefaultsConfig().TcpRelay;

    public TransportOptions(int blockSize = PinnedBlockMemoryPool.DefaultBlockSize)
    {
        _pool = new PinnedBlockMemoryPool(blockSize);
        // Relay pipes connect two of our own socket loops, neither of which runs user code or blocks, so both
        // ends resume inline: the thread that finished a receive goes straight on to the send.
        RelayPipe = new PipeOptions(_pool, PipeScheduler.Inline, PipeScheduler.Inline,
            PauseWriterThreshold, ResumeWriterThreshold, blockSize, useSynchronizationContext: false);
        // Application pipes hand data to the HTTP proxy, our own non-blocking code: it runs inline too, on the event
        // loop that received the bytes (a thread-pool hop per read and per flush cost about a third of the CPU).
        ApplicationInput = new PipeOptions(_pool, PipeScheduler.Inline, PipeScheduler.Inline,
            PauseWriterThreshold, ResumeWriterThreshold, blockSize, useSynchronizationContext: false);
        ApplicationOutput = new PipeOptions(_pool, PipeScheduler.Inline, PipeScheduler.Inline,
            PauseWriterThreshold, ResumeWriterThreshold, blockSize, useSynchronizationContext: false);
    }

    public MemoryPool<byte> Pool => _pool;

    /// <summary>Blocks currently rented from the pool.</summary>
    public int RentedBlocks => _pool.Rented;

    /// <summary>A pipe from one socket's receive loop straight into another socket's send loop.</summary>
    public PipeOptions RelayPipe { get; }

    /// <summary>Kernel pipes for splice relays, rented only while bytes are in flight.</summary>
    public SplicePipePool SplicePipes { get; } = new();

    /// <summary>How new TCP relays move bytes (from <c>defaults: tcp_relay</c>); splice falls back to pipes off Linux.</summary>
    public TcpRelayMode TcpRelay
    {
        get => _tcpRelay;
        set => _tcpRelay = value == TcpRelayMode.Splice && !LinuxSplice.IsSupported ? TcpRelayMode.Pipes : value;
    }

    /// <summary>Socket → application pipe (the socket writes, the application reads).</summary>
    public PipeOptions ApplicationInput { get; }

    /// <summary>Application → socket pipe (the application writes, the socket reads).</summary>
    public PipeOptions ApplicationOutput { get; }

    public void Dispose()
    {
        _pool.Dispose();
        SplicePipes.Dispose();
    }
}
