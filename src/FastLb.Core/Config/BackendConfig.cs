namespace FastLb.Core.Config;

/// <summary>One backend address and its weight within its pool (0 = no new traffic).</summary>
internal sealed record BackendConfig(EndPointConfig Address, int Weight);
