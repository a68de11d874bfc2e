using System.Net;
using Yarp.ReverseProxy.Configuration;

// Minimal YARP reverse proxy for the load harness: round-robin over the backends, YARP's default
// X-Forwarded-For/-Proto/-Host/-Prefix transforms (the same work FastLb does per request), logging at Warning.
// Settings come from args (--listen, --backends) or the env (YARP_LISTEN, YARP_BACKENDS).
var listen = Arg(args, "--listen") ?? Environment.GetEnvironmentVariable("YARP_LISTEN")
    ?? throw new ArgumentException("--listen 127.0.0.1:PORT is required");
var backends = (Arg(args, "--backends") ?? Environment.GetEnvironmentVariable("YARP_BACKENDS")
    ?? throw new ArgumentException("--backends 127.0.0.1:P1,127.0.0.1:P2 is required"))
    .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { Args = [] });
builder.Logging.AddConsole().SetMinimumLevel(LogLevel.Warning);
builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(IPEndPoint.Parse(listen)));
builder.Services.AddRouting();

var destinations = new Dictionary<string, DestinationConfig>();
for (var i = 0; i < backends.Length; i++)
{
    destinations[$"b{i}"] = new DestinationConfig { Address = $"http://{backends[i]}/" };
}
var route = new RouteConfig
{
    RouteId = "all",
    ClusterId = "backends",
    Match = new RouteMatch { Path = "{**catch-all}" },
};
var cluster = new ClusterConfig
{
    ClusterId = "backends",
    LoadBalancingPolicy = "RoundRobin",
    Destinations = destinations,
};
builder.Services.AddReverseProxy().LoadFromMemory([route], [cluster]);

var app = builder.Build();
app.UseRouting();
app.MapReverseProxy();
Console.WriteLine($"yarp-peer listening on {listen} -> {string.Join(", ", backends)}");
app.Run();

static string? Arg(string[] args, string name)
{
    for (var i = 0; i + 1 < args.Length; i++)
    {
        if (args[i] == name) return args[i + 1];
    }
    return null;
}
