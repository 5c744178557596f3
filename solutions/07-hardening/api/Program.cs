// A small API for a production image: a health endpoint for probes from outside, what the GC
// may use inside the container's memory limit, and how one culture formats a number and a date.
using System.Globalization;

const double SampleNumber = 1234567.89;
var sampleDate = new DateTime(2026, 11, 21);

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddHealthChecks();
var app = builder.Build();

app.MapGet("/", () => "Hardened API: try /healthz, /memory and /culture?name=de-DE");

// Answers "Healthy" while the app can serve requests: orchestrators poll it from outside.
app.MapHealthChecks("/healthz");

app.MapGet("/memory", () =>
{
    var gcConfig = GC.GetConfigurationVariables();
    return new MemoryAnswer(
        // BEGIN SOLUTION: the memory the GC may use: TotalAvailableMemoryBytes of GC.GetGCMemoryInfo()
        TotalAvailableMemoryBytes: GC.GetGCMemoryInfo().TotalAvailableMemoryBytes,
        // END SOLUTION
        HeapHardLimitBytes: Convert.ToInt64(gcConfig["GCHeapHardLimit"]),
        HeapHardLimitPercent: Convert.ToInt64(gcConfig["GCHeapHardLimitPercent"]),
        ProcessorCount: Environment.ProcessorCount);
});

app.MapGet("/culture", (string name) =>
{
    try
    {
        var culture = CultureInfo.GetCultureInfo(name);
        // BEGIN SOLUTION: format SampleNumber ("N2") and sampleDate ("D") with this culture
        var number = SampleNumber.ToString("N2", culture);
        var date = sampleDate.ToString("D", culture);
        // END SOLUTION
        return new CultureAnswer(name, culture.Name, number, date, Error: null);
    }
    catch (CultureNotFoundException error)
    {
        // In globalization-invariant mode only the invariant culture exists.
        return new CultureAnswer(name, Culture: null, Number: null, Date: null, error.Message);
    }
});

app.Run();

record MemoryAnswer(
    long TotalAvailableMemoryBytes,
    long HeapHardLimitBytes,
    long HeapHardLimitPercent,
    int ProcessorCount);

record CultureAnswer(string Requested, string? Culture, string? Number, string? Date, string? Error);
