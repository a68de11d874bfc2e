namespace FastLb.Core.Config;

/// <summary>One key: value pair of a YAML mapping.</summary>
internal sealed record ConfigEntry(ConfigNode Key, ConfigNode Value);
