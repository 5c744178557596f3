// A private NuGet feed, just enough for `dotnet restore`: the V3 service index and the flat container
// (PackageBaseAddress/3.0.0) that lists a package's versions and serves its .nupkg, all behind HTTP
// basic authentication, which is what nuget.config's packageSourceCredentials send.
// The protocol: https://learn.microsoft.com/nuget/api/overview and .../package-base-address-resource
using System.Text;

var builder = WebApplication.CreateBuilder(args);
// The feed's own credentials are files (/run/secrets/Feed__User, /run/secrets/Feed__Password), not variables.
builder.Configuration.AddKeyPerFile("/run/secrets", optional: true);
var app = builder.Build();

string user = app.Configuration["Feed:User"] ?? throw new InvalidOperationException("Mount /run/secrets/Feed__User");
string password = app.Configuration["Feed:Password"] ?? throw new InvalidOperationException("Mount /run/secrets/Feed__Password");
string expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user.Trim()}:{password.Trim()}"));
const string Packages = "/packages";

app.Use(async (context, next) =>
{
    if (context.Request.Headers.Authorization != expected)
    {
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "Basic realm=\"lab feed\"";
        return;
    }
    await next(context);
});

app.MapGet("/v3/index.json", (HttpRequest request) => Results.Json(new
{
    version = "3.0.0",
    resources = new[]
    {
        new Dictionary<string, string>
        {
            ["@id"] = $"{request.Scheme}://{request.Host}/v3/flat/",
            ["@type"] = "PackageBaseAddress/3.0.0",
        },
    },
}));

// File names, lower-cased as the flat container's URLs are: "<id>.<version>.nupkg".
IEnumerable<string> Nupkgs() =>
    Directory.EnumerateFiles(Packages, "*.nupkg").Select(path => Path.GetFileName(path).ToLowerInvariant());

app.MapGet("/v3/flat/{id}/index.json", (string id) =>
{
    string prefix = id.ToLowerInvariant() + ".";
    string[] versions = Nupkgs()
        .Where(name => name.StartsWith(prefix) && char.IsDigit(name[prefix.Length]))
        .Select(name => name[prefix.Length..^".nupkg".Length])
        .ToArray();
    return versions.Length == 0 ? Results.NotFound() : Results.Json(new { versions });
});

app.MapGet("/v3/flat/{id}/{version}/{file}", (string id, string version, string file) =>
{
    string wanted = $"{id}.{version}.nupkg".ToLowerInvariant();
    string? found = Directory.EnumerateFiles(Packages, "*.nupkg")
        .FirstOrDefault(path => Path.GetFileName(path).ToLowerInvariant() == wanted);
    return found is null || file.ToLowerInvariant() != wanted
        ? Results.NotFound()
        : Results.File(found, "application/octet-stream");
});

app.Run();
