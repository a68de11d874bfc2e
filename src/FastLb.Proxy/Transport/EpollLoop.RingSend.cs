using System.Buffers;
using System.Runtime.InteropServices;
using FastLb.Core.Diagnostics;
using FastLb.Proxy.Transport.Uring;

namespace FastLb.Proxy.Transport;

/// <summary>Sends through the ring: IORING_OP_SEND written with the loop's next submission, completed back to its writer.</summary>
/// <remarks>
/// A send is routed through a send slot, not through its socket's token: the writer must get its completion (and give
/// back the blocks the kernel was reading) even when the socket closed meanwhile. Slots are taken and freed on the
/// loop's thread only; user_data carries a sequence as well as the slot, so a cancel queued by a close for a send that
/// completed meanwhile cannot reach the next send in that slot. From the flush that queues it until the kernel took
/// its SQE, a send holds a reference to the socket's descriptor, so a close in between neither loses the bytes the
/// kernel would have taken nor lets the number be reused under the send.
/// </remarks>
internal sealed unsafe partial class EpollLoop
{
    private const ulong SendKind = 2UL << 62;

    private SocketWriter?[] _sendWriters = new SocketWriter?[64];
    private ulong[] _sendUserData = new ulong[64];
    private MemoryHandle[] _sendPins = new MemoryHandle[64];
    private SafeHandle?[] _sendHandles = new SafeHandle?[64]; // held from QueueSend until the SQE is written
    private readonly Stack<int> _freeSendSlots = new();
    private readonly Queue<int> _sendsToSubmit = new();
    private int _nextSendSlot;
    private uint _sendSequence;
    private int _sendsInKernel;

    /// <summary>
    /// Loop thread: queues a send of <paramref name="writer"/>'s oldest unsent bytes, written as an SQE with the next
    /// submission; <see cref="SocketWriter.OnRingSent"/> gets the result. False when the socket is closed or the loop
    /// is stopping (nothing was queued).
    /// </summary>
    internal bool QueueSend(SocketWriter writer)
    {
        var socket = writer.Socket;
        if (_ring is null || _stopping) return false;
        int slot;
        if (_freeSendSlots.Count > 0)
        {
            slot = _freeSendSlots.Pop();
        }
        else
        {
            slot = _nextSendSlot;
            if (slot == _sendWriters.Length)
            {
                Array.Resize(ref _sendWriters, slot * 2);
                Array.Resize(ref _sendUserData, slot * 2);
                Array.Resize(ref _sendPins, slot * 2);
                Array.Resize(ref _sendHandles, slot * 2);
            }
            _nextSendSlot = slot + 1;
        }
        var userData = SendKind | ((ulong)(++_sendSequence & SequenceMask) << 32) | (uint)slot;
        // Publish before looking at the close flag (Teardown does the reverse): the close cancels it, or it is not queued.
        socket.SetSendInFlight(userData);
        var handle = socket.Handle;
        var added = false;
        if (!socket.IsClosed)
        {
            try
            {
                handle.DangerousAddRef(ref added);
            }
            catch (ObjectDisposedException)
            {
            }
        }
        if (!added)
        {
            socket.SetSendInFlight(0);
            _freeSendSlots.Push(slot);
            return false;
        }
        _sendWriters[slot] = writer;
        _sendUserData[slot] = userData;
        _sendHandles[slot] = handle;
        _sendsToSubmit.Enqueue(slot);
        return true;
    }

    /// <summary>Any thread: cancels the send with <paramref name="userData"/> (its socket closed), with the next submission.</summary>
    internal void CancelSend(ulong userData) => RequestRing(new RingRequest(RingOp.CancelSend, null, userData));

    /// <summary>Writes the SQEs of the sends queued since the last submission, oldest first.</summary>
    private void SubmitSends(IoUring ring)
    {
        while (_sendsToSubmit.TryDequeue(out var slot))
        {
            var writer = _sendWriters[slot]!;
            var data = writer.RingSendData();
            var pin = data.Pin(); // blocks are pinned already; this keeps a block from elsewhere still while the kernel reads it
            // A socket's second send shows a connection that is reused: only then is its file worth a table entry.
            var file = FixedFile(ring, writer.Socket, install: writer.Socket.CountRingSend() >= 2);
            var sqe = NextSqe(ring); // may reap (a full SQ): completions for other slots only, this one is not in the kernel yet
            sqe->Opcode = UringConstants.OpSend;
            SetFile(sqe, writer.Socket, file);
            sqe->Addr = (ulong)pin.Pointer;
            sqe->Len = (uint)data.Length;
            // WAITALL: on a stream socket the kernel keeps sending until every byte went, so a send is short only on an error.
            sqe->OpFlags = SocketSyscalls.MSG_NOSIGNAL | SocketSyscalls.MSG_WAITALL;
            sqe->UserData = _sendUserData[slot];
            _sendPins[slot] = pin;
            _heldForSubmit.Add(_sendHandles[slot]!); // released once the kernel consumed the SQE, like an arm's
            _sendHandles[slot] = null;
            _sendsInKernel++;
        }
    }

    private void DispatchSend(in IoUringCqe cqe)
    {
        var slot = (int)(uint)cqe.UserData;
        if (slot >= _nextSendSlot || _sendWriters[slot] is not { } writer || _sendUserData[slot] != cqe.UserData) return;
        _sendsInKernel--;
        CompleteSend(slot, writer, cqe.Res);
    }

    private void CompleteSend(int slot, SocketWriter writer, int res)
    {
        _sendWriters[slot] = null;
        _sendUserData[slot] = 0;
        _sendPins[slot].Dispose();
        _sendPins[slot] = default;
        if (_sendHandles[slot] is { } held)
        {
            _sendHandles[slot] = null;
            held.DangerousRelease(); // never written as an SQE (the loop stopped first)
        }
        _freeSendSlots.Push(slot);
        try
        {
            writer.OnRingSent(res);
        }
        catch (Exception e)
        {
            // Continuations catch their own failures; anything reaching here is a bug, not a reason to stop the loop.
            Log.Error($"event loop {Id}: unhandled error in a send completion: {e}");
        }
    }

    /// <summary>
    /// Ring teardown, before the ring closes: cancels every send in the kernel and reaps until they completed (bounded),
    /// so no block goes back to the pool while the kernel may still read it; whatever remains (never submitted, or not
    /// completed in time) completes as cancelled.
    /// </summary>
    private void DrainSends(IoUring ring)
    {
        if (_sendsInKernel > 0)
        {
            for (var slot = 0; slot < _nextSendSlot; slot++)
            {
                if (_sendWriters[slot] is not null && _sendHandles[slot] is null) Cancel(ring, _sendUserData[slot]);
            }
            var deadline = Environment.TickCount64 + 1000;
            while (_sendsInKernel > 0 && Environment.TickCount64 < deadline)
            {
                ring.Enter(1, 50_000_000);
                ReleaseSubmitted(ring);
                Reap(ring);
            }
        }
        _sendsToSubmit.Clear();
        for (var slot = 0; slot < _nextSendSlot; slot++)
        {
            if (_sendWriters[slot] is { } writer) CompleteSend(slot, writer, -UringSyscalls.ECANCELED);
        }
    }
}
