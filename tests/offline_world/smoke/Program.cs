// The offline world's smoke test: a minimal API that says who runs it and on which .NET.
var app = WebApplication.CreateBuilder(args).Build();

app.MapGet("/", () => new { user = Environment.UserName, dotnet = Environment.Version.ToString() });

app.Run();
