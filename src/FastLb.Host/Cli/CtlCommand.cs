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
        var help = false;
        var words = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--socket" or "-s":
                    socket = i + 1 < args.Length ? args[++i] : throw new UsageException("--socket needs a path", CommandHelp.Ctl);
                    break;
                case "--config" or "-c":
                    configPath = i + 1 < args.Length ? args[++i] : throw new UsageException("-c needs a file", CommandHelp.Ctl);
                    break;
                case "--json":
                    json = true;
                    break;
                case "--help" or "-h":
                    help = true;
                    break;
                default:
                    if (words.Count == 0 && args[i].StartsWith('-')) throw new UsageException($"ctl: unknown option '{args[i]}'", CommandHelp.Ctl);
                    words.Add(args[i]);
                    break;
            }
        }
        if (words.Count == 0)
        {
            if (help)
            {
                stdout.WriteLine(CommandHelp.Ctl);
                return 0;
            }
            throw new UsageException("ctl needs a command: " + ControlCommandHandler.Commands, CommandHelp.Ctl);
        }
        if (!CommandHelp.CtlCommands.TryGetValue(words[0], out var command))
        {
            throw new UsageException($"ctl: unknown command '{words[0]}'; commands are: {ControlCommandHandler.Commands}", CommandHelp.Ctl);
        }
        if (help)
        {
            stdout.WriteLine(CommandHelp.ForCtlCommand(words[0]));
            return 0;
        }
        for (var i = 1; i < words.Count; i++)
        {
            if (!words[i].StartsWith("--", StringComparison.Ordinal)) continue;
            if (Array.IndexOf(command.ValueFlags, words[i]) >= 0) i++;
            else if (Array.IndexOf(command.Flags, words[i]) < 0) throw new UsageException($"ctl {words[0]}: unknown option '{words[i]}'", CommandHelp.ForCtlCommand(words[0]));
        }
        var watch = words.Remove("--watch");
        var timeout = TimeSpan.FromSeconds(30);
        if (words[0] == "upgrade")
        {
            // The old process answers once the new one is ready or has failed (upgrade_timeout bounds that).
            timeout = TimeSpan.FromMinutes(10);
            var binary = words.IndexOf("--binary");
            if (binary >= 0 && binary + 1 < words.Count)
            {
                words[binary + 1] = Path.GetFullPath(words[binary + 1]);
                if (words[binary + 1].Any(char.IsWhiteSpace)) throw new UsageException("--binary: the path must not contain spaces", CommandHelp.Upgrade);
            }
        }
        var explicitSocket = socket is not null || configPath is not null;
        socket ??= configPath is null ? "./fastlb.sock" : SocketFromConfig(configPath, stderr);
        if (socket is null) return 1;
        if (!File.Exists(socket))
        {
            stderr.WriteLine(explicitSocket
                ? $"fastlb ctl: no control socket at {socket}: is fastlb running?"
                : $"fastlb ctl: no control socket at {socket}: is fastlb running? pass --socket or -c");
            return 1;
        }
        var line = string.Join(' ', words);
        if (watch) return await WatchAsync(socket, line, json, stdout, stderr).ConfigureAwait(false);
        var reply = await SendAsync(socket, line, timeout, stderr).ConfigureAwait(false);
        return reply is null ? 1 : Print(reply, json, stdout, stderr);
    }

    /// <summary>Prints the reply: an ok reply to stdout (exit 0), an error reply to stderr (exit 1).</summary>
    private static int Print(string reply, bool json, TextWriter stdout, TextWriter stderr)
    {
        var ok = reply.StartsWith("{\"ok\":true", StringComparison.Ordinal);
        (ok ? stdout : stderr).WriteLine(json ? reply : ReplyFormatter.Format(reply));
        return ok ? 0 : 1;
    }

    private static async Task<string?> SendAsync(string socket, string line, TimeSpan timeout, TextWriter stderr)
    {
        try
        {
            return await ControlClient.SendAsync(socket, line, timeout).ConfigureAwait(false);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused)
        {
            stderr.WriteLine($"fastlb ctl: control socket {socket} refuses connections: is fastlb running? (a stale socket file is left when it was killed)");
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or IOException or TimeoutException)
        {
            stderr.WriteLine($"fastlb ctl: cannot reach control socket {socket}: {e.Message}");
        }
        return null;
    }

    /// <summary><c>status --watch</c>: the reply again every second, redrawn in place, until Ctrl-C or an error.</summary>
    private static async Task<int> WatchAsync(string socket, string line, bool json, TextWriter stdout, TextWriter stderr)
    {
        using var stop = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var reply = await SendAsync(socket, line, TimeSpan.FromSeconds(5), stderr).ConfigureAwait(false);
                if (reply is null) return 1;
                // Home the cursor and clear the screen, then draw: the view updates in place.
                stdout.Write("\u001b[H\u001b[2J");
                stdout.WriteLine($"fastlb ctl {line} --watch   {DateTime.UtcNow:HH:mm:ss} UTC   (Ctrl-C stops)");
                if (Print(reply, json, stdout, stderr) != 0) return 1;
                stdout.Flush();
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
            return 0;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
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
