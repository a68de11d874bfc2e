using FastLb.Core.Config;
using FastLb.Host;
using FastLb.Host.Cli;
using FastLb.Tests.Common;
using Xunit;

namespace FastLb.FunctionalTests.Host;

/// <summary>The command line as a user meets it: help without a running process, unknown flags, a missing socket, split percentages; each with its exit code.</summary>
public class CliTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private readonly TempDir _dir = new();
    private readonly DemoBackends _backends = new();

    private string Socket => _dir.File("fastlb.sock");

    public Task InitializeAsync()
    {
        FastLb.Core.Diagnostics.Log.MinLevel = FastLb.Core.Diagnostics.LogLevel.Warn;
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _backends.DisposeAsync().AsTask().WaitAsync(Timeout);
        _dir.Dispose();
    }

    private static async Task<(int Code, string Out, string Err)> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await CommandLine.RunAsync(args, stdout, stderr).WaitAsync(Timeout);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [InlineData("run", "usage: fastlb run -c FILE")]
    [InlineData("check", "usage: fastlb check -c FILE")]
    [InlineData("demo", "usage: fastlb demo [--port N]")] // prints its usage; the demo does not start
    [InlineData("upgrade", "usage: fastlb upgrade")]
    [InlineData("version", "usage: fastlb version")]
    [InlineData("ctl", "usage: fastlb ctl [--socket PATH | -c FILE] [--json] COMMAND [ARGS]")]
    public async Task Help_EveryCommand_PrintsItsUsageAndExitsZeroWithoutARunningProcess(string command, string usage)
    {
        foreach (var flag in new[] { "--help", "-h" })
        {
            var (code, stdout, stderr) = await RunAsync(command, flag);

            Assert.Equal(0, code);
            Assert.StartsWith(usage, stdout, StringComparison.Ordinal);
            Assert.Empty(stderr);
        }
    }

    [Fact]
    public async Task Help_TopLevel_ListsCommands()
    {
        var (code, stdout, _) = await RunAsync("--help");

        Assert.Equal(0, code);
        Assert.Contains("fastlb ctl [--socket PATH | -c FILE]", stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("status", "usage: fastlb ctl [--socket PATH | -c FILE] [--json] status [--watch]")]
    [InlineData("split", "usage: fastlb ctl [--socket PATH | -c FILE] [--json] split SERVICE POOL=PCT")]
    [InlineData("reopen-logs", "usage: fastlb ctl [--socket PATH | -c FILE] [--json] reopen-logs")]
    [InlineData("rollout", "usage: fastlb ctl [--socket PATH | -c FILE] [--json] rollout SERVICE POOL")]
    public async Task Help_CtlCommand_PrintsThatCommandsUsage(string command, string usage)
    {
        var (code, stdout, _) = await RunAsync("ctl", command, "--help");

        Assert.Equal(0, code);
        Assert.StartsWith(usage, stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("run", "-c", "x.yaml", "--verbose")]
    [InlineData("check", "--cofig", "x.yaml")]
    [InlineData("demo", "--prot", "9000")]
    [InlineData("ctl", "--sock", "x", "status")]
    [InlineData("ctl", "swap", "web", "green", "--forse")]
    [InlineData("ctl", "status", "--wach")]
    public async Task UnknownFlag_ExitsTwoNamingTheFlag(params string[] args)
    {
        var flag = args.First(a => a.StartsWith("--", StringComparison.Ordinal) && a is not ("--config" or "--socket"));

        var (code, stdout, stderr) = await RunAsync(args);

        Assert.Equal(2, code);
        Assert.Contains($"unknown option '{flag}'", stderr, StringComparison.Ordinal);
        Assert.Empty(stdout);
    }

    [Fact]
    public async Task Ctl_UnknownCommand_ExitsTwo()
    {
        var (code, _, stderr) = await RunAsync("ctl", "--socket", Socket, "swpa", "web", "green");

        Assert.Equal(2, code);
        Assert.Contains("unknown command 'swpa'", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ctl_NoControlSocket_SaysSoOnStderrAndExitsOne()
    {
        var (code, stdout, stderr) = await RunAsync("ctl", "--socket", Socket, "status");

        Assert.Equal(1, code);
        Assert.Empty(stdout);
        Assert.Equal($"fastlb ctl: no control socket at {Socket}: is fastlb running?", stderr.Trim());
    }

    [Fact]
    public async Task Ctl_StaleSocketFile_SaysNothingListens()
    {
        await File.WriteAllTextAsync(Socket, ""); // a path with nothing listening behind it, as a killed fastlb may leave

        var (code, _, stderr) = await RunAsync("ctl", "--socket", Socket, "status");

        Assert.Equal(1, code);
        Assert.Contains("refuses connections: is fastlb running?", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Split_SharesAddUpTo100_AppliedAndPrintedAsPercentages_ElseRefusedOnStderr()
    {
        var config = ConfigLoader.Parse(_backends.TcpConfig(_dir.Path), "cli-test.yaml", _dir.Path);
        await using var runtime = new FastLbRuntime(() => config);
        Assert.True(await runtime.StartAsync(config, handleSignals: false).WaitAsync(Timeout));

        var refused = await RunAsync("ctl", "--socket", Socket, "split", "web", "blue=90");
        Assert.Equal(1, refused.Code);
        Assert.Empty(refused.Out);
        Assert.Contains("shares add up to 90, not 100", refused.Err, StringComparison.Ordinal);

        var applied = await RunAsync("ctl", "--socket", Socket, "split", "web", "blue=90", "green=10");
        Assert.Equal(0, applied.Code);

        var status = await RunAsync("ctl", "--socket", Socket, "status");
        Assert.Equal(0, status.Code);
        Assert.Contains("shares blue=90 green=10", status.Out, StringComparison.Ordinal);
        Assert.Matches(@"pool blue\s+share\s+90%", status.Out);
        Assert.Matches(@"pool green\s+share\s+10%", status.Out);
    }

    [Fact]
    public async Task Status_Swap_ShowsReqPerSecondAndADrainCountdown()
    {
        var config = ConfigLoader.Parse(_backends.TcpConfig(_dir.Path, drainTimeout: "30s"), "cli-test.yaml", _dir.Path);
        await using var runtime = new FastLbRuntime(() => config);
        Assert.True(await runtime.StartAsync(config, handleSignals: false).WaitAsync(Timeout));
        var web = runtime.Proxy.Listeners[0].EndPoint;
        using var held = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        await held.ConnectAsync(web).WaitAsync(Timeout); // a TCP connection on blue: it keeps blue draining
        await FastLb.FunctionalTests.Http.Poll.UntilAsync(() => runtime.Router.Current.FindService("web")!.FindPool("blue")!.Live == 1, "blue has a live connection");

        Assert.Equal(0, (await RunAsync("ctl", "--socket", Socket, "swap", "web", "green")).Code);
        var status = await RunAsync("ctl", "--socket", Socket, "status");

        Assert.Equal(0, status.Code);
        Assert.Matches(@"pool blue .*req/s.*draining: 1 live, deadline in [0-9]+s", status.Out);
    }
}
