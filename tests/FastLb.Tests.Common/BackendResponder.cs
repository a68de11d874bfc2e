namespace FastLb.Tests.Common;

/// <summary>Answers one request on a test backend; returns false to close the connection afterwards.</summary>
internal delegate Task<bool> BackendResponder(BackendRequest request, BackendConnection connection, CancellationToken ct);
