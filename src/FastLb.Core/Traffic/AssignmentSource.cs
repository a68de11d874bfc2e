namespace FastLb.Core.Traffic;

/// <summary>Where a service's current pool shares came from.</summary>
internal enum AssignmentSource
{
    File,
    Runtime,
}
