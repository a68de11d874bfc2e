namespace FastLb.Core.Json;

/// <summary>The <c>usage</c> counts an OpenAI-compatible response reports; -1 for a count it did not report.</summary>
internal readonly record struct TokenUsage(long PromptTokens, long CompletionTokens, long TotalTokens)
{
    public static readonly TokenUsage None = new(-1, -1, -1);

    public bool IsNone => PromptTokens < 0 && CompletionTokens < 0 && TotalTokens < 0;

    /// <summary>Total tokens: the reported total, else prompt + completion.</summary>
    public long Tokens => TotalTokens >= 0 ? TotalTokens : Math.Max(PromptTokens, 0) + Math.Max(CompletionTokens, 0);
}
