using System.Text;

namespace FastLb.Tests.Common;

/// <summary>One response as the client received it: status, head, decoded body and how the body was framed.</summary>
internal sealed class HttpResponse(HttpHead head, int status, byte[] body, string framing)
{
    public HttpHead Head { get; } = head;
    public int Status { get; } = status;
    public byte[] Body { get; } = body;

    /// <summary>"none", "length", "chunked" or "close".</summary>
    public string Framing { get; } = framing;

    /// <summary>Interim (1xx) responses received before this one.</summary>
    public List<HttpResponse> Interim { get; } = [];

    /// <summary>Trailer lines of a chunked body.</summary>
    public List<string> Trailers { get; init; } = [];

    public string BodyText => Encoding.Latin1.GetString(Body);

    /// <summary>The backend that answered (its <c>x-backend</c> header), or null for FastLb's own answers.</summary>
    public string? Backend => Head["x-backend"];

    public override string ToString() => Head.Raw + (Body.Length <= 512 ? BodyText : BodyText[..512] + "...");
}
