namespace FastLb.Core.Config;

/// <summary>A YAML scalar; <see cref="IsNull"/> for an empty, "~" or "null" plain value.</summary>
internal sealed class ConfigScalar(string value, bool isNull, int line, int column) : ConfigNode(line, column)
{
    public string Value { get; } = value;
    public bool IsNull { get; } = isNull;

    public override string Describe() => IsNull ? "nothing" : $"the value '{Value}'";
}
