namespace FastLb.Core.Config;

/// <summary>A node of the YAML tree the loader binds from, with the 1-based position it starts at.</summary>
internal abstract class ConfigNode(int line, int column)
{
    public int Line { get; } = line;
    public int Column { get; } = column;

    /// <summary>What this node is, for error messages: "a list", "a mapping", "the value 'x'", "nothing".</summary>
    public abstract string Describe();
}
