using System.Text.Json;

namespace FastLb.Host.Upgrade;

/// <summary>One message received on the <see cref="UpgradeChannel"/>: its JSON and the descriptors that came with it.</summary>
internal sealed class UpgradeMessage(JsonDocument document, int[] fds) : IDisposable
{
    public JsonElement Root => document.RootElement;

    /// <summary>The message's "type" member: handoff, prepared, failed, commit, ready.</summary>
    public string Type => Root.GetProperty("type").GetString() ?? "";

    /// <summary>Descriptors received with the message, in the order they were sent; the receiver owns them.</summary>
    public int[] Fds { get; } = fds;

    public void Dispose() => document.Dispose();
}
