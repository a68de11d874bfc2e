using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace FastLb.Core.Config;

/// <summary>Builds a <see cref="ConfigNode"/> tree from YamlDotNet's low-level parser events, keeping positions.</summary>
/// <remarks>The reflection deserializer is off limits: the binary is NativeAOT.</remarks>
internal static class ConfigTreeReader
{
    private const int MaxDepth = 64;

    /// <summary>Reads the one document in <paramref name="yaml"/>; null when the text holds none. Throws <see cref="YamlException"/>.</summary>
    public static ConfigNode? Read(string yaml)
    {
        var parser = new Parser(new StringReader(yaml));
        try
        {
            return ReadDocument(parser);
        }
        catch (Exception ex) when (ex is not YamlException)
        {
            // YamlDotNet's scanner throws InvalidOperationException on some malformed flow collections (e.g. an
            // unclosed '[' followed by a key); report it where parsing stopped rather than crash.
            var at = parser.Current?.End ?? Mark.Empty;
            throw new YamlException(at, at, "malformed YAML after this point; check for an unclosed '[', '{' or quote", ex);
        }
    }

    private static ConfigNode? ReadDocument(Parser parser)
    {
        var anchors = new Dictionary<string, ConfigNode>(StringComparer.Ordinal);
        parser.Consume<StreamStart>();
        if (parser.TryConsume<StreamEnd>(out _)) return null;
        parser.Consume<DocumentStart>();
        var root = ReadNode(parser, anchors, 0);
        parser.Consume<DocumentEnd>();
        if (parser.Accept<DocumentStart>(out var second))
        {
            throw new YamlException(second.Start, second.End, "expected one YAML document, found a second one");
        }
        parser.Consume<StreamEnd>();
        return root;
    }

    private static ConfigNode ReadNode(IParser parser, Dictionary<string, ConfigNode> anchors, int depth)
    {
        var ev = parser.Consume<ParsingEvent>();
        if (depth > MaxDepth)
        {
            throw new YamlException(ev.Start, ev.End, $"nesting deeper than {MaxDepth} levels");
        }
        var line = (int)ev.Start.Line;
        var column = (int)ev.Start.Column;
        ConfigNode node;
        switch (ev)
        {
            case AnchorAlias alias:
                if (!anchors.TryGetValue(alias.Value.Value, out var target))
                {
                    throw new YamlException(alias.Start, alias.End, $"alias '*{alias.Value.Value}' refers to no anchor defined before it");
                }
                return target;
            case Scalar scalar:
                node = new ConfigScalar(scalar.Value, IsNull(scalar), line, column);
                break;
            case SequenceStart:
                var items = new List<ConfigNode>();
                while (!parser.TryConsume<SequenceEnd>(out _))
                {
                    items.Add(ReadNode(parser, anchors, depth + 1));
                }
                node = new ConfigSequence(items, line, column);
                break;
            case MappingStart:
                var entries = new List<ConfigEntry>();
                while (!parser.TryConsume<MappingEnd>(out _))
                {
                    var key = ReadNode(parser, anchors, depth + 1);
                    var value = ReadNode(parser, anchors, depth + 1);
                    entries.Add(new ConfigEntry(key, value));
                }
                node = new ConfigMapping(entries, line, column);
                break;
            default:
                throw new YamlException(ev.Start, ev.End, $"unexpected {ev.GetType().Name} event");
        }
        if (ev is NodeEvent { Anchor.IsEmpty: false } anchored) anchors[anchored.Anchor.Value] = node;
        return node;
    }

    private static bool IsNull(Scalar scalar) =>
        scalar.Style == ScalarStyle.Plain && scalar.Value is "" or "~" or "null" or "Null" or "NULL";
}
