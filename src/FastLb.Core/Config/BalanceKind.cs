namespace FastLb.Core.Config;

internal enum BalanceKind
{
    RoundRobin,
    LeastRequest,
    Random,
    Hash,
}
