// A minimal API: GET / answers with a greeting as JSON, GET /healthz with "Healthy".
// In a container it listens on port 8080, the port the .NET images set in ASPNETCORE_HTTP_PORTS.
var app = WebApplication.Create(args);

app.MapGet("/", () => new Greeting("Hello from ASP.NET Core in a container!", Environment.MachineName));
app.MapGet("/healthz", () => "Healthy");

app.Run();

record Greeting(string Message, string Host);
