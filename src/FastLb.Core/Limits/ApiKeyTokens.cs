namespace FastLb.Core.Limits;

/// <summary>Tokens charged to one API key (by its hashed id) on one listener, for /metrics.</summary>
internal sealed class ApiKeyTokens(string id)
{
    private long _tokens;
    private long _rejected;

    /// <summary>The key's id: 16 hex digits of its SHA-256, never the key.</summary>
    public string Id { get; } = id;

    public long Tokens => Interlocked.Read(ref _tokens);
    public long Rejected => Interlocked.Read(ref _rejected);

    public void Add(long tokens) => Interlocked.Add(ref _tokens, tokens);

    public void Reject() => Interlocked.Increment(ref _rejected);
}
