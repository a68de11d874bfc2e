namespace FastLb.Core.Config;

/// <summary>
/// `mirror:` of an HTTP route: a share of the route's requests is copied to a pool (fire and forget); the copy's
/// response is read and discarded and never reaches, delays or changes the client's.
/// </summary>
internal sealed class MirrorConfig
{
    public const int DefaultMaxBody = 1024 * 1024;
    public const int DefaultMaxInFlight = 100;

    /// <summary>The service of the mirror pool (the route's own service when the YAML leaves it out).</summary>
    public required string Service { get; init; }

    /// <summary>The pool the copies go to.</summary>
    public required string Pool { get; init; }

    /// <summary>Percent of the route's requests copied, 0-100.</summary>
    public double Percent { get; init; } = 100;

    /// <summary>Requests with a larger body (or a chunked body that grows past it) are not copied.</summary>
    public int MaxBody { get; init; } = DefaultMaxBody;

    /// <summary>Copies in flight to the pool at once; a request beyond it is not copied (dropped and counted).</summary>
    public int MaxInFlight { get; init; } = DefaultMaxInFlight;
}
