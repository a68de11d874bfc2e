using System.Text.RegularExpressions;
using Xunit;

namespace FastLb.Tests.Docs;

/// <summary>Every test docs/http-conformance.md names as the check of a row exists, so a renamed test cannot leave a row unchecked.</summary>
public sealed partial class ConformanceDocTests
{
    private const string DocPath = "docs/http-conformance.md";

    [Fact]
    public void ConformanceDoc_EveryNamedTest_ExistsAsATestMethod()
    {
        var doc = File.ReadAllText(RepoFiles.PathOf(DocPath));
        var named = TestReference().Matches(doc).Select(m => (Class: m.Groups[1].Value, Method: m.Groups[2].Value)).Distinct().ToList();
        Assert.True(named.Count > 30, $"{DocPath} names only {named.Count} tests; expected one or more per row");

        var sources = Directory.EnumerateFiles(RepoFiles.PathOf("tests"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                        && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(File.ReadAllText)
            .ToList();
        var missing = new List<string>();
        foreach (var (cls, method) in named)
        {
            var declaring = sources.Where(s => Regex.IsMatch(s, $@"\bclass\s+{cls}\b")).ToList();
            if (!declaring.Any(s => Regex.IsMatch(s, $@"\bpublic\s+(async\s+)?(void|Task)\s+{method}\s*\(") && Regex.IsMatch(s, @"\[(Fact|Theory)\b")))
            {
                missing.Add($"{DocPath} names `{cls}.{method}`, but no test method {method} exists in a class {cls} under tests/; update the row to the test that checks it now");
            }
        }
        Assert.True(missing.Count == 0, string.Join("\n", missing));
    }

    /// <summary>`ClassTests.Method_Name` in backticks: a test class (its name ends in Tests) and one of its methods.</summary>
    [GeneratedRegex(@"`([A-Z]\w*Tests)\.([A-Z]\w*)`")]
    private static partial Regex TestReference();
}
