using FastLb.Core.Config;
using FastLb.Core.Json;
using Xunit;

namespace FastLb.Tests.Config;

/// <summary>model / model_prefix route matches and the model options of http listeners.</summary>
public sealed class ModelRoutingConfigTests
{
    private const string Services = """
        services:
          llm: { pools: { v1: [ 127.0.0.1:9001 ] } }
          other: { pools: { blue: [ 127.0.0.1:9002 ] } }
        """;

    private static ListenerConfig Listener(string listener) =>
        ConfigLoader.Parse("listeners:\n" + listener + "\n" + Services, "models.yaml", null).Listeners[0];

    private static ConfigError Single(string listener)
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("listeners:\n" + listener + "\n" + Services, "models.yaml", null));
        var error = Assert.Single(ex.Errors);
        Assert.Equal("models.yaml", error.File);
        return error;
    }

    [Fact]
    public void Parse_ModelNameListAndPrefix_Bound()
    {
        var listener = Listener("""
              - name: ai
                bind: 127.0.0.1:8080
                routes:
                  - match: { model: gpt-4o }
                    service: llm
                  - match: { model: [ a, b ], model_prefix: [ llama-3, mistral- ] }
                    service: llm
                  - match: { model_prefix: qwen }
                    service: llm
                  - service: other
            """);
        Assert.Equal(["gpt-4o"], listener.Routes[0].Match.Models);
        Assert.Null(listener.Routes[0].Match.ModelPrefixes);
        Assert.Equal(["a", "b"], listener.Routes[1].Match.Models);
        Assert.Equal(["llama-3", "mistral-"], listener.Routes[1].Match.ModelPrefixes);
        Assert.Equal(["qwen"], listener.Routes[2].Match.ModelPrefixes);
        Assert.True(listener.Routes[2].Match.UsesModel);
        Assert.False(listener.Routes[3].Match.UsesModel);
        Assert.False(listener.ModelRequired);
        Assert.Equal(JsonModelScanner.DefaultMaxBodyPeek, listener.MaxBodyPeek);
        Assert.Equal("x-fastlb-model", listener.ModelHeader);
    }

    [Theory]
    [InlineData("65536", 65536)]
    [InlineData("64KiB", 65536)]
    [InlineData("1KiB", 1024)]
    [InlineData("64", 64)]
    public void Parse_ModelOptions_Bound(string peek, int expected)
    {
        var listener = Listener($$"""
              - name: ai
                bind: 127.0.0.1:8080
                model_required: true
                max_body_peek: {{peek}}
                model_header: X-Model
                routes: [ { match: { model: m }, service: llm } ]
            """);
        Assert.True(listener.ModelRequired);
        Assert.Equal(expected, listener.MaxBodyPeek);
        Assert.Equal("x-model", listener.ModelHeader);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("63")]
    [InlineData("1MiB")]
    [InlineData("65537")]
    [InlineData("64kb")]
    [InlineData("-1")]
    [InlineData("99999999999999999999")]
    public void Parse_MaxBodyPeekOutOfRange_PointsAtValue(string peek)
    {
        var error = Single($$"""
              - name: ai
                bind: 127.0.0.1:8080
                max_body_peek: {{peek}}
                routes: [ { service: llm } ]
            """);
        Assert.Equal((4, 20), (error.Line, error.Column));
        Assert.Equal($"max_body_peek must be a size from 64 bytes to 64KiB (e.g. 65536 or 64KiB), got '{peek}'", error.Message);
    }

    [Fact]
    public void Parse_ModelAsMapping_PointsAtValue()
    {
        var error = Single("""
              - name: ai
                bind: 127.0.0.1:8080
                routes:
                  - match: { model: { name: x } }
                    service: llm
            """);
        Assert.Equal((5, 25), (error.Line, error.Column));
        Assert.StartsWith("model of match of route 1 of listener 'ai' must be a model name or a list of them", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ModelListWithNestedList_PointsAtItem()
    {
        var error = Single("""
              - name: ai
                bind: 127.0.0.1:8080
                routes:
                  - match: { model_prefix: [ a, [ b ] ] }
                    service: llm
            """);
        Assert.Equal((5, 37), (error.Line, error.Column));
        Assert.StartsWith("model_prefix of match of route 1 of listener 'ai' must list model names", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_DuplicateModelName_Refused()
    {
        var error = Single("""
              - name: ai
                bind: 127.0.0.1:8080
                routes:
                  - match: { model: [ a, a ] }
                    service: llm
            """);
        Assert.Equal((5, 30), (error.Line, error.Column));
        Assert.Equal("model 'a' is listed twice in match of route 1 of listener 'ai'", error.Message);
    }

    [Fact]
    public void Parse_ModelOptionOnTcpListener_Refused()
    {
        var error = Single("""
              - name: db
                bind: 127.0.0.1:5432
                protocol: tcp
                service: other
                model_required: true
            """);
        Assert.Equal((6, 5), (error.Line, error.Column));
        Assert.Equal("'model_required' is only for http listeners; tcp listener 'db' reads no request bodies", error.Message);
    }

    [Fact]
    public void Parse_BadModelHeader_Refused()
    {
        var error = Single("""
              - name: ai
                bind: 127.0.0.1:8080
                model_header: "x model"
                routes: [ { service: llm } ]
            """);
        Assert.Equal(4, error.Line);
        Assert.StartsWith("model_header 'x model' is not a valid header name", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ModelRouteAfterCatchAll_NeverMatches()
    {
        var ex = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("""
            listeners:
              - name: ai
                bind: 127.0.0.1:8080
                routes:
                  - service: other
                  - match: { model: m }
                    service: llm
            """ + "\n" + Services, "models.yaml", null));
        Assert.Contains(ex.Errors, e => e.Message.Contains("can never match", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_ModelAliases_ServiceAndOptionalRewrite()
    {
        var listener = Listener("""
              - name: ai
                bind: 127.0.0.1:8080
                model_peek_timeout: 2s
                models:
                  gpt-4o-latest: { service: llm, model: llama-3.1-70b-instruct-v2 }
                  cheap: other
                  same: { service: llm, model: same }
                routes: [ { service: other } ]
            """);
        Assert.Equal(TimeSpan.FromSeconds(2), listener.ModelPeekTimeout);
        Assert.Equal(3, listener.Models.Count);
        Assert.Equal(("gpt-4o-latest", "llm", "llama-3.1-70b-instruct-v2"), (listener.Models[0].Name, listener.Models[0].Service, listener.Models[0].Model));
        Assert.Equal(("cheap", "other", (string?)null), (listener.Models[1].Name, listener.Models[1].Service, listener.Models[1].Model));
        Assert.Null(listener.Models[2].Model); // the same name: nothing to rewrite
        Assert.Equal(ListenerConfig.DefaultModelPeekTimeout, Listener("""
              - name: ai
                bind: 127.0.0.1:8080
                routes: [ { service: other } ]
            """).ModelPeekTimeout);
    }

    [Fact]
    public void Parse_ModelAliasUnknownService_PointsAtIt()
    {
        var error = Single("""
              - name: ai
                bind: 127.0.0.1:8080
                models:
                  gpt-4o: { service: lm }
                routes: [ { service: other } ]
            """);
        Assert.Equal((5, 26), (error.Line, error.Column));
        Assert.StartsWith("unknown service 'lm'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ModelAliasWithoutServiceOrUnknownKey_Refused()
    {
        var error = Single("""
              - name: ai
                bind: 127.0.0.1:8080
                models:
                  gpt-4o: { model: x }
                routes: [ { service: other } ]
            """);
        Assert.Equal("model 'gpt-4o' in models of listener 'ai' needs a service, e.g. { service: llm, model: llama-3.1-70b-instruct }", error.Message);
        error = Single("""
              - name: ai
                bind: 127.0.0.1:8080
                models:
                  gpt-4o: { service: llm, rewrite: x }
                routes: [ { service: other } ]
            """);
        Assert.StartsWith("unknown key 'rewrite' in model 'gpt-4o' in models of listener 'ai'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ModelsOnTcpListener_Refused()
    {
        var error = Single("""
              - name: db
                bind: 127.0.0.1:5432
                protocol: tcp
                service: other
                models: { a: llm }
            """);
        Assert.Equal("'models' is only for http listeners; tcp listener 'db' reads no request bodies", error.Message);
    }
}
