// A minimal API that keeps a list of items in PostgreSQL.
//   GET  /        a greeting naming the container that answered (its host name)
//   GET  /items   every item, oldest first
//   POST /items   {"name": "..."} stores one item
//   GET  /healthz "Healthy" when the database answers
// The connection string comes from the environment (ConnectionStrings__Items), never from the image.
using Npgsql;

var builder = WebApplication.CreateBuilder(args);
var connectionString = builder.Configuration.GetConnectionString("Items")
    ?? throw new InvalidOperationException("Set the connection string in the environment: ConnectionStrings__Items=Host=...;Username=...;Password=...");
builder.Services.AddSingleton(NpgsqlDataSource.Create(connectionString));
var app = builder.Build();

app.MapGet("/", () => new Greeting("Hello from ASP.NET Core and PostgreSQL!", Environment.MachineName));

app.MapGet("/items", async (NpgsqlDataSource db) =>
{
    await using var command = db.CreateCommand("SELECT id, name, stored_by FROM items ORDER BY id");
    await using var reader = await command.ExecuteReaderAsync();
    var items = new List<Item>();
    while (await reader.ReadAsync())
    {
        items.Add(new Item(reader.GetInt32(0), reader.GetString(1), reader.GetString(2)));
    }
    return items;
});

app.MapPost("/items", async (NewItem item, NpgsqlDataSource db, ILogger<Program> log) =>
{
    await using var command = db.CreateCommand("INSERT INTO items (name, stored_by) VALUES ($1, $2) RETURNING id");
    command.Parameters.AddWithValue(item.Name);
    command.Parameters.AddWithValue(Environment.MachineName);
    var id = (int)(await command.ExecuteScalarAsync())!;
    log.LogInformation("Stored item {Id}: {Name}", id, item.Name);
    return Results.Created($"/items/{id}", new Item(id, item.Name, Environment.MachineName));
});

app.MapGet("/healthz", async (NpgsqlDataSource db) =>
{
    await using var command = db.CreateCommand("SELECT 1");
    await command.ExecuteScalarAsync();
    return "Healthy";
});

app.Run();

record Greeting(string Message, string Host);
record NewItem(string Name);
record Item(int Id, string Name, string StoredBy);
