using System.Text.Json;

namespace FastLb.Host.Upgrade;

/// <summary>
/// One named part of the runtime state an upgrade hands over (traffic, health, ...): the old process writes it, the
/// new one reads it after loading its config. A component with state to keep across upgrades registers a section;
/// a section the new process does not know is skipped (logged), and one it knows but did not receive keeps its
/// start-up defaults, so old and new binaries may differ in the sections they have.
/// </summary>
internal sealed record UpgradeStateSection(string Name, Action<Utf8JsonWriter> Write, Action<JsonElement, string> Read);
