using System.Numerics;
using System.Runtime.InteropServices;

namespace FastLb.Proxy.Transport.Uring;

/// <summary>
/// A provided-buffer ring (IORING_REGISTER_PBUF_RING): receive buffers the kernel picks from when a receive completes,
/// so a connection that waits for bytes holds no buffer at all; it owns one only between a completion and its consumer
/// handing the buffer back with <see cref="Recycle"/>.
/// </summary>
/// <remarks>
/// One per event loop, used from that loop's thread only. When every buffer is out, a multishot receive ends with
/// ENOBUFS and the bytes stay queued in the socket; the transport re-arms it once buffers come back (nothing is lost).
/// </remarks>
internal sealed unsafe class ProvidedBufferRing : IDisposable
{
    private readonly IoUring _ring;
    private readonly IoUringBuf* _entries;
    private readonly nuint _entriesSize;
    private readonly byte* _buffers;
    private readonly ushort _mask;
    private ushort _tail;
    private int _outstanding;
    private bool _registered;
    private bool _freed;

    /// <summary>Registers <paramref name="count"/> buffers of <paramref name="bufferSize"/> bytes as group <paramref name="groupId"/>.</summary>
    /// <exception cref="IOException">The kernel refused the registration (the message carries the errno).</exception>
    public ProvidedBufferRing(IoUring ring, ushort groupId, int count, int bufferSize)
    {
        if (count < 1 || count > 32768 || !BitOperations.IsPow2(count)) throw new ArgumentOutOfRangeException(nameof(count), "a power of two up to 32768");
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferSize, 1);
        _ring = ring;
        GroupId = groupId;
        Count = count;
        BufferSize = bufferSize;
        _mask = (ushort)(count - 1);
        _entriesSize = (nuint)(count * sizeof(IoUringBuf));
        _entries = (IoUringBuf*)UringSyscalls.MapAnonymous(_entriesSize);
        if (_entries == null) throw new IOException("cannot map a provided-buffer ring (mmap failed)");
        _buffers = (byte*)NativeMemory.AlignedAlloc((nuint)count * (nuint)bufferSize, 4096);
        var reg = new IoUringBufReg { RingAddr = (ulong)_entries, RingEntries = (uint)count, Bgid = groupId };
        var rc = ring.Register(UringConstants.RegisterPbufRing, &reg, 1);
        if (rc < 0)
        {
            Free();
            throw new IOException($"io_uring: cannot register a provided-buffer ring (errno {-rc})");
        }
        _registered = true;
        for (var i = 0; i < count; i++) Put((ushort)i);
        Publish();
        _outstanding = 0;
    }

    public ushort GroupId { get; }

    public int Count { get; }

    public int BufferSize { get; }

    /// <summary>Buffers the kernel filled and their consumers have not handed back yet.</summary>
    public int Outstanding => _outstanding;

    /// <summary>The memory of buffer <paramref name="bufferId"/>.</summary>
    public byte* Address(ushort bufferId) => _buffers + (nuint)bufferId * (nuint)BufferSize;

    /// <summary>A completion used buffer <paramref name="bufferId"/>: it is out until <see cref="Recycle"/>.</summary>
    public void Taken(ushort bufferId) => _outstanding++;

    /// <summary>Hands buffer <paramref name="bufferId"/> back to the kernel.</summary>
    public void Recycle(ushort bufferId)
    {
        Put(bufferId);
        Publish();
        _outstanding--;
    }

    private void Put(ushort bufferId)
    {
        var entry = &_entries[_tail & _mask];
        entry->Addr = (ulong)Address(bufferId);
        entry->Len = (uint)BufferSize;
        entry->Bid = bufferId;
        _tail++;
    }

    // The ring's tail is the 16-bit field at byte 14 (entry 0's resv): a release store makes the entries visible first.
    private void Publish() => Volatile.Write(ref *(ushort*)((byte*)_entries + 14), _tail);

    /// <summary>Unregisters the group and frees its memory; call once nothing in flight can still select from it.</summary>
    public void Dispose()
    {
        if (_registered)
        {
            var reg = new IoUringBufReg { Bgid = GroupId };
            _ring.Register(UringConstants.UnregisterPbufRing, &reg, 1);
            _registered = false;
        }
        Free();
    }

    private void Free()
    {
        if (_freed) return;
        _freed = true;
        if (_buffers != null) NativeMemory.AlignedFree(_buffers);
        UringSyscalls.Unmap(_entries, _entriesSize);
    }
}
