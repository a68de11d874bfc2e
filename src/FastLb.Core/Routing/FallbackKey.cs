using FastLb.Core.Config;

namespace FastLb.Core.Routing;

/// <summary>One series of <c>fastlb_fallbacks_total</c>: the routed service, the service and pool whose attempt failed, the target tried next, and why.</summary>
internal readonly record struct FallbackKey(string Service, string FromService, string FromPool, string To, FallbackReasons Reason);
