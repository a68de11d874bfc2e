namespace FastLb.Core.Config;

/// <summary>What a rollout step does when it still has too few requests to judge after its last extension.</summary>
internal enum InconclusiveAction
{
    /// <summary>Roll back, as for a breach.</summary>
    Fail,

    /// <summary>Hold the current share and wait for <c>ctl resume</c>, <c>promote</c> or <c>abort</c>.</summary>
    Pause,
}
