using System.Diagnostics;
using System.Net;

namespace FastLb.FunctionalTests.Tcp;

/// <summary>
/// A network namespace joined to this one by a veth pair at MTU 1500 with segmentation offloads off, so traffic
/// between them arrives the way a real NIC delivers it: one skb per 1500-byte packet, not 64 KiB loopback chunks.
/// Created by the test (root only) and deleted on dispose, with the veth pair.
/// </summary>
internal sealed class NetworkNamespace : IDisposable
{
    private NetworkNamespace(string name, IPAddress hostAddress, IPAddress peerAddress)
    {
        Name = name;
        HostAddress = hostAddress;
        PeerAddress = peerAddress;
    }

    public string Name { get; }

    /// <summary>This namespace's end of the veth pair.</summary>
    public IPAddress HostAddress { get; }

    /// <summary>The address inside the namespace.</summary>
    public IPAddress PeerAddress { get; }

    /// <summary>Why a namespace with a veth pair cannot be created here, or null when it can.</summary>
    public static string? Unavailable()
    {
        if (!OperatingSystem.IsLinux()) return "network namespaces are Linux only";
        if (Environment.UserName != "root") return "creating a network namespace needs root";
        if (Run("ip", "-V", throwOnError: false) is null) return "the ip command (Debian package iproute2) is not installed";
        if (Run("ethtool", "--version", throwOnError: false) is null) return "the ethtool command (Debian package ethtool) is not installed";
        return null;
    }

    public static NetworkNamespace Create()
    {
        var id = Random.Shared.Next(1, 250);
        var name = $"fastlb-test-{Environment.ProcessId}-{id}";
        var hostLink = $"flh{id}x{Environment.ProcessId % 10000}";
        var peerLink = $"fln{id}x{Environment.ProcessId % 10000}";
        var host = IPAddress.Parse($"10.203.{id}.1");
        var peer = IPAddress.Parse($"10.203.{id}.2");
        Run("ip", $"netns add {name}");
        var ns = new NetworkNamespace(name, host, peer);
        try
        {
            Run("ip", $"link add {hostLink} mtu 1500 type veth peer name {peerLink} mtu 1500 netns {name}");
            Run("ip", $"addr add {host}/30 dev {hostLink}");
            Run("ip", $"link set {hostLink} up");
            Run("ip", $"-n {name} addr add {peer}/30 dev {peerLink}");
            Run("ip", $"-n {name} link set {peerLink} up");
            Run("ip", $"-n {name} link set lo up");
            // Each packet its own skb on the receiving side: no TSO/GSO on the sender, no GRO on the receiver.
            Run("ip", $"netns exec {name} ethtool -K {peerLink} tso off gso off gro off");
            Run("ethtool", $"-K {hostLink} tso off gso off gro off");
            return ns;
        }
        catch
        {
            ns.Dispose();
            throw;
        }
    }

    /// <summary>Starts <paramref name="file"/> inside the namespace with its output redirected.</summary>
    public Process Start(string file, params string[] args)
    {
        var info = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in new[] { "netns", "exec", Name, file }.Concat(args)) info.ArgumentList.Add(a);
        return Process.Start(info) ?? throw new InvalidOperationException($"cannot start {file} in {Name}");
    }

    public void Dispose() => Run("ip", $"netns del {Name}", throwOnError: false); // takes the veth pair with it

    private static string? Run(string file, string arguments, bool throwOnError = true)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!;
            var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            if (!p.WaitForExit(10_000)) p.Kill();
            if (p.ExitCode != 0)
            {
                if (throwOnError) throw new InvalidOperationException($"{file} {arguments} failed ({p.ExitCode}): {output}");
                return null;
            }
            return output;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            if (throwOnError) throw;
            return null;
        }
    }
}
