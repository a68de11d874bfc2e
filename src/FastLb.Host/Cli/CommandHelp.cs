namespace FastLb.Host.Cli;

/// <summary>Usage texts of every command and ctl command, printed by <c>--help</c> without a running process.</summary>
internal static class CommandHelp
{
    public const string Run = """
        usage: fastlb run -c FILE
          Runs the load balancer with FILE. SIGHUP (or `fastlb ctl reload`) re-reads it, SIGUSR1 reopens the access
          logs, SIGUSR2 (or `fastlb upgrade`) replaces the process without dropping a connection, SIGTERM drains and
          exits 0.
          -c, --config FILE   the config file
        """;

    public const string Check = """
        usage: fastlb check -c FILE
          Validates FILE: prints a summary, or every error as file:line:col: message and exits 1.
          -c, --config FILE   the config file
        """;

    public const string Demo = """
        usage: fastlb demo [--port N]
          Starts two blue and two green demo backends on loopback and FastLb in front of them, with the control
          socket ./fastlb.sock in the current folder. Ctrl-C stops.
          -p, --port N        the port FastLb listens on (default 8080; 0 picks a free one)
        """;

    public const string Upgrade = """
        usage: fastlb upgrade [--socket PATH | -c FILE] [--binary PATH]
          Replaces the running process with the binary (default: its own path), handing over every listening socket
          and the runtime state; the old process drains and exits. Exit 1 when the new one fails (the old keeps serving).
          --binary PATH       the new binary
        """;

    public const string Version = """
        usage: fastlb version
          Prints the version of this binary.
        """;

    public const string Ctl = """
        usage: fastlb ctl [--socket PATH | -c FILE] [--json] COMMAND [ARGS]
          Sends one command to a running fastlb over its control socket: --socket PATH, else -c FILE's
          admin.control_socket, else ./fastlb.sock. Exit 0 when the reply is ok, 1 when it is an error or the socket
          cannot be reached, 2 for a usage error. `fastlb ctl COMMAND --help` describes one command.
          -s, --socket PATH   the control socket
          -c, --config FILE   read the control socket's path from FILE
          --json              print the raw JSON reply
        commands:
          status [--watch]                       services, pools, shares, req/s, errors, p99, health, drains
          stats SERVICE [POOL] [--window 30s]    requests/s, error rate, p50/p90/p99 over a window
          history [--since UNIX_SECOND]          requests and errors per second, last 5 minutes
          events [--since SEQ] [--limit N]       recent changes: swaps, splits, reloads, drains, health
          swap SERVICE POOL [--force]            all new traffic to POOL; the others drain
          split SERVICE POOL=PCT... [--force]    percentages of new traffic, adding up to 100
          rollback SERVICE                       back to the assignment before the last change
          rollout SERVICE POOL [OPTIONS]         shift traffic step by step, judged by error rate and p99
          rollout-status | pause | resume | promote | abort SERVICE
                                                 follow and steer a rollout
          weight SERVICE POOL ADDRESS W          set one backend's weight
          drain SERVICE POOL ADDRESS             take one backend out of rotation
          enable SERVICE POOL ADDRESS            put it back
          reload                                 re-read the config file
          reopen-logs                            reopen the access log files (after logrotate)
          upgrade [--binary PATH]                replace the running process (as `fastlb upgrade`)
        """;

    /// <summary>One ctl command: its usage line, its description and the options it takes (each "--name" or "--name VALUE").</summary>
    public static readonly IReadOnlyDictionary<string, (string Usage, string About, string[] Flags, string[] ValueFlags)> CtlCommands =
        new Dictionary<string, (string, string, string[], string[])>(StringComparer.Ordinal)
        {
            ["status"] = ("status [--watch]", "Prints services, pools and backends: shares, live counts, req/s, error rate and p99 over the last 10 s, health and drain countdowns. --watch refreshes it every second in place (Ctrl-C stops).", ["--watch"], []),
            ["stats"] = ("stats SERVICE [POOL] [--window 30s]", "Requests/s, error rate and latency percentiles of a service's pools and backends over a window (1s to 60s; default 10s).", [], ["--window"]),
            ["history"] = ("history [--since UNIX_SECOND]", "Requests and errors per second of every pool and backend over the last 5 minutes (only the seconds after --since when given), as the dashboard's sparklines show them.", [], ["--since"]),
            ["events"] = ("events [--since SEQ] [--limit N]", "The recent-events log: swaps, splits, rollbacks, reloads, drains, health changes, upgrades.", [], ["--since", "--limit"]),
            ["swap"] = ("swap SERVICE POOL [--force]", "Sends all new traffic of SERVICE to POOL at once; the other pools drain. --force overrides the release gate.", ["--force"], []),
            ["split"] = ("split SERVICE POOL=PCT [POOL=PCT...] [--force]", "Shares new traffic by percentages that add up to 100, e.g. split web blue=90 green=10; pools not named get 0.", ["--force"], []),
            ["rollout"] = ("rollout SERVICE POOL [--steps 5,25,50,100] [--interval 30s] [--max-error-rate 1%] [--max-error-rate-delta 0.5%] [--max-p99 500ms] [--max-p99-ratio 1.5] [--min-requests 100] [--manual-gate 50] [--on-inconclusive fail|pause] [--ignore-unhealthy] [--force]",
                "Moves new traffic to POOL step by step, each step judged against the thresholds; a failed step rolls back.",
                ["--ignore-unhealthy", "--force"], ["--steps", "--interval", "--max-error-rate", "--max-error-rate-delta", "--max-p99", "--max-p99-ratio", "--min-requests", "--manual-gate", "--on-inconclusive"]),
            ["rollout-status"] = ("rollout-status SERVICE", "The rollout of SERVICE: its step, each step's verdict with its numbers.", [], []),
            ["pause"] = ("pause SERVICE", "Holds the rollout of SERVICE at its current step.", [], []),
            ["resume"] = ("resume SERVICE", "Resumes a paused rollout.", [], []),
            ["promote"] = ("promote SERVICE [--force]", "Moves the rollout to its next step now (past a manual gate).", ["--force"], []),
            ["abort"] = ("abort SERVICE", "Stops the rollout and returns to the assignment before it.", [], []),
            ["rollback"] = ("rollback SERVICE", "Restores the assignment before the last swap, split or reload of SERVICE, at once.", [], []),
            ["weight"] = ("weight SERVICE POOL ADDRESS W", "Sets one backend's weight (0 drains it).", [], []),
            ["drain"] = ("drain SERVICE POOL ADDRESS", "Takes one backend out of rotation; its live work drains.", [], []),
            ["enable"] = ("enable SERVICE POOL ADDRESS", "Puts a drained backend back into rotation.", [], []),
            ["reload"] = ("reload", "Re-reads the config file (as SIGHUP); a bad file keeps the running config.", [], []),
            ["reopen-logs"] = ("reopen-logs", "Reopens every access log file (as SIGUSR1), after logrotate moved it.", [], []),
            ["upgrade"] = ("upgrade [--binary PATH]", "Replaces the running process with the binary without dropping a connection (as `fastlb upgrade`).", [], ["--binary"]),
        };

    public static string ForCtlCommand(string command)
    {
        var (usage, about, _, _) = CtlCommands[command];
        return $"usage: fastlb ctl [--socket PATH | -c FILE] [--json] {usage}\n  {about}";
    }

    public static bool IsHelp(string arg) => arg is "--help" or "-h";

    /// <summary>
    /// Checks that <paramref name="args"/> hold only <paramref name="valueFlags"/> (each followed by a value) and no
    /// other option or word; throws a usage error naming the first offender.
    /// </summary>
    public static void CheckOptions(string command, string[] args, string usage, params string[] valueFlags)
    {
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            var name = arg.Split('=', 2)[0];
            if (Array.IndexOf(valueFlags, name) >= 0)
            {
                if (!arg.Contains('=', StringComparison.Ordinal)) i++; // its value
                continue;
            }
            throw new UsageException(arg.StartsWith('-')
                ? $"{command}: unknown option '{arg}'"
                : $"{command}: unexpected argument '{arg}'", usage);
        }
    }
}
