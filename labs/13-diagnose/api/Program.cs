// A small API with two faults to find from outside the container: /leak keeps every report it
// makes (memory that only grows), /block holds a thread-pool thread while it waits (the thread
// pool starves under load). /slow is an ordinary slow request, for a clean shutdown.
using System.Collections.Concurrent;

var builder = WebApplication.CreateBuilder(args);
// docker stop waits 10 s after SIGTERM before it kills; the host must finish its requests first.
// TODO: give the host 5 seconds (HostOptions.ShutdownTimeout) to finish in-flight requests on SIGTERM
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
builder.Services.AddHealthChecks();
var app = builder.Build();

app.MapGet("/", () => "Diagnose me: /leak, /block, /slow?seconds=3, /healthz");
app.MapHealthChecks("/healthz");

// The leak: a cache nobody ever trims.
app.MapGet("/leak", () =>
{
    LeakyCache.Add(new LeakyCacheEntry(DateTime.UtcNow, new byte[32 * 1024]));
    return $"kept {LeakyCache.Count} entries";
});

// Sync over async: the thread waits instead of returning to the pool.
app.MapGet("/block", () =>
{
    Task.Delay(200).Wait();
    return "blocked a thread-pool thread for 200 ms";
});

app.MapGet("/slow", async (int seconds, ILogger<Program> log) =>
{
    log.LogInformation("Slow request started: {Seconds} s", seconds);
    await Task.Delay(TimeSpan.FromSeconds(seconds), CancellationToken.None);
    log.LogInformation("Slow request finished");
    return $"finished after {seconds} s";
});

var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
lifetime.ApplicationStopping.Register(() => app.Logger.LogInformation("SIGTERM received: finishing in-flight requests"));
lifetime.ApplicationStopped.Register(() => app.Logger.LogInformation("Graceful shutdown complete"));

app.Run();

static class LeakyCache
{
    static readonly ConcurrentBag<LeakyCacheEntry> Entries = [];

    public static int Count => Entries.Count;

    public static void Add(LeakyCacheEntry entry) => Entries.Add(entry);
}

sealed record LeakyCacheEntry(DateTime Created, byte[] Payload);
