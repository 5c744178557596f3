// The fidelity test's app: who runs it, and whether the image gives .NET ICU and time zone data
// (the full and -extra images do; chiseled runs in globalization-invariant mode without tzdata).
using System.Globalization;

var app = WebApplication.CreateBuilder(args).Build();

app.MapGet("/", () => new { user = Environment.UserName, month = FrenchMonth(), zone = Zone("Europe/Paris") });

app.Run();

static string? FrenchMonth()
{
    try
    {
        return new CultureInfo("fr-FR").DateTimeFormat.GetMonthName(1);
    }
    catch (CultureNotFoundException)
    {
        return null;
    }
}

static string? Zone(string id) => TimeZoneInfo.TryFindSystemTimeZoneById(id, out var zone) ? zone.Id : null;
