using System.Text;

namespace FastLb.Tests.Common;

/// <summary>One complete request (head and decoded body) as a test backend received it.</summary>
internal sealed class BackendRequest(HttpHead head, byte[] body, string framing, List<string> trailers, int connection)
{
    public HttpHead Head { get; } = head;
    public byte[] Body { get; } = body;

    /// <summary>"none", "length" or "chunked".</summary>
    public string Framing { get; } = framing;

    public List<string> Trailers { get; } = trailers;

    /// <summary>Which accepted connection (1-based, in accept order, never reused) carried the request.</summary>
    public int Connection { get; } = connection;

    public string Method => Head.StartLine.Split(' ')[0];
    public string Target => Head.StartLine.Split(' ') is [_, var t, ..] ? t : "";
    public string Version => Head.StartLine.Split(' ') is [_, _, var v, ..] ? v : "";
    public string BodyText => Encoding.Latin1.GetString(Body);

    public override string ToString() => Head.Raw;
}
