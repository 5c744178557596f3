// Lab 3's minimal API: GET / answers with a greeting as JSON, GET /healthz with "Healthy", and
// GET /openapi/v1.json with the API's OpenAPI description (from the Microsoft.AspNetCore.OpenApi package).
// In a container it listens on port 8080, the port the .NET images set in ASPNETCORE_HTTP_PORTS.
var builder = WebApplication.CreateBuilder(args);
builder.Services.AddOpenApi();
var app = builder.Build();

app.MapOpenApi();
app.MapGet("/", () => new Greeting(Greeting.Text, Environment.MachineName));
app.MapGet("/healthz", () => "Healthy");

app.Run();

public record Greeting(string Message, string Host)
{
    public const string Text = "Hello from ASP.NET Core in a container!";
}

// The tests start the app in memory through WebApplicationFactory<Program>, which needs the class public.
public partial class Program;
