using System.Runtime.InteropServices;
using FastLb.Core.Diagnostics;
using FastLb.Proxy.Transport.Uring;

namespace FastLb.Proxy.Transport;

/// <summary>Registered files: a ring loop's sockets are used through the ring's file table, not by descriptor.</summary>
/// <remarks>
/// <para>
/// An operation on a plain descriptor makes the kernel look the file up and take and drop a reference on it, two
/// atomics on a shared file table in a multi-threaded process. With the socket's file in the ring's own table
/// (IOSQE_FIXED_FILE) an operation finds it by index and pins only the table's node. Each loop registers a sparse
/// table at start; a socket's table index is its slot in the loop, so the token already names it.
/// </para>
/// <para>
/// Only a reused connection's socket goes into the table, at its second send: an install and its clear are two
/// more SQEs through the kernel's resource-update path, which cost a connection that sends once (a
/// <c>Connection: close</c> exchange) more than the lookups they save (about 10% more CPU per new connection,
/// measured), while a keep-alive connection pays them once and saves a lookup on every send after. Polls and
/// receives are armed once per connection, so they use the index only when it is there already.
/// </para>
/// <para>
/// A socket's file goes into the table with an IORING_OP_FILES_UPDATE written just before the first SQE that uses
/// the index: SQEs are issued in ring order and a files update completes inline at submission, so the operation
/// after it finds the file (no syscall, no link). The update reads its descriptor from a cell kept per SQ slot,
/// which stays put until the kernel consumed that SQE. A closing socket's cancels also clear its index, since the
/// table's reference would otherwise keep the socket open (no FIN) until the index was reused; operations still in
/// the kernel keep their own reference until they complete. Which token owns each index is tracked on the loop's
/// thread: a new socket installs only into an empty index (one whose closed owner's clear is still queued waits
/// for it, and the socket uses its descriptor meanwhile), and a clear for another token does nothing.
/// </para>
/// <para>
/// Sockets past the table (slots beyond <see cref="DefaultFileTableSize"/>, or every socket when the kernel refused
/// the table) use their descriptor as before. Listening sockets are shared by every loop and stay descriptors.
/// </para>
/// </remarks>
internal sealed unsafe partial class EpollLoop
{
    private const ulong FileUpdateTag = ulong.MaxValue - 2;

    /// <summary>Registered file slots per ring loop: 8 bytes of kernel memory each; sockets past them use their descriptor.</summary>
    public const int DefaultFileTableSize = 16384;

    private readonly int _fileTableRequested;
    private int _fileTableSize;           // registered slots (0: no table)
    private ulong[] _fileOwners = [];     // the token whose file each slot holds, or 0 (loop thread only)
    private int* _fileUpdateCells;        // one per SQ slot: the descriptor a files update in that slot installs
    private long _filesInstalled;
    private long _fileUpdatesFailed;

    /// <summary>Slots of this loop's registered file table (0 on epoll, or when the kernel refused it).</summary>
    internal int FileTableSize => Volatile.Read(ref _fileTableSize);

    /// <summary>Socket files this loop put into its table (one per socket that sent twice through the ring, while its slot fits).</summary>
    internal long FilesInstalled => Interlocked.Read(ref _filesInstalled);

    /// <summary>Files updates the kernel failed (an install only goes into an empty index, so the socket's operations then fail with EBADF, never reach another socket).</summary>
    internal long FileUpdatesFailed => Interlocked.Read(ref _fileUpdatesFailed);

    /// <summary>Registers a sparse file table of the requested size, capped by RLIMIT_NOFILE as the kernel requires.</summary>
    private void RegisterFileTable(IoUring ring)
    {
        var size = _fileTableRequested;
        var limit = DescriptorBudget.ReadDescriptorLimit();
        if (limit > 0 && limit < size) size = (int)limit;
        if (size <= 0) return;
        var fds = (int*)NativeMemory.Alloc((nuint)size, sizeof(int));
        try
        {
            new Span<int>(fds, size).Fill(-1); // -1: an empty slot
            var rc = ring.Register(UringConstants.RegisterFiles, fds, (uint)size);
            if (rc < 0)
            {
                Log.Info($"event loop {Id}: no registered file table (io_uring_register: {UringSupport.Describe(-rc)}); sockets are used by descriptor");
                return;
            }
        }
        finally
        {
            NativeMemory.Free(fds);
        }
        _fileUpdateCells = (int*)NativeMemory.AllocZeroed(ring.SqEntries, sizeof(int));
        _fileOwners = new ulong[size];
        Volatile.Write(ref _fileTableSize, size);
    }

    private void FreeFileTable()
    {
        NativeMemory.Free(_fileUpdateCells);
        _fileUpdateCells = null;
        Volatile.Write(ref _fileTableSize, 0);
    }

    /// <summary>
    /// Loop thread, before writing an SQE for <paramref name="socket"/>: its index in the file table when its file is
    /// there, or, with <paramref name="install"/>, after putting it there; -1 to use the descriptor instead.
    /// </summary>
    private int FixedFile(IoUring ring, EpollSocket socket, bool install)
    {
        var token = socket.Token;
        var index = (int)(uint)token;
        if (token == 0 || index >= _fileTableSize) return -1; // 0: never registered (an empty index's owner is 0 too)
        if (_fileOwners[index] == token) return index;
        // Only into an empty index: one still owned waits for its closed socket's clear (queued by the close), and an
        // install over it that failed would leave that socket's file where this socket's operations then look.
        if (!install || _fileOwners[index] != 0) return -1;
        if (!ReferenceEquals(LiveSocket(token), socket)) return -1; // not registered here, or closing
        var sqe = NextSqe(ring);
        if (!HoldForSubmit(socket, sqe)) return -1;
        WriteFileUpdate(ring, sqe, index, socket.Fd);
        _fileOwners[index] = token;
        _filesInstalled++;
        return index;
    }

    /// <summary>Loop thread, for a socket that closed: clears its index unless a newer socket's file holds it already.</summary>
    private void ReleaseFixedFile(IoUring ring, ulong token)
    {
        var index = (int)(uint)token;
        if (index >= _fileTableSize || _fileOwners[index] != token) return;
        _fileOwners[index] = 0;
        WriteFileUpdate(ring, NextSqe(ring), index, -1);
    }

    private void WriteFileUpdate(IoUring ring, IoUringSqe* sqe, int index, int fd)
    {
        var cell = _fileUpdateCells + ring.SlotOf(sqe);
        *cell = fd;
        sqe->Opcode = UringConstants.OpFilesUpdate;
        sqe->Addr = (ulong)cell;
        sqe->Len = 1;
        sqe->Off = (ulong)index;
        sqe->Flags = UringConstants.SqeCqeSkipSuccess; // only a failure posts a completion
        sqe->UserData = FileUpdateTag;
    }

    /// <summary>Points <paramref name="sqe"/> at the socket's file: its table index (IOSQE_FIXED_FILE) or its descriptor.</summary>
    private static void SetFile(IoUringSqe* sqe, EpollSocket socket, int fixedIndex)
    {
        if (fixedIndex >= 0)
        {
            sqe->Fd = fixedIndex;
            sqe->Flags |= UringConstants.SqeFixedFile;
        }
        else
        {
            sqe->Fd = socket.Fd;
        }
    }

    private void DispatchFileUpdate(in IoUringCqe cqe)
    {
        _fileUpdatesFailed++;
        Log.Warn($"event loop {Id}: registering a socket's file failed: {UringSupport.Describe(-cqe.Res)}");
    }
}
