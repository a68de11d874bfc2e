using System.IO.Pipelines;

namespace FastLb.Proxy.Transport;

/// <summary>The application's ends of a transport: read what the socket received, write what it should send.</summary>
internal sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
{
    public PipeReader Input { get; } = input;
    public PipeWriter Output { get; } = output;
}
