namespace FastLb.Core.Config;

/// <summary>A YAML mapping; entries in file order, duplicates kept so the binder can report them.</summary>
internal sealed class ConfigMapping(IReadOnlyList<ConfigEntry> entries, int line, int column) : ConfigNode(line, column)
{
    public IReadOnlyList<ConfigEntry> Entries { get; } = entries;

    public override string Describe() => "a mapping";

    /// <summary>The scalar value of the first <paramref name="key"/>, or null; used to name things in messages early.</summary>
    public string? Peek(string key)
    {
        foreach (var e in Entries)
        {
            if (e.Key is ConfigScalar { Value: var k } && k == key)
            {
                return e.Value is ConfigScalar { IsNull: false } s ? s.Value : null;
            }
        }
        return null;
    }
}
