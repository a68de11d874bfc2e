using System.Net.Sockets;

namespace FastLb.Host.Control;

/// <summary>Who is at the other end of a Unix socket (SO_PEERCRED): the kernel's word, not the client's.</summary>
internal readonly record struct PeerCredentials(int Pid, int Uid, int Gid)
{
    /// <summary>A peer whose credentials could not be read: treated as nobody in particular.</summary>
    public static readonly PeerCredentials Unknown = new(0, -1, -1);

    public static PeerCredentials Of(Socket socket)
    {
        if (!OperatingSystem.IsLinux()) return Unknown;
        Span<byte> cred = stackalloc byte[12]; // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
        try
        {
            if (socket.GetRawSocketOption(1 /* SOL_SOCKET */, 17 /* SO_PEERCRED */, cred) < 12) return Unknown;
        }
        catch (SocketException)
        {
            return Unknown;
        }
        return new PeerCredentials(BitConverter.ToInt32(cred), BitConverter.ToInt32(cred[4..]), BitConverter.ToInt32(cred[8..]));
    }
}
