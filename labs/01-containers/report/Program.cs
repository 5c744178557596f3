// Reports what the .NET runtime sees of the machine it runs on, as one JSON line.
// In a container, that is what the container was given: its own hostname, and the
// memory and CPU limits set with `docker run --memory ... --cpus ...`.
// With --watch it reports once a second until it is stopped.
using System.Runtime.InteropServices;
using System.Text.Json;

// `docker stop` sends SIGTERM, then SIGKILL after a grace period (10 s). Handling SIGTERM
// lets the app end cleanly, at once, with exit code 0.
using var stopping = new CancellationTokenSource();
using var onSigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stopping.Cancel();
});

var watch = args.Contains("--watch");
var count = 0;
do
{
    var report = new
    {
        hostname = Environment.MachineName,
        processorCount = Environment.ProcessorCount,
        totalAvailableMemoryBytes = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes,
        report = ++count,
    };
    Console.WriteLine(JsonSerializer.Serialize(report));
}
while (watch && !stopping.Token.WaitHandle.WaitOne(TimeSpan.FromSeconds(1)));

if (stopping.IsCancellationRequested)
{
    Console.WriteLine("SIGTERM received: stopping.");
}
