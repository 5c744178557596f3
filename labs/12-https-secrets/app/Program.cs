using System.Security.Cryptography;
using System.Text;
using ContainerizingDotnet.Lab12;

var builder = WebApplication.CreateBuilder(args);
// Secrets as files: each file in /run/secrets is a configuration key (its name, with `__` for `:`)
// whose value is the file's content. Kestrel's certificate password and the connection string come this way.
builder.Configuration.AddKeyPerFile("/run/secrets", optional: true);
var app = builder.Build();

app.MapGet("/", () => Greeting.For("container"));

// Whether the connection string was configured, and its SHA-256: never the secret itself.
app.MapGet("/secret", (IConfiguration configuration) =>
    configuration.GetConnectionString("Notes") is { } value
        ? Results.Ok(new { configured = true, sha256 = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value.Trim()))) })
        : Results.NotFound(new { configured = false }));

app.Run();
