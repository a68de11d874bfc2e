namespace FastLb.Core.Config;

/// <summary>The spellings of <see cref="IoMode"/> in the file, and the default a file without <c>io</c> gets.</summary>
internal static class IoModeNames
{
    /// <summary>The environment variable that sets the default of <c>io</c> (the file's own setting wins).</summary>
    public const string EnvironmentVariable = "FASTLB_IO";

    public static readonly string[] All = ["auto", "epoll", "io_uring"];

    public static string Name(IoMode mode) => mode switch
    {
        IoMode.Epoll => "epoll",
        IoMode.IoUring => "io_uring",
        _ => "auto",
    };

    public static IoMode? Parse(string? text) => text switch
    {
        "auto" => IoMode.Auto,
        "epoll" => IoMode.Epoll,
        "io_uring" => IoMode.IoUring,
        _ => null,
    };

    /// <summary>
    /// <c>auto</c>, unless <c>FASTLB_IO</c> names another mode: one switch that moves every event loop a process
    /// creates without an explicit mode (a file without <c>io</c>, a test server) to that transport, so the same
    /// functional suite runs on both.
    /// </summary>
    public static IoMode Default => Parse(Environment.GetEnvironmentVariable(EnvironmentVariable)) ?? IoMode.Auto;
}
