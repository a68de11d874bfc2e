namespace FastLb.Host.Cli;

/// <summary>Entry point of the fastlb binary: dispatches the sub-command and maps failures to exit codes.</summary>
internal static class CommandLine
{
    public const string Usage = """
        usage:
          fastlb demo [--port N]                 blue + green demo backends on loopback, the LB in front (default :8080)
          fastlb run -c FILE                     run the load balancer
          fastlb check -c FILE                   validate FILE; print file:line:col: message; exit 1 on error
          fastlb ctl [--socket PATH | -c FILE] [--json] COMMAND
                     status [--watch] | stats SERVICE | events | swap SERVICE POOL | split SERVICE POOL=PCT...
                     rollback SERVICE | weight SERVICE POOL ADDRESS W | drain SERVICE POOL ADDRESS
                     enable SERVICE POOL ADDRESS | reload | reopen-logs | upgrade [--binary PATH]
          fastlb upgrade [--socket PATH | -c FILE] [--binary PATH]
                                                 replace the running process with the binary (default: its own path),
                                                 handing over every listening socket and the runtime state
          fastlb version
        `fastlb COMMAND --help` and `fastlb ctl COMMAND --help` describe one command.
        """;

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            stdout.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        var rest = args[1..];
        try
        {
            // COMMAND --help: that command's usage, without starting anything or needing a running process.
            if (args[0] != "ctl" && rest.Any(CommandHelp.IsHelp) && HelpOf(args[0]) is { } help)
            {
                stdout.WriteLine(help);
                return 0;
            }
            return args[0] switch
            {
                "run" => await RunCommand.ExecuteAsync(rest, stdout, stderr).ConfigureAwait(false),
                "check" => CheckCommand.Execute(rest, stdout, stderr),
                "ctl" => await CtlCommand.ExecuteAsync(rest, stdout, stderr).ConfigureAwait(false),
                "upgrade" => await CtlCommand.ExecuteAsync(["upgrade", .. rest], stdout, stderr).ConfigureAwait(false),
                "demo" => await DemoCommand.ExecuteAsync(rest, stdout, stderr).ConfigureAwait(false),
                "version" or "--version" => Version(rest, stdout),
                _ => UnknownCommand(args[0], stderr),
            };
        }
        catch (UsageException e)
        {
            stderr.WriteLine($"fastlb: {e.Message}");
            stderr.WriteLine(e.Usage ?? Usage);
            return 2;
        }
    }

    private static string? HelpOf(string command) => command switch
    {
        "run" => CommandHelp.Run,
        "check" => CommandHelp.Check,
        "demo" => CommandHelp.Demo,
        "upgrade" => CommandHelp.Upgrade,
        "version" => CommandHelp.Version,
        _ => null,
    };

    /// <summary>Returns the value of <paramref name="name"/> (or its short alias) from args, or null.</summary>
    public static string? Option(string[] args, string name, string? alias = null)
    {
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == name || (alias is not null && args[i] == alias))
            {
                if (i + 1 >= args.Length) throw new UsageException($"{args[i]} needs a value");
                return args[i + 1];
            }
            if (args[i].StartsWith(name + "=", StringComparison.Ordinal)) return args[i][(name.Length + 1)..];
        }
        return null;
    }

    private static int Version(string[] args, TextWriter stdout)
    {
        CommandHelp.CheckOptions("version", args, CommandHelp.Version);
        stdout.WriteLine($"fastlb {typeof(CommandLine).Assembly.GetName().Version} (.NET {Environment.Version})");
        return 0;
    }

    private static int UnknownCommand(string command, TextWriter stderr)
    {
        stderr.WriteLine($"fastlb: unknown command '{command}'; commands are: demo, run, check, ctl, upgrade, version");
        return 2;
    }
}
