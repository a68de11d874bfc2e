namespace FastLb.Core.Diagnostics;

/// <summary>One entry of the <see cref="EventLog"/>: what changed, when, and where.</summary>
/// <param name="Sequence">Increasing from 1 over the process life; a reader asks for what follows the last it saw.</param>
/// <param name="Kind">A stable word: swap, split, rollback, weight, drain, enable, reload, drain_started, drain_finished, drain_cut, drain_cancelled, health, upgrade, start.</param>
/// <param name="Ok">False for a change that failed (a refused reload).</param>
internal sealed record FastLbEvent(long Sequence, DateTimeOffset Time, string Kind, string? Service, string? Pool, string Message, long? Generation, bool Ok);
