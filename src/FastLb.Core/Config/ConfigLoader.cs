using System.Text.RegularExpressions;
using YamlDotNet.Core;

namespace FastLb.Core.Config;

/// <summary>Loads the YAML config: parse, bind, validate; every problem becomes a <see cref="ConfigError"/> with its position.</summary>
internal static partial class ConfigLoader
{
    /// <summary>Reads and validates <paramref name="path"/>; throws <see cref="ConfigException"/> with every error found.</summary>
    public static FastLbConfig LoadFile(string path)
    {
        string fullPath;
        string text;
        try
        {
            fullPath = Path.GetFullPath(path);
            if (Directory.Exists(fullPath))
            {
                throw Single(path, $"'{fullPath}' is a directory; expected a YAML config file");
            }
            text = File.ReadAllText(fullPath);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw Single(path, $"config file not found: {Path.GetFullPath(path)}");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw Single(path, $"cannot read config file: {ex.Message}");
        }
        return Load(text, path, Path.GetDirectoryName(fullPath), fullPath);
    }

    /// <summary>Parses and validates YAML text; <paramref name="fileLabel"/> names it in errors and becomes SourcePath.</summary>
    /// <param name="baseDirectory">Folder a relative admin.control_socket resolves against; null keeps it as written.</param>
    public static FastLbConfig Parse(string yaml, string fileLabel, string? baseDirectory = null) =>
        Load(yaml, fileLabel, baseDirectory, fileLabel);

    private static FastLbConfig Load(string yaml, string fileLabel, string? baseDirectory, string sourcePath)
    {
        ConfigNode? root;
        try
        {
            root = ConfigTreeReader.Read(yaml);
        }
        catch (YamlException ex)
        {
            var line = (int)Math.Max(ex.Start.Line, 1);
            var column = (int)Math.Max(ex.Start.Column, 1);
            var message = SyntaxMessage(ex);
            if (message.Contains("tab", StringComparison.Ordinal) && FindIndentTab(yaml, line) is var (tabLine, tabColumn))
            {
                // YamlDotNet points at the enclosing mapping; the tab itself is what the operator must find.
                (line, column, message) = (tabLine, tabColumn, "tabs are not allowed in indentation; indent with spaces");
            }
            throw new ConfigException([new ConfigError(fileLabel, line, column, "YAML syntax error: " + message)]);
        }
        var binder = new ConfigBinder(fileLabel);
        var config = binder.Bind(root, sourcePath, baseDirectory);
        if (config is null) throw new ConfigException(binder.Errors);
        return config;
    }

    /// <summary>YamlException messages start with "(Line: 3, Col: 5, Idx: 20) - (...): "; the error already carries the position.</summary>
    private static string SyntaxMessage(YamlException ex)
    {
        var message = MarkPrefix().Replace(ex.Message, "");
        if (message.Length > 0 && char.IsUpper(message[0]) && !(message.Length > 1 && char.IsUpper(message[1])))
        {
            message = char.ToLowerInvariant(message[0]) + message[1..];
        }
        return message.TrimEnd('.');
    }

    /// <summary>The first tab in the leading whitespace of a line at or after <paramref name="fromLine"/>.</summary>
    private static (int Line, int Column)? FindIndentTab(string yaml, int fromLine)
    {
        var lines = yaml.Split('\n');
        for (var i = fromLine - 1; i < lines.Length; i++)
        {
            var text = lines[i];
            for (var c = 0; c < text.Length && text[c] is ' ' or '\t'; c++)
            {
                if (text[c] == '\t') return (i + 1, c + 1);
            }
        }
        return null;
    }

    private static ConfigException Single(string file, string message) => new([new ConfigError(file, 1, 1, message)]);

    [GeneratedRegex(@"^\(Line: \d+, Col: \d+, Idx: \d+\) - \(Line: \d+, Col: \d+, Idx: \d+\):\s*")]
    private static partial Regex MarkPrefix();
}
