using System.Reflection;
using System.Text.RegularExpressions;
using FastLb.Core.Config;
using Xunit;

namespace FastLb.Tests.Docs;

/// <summary>docs/configuration.md documents every key the config binder accepts, each in its mapping's section.</summary>
public sealed partial class ConfigurationDocTests
{
    private const string DocPath = "docs/configuration.md";

    [Fact]
    public void ConfigurationDoc_EveryKeyTheBinderAccepts_DocumentedInItsSection()
    {
        var lines = File.ReadAllLines(RepoFiles.PathOf(DocPath));
        var missing = new List<string>();
        foreach (var (section, keys) in ConfigBinder.KnownKeys)
        {
            var body = SectionBody(lines, section);
            if (body is null)
            {
                missing.Add($"{DocPath} has no heading '## {section}' (any level, backticks allowed) for the keys {string.Join(", ", keys)}");
                continue;
            }
            foreach (var key in keys)
            {
                if (!body.Contains($"`{key}`", StringComparison.Ordinal))
                {
                    missing.Add($"key '{key}' is accepted by the config binder but not documented: add `{key}` (type, default, example, what a reload does) to the '{section}' section of {DocPath}");
                }
            }
        }
        Assert.True(missing.Count == 0, string.Join("\n", missing));
    }

    [Fact]
    public void KnownKeys_ListsEveryKeyArrayOfTheBinder()
    {
        // A new mapping's key array must be registered in ConfigBinder.KnownKeys, or its keys would escape the check above.
        var registered = ConfigBinder.KnownKeys.Select(k => k.Keys).ToList();
        var arrays = typeof(ConfigBinder)
            .GetFields(BindingFlags.Static | BindingFlags.NonPublic | BindingFlags.Public)
            .Where(f => f.FieldType == typeof(string[]) && f.Name.EndsWith("Keys", StringComparison.Ordinal));
        foreach (var field in arrays)
        {
            var value = (string[])field.GetValue(null)!;
            Assert.True(registered.Any(r => ReferenceEquals(r, value)),
                $"ConfigBinder.{field.Name} is not in ConfigBinder.KnownKeys: add it with the {DocPath} heading that documents its keys");
        }
    }

    [Fact]
    public void KnownKeys_SameKeysTheBinderRejectsOthersThan()
    {
        // The list the doc check reads is the one the unknown-key error uses: a key outside it is refused.
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("not_a_key: 1\n", "fastlb.yaml"));
        var error = Assert.Single(ex.Errors, e => e.Message.Contains("not_a_key", StringComparison.Ordinal));
        foreach (var key in ConfigBinder.KnownKeys.Single(k => k.DocSection == "Top level").Keys)
        {
            Assert.Contains(key, error.Message, StringComparison.Ordinal);
        }
    }

    /// <summary>The text from the heading named <paramref name="section"/> to the next heading of any level, or null.</summary>
    private static string? SectionBody(string[] lines, string section)
    {
        for (var i = 0; i < lines.Length; i++)
        {
            var m = Heading().Match(lines[i]);
            if (!m.Success || !string.Equals(m.Groups[1].Value.Replace("`", "").Trim(), section, StringComparison.OrdinalIgnoreCase)) continue;
            var end = i + 1;
            while (end < lines.Length && !Heading().IsMatch(lines[end])) end++;
            return string.Join("\n", lines[(i + 1)..end]);
        }
        return null;
    }

    [GeneratedRegex(@"^#{1,6}\s+(.+?)\s*$")]
    private static partial Regex Heading();
}
