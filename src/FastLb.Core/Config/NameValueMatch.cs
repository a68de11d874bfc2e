namespace FastLb.Core.Config;

/// <summary>A header or cookie condition: present (Value null) or equal to Value.</summary>
internal sealed record NameValueMatch(string Name, string? Value);
