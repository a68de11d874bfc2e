namespace FastLb.Core.Config;

/// <summary>
/// `fallback:` of a service (http listeners): before any response byte reached the client, a request whose attempt
/// ended in one of <see cref="On"/> is sent again, from the bytes FastLb still holds, to the next target of <see cref="To"/>.
/// </summary>
internal sealed class FallbackConfig
{
    public const int DefaultMaxAttempts = 2;
    public const int DefaultMaxReplayBody = 1024 * 1024;

    /// <summary>The outcomes that move a request on to the next target.</summary>
    public required FallbackReasons On { get; init; }

    /// <summary>The targets tried in order after the routed one.</summary>
    public required IReadOnlyList<FallbackTargetConfig> To { get; init; }

    /// <summary>Attempts per request, the first (routed) one included.</summary>
    public int MaxAttempts { get; init; } = DefaultMaxAttempts;

    /// <summary>The largest request body held for a replay; a larger body is never sent twice (its first outcome is the answer).</summary>
    public int MaxReplayBody { get; init; } = DefaultMaxReplayBody;
}
