using System.Buffers;
using System.Runtime.CompilerServices;
using FastLb.Core.Routing;

namespace FastLb.Proxy.Http;

internal sealed partial class HttpProxyConnection
{
    // The copy for a route's mirror while the body pump fills it (SendingRequest .. the body's end); then sent or,
    // when the request ends first, dropped by EndRequestAsync. Null whenever nothing is mirrored: the hot path checks only that.
    private MirrorCopy? _mirrorCopy;

    /// <summary>The client's head went upstream: starts a copy for the route's mirror when this request is chosen (at most once per request).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void BeginMirror(MirrorTarget target)
    {
        _current.Mirror = null; // a retry is the same request: never copied twice
        var copy = MirrorCopy.TryStart(target, _request, new RequestHeadOptions
        {
            ClientAddress = _clientAddress,
            TrustForwarded = _peerTrusted,
            Scheme = _tls is null ? "http"u8 : "https"u8,
        });
        if (copy is null) return;
        if (_request.HasBody) _mirrorCopy = copy;
        else copy.Send();
    }

    /// <summary>Body bytes just forwarded to the backend go into the copy too; the copy is sent when the body is complete.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void MirrorBody(ReadOnlySequence<byte> forwarded, bool done)
    {
        var copy = _mirrorCopy!;
        if (!forwarded.IsEmpty && !copy.Append(forwarded))
        {
            _mirrorCopy = null; // grew past max_body: dropped
            return;
        }
        if (!done) return;
        _mirrorCopy = null;
        copy.Send();
    }

    /// <summary>The request ended before its body was complete: its copy is dropped.</summary>
    private void AbandonMirror()
    {
        var copy = _mirrorCopy;
        if (copy is null) return;
        _mirrorCopy = null;
        copy.Abandon();
    }
}
