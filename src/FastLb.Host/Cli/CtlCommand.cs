using System.Net.Sockets;
using FastLb.Core.Config;
using FastLb.Host.Control;

namespace FastLb.Host.Cli;

/// <summary>`fastlb ctl [--socket PATH | -c FILE] [--json] COMMAND...`: one command, one reply (`fastlb upgrade ...` = `fastlb ctl upgrade ...`).</summary>
internal static class CtlCommand
{
    public static async Task<int> ExecuteAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        string? socket = null;
        string? configPath = null;
        var json = false;
        var words = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--socket" or "-s":
                    socket = i + 1 < args.Length ? args[++i] : throw new UsageException("--socket needs a path");
                    break;
                case "--config" or "-c":
                    configPath = i + 1 < args.Length ? args[++i] : throw new UsageException("-c needs a file");
                    break;
                case "--json":
                    json = true;
                    break;
                default:
                    words.Add(args[i]);
                    break;
            }
        }
        if (words.Count == 0) throw new UsageException("ctl needs a command: " + ControlCommandHandler.Commands);
        var timeout = TimeSpan.FromSeconds(30);
        if (words[0] == "upgrade")
        {
            // The old process answers once the new one is ready or has failed (upgrade_timeout bounds that).
            timeout = TimeSpan.FromMinutes(10);
            var binary = words.IndexOf("--binary");
            if (binary >= 0 && binary + 1 < words.Count)
            {
                words[binary + 1] = Path.GetFullPath(words[binary + 1]);
                if (words[binary + 1].Any(char.IsWhiteSpace)) throw new UsageException("--binary: the path must not contain spaces");
            }
        }
        socket ??= configPath is null ? "./fastlb.sock" : SocketFromConfig(configPath, stderr);
        if (socket is null) return 1;
        string reply;
        try
        {
            reply = await ControlClient.SendAsync(socket, string.Join(' ', words), timeout).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or IOException)
        {
            stderr.WriteLine($"fastlb ctl: cannot reach control socket {socket}: {e.Message}");
            return 1;
        }
        stdout.WriteLine(json ? reply : ReplyFormatter.Format(reply));
        return reply.StartsWith("{\"ok\":true", StringComparison.Ordinal) ? 0 : 1;
    }

    private static string? SocketFromConfig(string path, TextWriter stderr)
    {
        try
        {
            return ConfigLoader.LoadFile(path).Admin.ControlSocket;
        }
        catch (ConfigException e)
        {
            foreach (var error in e.Errors) stderr.WriteLine(error);
            return null;
        }
    }
}
