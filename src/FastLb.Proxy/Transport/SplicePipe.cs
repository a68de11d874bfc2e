namespace FastLb.Proxy.Transport;

/// <summary>The two ends of one kernel pipe a splice relay moves bytes through, and how many bytes it holds.</summary>
internal readonly record struct SplicePipe(int ReadFd, int WriteFd, int Capacity);
