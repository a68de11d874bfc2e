using System.Buffers;
using System.Text;
using System.Text.Json;
using FastLb.Core.Traffic;

namespace FastLb.Tests.Traffic;

/// <summary>What a <see cref="TrafficController"/> writes for the control socket, as text a test can read.</summary>
internal static class ControllerJson
{
    /// <summary>The status object (<c>ctl status</c>'s services and pools).</summary>
    public static string Status(TrafficController controller)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            controller.WriteStatus(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
