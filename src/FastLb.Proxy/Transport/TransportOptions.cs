using System.Buffers;
using System.IO.Pipelines;
using FastLb.Core.Config;

namespace FastLb.Proxy.Transport;

/// <summary>
/// What every connection of one server shares: its event loops, one memory pool, the relay's bounded pipes, splice pipes.
/// </summary>
/// <remarks>The server owns the loops and disposes them after this; <see cref="Dispose"/> frees the buffers only.</remarks>
internal sealed class TransportOptions : IDisposable
{
    /// <summary>A writer pauses once this many bytes wait unread in a pipe (backpressure onto the socket).</summary>
    public const long PauseWriterThreshold = 64 * 1024;

    /// <summary>A paused writer resumes once the reader has brought the backlog below this.</summary>
    public const long ResumeWriterThreshold = 32 * 1024;

    private readonly PinnedBlockMemoryPool _pool;
    private volatile TcpRelayMode _tcpRelay = new DefaultsConfig().TcpRelay;

    public TransportOptions(EventLoops loops, int blockSize = PinnedBlockMemoryPool.DefaultBlockSize)
    {
        Loops = loops;
        _pool = new PinnedBlockMemoryPool(blockSize, loops: loops);
        // Relay pipes connect two of our own socket loops, neither of which runs user code or blocks, so both
        // ends resume inline: the thread that finished a receive goes straight on to the send.
        RelayPipe = new PipeOptions(_pool, PipeScheduler.Inline, PipeScheduler.Inline,
            PauseWriterThreshold, ResumeWriterThreshold, blockSize, useSynchronizationContext: false);
    }

    /// <summary>The server's event loops: accepted connections go round-robin to them, backend connections join their client's.</summary>
    public EventLoops Loops { get; }

    public MemoryPool<byte> Pool => _pool;

    /// <summary>Blocks currently rented from the pool.</summary>
    public int RentedBlocks => _pool.Rented;

    /// <summary>A pipe from one socket's receive loop straight into another socket's send loop.</summary>
    public PipeOptions RelayPipe { get; }

    /// <summary>Kernel pipes for splice relays, rented only while bytes are in flight.</summary>
    public SplicePipePool SplicePipes { get; private set; } = new();

    /// <summary>Replaces the splice pipes with pipes of <paramref name="pipeSize"/> bytes; only before any relay rented one (tests use few-slot pipes).</summary>
    internal void UseSplicePipeSize(int pipeSize)
    {
        if (SplicePipes.Rented != 0) throw new InvalidOperationException("splice pipes are in use");
        var old = SplicePipes;
        SplicePipes = new SplicePipePool(pipeSize);
        old.Dispose();
    }

    /// <summary>How new TCP relays move bytes (from <c>defaults: tcp_relay</c>).</summary>
    public TcpRelayMode TcpRelay
    {
        get => _tcpRelay;
        set => _tcpRelay = value;
    }

    public void Dispose()
    {
        _pool.Dispose();
        SplicePipes.Dispose();
    }
}
