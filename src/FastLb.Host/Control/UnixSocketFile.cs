using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace FastLb.Host.Control;

/// <summary>What is at a Unix socket's path: nothing, a socket (and whether someone listens on it), or another kind of file.</summary>
internal static partial class UnixSocketFile
{
    /// <summary>The path's file type and inode without following a symlink; false when nothing is there (or it cannot be read).</summary>
    public static unsafe bool TryStat(string path, out bool isSocket, out ulong inode)
    {
        // statx has one layout on every architecture (stat does not): stx_mode at 28, stx_ino at 32.
        var buffer = stackalloc byte[256];
        if (statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType | StatxIno, buffer) != 0)
        {
            isSocket = false;
            inode = 0;
            return false;
        }
        var mode = *(ushort*)(buffer + 28);
        isSocket = (mode & 0xF000) == 0xC000; // S_IFMT, S_IFSOCK
        inode = *(ulong*)(buffer + 32);
        return true;
    }

    /// <summary>True when a process accepts connections on the socket at <paramref name="path"/>.</summary>
    public static bool SomeoneListens(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>
    /// Clears the way for a socket at <paramref name="path"/>: removes a leftover socket nobody listens on; throws
    /// <see cref="IOException"/> (and touches nothing) when a process listens there or the file is not a socket.
    /// </summary>
    public static void RemoveStale(string path)
    {
        if (!TryStat(path, out var isSocket, out _)) return;
        if (!isSocket)
        {
            throw new IOException($"{path} exists and is not a socket; refusing to replace it (move it away or choose another path)");
        }
        if (SomeoneListens(path)) throw new IOException($"another process is already listening on {path}");
        File.Delete(path); // a leftover of a process that died
    }

    /// <summary>The group id for <paramref name="group"/>: a number, or a name looked up in /etc/group; null when unknown.</summary>
    public static int? ResolveGroup(string group)
    {
        if (int.TryParse(group, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var gid)) return gid;
        try
        {
            foreach (var line in File.ReadLines("/etc/group"))
            {
                var fields = line.Split(':');
                if (fields.Length >= 3 && fields[0] == group && int.TryParse(fields[2], System.Globalization.CultureInfo.InvariantCulture, out gid)) return gid;
            }
        }
        catch (IOException)
        {
        }
        return null;
    }

    /// <summary>Gives <paramref name="path"/> to group <paramref name="gid"/> (the owner stays); throws <see cref="IOException"/> on failure.</summary>
    public static void SetGroup(string path, int gid)
    {
        if (chown(path, -1, gid) != 0)
        {
            throw new IOException($"cannot give {path} to group {gid}: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;
    private const uint StatxIno = 0x100;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int chown(string path, int owner, int group);
}
