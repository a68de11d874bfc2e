namespace FastLb.Core.Config;

/// <summary>A YAML sequence (list).</summary>
internal sealed class ConfigSequence(IReadOnlyList<ConfigNode> items, int line, int column) : ConfigNode(line, column)
{
    public IReadOnlyList<ConfigNode> Items { get; } = items;

    public override string Describe() => "a list";
}
