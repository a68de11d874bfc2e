namespace FastLb.Host;

/// <summary>Outcome of a reload: on failure the running generation is kept and Errors says why (file:line:col).</summary>
internal sealed record ReloadResult(bool Ok, long Generation, IReadOnlyList<string> Errors, IReadOnlyList<string> Warnings);
