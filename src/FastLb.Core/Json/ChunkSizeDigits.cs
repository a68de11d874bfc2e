using System.Runtime.CompilerServices;

namespace FastLb.Core.Json;

/// <summary>Room for a chunk-size line's hex digits (at most 16, the proxy's bound) inside <see cref="ChunkedModelRewriter"/>.</summary>
[InlineArray(16)]
internal struct ChunkSizeDigits
{
    private byte _first;
}
