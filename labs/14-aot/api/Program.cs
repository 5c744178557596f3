// One minimal API, published three ways: framework-dependent, self-contained and trimmed, Native AOT.
// `/healthz` answers probes (and the start-time measurement), `/` says how this copy was published,
// `/report` builds a JSON answer by hand.
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Serialization;

// The slim builder leaves out what a small API does not need (HTTPS, IIS, the EventLog); AOT templates use it.
var builder = WebApplication.CreateSlimBuilder(args);
// Minimal APIs write their answers with System.Text.Json. Trimmed and AOT apps cannot find a type's
// members by reflection at run time, so the JSON source generator writes that code at compile time.
builder.Services.ConfigureHttpJsonOptions(options =>
    options.SerializerOptions.TypeInfoResolverChain.Insert(0, AppJson.Default));
var app = builder.Build();

app.MapGet("/healthz", () => "Healthy");

app.MapGet("/", () => new About(
    typeof(About).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?",
    RuntimeInformation.FrameworkDescription,
    DynamicCode: RuntimeFeature.IsDynamicCodeSupported,
    AppFile: Path.GetFileName(Environment.ProcessPath) ?? "?"));

app.MapGet("/report", () =>
{
    var report = new Report("containerizing-dotnet", DateTimeOffset.UtcNow, Enumerable.Range(1, 5).ToArray());
    // Serialized by hand, as code does to cache, sign or log an answer.
    string json = JsonSerializer.Serialize(report
        // TODO: pass Report's source-generated metadata as a second argument: , AppJson.Default.Report
        );
    return Results.Text(json, "application/json");
});

app.Run();

record About(string Version, string Runtime, bool DynamicCode, string AppFile);

record Report(string Name, DateTimeOffset At, int[] Numbers);

// The source generator writes the JSON code for each type named here (camelCase names, as the web writes them).
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(About))]
// TODO: ask the generator for Report too: one more JsonSerializable attribute
internal partial class AppJson : JsonSerializerContext;
