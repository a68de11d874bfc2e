namespace FastLb.Host.Admin;

/// <summary>
/// One rendered <c>/metrics</c> body, UTF-8, in a buffer lent by <see cref="MetricsExposition"/>: disposing it (after
/// the body is sent) gives the buffer back for the next scrape, so scraping every few seconds does not allocate a
/// new multi-megabyte buffer (and a full garbage collection) each time.
/// </summary>
internal sealed class MetricsText(MetricsExposition owner, byte[] buffer, int length) : IDisposable
{
    private byte[]? _buffer = buffer;

    public ReadOnlyMemory<byte> Utf8 => (_buffer ?? throw new ObjectDisposedException(nameof(MetricsText))).AsMemory(0, length);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } b) owner.Return(b);
    }
}
