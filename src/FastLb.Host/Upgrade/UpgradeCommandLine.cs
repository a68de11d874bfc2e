namespace FastLb.Host.Upgrade;

/// <summary>The command line that starts the process replacing this one: the same arguments, the same or another binary.</summary>
internal static class UpgradeCommandLine
{
    /// <summary>
    /// The executable and arguments for <paramref name="binary"/> (null = the running executable's path, which a
    /// package upgrade has replaced on disk). A .NET muxer host ("dotnet fastlb.dll") runs the app's dll again; a
    /// <paramref name="binary"/> ending in .dll runs under the muxer; anything else is executed as it is.
    /// </summary>
    public static (string FileName, List<string> Arguments) Build(string? binary)
    {
        var all = Environment.GetCommandLineArgs();
        var arguments = new List<string>(all.Length + 1);
        var processPath = Environment.ProcessPath ?? throw new InvalidOperationException("the running executable's path is unknown");
        var underMuxer = Path.GetFileNameWithoutExtension(processPath) == "dotnet";
        string fileName;
        if (binary is null)
        {
            fileName = processPath;
            if (underMuxer) arguments.Add(all[0].EndsWith(".dll", StringComparison.OrdinalIgnoreCase) ? all[0] : Path.Combine(AppContext.BaseDirectory, "fastlb.dll"));
        }
        else if (binary.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
        {
            fileName = underMuxer ? processPath : "dotnet";
            arguments.Add(binary);
        }
        else
        {
            fileName = binary;
        }
        for (var i = 1; i < all.Length; i++) arguments.Add(all[i]);
        return (fileName, arguments);
    }
}
