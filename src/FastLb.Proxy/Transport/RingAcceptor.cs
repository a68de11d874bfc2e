using System.Runtime.InteropServices;

namespace FastLb.Proxy.Transport;

/// <summary>
/// The single-shot IORING_OP_ACCEPTs a ring loop keeps armed for one listener, each with its own peer address
/// buffer, and the results the kernel gave back that the accept loop has not taken yet.
/// </summary>
/// <remarks>
/// Touched on the listener's loop thread only, except <see cref="Stopping"/>. A slot goes Free → Queued (an arm
/// waits for the loop's next submission) → InKernel → Done (its result: an fd of this process, or -errno) → Free
/// (taken). The address buffers stay allocated while any slot is in the kernel, which may write into them until the
/// operation completed, even after the listener closed.
/// </remarks>
internal sealed unsafe class RingAcceptor
{
    /// <summary>Accepts kept armed per listener: how many connections one loop iteration can take from a burst.</summary>
    public const int Slots = 8;

    private const int SlotBytes = 32; // sockaddr (SocketAddressCodec.MaxLength) then socklen_t, 8-aligned
    // Linux 6.10 added IORING_CQE_F_SOCK_NONEMPTY to accept completions; before it, a missing flag says nothing.
    private static readonly bool s_reportsBacklog = Environment.OSVersion.Version >= new Version(6, 10);

    private const byte Free = 0;
    private const byte Queued = 1;
    private const byte InKernel = 2;
    private const byte Done = 3;

    private readonly byte[] _state = new byte[Slots];
    private readonly int[] _results = new int[Slots];
    private readonly PeerAddress[] _remotes = new PeerAddress[Slots];
    private readonly int[] _done = new int[Slots]; // slots in the order they completed
    private byte* _addresses;
    private int _doneHead;
    private int _doneCount;
    private int _armed; // Queued + InKernel
    private int _inKernel;
    private volatile bool _stopping;

    public RingAcceptor() => _addresses = (byte*)NativeMemory.AllocZeroed(Slots * SlotBytes);

    /// <summary>The acceptor's index in its loop's table (routes completions), or -1 before its first arm.</summary>
    internal int LoopIndex { get; set; } = -1;

    /// <summary>True once the listener stops accepting: nothing is armed any more, armed accepts are cancelled.</summary>
    public bool Stopping => _stopping;

    /// <summary>Accepts queued or in the kernel.</summary>
    public int Armed => _armed;

    /// <summary>Accepts in the kernel (their address buffers must stay).</summary>
    public int InKernelCount => _inKernel;

    /// <summary>Results waiting to be taken.</summary>
    public int DoneCount => _doneCount;

    /// <summary>
    /// False once the kernel said the backlog was empty after the last connection it accepted (IORING_CQE_F_SOCK_NONEMPTY
    /// not set): then one accept armed is enough (the kernel wakes one per connection, see EpollSocket.ArmRingAccepts).
    /// True until the first connection, and always on kernels before 6.10, which do not report it.
    /// </summary>
    public bool BacklogMayHoldMore { get; private set; } = true;

    /// <summary>True once the address buffers were freed (the acceptor is finished).</summary>
    public bool Released => _addresses == null;

    /// <summary>Any thread: no more arms from now on.</summary>
    public void Stop() => _stopping = true;

    /// <summary>Marks up to <paramref name="count"/> free slots queued for arming; returns them through <paramref name="slots"/>.</summary>
    public int Reserve(int count, Span<int> slots)
    {
        var n = 0;
        for (var slot = 0; slot < Slots && n < count; slot++)
        {
            if (_state[slot] != Free) continue;
            _state[slot] = Queued;
            _armed++;
            slots[n++] = slot;
        }
        return n;
    }

    /// <summary>True when <paramref name="slot"/> waits for its SQE.</summary>
    public bool IsQueued(int slot) => _state[slot] == Queued;

    /// <summary>True when <paramref name="slot"/> is in the kernel.</summary>
    public bool IsInKernel(int slot) => _state[slot] == InKernel;

    /// <summary>The queued slot's SQE is written: its socklen is reset and the kernel owns its buffer from now on.</summary>
    public void Submitted(int slot, out ulong address, out ulong length)
    {
        var p = _addresses + (slot * SlotBytes);
        *(int*)(p + SocketAddressCodec.MaxLength) = SocketAddressCodec.MaxLength;
        address = (ulong)p;
        length = (ulong)(p + SocketAddressCodec.MaxLength);
        _state[slot] = InKernel;
        _inKernel++;
    }

    /// <summary>A queued slot that never went to the kernel (the listener stopped or closed first).</summary>
    public void Unqueued(int slot)
    {
        _state[slot] = Free;
        _armed--;
    }

    /// <summary>
    /// The kernel completed <paramref name="slot"/>: records the result and reads the peer's address, or when
    /// <paramref name="keep"/> is false (the listener closed) closes an accepted descriptor at once. False for a
    /// completion that does not belong to an armed slot.
    /// </summary>
    public bool Completed(int slot, int res, uint flags, bool keep)
    {
        if ((uint)slot >= Slots || _state[slot] != InKernel) return false;
        _inKernel--;
        _armed--;
        if (!keep || res == -Uring.UringSyscalls.ECANCELED)
        {
            if (res >= 0) SocketSyscalls.Close(res);
            _state[slot] = Free;
            return true;
        }
        if (res >= 0)
        {
            if (s_reportsBacklog) BacklogMayHoldMore = (flags & Uring.UringConstants.CqeFSockNonEmpty) != 0;
            var p = _addresses + (slot * SlotBytes);
            var length = *(int*)(p + SocketAddressCodec.MaxLength);
            _remotes[slot] = SocketAddressCodec.ReadPeer(new ReadOnlySpan<byte>(p, Math.Min(length, SocketAddressCodec.MaxLength)));
        }
        _results[slot] = res;
        _state[slot] = Done;
        _done[(_doneHead + _doneCount) % Slots] = slot;
        _doneCount++;
        return true;
    }

    /// <summary>The oldest result, left waiting: an accepted descriptor (≥ 0), or -errno; <see cref="DoneCount"/> must be &gt; 0.</summary>
    public int PeekResult() => _results[_done[_doneHead]];

    /// <summary>Takes the oldest result: an accepted descriptor (≥ 0) with its peer, or -errno; false when none waits.</summary>
    public bool TryTake(out int result, out PeerAddress remote)
    {
        if (_doneCount == 0)
        {
            result = 0;
            remote = default;
            return false;
        }
        var slot = _done[_doneHead];
        _doneHead = (_doneHead + 1) % Slots;
        _doneCount--;
        result = _results[slot];
        remote = _remotes[slot];
        _remotes[slot] = default;
        _state[slot] = Free;
        return true;
    }

    /// <summary>Closes every accepted descriptor still waiting to be taken (the listener closed, or its loop stops).</summary>
    public void CloseWaiting()
    {
        while (TryTake(out var result, out _))
        {
            if (result >= 0) SocketSyscalls.Close(result);
        }
    }

    /// <summary>Frees the address buffers once nothing is in the kernel; true when freed (now or before).</summary>
    public bool TryRelease()
    {
        if (_inKernel != 0) return false;
        if (_addresses != null)
        {
            NativeMemory.Free(_addresses);
            _addresses = null;
        }
        return true;
    }
}
