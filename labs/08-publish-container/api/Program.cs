// The same small API, packed into an image twice: by `dotnet publish -t:PublishContainer`
// (no Dockerfile) and by a Dockerfile, so the two images can be compared.
using System.Runtime.InteropServices;

var builder = WebApplication.CreateBuilder(args);
var app = builder.Build();

app.MapGet("/", () => "Hello from a .NET app in a container");

app.MapGet("/about", () => new About(
    RuntimeInformation.FrameworkDescription,
    RuntimeInformation.OSDescription,
    Environment.UserName,
    AppContext.BaseDirectory));

app.Run();

record About(string Framework, string OperatingSystem, string User, string AppDirectory);
